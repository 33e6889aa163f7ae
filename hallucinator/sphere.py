"""Equirectangular geometry: the one place where the conventions live.

Conventions (used by the engine, the flow, the shaders, the pose logs and the
tests):

* Column ``u`` in ``[0, W)`` maps to longitude ``lon = (u + 0.5) / W * 2pi - pi``:
  the centre column looks forward and longitude grows to the right.
* Row ``v`` in ``[0, H)`` maps to latitude ``lat = pi/2 - (v + 0.5) / H * pi``:
  the top row looks up.
* View space is OpenGL's: x right, y up, -z forward.  The direction of
  ``(lon, lat)`` is ``(cos(lat) sin(lon), sin(lat), -cos(lat) cos(lon))``.
* A view orientation is given as yaw (to the right), pitch (up) and roll
  (clockwise, the head tilting to the right), in degrees, applied as
  ``R = Ry(-yaw) @ Rx(pitch) @ Rz(-roll)``.
* Inside the engine images are float tensors ``(N, C, H, W)`` RGB in [0, 1].

Functions here are stateless; the angle and direction functions use numpy
only, the image functions work on torch tensors.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Tuple

import numpy as np

# torch is imported inside the tensor functions, so that geometry users (the viewer) start without it
if TYPE_CHECKING:
    import torch

# ----------------------------------------------------------------------------
# pixels <-> angles <-> directions


def lonlat_from_pixel(u, v, width: int, height: int):
    """Pixel coordinates (continuous, pixel centres at integers) -> (lon, lat) in radians."""
    lon = (np.asarray(u, dtype=np.float64) + 0.5) / width * 2 * np.pi - np.pi
    lat = np.pi / 2 - (np.asarray(v, dtype=np.float64) + 0.5) / height * np.pi
    return lon, lat


def pixel_from_lonlat(lon, lat, width: int, height: int):
    """(lon, lat) in radians -> continuous pixel coordinates (u, v); u is wrapped into [-0.5, W-0.5)."""
    u = (np.asarray(lon, dtype=np.float64) + np.pi) / (2 * np.pi) * width - 0.5
    u = np.mod(u + 0.5, width) - 0.5
    v = (np.pi / 2 - np.asarray(lat, dtype=np.float64)) / np.pi * height - 0.5
    return u, v


def dir_from_lonlat(lon, lat):
    """(lon, lat) -> unit direction (..., 3) in view space (x right, y up, -z forward)."""
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    c = np.cos(lat)
    return np.stack([c * np.sin(lon), np.sin(lat), -c * np.cos(lon)], axis=-1)


def lonlat_from_dir(d):
    """Direction(s) (..., 3), any length -> (lon, lat) in radians."""
    d = np.asarray(d, dtype=np.float64)
    x, y, z = d[..., 0], d[..., 1], d[..., 2]
    lon = np.arctan2(x, -z)
    lat = np.arctan2(y, np.hypot(x, z))
    return lon, lat


def rotation_matrix(yaw_deg: float = 0.0, pitch_deg: float = 0.0, roll_deg: float = 0.0) -> np.ndarray:
    """Camera-to-world rotation for a view with the given yaw (right), pitch (up), roll (clockwise)."""
    y, p, r = (math.radians(a) for a in (yaw_deg, pitch_deg, roll_deg))
    cy, sy = math.cos(-y), math.sin(-y)
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    cp, sp = math.cos(p), math.sin(p)
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    cr, sr = math.cos(-r), math.sin(-r)
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return ry @ rx @ rz


def perspective_rays(width: int, height: int, fov_deg: float, yaw_deg=0.0, pitch_deg=0.0, roll_deg=0.0):
    """World directions (height, width, 3) of the pixel centres of a pinhole view.

    ``fov_deg`` is the horizontal field of view.  Pixel (0, 0) is the top-left.
    """
    f = (width / 2) / math.tan(math.radians(fov_deg) / 2)
    i = (np.arange(width) + 0.5 - width / 2) / f
    j = -(np.arange(height) + 0.5 - height / 2) / f
    x, y = np.meshgrid(i, j)
    cam = np.stack([x, y, -np.ones_like(x)], axis=-1)
    cam /= np.linalg.norm(cam, axis=-1, keepdims=True)
    return cam @ rotation_matrix(yaw_deg, pitch_deg, roll_deg).T


def project_to_view(d, width: int, height: int, fov_deg: float, yaw_deg=0.0, pitch_deg=0.0, roll_deg=0.0):
    """World direction(s) (..., 3) -> pixel coordinates (x, y) in a pinhole view, and a mask of those in front."""
    cam = np.asarray(d, dtype=np.float64) @ rotation_matrix(yaw_deg, pitch_deg, roll_deg)
    f = (width / 2) / math.tan(math.radians(fov_deg) / 2)
    front = cam[..., 2] < 0
    zz = np.where(front, -cam[..., 2], np.nan)
    x = cam[..., 0] / zz * f + width / 2 - 0.5
    y = -cam[..., 1] / zz * f + height / 2 - 0.5
    return x, y, front


# ----------------------------------------------------------------------------
# sampling


def equirect_grid(lon, lat, width: int, height: int) -> torch.Tensor:
    """(lon, lat) arrays (h, w) -> a ``grid_sample`` grid for an equirect image padded by one column each side.

    Use with :func:`sample_equirect`, which does the padding.
    """
    import torch

    u, v = pixel_from_lonlat(lon, lat, width, height)
    # the padded image has width W + 2; column u lives at u + 1
    gx = (u + 1 + 0.5) / (width + 2) * 2 - 1
    gy = (v + 0.5) / height * 2 - 1
    return torch.from_numpy(np.stack([gx, gy], axis=-1)).float()[None]


def sample_equirect(img: "torch.Tensor", grid: "torch.Tensor", mode: str = "bilinear") -> "torch.Tensor":
    """Sample an equirect image (N, C, H, W) at a grid from :func:`equirect_grid`, wrapping in longitude."""
    import torch
    import torch.nn.functional as F

    padded = torch.cat([img[..., -1:], img, img[..., :1]], dim=-1)
    grid = grid.to(img.device, img.dtype)
    if grid.shape[0] != img.shape[0]:
        grid = grid.expand(img.shape[0], -1, -1, -1)
    return F.grid_sample(padded, grid, mode=mode, padding_mode="border", align_corners=False)


def perspective_view(img: torch.Tensor, size: Tuple[int, int], fov_deg: float, yaw_deg=0.0, pitch_deg=0.0,
                     roll_deg=0.0, mode: str = "bilinear") -> torch.Tensor:
    """Render a pinhole view (N, C, h, w) of an equirect image (N, C, H, W); ``size`` is (w, h)."""
    w, h = size
    lon, lat = lonlat_from_dir(perspective_rays(w, h, fov_deg, yaw_deg, pitch_deg, roll_deg))
    return sample_equirect(img, equirect_grid(lon, lat, img.shape[-1], img.shape[-2]), mode=mode)


def view_to_panorama_grid(size: int, fov: float, pitch: float, width: int, height: int, rows: slice,
                          device) -> Tuple["torch.Tensor", "torch.Tensor"]:
    """grid_sample grid that takes a square view (yaw 0, ``pitch``) onto panorama rows ``rows``, and the mask of
    the panorama pixels the view covers."""
    import torch

    uu, vv = np.meshgrid(np.arange(width), np.arange(rows.start, rows.stop))
    lon, lat = lonlat_from_pixel(uu, vv, width, height)
    x, y, front = project_to_view(dir_from_lonlat(lon, lat), size, size, fov, 0.0, pitch, 0.0)
    gx = (x + 0.5) / size * 2 - 1
    gy = (y + 0.5) / size * 2 - 1
    inside = front & (np.abs(gx) <= 1) & (np.abs(gy) <= 1)
    grid = np.stack([np.nan_to_num(gx, nan=2.0), np.nan_to_num(gy, nan=2.0)], axis=-1)
    return (torch.from_numpy(grid).float()[None].to(device),
            torch.from_numpy(inside.astype(np.float32))[None, None].to(device))


def equator_density_side(width: int, fov_deg: float) -> float:
    """Side in pixels of a square pinhole view whose centre has a ``width``-wide panorama's equator density."""
    return 2 * (width / (2 * math.pi)) * math.tan(math.radians(fov_deg) / 2)


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 HWC RGB -> float (1, 3, H, W) in [0, 1]."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float().div_(255.0)


