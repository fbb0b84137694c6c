#!/usr/bin/env bash
# Reproduce the paper: its CNN, defaults only (MNIST, oversampling, rotation/shift/zoom, batch 64,
# 20 epochs, early stopping), then score it like the shipped models.
# Usage: DIGITOCR_DATA=../shared/data bash bench/paper.sh
set -euo pipefail
: "${DIGITOCR_DATA:?set DIGITOCR_DATA to the folder holding mnist/, usps/ and cvl/}"
digitocr train cnn --out runs/paper
python bench/eval_models.py runs/paper
