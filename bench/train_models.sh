#!/usr/bin/env bash
# Regenerate every shipped model in models/ from the shared data (about two and a half hours on 2 cores).
# Usage: DIGITOCR_DATA=../shared/data bash bench/train_models.sh
# Finished stages (a model directory with metadata.json under runs/) are not trained again.
set -euo pipefail
: "${DIGITOCR_DATA:?set DIGITOCR_DATA to the folder holding mnist/, usps/ and cvl/}"
D="$DIGITOCR_DATA"
# MNIST train + 80% of USPS + 80% of CVL-train; the other 20% of each is held out (seeded)
EXTRA=(--extra "$D/usps/usps-train.npz" --extra "$D/cvl/cvl-train.npz" --extra-holdout 0.2)
# stage 1: the wide CNN, 12 epochs, learning rate halved whenever validation loss stalls
WIDE=(--arch wide --lr-schedule plateau --patience 4 --epochs 12)
# stage 2: 5 epochs from those weights at a tenth of the learning rate, half the augmentation,
# half the images through a simulated scan
TUNE=(--arch wide --lr 1e-4 --rotation 5 --shift 0.05 --zoom 0.05 --epochs 5 --patience 2 --scan 0.5)
# ensemble members of another family: the deep CNN on MNIST only, then a scan stage that also
# shows it touching digit pairs as not-a-digit
DEEP=(--arch deep --lr-schedule plateau --patience 4 --epochs 15)
DEEPTUNE=(--arch deep --lr 1e-4 --rotation 5 --shift 0.05 --zoom 0.05 --epochs 4 --patience 2
          --scan 0.5 --pairs 0.1)
mkdir -p runs
train() { local out=$1; shift; [ -f "runs/$out/metadata.json" ] || digitocr train cnn "$@" --out "runs/$out"; }
train e12-s0 "${WIDE[@]}" --seed 0 "${EXTRA[@]}"
train e12-s50 "${TUNE[@]}" --init runs/e12-s0 --seed 0 "${EXTRA[@]}"
# the default: 3 more epochs that also show it crops that are not digits (crosses, struck-out
# digits, ticks, box corners, letters), trained toward a flat output
train cnn-nd "${TUNE[@]}" --epochs 3 --non-digits 0.15 --init runs/e12-s50 --seed 0 "${EXTRA[@]}"
for seed in 4 5; do
  train "deep-s$seed" "${DEEP[@]}" --seed "$seed"
  train "deep-s$seed-sp" "${DEEPTUNE[@]}" --init "runs/deep-s$seed" --seed "$seed"
done
# members that see every digit deskewed (sheared upright by its moments), so that they err on
# other digits than the rest: a deep one on MNIST, and a wide one with the default's recipe
train deskew-s8 "${DEEP[@]}" --rotation 5 --set deskew=true --seed 8
train deskew-s8-sp "${DEEPTUNE[@]}" --rotation 3 --set deskew=true --init runs/deskew-s8 --seed 8
train wdesk-s11 "${WIDE[@]}" --rotation 5 --set deskew=true --seed 11 "${EXTRA[@]}"
train wdesk-s11-sp "${TUNE[@]}" --rotation 3 --set deskew=true --init runs/wdesk-s11 --seed 11 \
  "${EXTRA[@]}"
rm -rf models/cnn && cp -r runs/cnn-nd models/cnn   # the default model
digitocr train svm --seed 0 --out models/svm          # the classical baseline
rm -rf models/ensemble
# the first member decides alone where it is at least 99 % sure (--set cascade=0.99); it is the
# one trained on touching pairs, so that a pair read as one digit still goes to the vote
digitocr train ensemble --member runs/deep-s5-sp --member runs/deep-s4-sp \
  --member runs/deskew-s8-sp --member runs/wdesk-s11-sp --set cascade=0.99 "${EXTRA[@]}" \
  --out models/ensemble
# the whole-string reader for cheque amounts: three stages, each from the last one's weights
[ -f runs/crnn-1/metadata.json ] || python bench/train_crnn.py --out runs/crnn-1
[ -f runs/crnn-2/metadata.json ] || python bench/train_crnn.py --out runs/crnn-2 \
  --init runs/crnn-1 --seed 1 --epochs 4 --learning-rate 7e-4
python bench/train_crnn.py --out models/crnn --init runs/crnn-2 --seed 2 --epochs 3 \
  --learning-rate 5e-4 --synthetic 20000 --real-copies 16