def to_uint8(t: torch.Tensor) -> np.ndarray:
    """float (1, 3, H, W) in [0, 1] -> uint8 HWC RGB (rounded, clipped)."""
    import torch

    a = t.detach()[0].clamp(0, 1).mul(255.0).round_().to(torch.uint8)
    return a.permute(1, 2, 0).contiguous().cpu().numpy()


# ----------------------------------------------------------------------------
# wrap-aware operations on equirect tensors


def roll_lon(x: torch.Tensor, shift: int) -> torch.Tensor:
    """Rotate an equirect tensor in longitude by ``shift`` columns (positive: content moves right)."""
    import torch

    return torch.roll(x, shifts=int(shift), dims=-1)


def resize_equirect(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Resize an equirect tensor (N, C, H, W), wrapping in longitude.

    The image is widened by its own columns from across the seam (:func:`wrap_margin`: as many as the
    filter reaches, or the whole image either side), resized (antialiased when shrinking) and the margins
    cut off again, so the columns next to +-180° see their true neighbours across the seam.
    """
    import torch

    if x.shape[-2:] == (height, width):
        return x
    shrinking = height < x.shape[-2] or width < x.shape[-1]
    m, m_out = wrap_margin(x.shape[-1], width, shrinking)
    wide = torch.cat([x[..., x.shape[-1] - m:], x, x[..., :m]], dim=-1)
    return _resize_widened(wide, height, width, m_out, shrinking).contiguous()


def wrap_margin(w: int, width: int, shrinking: bool) -> Tuple[int, int]:
    """(input columns, output columns) to borrow from across the seam either side when resizing an equirect
    row of ``w`` pixels to ``width``: at least as far as the bilinear filter reaches (antialiased when
    ``shrinking``, so as wide as the scale), in whole steps of the sizes' common period, so the widened
    row resizes at exactly the same scale and every output column keeps its sample position; the whole
    row (the image tiled three times) when no shorter margin does."""
    scale = w / width
    reach = math.ceil(max(scale, 1.0) if shrinking else 1.0) + 1
    g = math.gcd(w, width)
    step_in, step_out = w // g, width // g
    steps = -(-reach // step_in)
    if steps * step_in >= w:
        return w, width
    return steps * step_in, steps * step_out


def _resize_widened(wide, height: int, width: int, m_out: int, antialias: bool):
    """The middle of ``wide`` (N, C, H, W + 2 m: an equirect tensor with ``m`` columns from across the seam on
    each side, ``m / W = m_out / width``) resized to (height, width): bilinear, antialiased if asked."""
    import torch.nn.functional as F

    out = F.interpolate(wide, size=(height, width + 2 * m_out), mode="bilinear", align_corners=False,
                        antialias=antialias)
    return out[..., m_out:m_out + width]


def resize_equirect_image(image: np.ndarray, *, width: int, height: int) -> np.ndarray:
    """Resize an equirect numpy image (H, W) or (H, W, C), uint8 or float, wrapping in longitude.

    The same resampling as :func:`resize_equirect` (bilinear, antialiased when
    shrinking): output column ``j`` is centred on input column
    ``(j + 0.5) * W / width - 0.5`` with no shift, and the columns next to
    ±180° see their true neighbours.  uint8 is rounded back to uint8; floats
    keep their dtype.  ``width`` and ``height`` are keywords, so the order
    cannot be mistaken.
    """
    import torch

    a = np.asarray(image)
    if a.shape[:2] == (height, width):
        return a.copy()
    hwc = a if a.ndim == 3 else a[..., None]
    # resize_equirect's arithmetic on its very input (contiguous float64, widened across the seam), with the
    # widening done before the conversion to float64 (on uint8 that is an eighth of the bytes to copy)
    w = hwc.shape[1]
    shrinking = height < hwc.shape[0] or width < w
    m, m_out = wrap_margin(w, width, shrinking)
    chw = np.transpose(hwc, (2, 0, 1))
    wide = np.concatenate([chw[..., w - m:], chw, chw[..., :m]], axis=-1)
    out = _resize_widened(torch.from_numpy(wide.astype(np.float64))[None], height, width, m_out, shrinking)
    out = out[0].permute(1, 2, 0).numpy()
    if a.ndim == 2:
        out = out[..., 0]
    if a.dtype == np.uint8:
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(out, dtype=a.dtype)


def upsample_equirect(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Enlarge an equirect tensor: periodic (Fourier) interpolation in longitude, linear in latitude.

    Linear interpolation between two widths whose ratio is not whole leaves a
    pattern of more and less smoothed columns that repeats every few columns
    and always starts at column 0, so the columns either side of ±180° would
    sit at one fixed phase of it.  Interpolating the periodic longitude axis
    through its Fourier series is exactly shift-equivariant: no column is
    special.
    """
    import torch
    import torch.nn.functional as F

    h, w = x.shape[-2:]
    if (h, w) == (height, width):
        return x
    if width < w:
        return resize_equirect(x, height, width)
    if width != w:
        spec = torch.fft.rfft(x.double(), dim=-1)
        if w % 2 == 0:  # split the Nyquist term between +f and -f, as a real signal has it
            spec[..., -1] *= 0.5
        # output column j is at input column (j + 0.5) * w / width - 0.5: a sub-pixel shift of the samples
        delta = 0.5 * w / width - 0.5
        freqs = torch.arange(spec.shape[-1], dtype=torch.float64, device=spec.device)
        spec = spec * torch.exp(2j * math.pi * freqs * delta / w)
        # keep each row to the sphere's own resolution there: a row at latitude phi spans cos(phi) of the
        # equator's length, so longitude frequencies above cos(phi) * w/2 are finer than a pixel on the
        # sphere and would show as radial streaks around the poles (raised-cosine roll-off, no ringing)
        lat = latitude_of_rows_tensor(h, spec.device)
        cutoff = (lat.cos() * (w / 2)).clamp_min(2.0)[:, None]
        ramp = ((cutoff - freqs) / (0.25 * cutoff)).clamp(0, 1)
        spec = spec * (0.5 - 0.5 * torch.cos(math.pi * ramp))
        padded = torch.zeros(*spec.shape[:-1], width // 2 + 1, dtype=spec.dtype, device=spec.device)
        padded[..., :spec.shape[-1]] = spec
        x = (torch.fft.irfft(padded, n=width, dim=-1) * (width / w)).to(x.dtype)
    if height != h:
        x = F.interpolate(x, size=(height, width), mode="bilinear", align_corners=False)
    return x.contiguous()


def pad_sphere(x: torch.Tensor, left: int, right: int, top: int, bottom: int, vertical: str = "pole") -> torch.Tensor:
    """Pad an equirect tensor (N, C, H, W) the way the sphere continues.

    Longitude wraps: the left margin is the rightmost columns and vice versa.
    ``vertical`` says what lies beyond the top and bottom rows:

    * ``"pole"``: the sphere continues over the pole, so row ``-1 - k`` is
      row ``k`` half a turn away (rows flipped, shifted by ``W/2``);
    * ``"reflect"``: mirror the rows (for bands cut out of a sphere);
    * ``"zeros"``: zeros.
    """
    import torch

    h, w = x.shape[-2:]
    if vertical not in ("pole", "reflect", "zeros"):
        raise ValueError(f"unknown vertical padding {vertical!r}")
    # one copy in the input's memory format (channels-last included), its margins then filled in place:
    # rows first in the middle columns, then the columns wrapped for every row
    channels_last = x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)
    out = torch.empty((*x.shape[:-2], h + top + bottom, w + left + right), dtype=x.dtype, device=x.device,
                      memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    mid = out[..., left:left + w]
    mid[..., top:top + h, :] = x
    if vertical == "zeros":
        mid[..., :top, :] = 0
        mid[..., top + h:, :] = 0
    elif vertical == "pole":
        if top:
            mid[..., :top, :] = torch.roll(x[..., :top, :].flip(-2), shifts=w // 2, dims=-1)
        if bottom:
            mid[..., top + h:, :] = torch.roll(x[..., h - bottom:, :].flip(-2), shifts=w // 2, dims=-1)
    elif vertical == "reflect" and h > max(top, bottom):
        if top:
            mid[..., :top, :] = x[..., 1:top + 1, :].flip(-2)
        if bottom:
            mid[..., top + h:, :] = x[..., h - 1 - bottom:h - 1, :].flip(-2)
    elif vertical == "reflect":  # too few rows to mirror: repeat the edge row
        if top:
            mid[..., :top, :] = x[..., :1, :]
        if bottom:
            mid[..., top + h:, :] = x[..., h - 1:, :]
    if left:
        out[..., :left] = out[..., w:w + left]
    if right:
        out[..., left + w:] = out[..., left:left + right]
    return out


def latitude_of_rows(height: int) -> np.ndarray:
    """Latitude in radians of each row's centre."""
    return np.pi / 2 - (np.arange(height) + 0.5) / height * np.pi


def pole_blend_weights(height: int, pole_blend) -> np.ndarray:
    """Weight of the polar views per row, as the engine blends them: a smoothstep in |latitude| from 0 at
    ``pole_blend[0]`` degrees to 1 at ``pole_blend[1]`` (the band's weight is one minus it)."""
    lo, hi = pole_blend
    lat = np.degrees(latitude_of_rows(height))
    t = np.clip((np.abs(lat) - lo) / max(hi - lo, 1e-6), 0, 1)
    return t * t * (3 - 2 * t)


def latitude_of_rows_tensor(height: int, device=None) -> "torch.Tensor":
    """:func:`latitude_of_rows` as a float64 tensor made on ``device`` (the same values, no numpy)."""
    import torch

    return math.pi / 2 - (torch.arange(height, dtype=torch.float64, device=device) + 0.5) / height * math.pi


@dataclass(frozen=True)
class MercatorBand:
    """A band of the sphere around the equator in Mercator projection, with the panorama's own columns.

    Mercator is conformal: a pattern drawn there is isotropic on the sphere
    at every latitude (only its size shrinks as cos(lat)).  Rows are spaced as
    the panorama's rows are at the equator (``pi / height`` in Mercator
    ``y``); ``shift`` moves the band by whole rows of that spacing (a jitter
    in latitude).  Only rows are resampled (linearly), going in and back, so
    longitude still wraps exactly.
    """

    height: int      # rows of the panorama
    rows: int        # rows of the band
    shift: int = 0   # offset in rows of the equator's spacing

    @staticmethod
    def rows_to_reach(height: int, lat_max_deg: float, multiple: int) -> int:
        """Rows a band needs to reach ``lat_max_deg`` either side of the equator, rounded up to ``multiple``."""
        step = math.pi / height
        y_max = math.log(math.tan(math.pi / 4 + math.radians(lat_max_deg) / 2))
        return max(int(math.ceil(2 * y_max / step / multiple)) * multiple, multiple)

    @property
    def _step(self) -> float:
        return math.pi / self.height

    def latitudes(self) -> "torch.Tensor":
        """Latitude (radians, float64) of each band row's centre, north first."""
        import torch

        step = self._step
        y = (self.rows / 2 - (torch.arange(self.rows, dtype=torch.float64) + 0.5)) * step + self.shift * step
        return 2 * torch.atan(torch.exp(y)) - math.pi / 2

    def sampler_in(self, device=None, dtype=None) -> "RowLerp":
        """The row interpolation that takes a panorama (height rows) to the band (rows rows)."""
        h = self.height
        v = ((math.pi / 2 - self.latitudes()) / math.pi * h - 0.5).clamp(0, h - 1)
        return RowLerp.at(v, h, device, dtype)

    def sampler_back(self, device=None, dtype=None) -> "RowLerp":
        """The row interpolation that takes the band back onto the panorama's rows (0 outside the band)."""
        import torch

        lat = self.latitudes()
        lat_rows = torch.from_numpy(latitude_of_rows(self.height))
        inside = lat_rows.abs() < lat[0].abs().clamp(max=lat[-1].abs())
        oy = self.shift * self._step
        jpos = (self.rows / 2 - (torch.log(torch.tan(math.pi / 4 + lat_rows / 2)) - oy) / self._step - 0.5)
        return RowLerp.at(jpos.clamp(0, self.rows - 1), self.rows, device, dtype, inside)

    def from_equirect(self, img: "torch.Tensor") -> "torch.Tensor":
        """The band (N, C, rows, W) of an equirect tensor (N, C, height, W), rows interpolated linearly."""
        return self.sampler_in(img.device, img.dtype)(img)

    def to_equirect(self, band: "torch.Tensor") -> "torch.Tensor":
        """A band tensor back onto the panorama's rows: each row inside takes the band at its position; 0 outside."""
        return self.sampler_back(band.device, band.dtype)(band)


@dataclass(frozen=True)
class RowLerp:
    """Linear interpolation of rows at fixed positions, its indices and weights made once on a device.

    Output row ``i`` is ``x[p0[i]] * (1 - f[i]) + x[p0[i] + 1] * f[i]``, times ``mask[i]`` when there is one.
    """

    p0: "torch.Tensor"                     # (n,) long
    f: "torch.Tensor"                      # (n, 1) in the images' dtype
    mask: "Optional[torch.Tensor]" = None  # (n, 1) in the images' dtype, or None

    @staticmethod
    def at(pos: "torch.Tensor", rows: int, device=None, dtype=None, mask=None) -> "RowLerp":
        """Interpolation at continuous positions ``pos`` (float64, inside [0, rows-1]) of a ``rows``-row input."""
        p0 = pos.floor().long().clamp(max=rows - 2)
        f = (pos - p0).to(device=device, dtype=dtype)[:, None]
        m = None if mask is None else mask.to(device=device, dtype=dtype)[:, None]
        return RowLerp(p0.to(device), f, m)

    def __call__(self, x: "torch.Tensor") -> "torch.Tensor":
        out = x[..., self.p0, :] * (1 - self.f) + x[..., self.p0 + 1, :] * self.f
        return out if self.mask is None else out * self.mask
