# make run: install, build the index from corpus/ if it is missing, serve the chat UI.
# make test: install and run the whole test suite (what CI runs).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
QA := $(VENV)/bin/qa
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 7860

.PHONY: install index run serve test lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first: 2.13.0 is the local CPU wheel; letting a resolver pick pulls CUDA.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test,milvus,ray,mpnet]'
	touch $(STAMP)

index: install
	@if [ -f index/CURRENT ] || [ -f index/manifest.json ]; then \
		echo "index/ exists; rebuild with: $(QA) build"; \
	else \
		$(QA) build --corpus corpus --index index; \
	fi

run: index
	$(QA) serve --index index --host $(HOST) --port $(PORT)

serve: run

lint: install
	$(VENV)/bin/ruff check qa tests benchmarks
	$(VENV)/bin/ruff format --check qa tests benchmarks
	$(VENV)/bin/mypy

test: install
	$(VENV)/bin/ruff check qa tests benchmarks
	$(VENV)/bin/ruff format --check qa tests benchmarks
	$(VENV)/bin/mypy
	$(PY) -m pytest

clean:
	rm -rf $(VENV) index/CURRENT index/builds index/.lock
