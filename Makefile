# Two entry points: `make run` (read the bundled samples with the shipped model) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
# Data for tests and training: $DIGITOCR_DATA, else ../shared/data beside the checkout.
DIGITOCR_DATA ?= $(abspath ../shared/data)
export DIGITOCR_DATA

.PHONY: setup run test lint models bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@command -v pdftoppm >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq poppler-utils >/dev/null; }
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,train]'
	touch $@

run: setup
	$(BIN)/digitocr read samples/ --format csv

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q

# Retrain every shipped model from the shared data (about two and a half hours on 2 cores).
models: setup
	PATH=$(abspath $(BIN)):$$PATH bash bench/train_models.sh

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
