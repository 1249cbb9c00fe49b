# Two entry points for a fresh machine with Python 3.11 and pip (see README):
#   make demo   — install into .venv, run the sklearn example through all ten stages, then the
#                 generative example through release and monitoring after deployment
#   make test   — install into .venv and run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := true

.PHONY: install demo test lint typecheck bench schemas clean

$(VENV)/.installed: pyproject.toml plugins/aitrace-sklearn/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]" -e plugins/aitrace-sklearn
	touch $@

install: $(VENV)/.installed

demo: install
	$(PY) examples/sklearn-pipeline/run_pipeline.py
	$(PY) examples/genai-assistant/run_assistant.py

test: install
	$(PY) -m pytest -q --cov --cov-report=term:skip-covered

lint: install
	$(VENV)/bin/ruff check src tests plugins benchmarks examples tools
	$(VENV)/bin/mypy

typecheck: install
	$(VENV)/bin/mypy

bench: install
	$(PY) benchmarks/run_all.py

schemas: install
	$(PY) -m aitrace.schemas

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage
