#!/usr/bin/env bash
# Size of a reading-only install, and that it reads samples/ exactly as the checkout does.
#
#     bash bench/install_size.sh [PYTHON]      # PYTHON builds the wheel (default: .venv/bin/python)
#
# Builds the wheel offline (pip wheel --no-build-isolation --no-deps .), installs it with its
# reading dependencies only (plain `pip install WHEEL`, from PyPI) into a fresh venv under
# /tmp, reports `du` of that venv's site-packages and its ten biggest packages, checks that
# scikit-learn, SciPy, matplotlib, TensorFlow and jsonschema are absent, then runs
# `digitocr read samples/ --format csv` there (outside the checkout) and diffs it against the
# checkout's own run of the same command: identical, or the script fails. Last, a `read` of
# a model that needs an extra (models/svm) must fail with one line naming it. Prints a JSON
# summary on its last line.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
PY=${1:-$REPO/.venv/bin/python}
TARGET_MB=500
WORK=$(mktemp -d /tmp/digitocr-install.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

cd "$REPO"
echo "building the wheel ($PY)" >&2
"$PY" -m pip wheel -q --no-build-isolation --no-deps -w "$WORK/dist" . >&2
WHEEL=$(ls "$WORK"/dist/digitocr-*.whl)

echo "fresh venv in $WORK/venv, pip install $(basename "$WHEEL")" >&2
python3 -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install -q --upgrade pip >&2
"$WORK/venv/bin/python" -m pip install -q "$WHEEL" >&2
SITE=$("$WORK/venv/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")

# pip itself and setuptools come with every venv: report them, but the figure is the total
TOTAL_MB=$(du -sm "$SITE" | cut -f1)
echo "site-packages: $(du -sh "$SITE" | cut -f1) ($TOTAL_MB MB)" >&2
echo "biggest:" >&2
du -sm "$SITE"/*/ 2>/dev/null | sort -rn | head -10 | sed 's|'"$SITE"'/||' >&2

for mod in sklearn scipy matplotlib tensorflow keras jsonschema imblearn skops; do
    if "$WORK/venv/bin/python" -c "import importlib.util, sys; \
sys.exit(importlib.util.find_spec('$mod') is None)"; then
        echo "FAIL: $mod is installed by a reading-only install" >&2
        exit 1
    fi
done

# the checkout's reading (this tree on the path first) against the installed wheel's, run in
# an empty folder so that nothing of the checkout can be picked up
PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}" "$PY" -m digitocr read samples/ --format csv -q > "$WORK/checkout.csv"
mkdir "$WORK/elsewhere"
cp -r "$REPO/samples" "$WORK/elsewhere/samples"
(cd "$WORK/elsewhere" && env -u PYTHONPATH -u DIGITOCR_MODELS \
    "$WORK/venv/bin/digitocr" read samples/ --format csv -q > "$WORK/wheel.csv")
# the two runs differ only in the digitocr version column if at all: compare everything
if ! diff -q "$WORK/checkout.csv" "$WORK/wheel.csv" >/dev/null; then
    echo "FAIL: the installed wheel reads samples/ differently:" >&2
    diff "$WORK/checkout.csv" "$WORK/wheel.csv" | head -20 >&2
    exit 1
fi
ROWS=$(($(wc -l < "$WORK/wheel.csv") - 1))
echo "readings of samples/ identical ($ROWS rows)" >&2

# a model that needs the classical extra: one line naming it, no traceback
set +e
MSG=$(cd "$WORK/elsewhere" && env -u PYTHONPATH "$WORK/venv/bin/digitocr" read \
    samples/form-clean.png --model svm -q 2>&1 >/dev/null)
STATUS=$?
set -e
echo "read --model svm: exit $STATUS: $MSG" >&2
if [ "$STATUS" -ne 2 ] || [ "$(printf '%s\n' "$MSG" | wc -l)" -ne 1 ] \
    || [[ "$MSG" != *"digitocr[classical]"* ]]; then
    echo "FAIL: --model svm without the classical extra should fail with one line" >&2
    exit 1
fi

OK=$([ "$TOTAL_MB" -le "$TARGET_MB" ] && echo true || echo false)
echo "{\"site_packages_mb\": $TOTAL_MB, \"target_mb\": $TARGET_MB, \"within_target\": $OK, \
\"samples_rows\": $ROWS, \"readings_identical\": true}"
