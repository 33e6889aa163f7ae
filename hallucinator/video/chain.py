"""The carry along the flow: each eye's chain of dreamed frames, one frame at a time.

The first frame of a chain is dreamed from scratch ("cold", the full
configuration).  Every later frame starts from the previous dream's
residual ``R = dream - source`` carried into it: warped along the
wrap-aware optical flow where things move (``moving`` of it kept), taken
unwarped where nothing moves (``static`` of it kept, so still areas are not
blurred by resampling), and dropped where the forward–backward check finds
an occlusion.  The engine injects that residual band by band into its octave
loop and dreams ``warm_iterations`` per octave; a final gain keeps the
residual's mean strength at that of the chain's cold frame.  A frame where
most pixels are occluded (a cut) starts a new chain.

Near the poles the equirectangular flow is stretched over whole rows, so the
caps are carried as the engine dreams them: flow, occlusion check and warp
in the polar views, blended in over the engine's latitudes
(:mod:`.polar_carry`); the occlusion that decides a cut is the blended one.

:class:`EyeChain` is one eye's state; :class:`ChainDreamer` advances it by
one frame, taking pyramids, flows and dreamed frames from the cache when
they are there.  Everything downstream of a dreamed frame uses its 8-bit form
(as cached), so a resumed run gives the same bytes as an uninterrupted one.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import numpy as np

from . import flow as flowmod
from . import polar_carry
from .cache import Cache, CacheKeys
from .figures import FrameFigures, Timer, frame_figures, residual
from .options import BlendParams, VideoOptions


class Engines:
    """The dream engines of a run, loaded on first use: ``cold`` (the configuration) and ``warm`` (carried frames).

    Their identities (for cache keys and sidecars) are known before either is loaded, so a process that only
    names the cache (a scaled-out run's driver) never loads a model.
    """

    def __init__(self, cfg, blend: BlendParams, timer: Timer, dreamer=None):
        self.cfg, self.blend, self.timer = cfg, blend, timer
        self._cold = dreamer
        self._warm = None
        self._identity = None

    @property
    def cold(self):
        if self._cold is None:
            from ..engine import Dreamer

            t0 = time.perf_counter()
            self._cold = Dreamer(self.cfg)
            self.timer.add("load_model", time.perf_counter() - t0)
        return self._cold

    @property
    def warm(self):
        """The same engine with ``blend.warm_iters`` iterations per octave (the same one when equal)."""
        if self._warm is None:
            from ..engine import Dreamer

            n = self.blend.warm_iters(self.cfg.iterations)
            self._warm = self.cold if n == self.cfg.iterations else \
                Dreamer(self.cfg.replace(iterations=n), net=self.cold.net)
        return self._warm

    @property
    def identity(self):
        """The cold engine's :class:`~hallucinator.engine.identity.EngineIdentity`, loaded or not."""
        if self._cold is not None:
            return self._cold.identity
        if self._identity is None:
            from ..engine.identity import engine_identity

            self._identity = engine_identity(self.cfg) or self.cold.identity
        return self._identity

    @property
    def warm_identity(self):
        """The warm engine's identity: the cold one's with ``blend.warm_iters`` iterations per octave."""
        return self.identity.with_iterations(self.blend.warm_iters(self.cfg.iterations))


@dataclass
class EyeChain:
    """One eye's state along the clip: what the next frame is carried from, and what was measured."""

    eye: int
    src: Optional[np.ndarray] = None           # previous working source frame
    dream: Optional[np.ndarray] = None         # previous dream, 8-bit as cached
    ref_strength: Optional[float] = None       # the chain's cold frame's strength
    figures: List[FrameFigures] = field(default_factory=list)
    follows_alone: bool = True                 # the cache holds every frame so far dreamed with --independent
    alone: Optional[np.ndarray] = None         # previous --independent dream
    alone_figures: List[FrameFigures] = field(default_factory=list)


def carry(blend: BlendParams, prev_res: np.ndarray, fwd: np.ndarray, bwd: np.ndarray,
          occ: np.ndarray) -> np.ndarray:
    """The residual carried into the next frame (H, W, 3) float32."""
    # whether to warp is a question in pixels: near the poles a small angular motion is many pixels
    moving = flowmod.motion_mask(bwd, blend.motion_threshold, normalise=blend.motion_normalised, spherical=False)
    warped = flowmod.warp(prev_res, bwd, flowmod.INTERPOLATION[blend.interpolation])
    if blend.occlusion:
        warped = warped * (~occ)[..., None]
    m = moving[..., None]
    return (blend.moving * m * warped + blend.static * (1.0 - m) * prev_res).astype(np.float32)


class ChainDreamer:
    """Advances eye chains frame by frame, through the cache."""

    def __init__(self, cfg, opts: VideoOptions, cache: Cache, keys: CacheKeys, engines: Engines, timer: Timer):
        self.cfg, self.opts, self.cache, self.keys = cfg, opts, cache, keys
        self.engines, self.timer = engines, timer

    def chains(self, eyes: int) -> List[EyeChain]:
        return [EyeChain(eye=e, follows_alone=not self.opts.independent) for e in range(eyes)]

    def pyramid(self, eye: int, index: int, src_u8: np.ndarray):
        """Octave bases of a working frame, smallest first, as the engine takes them.

        Cached as 8-bit levels (the source is 8-bit); the run always uses the 8-bit form, cached or not,
        so both give the same bytes.
        """
        import torch

        from ..sphere import to_tensor

        path = self.cache.path(self.keys.pyramid, f"eye{eye}", f"{index:06d}.npz")
        levels = self.cache.load_levels(path)
        if levels is None:
            t0 = time.perf_counter()
            levels = [np.ascontiguousarray(p.detach().cpu()[0].permute(1, 2, 0).mul(255.0).round_().clamp_(0, 255)
                                           .to(torch.uint8).numpy())
                      for p in self.engines.cold.pyramid(to_tensor(src_u8))]
            self.cache.save_levels(path, levels)
            self.timer.add("pyramid", time.perf_counter() - t0)
        return [torch.from_numpy(a).permute(2, 0, 1)[None].float().div_(255.0) for a in levels]

    def flows(self, eye: int, index: int, prev_u8: np.ndarray, cur_u8: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """(forward prev->cur, backward cur->prev) for frame ``index``, float16-rounded as cached."""
        return self._cached_flows(self.cache.path(self.keys.flow, f"eye{eye}", f"{index:06d}.npz"), cur_u8.shape,
                                  lambda: flowmod.flow_pair(prev_u8, cur_u8, self.opts.blend.flow))

    def motion(self, eye: int, index: int, prev_u8: np.ndarray, cur_u8: np.ndarray, caps: bool = True):
        """(forward, backward, occlusion, sphere motion) from the previous frame to frame ``index``.

        The occlusion is the forward–backward check alone (what the figures count as visible). The sphere
        motion (that check confirmed by grey levels, the caps' in their views blended in) is what the carry
        drops and decides whether the chain starts afresh (:meth:`BlendParams.is_cut`); None when ``caps``
        is False (independent frames).
        """
        fwd, bwd = self.flows(eye, index, prev_u8, cur_u8)
        occ = flowmod.occlusion_mask(fwd, bwd)
        if not caps:
            return fwd, bwd, occ, None
        t0, flow0 = time.perf_counter(), self.timer.t.get("flow", 0.0)
        motion = polar_carry.sphere_motion(self.cfg, self.opts.blend, prev_u8, cur_u8, occ, bwd, flows=lambda cap: (
            self.cap_flows(cap, eye, index, prev_u8, cur_u8)))
        # the caps' flows count as flow when computed (not when cached); the rest is the carry's
        self.timer.add("carry", time.perf_counter() - t0 - (self.timer.t.get("flow", 0.0) - flow0))
        return fwd, bwd, occ, motion

    def cap_flows(self, cap: "polar_carry.Cap", eye: int, index: int, prev_u8: np.ndarray,
                  cur_u8: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """A polar cap's (forward, backward) flows in its view for frame ``index``, float16-rounded as cached."""
        path = self.cache.path(self.keys.flow, f"eye{eye}", f"{index:06d}-cap{cap.pitch:+.0f}-fov{cap.fov:g}.npz")
        return self._cached_flows(path, (cap.size, cap.size),
                                  lambda: polar_carry.cap_flows(cap, prev_u8, cur_u8, self.opts.blend.flow))

    def _cached_flows(self, path, shape, compute) -> Tuple[np.ndarray, np.ndarray]:
        """The flows at ``path`` in the cache, else ``compute()``d, saved and counted as flow time; either way
        rounded through float16 as the cache holds them, so a resumed run gives the same bytes."""
        cached = self.cache.load_flows(path, shape)
        if cached is not None:
            return cached
        t0 = time.perf_counter()
        fwd, bwd = compute()
        self.cache.save_flows(path, fwd, bwd)
        self.timer.add("flow", time.perf_counter() - t0)
        return fwd.astype(np.float16).astype(np.float32), bwd.astype(np.float16).astype(np.float32)

    def dream(self, src_u8, pyr, seed: int, detail: Optional[np.ndarray], ref_strength: Optional[float]):
        """(dream uint8, gain applied): cold when ``detail`` is None, else warm from the carried residual."""
        import torch

        from ..sphere import to_tensor, to_uint8

        src = to_tensor(src_u8)
        t0 = time.perf_counter()
        if detail is None:
            out = self.engines.cold.dream(src, pyramid=pyr, seed=seed)
        else:
            det = torch.from_numpy(detail).permute(2, 0, 1)[None].contiguous()
            out = self.engines.warm.dream(src, pyramid=pyr, detail=det, seed=seed)
        gain = 1.0
        if detail is not None and ref_strength and self.opts.blend.normalise_strength:
            res = out - src
            s = float(res.abs().mean())
            if s > 1e-6:
                gain = float(np.clip(ref_strength / s, 0.5, 2.0))
                out = (src + res * gain).clamp_(0, 1)
        self.timer.add("dream", time.perf_counter() - t0)
        return to_uint8(out), gain

    def step(self, chain: EyeChain, index: int, src: np.ndarray) -> Tuple[np.ndarray, bool]:
        """Dream (or take from the cache) frame ``index`` of ``chain``; returns (dream uint8, from the cache)."""
        blend = self.opts.blend
        fwd = bwd = occ = motion = None
        if chain.src is not None:
            fwd, bwd, occ, motion = self.motion(chain.eye, index, chain.src, src, caps=not self.opts.independent)
        cold = motion is None or blend.is_cut(motion.fraction)
        path = self.cache.path(self.keys.frames, f"eye{chain.eye}", f"{index:06d}.png")
        dream = self.cache.load_png(path, src.shape)
        from_cache = dream is not None
        gain = 1.0
        if dream is None:
            pyr = self.pyramid(chain.eye, index, src)
            detail = None if cold else self.carried(chain, motion, fwd, bwd)
            dream, gain = self.dream(src, pyr, int(self.cfg.seed) + index, detail,
                                     None if cold else chain.ref_strength)
            self.cache.save_png(path, dream)
        fig = frame_figures(index, dream, src, chain.src, chain.dream, bwd, occ, cold=cold, gain=gain)
        chain.figures.append(fig)
        self._follow_alone(chain, index, src, bwd, occ)
        if cold:
            chain.ref_strength = fig.strength
        chain.src, chain.dream = src, dream
        return dream, from_cache

    def carried(self, chain: EyeChain, motion: "polar_carry.SphereMotion", fwd, bwd) -> np.ndarray:
        """The residual carried into the next frame: along the equirectangular flow, and near the poles along
        the polar views' (blended over the engine's latitudes)."""
        prev_res = residual(chain.dream, chain.src)
        return polar_carry.sphere_carry(motion, prev_res, carry(self.opts.blend, prev_res, fwd, bwd, motion.equirect),
                                        self.opts.blend)

    def _follow_alone(self, chain: EyeChain, index: int, src: np.ndarray, bwd, occ) -> None:
        """Figures of the same frame dreamed with --independent, while the cache has every one of them."""
        if not chain.follows_alone:
            return
        alone = self.cache.load_png(self.cache.path(self.keys.independent_frames, f"eye{chain.eye}",
                                                    f"{index:06d}.png"), src.shape)
        if alone is None:
            chain.follows_alone = False
            return
        chain.alone_figures.append(frame_figures(index, alone, src, chain.src, chain.alone, bwd, occ, cold=True))
        chain.alone = alone
