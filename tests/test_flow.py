"""Wrap-aware optical flow, warping, occlusion and motion masks."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import shared_file
from hallucinator import sphere
from hallucinator.video import flow as flowmod
from hallucinator.video.flow import (FlowParams, compute_flow, flow_magnitude, flow_pair, motion_mask, occlusion_mask,
                               pad_wrap, warp, warping_error)

BATTLE = "videos/panolens-1941-battle-640x320.mp4"


def texture(w=256, h=128, seed=0):
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(h // 8, w // 8, 3), dtype=np.uint8)
    # tile-periodic upsampling so the texture itself wraps at ±180°
    big = cv2.resize(np.concatenate([small, small, small], axis=1), (3 * w, h), interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(big[:, w:2 * w])


def test_warp_integer_shift_wraps_exactly():
    img = texture()
    flow = np.zeros(img.shape[:2] + (2,), np.float32)
    flow[..., 0] = 5.0                       # sample 5 px to the right, across the seam at the end
    out = warp(img, flow)
    assert np.array_equal(out, np.roll(img, -5, axis=1))
    flow[..., 0] = -7.0
    assert np.array_equal(warp(img, flow), np.roll(img, 7, axis=1))


def test_warp_half_pixel_interpolates_across_seam():
    img = texture().astype(np.float32)
    flow = np.zeros(img.shape[:2] + (2,), np.float32)
    flow[..., 0] = 0.5
    out = warp(img, flow)
    expect = 0.5 * (img + np.roll(img, -1, axis=1))
    assert np.abs(out - expect).max() < 1e-3     # the last column mixes with the first one


def seam_scene(t, w=256, h=128):
    """Static background with a textured patch straddling ±180° that moves right by 4 px per frame."""
    bg = texture(w, h, seed=3)
    patch = texture(w, h, seed=4)
    out = bg.copy()
    cols = (np.arange(-30, 30) + 4 * t) % w
    out[40:90, cols] = np.roll(patch, 4 * t, axis=1)[40:90, cols]
    return out


@pytest.mark.parametrize("method", ["dis", "farneback"])
def test_flow_is_continuous_across_the_seam(method):
    a, b = seam_scene(0), seam_scene(1)
    wrapped = compute_flow(a, b, FlowParams(method=method))
    flat = compute_flow(a, b, FlowParams(method=method, pad=0.0))
    rows = slice(50, 80)
    seam_cols = np.r_[0:12, 244:256]
    err_wrapped = np.abs(wrapped[rows][:, seam_cols, 0] - 4).mean()
    err_flat = np.abs(flat[rows][:, seam_cols, 0] - 4).mean()
    assert err_wrapped < 1.0, err_wrapped
    assert err_wrapped < 0.6 * err_flat, (err_wrapped, err_flat)
    # and the warped frame matches across the seam
    bwd = compute_flow(b, a, FlowParams(method=method))
    e = np.abs(warp(a, bwd).astype(float) - b.astype(float))[rows][:, seam_cols].mean()
    assert e < np.abs(a.astype(float) - b.astype(float))[rows][:, seam_cols].mean() / 3


def test_occlusion_check_finds_uncovered_background():
    w, h = 256, 128
    bg = texture(w, h, seed=1)
    sq = texture(w, h, seed=2)

    def frame(x):
        f = bg.copy()
        f[40:90, x:x + 50] = sq[40:90, 0:50]
        return f

    a, b = frame(100), frame(110)           # the square moves 10 px right
    fwd, bwd = flow_pair(a, b)
    occ = occlusion_mask(fwd, bwd)
    uncovered = occ[48:82, 102:108].mean()    # background revealed behind the square in b
    far = occ[:, :60].mean()                  # untouched background
    assert uncovered > 0.5, uncovered
    assert far < 0.05, far


def test_motion_mask_marks_moving_pixels():
    flow = np.zeros((128, 256, 2), np.float32)
    flow[40:90, 100:150, 0] = 3.0
    m = motion_mask(flow, threshold=1.0, soften=0)
    assert m[40:90, 100:150].min() == 1.0 and m[:30].max() == 0.0
    # the 2017 rule normalises per frame: any motion above 6/255 of the largest counts
    flow[0:10, :, 0] = 0.05
    assert motion_mask(flow, threshold=6, normalise=True, spherical=False, soften=0)[0:10].max() == 0.0
    flow[0:10, :, 0] = 0.2
    assert motion_mask(flow, threshold=6, normalise=True, spherical=False, soften=0)[0:10].min() == 1.0
    soft = motion_mask(flow, threshold=1.0, soften=2.0)
    assert 0.0 < soft[40, 98] < 1.0


def test_horizontal_motion_near_poles_counts_less():
    flow = np.zeros((128, 256, 2), np.float32)
    flow[..., 0] = 2.0
    mag = flow_magnitude(flow)
    assert mag[64, 0] == pytest.approx(2.0, abs=0.03)
    assert mag[1, 0] < 0.1
    assert flow_magnitude(flow, spherical=False)[1, 0] == pytest.approx(2.0)


def test_pad_wrap():
    img = np.arange(12).reshape(2, 6)
    assert pad_wrap(img, 2).tolist()[0] == [4, 5, 0, 1, 2, 3, 4, 5, 0, 1]


def test_real_frames_flow_explains_motion():
    from hallucinator.io.reader import VideoReader

    frames = [f.image for f in VideoReader(shared_file(BATTLE)).frames(100, 102)]
    a, b = frames
    fwd, bwd = flow_pair(a, b)
    valid = ~occlusion_mask(fwd, bwd)
    assert valid.mean() > 0.8
    zero = np.zeros_like(bwd)
    assert warping_error(a, b, bwd, valid) < 0.7 * warping_error(a, b, zero, valid)


@pytest.mark.parametrize("wrap", [True, False])
def test_occlusion_check_is_the_written_out_formula_bit_for_bit(wrap):
    """The check adds the two flow components by hand (for speed); the carry depends on every bit of it."""
    rng = np.random.default_rng(3)
    for scale in (0.3, 3.0, 30.0):
        fwd, bwd = (rng.normal(0, scale, (61, 130, 2)).astype(np.float32) for _ in range(2))
        f_at = flowmod.warp(fwd, bwd, wrap=wrap)
        err = ((bwd + f_at) ** 2).sum(-1)
        bound = 0.01 * ((bwd ** 2).sum(-1) + (f_at ** 2).sum(-1)) + 0.5
        ys = np.arange(61, dtype=np.float32)[:, None] + bwd[..., 1]
        outside = (ys < -0.5) | (ys > 60.5)
        if not wrap:
            xs = np.arange(130, dtype=np.float32)[None, :] + bwd[..., 0]
            outside |= (xs < -0.5) | (xs > 129.5)
        assert np.array_equal(flowmod.occlusion_mask(fwd, bwd, wrap=wrap), (err > bound) | outside)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_channel_mean_is_numpys_mean_bit_for_bit(dtype, channels):
    x = (np.random.default_rng(4).random((33, 65, channels)) * 255).astype(dtype)
    got = flowmod.channel_mean(x)
    assert got.dtype == x.mean(-1).dtype and np.array_equal(got, x.mean(-1))


def test_an_occlusion_is_confirmed_only_where_the_warp_does_not_explain_the_frame():
    """A square appears on a still background: the check fails there, and the warped previous frame misses it
    by far more than a few grey levels, so it stays occluded; failures where the warp explains the frame go."""
    prev = texture(128, 64).mean(-1).astype(np.uint8)
    cur = prev.copy()
    cur[20:40, 50:70] = 255 - cur[20:40, 50:70]
    still = np.zeros((64, 128, 2), np.float32)
    failed = np.zeros((64, 128), bool)
    failed[10:50, 40:80] = True                      # the check failed around the square too
    kept = flowmod.confirmed_occlusion(failed, prev, cur, still, levels=4.0)
    changed = np.abs(cur.astype(int) - prev.astype(int)) > 4
    assert np.array_equal(kept, failed & changed) and kept[20:40, 50:70].mean() > 0.9
    assert not kept[10:20].any() and not kept[40:50].any()
    assert flowmod.confirmed_occlusion(failed, prev, cur, still, levels=0) is failed    # 0: the check alone


def _looking_along(axis, width=256, height=128):
    """uint8 RGB panorama whose brightness is how far each pixel looks along ``axis``."""
    u, v = np.meshgrid(np.arange(width), np.arange(height))
    d = sphere.dir_from_lonlat(*sphere.lonlat_from_pixel(u, v, width, height))
    return np.repeat(np.rint(127.5 + 127 * (d @ np.asarray(axis, float)))[..., None], 3, -1).astype(np.uint8)


def test_tilted_maps_turn_the_sphere_about_the_forward_axis():
    up, forward = [0.0, 1.0, 0.0], [0.0, 0.0, -1.0]
    # content seen along e is seen along R e after the tilt (R: a roll of the same degrees), across the seam too
    tilted = flowmod.render_view(_looking_along(up), flowmod.tilted_maps(256, 128, 30))
    expected = _looking_along(sphere.rotation_matrix(0, 0, 30) @ np.array(up))
    assert np.abs(tilted.astype(int) - expected).max() <= 3
    assert np.abs(tilted.astype(int) - _looking_along(up)).max() > 50
    # the forward axis does not move, and no tilt changes nothing
    ahead = _looking_along(forward)
    assert np.abs(flowmod.render_view(ahead, flowmod.tilted_maps(256, 128, 30)).astype(int) - ahead).max() <= 3
    assert np.array_equal(flowmod.render_view(ahead, flowmod.tilted_maps(256, 128, 0.0)), ahead)
