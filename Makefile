PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup test test-fast run bench lint clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,ray]'
	touch $(STAMP)

setup: $(STAMP)

lint: setup
	$(BIN)/ruff check discover evaluator tests bench

test: setup lint
	$(BIN)/pytest -q --durations=15

test-fast: setup
	$(BIN)/pytest -q -m "not slow"

# The run promotes into the user archive ($$XDG_DATA_HOME/discover/archive), never into archive/.
run: setup
	@before="$$(git status --porcelain --untracked-files=all archive/ 2>/dev/null)"; \
	$(BIN)/discover run --seed 1 --run-dir runs/demo --overwrite && \
	$(BIN)/discover archive index && \
	$(BIN)/discover report runs/demo -o runs/demo/report.html && \
	$(BIN)/discover archive list && \
	after="$$(git status --porcelain --untracked-files=all archive/ 2>/dev/null)" && \
	{ [ "$$before" = "$$after" ] || { echo "error: make run changed archive/:"; echo "$$after"; exit 1; }; }

bench: setup
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache runs
