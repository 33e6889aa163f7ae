"""Geometry conventions: known directions land on the right pixels, padding and resizing wrap."""
import math

import numpy as np
import pytest
import torch

from hallucinator import sphere


def test_pixel_lonlat_round_trip_and_known_points():
    W, H = 360, 180
    u, v = np.meshgrid(np.arange(W), np.arange(H))
    lon, lat = sphere.lonlat_from_pixel(u, v, W, H)
    u2, v2 = sphere.pixel_from_lonlat(lon, lat, W, H)
    assert np.allclose(u, u2) and np.allclose(v, v2)
    # the centre of the image looks forward (-z); longitude grows to the right; the top row looks up
    assert np.allclose(sphere.dir_from_lonlat(0.0, 0.0), [0, 0, -1])
    assert np.allclose(sphere.dir_from_lonlat(math.pi / 2, 0.0), [1, 0, 0], atol=1e-12)
    assert np.allclose(sphere.dir_from_lonlat(0.0, math.pi / 2), [0, 1, 0], atol=1e-12)
    assert sphere.pixel_from_lonlat(0.0, 0.0, W, H) == pytest.approx((W / 2 - 0.5, H / 2 - 0.5))
    assert sphere.pixel_from_lonlat(math.pi / 2, 0.0, W, H)[0] == pytest.approx(0.75 * W - 0.5)
    lon, lat = sphere.lonlat_from_dir(sphere.dir_from_lonlat(1.0, -0.3))
    assert (lon, lat) == pytest.approx((1.0, -0.3))


def test_view_orientation_yaw_right_pitch_up_roll_clockwise():
    fwd = np.array([0, 0, -1.0])
    assert np.allclose(sphere.rotation_matrix(90, 0, 0) @ fwd, [1, 0, 0], atol=1e-12)
    assert np.allclose(sphere.rotation_matrix(0, 90, 0) @ fwd, [0, 1, 0], atol=1e-12)
    up = np.array([0, 1.0, 0])
    # rolling clockwise (head tilted right) turns the camera's up vector towards +x
    assert (sphere.rotation_matrix(0, 0, 30) @ up)[0] > 0.4
    rays = sphere.perspective_rays(101, 51, 90.0, 90.0, 0.0, 0.0)
    assert np.allclose(rays[25, 50], [1, 0, 0], atol=1e-3)
    # the right edge of a 90° view is 45° to the right of its centre
    lon, _ = sphere.lonlat_from_dir(sphere.perspective_rays(200, 100, 90.0)[50, -1])
    assert math.degrees(lon) == pytest.approx(45, abs=0.5)


def test_perspective_view_puts_a_marker_where_the_geometry_says():
    W, H = 512, 256
    img = torch.zeros(1, 1, H, W)
    lon, lat = math.radians(120.0), math.radians(20.0)
    u, v = sphere.pixel_from_lonlat(lon, lat, W, H)
    img[..., int(round(v)) - 1:int(round(v)) + 2, int(round(u)) - 1:int(round(u)) + 2] = 1.0
    view = sphere.perspective_view(img, (200, 150), 80.0, yaw_deg=110.0, pitch_deg=10.0, roll_deg=5.0)[0, 0].numpy()
    x, y, front = sphere.project_to_view(sphere.dir_from_lonlat(lon, lat), 200, 150, 80.0, 110.0, 10.0, 5.0)
    assert front
    ys, xs = np.nonzero(view > 0.25)
    cx, cy = (view[ys, xs] * xs).sum() / view[ys, xs].sum(), (view[ys, xs] * ys).sum() / view[ys, xs].sum()
    assert abs(cx - x) < 1.0 and abs(cy - y) < 1.0


def test_pad_sphere_wraps_longitude_and_continues_over_the_poles():
    x = torch.arange(4 * 8, dtype=torch.float32).view(1, 1, 4, 8)
    p = sphere.pad_sphere(x, 2, 3, 2, 1, vertical="pole")
    assert p.shape[-2:] == (4 + 3, 8 + 5)
    core = p[..., 2:6, :]
    assert torch.equal(core[..., :2], x[..., -2:])            # left margin = rightmost columns
    assert torch.equal(core[..., -3:], x[..., :3])            # right margin = leftmost columns
    # above the top row lies the top row itself, half a turn away
    assert torch.equal(p[..., 1, 2:10], torch.roll(x[..., 0, :], 4, dims=-1))
    assert torch.equal(p[..., 0, 2:10], torch.roll(x[..., 1, :], 4, dims=-1))
    assert torch.equal(p[..., 6, 2:10], torch.roll(x[..., 3, :], 4, dims=-1))


