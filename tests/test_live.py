"""Live dreaming without OpenGL: the dream thread's choice of frames on a fake clock, the control it pairs,
seeks, cameras (parsing, a camera that cannot be opened), and bad student files (one line, exit 2)."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from hallucinator.errors import UserError
from hallucinator.io.probe import Stereo
from hallucinator.live.camera import CameraSource, parse_camera
from hallucinator.live.pipeline import DreamPicker, LiveSource
from hallucinator.viewer.frames import EOF, Frame
from hallucinator.viewer.scheduler import ControlLockstep, FrameScheduler

BATTLE = "videos/panolens-1941-battle-640x320.mp4"
FPS = 25.0


class FakeClock:
    def __init__(self):
        self.t = 0.0
        self.lock = threading.Lock()

    def __call__(self):
        with self.lock:
            return self.t

    def advance(self, dt):
        with self.lock:
            self.t += dt


class ListSource:
    """Frames 0..n-1 at 25 fps (frame k's pixels all k), ready at once; seekable."""

    def __init__(self, n):
        self.n, self.next, self.path = n, 0, "list"
        self.fps, self.duration, self.frame_count, self.has_audio = FPS, n / FPS, n, False
        self.lock = threading.Lock()

    def start(self, start_s=0.0):
        self.seek(start_s)

    def seek(self, t):
        with self.lock:
            self.next = int(round(t * FPS))

    def get(self, timeout=None):
        with self.lock:
            k = self.next
            if k >= self.n:
                return EOF
            self.next += 1
        return Frame(k, k / FPS, np.full((4, 8, 3), k, np.uint8))

    def close(self):
        pass


class SlowEngine:
    """Adds 100 to every pixel; each dream advances the fake clock by ``latency`` seconds."""

    name, providers, size = "fake", ("none",), (8, 4)

    def __init__(self, clock, latency):
        self.clock, self.latency, self.resets = clock, latency, 0

    def chain(self):
        return self

    def reset(self):
        self.resets += 1

    def dream(self, frame):
        self.clock.advance(self.latency)
        return frame + 100


def dream_all(source, engine, clock, **kw):
    """(the live source, every frame it gives) for ``source`` dreamed by ``engine`` on the fake ``clock``."""
    live = LiveSource(source, engine, clock=clock, **kw)
    live.follow_clock(clock)
    live.start()
    try:
        return live, drain(live)
    finally:
        live.close()


def drain(live, limit=1000):
    out = []
    for _ in range(limit):
        f = live.get(timeout=5)
        assert f is not None, "the dream thread stalled"
        if f is EOF:
            return out
        out.append(f)
    raise AssertionError("no end")


def test_picker_chooses_the_newest_frame_due_when_its_dream_is_ready():
    frames = [Frame(k, k / FPS, None) for k in range(10, 18)]
    pick = DreamPicker(lambda f: f.time)
    assert pick.choose(frames, None, 1.0) == (0, 0)              # every-frame playback: in order
    assert pick.choose(frames, 0.0, 0.1) == (0, 0)               # clock behind the frames: in order
    assert pick.choose(frames, 0.40, 0.0) == (0, 0)              # frame 10 is due now
    assert pick.choose(frames, 0.40, 0.09) == (2, 2)             # frame 12 (0.48 s) is due when ready
    assert pick.choose(frames, 5.0, 0.1) == (7, 7)               # far behind: the newest waiting
    with pytest.raises(ValueError):
        pick.choose([], 0.0, 0.0)


def test_dream_thread_in_order_when_it_keeps_up():
    clock = FakeClock()   # the fake clock never moves: dreaming is always ahead
    live, frames = dream_all(ListSource(30), SlowEngine(clock, 0.0), clock)
    assert [f.index for f in frames] == list(range(30))
    assert all(int(f.image[0, 0, 0]) == f.index + 100 for f in frames)
    assert live.stats.dreamed == 30 and live.stats.passed_over == 0


def test_dream_thread_falls_behind_passes_over_frames_and_the_scheduler_counts_them():
    """Dreams take 0.1 s of playback time (2.5 frame periods): the thread dreams the frame that will be due
    when its dream is ready and passes over the others; the player's scheduler counts them as dropped."""
    clock = FakeClock()
    live, frames = dream_all(ListSource(40), SlowEngine(clock, 0.1), clock)
    idx = [f.index for f in frames]
    assert idx[:3] == [0, 5, 7] and all(b > a for a, b in zip(idx, idx[1:])), idx
    # each dream after the first is of the newest frame due 0.1 s (the latency estimate) after its start
    lat = live.stats.latencies_s
    assert lat == pytest.approx([0.1] * len(idx))
    assert live.stats.passed_over == idx[-1] + 1 - len(idx)
    sched = FrameScheduler(FPS, 40 / FPS, 40)
    dropped = sum(sched.presented(f, f.time).dropped for f in frames)
    assert dropped == live.stats.passed_over


def test_control_is_the_source_frame_of_each_dream():
    clock = FakeClock()
    live = LiveSource(ListSource(12), SlowEngine(clock, 0.1), clock=clock)
    live.follow_clock(clock)
    lock = ControlLockstep(lambda timeout: live.control.get(timeout=timeout))
    live.start()
    try:
        frames = drain(live)
    finally:
        live.close()
    for f in frames:
        c = lock.frame_for(f)
        assert c.index == f.index and int(c.image[0, 0, 0]) == f.index
        assert np.array_equal(f.image.astype(int) - c.image, np.full(c.image.shape, 100))
    assert live.control.get(timeout=0) is EOF


def test_seek_restarts_the_chains_and_drops_stale_dreams():
    clock = FakeClock()
    engine = SlowEngine(clock, 0.0)
    live = LiveSource(ListSource(100), engine, clock=clock, out_queue=2)
    live.start()
    try:
        assert live.get(timeout=5).index == 0
        resets = engine.resets
        live.seek(2.0)                    # frame 50
        f = live.get(timeout=5)
        assert f.index == 50 and engine.resets == resets + 1
        assert live.control.get(timeout=0).index == 50
    finally:
        live.close()


def test_top_bottom_stereo_dreams_each_eye_with_its_own_chain():
    class Eyes:
        def __init__(self):
            self.made = []

        def chain(self):
            eng = SlowEngine(FakeClock(), 0.0)
            self.made.append(eng)
            return eng

    eyes = Eyes()
    live = LiveSource(ListSource(3), eyes, stereo=Stereo.TOP_BOTTOM)
    assert len(eyes.made) == 2 and live.stereo is Stereo.TOP_BOTTOM
    assert live._dream(np.zeros((4, 8, 3), np.uint8)).shape == (4, 8, 3)


def test_camera_words():
    assert parse_camera("camera:0") == 0 and parse_camera("camera:12") == 12 and parse_camera("CAMERA:1") == 1
    assert parse_camera("clip.mp4") is None and parse_camera("cameras/clip.mp4") is None
    for bad in ("camera:", "camera:x", "camera:-1", "camera:/dev/video0"):
        with pytest.raises(UserError, match="camera:N"):
            parse_camera(bad)


def test_camera_that_cannot_be_opened_is_one_line():
    with pytest.raises(UserError, match=r"camera:97 cannot be opened .*connect the camera"):
        CameraSource(97)


def _one_line_exit_2(capsys, args, *needles):
    from hallucinator.cli import main

    assert main([str(a) for a in args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for n in needles:
        assert n in err, err
    return err


def test_view_live_bad_input_is_one_line_exit_2(shared, tmp_path, capsys):
    video = shared(BATTLE)
    _one_line_exit_2(capsys, ["view", "camera:97", "--live", "--headless", "--frames", "1"], "camera:97")
    _one_line_exit_2(capsys, ["view", "camera:x", "--live", "--headless"], "camera:N")
    _one_line_exit_2(capsys, ["view", video, "--live", "--student", tmp_path / "none.onnx", "--headless"],
                     "none.onnx", "not found")
    bad = tmp_path / "corrupt.onnx"
    bad.write_bytes(b"this is not a network" * 50)
    _one_line_exit_2(capsys, ["view", video, "--live", "--student", bad, "--headless"], "corrupt.onnx",
                     "not a usable ONNX model")
    _one_line_exit_2(capsys, ["view", video, "--engine", "gradient"], "--engine", "--live")
    _one_line_exit_2(capsys, ["view", video, "--live", "--control", video], "--control")
    _one_line_exit_2(capsys, ["view", video, "--live", "--live-size", "big"], "--live-size")
    _one_line_exit_2(capsys, ["view", video, "--live", "--engine", "gradient", "--live-size", "300x100"], "2:1")
    _one_line_exit_2(capsys, ["view", video, "--live", "--temporal", "1.5"], "--temporal")
    _one_line_exit_2(capsys, ["view", tmp_path / "missing.mp4", "--live"], "missing.mp4", "camera:N")


def test_live_feed_dreams_its_newest_frame_and_shows_it_when_ready():
    """A camera (not seekable): the newest waiting frame is dreamed, stamped with the playback clock when
    its dream is ready (due at once), whatever its capture time."""
    clock = FakeClock()
    feed = ListSource(40)
    feed.seekable = False
    live, frames = dream_all(feed, SlowEngine(clock, 0.1), clock, backlog=4)
    idx = [f.index for f in frames]
    assert idx[:3] == [3, 7, 11] and all(b - a == 4 for a, b in zip(idx, idx[1:])), idx
    assert [f.time for f in frames[:3]] == pytest.approx([0.1, 0.2, 0.3])
