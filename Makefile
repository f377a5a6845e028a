# The project's front door: `make run` serves the seeds corpus, `make test` runs lint and the suite.
# Both set everything up on a fresh machine (Python >= 3.11 with venv, pip, gcc).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install run index test lint bench eval clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch first and pinned: the CPU wheel (an unpinned torch pulls gigabytes of CUDA packages).
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

index: $(STAMP)
	$(BIN)/verity index

run: index
	$(BIN)/verity serve

lint: $(STAMP)
	$(BIN)/ruff check service index tests scripts
	$(BIN)/ruff format --check service index tests scripts
	$(BIN)/mypy service index

test: lint
	$(BIN)/pytest

eval: $(STAMP)
	$(BIN)/verity eval seeds/eval-dev.jsonl
	$(BIN)/verity eval seeds/eval.jsonl

clean:
	rm -rf data test-output
