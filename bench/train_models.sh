#!/usr/bin/env bash
# Regenerate every shipped model in models/ from the shared data (about 45 minutes on 2 cores).
# Usage: DIGITOCR_DATA=../shared/data bash bench/train_models.sh
set -euo pipefail
: "${DIGITOCR_DATA:?set DIGITOCR_DATA to the folder holding mnist/, usps/ and cvl/}"
D="$DIGITOCR_DATA"
EXTRA=(--extra "$D/usps/usps-train.npz" --extra "$D/cvl/cvl-train.npz" --extra-holdout 0.2)
WIDE=(--arch wide --lr-schedule plateau --patience 4)
mkdir -p runs
# default model: the wide CNN on MNIST + 80% of USPS + 80% of CVL-train (20% held out, seeded)
digitocr train cnn "${WIDE[@]}" --seed 0 "${EXTRA[@]}" --out models/cnn
# classical baseline
digitocr train svm --seed 0 --out models/svm
# two more ensemble members, different seeds
digitocr train cnn "${WIDE[@]}" --seed 1 "${EXTRA[@]}" --out runs/cnn-s1
digitocr train cnn "${WIDE[@]}" --seed 2 "${EXTRA[@]}" --out runs/cnn-s2
digitocr train ensemble --member models/cnn --member runs/cnn-s1 --member runs/cnn-s2 \
  "${EXTRA[@]}" --out models/ensemble
