"""The seam and pole figures measure what they claim, on images whose answer is known."""
import math

import numpy as np
import pytest

from hallucinator import quality, sphere
from hallucinator.demo import demo_panorama


def test_a_dark_uint8_frame_is_read_in_0_255_units():
    """The dtype decides the scale: a uint8 frame whose brightest pixel is 1 is 1/255 gray, not 1."""
    dark = np.ones((4, 8, 3), np.uint8)
    assert quality._gray(dark) == pytest.approx(np.full((4, 8), 1 / 255))
    black = np.zeros((4, 8, 3), np.uint8)
    assert np.abs(quality.residual(black, dark)).max() == pytest.approx(1 / 255)


def test_float_frames_are_taken_as_they_are_and_gray_weights_sum_to_one():
    img = np.zeros((2, 2, 3))
    img[..., 0], img[..., 1], img[..., 2] = 0.2, 0.4, 0.6
    assert quality._gray(img) == pytest.approx(np.full((2, 2), 0.299 * 0.2 + 0.587 * 0.4 + 0.114 * 0.6))
    assert quality._gray(np.full((2, 2, 3), 255, np.uint8)) == pytest.approx(np.ones((2, 2)))
    assert quality._gray(np.full((2, 2, 3), 65535, np.uint16)) == pytest.approx(np.ones((2, 2)))


def test_seam_ratio_is_the_jump_across_the_seam_over_the_mean_neighbour_jump():
    w = 256
    lon = 2 * np.pi * (np.arange(w) + 0.5) / w
    # a sine is steepest at the seam (lon 0): its jump there over the mean |slope| (2/pi of the peak) is pi/2
    assert quality.seam_ratio(np.tile(np.sin(lon), (16, 1))) == pytest.approx(np.pi / 2, rel=0.01)
    # a cosine is flat at the seam: no jump there
    assert quality.seam_ratio(np.tile(np.cos(lon), (16, 1))) < 1e-12
    ramp = np.tile(np.arange(w) / w, (16, 1))  # rises by 1/w per column, falls by 1 - 1/w across the seam
    assert quality.seam_ratio(ramp) == pytest.approx((1 - 1 / w) / ((w - 1) / w / (w - 1)), rel=1e-9)


def test_structure_stats_on_isotropic_and_streaked_views():
    rng = np.random.default_rng(0)
    size = 128
    import cv2

    noise = cv2.GaussianBlur(rng.standard_normal((size, size)), (0, 0), 2.0)
    yy, xx = np.mgrid[0:size, 0:size] - (size - 1) / 2
    radial = np.sin(np.arctan2(yy, xx) * 24)  # streaks converging on the centre: gradients along the tangent
    rings = np.sin(np.hypot(yy, xx) / 2)      # circles about the centre: gradients along the radius
    iso, rad, ring = (quality.structure_stats(v) for v in (noise, radial, rings))
    assert iso["coherence"] < 0.5 < rad["coherence"]
    assert rad["tangential_bias"] > 0.8
    assert ring["tangential_bias"] < -0.8
    assert abs(iso["tangential_bias"]) < 0.2
    assert rad["strength"] == pytest.approx(np.abs(radial[8:-8, 8:-8]).mean())


def test_inspect_of_an_unchanged_panorama_has_no_strength():
    pano = demo_panorama(256)
    f = quality.inspect(pano, pano)
    assert f["strength_mean"] == 0.0 and f["strength_pole"] == 0.0
    assert f["view_size"] == round(256 / math.pi)


def test_verdicts_follow_the_limits_in_both_directions():
    good = {k: (limit - 0.01 if op == "<=" else limit + 0.01) for k, (op, limit) in quality.LIMITS.items()}
    bad = {k: (limit + 0.01 if op == "<=" else limit - 0.01) for k, (op, limit) in quality.LIMITS.items()}
    assert all(quality.verdicts(good).values())
    assert not any(quality.verdicts(bad).values())
    assert quality.verdicts({"seam_ratio": 0.9, "strength_mean": 0.1}) == {"seam_ratio": True}  # limited keys only


def test_views_of_look_where_they_say():
    """A residual that is 1 above latitude 60° only: the 'up' view is bright, 'down' and the horizon dark."""
    h, w = 128, 256
    lat = np.degrees(sphere.latitude_of_rows(h))
    res = np.repeat((lat > 60).astype(np.float64)[:, None], w, axis=1)
    views = quality.views_of(res, 64)
    assert views["up"][32, 32] == pytest.approx(1.0)
    assert views["down"].max() == pytest.approx(0.0)
    assert all(views[f"yaw{int(y)}"][32, 32] == pytest.approx(0.0) for y in quality.HORIZON_YAWS)
