"""The two live engines, each opened as a context manager and giving one :class:`Chain` per eye.

* :class:`StudentEngine`: the distilled student (:mod:`hallucinator.student.runtime`, ONNX Runtime) dreams
  each frame at the live size; the residual is enlarged wrap-aware onto the full frame.  No state.
* :class:`GradientEngine`: the video pipeline's warm start (:mod:`hallucinator.video.chain`): the first
  frame (and a frame after a cut) is dreamed with a reduced schedule (:data:`.options.GRADIENT_LIVE_SCHEDULE`),
  every later one starts from the previous dream's residual carried along the wrap-aware flow (the caps
  in the polar views) and takes ``BlendParams.warm_iters`` iterations per octave.  Meant for GPUs; it runs
  on a CPU too, slowly.

A chain's ``dream(frame)`` takes and returns uint8 (H, W, 3) RGB of the same size; ``reset()`` forgets the
previous frame (after a seek).
"""
from __future__ import annotations

import contextlib
import os
from typing import Protocol, Tuple

import numpy as np

from ..errors import UserError
from ..student import resize
from .options import GRADIENT_LIVE_SCHEDULE, GRADIENT_LIVE_SIZE, LiveOptions


class Chain(Protocol):
    def dream(self, frame: np.ndarray) -> np.ndarray: ...
    def reset(self) -> None: ...


def enlarge_residual(frame: np.ndarray, small_src: np.ndarray, small_dream: np.ndarray) -> np.ndarray:
    """``frame`` plus the residual ``small_dream - small_src`` enlarged wrap-aware to the frame's size (the
    student's fast resize, equal to :func:`hallucinator.sphere.resize_equirect_image`)."""
    h, w = frame.shape[:2]
    res = resize.enlarge(small_dream.astype(np.float32) - small_src.astype(np.float32), w, h)
    return np.clip(frame.astype(np.float32) + res + 0.5, 0, 255).astype(np.uint8)


def live_threads() -> int:
    """The student's CPU threads when not given: one core left for decoding and drawing.

    Measured on the 2-core development machine under load (384x192, the default architecture): 1 thread
    19-27 ms a frame, 2 threads (ONNX Runtime's default, spinning) 34-52 ms; a live playback of the battle
    clip dropped 14 of 150 frames with 1 thread and 65 with 2."""
    return max(1, (os.cpu_count() or 2) - 1)


class StudentEngine(contextlib.AbstractContextManager):
    """The student in ONNX Runtime (stateless: every eye shares one chain)."""

    name = "student"

    def __init__(self, opts: LiveOptions):
        from ..student.runtime import Student

        self._stack = contextlib.ExitStack()
        self.threads = opts.threads or live_threads()
        self.student = self._stack.enter_context(Student(opts.student, device=opts.device, threads=self.threads))
        self.size: Tuple[int, int] = tuple(opts.size or self.student.train_size)
        self.strength = opts.strength
        self.temporal = opts.temporal
        self.providers = tuple(self.student.providers)

    def describe(self) -> str:
        blend = f", temporal blend {self.temporal:g}" if self.temporal else ""
        return (f"engine student ({self.student.sha256[:12]}{blend}), providers {', '.join(self.providers)} "
                f"({self.threads} CPU threads), live size {self.size[0]}x{self.size[1]}")

    def chain(self):
        """Itself (each frame alone), or with ``temporal`` one :class:`BlendedChain` per eye."""
        return BlendedChain(self) if self.temporal else self

    def dream(self, frame: np.ndarray) -> np.ndarray:
        return self.student.dream(frame, size=self.size, strength=self.strength)

    def reset(self) -> None:
        pass

    def close(self) -> None:
        self._stack.close()

    def __exit__(self, *exc):
        self.close()


