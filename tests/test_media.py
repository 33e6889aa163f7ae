"""Decode/encode with PyAV: timing, audio copy, 360° metadata, atomic writes, bad files.

Real files: the shared test clips (skipped with a reason when absent) and
small clips synthesised here with PyAV.
"""
from __future__ import annotations

import hashlib
import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import shared_file
from hallucinator.errors import UserError
from hallucinator.io.mp4meta import inject_spherical_metadata
from hallucinator.io.probe import probe, scan_packets
from hallucinator.io.reader import VideoReader
from hallucinator.io.writer import PngSequenceWriter, VideoWriter, read_png_sequence

BATTLE = "videos/panolens-1941-battle-640x320.mp4"
CONGO = "videos/gvr-congo-stereo-tb.mp4"


# ----------------------------------------------------------------------------
# clip synthesis (used by the pipeline tests too)


def write_empty_video_with_audio(path, width: int, height: int):
    """A container whose video track holds no frame, next to a little mono audio."""
    return _write_silence(path, (width, height))


def write_audio_only(path):
    """An MP4 holding only a little mono audio."""
    return _write_silence(path, None, format="mp4")


def _write_silence(path, video_size, format=None):
    out = av.open(str(path), "w", format=format)
    if video_size:
        s = out.add_stream("libx264", rate=25)
        s.width, s.height = video_size
    a = out.add_stream("aac", rate=44100)
    a.layout = "mono"
    frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
    frame.sample_rate, frame.pts = 44100, 0
    for p in list(a.encode(frame)) + list(a.encode(None)):
        out.mux(p)
    out.close()
    return path


