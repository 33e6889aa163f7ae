"""Where a dream's time goes: seconds per part of the engine over a run, and FLOPs (``hallucinator bench dream``).

The engine wraps each part of a step in ``with timer("part"):``.  A timer
that is off costs one attribute test per part; one that is on waits for the
device at each part's end (``torch.cuda.synchronize``), so the seconds are the
part's own and not the GPU's queue.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator

import torch

# the parts, in the order the bench prints them
PARTS = ("band", "polar views", "resampling", "blend", "octave resize")
NETWORK_PARTS = ("band", "polar views")  # the parts that are the network's forward and backward passes


def timed(fn: Callable[[], Any], device: torch.device) -> Callable[[], float]:
    """A function that runs ``fn`` and returns its seconds, the device's queue drained before and after."""
    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    def run() -> float:
        sync()
        t = time.perf_counter()
        fn()
        sync()
        return time.perf_counter() - t
    return run


class PartTimer:
    """Seconds spent in each named part; off (free) unless ``enabled``."""

    def __init__(self, enabled: bool = False, device: torch.device = torch.device("cpu")):
        self.enabled = enabled
        self.device = device
        self.seconds: Dict[str, float] = {}
        self._open = False

    def reset(self) -> None:
        self.seconds = {}

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    @contextmanager
    def __call__(self, part: str) -> Iterator[None]:
        """Time the block as ``part``; nested blocks count for the outer part only."""
        if not self.enabled or self._open:
            yield
            return
        self._sync()
        self._open = True
        t = time.perf_counter()
        try:
            yield
        finally:
            self._sync()
            self._open = False
            self.seconds[part] = self.seconds.get(part, 0.0) + time.perf_counter() - t


def count_flops(fn: Callable[[], Any]) -> int:
    """Floating-point operations that ``fn`` runs (multiply and add counted apart), by torch's formulas per op.

    Convolutions (forward and the input gradient of their backward), matrix
    products and attention are counted; elementwise work is not.  (torch's own
    ``FlopCounterMode`` tracks modules too, which ``autograd.grad`` on an input
    does not allow.)
    """
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils.flop_counter import flop_registry

    class Count(TorchDispatchMode):
        total = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            formula = flop_registry.get(func._overloadpacket)
            if formula is not None:
                Count.total += int(formula(*args, **kwargs, out_val=out))
            return out

    with Count():
        fn()
    return Count.total
