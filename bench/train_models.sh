#!/usr/bin/env bash
# Regenerate every shipped model in models/ from the shared data (about two hours on 2 cores).
# Usage: DIGITOCR_DATA=../shared/data bash bench/train_models.sh
# Finished stages (a model directory with metadata.json under runs/) are not trained again.
set -euo pipefail
: "${DIGITOCR_DATA:?set DIGITOCR_DATA to the folder holding mnist/, usps/ and cvl/}"
D="$DIGITOCR_DATA"
# MNIST train + 80% of USPS + 80% of CVL-train; the other 20% of each is held out (seeded)
EXTRA=(--extra "$D/usps/usps-train.npz" --extra "$D/cvl/cvl-train.npz" --extra-holdout 0.2)
# stage 1: the wide CNN, learning rate halved whenever validation loss stalls
WIDE=(--arch wide --lr-schedule plateau --patience 4)
# stage 2: 5 epochs from those weights at a tenth of the learning rate, half the augmentation
TUNE=(--arch wide --lr 1e-4 --rotation 5 --shift 0.05 --zoom 0.05 --epochs 5 --patience 2)
mkdir -p runs
for seed in 0 1 2; do
  [ -f "runs/cnn-s$seed/metadata.json" ] ||
    digitocr train cnn "${WIDE[@]}" --seed "$seed" "${EXTRA[@]}" --out "runs/cnn-s$seed"
  [ -f "runs/cnn-s$seed-tuned/metadata.json" ] ||
    digitocr train cnn "${TUNE[@]}" --init "runs/cnn-s$seed" --seed "$seed" "${EXTRA[@]}" \
      --out "runs/cnn-s$seed-tuned"
done
rm -rf models/cnn && cp -r runs/cnn-s0-tuned models/cnn   # the default model
digitocr train svm --seed 0 --out models/svm               # the classical baseline
digitocr train ensemble --member runs/cnn-s0-tuned --member runs/cnn-s1-tuned \
  --member runs/cnn-s2-tuned "${EXTRA[@]}" --out models/ensemble
# the whole-string reader for cheque amounts: three stages, each from the last one's weights
[ -f runs/crnn-1/metadata.json ] || python bench/train_crnn.py --out runs/crnn-1
[ -f runs/crnn-2/metadata.json ] || python bench/train_crnn.py --out runs/crnn-2 \
  --init runs/crnn-1 --seed 1 --epochs 4 --learning-rate 7e-4
python bench/train_crnn.py --out models/crnn --init runs/crnn-2 --seed 2 --epochs 3 \
  --learning-rate 5e-4 --synthetic 20000 --real-copies 16
