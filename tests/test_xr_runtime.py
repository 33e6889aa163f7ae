"""The headset path against a real OpenXR runtime: Monado's simulated headset, under Xvfb (tests/xr_runtime.py).

Each run is a child process.  The null compositor paces frames at 20 Hz, so these tests assert what was
submitted and logged (layers, pose rows and their source, session states), never frame timing.
"""
from __future__ import annotations

import csv
import json
import textwrap

import pytest

from xr_runtime import hallucinator

pytestmark = pytest.mark.gl

BATTLE = "videos/panolens-1941-battle-640x320.mp4"
CONGO_TB = "videos/gvr-congo-stereo-tb.mp4"
CLEAN_END = "STOPPING > IDLE > EXITING"


def pose_rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def xr_line(stdout: str) -> str:
    return next(line for line in stdout.splitlines() if line.startswith("xr: "))


def layers_and_frames(line: str, kind: str):
    """(layers, frames) from the command's ``xr: N KIND layers in F frames; ...`` line."""
    words = line[4:].split(";")[0].split(", ")
    part = next(w for w in words if f" {kind} layers in " in w)
    return int(part.split()[0]), int(part.split()[-2])


@pytest.mark.slow
@pytest.mark.parametrize("layer", ["projection", "equirect"])
def test_view_in_the_simulated_headset(xr_runtime, shared, tmp_path, layer):
    """40 video frames in each layer kind, the dose dial moving from control to dream: exit 0, the headset's own
    poses logged once per frame, each frame submitted as that layer, and the session ended through EXITING."""
    clip = shared(BATTLE)
    log = tmp_path / "pose.tsv"
    proc = hallucinator(xr_runtime, "view", clip, "--control", clip, "--dose", "0s:0 -> 1s:1", "--xr",
                        "--xr-layer", layer, "--frames", 40, "--no-audio", "--pose-log", log, "--headless")
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = pose_rows(log)
    assert len(rows) >= 30 and {r["source"] for r in rows} == {"xr"}
    quats = {tuple(round(float(r[k]), 4) for k in ("quat_w", "quat_x", "quat_y", "quat_z")) for r in rows}
    assert len(quats) >= 10, "the simulated head's orientation should move"
    doses = [float(r["dose"]) for r in rows]
    assert doses[0] < 0.2 and doses[-1] == pytest.approx(1.0) and doses == sorted(doses)
    line = xr_line(proc.stdout)
    layers, frames = layers_and_frames(line, layer)
    assert layers == frames and frames >= len(rows) - 1
    assert "FOCUSED" in line and line.endswith(CLEAN_END)


@pytest.mark.slow
@pytest.mark.parametrize("layer", ["projection", "equirect"])
def test_top_bottom_stereo_in_the_headset(xr_runtime, shared, tmp_path, layer):
    """A top-bottom source: the projection layer draws each eye from its half; equirect is two layers a frame,
    one per eye."""
    proc = hallucinator(xr_runtime, "view", shared(CONGO_TB), "--stereo", "top-bottom", "--xr", "--xr-layer", layer,
                        "--frames", 12, "--no-audio", "--pose-log", tmp_path / "pose.tsv", "--headless")
    assert proc.returncode == 0, proc.stderr[-2000:]
    layers, frames = layers_and_frames(xr_line(proc.stdout), layer)
    assert frames >= 10 and layers == (2 * frames if layer == "equirect" else frames)
    assert json.loads((tmp_path / "pose.json").read_text())["Metadata"]["stereo"] == "top-bottom"


def test_auto_layer_is_equirect_when_the_runtime_offers_it(xr_runtime, shared, tmp_path):
    assert "XR_KHR_composition_layer_equirect2" in xr_runtime["HALLUCINATOR_XR_EXTENSIONS"].split()
    proc = hallucinator(xr_runtime, "view", shared(BATTLE), "--xr", "--frames", 5, "--no-audio", "--headless")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert layers_and_frames(xr_line(proc.stdout), "equirect")[1] >= 5


THREE_SESSIONS = textwrap.dedent("""
    import json, sys
    from hallucinator.viewer.app import Viewer
    out = []
    for k in range(3):
        with Viewer(size=(320, 180), visible=False, xr=True) as v:
            plays = [v.play(sys.argv[1], max_frames=6, audio=False, keys=False, pose_log=f"{sys.argv[2]}/s{k}p{p}.tsv",
                            xr_layer=("equirect", "projection")[(k + p) % 2]).frames_presented for p in range(2)]
            session = v.xr
        out.append({"plays": plays, "states": session.states, "layers": session.layers_submitted})
    print(json.dumps(out))
""")


@pytest.mark.slow
def test_three_sessions_one_after_another_in_one_process(xr_runtime, shared, tmp_path):
    """What the experiment runner does: several playbacks in one session, and sessions one after another."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", THREE_SESSIONS, str(shared(BATTLE)), str(tmp_path)], env=xr_runtime,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    sessions = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(sessions) == 3
    for k, s in enumerate(sessions):
        assert all(n >= 6 for n in s["plays"])
        assert s["states"][:5] == ["IDLE", "READY", "SYNCHRONIZED", "VISIBLE", "FOCUSED"]
        assert " > ".join(s["states"]).endswith(CLEAN_END)
        assert set(s["layers"]) == {"equirect", "projection"}
        for p in range(2):
            rows = pose_rows(tmp_path / f"s{k}p{p}.tsv")
            assert len(rows) >= 6 and {r["source"] for r in rows} == {"xr"}


def test_no_runtime_is_one_line_and_exit_2(xr_runtime, shared, tmp_path):
    env = dict(xr_runtime, XR_RUNTIME_JSON=str(tmp_path / "missing.json"))
    proc = hallucinator(env, "view", shared(BATTLE), "--xr", "--frames", 3, "--no-audio")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "no OpenXR runtime available" in proc.stderr


def test_a_runtime_that_refuses_is_one_line_and_exit_2(xr_runtime, shared, tmp_path):
    """A manifest whose library is not an OpenXR runtime: the loader refuses it."""
    (tmp_path / "lib.so").write_bytes(b"not a library")
    manifest = tmp_path / "runtime.json"
    manifest.write_text(json.dumps({"file_format_version": "1.0.0",
                                    "runtime": {"name": "broken", "library_path": str(tmp_path / "lib.so")}}))
    log = tmp_path / "pose.tsv"
    proc = hallucinator(dict(xr_runtime, XR_RUNTIME_JSON=str(manifest)), "view", shared(BATTLE), "--xr",
                        "--frames", 3, "--no-audio", "--pose-log", log)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and proc.stderr.startswith("hallucinator: ")
    assert not log.exists()
