"""The dream engine: gradient ascent on a frozen CNN's layer, octave by octave, correct on the sphere.

How a 360° panorama is dreamed (``flat=False``, ``poles="faces"``):

* Each octave's width is a multiple of twice the network's total stride at the
  dreamed layer, and every convolution pads by wrapping in longitude, so the
  network sees across the ±180° column exactly as anywhere else; resampling
  between octaves wraps too (:func:`sphere.resize_equirect`).
* Each gradient step has two parts.  A *band* pass runs the network on the
  rows within ``pole_blend[1] + 8°`` of the equator (jittered by a random roll
  in longitude and a random shift in latitude).  Two *polar* passes render
  ``pole_fov``-wide pinhole views straight up and down (turned to a random
  yaw), where the sky and ground are undistorted, and their gradients are
  resampled back onto the panorama.  The two are blended by latitude over
  ``pole_blend`` (degrees), so patterns near the poles are dreamed as they will
  be seen, not pinched into radial streaks.
* The objective is a sum over positions, so a pixel's gradient does not
  depend on how large the pass was: band, faces and tiles are on one scale.
  The blended gradient is divided by its area-weighted mean absolute value
  (the google/deepdream step rule) and added with the step size.
* A pass larger than ``tile_max_pixels`` is split into overlapping tiles whose
  gradients are feathered together.

``flat=True`` dreams an ordinary picture (zero padding, jitter by shifting a
reflect-padded copy).  :func:`reference_dream` is the plain textbook algorithm,
kept for comparison (``hallucinator bench dream``) and for tests.
"""
from __future__ import annotations

import hashlib
import json
import math
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from .. import sphere
from ..models.backbones import Backbone, load_backbone
from ..config import DreamConfig
from ..errors import UserError

ProgressFn = Callable[[int, int, int, int], None]  # (octave, n_octaves, iteration, n_iterations)

BAND_MARGIN_DEG = 8.0
AUTO_TILE_PIXELS = {"cpu": 4_000_000, "cuda": 16_000_000}


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for but no CUDA GPU is available; use --device cpu or auto")
    if name not in ("cpu",) and not name.startswith("cuda"):
        raise UserError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N")
    return torch.device(name)


# ----------------------------------------------------------------------------
# objectives


class Objective:
    """Turns the named activations into a scalar to maximise (a sum over positions)."""

    def __init__(self, cfg: DreamConfig, net: Backbone, device: torch.device):
        self.kind = cfg.objective
        self.layers = list(cfg.layers)
        self.channels = list(cfg.channels)
        self.class_index = cfg.class_index
        self.guide_features: Dict[str, torch.Tensor] = {}
        if self.kind == "class":
            if "logits" not in net.layer_names():
                raise UserError(f"{net.name} has no class logits here; use another objective or model")
            if not 0 <= int(self.class_index) < 1000:
                raise UserError("--class-index must be an ImageNet class number, 0-999")
            self.layers = ["logits"]
        if self.kind == "guide":
            from ..io.images import read_image

            guide = sphere.to_tensor(read_image(cfg.guide)).to(device)
            scale = 224 / min(guide.shape[-2:])
            guide = F.interpolate(guide, scale_factor=scale, mode="bilinear", antialias=True, align_corners=False)
            net.set_padding("zeros")
            with torch.no_grad():
                acts = net(guide, self.layers)
            self.guide_features = {k: v[0].flatten(1) for k, v in acts.items()}  # (C, M)

    def __call__(self, acts: Dict[str, torch.Tensor]) -> torch.Tensor:
        total = 0.0
        for name, a in acts.items():
            if self.kind == "l2":
                total = total + a.pow(2).sum() / a.shape[1]
            elif self.kind == "channels":
                idx = [c for c in self.channels if c < a.shape[1]]
                if len(idx) != len(self.channels):
                    raise UserError(f"layer {name} has {a.shape[1]} channels; --channels must be below that")
                total = total + a[:, idx].pow(2).sum() / len(idx)
            elif self.kind == "class":
                total = total + a[:, int(self.class_index)].sum()
            else:  # guide: pull each position towards its best-matching guide feature
                g = self.guide_features[name]
                x = a[0].flatten(1)
                best = (x.t() @ g).argmax(dim=1)
                total = total + (x * g[:, best].detach()).sum() / a.shape[1]
        return total


