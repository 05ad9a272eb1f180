# Meshmill: `make run` starts everything on embedded defaults; `make test` runs the tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test lint bench bench-platform bench-mesh bench-cad bench-contour clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/python -c "from pipelines.contour_kernels import warm; warm()"  # numba's disk cache (~26 s once)
	touch $(STAMP)

run: install
	$(BIN)/meshmill run

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .

bench: bench-platform bench-mesh bench-cad bench-contour

bench-platform: install
	$(BIN)/python -m bench.platform

bench-mesh: install
	$(BIN)/python -m bench.mesh_repair

bench-cad: install
	$(BIN)/python -m bench.cad

bench-contour: install
	$(BIN)/python -m bench.contour

clean:
	rm -rf var .pytest_cache .ruff_cache
