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

from typing import Dict, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from .. import sphere
from ..config import DreamConfig
from .tiles import TiledGradient

BAND_MARGIN_DEG = 8.0  # the band reaches this far past the end of the blend ramp


class Passes:
    """The normalised ascent direction of an image under one configuration."""

    def __init__(self, cfg: DreamConfig, tiles: TiledGradient, stride: int):
        self.cfg, self.tiles, self.stride = cfg, tiles, stride
        self._grid_cache: Dict[tuple, tuple] = {}

    def direction(self, img: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
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
        g = self.tiles.grad(crop, "zeros")
        out = torch.zeros_like(padded)
        out[..., p + oy:p + oy + h, p + ox:p + ox + w] = g
        return out[..., p:p + h, p:p + w]

    def _sphere_grad(self, img: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        ox = self._jitter(gen, self.cfg.jitter)
        g = self.tiles.grad(sphere.roll_lon(img, ox), "sphere")
        return sphere.roll_lon(g, -ox)

    def _band_grad(self, img: torch.Tensor, gen: torch.Generator, lat_max: float) -> torch.Tensor:
        """Gradient from the band |lat| <= lat_max, dreamed in Mercator projection (zero outside it)."""
        h = img.shape[-2]
        rows = sphere.MercatorBand.rows_to_reach(h, lat_max, self.stride)
        band = sphere.MercatorBand(h, rows, self._jitter(gen, self.cfg.jitter // 2))
        merc = band.from_equirect(img)
        ox = self._jitter(gen, self.cfg.jitter)
        g_merc = sphere.roll_lon(self.tiles.grad(sphere.roll_lon(merc, ox), "wrap"), -ox)
        return band.to_equirect(g_merc)

    def _band_and_faces_grad(self, img: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        h, w = img.shape[-2:]
        lat = np.degrees(sphere.latitude_of_rows(h))
        lo, hi = self.cfg.pole_blend
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
        g_faces = self.tiles.grad(views, "zeros")
        g_turned = torch.zeros_like(img)
        for i, (_, back_grid, inside, r) in enumerate(grids):
            back = F.grid_sample(g_faces[i:i + 1], back_grid, mode="bilinear", padding_mode="zeros",
                                 align_corners=False)
            g_turned[..., r, :] += back * inside * torch.from_numpy(w_face[r]).to(img)[:, None]
        return g + sphere.roll_lon(g_turned, k)

    def _pole_grids(self, h: int, w: int, pitch: float, r0: int, r1: int, device) -> Tuple:
        """Sampling grids of a polar view at yaw 0: panorama -> view, and view -> panorama rows r0:r1."""
        key = (h, w, pitch, r0, r1, str(device))
        if key not in self._grid_cache:
            size = self.face_size(w)
            fov = self.cfg.pole_fov
            lon, lat = sphere.lonlat_from_dir(sphere.perspective_rays(size, size, fov, 0.0, pitch, 0.0))
            view_grid = sphere.equirect_grid(lon, lat, w, h).to(device)
            back_grid, inside = sphere.view_to_panorama_grid(size, fov, pitch, w, h, slice(r0, r1), device)
            self._grid_cache[key] = (view_grid, back_grid, inside, slice(r0, r1))
        return self._grid_cache[key]

    def face_size(self, width: int) -> int:
        """Side of a polar view whose centre has the panorama's pixel density at the equator (a stride multiple)."""
        s = self.stride
        return max(int(round(sphere.equator_density_side(width, self.cfg.pole_fov) / s)) * s, 2 * s)
