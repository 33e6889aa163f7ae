"""Viewer pieces without OpenGL: dose timelines, poses, pose logs, audio clock, OpenXR boundary."""
from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest

from hallucinator import sphere
from hallucinator.errors import UserError
from hallucinator.viewer.dose import DoseTimeline, parse_time
from hallucinator.viewer.pose import Pose, ReplayPose, matrix_from_quat, quat_from_matrix
from hallucinator.viewer.poselog import COLUMNS, PoseLogWriter, read_pose_log


# -- dose ----------------------------------------------------------------------------------------

def test_timeline_ramps():
    tl = DoseTimeline.parse("0s:0 -> 30s:1 -> 90s:1 -> 120s:0")
    assert [tl(t) for t in (-1, 0, 15, 30, 60, 90, 105, 120, 500)] == [0, 0, 0.5, 1, 1, 1, 0.5, 0, 0]
    assert str(tl) == "0s:0 -> 30s:1 -> 90s:1 -> 120s:0"


def test_timeline_formats(tmp_path):
    assert parse_time("250ms") == 0.25 and parse_time("2min") == 120 and parse_time("1:30") == 90
    assert parse_time("1.5") == 1.5
    f = tmp_path / "dose.txt"
    f.write_text("# a session\n0s:0\n1:00 : 1.5   # peak\n2min:0\n")
    tl = DoseTimeline.from_spec(str(f))
    assert tl(30) == pytest.approx(0.75) and tl(60) == 1.5 and tl(120) == 0
    assert DoseTimeline.from_spec("0s:0 → 10s:1")(5) == 0.5
    assert DoseTimeline.from_spec(0.3)(99) == 0.3 and DoseTimeline.from_spec("0.7").is_constant


@pytest.mark.parametrize("bad", ["10s:1 -> 5s:0", "0s:-1", "abc", "0s:x", "soon:1", "nofile.txt"])
def test_timeline_errors_are_one_line(bad):
    with pytest.raises(UserError) as e:
        DoseTimeline.from_spec(bad)
    assert "\n" not in str(e.value)


# -- poses ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("ypr", [(0, 0, 0), (30, 10, 0), (-170, -45, 20), (90, 89, 0), (45, -30, -60)])
def test_pose_roundtrip_matches_sphere(ypr):
    p = Pose.from_euler(*ypr, fov=80)
    assert np.allclose(p.matrix, sphere.rotation_matrix(*ypr), atol=1e-12)
    assert np.allclose(sphere.rotation_matrix(*p.euler), p.matrix, atol=1e-9)
    q = quat_from_matrix(matrix_from_quat(p.quat))
    assert np.allclose(q, p.quat)


def test_pose_log_roundtrip_is_exact(tmp_path):
    path = tmp_path / "sub-01_motion.tsv"
    poses = [Pose.from_euler(math.sin(i) * 100, math.cos(i) * 40, i * 3.3, 70 + i) for i in range(5)]
    with PoseLogWriter(path, metadata={"dream": "x.mp4"}, events_path=tmp_path / "sub-01_events.tsv") as log:
        for i, p in enumerate(poses):
            log.write(i / 25, i, p, 0.1 * i, dropped=i % 2, wall_time=i / 25 + 0.001, source="script")
            # flushed every frame: the file is complete after each write
            assert len(path.read_text().splitlines()) == i + 2
        log.event(0.0, "dose", "0.5")
    rows = read_pose_log(path)
    assert [r["frame"] for r in rows] == list(range(5))
    for r, p in zip(rows, poses):
        assert ReplayPose.row_pose(r) == p          # bit-exact orientation and fov
    assert path.read_text().splitlines()[0].split("\t") == COLUMNS
    side = json.loads(path.with_suffix(".json").read_text())
    assert side["onset"]["Units"] == "s" and side["Metadata"]["dream"] == "x.mp4"
    assert (tmp_path / "sub-01_events.tsv").read_text().splitlines()[1].split("\t")[2:] == ["dose", "0.5"]
    rp = ReplayPose(rows)
    assert rp.pose(0.05) == poses[1] and rp.pose(-1) == poses[0] and rp.pose(99) == poses[-1]


def test_damaged_pose_log(tmp_path):
    p = tmp_path / "x.tsv"
    p.write_text("a\tb\n1\t2\n")
    with pytest.raises(UserError, match="not a pose log"):
        read_pose_log(p)


# -- audio clock (no sound card here: the virtual output) ------------------------------------------

