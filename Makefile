# Two commands that work on a fresh machine with only Python 3:
#   make demo   set up .venv and run `specops demo`
#   make test   set up .venv and run the test suite
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PY := $(VENV)/bin/python
STAMP := $(VENV)/.specops-installed

.PHONY: demo test lint bench setup clean

setup: $(STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# torch is installed only when missing, pinned so that pip never pulls a multi-GB CUDA build here.
$(STAMP): $(PY) pyproject.toml
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[plot,dev]"
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/specops demo

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

bench: $(STAMP)
	$(PY) benchmarks/bench_fno.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
