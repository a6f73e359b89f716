# Every target works on a fresh machine with only python3: the venv is made on demand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DOCS_STAMP := $(VENV)/.docs-stamp
OUT ?= out
# The benchmark's own venv for OpenCV: never a dependency of cnncli, thrown away by `make clean`.
BENCH_VENV := .venv-bench
BENCH_ARGS ?=

.PHONY: install test lint run bench docs clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: install
	$(BIN)/ruff check cnncli tests docs/gen bench
	$(BIN)/ruff format --check cnncli tests docs/gen bench
	$(BIN)/mypy
	$(BIN)/pytest

run: install
	mkdir -p $(OUT)
	$(BIN)/cnncli smooth --sample --sigma 2 $(OUT)/smooth.png
	$(BIN)/cnncli gradient --sample $(OUT)/gradient.png
	$(BIN)/cnncli sobel --sample $(OUT)/sobel.png
	@echo "results: $(OUT)/smooth.png $(OUT)/gradient.png $(OUT)/sobel.png (from the bundled sample, cnncli/data/chelsea.png)"

# Whole-process time and peak memory against scipy, vips, ImageMagick and OpenCV, on inputs
# it makes in a temporary directory (see bench/run_bench.py; BENCH_ARGS=--quick for a smoke
# run). vips and ImageMagick are used if installed (Debian: libvips-tools, imagemagick).
bench: install
	@( test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV) ) \
	  && ( $(BENCH_VENV)/bin/python -c 'import cv2' 2>/dev/null \
	       || $(BENCH_VENV)/bin/python -m pip install --quiet opencv-python-headless ) \
	  || echo "bench: no OpenCV (could not set up $(BENCH_VENV)); its rows will be skipped"
	@# cnncli's bytecode, as pip compiles an installed package's: an editable install run
	@# with PYTHONDONTWRITEBYTECODE set would compile every module it imports at each start.
	$(BIN)/python -m compileall -q cnncli
	$(BIN)/python bench/run_bench.py --opencv-python $(BENCH_VENV)/bin/python $(BENCH_ARGS)

# The website: generated pictures and command reference, then a strict offline build into site/.
$(DOCS_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,docs]'
	touch $(DOCS_STAMP)

docs: install $(DOCS_STAMP)
	$(BIN)/python docs/gen/make_assets.py
	$(BIN)/python docs/gen/make_reference.py
	$(BIN)/python bench/plot_scaling.py
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site
	@echo "site: site/index.html"

clean:
	rm -rf $(VENV) $(BENCH_VENV) $(OUT) site build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
