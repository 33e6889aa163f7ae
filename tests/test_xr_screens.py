"""Screens in the headset (a quad layer), controller keys, the sphere the equirect layer gets, and a whole
simulated lab session in Monado's simulated headset (tests/xr_runtime.py)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from xr_runtime import REPO, hallucinator

BATTLE = "videos/panolens-1941-battle-640x320.mp4"


def test_thumbstick_presses_arrows_once_then_repeats_while_held():
    from hallucinator.viewer.xr_actions import REPEAT_S, StickKeys

    keys, stick = [], StickKeys()
    emit = lambda key, repeat: keys.append((key, repeat))   # noqa: E731
    stick.update(0.2, 0.0, 0.0, emit)              # inside the dead zone: nothing
    stick.update(0.9, 0.0, 0.1, emit)              # pushed right: one press
    stick.update(0.9, 0.0, 0.1 + REPEAT_S / 2, emit)
    stick.update(0.9, 0.0, 0.1 + REPEAT_S, emit)   # held: a repeat
    stick.update(0.0, 0.0, 0.5, emit)              # released
    stick.update(-0.8, 0.0, 0.6, emit)             # pushed left: a new press
    assert keys == [("right", False), ("right", True), ("left", False)]


@pytest.mark.gl
def test_the_equirect_layer_gets_the_mixed_sphere_top_row_up(xdisplay):
    """The picture an equirect layer is given is the dose mix of control and dream, pixel for pixel at the
    source's size, latitude +90° in the top row (read back bottom-up, as GL stores it)."""
    from OpenGL import GL

    from hallucinator.viewer.app import Viewer
    from hallucinator.viewer.gl import Framebuffer, read_pixels

    rng = np.random.default_rng(3)
    dream = rng.integers(0, 256, (32, 64, 3), dtype=np.uint8)
    control = rng.integers(0, 256, (32, 64, 3), dtype=np.uint8)
    with Viewer(size=(64, 32), visible=False) as v:
        v.set_frames(dream, control)
        fbo = Framebuffer(64, 32)
        try:
            GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, fbo.id)
            v.renderer.draw_sphere((0, 0, 64, 32), dose=0.25)
            got = read_pixels(0, 0, 64, 32, fbo.id).astype(float)
        finally:
            fbo.delete()
    want = control + 0.25 * (dream.astype(float) - control)
    assert np.abs(got - want).max() <= 1.5


SCREENS = textwrap.dedent("""
    import json, sys, time
    from hallucinator.experiment.clock import SessionClock
    from hallucinator.experiment.display import PlayRequest
    from hallucinator.experiment.screens import Screen, Slider
    from hallucinator.experiment.viewer_bridge import ViewerDisplay
    with ViewerDisplay(SessionClock(), size=(640, 360), xr=True) as d:
        xr = d.v.xr
        first = Screen(title="How intense was it?", slider=Slider(None), hint="Use the thumbstick, then select.")
        for screen in (first, Screen(title="Thank you", body="Press SPACE to continue.")):
            d.show(screen)
            end = time.monotonic() + 1.5
            while time.monotonic() < end:
                d.poll(); d.show(screen); d.wait(0.005)
        mirror = d.v.read_pixels()
        out = {"layers": dict(xr.layers_submitted), "uploads": xr.quad.uploads,
               "profiles": xr.actions.current_profiles(), "accepted": xr.actions.profiles,
               "mirror_lit": float((mirror.max(axis=2) > 200).mean())}
        cue = Screen(big="+", hint="Press SPACE when the interval is over.", transparent=True)
        res = d.play(PlayRequest(sys.argv[1], None, None, 1.5, lambda t: 1.0, overlay=lambda t: cue),
                     lambda t, q, dose: None)
        out.update(played=res.frames, after_play=xr.layers_submitted, quad_after_play=xr.quad.visible)
    print(json.dumps(out))
""")


