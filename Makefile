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

.PHONY: demo test lint bench docs vectors clean

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
	$(PY) -m ruff check kmcodec tests tools

lint: $(DEV)
	$(PY) -m ruff check kmcodec tests tools
	$(PY) -m ruff format --check kmcodec tests tools

# Quantiser against pngquant (when on PATH), scikit-learn and Pillow, side by side.
bench: $(DEV)
	$(PY) tools/bench_quantize.py $(CORPUS)

# The reproduction of the original experiment (docs/experiment.md): tables, plots, report.md in docs/seed.
docs: $(RUN)
	@test -f $(SEED)/Koala.jpg -a -f $(SEED)/Penguins.jpg || { \
	  echo "make docs needs the seed photos Koala.jpg and Penguins.jpg in $(SEED)"; \
	  echo "(../shared/corpus beside the project's checkout; a plain clone does not have it)."; \
	  echo "Run make docs SEED=/folder/with/them, or kmq compare on your own images."; \
	  exit 1; }
	$(VENV)/bin/kmq compare $(SEED)/Koala.jpg $(SEED)/Penguins.jpg --out out/seed --csv out/seed/seed.csv
	mkdir -p docs/seed && cp out/seed/*.png out/seed/report.md docs/seed/

vectors: $(RUN)
	$(PY) tools/make_vectors.py

clean:
	rm -rf $(VENV) out build *.egg-info .pytest_cache .hypothesis
