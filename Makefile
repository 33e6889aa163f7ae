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

# live dreaming on a GPU (issue 11): the student at 4096x2048 (>= 60 fps wanted), the gradient engine at 2048x1024
# (>= 30 fps wanted); each also times the teacher at that size and plays the test room clip dreamed live (the
# playback needs a display: under xvfb-run it renders on the CPU, so on a headless server add --play-frames 0)
LIVE_CLIP ?= ../shared/data/videos/gvr-testroom-synthetic-1920x960.mp4
.PHONY: bench-live-gpu
bench-live-gpu: setup
	$(BIN)/hallucinator bench live $(LIVE_CLIP) --device cuda --sizes 1024x512,2048x1024,4096x2048 \
	  --size 4096x2048 --live-size 4096x2048 --view-size 1920x1080 --frames 50 --json
	$(BIN)/hallucinator bench live $(LIVE_CLIP) --engine gradient --device cuda --sizes 1024x512,2048x1024 \
	  --size 2048x1024 --live-size 2048x1024 --view-size 1920x1080 --frames 20 --json

clean:
	rm -rf $(VENV) demo-out
