# Two commands do everything on a machine with python3 and make:
#   make demo   - create .venv, install, encode the sample images at K = 2, 5, 10, 15, 20
#   make test   - create .venv, install, run the whole test suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
RUN    := $(VENV)/.installed-run
DEV    := $(VENV)/.installed-dev
IMAGES ?=

KODAK  := ../shared/corpus/kodak
SEED   ?= ../shared/corpus/seed
CORPUS ?= $(if $(wildcard $(KODAK)/*.png),$(KODAK),samples)

VENV_MIN := .venv-min
# The lowest Python kmcodec supports, for make test-min (pyenv's, else python3.10 on PATH).
PYTHON_MIN ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.10*/bin/python3.10) $(shell command -v python3.10 2>/dev/null))

.PHONY: demo test test-quick test-min lint bench docs experiment vectors clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# What the demo needs: kmcodec and its plotting/progress extras.
$(RUN): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[tools]'
	touch $(RUN)

# What the tests and benchmarks need: the above, pytest, hypothesis, ruff, scikit-learn/-image.
$(DEV): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(DEV) $(RUN)

demo: $(RUN)
	$(PY) tools/demo.py $(IMAGES)

test: $(DEV)
	@command -v node >/dev/null || echo "make test: node not found: the JavaScript decoder's tests are skipped (.ci/run installs it)"
	@command -v chromium >/dev/null || echo "make test: chromium not found: the browser tests are skipped (.ci/run installs it)"
	$(PY) -m pytest -q
	$(PY) -m ruff check kmcodec tests tools setup.py
	$(PY) -m mypy
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

# The suite without the slow tests (wheel build, fuzzing, Dask clusters, tool runs).
test-quick: $(DEV)
	$(PY) -m pytest -q -m "not slow"

# The suite (but the slow tests) with the lowest declared versions of numpy, Pillow, zstandard and
# construct (tests/lowest-versions.txt) on the lowest supported Python, in $(VENV_MIN).
test-min:
	@py="$(PYTHON_MIN)"; \
	if [ -z "$$py" ]; then py=$(PYTHON); \
	  echo "make test-min: no Python 3.10 found; the lowest dependency versions run on $$($$py --version)"; fi; \
	test -x $(VENV_MIN)/bin/python || $$py -m venv $(VENV_MIN)
	$(VENV_MIN)/bin/python -m pip install --quiet --upgrade pip
	$(VENV_MIN)/bin/python -m pip install --quiet -c tests/lowest-versions.txt -e '.[dev]'
	$(VENV_MIN)/bin/python -c "import sys, numpy, PIL, zstandard, construct; print('make test-min: Python', sys.version.split()[0], 'numpy', numpy.__version__, 'Pillow', PIL.__version__, 'zstandard', zstandard.__version__, 'construct', construct.__version__)"
	$(VENV_MIN)/bin/python -m pytest -q -m "not slow"

lint: $(DEV)
	$(PY) -m ruff check kmcodec tests tools setup.py
	$(PY) -m ruff format --check kmcodec tests tools setup.py
	$(PY) -m mypy

# Quantiser against pngquant (when on PATH), scikit-learn and Pillow, side by side.
bench: $(DEV)
	$(PY) tools/bench_quantize.py $(CORPUS)

# The documentation site (mkdocs.yml): docs/, the spec, the API reference from the docstrings,
# built with warnings as errors into site/.
docs: $(DEV)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet
	@echo "make docs: the site is in site/ (open site/index.html, or python -m http.server -d site)"

# The reproduction of the original experiment (docs/experiment.md): tables, plots, report.md in docs/seed.
experiment: $(RUN)
	@test -f $(SEED)/Koala.jpg -a -f $(SEED)/Penguins.jpg || { \
	  echo "make experiment needs the seed photos Koala.jpg and Penguins.jpg in $(SEED)"; \
	  echo "(../shared/corpus beside the project's checkout; a plain clone does not have it)."; \
	  echo "Run make experiment SEED=/folder/with/them, or kmq compare on your own images."; \
	  exit 1; }
	$(VENV)/bin/kmq compare $(SEED)/Koala.jpg $(SEED)/Penguins.jpg --out out/seed --csv out/seed/seed.csv
	mkdir -p docs/seed && cp out/seed/*.png out/seed/report.md docs/seed/

vectors: $(RUN)
	$(PY) tools/make_vectors.py

clean:
	rm -rf $(VENV) $(VENV_MIN) out build dist site *.egg-info .pytest_cache .hypothesis