# ----------------------------------------------------------------------------
# gradient passes


def _feather(n: int, ramp: int, at_start: bool, at_end: bool) -> torch.Tensor:
    w = torch.ones(n)
    if ramp > 0:
        r = torch.linspace(0, 1, ramp + 2)[1:-1]
        if at_start:
            w[:ramp] = r
        if at_end:
            w[n - ramp:] = r.flip(0)
    return w


def _tile_cores(size: int, tile: int, step: int, align: int) -> List[Tuple[int, int]]:
    """(start, stop) of the cores of overlapping tiles along one axis; starts aligned, the last reaches the end."""
    if size <= tile:
        return [(0, size)]
    starts = sorted({(v // align) * align for v in list(range(0, size - tile, step)) + [size - tile]})
    return [(a, size if i == len(starts) - 1 else a + tile) for i, a in enumerate(starts)]


class Engine:
    """Gradient of an objective with respect to an image, in whole passes or overlapping tiles."""

    def __init__(self, net: Backbone, objective: Objective, stride: int, max_pixels: int, overlap: int):
        self.net, self.objective, self.stride = net, objective, stride
        self.max_pixels, self.overlap = max_pixels, overlap

    def tile_overlap(self) -> int:
        """Margin of each tile, in pixels: the configured one, or the layer's receptive radius (0 = automatic).

        With a margin at least the receptive radius (the farthest input pixel
        that moves the centre activation), a tile's core gets exactly the
        gradient of the whole pass.
        """
        s = self.stride
        if self.overlap > 0:
            return max(-(-self.overlap // s) * s, s)
        if not hasattr(self, "_radius"):
            n = 512
            x = torch.rand(1, 3, n, n, generator=torch.Generator().manual_seed(0))
            x = x.to(next(self.net.buffers()).device).requires_grad_(True)
            self.net.set_padding("zeros")
            a = self.net(x, self.objective.layers)
            c = min(v.shape[-1] for v in a.values()) // 2
            total = sum(v[..., c, c].pow(2).sum() for v in a.values())
            (g,) = torch.autograd.grad(total, x)
            ys, xs = torch.nonzero(g.abs().sum(dim=(0, 1)) > 0, as_tuple=True)
            centre = c * s + s // 2
            radius = int(max((ys - centre).abs().max(), (xs - centre).abs().max())) + s
            self._radius = max(-(-radius // s) * s, 64)
        return self._radius

    def grad(self, x: torch.Tensor, mode: str) -> torch.Tensor:
        """d objective / d x for x (1, 3, h, w), with the network padded in ``mode``."""
        self.net.set_padding(mode)
        h, w = x.shape[-2:]
        if h * w <= self.max_pixels:
            return self._grad_whole(x)
        return self._grad_tiled(x, mode)

    def _grad_whole(self, x: torch.Tensor) -> torch.Tensor:
        x = x.detach().requires_grad_(True)
        loss = self.objective(self.net(x, self.objective.layers))
        (g,) = torch.autograd.grad(loss, x)
        return g

    def _grad_tiled(self, x: torch.Tensor, mode: str) -> torch.Tensor:
        """Overlapping tiles, each seeing a margin of real neighbours, feathered together.

        Where a tile meets the image's own edge it is padded per layer exactly
        as the whole pass would be (zeros, mirrored rows, or over the pole),
        so only the borders between tiles differ, and those lie in margins.
        Across ±180° (``wrap``/``sphere`` when the width is tiled) the margin is
        taken from the other side of the seam, so the tiles of a panorama wrap.
        """
        h, w = x.shape[-2:]
        s, ov = self.stride, self.tile_overlap()
        side = max(int(math.sqrt(self.max_pixels)) // s * s - 2 * ov, 2 * ov, 4 * s)
        split_w = w > side
        # margins taken at the input: across the seam, and (whole sphere, split in width) over the poles
        px = ov if split_w and mode in ("wrap", "sphere") else 0
        py = ov if split_w and mode == "sphere" else 0
        src = sphere.pad_sphere(x, px, px, py, py, vertical="pole") if (px or py) else x
        # inside a tile the layers pad as the whole pass does; a tile split from a whole sphere has its pole margin
        self.net.set_padding("wrap" if (mode == "sphere" and split_w) else mode)
        out = torch.zeros_like(x)
        weight = torch.zeros(1, 1, h, w, dtype=x.dtype, device=x.device)
        for y0, y1 in _tile_cores(h, side, side - ov, s):
            ty0, ty1 = (y0 - ov, y1 + ov) if py else (max(y0 - ov, 0), min(y1 + ov, h))
            for x0, x1 in _tile_cores(w, side, side - ov, s):
                tx0, tx1 = (x0 - ov, x1 + ov) if px else (max(x0 - ov, 0), min(x1 + ov, w))
                tile = src[..., ty0 + py:ty1 + py, tx0 + px:tx1 + px]
                g = self._grad_whole(tile)[..., y0 - ty0:y1 - ty0, x0 - tx0:x1 - tx0]
                f = (_feather(y1 - y0, ov, y0 > 0, y1 < h)[:, None]
                     * _feather(x1 - x0, ov, x0 > 0, x1 < w)[None, :]).to(x)
                out[..., y0:y1, x0:x1] += g * f
                weight[..., y0:y1, x0:x1] += f
        return out / weight.clamp_min(1e-8)


def view_to_panorama_grid(size: int, fov: float, pitch: float, width: int, height: int, rows: slice,
                          device) -> Tuple[torch.Tensor, torch.Tensor]:
    """grid_sample grid that takes a square view (yaw 0, ``pitch``) onto panorama rows ``rows``, and the mask of
    the panorama pixels the view covers."""
    uu, vv = np.meshgrid(np.arange(width), np.arange(rows.start, rows.stop))
    lon, lat = sphere.lonlat_from_pixel(uu, vv, width, height)
    x, y, front = sphere.project_to_view(sphere.dir_from_lonlat(lon, lat), size, size, fov, 0.0, pitch, 0.0)
    gx = (x + 0.5) / size * 2 - 1
    gy = (y + 0.5) / size * 2 - 1
    inside = front & (np.abs(gx) <= 1) & (np.abs(gy) <= 1)
    grid = np.stack([np.nan_to_num(gx, nan=2.0), np.nan_to_num(gy, nan=2.0)], axis=-1)
    return (torch.from_numpy(grid).float()[None].to(device),
            torch.from_numpy(inside.astype(np.float32))[None, None].to(device))


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
        self.engine = Engine(self.net, self.objective, self.stride, max_px, cfg.tile_overlap)
        self.warnings: List[str] = []

    # -- identity, for caches and sidecars

    def fingerprint(self) -> str:
        """Hash of everything that changes the dream's output (not the device)."""
        d = self.cfg.to_dict()
        d.pop("device", None)
        d["weights_sha256"] = self.net.weights_sha256
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    def pyramid_key(self) -> str:
        d = {k: getattr(self.cfg, k) for k in ("octaves", "octave_scale", "flat")}
        d["align"] = self.align
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    # -- geometry of the octaves

    @property
    def align(self) -> int:
        """Octave widths are multiples of this: twice the total stride, so W/stride is even (pole padding)."""
        return 1 if self.cfg.flat else 2 * self.stride

    def octave_sizes(self, height: int, width: int) -> List[Tuple[int, int]]:
        """(h, w) of each octave, smallest first; the last is the working size of the full-resolution pass."""
        cfg, a = self.cfg, self.align
        min_w = max(self.net.card.min_size, 2 * self.stride) * (1 if cfg.flat else 2)
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
            need = min_w if cfg.flat else min_w
            raise UserError(f"image is {width}x{height}, too small for {self.cfg.model} at layer "
                            f"{','.join(self.cfg.layers)}; it needs at least {need} px on its short side "
                            f"({'wide' if not cfg.flat else 'each way'}): use a larger image")
        if len(sizes) < cfg.octaves:
            msg = (f"image {width}x{height} is too small for {cfg.octaves} octaves at scale {cfg.octave_scale}; "
                   f"dreaming {len(sizes)} octave(s)")
            if msg not in self.warnings:
                self.warnings.append(msg)
        return sizes[::-1]

    def pyramid(self, src: torch.Tensor) -> List[torch.Tensor]:
        """Octave bases of ``src`` (1, 3, H, W), smallest first; the last is at the working size."""
        sizes = self.octave_sizes(*src.shape[-2:])
        resize = _resize_flat if self.cfg.flat else sphere.resize_equirect
        src = src.to(self.device)
        return [resize(src, h, w) for h, w in sizes]

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
        pyr = [p.to(self.device) for p in (pyramid or self.pyramid(src))]
        resize = _resize_flat if cfg.flat else sphere.resize_equirect
        gen = torch.Generator().manual_seed(cfg.seed if seed is None else seed)
        carried = [resize(detail.to(self.device), *p.shape[-2:]) for p in pyr] if detail is not None else None
        d = torch.zeros_like(pyr[0]) if carried is None else carried[0]
        enlarge = _resize_flat if cfg.flat else sphere.upsample_equirect
        for k, base in enumerate(pyr):
            if k > 0:
                d = enlarge(d, *base.shape[-2:])
                if carried is not None:  # add the band of the carried residual this octave resolves
                    d = d + carried[k] - enlarge(carried[k - 1], *base.shape[-2:])
            img = (base + d).clamp_(0, 1)
            for i in range(cfg.iterations):
                img = self.step(img, gen)
                if progress:
                    progress(k, len(pyr), i + 1, cfg.iterations)
            d = img - base
        out = (pyr[-1] + d).clamp_(0, 1)
        if out.shape[-2:] != src.shape[-2:]:
            out = resize(out, *src.shape[-2:])
        return out

    def step(self, img: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        g = self.gradient(img, gen)
        return (img + (self.cfg.step_size / 255.0) * g).clamp_(0, 1)

    def gradient(self, img: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """The normalised ascent direction for ``img`` (mean absolute value 1, area-weighted on the sphere)."""
        cfg = self.cfg
        if cfg.flat:
            g = self._flat_grad(img, gen)
            return g / g.abs().mean().clamp_min(1e-12)
        if cfg.poles == "none":
            g = self._sphere_grad(img, gen)
        else:
            g = self._band_and_faces_grad(img, gen)
        area = torch.from_numpy(np.cos(sphere.latitude_of_rows(img.shape[-2]))).to(img)[:, None]
        return g / ((g.abs().mean(dim=(0, 1)) * area).sum() / (area.sum() * img.shape[-1])).clamp_min(1e-12)

    def _jitter(self, gen: torch.Generator, limit: int) -> int:
        return int(torch.randint(-limit, limit + 1, (1,), generator=gen)) if limit > 0 else 0

    def _flat_grad(self, img, gen):
        j = self.cfg.jitter
        ox, oy = self._jitter(gen, j), self._jitter(gen, j)
        h, w = img.shape[-2:]
        p = min(j, h - 1, w - 1)
        padded = F.pad(img, (p, p, p, p), mode="reflect") if p > 0 else img
        ox, oy = max(-p, min(p, ox)), max(-p, min(p, oy))
        crop = padded[..., p + oy:p + oy + h, p + ox:p + ox + w]
        g = self.engine.grad(crop, "zeros")
        out = torch.zeros_like(padded)
        out[..., p + oy:p + oy + h, p + ox:p + ox + w] = g
        return out[..., p:p + h, p:p + w]

    def _sphere_grad(self, img, gen):
        ox = self._jitter(gen, self.cfg.jitter)
        g = self.engine.grad(sphere.roll_lon(img, ox), "sphere")
        return sphere.roll_lon(g, -ox)

    def _band_grad(self, img: torch.Tensor, gen: torch.Generator, lat_max: float) -> torch.Tensor:
        """Gradient from the band |lat| <= lat_max, dreamed in Mercator projection.

        Mercator is conformal: a pattern dreamed there is isotropic on the
        sphere at every latitude (only its size shrinks as cos(lat)), so the
        band's edge near the polar views is not streaked.  Columns are the
        panorama's own, so longitude still wraps exactly; only rows are
        resampled (linearly), going in and coming back.
        """
        h, w = img.shape[-2:]
        s = self.stride
        step = math.pi / h                                   # Mercator row spacing = equator row spacing
        y_max = math.log(math.tan(math.pi / 4 + math.radians(lat_max) / 2))
        rows = max(int(math.ceil(2 * y_max / step / s)) * s, s)
        oy = self._jitter(gen, self.cfg.jitter // 2) * step
        y = (rows / 2 - (torch.arange(rows, dtype=torch.float64) + 0.5)) * step + oy
        lat = 2 * torch.atan(torch.exp(y)) - math.pi / 2
        v = ((math.pi / 2 - lat) / math.pi * h - 0.5).clamp(0, h - 1)
        v0 = v.floor().long().clamp(max=h - 2)
        f = (v - v0).to(img)[:, None]
        merc = img[..., v0, :] * (1 - f) + img[..., v0 + 1, :] * f
        ox = self._jitter(gen, self.cfg.jitter)
        g_merc = sphere.roll_lon(self.engine.grad(sphere.roll_lon(merc, ox), "wrap"), -ox)
        # back: each panorama row inside the band takes the gradient at its Mercator position
        lat_rows = torch.from_numpy(sphere.latitude_of_rows(h))
        inside = lat_rows.abs() < lat[0].abs().clamp(max=lat[-1].abs())
        jpos = (rows / 2 - (torch.log(torch.tan(math.pi / 4 + lat_rows / 2)) - oy) / step - 0.5).clamp(0, rows - 1)
        j0 = jpos.floor().long().clamp(max=rows - 2)
        fj = (jpos - j0).to(img)[:, None]
        back = g_merc[..., j0, :] * (1 - fj) + g_merc[..., j0 + 1, :] * fj
        return back * inside.to(img)[:, None]

    def _band_and_faces_grad(self, img, gen):
        cfg = self.cfg
        h, w = img.shape[-2:]
        lat = np.degrees(sphere.latitude_of_rows(h))
        lo, hi = cfg.pole_blend
        t = np.clip((np.abs(lat) - lo) / max(hi - lo, 1e-6), 0, 1)
        w_face = t * t * (3 - 2 * t)  # smoothstep
        w_band = torch.from_numpy(1 - w_face).to(img)[:, None]
        g = self._band_grad(img, gen, hi + BAND_MARGIN_DEG) * w_band

        # the polar caps, dreamed in undistorted views and resampled back; a random yaw is a roll in
        # longitude by whole columns, so the sampling grids are computed once per size
        cap = np.nonzero(w_face > 0)[0]
        faces = [(p, rows) for p, rows in ((90.0, cap[cap < h // 2]), (-90.0, cap[cap >= h // 2])) if len(rows)]
        if not faces:
            return g
        k = int(torch.randint(0, w, (1,), generator=gen))
        turned = sphere.roll_lon(img, -k)
        grids = [self._pole_grids(h, w, pitch, int(rows[0]), int(rows[-1]) + 1, img.device) for pitch, rows in faces]
        views = torch.cat([sphere.sample_equirect(turned, view_grid) for view_grid, _, _, _ in grids])
        g_faces = self.engine.grad(views, "zeros")
        g_turned = torch.zeros_like(img)
        for i, (_, back_grid, inside, r) in enumerate(grids):
            back = F.grid_sample(g_faces[i:i + 1], back_grid, mode="bilinear", padding_mode="zeros",
                                 align_corners=False)
            g_turned[..., r, :] += back * inside * torch.from_numpy(w_face[r]).to(img)[:, None]
        return g + sphere.roll_lon(g_turned, k)

    def _pole_grids(self, h: int, w: int, pitch: float, r0: int, r1: int, device):
        """Sampling grids of a polar view at yaw 0: panorama -> view, and view -> panorama rows r0:r1."""
        key = (h, w, pitch, r0, r1, str(device))
        cache = self.__dict__.setdefault("_grid_cache", {})
        if key not in cache:
            size = self.face_size(w)
            fov = self.cfg.pole_fov
            lon, lat = sphere.lonlat_from_dir(sphere.perspective_rays(size, size, fov, 0.0, pitch, 0.0))
            view_grid = sphere.equirect_grid(lon, lat, w, h).to(device)
            back_grid, inside = view_to_panorama_grid(size, fov, pitch, w, h, slice(r0, r1), device)
            cache[key] = (view_grid, back_grid, inside, slice(r0, r1))
        return cache[key]

    def face_size(self, width: int) -> int:
        """Side of a polar view whose centre has the panorama's pixel density at the equator."""
        f = width / (2 * math.pi)
        side = 2 * f * math.tan(math.radians(self.cfg.pole_fov) / 2)
        s = self.stride
        return max(int(round(side / s)) * s, 2 * s)


def _resize_flat(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    if x.shape[-2:] == (h, w):
        return x
    return F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False,
                         antialias=(h < x.shape[-2] or w < x.shape[-1]))


def _check_equirect(shape: Sequence[int]) -> None:
    h, w = int(shape[0]), int(shape[1])
    if abs(w - 2 * h) > 1:
        raise UserError(f"input is {w}x{h}, not a 2:1 equirectangular panorama; pass --flat to dream it as an "
                        f"ordinary picture, or resample it to {2 * h}x{h} or {w}x{w // 2}")


# ----------------------------------------------------------------------------
# the plain textbook algorithm, for comparison


def reference_dream(net: Backbone, src: torch.Tensor, layer: str, octaves: int = 4, octave_scale: float = 1.4,
                    iterations: int = 10, step_size: float = 1.5, jitter: int = 32,
                    seed: int = 0) -> torch.Tensor:
    """google/deepdream's algorithm, as is: flat image, zero padding, random roll in both axes.

    L2 objective on one layer, gradient divided by its mean absolute value,
    octaves made by plain resizing.  The yardstick for speed and for the seam
    and pole figures.
    """
    gen = torch.Generator().manual_seed(seed)
    net.set_padding("zeros")
    src = src.to(next(net.buffers()).device)
    pyr = [src]
    for _ in range(octaves - 1):
        h, w = pyr[-1].shape[-2:]
        pyr.append(_resize_flat(pyr[-1], int(round(h / octave_scale)), int(round(w / octave_scale))))
    pyr = pyr[::-1]
    d = torch.zeros_like(pyr[0])
    for k, base in enumerate(pyr):
        if k:
            d = _resize_flat(d, *base.shape[-2:])
        img = (base + d).clamp(0, 1)
        for _ in range(iterations):
            ox, oy = (int(v) for v in torch.randint(-jitter, jitter + 1, (2,), generator=gen))
            x = torch.roll(img, (oy, ox), dims=(-2, -1)).detach().requires_grad_(True)
            a = net(x, [layer])[layer]
            (g,) = torch.autograd.grad(a.pow(2).sum(), x)
            g = torch.roll(g, (-oy, -ox), dims=(-2, -1))
            img = (img + (step_size / 255.0) / g.abs().mean().clamp_min(1e-12) * g).clamp(0, 1)
        d = img - base
    return (pyr[-1] + d).clamp(0, 1)
