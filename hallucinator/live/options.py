"""What a live playback dreams with: :class:`LiveOptions`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

from ..errors import UserError

ENGINES = ("student", "gradient")
GRADIENT_LIVE_SIZE = (512, 256)      # the gradient engine's dreaming size when --live-size is not given
# the gradient engine's reduced schedule (fields of DreamConfig over the default preset): fewer octaves and
# iterations on the first frame; carried frames take BlendParams.warm_iters of these (1 per octave)
GRADIENT_LIVE_SCHEDULE = {"octaves": 3, "iterations": 4}


@dataclass(frozen=True)
class LiveOptions:
    """``engine``: ``student`` (the distilled net in ONNX Runtime) or ``gradient`` (the engine, warm-started
    along the flow).  ``size``: the dreaming size (W, H); None is the engine's own (the student's train
    size, :data:`GRADIENT_LIVE_SIZE`).  ``student``: the student file (None: the shipped one).
    ``device``: auto, cpu, cuda or cuda:N.  ``threads``: the student's CPU threads (None: all cores but one,
    :func:`.engines.live_threads`; ``hallucinator --threads N`` sets it)."""

    engine: str = "student"
    size: Optional[Tuple[int, int]] = None
    student: Optional[str] = None
    device: str = "auto"
    strength: float = 1.0
    threads: Optional[int] = None
    temporal: Optional[float] = None   # the student's flow-guided blend: the kept part of the previous residual

    def __post_init__(self):
        if self.engine not in ENGINES:
            raise UserError(f"--engine {self.engine!r} is not one of {', '.join(ENGINES)}")
        if self.size is not None and (self.size[0] < 8 or self.size[1] < 4):
            raise UserError(f"--live-size {self.size[0]}x{self.size[1]} is too small; use at least 8x4")
        if self.temporal is not None and not (self.engine == "student" and 0.0 <= self.temporal < 1.0):
            raise UserError(f"--temporal {self.temporal:g}: give a kept fraction in [0, 1) with --engine student")
        if self.student is not None and self.engine != "student":
            raise UserError("--student applies to --engine student only; leave it out or use the student engine")
