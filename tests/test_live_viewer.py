"""Live dreaming in the real viewer under Xvfb, with a random-weight student (tests never need the shipped
one): what was shown (source at dose 0, dream at dose 1), pose-log rows, the CLI, the gradient engine's
warm start, and ``bench live --json``.  Timing is not asserted: drops are counted, not forbidden."""
from __future__ import annotations

import json

import numpy as np
import pytest

from hallucinator.live.options import LiveOptions
from hallucinator.viewer.pose import Pose

pytestmark = pytest.mark.gl

BATTLE = "videos/panolens-1941-battle-640x320.mp4"
LIVE_SIZE = (128, 64)


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    from hallucinator.student.export import write_random_student

    return write_random_student(tmp_path_factory.mktemp("live") / "student-tiny.onnx", seed=3)


@pytest.fixture(scope="module")
def viewer(xdisplay):
    from hallucinator.viewer.app import Viewer

    with Viewer(size=(160, 96), visible=False) as v:
        yield v


def test_live_playback_shows_the_source_at_dose_0_and_its_dream_at_dose_1(viewer, student, shared, tmp_path):
    from hallucinator.live.session import open_live
    from hallucinator.student.runtime import load_student
    from hallucinator.viewer.frames import VideoSource
    from hallucinator.viewer.poselog import read_pose_log

    video = shared(BATTLE)
    pose = Pose.from_euler(20, -10, 0, 100)
    log = tmp_path / "live_motion.tsv"
    shots = {}

    def on_frame(info):
        shots[info.frame] = (info.dose, info.viewer.read_pixels())

    opts = LiveOptions(student=str(student), size=LIVE_SIZE, device="cpu")
    with open_live(str(video), opts) as lp:
        s = viewer.play(lp.dream, control=lp.control, dose="0s:0 -> 0.04s:0 -> 0.2s:1", pose=pose,
                        pose_log=log, realtime=False, max_frames=8, log_metadata=lp.log_metadata(),
                        on_frame=on_frame)
        assert lp.stats.dreamed >= 8 and lp.description.startswith("engine student")
    assert s.frame_indices == list(range(8)) and s.dropped == 0
    rows = read_pose_log(log)
    assert [r["frame"] for r in rows] == list(range(8)) and all(r["dropped"] == 0 for r in rows)
    assert [round(r["dose"], 3) for r in rows[:6]] == [0, 0, 0.25, 0.5, 0.75, 1.0]
    meta = json.loads(log.with_suffix(".json").read_text())
    assert "live" in json.dumps(meta) and "student" in json.dumps(meta)

    # what was on screen: frame 1 (dose 0) is the source as decoded, frame 6 (dose 1) its dream
    with VideoSource(video, planar=False) as src, load_student(student, device="cpu") as st:
        source = {k: src.frame_at(k).image for k in (1, 3, 6)}
        dream = {k: st.dream(source[k], size=LIVE_SIZE) for k in (1, 3, 6)}
    viewer.set_frames(source[1])
    assert np.array_equal(shots[1][1], viewer.render_view(pose))
    viewer.set_frames(dream[6])
    assert np.array_equal(shots[6][1], viewer.render_view(pose))
    viewer.set_frames(dream[3], source[3])      # dose 0.5: the mix of the two
    assert np.array_equal(shots[3][1], viewer.render_view(pose, dose=shots[3][0]))
    assert np.abs(shots[6][1].astype(int) - viewer.render_view(pose, dose=0.0)).mean() > 0.5   # it dreams


