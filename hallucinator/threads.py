"""CPU threads for torch and OpenCV: OpenMP's wait policy and the thread count (``hallucinator --threads N``).

Measured on a 2-core machine shared with other jobs (load 6-7; one
EfficientNet-Lite2 gradient step on a 512x208 band, channels-last, median of
6, three rounds): with OpenMP's default busy-waiting, 2 threads took
0.9-4.9 s; with ``OMP_WAIT_POLICY=PASSIVE`` 0.21-0.49 s; 1 thread took
0.45-0.64 s either way.  A spinning thread that is descheduled holds every
other thread at the next barrier, and a network step has thousands of them.
So the CLI asks for passive waiting unless the environment says otherwise.
OpenMP reads the variable once, when torch loads it, so this must run before
``import torch``; this module does not import torch at load time.

OpenCV (optical flow, warps, PNG coding) keeps its own pool, one thread per
core by default; ``--threads`` sets it too.  DIS flow on a 256x128 frame pair
took about 25 % more CPU time with 2 threads than with 1 on a loaded 2-core
machine, for the same bytes.
"""
from __future__ import annotations

import os
import sys
from typing import Optional

from .errors import UserError

WAIT_POLICY = "PASSIVE"


def prefer_passive_wait() -> bool:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` unless it is set already; False when torch is loaded and it is too late."""
    if "torch" in sys.modules:
        return False
    os.environ.setdefault("OMP_WAIT_POLICY", WAIT_POLICY)
    return True


def set_threads(n: Optional[int]) -> None:
    """Use ``n`` CPU threads for torch's operators and OpenCV's (None: their defaults, one per core)."""
    if n is None:
        return
    if n < 1:
        raise UserError(f"--threads must be at least 1, not {n}")
    os.environ["OMP_NUM_THREADS"] = str(n)  # read by OpenMP if torch is not loaded yet, and by child processes
    import cv2
    import torch

    torch.set_num_threads(n)
    cv2.setNumThreads(n)