def test_resize_equirect_wraps_across_the_seam():
    torch.manual_seed(0)
    x = torch.rand(1, 3, 64, 128)
    small = sphere.resize_equirect(x, 32, 64)
    # shifting by 2 columns before resizing by 1/2 is shifting by 1 column after: no edge effects at +-180°
    shifted = sphere.resize_equirect(torch.roll(x, 2, dims=-1), 32, 64)
    assert torch.allclose(torch.roll(small, 1, dims=-1), shifted, atol=1e-5)
    big = sphere.resize_equirect(x, 96, 192)
    assert big.shape[-2:] == (96, 192)


def test_to_tensor_and_back_is_lossless():
    a = (np.random.default_rng(0).random((8, 16, 3)) * 255).astype(np.uint8)
    assert np.array_equal(sphere.to_uint8(sphere.to_tensor(a)), a)


def test_upsample_equirect_treats_every_column_alike():
    """Enlarging by a ratio that is not whole: a shift before is exactly a shift after (no phase tied to column 0)."""
    torch.manual_seed(0)
    x = torch.rand(1, 3, 48, 96)
    y = sphere.upsample_equirect(x, 64, 128)
    assert torch.allclose(torch.roll(y, 4, dims=-1), sphere.upsample_equirect(torch.roll(x, 3, dims=-1), 64, 128),
                          atol=1e-5)
    # a band-limited signal is reproduced exactly at the new pixel centres
    u = torch.arange(96, dtype=torch.float64)
    s = torch.sin(2 * math.pi * 3 * (u + 0.5) / 96).view(1, 1, 1, 96).expand(1, 1, 4, 96).float()
    v = torch.arange(128, dtype=torch.float64)
    expected = torch.sin(2 * math.pi * 3 * (v + 0.5) / 128).float()
    assert torch.allclose(sphere.upsample_equirect(s, 4, 128)[0, 0, 0], expected, atol=1e-5)
    # neighbouring-column jumps of enlarged white noise do not depend on the column's phase (linear ones do)
    noise = torch.rand(1, 1, 2000, 96, generator=torch.Generator().manual_seed(1))

    def phase_spread(img):
        jumps = (torch.roll(img, -1, dims=-1) - img).abs().mean(dim=(0, 1, 2))
        by_phase = torch.stack([jumps[p::4].mean() for p in range(4)])
        return (by_phase.max() - by_phase.min()) / jumps.mean()

    assert phase_spread(sphere.upsample_equirect(noise, 2000, 128)) < 0.03
    assert phase_spread(sphere.resize_equirect(noise, 2000, 128)) > 0.1


def _longitude_phase_px(row: np.ndarray, cycles: int) -> tuple:
    """Phase (in output pixels) and amplitude of a ``cycles``-per-turn sinusoid in longitude, by least squares."""
    w = row.shape[-1]
    theta = 2 * np.pi * cycles * (np.arange(w) + 0.5) / w
    a = 2 * np.mean((row - row.mean()) * np.sin(theta))
    b = 2 * np.mean((row - row.mean()) * np.cos(theta))
    return math.atan2(b, a) / (2 * np.pi * cycles) * w, math.hypot(a, b)


