#!/bin/bash
# Readings of one source tree, to diff two trees (a refactor must not change a reading):
#
#     bench/same_readings.sh TREE OUT     # e.g. a `git archive REV | tar -x -C /tmp/base` copy
#     diff <(grep -v seconds OUT-before/real.txt) <(grep -v seconds OUT-after/real.txt)
#
# Writes OUT/real.txt (bench/real.py --workers 2, every miss listed), OUT/forms.txt
# (bench/forms.py --pages 20 --seed 1 --model auto, forms cached in OUT/../forms20) and
# OUT/samples.txt (every sample read with every layout, as JSONL). TREE's own plugins/ folder
# is put first on the path as digitocr_plugins: an editable install elsewhere would otherwise
# supply its built-in plugins (and layouts) to every tree.
set -euo pipefail
TREE=$(cd "$1" && pwd); OUT=$(mkdir -p "$2" && cd "$2" && pwd)
PY=${PYTHON:-python}
mkdir -p "$OUT/pp"; ln -sfn "$TREE/plugins" "$OUT/pp/digitocr_plugins"
export PYTHONPATH="$TREE:$OUT/pp" DIGITOCR_DATA=${DIGITOCR_DATA:?set DIGITOCR_DATA}
cd "$TREE"
"$PY" bench/real.py --workers 2 --show 100000 > "$OUT/real.txt"
"$PY" bench/forms.py --pages 20 --seed 1 --model auto --dir "$OUT/../forms20" \
    | grep -v '"seconds"\|_per_s"\|^wrote ' > "$OUT/forms.txt"
: > "$OUT/samples.txt"
for args in "samples/form-clean.png" "samples/form-scan.jpg" "samples/forms-1bit.tif" \
    "samples/forms.pdf" "--layout cheque samples/cheque.jpg" "--layout string samples/amounts" \
    "--layout boxes samples/form-scan.jpg" "--layout digit samples/amounts" \
    "--template samples/template.json samples/form-clean.png"; do
  echo "== $args" >> "$OUT/samples.txt"
  # shellcheck disable=SC2086
  "$PY" -m digitocr read $args --format jsonl 2>&1 | sed "s|$TREE||g" >> "$OUT/samples.txt"
done
