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

.PHONY: setup demo test bench-gpu clean

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

# the GPU figures: fps, achieved TFLOP/s, peak memory, engine vs plain reference (one JSON line each)
bench-gpu: setup
	for size in 4096x2048 2048x1024; do \
	  $(BIN)/hallucinator bench dream --device cuda --size $$size --model googlenet --random-weights --repeat 3 --warmup --json; \
	  $(BIN)/hallucinator bench dream --device cuda --size $$size --repeat 3 --warmup --json; \
	  $(BIN)/hallucinator bench dream --device cuda --size $$size --precision bf16 --repeat 3 --warmup --json; \
	done

clean:
	rm -rf $(VENV) demo-out
