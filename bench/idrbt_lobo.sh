#!/usr/bin/env bash
# The IDRBT cheques judged leave-one-bank-out with today's reader: for each bank B, the crnn's
# stage 7 retrained from stage 6 (models/crnn at commit 180c05b) on stage 6's data and the
# other two banks' amounts, then the 25 cheques read with it (bench/real.py --only cheques),
# B's cheques counted. Needs /tmp/round (bench/crnn_round_data.py /tmp/round). About 5 minutes
# a bank on 2 cores.
#
#   DIGITOCR_DATA=../shared/data bash bench/idrbt_lobo.sh [WORK]
set -euo pipefail
work=${1:-/tmp/lobo}
repo=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$work/s6"
for f in metadata.json model.keras model.onnx training-items.sha256.gz; do
  git -C "$repo" show "180c05b:models/crnn/$f" > "$work/s6/$f" 2>/dev/null || rm -f "$work/s6/$f"
done
for bank in 0836 1008 1206; do
  python "$repo/bench/idrbt_amount_crops.py" "$work/no$bank" --hold-out "$bank" \
    --with /tmp/round/train/labels.csv --repeat 40 > /dev/null
  digitocr train crnn --data "$work/no$bank/train" --val /tmp/round/val --init "$work/s6" \
    --epochs 1 --copies 1 --batch-size 32 --lr 3e-4 --seed 0 --out "$work/crnn-no$bank" \
    --force > "$work/train-no$bank.log" 2>&1
  models="$work/models-no$bank"
  rm -rf "$models" && mkdir -p "$models"
  for m in "$repo"/models/*/; do ln -s "$m" "$models/$(basename "$m")"; done
  rm "$models/crnn" && ln -s "$work/crnn-no$bank" "$models/crnn"
  DIGITOCR_MODELS="$models" python "$repo/bench/real.py" --only cheques --workers 2 --show 60 \
    > "$work/real-no$bank.txt"
  python - "$work/real-no$bank.txt" "$bank" <<'PY'
import json, re, sys
text, bank = open(sys.argv[1]).read(), sys.argv[2]
truth = json.load(open(__import__("os").environ.get("DIGITOCR_DATA", "../shared/data")
                       + "/cheques-idrbt/truth.json"))["cheques"]
mine = [c["image"] for c in truth if c["image"].split("/")[-1].startswith(bank)]
missed = {k: {m.group(1) for m in re.finditer(rf"miss (\S+):{k}: read", text)}
          for k in ("amount", "value", "date")}
got = {k: sum(c not in missed[k] for c in mine) for k in missed}
print(json.dumps({"bank": bank, "cheques": len(mine), **got}))
PY
done
