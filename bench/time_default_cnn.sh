#!/usr/bin/env bash
# Wall time of the default CNN's two training stages on an otherwise idle machine
# (the same commands as bench/train_models.sh for models/cnn, written under runs/timing-*).
# Usage: DIGITOCR_DATA=../shared/data bash bench/time_default_cnn.sh
set -euo pipefail
D="${DIGITOCR_DATA:?set DIGITOCR_DATA}"
EXTRA=(--extra "$D/usps/usps-train.npz" --extra "$D/cvl/cvl-train.npz" --extra-holdout 0.2)
start=$(date +%s)
digitocr train cnn --arch wide --lr-schedule plateau --patience 4 --epochs 12 --seed 0 \
  "${EXTRA[@]}" --out runs/timing-s0
digitocr train cnn --arch wide --lr 1e-4 --rotation 5 --shift 0.05 --zoom 0.05 --epochs 5 \
  --patience 2 --scan 0.5 --init runs/timing-s0 --seed 0 "${EXTRA[@]}" --out runs/timing-s0-scan
echo "default CNN, both stages, end to end: $(( $(date +%s) - start )) s"
