"""The ascent direction of one gradient step: which passes the network sees, and how they are blended.

For a 360° panorama (``poles="faces"``) each step has two parts.  A *band*
pass runs the network on the rows within ``pole_blend[1] + 8°`` of the
equator, in Mercator projection (:class:`sphere.MercatorBand`), jittered by
a random roll in longitude and a random shift in latitude.  Two *polar*
passes render ``pole_fov``-wide pinhole views straight up and down (turned to
a random yaw), where the sky and ground are undistorted, and their gradients
are resampled back onto the panorama.  The two are blended by latitude over
``pole_blend`` (degrees, a smoothstep), so patterns near the poles are
dreamed as they will be seen, not pinched into radial streaks.
``poles="none"`` runs one pass over the whole sphere, padded over the poles.

The blended gradient is divided by its area-weighted mean absolute value (the
google/deepdream step rule).  ``flat=True`` dreams an ordinary picture: zero
padding, jitter by shifting a reflect-padded copy.
"""
from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from .. import sphere
from ..config import DreamConfig
from .tiles import TiledGradient
from .timing import PartTimer

BAND_MARGIN_DEG = 8.0  # the band reaches this far past the end of the blend ramp


class Passes:
    """The normalised ascent direction of an image under one configuration.

    Everything that depends only on the image's size (row weights, sampling
    grids, the band's row interpolation for each latitude shift) is made once
    on the image's device and kept, so a step makes no host-side arrays.
    """

    def __init__(self, cfg: DreamConfig, tiles: TiledGradient, stride: int, timer: PartTimer = None):
        self.cfg, self.tiles, self.stride = cfg, tiles, stride
        self.timer = timer or PartTimer()
        self._cache: Dict[tuple, object] = {}

    def _cached(self, key: tuple, make):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def direction(self, img: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """The normalised ascent direction for ``img`` (mean absolute value 1, area-weighted on the sphere)."""
        cfg = self.cfg
        if cfg.flat:
            g = self._flat_grad(img, gen)
            with self.timer("blend"):
                return g / g.abs().mean().clamp_min(1e-12)
        if cfg.poles == "none":
            g = self._sphere_grad(img, gen)
        else:
            g = self._band_and_faces_grad(img, gen)
        with self.timer("blend"):
            h = img.shape[-2]
            area = self._cached(("area", h, img.device, img.dtype), lambda: torch.from_numpy(
                np.cos(sphere.latitude_of_rows(h))).to(img)[:, None])
            return g / ((g.abs().mean(dim=(0, 1)) * area).sum() / (area.sum() * img.shape[-1])).clamp_min(1e-12)
    @staticmethod
    def _jitter(gen: torch.Generator, limit: int) -> int:
        return int(torch.randint(-limit, limit + 1, (1,), generator=gen)) if limit > 0 else 0

    def _flat_grad(self, img: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        j = self.cfg.jitter
        ox, oy = self._jitter(gen, j), self._jitter(gen, j)
        h, w = img.shape[-2:]
        p = min(j, h - 1, w - 1)
        padded = F.pad(img, (p, p, p, p), mode="reflect") if p > 0 else img
        ox, oy = max(-p, min(p, ox)), max(-p, min(p, oy))
        crop = padded[..., p + oy:p + oy + h, p + ox:p + ox + w]
        with self.timer("band"):
            g = self.tiles.grad(crop, "zeros")
        out = torch.zeros_like(padded)
        out[..., p + oy:p + oy + h, p + ox:p + ox + w] = g
        return out[..., p:p + h, p:p + w]

    def _sphere_grad(self, img: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        ox = self._jitter(gen, self.cfg.jitter)
        with self.timer("band"):
            g = self.tiles.grad(sphere.roll_lon(img, ox), "sphere")
        return sphere.roll_lon(g, -ox)

    def _band_grad(self, img: torch.Tensor, gen: torch.Generator, lat_max: float) -> torch.Tensor:
        """Gradient from the band |lat| <= lat_max, dreamed in Mercator projection (zero outside it)."""
        h = img.shape[-2]
        rows = sphere.MercatorBand.rows_to_reach(h, lat_max, self.stride)
        shift = self._jitter(gen, self.cfg.jitter // 2)
        ox = self._jitter(gen, self.cfg.jitter)
        with self.timer("resampling"):
            band = sphere.MercatorBand(h, rows, shift)
            into, back = self._cached(("band", h, rows, shift, img.device, img.dtype), lambda: (
                band.sampler_in(img.device, img.dtype), band.sampler_back(img.device, img.dtype)))
            merc = sphere.roll_lon(into(img), ox)
        with self.timer("band"):
            g_merc = self.tiles.grad(merc, "wrap")
        with self.timer("resampling"):
            return back(sphere.roll_lon(g_merc, -ox))

    def _blend_weights(self, h: int, device, dtype) -> Tuple[torch.Tensor, np.ndarray]:
        """The band's weight per row (a column tensor) and the polar views' (numpy), a smoothstep in latitude."""
        def make():
            w_face = sphere.pole_blend_weights(h, self.cfg.pole_blend)
            return torch.from_numpy(1 - w_face).to(device=device, dtype=dtype)[:, None], w_face
        return self._cached(("blend", h, device, dtype), make)

    def _band_and_faces_grad(self, img: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        h, w = img.shape[-2:]
        w_band, w_face = self._blend_weights(h, img.device, img.dtype)
        g = self._band_grad(img, gen, self.cfg.pole_blend[1] + BAND_MARGIN_DEG)
        with self.timer("blend"):
            g = g * w_band
        # the polar caps, dreamed in undistorted views and resampled back; a random yaw is a roll in
        # longitude by whole columns, so the sampling grids are computed once per size
        grids = self._face_grids(h, w, w_face, img)
        if not grids:
            return g
        k = int(torch.randint(0, w, (1,), generator=gen))
        with self.timer("resampling"):
            turned = sphere.roll_lon(img, -k)
            views = torch.cat([sphere.sample_equirect(turned, view_grid) for view_grid, _, _, _ in grids])
        with self.timer("polar views"):
            g_faces = self.tiles.grad(views, "zeros")
        with self.timer("resampling"):
            g_turned = torch.zeros_like(img)
            for i, (_, back_grid, weight, r) in enumerate(grids):
                back = F.grid_sample(g_faces[i:i + 1], back_grid, mode="bilinear", padding_mode="zeros",
                                     align_corners=False)
                g_turned[..., r, :] += back * weight
            return g + sphere.roll_lon(g_turned, k)

    def _face_grids(self, h: int, w: int, w_face: np.ndarray, img: torch.Tensor) -> List[Tuple]:
        """Per polar view: (panorama -> view grid, view -> panorama grid, weight of its rows, rows)."""
        def make():
            cap = np.nonzero(w_face > 0)[0]
            faces = [(p, rows) for p, rows in ((90.0, cap[cap < h // 2]), (-90.0, cap[cap >= h // 2])) if len(rows)]
            out = []
            for pitch, rows in faces:
                view_grid, back_grid, inside, r = self._pole_grids(h, w, pitch, int(rows[0]), int(rows[-1]) + 1,
                                                                   img.device)
                weight = inside.to(img) * torch.from_numpy(w_face[r]).to(img)[:, None]
                out.append((view_grid.to(img), back_grid.to(img), weight, r))
            return out
        return self._cached(("faces", h, w, img.device, img.dtype), make)

    def _pole_grids(self, h: int, w: int, pitch: float, r0: int, r1: int, device) -> Tuple:
        """Sampling grids of a polar view at yaw 0: panorama -> view, and view -> panorama rows r0:r1."""
        def make():
            size = self.face_size(w)
            fov = self.cfg.pole_fov
            lon, lat = sphere.lonlat_from_dir(sphere.perspective_rays(size, size, fov, 0.0, pitch, 0.0))
            view_grid = sphere.equirect_grid(lon, lat, w, h).to(device)
            back_grid, inside = sphere.view_to_panorama_grid(size, fov, pitch, w, h, slice(r0, r1), device)
            return view_grid, back_grid, inside, slice(r0, r1)
        return self._cached(("pole", h, w, pitch, r0, r1, str(device)), make)

    def face_size(self, width: int) -> int:
        """Side of a polar view whose centre has the panorama's pixel density at the equator (a stride multiple)."""
        s = self.stride
        return max(int(round(sphere.equator_density_side(width, self.cfg.pole_fov) / s)) * s, 2 * s)
