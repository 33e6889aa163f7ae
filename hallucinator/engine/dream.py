"""The octave loop: a loaded backbone and objective that dream whole images with one configuration.

How a 360° panorama is dreamed (``flat=False``):

* Each octave's width is a multiple of twice the network's total stride at the
  dreamed layer, and every convolution pads by wrapping in longitude, so the
  network sees across the ±180° column exactly as anywhere else; resampling
  between octaves wraps too (:func:`sphere.resize_equirect`), and the detail
  is enlarged by periodic interpolation (:func:`sphere.upsample_equirect`).
* Each octave starts from the detail dreamed so far (and, for a video, the
  band of a carried residual this octave resolves) and takes ``iterations``
  gradient steps of ``step_size / 255`` along the direction that
  :class:`passes.Passes` gives.
* The result's identity for caches and sidecars is :attr:`Dreamer.identity` (:mod:`.identity`).
"""
from __future__ import annotations

from typing import Callable, List, Optional, Sequence, Tuple

import torch

from .. import sphere
from ..config import DreamConfig
from ..errors import UserError
from ..models import Backbone, load_backbone
from .device import autocast_dtype, resolve_device
from .identity import EngineIdentity, identify, octave_align
from .objectives import Objective
from .passes import Passes
from .reference import resize_flat
from .tiles import AUTO_TILE_PIXELS, TiledGradient
from .timing import PartTimer

ProgressFn = Callable[[int, int, int, int], None]  # (octave, n_octaves, iteration, n_iterations)


