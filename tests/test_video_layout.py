"""Source frames to working frames: the resize keeps every column's longitude, eyes are split."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from hallucinator.io.probe import VideoInfo
from hallucinator.video.layout import Layout, plan_layout
from hallucinator.video.options import VideoOptions

CYCLES = 5       # around the sphere


def longitude_wave(width: int, height: int) -> np.ndarray:
    """uint8 RGB whose value is a cosine of longitude, sampled at the column centres."""
    lon = 2 * np.pi * (np.arange(width) + 0.5) / width
    row = 128 + 100 * np.cos(CYCLES * lon)
    return np.repeat(np.round(row).astype(np.uint8)[None, :, None], height, 0).repeat(3, 2)


def phase_error_px(image: np.ndarray) -> float:
    """How far (output pixels) the wave sits from where the column centres' longitudes put it."""
    w = image.shape[1]
    row = image[image.shape[0] // 2, :, 0].astype(float)
    lon = 2 * np.pi * (np.arange(w) + 0.5) / w
    phase = np.angle(np.sum(row * np.exp(-1j * CYCLES * lon)))     # 0 when the wave is where it belongs
    return float(phase / (2 * np.pi * CYCLES) * w)


def info(width: int, height: int) -> VideoInfo:
    return VideoInfo("x.mp4", width, height, Fraction(25), Fraction(1, 25), 1, 1.0, "h264", "yuv444p10le", 10, False,
                     None, 0, None, None, 0)


@pytest.mark.parametrize("src_size", [(259, 129), (640, 320), (200, 100)])
def test_resize_keeps_longitude(src_size):
    """259 -> 256 columns used to shift the picture by about 0.6 px in longitude."""
    layout = plan_layout(info(*src_size), VideoOptions(size=(256, 128)))
    assert (layout.width, layout.height) == (256, 128)
    src = longitude_wave(*src_size)
    assert abs(phase_error_px(src)) < 0.01
    (out,) = layout.split(src)
    assert out.shape == (128, 256, 3) and out.dtype == np.uint8
    assert abs(phase_error_px(out)) < 0.01


def test_resize_wraps_at_the_seam():
    """A picture rolled by a whole number of source columns comes out rolled by the same longitude."""
    layout = Layout(eyes=1, width=256, height=128, rotation=0, to_2to1=False)
    rng = np.random.default_rng(0)
    src = rng.integers(0, 256, size=(256, 512, 3), dtype=np.uint8)
    a = layout.split(src)[0].astype(int)
    b = layout.split(np.roll(src, 64, axis=1))[0].astype(int)
    assert np.abs(np.roll(a, 32, axis=1) - b).max() <= 1      # the seam columns too


def test_top_bottom_frames_split_into_eyes():
    layout = Layout(eyes=2, width=256, height=128, rotation=0, to_2to1=False)
    frame = np.zeros((256, 256, 3), np.uint8)
    frame[128:] = 200
    left, right = layout.split(frame)
    assert left.shape == right.shape == (128, 256, 3)
    assert left.max() == 0 and right.min() == 200
    assert np.array_equal(layout.join([left, right]), frame) and layout.out_size == (256, 256)
