"""The outputs of a run: timestamps kept from the source, and all outputs or none."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from hallucinator.io.probe import VideoInfo, probe
from hallucinator.io.writer import read_png_sequence
from hallucinator.video.figures import Timer
from hallucinator.video.layout import Layout
from hallucinator.video.options import VideoOptions
from hallucinator.video.sink import Sink, Timeline

LAYOUT = Layout(eyes=1, width=64, height=32, rotation=0, to_2to1=False)


def info(fps=Fraction(25), time_base=Fraction(1, 1000)) -> VideoInfo:
    return VideoInfo("x.mp4", 64, 32, fps, time_base, 0, None, "h264", "yuv420p", 8, False, None, 0, None, None, 0)


def test_timeline_shifts_to_zero_and_keeps_gaps():
    t = Timeline(info())
    assert [t.place(p) for p in (500, 540, 580, 700)] == [(0, False), (40, False), (80, False), (200, False)]
    assert t.seconds(t.first) == 0.5
    assert t.end_seconds() == pytest.approx(0.5 + 0.2 + 0.04)     # after the last frame, one frame period on


def test_timeline_retimes_out_of_order_and_fills_missing_timestamps():
    t = Timeline(info())
    assert t.place(100) == (0, False)
    assert t.place(100) == (1, True)          # not after the previous one: moved just after it
    assert t.place(None) == (41, False)       # no timestamp: one frame period after the previous output
    assert Timeline(info(fps=None)).step == 1


def frames(n):
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, size=(32, 64, 3), dtype=np.uint8) for _ in range(n)]


def test_all_outputs_written_together(tmp_path):
    opts = VideoOptions(control=str(tmp_path / "control.mp4"), png_dir=str(tmp_path / "png"))
    timer, warnings = Timer(), []
    with Sink(str(tmp_path / "dream.mp4"), opts, info(), LAYOUT, None, 0, timer, warnings) as sink:
        for k, f in enumerate(frames(3)):
            sink.write(k, 1000 + 40 * k, f, 255 - f)
    assert probe(tmp_path / "dream.mp4").frames == 3 and probe(tmp_path / "control.mp4").frames == 3
    assert all(np.array_equal(a, b) for a, b in zip(read_png_sequence(tmp_path / "png"), frames(3)))
    assert timer.t["encode"] > 0 and warnings == []


def test_an_error_leaves_no_output(tmp_path):
    opts = VideoOptions(control=str(tmp_path / "control.mp4"), png_dir=str(tmp_path / "png"))
    with pytest.raises(RuntimeError, match="stop"):
        with Sink(str(tmp_path / "dream.mp4"), opts, info(), LAYOUT, None, 0, Timer(), []) as sink:
            sink.write(0, 0, frames(1)[0], frames(1)[0])
            raise RuntimeError("stop")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_bad_output_refuses_before_anything_is_written(tmp_path):
    opts = VideoOptions(png_dir=str(tmp_path / "missing" / "png"))
    with pytest.raises(Exception, match="does not exist"):
        with Sink(str(tmp_path / "dream.mp4"), opts, info(), LAYOUT, None, 0, Timer(), []):
            pass
    assert list(tmp_path.iterdir()) == []     # the dream's encoder, opened first, was dropped too
