# Two commands for a fresh machine:
#   make demo   set up .venv and dream the demo panorama (and clip) on the embedded model
#   make test   set up .venv and run the tests
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
ARCH   := $(shell uname -m)
ifeq ($(ARCH),aarch64)
TORCH   = torch==2.9.1 torchvision==0.24.1
else
TORCH   = torch==2.14.1 torchvision==0.29.1
endif

.PHONY: setup demo test clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

demo: setup
	$(BIN)/hallucinator demo --out demo-out

test: setup
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) demo-out