def test_view_cli_live_headless_realtime(xdisplay, student, shared, tmp_path, capsys):
    from hallucinator.cli import main
    from hallucinator.viewer.poselog import read_pose_log

    log = tmp_path / "cli_motion.tsv"
    assert main(["view", str(shared(BATTLE)), "--live", "--student", str(student), "--live-size", "128x64",
                 "--size", "128x72", "--headless", "--no-audio", "--frames", "12", "--pose-log", str(log),
                 "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "live: engine student" in out and "CPUExecutionProvider" in out and "live size 128x64" in out
    assert "frames dreamed at" in out and "latency" in out
    rows = read_pose_log(log)
    frames = [r["frame"] for r in rows]
    assert frames[0] == 0 and all(b > a for a, b in zip(frames, frames[1:]))
    # every frame up to the last shown was shown or counted as dropped (a busy machine may drop some)
    assert sum(r["dropped"] for r in rows) == frames[-1] + 1 - len(frames)
    assert f"{len(rows)} frames presented" in out


def test_still_image_is_dreamed_once(xdisplay, student, shared, capsys):
    from hallucinator.cli import main

    pano = shared("panoramas/panolens-cabin-1024.jpg")
    assert main(["view", str(pano), "--live", "--student", str(student), "--headless", "--duration", "0.1",
                 "--size", "96x64"]) == 0
    assert "live: 1 frames dreamed" in capsys.readouterr().out


@pytest.mark.slow
def test_gradient_engine_warm_starts_along_the_flow(shared):
    """The first frame is dreamed cold, the next ones from the carried residual (fewer iterations); the
    residual is enlarged onto the full frame."""
    from hallucinator.live.bench import source_frames
    from hallucinator.live.engines import GradientEngine

    frames = source_frames(str(shared(BATTLE)), 3)
    with GradientEngine(LiveOptions(engine="gradient", size=(256, 128), device="cpu")) as e:
        assert e.engines.warm.cfg.iterations == 1 and e.cfg.iterations == 4 and e.cfg.octaves == 3
        chain = e.chain()
        outs = [chain.dream(f) for f in frames]
        assert chain.state.ref_strength > 0 and chain.index == 3
    for f, o in zip(frames, outs):
        assert o.shape == f.shape and o.dtype == np.uint8
        assert np.abs(o.astype(int) - f).mean() > 1.0
    # carried: the second dream's residual resembles the first's far more than a fresh draw would
    r0, r1 = (o.astype(np.float32) - f for o, f in zip(outs[:2], frames[:2]))
    assert np.corrcoef(r0.ravel(), r1.ravel())[0, 1] > 0.5


@pytest.mark.slow
def test_bench_live_json(xdisplay, student, shared, capsys):
    from hallucinator.cli import main

    assert main(["bench", "live", str(shared(BATTLE)), "--student", str(student), "--device", "cpu",
                 "--sizes", "64x32,128x64", "--size", "256x128", "--frames", "2", "--play-frames", "6",
                 "--live-size", "64x32", "--view-size", "96x54", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert [s["size"] for s in r["sizes"]] == ["64x32", "128x64", "256x128"]
    assert all(s["ms"] > 0 and s["fps"] > 0 for s in r["sizes"])
    assert r["teacher_s"] > 0 and r["ratio"] == pytest.approx(1000 * r["teacher_s"] / r["engine_ms"], rel=0.02)
    assert r["providers"] == ["CPUExecutionProvider"] and r["student"]["train_size"] == [128, 64]
    live = r["live"]
    assert live["live_size"] == "64x32" and live["video_frames"] == 6 and live["dreamed"] >= 6
    for key in ("dropped", "dropped_fraction", "displayed_fps", "dreamed_fps", "latency_ms", "late"):
        assert key in live
    assert {"load_average", "ratio_bar", "teacher"} <= set(r)


def test_temporal_blend_carries_the_previous_residual(student, shared):
    from hallucinator.live.bench import source_frames
    from hallucinator.live.engines import StudentEngine

    frames = source_frames(str(shared(BATTLE)), 2)
    with StudentEngine(LiveOptions(student=str(student), size=LIVE_SIZE, device="cpu", temporal=0.5)) as e:
        alone = [e.dream(f) for f in frames]
        chain = e.chain()
        blended = [chain.dream(f) for f in frames]
        assert "temporal blend 0.5" in e.describe()
    assert np.array_equal(blended[0], alone[0]) and not np.array_equal(blended[1], alone[1])