class BlendedChain:
    """The student with its flow-guided temporal blend (:class:`hallucinator.student.temporal.TemporalBlend`)."""

    def __init__(self, engine: StudentEngine):
        from ..student.temporal import TemporalBlend

        self.engine = engine
        self.blend = TemporalBlend(engine.temporal)

    def reset(self) -> None:
        self.blend.reset()

    def dream(self, frame: np.ndarray) -> np.ndarray:
        e = self.engine
        return self.blend.dream(e.student, frame, size=e.size, strength=e.strength)


class GradientEngine(contextlib.AbstractContextManager):
    """The engine, warm-started along the flow frame to frame, at a reduced schedule."""

    name = "gradient"

    def __init__(self, opts: LiveOptions, cfg=None, blend=None):
        from ..config import DreamConfig
        from ..engine import resolve_device
        from ..video.chain import ChainDreamer, Engines
        from ..video.figures import Timer
        from ..video.options import BlendParams, VideoOptions

        device = resolve_device(opts.device)
        self.cfg = (cfg or DreamConfig().replace(**GRADIENT_LIVE_SCHEDULE)).replace(device=str(device)).validate()
        self.blend = blend or BlendParams()
        self.size: Tuple[int, int] = tuple(opts.size or GRADIENT_LIVE_SIZE)
        if abs(self.size[0] - 2 * self.size[1]) > 1:
            raise UserError(f"--live-size {self.size[0]}x{self.size[1]} is not 2:1; the gradient engine dreams "
                            f"equirectangular frames, e.g. {2 * self.size[1]}x{self.size[1]}")
        self.timer = Timer()
        self.engines = Engines(self.cfg, self.blend, self.timer)
        # the video pipeline's carry and warm dream (no cache: live frames are not kept)
        self.chainer = ChainDreamer(self.cfg, VideoOptions(blend=self.blend), None, None, self.engines, self.timer)
        self.engines.warm   # load the backbone now, not on the first frame
        self.providers = (f"torch:{device}",)

    def describe(self) -> str:
        c = self.cfg
        return (f"engine gradient ({c.model} {','.join(c.layers)}, {c.octaves} octaves, {c.iterations} iterations "
                f"cold, {self.blend.warm_iters(c.iterations)} warm), providers {', '.join(self.providers)}, "
                f"live size {self.size[0]}x{self.size[1]}")

    def chain(self) -> "WarmChain":
        return WarmChain(self)

    def close(self) -> None:
        self.engines = None

    def __exit__(self, *exc):
        self.close()


class WarmChain:
    """One eye's previous frame and dream for :class:`GradientEngine`."""

    def __init__(self, engine: GradientEngine):
        from ..video.chain import EyeChain

        self.engine = engine
        self._new = lambda: EyeChain(eye=0, follows_alone=False)
        self.state = self._new()
        self.index = 0

    def reset(self) -> None:
        self.state = self._new()

    def dream(self, frame: np.ndarray) -> np.ndarray:
        from ..video import flow as flowmod
        from ..video import polar_carry
        from ..video.figures import residual

        e, chain = self.engine, self.state
        w, h = e.size
        small = np.ascontiguousarray(resize.shrink(frame, w, h))
        detail = None
        if chain.src is not None:
            fwd, bwd = flowmod.flow_pair(chain.src, small, e.blend.flow)
            occ = flowmod.occlusion_mask(fwd, bwd)
            motion = polar_carry.sphere_motion(e.cfg, e.blend, chain.src, small, occ, bwd)
            if motion.fraction <= e.blend.reset_fraction:
                detail = e.chainer.carried(chain, motion, fwd, bwd)
        dream, _ = e.chainer.dream(small, None, int(e.cfg.seed) + self.index, detail,
                                   None if detail is None else chain.ref_strength)
        if detail is None:
            chain.ref_strength = float(np.abs(residual(dream, small)).mean())
        chain.src, chain.dream = small, dream
        self.index += 1
        return enlarge_residual(frame, small, dream)


def open_engine(opts: LiveOptions):
    """The engine ``opts`` names, opened (a context manager)."""
    if opts.engine == "gradient":
        return GradientEngine(opts)
    return StudentEngine(opts)
