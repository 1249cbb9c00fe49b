# Two entry points for a fresh machine with Python 3.11 and pip (see README):
#   make demo   — install into .venv and run the sklearn example through all ten stages
#   make test   — install into .venv and run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := true

.PHONY: install demo test lint typecheck bench schemas clean project-venvs

$(VENV)/.installed: pyproject.toml plugins/aitrace-sklearn/pyproject.toml
	@echo "make: creating $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@echo "make: installing aitrace and its dependencies into $(VENV) (MLflow, Great Expectations,"
	@echo "      CycloneDX, pandas, scikit-learn, ... about 900 MB; 1-3 minutes on a fresh machine,"
	@echo "      and pip prints nothing until it is done)"
	$(PY) -m pip install --quiet -e ".[dev]" -e plugins/aitrace-sklearn
	@echo "make: $(VENV) is ready"
	touch $@

install: $(VENV)/.installed

demo: install
	@echo "make: running the sklearn example through all ten stages (about a minute)"
	$(PY) examples/sklearn-pipeline/run_pipeline.py

# The test projects' own virtualenvs (an older MLflow 2.x etc.): the one networked step of the
# tests, built once into .cache/test-venvs/ and reused while requirements.txt is unchanged.
project-venvs: install
	$(PY) -m tests.projects.venvs build house-prices

test: install project-venvs
	@echo "make: running the test suite (a few minutes; slow end-to-end tests included)"
	$(PY) -m pytest -q --cov --cov-report=term:skip-covered

lint: install
	$(VENV)/bin/ruff check src tests plugins benchmarks examples tools
	$(VENV)/bin/mypy

typecheck: install
	$(VENV)/bin/mypy

bench: install project-venvs
	$(PY) benchmarks/run_all.py

schemas: install
	$(PY) -m aitrace.schemas

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage .cache/test-venvs