@pytest.mark.parametrize("src_w,dst_w", [(259, 256), (640, 256), (256, 259), (256, 640)])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_resize_equirect_image_keeps_every_column_at_its_longitude(src_w, dst_w, dtype):
    """A sinusoid in longitude comes out at the same longitude (phase error < 0.01 px) and nearly full amplitude."""
    cycles, h = 5, 24
    lon = 2 * np.pi * cycles * (np.arange(src_w) + 0.5) / src_w
    row = 0.5 + 0.4 * np.sin(lon)
    img = np.repeat(np.repeat(row[None, :, None], h, axis=0), 3, axis=2)
    img = np.rint(img * 255).astype(np.uint8) if dtype == np.uint8 else img.astype(dtype)
    out = sphere.resize_equirect_image(img, width=dst_w, height=h // 2)
    assert out.shape == (h // 2, dst_w, 3) and out.dtype == dtype
    scale = 255.0 if dtype == np.uint8 else 1.0
    phase, amp = _longitude_phase_px(out[:, :, 1].astype(np.float64).mean(axis=0) / scale, cycles)
    assert abs(phase) < 0.01, phase
    assert amp == pytest.approx(0.4, rel=0.02)


def test_resize_equirect_image_wraps_and_matches_the_tensor_resize():
    rng = np.random.default_rng(0)
    img = rng.random((40, 80)).astype(np.float64)
    out = sphere.resize_equirect_image(img, width=64, height=32)
    ref = sphere.resize_equirect(torch.from_numpy(img)[None, None], 32, 64)[0, 0].numpy()
    assert out.shape == (32, 64) and np.allclose(out, ref, atol=1e-12)
    # a shift of 5 input columns before is a shift of 4 output columns after: the seam is like any column
    shifted = sphere.resize_equirect_image(np.roll(img, 5, axis=1), width=64, height=32)
    assert np.allclose(np.roll(out, 4, axis=1), shifted, atol=1e-6)
    same = sphere.resize_equirect_image(img, width=80, height=40)
    assert np.array_equal(same, img) and same is not img
    with pytest.raises(TypeError):
        sphere.resize_equirect_image(img, 64, 32)  # width and height are keywords: the order cannot be mistaken


@pytest.mark.parametrize("src,dst", [((48, 96), (20, 40)), ((320, 640), (128, 256)), ((33, 67), (50, 101)),
                                     ((64, 128), (32, 64))])
def test_resize_equirect_image_of_uint8_is_the_tensor_resize_rounded(src, dst):
    """Bit for bit the tensor resize's result on the float64 image, rounded: working frames (and so the frames
    cached from them) do not depend on which of the two made them.  Ratio 2 has exact halves, where any other
    arithmetic would round some pixels the other way."""
    rng = np.random.default_rng(sum(src) + sum(dst))
    img = rng.integers(0, 256, (*src, 3), dtype=np.uint8)
    img[: src[0] // 2] &= 0xF0                     # coarse levels too: many exact ties
    ref = sphere.resize_equirect(torch.from_numpy(img.astype(np.float64)).permute(2, 0, 1)[None].contiguous(), *dst)
    expect = np.clip(np.rint(ref[0].permute(1, 2, 0).numpy()), 0, 255).astype(np.uint8)
    assert np.array_equal(sphere.resize_equirect_image(img, width=dst[1], height=dst[0]), expect)


@pytest.mark.parametrize("src,dst", [((320, 640), (128, 256)), ((960, 1920), (256, 512)), ((256, 512), (176, 352)),
                                     ((128, 256), (256, 512)), ((33, 67), (50, 101)), ((100, 259), (100, 256)),
                                     ((64, 96), (80, 64)), ((40, 80), (20, 6))])
def test_resize_equirect_borrows_enough_from_across_the_seam(src, dst):
    """The margin :func:`sphere.wrap_margin` borrows gives the same resize as the whole image tiled three times
    (the filter never reaches past it), at the same scale, in whole periods of the two widths."""
    import torch.nn.functional as F

    x = torch.rand(1, 3, *src, dtype=torch.float64, generator=torch.Generator().manual_seed(sum(src)))
    (h, w), (height, width) = src, dst
    shrinking = height < h or width < w
    tiled = F.interpolate(torch.cat([x, x, x], dim=-1), size=(height, 3 * width), mode="bilinear",
                          align_corners=False, antialias=shrinking)[..., width:2 * width]
    assert torch.allclose(sphere.resize_equirect(x, height, width), tiled, rtol=0, atol=1e-12)
    m, m_out = sphere.wrap_margin(w, width, shrinking)
    assert m * width == m_out * w and 0 < m <= w
    if m < w:
        assert m >= max(w / width if shrinking else 1.0, 1.0) + 1     # the filter's reach, and a column more


def test_mercator_band_rows_follow_mercator_and_reach_the_latitude_asked():
    h, multiple = 256, 16
    rows = sphere.MercatorBand.rows_to_reach(h, 58.0, multiple)
    assert rows % multiple == 0
    for shift in (0, 5, -7):
        lat = sphere.MercatorBand(h, rows, shift).latitudes().numpy()
        y = (rows / 2 - (np.arange(rows) + 0.5) + shift) * math.pi / h  # Mercator y, equator row spacing
        assert np.allclose(lat, np.arctan(np.sinh(y)), atol=1e-12)      # the Gudermannian, written another way
    lat = np.degrees(sphere.MercatorBand(h, rows).latitudes().numpy())
    assert lat[0] >= 58.0 and lat[-1] <= -58.0 and lat[0] == pytest.approx(-lat[-1])
    fewer = np.degrees(sphere.MercatorBand(h, rows - multiple).latitudes().numpy())
    assert fewer[0] < 58.0  # the rows are the fewest that reach


def test_mercator_band_samples_the_panorama_and_goes_back():
    h, w = 128, 64
    lat_rows = sphere.latitude_of_rows(h)
    img = torch.from_numpy(np.repeat(np.sin(3 * lat_rows)[:, None], w, axis=1))[None, None]
    band = sphere.MercatorBand(h, sphere.MercatorBand.rows_to_reach(h, 50.0, 8), shift=3)
    merc = band.from_equirect(img)
    assert merc.shape == (1, 1, band.rows, w)
    # each band row holds the panorama at its latitude (linear interpolation between rows: error ~ 1e-3)
    assert torch.allclose(merc[0, 0, :, 0], torch.sin(3 * band.latitudes()), atol=2e-3)
    back = band.to_equirect(merc)[0, 0, :, 0].numpy()
    lat = band.latitudes().numpy()
    inside = np.abs(lat_rows) < min(abs(lat[0]), abs(lat[-1]))
    assert np.allclose(back[inside], np.sin(3 * lat_rows[inside]), atol=4e-3)
    assert np.all(back[~inside] == 0) and (~inside).any()
