# Two commands do everything on a machine with python3 and make:
#   make demo   - create .venv, install, encode the sample images at K = 2, 5, 10, 15, 20
#   make test   - create .venv, install, run the whole test suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
IMAGES ?=

.PHONY: demo test lint bench vectors clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) tools/demo.py $(IMAGES)

test: $(STAMP)
	$(PY) -m pytest -q
	$(PY) -m ruff check kmcodec tests tools

lint: $(STAMP)
	$(PY) -m ruff check kmcodec tests tools
	$(PY) -m ruff format --check kmcodec tests tools

vectors: $(STAMP)
	$(PY) tools/make_vectors.py

clean:
	rm -rf $(VENV) out build *.egg-info .pytest_cache .hypothesis
