"""Real OpenGL playback under Xvfb: what was shown, pose logs, dose, stereo eyes, replay export, CLI.

These tests assert what reached the screen (frames in order, every frame presented or counted as dropped,
one pose-log row per presented frame, exact pixels), not that the machine was fast: the timing logic
(when a frame is due, drops, late frames, the end, loops) is tested on a fake clock in
test_viewer_scheduler.py.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from hallucinator.viewer.pose import FunctionPose, Pose

pytestmark = pytest.mark.gl

BATTLE = "videos/panolens-1941-battle-640x320.mp4"


@pytest.fixture(scope="module")
def viewer(xdisplay):
    from hallucinator.viewer.app import Viewer

    with Viewer(size=(160, 96), visible=False) as v:
        yield v


def make_video(path: Path, frames: int, fn, size=(256, 128), fps=25):
    """Write a small H.264 test video whose frame k is fn(k) (uint8 HxWx3)."""
    import av

    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = size[0], size[1], "yuv420p"
        s.options = {"crf": "10", "preset": "ultrafast"}
        for k in range(frames):
            for pkt in s.encode(av.VideoFrame.from_ndarray(fn(k), format="rgb24")):
                out.mux(pkt)
        for pkt in s.encode(None):
            out.mux(pkt)
    return path


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Matched dream/control clips: the dream has a coloured, moving pattern, the control is grey."""
    d = tmp_path_factory.mktemp("pair")
    yy, xx = np.mgrid[0:128, 0:256]

    def dream(k):
        img = np.zeros((128, 256, 3), np.uint8)
        img[..., 0] = (xx * 255 // 255 + 8 * k) % 256
        img[..., 1] = yy * 2
        img[..., 2] = 200
        return img

    def control(k):
        return np.full((128, 256, 3), 100 + k, np.uint8)

    return make_video(d / "dream.mp4", 20, dream), make_video(d / "control.mp4", 20, control)


def assert_shown_in_order(s, first, last=None):
    """Frames presented in order from ``first``; every frame up to the last shown was presented or counted
    as dropped (a busy machine may drop frames; it may not lose count of them)."""
    idx = s.frame_indices
    assert idx[0] == first and all(b > a for a, b in zip(idx, idx[1:])), idx
    assert s.dropped == idx[-1] - first + 1 - len(idx), (s.dropped, idx)
    assert s.video_frames == len(idx)
    if last is not None:
        assert idx[-1] == last, idx


def test_play_with_audio_every_frame_presented(viewer, shared, tmp_path):
    """The battle clip with its audio: frames in order, each presented or counted as dropped, one pose-log
    row per presented frame, none shown before its time on the audio clock."""
    from hallucinator.viewer.poselog import read_pose_log

    video = shared(BATTLE)
    log = tmp_path / "sub-01_motion.tsv"
    n = 40
    s = viewer.play(video, max_frames=n, pose=Pose.from_euler(20, 5, 0, 100), pose_log=log, audio=True,
                    audio_device=False)
    period = 1 / 25
    assert s.clock in ("audio", "audio-virtual") and s.ended_by == "frames"
    assert s.video_frames == n == s.frames_presented
    assert_shown_in_order(s, 0)
    rows = read_pose_log(log)
    assert len(rows) == n == s.frames_presented
    assert [r["frame"] for r in rows] == s.frame_indices
    assert [r["dropped"] for r in rows][1:] == [b - a - 1 for a, b in zip(s.frame_indices, s.frame_indices[1:])]
    for r in rows:
        assert r["onset"] - r["frame"] * period >= -1e-3, r     # the audio clock had reached the frame
        assert r["source"] == "fixed" and r["fov"] == 100.0
    assert abs(rows[0]["yaw"] - 20) < 1e-9 and abs(rows[0]["pitch"] - 5) < 1e-9
    assert s.media_seconds >= (s.frame_indices[-1] * period) - 1e-3


def test_seek_and_pause_keys(viewer, shared):
    import glfw

    from hallucinator.viewer.app import Event

    def on_frame(info):
        if info.presented == 2:
            info.viewer.inject(Event("key", key=glfw.KEY_PAGE_DOWN, action=glfw.PRESS))
        if info.presented == 4:
            info.viewer.inject(Event("key", key=glfw.KEY_SPACE, action=glfw.PRESS))
        if info.presented == 5:
            info.viewer.inject(Event("key", key=glfw.KEY_SPACE, action=glfw.PRESS))

    s = viewer.play(shared(BATTLE), max_frames=8, pose=Pose(), on_frame=on_frame, audio=False)
    idx = s.frame_indices
    assert idx[0] == 0 and idx[2] < 125 and idx[3] >= 125  # the key after the third frame jumped 5 s ahead
    assert all(b > a for a, b in zip(idx, idx[1:]))


def test_dose_pixels(viewer):
    """Dose 0 shows the control's pixels, dose 1 the dream's, in between mixes, above 1 exaggerates."""
    rng = np.random.default_rng(1)
    dream = rng.integers(0, 256, (64, 128, 3), dtype=np.uint8)
    control = rng.integers(0, 256, (64, 128, 3), dtype=np.uint8)
    pose = Pose.from_euler(33, -12, 5, 95)
    viewer.set_frames(control)
    only_control = viewer.render_view(pose).astype(int)
    viewer.set_frames(dream)
    only_dream = viewer.render_view(pose).astype(int)
    viewer.set_frames(dream, control)
    assert np.array_equal(viewer.render_view(pose, dose=0.0).astype(int), only_control)
    assert np.array_equal(viewer.render_view(pose, dose=1.0).astype(int), only_dream)
    half = viewer.render_view(pose, dose=0.5).astype(int)
    assert np.abs(half - (only_control + only_dream) / 2).max() <= 1.0
    double = viewer.render_view(pose, dose=2.0).astype(int)
    want = np.clip(2 * only_dream - only_control, 0, 255)   # linear filtering commutes with the mix
    assert np.abs(double - want).max() <= 2.0


def test_dose_timeline_followed_and_logged(viewer, pair, tmp_path):
    from hallucinator.viewer.dose import DoseTimeline
    from hallucinator.viewer.poselog import read_pose_log

    dream, control = pair
    spec = tmp_path / "dose.txt"
    spec.write_text("0s:0 -> 0.2s:1 -> 0.4s:1 -> 0.6s:0\n")
    log = tmp_path / "run_motion.tsv"
    shots = {}

    def on_frame(info):
        if info.frame in (0, 7, 16):
            shots[info.frame] = info.viewer.read_pixels()

    s = viewer.play(dream, control=control, dose=str(spec), pose=Pose(fov=100), pose_log=log, realtime=False,
                    on_frame=on_frame)
    assert s.ended_by == "end" and s.frame_indices == list(range(20))
    tl = DoseTimeline.parse(spec.read_text())
    rows = read_pose_log(log)
    for r in rows:
        assert r["dose"] == pytest.approx(tl(r["onset"]), abs=1e-12)
    assert [round(r["dose"], 3) for r in rows[:6]] == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    events = (tmp_path / "run_events.tsv").read_text().splitlines()
    assert events[0] == "onset\tduration\ttrial_type\tvalue"
    assert [e.split("\t")[3] for e in events[1:]] == ["0", "1", "1", "0"]  # start, then the keyframes reached
    # frame 0 at dose 0 is the grey control; frame 7 (0.28 s) at dose 1 is the dream
    assert shots[0].std() < 3 and abs(shots[0].mean() - 100) < 3
    assert shots[7][..., 2].mean() > 180


def test_replay_export_gives_the_live_pixels(viewer, shared, tmp_path):
    from hallucinator.viewer.export import export_replay

    video = shared(BATTLE)
    log = tmp_path / "live_motion.tsv"
    live = []

    def path(t):
        return Pose.from_euler(40 * t - 170, 25 * math.sin(3 * t), 10 * t, 80 + 20 * t)

    s = viewer.play(video, max_frames=12, start_s=3.0, pose=FunctionPose(path), dose=0.5, pose_log=log,
                    audio=False, on_frame=lambda info: live.append(info.viewer.read_pixels()))
    assert s.video_frames == 12 and s.frame_indices[0] == 75
    replayed = []
    n = export_replay(video, log, size=viewer.framebuffer_size, sink=lambda img, row: replayed.append(img),
                      viewer=viewer)
    assert n == len(live) == 12
    for a, b in zip(live, replayed):
        assert np.array_equal(a, b)
    # and into an MP4 through the command line
    from hallucinator.cli import main

    out = tmp_path / "view.mp4"
    assert main(["view", str(video), "--replay-pose", str(log), "--export", str(out), "--size", "160x96"]) == 0
    import av

    with av.open(str(out)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == 12 and frames[0].shape == (96, 160, 3)
    assert np.abs(frames[5].astype(int) - live[5].astype(int)).mean() < 6   # lossy H.264, same picture


def test_screenshot_cli(xdisplay, shared, tmp_path):
    from PIL import Image

    from hallucinator.cli import main
    from hallucinator.viewer.export import render_still

    room = shared("panoramas/gvr-testroom-grid-synthetic.jpg")
    out = tmp_path / "shot.png"
    assert main(["view", str(room), "--yaw", "90", "--pitch", "0", "--roll", "0", "--fov", "90",
                 "--size", "200x120", "--screenshot", str(out)]) == 0
    img = np.asarray(Image.open(out))
    assert img.shape == (120, 200, 3)
    red = (img[..., 0] > 200) & (img[..., 1] < 70) & (img[..., 2] < 70)   # the +x ball straight ahead
    y, x = np.nonzero(red)
    assert red.sum() > 300 and abs(x.mean() - 99.5) < 1.5 and abs(y.mean() - 59.5) < 3
    assert np.array_equal(img, render_still(room, Pose.from_euler(90, 0, 0, 90), (200, 120)))
    vid = tmp_path / "vid.png"
    assert main(["view", str(shared(BATTLE)), "--time", "7.5", "--fov", "100", "--size", "160x90",
                 "--screenshot", str(vid)]) == 0
    assert np.asarray(Image.open(vid)).std() > 10


def test_stereo_top_bottom(viewer):
    """Each eye samples its own half; no bleeding from the other eye even at the poles."""
    tb = np.zeros((128, 128, 3), np.uint8)
    tb[:64] = (250, 10, 10)
    tb[64:] = (10, 10, 250)
    viewer.set_frames(tb, layout="tb")
    for pitch in (0, 90, -90):
        left = viewer.render_view(Pose.from_euler(0, pitch, 0, 100), eye=0).astype(int)
        right = viewer.render_view(Pose.from_euler(0, pitch, 0, 100), eye=1).astype(int)
        assert left[..., 0].min() == 250 and left[..., 2].max() == 10
        assert right[..., 2].min() == 250 and right[..., 0].max() == 10


def test_xr_cli_without_runtime(xdisplay, shared, capfd, monkeypatch):
    from hallucinator.cli import main

    monkeypatch.delenv("XR_RUNTIME_JSON", raising=False)
    assert main(["view", str(shared(BATTLE)), "--xr"]) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "OpenXR" in err[0] and err[0].startswith("hallucinator: error:")


def test_xr_viewer_api_without_runtime(xdisplay, monkeypatch):
    from hallucinator.errors import UserError
    from hallucinator.viewer.app import Viewer

    monkeypatch.delenv("XR_RUNTIME_JSON", raising=False)
    with pytest.raises(UserError, match="OpenXR"):
        with Viewer(size=(64, 64), visible=False, xr=True):
            pass


def test_bench_viewer(xdisplay, shared, capsys):
    from hallucinator.cli import main

    assert main(["bench", "viewer", str(shared(BATTLE)), "--size", "160x90", "--frames", "10"]) == 0
    out = capsys.readouterr().out
    for word in ("decode", "upload via PBO", "render one view", "whole loop"):
        assert word in out
    from hallucinator.viewer.bench import run_bench

    res = run_bench(None, (128, 72), 5, (512, 256))
    assert res["upload_pbo_ms"] > 0 and res["render_ms"] > 0 and res["play_fps"] > 0


def test_yuv_planes_converted_in_the_shader(viewer, shared):
    """4:2:0 frames uploaded as planes (the GPU path) look like the CPU's RGB conversion, live and replayed."""
    from hallucinator.viewer.frames import VideoSource

    src = VideoSource(shared(BATTLE), planar=True)
    try:
        f = src.frame_at(40)
        assert f.is_yuv and f.planes[1].shape == (160, 320)
        pose = Pose.from_euler(180, 30, 0, 90)          # across the seam, towards the pole
        viewer.set_frames(f)
        gpu = viewer.render_view(pose).astype(int)
        viewer.set_frames(f.image)
        cpu = viewer.render_view(pose).astype(int)
        assert np.abs(gpu - cpu).mean() < 1.5 and np.percentile(np.abs(gpu - cpu), 99) <= 8
    finally:
        src.close()
    old = viewer.renderer.planar
    viewer.renderer.planar = True
    try:
        shots = []
        s = viewer.play(shared(BATTLE), max_frames=3, pose=pose, audio=False, realtime=False,
                        on_frame=lambda info: shots.append(info.viewer.read_pixels()))
        assert s.video_frames == 3
        from hallucinator.viewer.export import render_still

        assert np.array_equal(shots[1], render_still(shared(BATTLE), pose, viewer.framebuffer_size, time_s=0.04,
                                                     viewer=viewer))
    finally:
        viewer.renderer.planar = old


def test_view_cli_headless_with_dose_ramp(xdisplay, shared, tmp_path, capsys):
    from hallucinator.cli import main
    from hallucinator.viewer.poselog import read_pose_log

    video = str(shared(BATTLE))
    log = tmp_path / "cli_motion.tsv"
    assert main(["view", video, "--control", video, "--dose", "0s:0 -> 0.4s:1", "--headless", "--frames", "15",
                 "--size", "128x72", "--yaw", "45", "--pose-log", str(log), "--audio-device", "none"]) == 0
    out = capsys.readouterr().out
    assert "15 frames presented" in out and "clock audio" in out
    rows = read_pose_log(log)
    assert len(rows) == 15 and rows[0]["yaw"] == pytest.approx(45) and rows[0]["source"] == "mouse"
    assert rows[0]["frame"] == 0 and all(r["dose"] == pytest.approx(min(1.0, r["onset"] / 0.4)) for r in rows)
    assert rows[12]["dose"] > 0.7
    assert main(["view", str(shared("panoramas/panolens-cabin-1024.jpg")), "--headless"]) == 2
    assert "--duration" in capsys.readouterr().err


def test_end_and_loop_with_audio(viewer, shared):
    """Playback ends after the last frame (the clock runs on past the sound); looping wraps to frame 0."""
    video = shared(BATTLE)
    s = viewer.play(video, start_s=19.4, pose=Pose(), audio=True, audio_device=False)
    assert s.ended_by == "end" and s.media_seconds >= 20.0 - 19.4 - 1e-3
    assert_shown_in_order(s, 485, last=499)
    s = viewer.play(video, start_s=19.6, pose=Pose(), audio=True, audio_device=False, loop=True, max_frames=15)
    idx = s.frame_indices
    wrap = next(i for i, (a, b) in enumerate(zip(idx, idx[1:]), 1) if b < a)
    before, after = idx[:wrap], idx[wrap:]
    assert before[0] == 490 and before == sorted(before) and after == sorted(after) and after[-1] < 490, idx
    # frames between the first and the last shown, across the loop point, were shown or counted as dropped
    assert s.dropped == (499 - 490 + 1) + after[-1] + 1 - len(idx) and s.video_frames == 15


def test_keys_change_dose_and_mouse_drag_turns(viewer, pair, tmp_path):
    import glfw

    from hallucinator.viewer.app import Event
    from hallucinator.viewer.pose import MouseKeyboardPose
    from hallucinator.viewer.poselog import read_pose_log

    dream, control = pair
    look = MouseKeyboardPose(yaw=0, pitch=0, fov=90, width=160)
    script = {2: [Event("key", key=glfw.KEY_RIGHT_BRACKET, action=glfw.PRESS)] * 3,
              4: [Event("mouse_button", button=glfw.MOUSE_BUTTON_LEFT, action=glfw.PRESS, x=50, y=40),
                  Event("cursor", x=66, y=32)],
              6: [Event("mouse_button", button=glfw.MOUSE_BUTTON_LEFT, action=glfw.RELEASE, x=66, y=32),
                  Event("key", key=glfw.KEY_BACKSLASH, action=glfw.PRESS)]}

    def on_frame(info):
        for ev in script.get(info.presented, []):
            info.viewer.inject(ev)

    log = tmp_path / "keys_motion.tsv"
    viewer.play(dream, control=control, dose="0s:0 -> 10s:0", pose=look, pose_log=log, realtime=False,
                on_frame=on_frame, max_frames=10)
    rows = read_pose_log(log)
    doses = [r["dose"] for r in rows]
    assert doses[:3] == [0, 0, 0] and doses[3] == pytest.approx(0.3) and doses[-1] == 0
    # dragging 16 px right at 90° over 160 px turns the view 9° left (grab and drag), 8 px up tilts it down 4.5°
    r = rows[5]
    assert r["yaw"] == pytest.approx(-9.0) and r["pitch"] == pytest.approx(-4.5)
    events = (tmp_path / "keys_events.tsv").read_text().splitlines()[1:]
    assert [e.split("\t")[3] for e in events] == ["0", "0.1", "0.2", "0.3", "0"]


def test_nv12_frames_as_hardware_decoders_return_them(viewer, shared):
    import av

    from hallucinator.viewer.frames import frame_from_av

    with av.open(str(shared(BATTLE))) as c:
        f = next(c.decode(video=0))
        planar = frame_from_av(f, 0, 0.0)
        nv12 = frame_from_av(f.reformat(format="nv12"), 0, 0.0)
    assert len(nv12.planes) == 2 and nv12.planes[1].shape == (160, 320, 2)
    pose = Pose.from_euler(-150, 20, 0, 90)
    viewer.set_frames(planar)
    a = viewer.render_view(pose).astype(int)
    viewer.set_frames(nv12)
    b = viewer.render_view(pose).astype(int)
    assert np.abs(a - b).max() <= 2
    assert np.abs(nv12.image.astype(int) - planar.image.astype(int)).max() <= 2


def test_slow_machine_drops_frames_instead_of_drifting(viewer, shared):
    """When drawing takes longer than a frame, frames are dropped (counted) and the picture stays with the sound."""
    import time as _time

    shown = []

    def slow(info):
        shown.append((info.time, info.frame_time, info.dropped))
        _time.sleep(0.09)

    s = viewer.play(shared(BATTLE), duration_s=1.5, pose=Pose(), audio=True, audio_device=False, on_frame=slow)
    # drawing takes longer than two frame periods, so frames must be dropped (how many depends on the machine;
    # the exact count for a given drawing time is tested on a fake clock in test_viewer_scheduler.py)
    assert s.dropped > 0
    assert s.dropped == sum(d for _, _, d in shown) == round(shown[-1][1] * 25) + 1 - len(shown)
    assert all(t - ft >= -1e-3 for t, ft, _ in shown)       # never shown before its time


def test_visible_window_with_status_line(xdisplay, shared):
    """A real (Xvfb) window: frames reach the back buffer, the status line is drawn and can be hidden."""
    import glfw

    from hallucinator.viewer.app import Event, Viewer

    grabs = {}

    def on_frame(info):
        grabs[info.presented] = info.viewer.read_pixels()
        if info.presented == 1:
            info.viewer.inject(Event("key", key=glfw.KEY_H, action=glfw.PRESS))

    with Viewer(size=(320, 180), visible=True) as v:
        s = v.play(shared(BATTLE), max_frames=4, pose=Pose.from_euler(0, -20, 0, 100), audio=False,
                   on_frame=on_frame)
        assert v.framebuffer_size == (320, 180)
    assert s.video_frames == 4
    strip_on = grabs[0][8:26, 8:200].astype(int)
    strip_off = grabs[3][8:26, 8:200].astype(int)
    # the status line: bright text on a darkened band
    assert (strip_on.max(axis=-1) > 220).sum() > 100 and strip_on.mean() < strip_off.mean()


def test_stills_redraw_for_scripted_paths_and_dose_ramps(viewer, shared):
    cabin = shared("panoramas/panolens-cabin-1024.jpg")
    forest = shared("panoramas/panolens-forest-tree.jpg")
    yaws = []
    s = viewer.play(cabin, duration_s=0.3, pose=FunctionPose(lambda t: Pose.from_euler(100 * t), continuous=True),
                    on_frame=lambda info: yaws.append((info.time, info.pose.euler[0])))
    # a still redraws for a moving pose (how often depends on the machine; the rate is tested on a fake clock)
    assert s.ended_by == "duration" and s.frames_presented == len(yaws) >= 2
    assert all(yaw == pytest.approx(100 * t) for t, yaw in yaws) and yaws == sorted(yaws)
    doses = []
    s = viewer.play(cabin, control=forest, duration_s=0.3, dose="0s:0 -> 0.3s:1", pose=Pose(),
                    on_frame=lambda info: doses.append((info.time, info.dose)))
    assert len(doses) >= 2 and doses == sorted(doses) and doses[0][1] < 0.1
    assert all(d == pytest.approx(min(1.0, t / 0.3)) for t, d in doses)
    s = viewer.play(cabin, realtime=False, pose=Pose())
    assert s.ended_by == "end" and s.frames_presented == 1


def test_pose_log_survives_a_killed_viewer(xdisplay, shared, tmp_path):
    """Rows are flushed as they are written: after SIGKILL the log holds every row shown so far, all whole."""
    import os
    import signal
    import subprocess
    import sys
    import time as _time

    from hallucinator.viewer.poselog import read_pose_log

    log = tmp_path / "killed_motion.tsv"
    # --loop: the viewer never ends by itself, so it is still running (and writing) when it is killed
    proc = subprocess.Popen([sys.executable, "-m", "hallucinator", "view", str(shared(BATTLE)), "--headless",
                             "--size", "64x32", "--no-audio", "--loop", "--pose-log", str(log)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
    try:
        deadline = _time.monotonic() + 120
        while proc.poll() is None and _time.monotonic() < deadline and (
                not log.exists() or len(log.read_text().splitlines()) < 15):
            _time.sleep(0.05)   # polling the file, generously bounded
        assert proc.poll() is None, f"the viewer exited by itself (code {proc.returncode})"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    rows = read_pose_log(log)
    frames = [r["frame"] for r in rows]
    assert len(rows) >= 14 and frames[0] == 0 and all(b > a for a, b in zip(frames, frames[1:]))
    assert sum(r["dropped"] for r in rows) == frames[-1] + 1 - len(rows)
    assert log.read_text().endswith("\n") and log.with_suffix(".json").exists()


def test_real_key_presses_reach_the_loop_while_it_idles(xdisplay, shared):
    """A key pressed while the loop sleeps (a still, nothing to draw) is not lost: q stops playback at once."""
    import threading

    import glfw

    from hallucinator.viewer.app import Viewer

    try:
        from xkeys import XKeys

        xt = XKeys(xdisplay)
    except OSError:
        pytest.skip("libXtst is not installed")
    seen = []
    drawn = threading.Event()

    def press():
        if drawn.wait(60):          # the still is on screen: from now on the loop only idles
            xt.move(40, 30)
            xt.key("q")

    with Viewer(size=(160, 90), visible=True) as v:
        glfw.set_window_pos(v.window, 0, 0)
        th = threading.Thread(target=press, daemon=True)
        th.start()
        s = v.play(shared("panoramas/panolens-cabin-1024.jpg"), duration_s=120, pose=Pose(),
                   on_frame=lambda info: drawn.set(),
                   on_events=lambda evs, t: seen.extend(e.key for e in evs if e.kind == "key"))
        th.join(60)
    xt.close()
    assert s.ended_by == "closed" and s.frames_presented == 1, s.ended_by     # stopped by q, long before 120 s
    assert glfw.KEY_Q in seen


@pytest.fixture(scope="module")
def tb_video(tmp_path_factory):
    """A top-bottom stereo clip whose eyes differ: the left eye (top half) red, the right eye (bottom) blue."""
    def frame(k):
        img = np.zeros((128, 128, 3), np.uint8)
        img[:64] = (250, 10, 10)
        img[64:] = (10, 10, 250)
        return img

    return make_video(tmp_path_factory.mktemp("tb") / "tb.mp4", 5, frame, size=(128, 128))


def eye_colour(img):
    """"left" when the view is the red eye's, "right" when the blue one's (H.264 keeps them far apart)."""
    r, b = img[..., 0].astype(int), img[..., 2].astype(int)
    if r.min() > 200 and b.max() < 60:
        return "left"
    if b.min() > 200 and r.max() < 60:
        return "right"
    return f"mixed (red {r.min()}..{r.max()}, blue {b.min()}..{b.max()})"


def test_playback_shows_the_requested_eye(viewer, tb_video):
    """Bug: the player always drew eye 0; the requested eye is what playback presents."""
    for eye, name in ((0, "left"), (1, "right")):
        shots = []
        s = viewer.play(tb_video, stereo="top-bottom", eye=eye, realtime=False, pose=Pose.from_euler(30, 0, 0, 100),
                        on_frame=lambda info: shots.append(info.viewer.read_pixels()))
        assert s.video_frames == 5 == len(shots)
        assert [eye_colour(img) for img in shots] == [name] * 5


def test_view_cli_eye_right_during_playback(xdisplay, tb_video, tmp_path, monkeypatch):
    """Bug: `view --eye right` was ignored during playback (only --screenshot used it).  The same words as
    `dream --stereo` name the layout (top-bottom or tb)."""
    import json

    from hallucinator.cli import main
    from hallucinator.viewer.app import Viewer

    shots = []
    present = Viewer.present

    def grab_then_present(self):
        shots.append(self.read_pixels())
        present(self)

    monkeypatch.setattr(Viewer, "present", grab_then_present)
    for word, eye in (("tb", "right"), ("top-bottom", "right"), ("top-bottom", "left")):
        shots.clear()
        log = tmp_path / f"{word}-{eye}_motion.tsv"
        assert main(["view", str(tb_video), "--stereo", word, "--eye", eye, "--headless", "--every-frame",
                     "--no-audio", "--size", "64x48", "--pose-log", str(log)]) == 0
        assert [eye_colour(img) for img in shots] == [eye] * 5, (word, eye)
        meta = json.loads(log.with_suffix(".json").read_text())["Metadata"]
        assert meta["stereo"] == "top-bottom" and meta["eye"] == eye


def test_viewer_closes_what_it_opened_when_the_headset_fails(xdisplay, monkeypatch):
    """A headset session that fails after the window and GL objects exist leaves nothing open behind."""
    from hallucinator.errors import UserError
    from hallucinator.viewer import app, xr

    def refuse(self):
        raise UserError("--xr: the runtime refused the session")

    monkeypatch.setattr(xr, "check_runtime", lambda: [])
    monkeypatch.setattr(xr.XRSession, "__init__", lambda self, viewer: None)
    monkeypatch.setattr(xr.XRSession, "__enter__", refuse)
    users = app._GLFW_USERS
    v = app.Viewer(size=(64, 64), visible=False, xr=True)
    with pytest.raises(UserError, match="refused"):
        v.open()
    assert v.window is None and v.renderer is None and v.xr is None and app._GLFW_USERS == users
    v.close()      # nothing left to close