def wait_for(condition, timeout=30.0):
    """Poll ``condition`` until it holds (generously bounded; a busy machine only makes it slower)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_audio_clock_runs_without_a_device(shared):
    """The virtual output's clock starts where asked, moves forward never faster than real time, holds while
    paused and restarts from a seek."""
    from hallucinator.viewer.audio import AudioClock

    clock = AudioClock(shared("videos/panolens-1941-battle-640x320.mp4"), start_s=2.0, device=False)
    try:
        w0 = time.monotonic()
        clock.start()
        assert clock.virtual
        t0 = clock.time()
        assert 2.0 <= t0 <= 2.0 + (time.monotonic() - w0) + 1e-3
        w1 = time.monotonic()
        wait_for(lambda: clock.time() >= t0 + 0.1)
        assert clock.time() - t0 <= time.monotonic() - w1 + (w1 - w0) + 1e-3     # never ahead of real time
        clock.pause(True)
        a = clock.time()
        w2 = time.monotonic()
        wait_for(lambda: time.monotonic() - w2 >= 0.05)                      # let real time pass while paused
        assert clock.paused and clock.time() == pytest.approx(a, abs=1e-3)
        clock.pause(False)
        w3 = time.monotonic()
        clock.seek(10.0)
        wait_for(lambda: clock.time() > 10.0)
        assert 10.0 < clock.time() <= 10.0 + (time.monotonic() - w3) + 1e-3
    finally:
        clock.close()


# -- OpenXR up to the runtime boundary ---------------------------------------------------------------

def test_xr_check_runtime_fails_with_one_line(monkeypatch, capfd):
    from hallucinator.viewer.xr import check_runtime

    monkeypatch.delenv("XR_RUNTIME_JSON", raising=False)
    with pytest.raises(UserError) as e:
        check_runtime()
    assert "OpenXR runtime" in str(e.value) and "without --xr" in str(e.value) and "\n" not in str(e.value)
    assert capfd.readouterr().err == ""     # the loader's own multi-line noise is kept off the terminal


def test_xr_broken_runtime_manifest(monkeypatch, tmp_path):
    from hallucinator.viewer.xr import check_runtime

    manifest = tmp_path / "runtime.json"
    manifest.write_text(json.dumps({"file_format_version": "1.0.0",
                                    "runtime": {"library_path": str(tmp_path / "libmissing_runtime.so")}}))
    monkeypatch.setenv("XR_RUNTIME_JSON", str(manifest))
    with pytest.raises(UserError) as e:
        check_runtime()
    assert str(manifest) in str(e.value)


def test_viewer_starts_without_torch():
    import subprocess
    import sys

    code = ("import sys, hallucinator.viewer.app, hallucinator.viewer.player, hallucinator.viewer.export, "
            "hallucinator.cli.view; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_replay_resamples_display_rate_logs():
    from hallucinator.viewer.export import replay_frames

    per_frame = [{"onset": i / 25, "frame": i} for i in range(10)]
    assert replay_frames(per_frame, 25) == per_frame
    # a log written at 100 Hz (head motion between video frames): one output frame per 1/25 s
    display = [{"onset": i / 100, "frame": i // 4, "k": i} for i in range(40)]
    out = replay_frames(display, 25)
    assert [r["k"] for r in out] == list(range(0, 40, 4))


def fake_openxr(monkeypatch):
    """pyopenxr replaced by a recording fake (no runtime here): what the session creates and destroys."""
    from unittest import mock

    from hallucinator.viewer import xr as xrmod

    class XrException(Exception):
        pass

    fake = mock.MagicMock()
    fake.exception.XrException = XrException
    monkeypatch.setattr(xrmod, "_import_xr", lambda: fake)
    monkeypatch.setattr(xrmod, "check_runtime", lambda: [])
    return xrmod, fake, XrException


def test_xr_session_destroys_the_instance_when_there_is_no_headset(monkeypatch):
    xrmod, fake, XrException = fake_openxr(monkeypatch)
    fake.get_system.side_effect = XrException("no HMD")
    with pytest.raises(UserError, match="no headset ready"):
        with xrmod.XRSession(viewer=None):
            pass
    fake.destroy_instance.assert_called_once_with(fake.create_instance.return_value)


def test_xr_session_unwinds_in_reverse_order_when_opening_fails_halfway(monkeypatch):
    import ctypes
    from unittest import mock

    xrmod, fake, XrException = fake_openxr(monkeypatch)
    monkeypatch.setattr(xrmod.XRSession, "_check_opengl", lambda self: None)
    monkeypatch.setattr(xrmod.XRSession, "_graphics_binding", lambda self: ctypes.c_int(0))
    fake.create_reference_space.side_effect = RuntimeError("space refused")
    order = mock.MagicMock()
    order.attach_mock(fake.destroy_session, "session")
    order.attach_mock(fake.destroy_instance, "instance")
    session = xrmod.XRSession(viewer=mock.MagicMock())
    with pytest.raises(RuntimeError, match="space refused"):
        session.__enter__()
    assert order.mock_calls == [mock.call.session(fake.create_session.return_value),
                                mock.call.instance(fake.create_instance.return_value)]
    assert session.session is None and session.instance is None
    session.close()                                  # closing again destroys nothing twice
    assert fake.destroy_instance.call_count == 1
