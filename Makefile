PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup test test-fast run bench lint clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

lint: setup
	$(BIN)/ruff check discover evaluator tests bench

test: setup lint
	$(BIN)/pytest -q

test-fast: setup
	$(BIN)/pytest -q -m "not slow"

run: setup
	$(BIN)/discover instances generate --n 100 --per-class 10 --seed 1 -o runs/demo_n100.json
	$(BIN)/discover baselines runs/demo_n100.json

bench: setup
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache runs
