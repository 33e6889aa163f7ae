"""Latitude-adaptive quantisation: the offsets, and what a real H.264 encode does with them."""
from __future__ import annotations

import numpy as np
import pytest

from hallucinator.io.latitude_qp import MAX_OFFSET, latitude_offsets, row_offset
from hallucinator.io.reader import VideoReader
from hallucinator.io.writer import VideoWriter


def per_row(height, eyes=1):
    q = np.zeros(height, int)
    for y, rows, offset in latitude_offsets(height, eyes):
        q[y:y + rows] = offset
    return q


def test_offsets_grow_from_the_equator_to_the_poles_alike_in_both_hemispheres():
    assert row_offset(0) == 0 and row_offset(60) == pytest.approx(3.0) and row_offset(90) == MAX_OFFSET
    q = per_row(512)
    assert q[240:272].max() == 0 and q[0] == q[-1] == round(row_offset(90 - 180 * 8 / 512))
    assert np.array_equal(q, q[::-1])                                       # symmetric about the equator
    assert np.all(np.diff(q[:256]) <= 0) and q.max() <= MAX_OFFSET       # falling toward the equator
    assert np.all(np.diff([y for y, _, _ in latitude_offsets(512)]) > 0)  # runs in order, not overlapping


def test_each_eye_of_a_top_bottom_frame_gets_its_own_latitudes():
    assert np.array_equal(per_row(512, eyes=2), np.tile(per_row(256), 2))


def _encode(path, frames, latitude_qp):
    h, w = frames[0].shape[:2]
    with VideoWriter(path, fps=25, width=w, height=h, crf=23, latitude_qp=latitude_qp) as out:
        for f in frames:
            out.write(f)
    return [f.image for f in VideoReader(path)]


def test_a_real_encode_spends_fewer_bits_near_the_poles_and_the_same_at_the_equator(tmp_path):
    import cv2

    rng = np.random.default_rng(0)     # texture of a few pixels' size, shifting from frame to frame
    base = cv2.GaussianBlur(rng.normal(128, 60, size=(128, 320, 3)).astype(np.float32), (0, 0), 1.5)
    frames = [np.clip(base[:, 8 * k:8 * k + 256], 0, 255).astype(np.uint8) for k in range(6)]
    plain = _encode(tmp_path / "uniform.mp4", frames, False)
    lat = _encode(tmp_path / "latitude.mp4", frames, True)
    assert len(plain) == len(lat) == 6

    def error(decoded, rows):
        return float(np.mean([np.abs(d[rows].astype(int) - f[rows].astype(int)).mean()
                              for d, f in zip(decoded, frames)]))
    caps, equator = np.r_[0:16, 112:128], slice(48, 80)
    assert error(lat, caps) > 1.2 * error(plain, caps)                   # coarser where rows are oversampled
    assert error(lat, equator) == pytest.approx(error(plain, equator), rel=0.1)
    assert (tmp_path / "latitude.mp4").stat().st_size < (tmp_path / "uniform.mp4").stat().st_size


def test_lossless_stays_lossless(tmp_path):
    frames = [np.random.default_rng(1).integers(0, 256, size=(64, 128, 3), dtype=np.uint8)]
    with VideoWriter(tmp_path / "x.mp4", fps=25, width=128, height=64, crf=0, latitude_qp=True) as out:
        assert out._roi is None
        out.write(frames[0])