@pytest.mark.gl
@pytest.mark.slow
def test_screens_are_a_quad_in_the_headset_with_controllers(xr_runtime, shared):
    """Two screens: each uploaded once to the quad's swapchain and submitted frame after frame while it is up,
    the desktop window showing it too; the action set binds to the simulated controllers.  Then a timing cue
    over a video: the quad over the scene's layer in every frame, gone when the video ends."""
    env = dict(xr_runtime, SIMULATED_LEFT="simple", SIMULATED_RIGHT="simple")
    proc = subprocess.run([sys.executable, "-c", SCREENS, str(shared(BATTLE))], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    frames, quads = out["layers"]["quad"]
    assert frames == quads and frames >= 20          # 3 s of screens at the null compositor's 20 Hz
    assert out["uploads"] == 2
    assert "/interaction_profiles/khr/simple_controller" in out["accepted"]
    assert "/interaction_profiles/khr/simple_controller" in out["profiles"]
    assert out["mirror_lit"] > 0.001                 # the screen's text on the desktop mirror
    scene_frames, _ = out["after_play"]["equirect"]
    assert out["played"] >= 5 and scene_frames >= out["played"] - 1
    assert out["after_play"]["quad"][0] - frames >= scene_frames - 1     # the cue over (nearly) every frame
    assert out["quad_after_play"] is False


@pytest.mark.gl
@pytest.mark.slow
def test_a_simulated_lab_session_in_the_headset(xr_runtime, shared, tmp_path):
    """experiment run demo --xr in real time (a simulated participant; about a minute): complete, with motion
    from the runtime's poses, and data the BIDS validator accepts (when it is installed)."""
    clip = shared(BATTLE)
    ds = tmp_path / "ds"
    for p in ("11",):
        proc = hallucinator(xr_runtime, "experiment", "run", REPO / "experiments" / "demo.toml", "--participant", p,
                            "--simulate", p, "--realtime", "--xr", "--data", ds, "--stim", f"campus.dream={clip}",
                            "--stim", f"campus.control={clip}", timeout=400, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "session complete" in proc.stdout + proc.stderr
        motion = next(ds.glob(f"sub-{p}/ses-01/motion/*_motion.tsv"))
        rows = [line.split("\t") for line in motion.read_text().splitlines() if line.strip()]
        quats = {tuple(round(float(x), 4) for x in r[2:6]) for r in rows}
        assert len(rows) >= 60 and len(quats) >= 30      # the simulated head's wobble, not a scripted path
        sidecar = json.loads(motion.with_suffix(".json").read_text())
        assert sidecar["TrackingSystemName"].startswith("OpenXR headset")
        session = json.loads(next(ds.glob(f"sub-{p}/ses-01/*_session.json")).read_text())
        assert "--xr" in json.dumps(session)
    if shutil.which("bids-validator"):       # .ci/run installs it; tests/test_experiment_bids.py says more
        from test_experiment_bids import EXPLAINED_WARNINGS

        r = subprocess.run(["bids-validator", "--json", str(ds)], capture_output=True, text=True, timeout=300)
        report = json.loads(r.stdout)
        assert [i["key"] for i in report["issues"]["errors"]] == []
        assert {i["key"] for i in report["issues"]["warnings"]} <= EXPLAINED_WARNINGS


def test_xr_layer_without_xr_is_one_line_and_exit_2(shared, capsys):
    from hallucinator.cli import main

    assert main(["view", str(shared(BATTLE)), "--xr-layer", "equirect"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--xr-layer applies to --xr only" in err


@pytest.mark.gl
def test_controller_actions_reach_the_runner_as_keys(xdisplay):
    """select and the thumbstick, as the session emits them, arrive at the runner as SPACE and arrow keys
    (held: repeats) through the window's one input path."""
    from hallucinator.experiment.clock import SessionClock
    from hallucinator.experiment.viewer_bridge import ViewerDisplay
    from hallucinator.viewer.app import Viewer
    from hallucinator.viewer.xr import XRSession

    with Viewer(size=(64, 64), visible=False) as v:
        session = XRSession(v)                 # not opened: only its key path is used
        for name, repeat in (("space", False), ("right", False), ("right", True), ("left", False)):
            session._emit_key(name, repeat)
        inputs = ViewerDisplay(SessionClock(), viewer=v).poll()
    assert [(i.kind, i.key) for i in inputs] == [("key", "space"), ("key", "right"), ("key", "right"),
                                                 ("key", "left")]