def pattern(width: int, height: int, t: int, seed: int = 0) -> np.ndarray:
    """A textured equirect-like frame whose content drifts right by 2 px per frame, with a moving blob."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(height // 4 + 1, width // 4 + 1, 3), dtype=np.uint8)
    import cv2

    tex = cv2.resize(base, (width, height), interpolation=cv2.INTER_CUBIC)
    tex = np.roll(tex, 2 * t, axis=1)
    yy, xx = np.mgrid[0:height, 0:width]
    cx = (width * 0.3 + 3 * t) % width
    blob = ((xx - cx) ** 2 + (yy - height / 2) ** 2) < (height / 6) ** 2
    tex[blob] = (255, 64, 32)
    return np.ascontiguousarray(tex)


def make_clip(path, frames: int = 8, size=(128, 64), fps: int = 25, codec: str = "libx264",
              pix_fmt: str = "yuv420p", pts=None, rotation=None, audio: bool = False, fmt=None,
              options=None, time_base=None, container_options=None):
    """Write a small real video file with PyAV and return its path."""
    path = str(path)
    w, h = size
    out = av.open(path, mode="w", format=fmt, options=container_options or {})
    s = out.add_stream(codec, rate=fps)
    s.width, s.height, s.pix_fmt = w, h, pix_fmt
    if time_base:
        s.time_base = time_base
        s.codec_context.time_base = time_base
    if options:
        s.options = options
    if rotation is not None:
        s.set_display_rotation(rotation)
    a = None
    if audio:
        a = out.add_stream("aac", rate=44100)
        a.layout = "stereo"
    for i in range(frames):
        img = pattern(w, h, i)
        f = av.VideoFrame.from_ndarray(img, format="rgb24")
        if pts is not None:
            f.pts = pts[i]
            f.time_base = time_base
        else:
            f.pts = i
            f.time_base = Fraction(1, fps)
        for p in s.encode(f):
            out.mux(p)
    for p in s.encode(None):
        out.mux(p)
    if a is not None:
        n = int(44100 * frames / fps)
        t = np.arange(n) / 44100
        tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        samples = np.stack([tone, tone])
        for k in range(0, n, 1024):
            chunk = np.ascontiguousarray(samples[:, k:k + 1024])
            af = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
            af.sample_rate = 44100
            af.pts = k
            for p in a.encode(af):
                out.mux(p)
        for p in a.encode(None):
            out.mux(p)
    out.close()
    return path


def audio_packets(path):
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size]


# ----------------------------------------------------------------------------
# reading


def test_reader_reports_real_clip():
    info = probe(shared_file(BATTLE))
    assert (info.width, info.height) == (640, 320)
    assert info.fps == 25 and info.frames == 500
    assert info.has_audio and info.audio_codec == "aac"
    assert info.rotation == 0 and info.stereo is None


def test_reader_frames_and_range():
    r = VideoReader(shared_file(BATTLE))
    got = list(r.frames(3, 6))
    assert [f.index for f in got] == [3, 4, 5]
    assert got[0].image.dtype == np.uint8 and got[0].image.shape == (320, 640, 3)
    assert got[1].time == pytest.approx(4 / 25)
    with av.open(str(shared_file(BATTLE))) as c:   # the same pictures as PyAV decodes them on its own
        direct = [f.to_ndarray(format="rgb24") for _, f in zip(range(6), c.decode(video=0))]
    assert all(np.array_equal(f.image, direct[f.index]) for f in got)


def test_reader_sees_stereo_and_spherical_side_data():
    info = probe(shared_file(CONGO))
    assert info.projection == "equirectangular"
    assert info.stereo == "top-bottom"


def test_rotation_is_applied(tmp_path):
    # a 64x128 portrait stream with a 90° display rotation shows as 128x64
    path = make_clip(tmp_path / "rot.mp4", frames=2, size=(64, 128), rotation=90,
                     options={"crf": "0"}, pix_fmt="yuv444p")
    r = VideoReader(path)
    assert r.info.rotation == 90
    assert r.info.display_size == (128, 64)
    img = next(iter(r)).image
    assert img.shape == (64, 128, 3)
    expect = np.rot90(pattern(64, 128, 0))   # counter-clockwise, as the display matrix says
    assert np.abs(img.astype(int) - expect.astype(int)).mean() < 4


def test_truncated_file_names_the_frame(tmp_path):
    data = shared_file(BATTLE).read_bytes()
    bad = tmp_path / "truncated.mp4"
    bad.write_bytes(data[: len(data) // 2])
    read = []
    with pytest.raises(UserError, match=r"truncated.*frame (\d+)") as err:
        for f in VideoReader(bad):
            read.append(f.index)
    # the message names the first frame that could not be read: every frame before it was delivered
    assert read == list(range(len(read))) and 0 < len(read) < 500
    assert f"frame {len(read)} cannot be read" in str(err.value) and f"--frames 0:{len(read)}" in str(err.value)


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_packet_scan_finds_the_whole_frames_of_a_truncated_file(tmp_path, suffix):
    """Reading packets (not pixels) finds a cut file; its whole frames decode, B-frames included."""
    clip = make_clip(tmp_path / f"clip{suffix}", frames=40, size=(256, 128), options={"bframes": "3"},
                     container_options={"movflags": "faststart"} if suffix == ".mp4" else None)  # index first
    whole = scan_packets(clip)
    assert whole.problem is None and whole.whole_frames == whole.packets == 40
    whole.require(clip, None)
    data = Path(clip).read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) * 2 // 3])
    scan = scan_packets(cut)
    assert scan.problem is not None and 0 < scan.whole_frames < 40, scan
    assert len(list(VideoReader(cut).frames(0, scan.whole_frames))) == scan.whole_frames
    with pytest.raises(UserError, match=rf"--frames 0:{scan.whole_frames}\b"):
        scan.require(cut, None)
    scan.require(cut, scan.whole_frames)       # the whole frames may be asked for


def test_packet_scan_of_the_real_clip_cut_at_100_kb(tmp_path):
    data = shared_file(BATTLE).read_bytes()
    assert scan_packets(shared_file(BATTLE)).problem is None
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[:100_000])
    scan = scan_packets(cut)
    assert scan.declared == 500 and scan.problem and 0 < scan.whole_frames < 30
    assert len(list(VideoReader(cut).frames(0, scan.whole_frames))) == scan.whole_frames


def test_transparent_video_is_composited_onto_neutral_grey(tmp_path):
    path = tmp_path / "alpha.mov"
    rgba = np.zeros((32, 64, 4), np.uint8)
    rgba[..., 0] = 250
    rgba[:, 32:, 3] = 255           # right half opaque red, left half fully transparent
    with av.open(str(path), "w") as out:
        s = out.add_stream("png", rate=25)
        s.width, s.height, s.pix_fmt = 64, 32, "rgba"
        for i in range(2):
            f = av.VideoFrame.from_ndarray(rgba, format="rgba")
            f.pts, f.time_base = i, Fraction(1, 25)
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)
    images = [f.image for f in VideoReader(path)]
    assert len(images) == 2
    assert images[0][0, 0].tolist() == [128, 128, 128] and images[0][0, 40].tolist() == [250, 0, 0]


def test_corrupt_file_names_the_frame(tmp_path):
    data = bytearray(shared_file(BATTLE).read_bytes())
    rng = np.random.default_rng(1)
    mid = len(data) // 2
    data[mid:mid + 20000] = rng.integers(0, 256, 20000, dtype=np.uint8).tobytes()
    bad = tmp_path / "corrupt.mp4"
    bad.write_bytes(bytes(data))
    read = []
    with pytest.raises(UserError, match=r"frame \d+") as err:
        for f in VideoReader(bad):
            read.append(f.index)
    assert read == list(range(len(read))) and 0 < len(read) < 500
    assert f"frame {len(read)}" in str(err.value) and f"--frames 0:{len(read)}" in str(err.value)


def test_range_past_the_end(tmp_path):
    path = make_clip(tmp_path / "short.mkv", frames=3)   # Matroska: no declared frame count
    with pytest.raises(UserError, match="past its end"):
        list(VideoReader(path).frames(5, 8))


def test_not_a_video_and_missing(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 100)
    with pytest.raises(UserError, match="cannot read"):
        VideoReader(junk)
    with pytest.raises(UserError, match="does not exist"):
        VideoReader(tmp_path / "nope.mp4")


def test_audio_only_file_is_refused(tmp_path):
    path = write_audio_only(tmp_path / "sound.m4a")
    with pytest.raises(UserError, match="no video stream"):
        VideoReader(path)


def test_zero_frames_is_refused(tmp_path):
    # a video track without a single frame, next to a little audio
    path = write_empty_video_with_audio(tmp_path / "empty.mkv", 64, 32)
    with av.open(str(path)) as c:
        assert len(c.streams.video) == 1
    with pytest.raises(UserError, match="no video frames"):
        list(VideoReader(path))


# ----------------------------------------------------------------------------
# writing


def test_writer_keeps_timing_audio_and_marks_360():
    src = shared_file(BATTLE)
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "out.mp4"
        r = VideoReader(src)
        with VideoWriter(out, fps=r.info.fps, time_base=r.info.time_base, width=320, height=160, audio_from=src,
                         audio_range=(0.0, 1.0)) as w:
            for f in r.frames(0, 25):
                w.write(np.ascontiguousarray(f.image[::2, ::2]), pts=f.pts)
        assert not list(Path(d).glob(".*.tmp")), "temporary files left behind"
        info = probe(out)
        assert info.frames == 25 and info.fps == 25 and info.time_base == r.info.time_base
        assert (info.width, info.height) == (320, 160)
        assert info.projection == "equirectangular" and info.stereo == "mono"
        assert sum(1 for _ in VideoReader(out)) == 25
        # audio is copied packet for packet: the output's packets are the source's first ones
        src_pk, out_pk = audio_packets(src), audio_packets(out)
        assert 40 <= len(out_pk) <= 46          # one second of 1024-sample AAC at 44.1 kHz
        assert out_pk == src_pk[:len(out_pk)]
        # os.replace keeps ordinary permissions
        assert oct(out.stat().st_mode & 0o777) != oct(0o600)


def test_writer_preserves_variable_frame_rate(tmp_path):
    tb = Fraction(1, 1000)
    pts = [0, 40, 80, 200, 240, 400, 440, 480]
    src = make_clip(tmp_path / "vfr.mp4", frames=8, pts=pts, time_base=tb)
    r = VideoReader(src)
    src_pts = [f.pts for f in VideoReader(src)]
    out = tmp_path / "out.mp4"
    with VideoWriter(out, fps=r.info.fps, time_base=r.info.time_base, width=128, height=64) as w:
        for f in r:
            w.write(f.image, pts=f.pts - r.info.start_pts)
    got = [f.pts for f in VideoReader(out)]
    assert [float(p * r.info.time_base) for p in src_pts] == pytest.approx(
        [float(p * probe(out).time_base) + float(src_pts[0] * r.info.time_base) for p in got])


def test_writer_h265_and_stereo_marking(tmp_path):
    out = tmp_path / "tb.mp4"
    with VideoWriter(out, fps=30, width=128, height=128, codec="libx265", crf=28, stereo="top-bottom") as w:
        for i in range(3):
            w.write(np.vstack([pattern(128, 64, i), pattern(128, 64, i, seed=1)]))
    info = probe(out)
    assert info.codec == "hevc" and info.frames == 3
    assert info.projection == "equirectangular" and info.stereo == "top-bottom"


def test_writer_failure_leaves_nothing(tmp_path):
    out = tmp_path / "never.mp4"
    with pytest.raises(RuntimeError):
        with VideoWriter(out, fps=25, width=64, height=32) as w:
            w.write(pattern(64, 32, 0))
            raise RuntimeError("stop")
    assert os.listdir(tmp_path) == []


def test_writer_refuses_odd_size_and_bad_codec(tmp_path):
    with pytest.raises(UserError, match="even"):
        VideoWriter(tmp_path / "a.mp4", fps=25, width=65, height=32)
    with pytest.raises(UserError, match="codec"):
        VideoWriter(tmp_path / "a.mp4", fps=25, width=64, height=32, codec="mpeg2video")
    assert os.listdir(tmp_path) == []


def test_inject_metadata_when_moov_precedes_mdat(tmp_path):
    # the battle clip stores moov before mdat: growing moov must shift every chunk offset
    src = shared_file(BATTLE)
    copy = tmp_path / "copy.mp4"
    copy.write_bytes(src.read_bytes())
    inject_spherical_metadata(copy)
    assert probe(copy).projection == "equirectangular"

    def digest(path):
        h = hashlib.sha256()
        for f in VideoReader(path).frames(0, 500):
            h.update(f.image.tobytes())
        return h.hexdigest()

    assert digest(copy) == digest(src)
    assert audio_packets(copy) == audio_packets(src)


def test_v1_xml_box_alone_is_recognised(tmp_path):
    path = make_clip(tmp_path / "v1.mp4", frames=2)
    assert probe(path).projection is None
    inject_spherical_metadata(path, v2=False)
    data = Path(path).read_bytes()
    assert b"GSpherical:ProjectionType>equirectangular" in data and b"sv3d" not in data
    assert probe(path).projection == "equirectangular"


def test_png_sequence_appears_only_when_complete(tmp_path):
    folder = tmp_path / "frames"
    w = PngSequenceWriter(folder)
    w.write(pattern(64, 32, 0))
    w.write(pattern(64, 32, 1))
    assert not folder.exists()
    w.close()
    frames = read_png_sequence(folder)
    assert len(frames) == 2 and np.array_equal(frames[1], pattern(64, 32, 1))
    w = PngSequenceWriter(folder)
    w.write(pattern(64, 32, 5))
    w.abort()
    assert len(read_png_sequence(folder)) == 2
    assert sorted(os.listdir(tmp_path)) == ["frames"]


def test_writer_audio_range_set_once_the_frames_are_known(tmp_path):
    """set_audio_start/set_audio_end copy exactly the source's audio packets that overlap the frames written."""
    src = shared_file(BATTLE)
    out = tmp_path / "cut.mp4"
    r = VideoReader(src)
    with VideoWriter(out, fps=r.info.fps, time_base=r.info.time_base, width=320, height=160, audio_from=src) as w:
        assert w.has_audio
        first = last = None
        for f in r.frames(10, 35):
            if first is None:
                first = f
                w.set_audio_start(f.time)
            w.write(np.ascontiguousarray(f.image[::2, ::2]), pts=f.pts - first.pts)
            last = f
        w.set_audio_end(last.time + 1 / 25)
    with av.open(str(src)) as c:
        a = c.streams.audio[0]
        start, end = round(first.time / a.time_base), round((last.time + 1 / 25) / a.time_base)
        expected = [bytes(p) for p in c.demux(a) if p.size and p.pts + p.duration > start and p.pts < end]
    assert audio_packets(out) == expected and 42 <= len(expected) <= 46   # one second of 1024-sample AAC
    with av.open(str(out)) as c:
        first_audio = next(p for p in c.demux(c.streams.audio[0]) if p.size)
        assert abs(float(first_audio.pts * first_audio.time_base)) < 1024 / 44100   # shifted to the video's start