class Dreamer:
    """A loaded backbone and objective that dreams images with one configuration.

    >>> d = Dreamer(DreamConfig())                     # doctest: +SKIP
    >>> out = d.dream(src)                              # (1, 3, H, W) float in [0, 1]
    """

    def __init__(self, cfg: DreamConfig, net: Optional[Backbone] = None):
        self.cfg = cfg.validate()
        self.device = resolve_device(cfg.device)
        self.net = (net or load_backbone(cfg.model, weights=cfg.weights)).to(self.device)
        self.net.check_layers(cfg.layers)
        self.objective = Objective(cfg, self.net, self.device)
        self.stride = max(self.net.stride(l) for l in self.objective.layers)
        max_px = cfg.tile_max_pixels or AUTO_TILE_PIXELS["cuda" if self.device.type == "cuda" else "cpu"]
        # channels-last: the fast layout of the convolutions (measured 1.5-2x per CPU step); weights and input
        self.net.to(memory_format=torch.channels_last)
        self.tiles = TiledGradient(self.net, self.objective, self.stride, max_px, cfg.tile_overlap,
                                   memory_format=torch.channels_last, autocast=autocast_dtype(cfg.precision))
        self.timer = PartTimer(device=self.device)  # off unless a benchmark turns it on
        self.passes = Passes(cfg, self.tiles, self.stride, self.timer)
        self.warnings: List[str] = []

    # -- identity, for caches and sidecars

    @property
    def identity(self) -> EngineIdentity:
        """What names this engine's output (:mod:`.identity`); the same as from its configuration alone."""
        return identify(self.cfg, self.net.weights_sha256, self.stride)

    def fingerprint(self) -> str:
        """Hash of everything that changes the dream's output (not the device)."""
        return self.identity.fingerprint()

    def pyramid_key(self) -> str:
        """Hash of everything that decides the octave pyramid of a source."""
        return self.identity.pyramid_key()

    # -- geometry of the octaves

    @property
    def align(self) -> int:
        """Octave widths are multiples of this: twice the total stride, so W/stride is even (pole padding)."""
        return octave_align(self.cfg, self.stride)

    def octave_sizes(self, height: int, width: int) -> List[Tuple[int, int]]:
        """(h, w) of each octave, smallest first; the last is the working size of the full-resolution pass."""
        cfg, a = self.cfg, self.align
        min_w = max(self.net.spec.min_size, 2 * self.stride) * (1 if cfg.flat else 2)
        sizes = []
        for i in range(cfg.octaves):
            f = cfg.octave_scale ** i
            if cfg.flat:
                h, w = max(int(round(height / f)), 1), max(int(round(width / f)), 1)
            else:
                w = max(int(round(width / f / a)) * a, a)
                h = w // 2
            if min(w, h * (1 if cfg.flat else 2)) < min_w:
                break
            sizes.append((h, w))
        if not sizes:
            raise UserError(f"image is {width}x{height}, too small for {self.cfg.model} at layer "
                            f"{','.join(self.cfg.layers)}; it needs at least {min_w} px on its short side "
                            f"({'wide' if not cfg.flat else 'each way'}): use a larger image")
        if len(sizes) < cfg.octaves:
            msg = (f"image {width}x{height} is too small for {cfg.octaves} octaves at scale {cfg.octave_scale}; "
                   f"dreaming {len(sizes)} octave(s)")
            if msg not in self.warnings:
                self.warnings.append(msg)
        return sizes[::-1]

    def _resize(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        return resize_flat(x, h, w) if self.cfg.flat else sphere.resize_equirect(x, h, w)

    def _enlarge(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        return resize_flat(x, h, w) if self.cfg.flat else sphere.upsample_equirect(x, h, w)

    def pyramid(self, src: torch.Tensor) -> List[torch.Tensor]:
        """Octave bases of ``src`` (1, 3, H, W), smallest first; the last is at the working size."""
        sizes = self.octave_sizes(*src.shape[-2:])
        src = src.to(self.device)
        return [self._resize(src, h, w) for h, w in sizes]

    # -- dreaming

    def dream(self, src: torch.Tensor, pyramid: Optional[List[torch.Tensor]] = None,
              detail: Optional[torch.Tensor] = None, seed: Optional[int] = None,
              progress: Optional[ProgressFn] = None) -> torch.Tensor:
        """Dream ``src`` (1, 3, H, W) in [0, 1]; returns the dream at the same size, in [0, 1].

        ``detail`` (1, 3, H, W) is a residual carried over from an earlier dream
        (a video's previous frame, warped): each octave starts from its band of
        that residual instead of nothing.
        """
        cfg = self.cfg
        if not cfg.flat:
            _check_equirect(src.shape[-2:])
        src = src.to(self.device, torch.float32)
        timer = self.timer
        with timer("octave resize"):
            pyr = [p.to(self.device) for p in (pyramid or self.pyramid(src))]
            carried = ([self._resize(detail.to(self.device), *p.shape[-2:]) for p in pyr]
                       if detail is not None else None)
        gen = torch.Generator().manual_seed(cfg.seed if seed is None else seed)
        d = torch.zeros_like(pyr[0]) if carried is None else carried[0]
        for k, base in enumerate(pyr):
            with timer("octave resize"):
                if k > 0:
                    d = self._enlarge(d, *base.shape[-2:])
                    if carried is not None:  # add the band of the carried residual this octave resolves
                        d = d + carried[k] - self._enlarge(carried[k - 1], *base.shape[-2:])
                img = (base + d).clamp_(0, 1)
            for i in range(cfg.iterations):
                img = self.step(img, gen)
                if progress:
                    progress(k, len(pyr), i + 1, cfg.iterations)
            d = img - base
        with timer("octave resize"):
            out = (pyr[-1] + d).clamp_(0, 1)
            if out.shape[-2:] != src.shape[-2:]:
                out = self._resize(out, *src.shape[-2:])
        return out

    def step(self, img: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """One gradient-ascent step of ``step_size`` (0-255 units) along the normalised direction."""
        g = self.passes.direction(img, gen)
        with self.timer("blend"):
            return (img + (self.cfg.step_size / 255.0) * g).clamp_(0, 1)


def _check_equirect(shape: Sequence[int]) -> None:
    h, w = int(shape[0]), int(shape[1])
    if abs(w - 2 * h) > 1:
        raise UserError(f"input is {w}x{h}, not a 2:1 equirectangular panorama; pass --flat to dream it as an "
                        f"ordinary picture, or resample it to {2 * h}x{h} or {w}x{w // 2}")
