#!/usr/bin/env bash
# Retrain on your own archive, worked example: fine-tune the shipped crnn on the ledger cells of
# danish-rowid/train (a seeded 5 % of it picks the best epoch), then score it on
# danish-rowid/validation, which it never saw (about 15 minutes on 2 cores).
#
#   DIGITOCR_DATA=../shared/data bash bench/retrain_danish.sh runs/crnn-danish
set -euo pipefail
OUT=${1:?usage: bench/retrain_danish.sh OUT}
DATA=${DIGITOCR_DATA:-../shared/data}
digitocr train crnn --data "$DATA/danish-rowid/train" --val-split 0.05 --init crnn \
  --epochs 4 --copies 1 --batch-size 32 --lr 5e-4 --seed 0 --out "$OUT" --force
# the held-out cells, read as a user would with the new model
python bench/real.py --only danish --model "$OUT"
python bench/danish_digit_labels.py "$OUT"
