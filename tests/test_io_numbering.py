"""One frame numbering: the dream pipeline's reader and the viewer's threaded source count frames alike.

Variable-frame-rate clips are the case that used to differ: the viewer numbered
frames ``round(t * fps)`` (skipping and repeating numbers) while the pipeline
counted them 0, 1, 2, ...
"""
from __future__ import annotations

from fractions import Fraction

import pytest

from conftest import shared_file
from hallucinator.io.probe import Stereo
from hallucinator.io.reader import Decoder, VideoReader
from hallucinator.viewer.frames import EOF, VideoSource
from test_media import make_clip

VFR_PTS = [0, 40, 80, 200, 240, 400, 440, 480]   # milliseconds: gaps of 1, 3 and 4 frame periods
CONGO = "videos/gvr-congo-stereo-tb.mp4"


@pytest.fixture(params=["mp4", "mkv"])
def vfr(request, tmp_path):
    """An 8-frame variable-frame-rate clip (MKV declares no frame count; MP4 does)."""
    return make_clip(tmp_path / f"vfr.{request.param}", frames=len(VFR_PTS), pts=VFR_PTS,
                     time_base=Fraction(1, 1000), options={"g": "3"})


def drain(src: VideoSource):
    frames = []
    while True:
        f = src.get(timeout=30)
        assert f is not None, "the decoder thread delivered nothing for 30 s"
        if f is EOF:
            return frames
        frames.append(f)


def test_reader_and_viewer_source_number_vfr_frames_alike(vfr):
    reader = [(f.index, f.time) for f in VideoReader(vfr)]
    assert [i for i, _ in reader] == list(range(len(VFR_PTS)))
    with VideoSource(vfr) as src:
        src.start(0.0)
        shown = drain(src)
    assert [f.index for f in shown] == list(range(len(VFR_PTS)))
    assert [f.time for f in shown] == pytest.approx([p / 1000 for p in VFR_PTS])
    assert src.frame_count == len(VFR_PTS)


def test_seek_keeps_the_numbering(vfr):
    with VideoSource(vfr) as src:
        src.start(0.0)
        drain(src)
        src.seek(0.39)          # frame 5 is at 0.40 s; the frames before it are skipped after the key frame
        after = drain(src)
    assert [f.index for f in after] == [5, 6, 7]
    assert [f.time for f in after] == pytest.approx([0.40, 0.44, 0.48])


def test_frame_at_any_order_gives_that_frame(vfr):
    expected = {f.index: f.image for f in VideoReader(vfr)}
    with VideoSource(vfr, planar=False) as src:
        for i in (5, 3, 7, 0, 4, 4, 6, 1):
            f = src.frame_at(i)
            assert f.index == i and f.time == pytest.approx(VFR_PTS[i] / 1000)
            assert (f.image == expected[i]).all()


def test_decoder_numbers_frames_after_a_seek_from_the_timestamp_table(vfr):
    with Decoder(vfr) as dec:
        assert dec.frame_count() == len(VFR_PTS)
        assert [dec.time_of(i) for i in range(len(VFR_PTS))] == pytest.approx([p / 1000 for p in VFR_PTS])
        dec.seek(dec.time_of(6))
        got = [i for i, _ in dec.frames()]
    assert got[-2:] == [6, 7] and got == list(range(got[0], 8)) and got[0] <= 6


def test_loop_restarts_the_numbering(vfr):
    with VideoSource(vfr, loop=True) as src:
        src.start(0.0)
        frames = [src.get(timeout=30) for _ in range(2 * len(VFR_PTS) + 2)]
    assert [(f.index, f.loop) for f in frames] == \
        [(i, 0) for i in range(8)] + [(i, 1) for i in range(8)] + [(0, 2), (1, 2)]


def test_viewer_source_reads_stereo_side_data():
    with VideoSource(shared_file(CONGO)) as src:
        assert src.stereo is Stereo.TOP_BOTTOM


def test_hwaccel_request_decodes_the_same_frames(vfr):
    with VideoSource(vfr, hwaccel=True, planar=False) as hw, VideoSource(vfr, planar=False) as sw:
        hw.start(0.0)
        sw.start(0.0)
        a, b = drain(hw), drain(sw)
    assert [f.index for f in a] == [f.index for f in b] == list(range(len(VFR_PTS)))
    assert hw.hwaccel_used in (None, "cuda", "videotoolbox", "d3d11va", "vaapi")


@pytest.mark.gl
def test_view_logs_the_pipeline_numbering_of_a_vfr_file(xdisplay, tmp_path):
    """``view --every-frame --pose-log`` logs frames 0..N-1, as ``dream`` numbers them."""
    from hallucinator.cli import main
    from hallucinator.viewer.poselog import read_pose_log

    clip = make_clip(tmp_path / "vfr.mkv", frames=len(VFR_PTS), pts=VFR_PTS, time_base=Fraction(1, 1000))
    log = tmp_path / "p.tsv"
    assert main(["view", str(clip), "--headless", "--no-audio", "--every-frame", "--size", "64x36",
                 "--pose-log", str(log)]) == 0
    assert [int(r["frame"]) for r in read_pose_log(log)] == [f.index for f in VideoReader(clip)] == list(range(8))


def test_the_frame_on_screen_at_a_time_follows_the_timestamps(vfr):
    """A still taken at --time T shows the last frame whose time has come (not round(T * fps))."""
    with VideoSource(vfr) as src:
        got = [src.index_at(t) for t in (0.0, 0.039, 0.04, 0.199, 0.2, 0.39, 0.40, 0.5)]
    assert got == [0, 0, 1, 2, 3, 4, 5, 7]
