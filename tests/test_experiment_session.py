"""The demo protocol in a real window under Xvfb, answered with real key presses; LSL markers on an inlet."""
from __future__ import annotations

import json
import math
import re
import threading
import time
from pathlib import Path

import pytest

from hallucinator.experiment import bids
from hallucinator.experiment.runner import RunOptions, SessionRunner
from test_experiment_support import check_bids_session, event_rows, make_pair, wait_until
from xkeys import XKeys

pytestmark = [pytest.mark.gl, pytest.mark.slow]


class Driver(threading.Thread):
    """A participant at the keyboard: reads which step is running from the events file and presses keys."""

    def __init__(self, display, events_path, ready):
        super().__init__(daemon=True)
        self.display, self.events_path, self.ready = display, events_path, ready
        self.stop = threading.Event()
        self.error = None

    def run(self):
        try:
            xk = XKeys(self.display)
            xk.move(60, 40)
            self.ready.wait(20)
            while not self.stop.is_set():
                rows = bids.read_tsv(self.events_path)
                open_steps = {}
                for r in rows:
                    if r["trial_type"] == "step_start":
                        open_steps[r["step"]] = r["response"]
                    elif r["trial_type"] == "step_end":
                        open_steps.pop(r["step"], None)
                kind = list(open_steps.values())[-1] if open_steps else None
                if kind == "instructions":
                    xk.key("space")
                elif kind == "questionnaire":
                    for k in ("right", "right", "right", "enter"):
                        xk.key(k)
                        time.sleep(0.03)      # typing, not waiting for the program
                elif kind == "production":
                    xk.key("space")
                    time.sleep(0.7)           # the interval this participant produces
                    xk.key("space")
                elif kind == "stimulus":
                    xk.key("right", hold=0.3)          # look around
                # the next key when the session has moved on (or again after 1.5 s: a press may have been early)
                wait_until(lambda: len(bids.read_tsv(self.events_path)) != len(rows) or self.stop.is_set(), 1.5)
            xk.close()
        except Exception as exc:  # pragma: no cover - reported by the test
            self.error = exc


class MarkerReader(threading.Thread):
    def __init__(self, source_id):
        super().__init__(daemon=True)
        self.source_id = source_id
        self.samples = []
        self.ready = threading.Event()
        self.stop = threading.Event()
        self.ended = threading.Event()      # the session_end marker arrived

    def run(self):
        import pylsl
        found = []
        t0 = time.time()
        while not found and time.time() - t0 < 30 and not self.stop.is_set():
            found = pylsl.resolve_byprop("source_id", self.source_id, timeout=0.5)
        if not found:
            self.ready.set()
            return
        inlet = pylsl.StreamInlet(found[0], max_buflen=60)
        inlet.open_stream(timeout=10)
        self.ready.set()
        while not self.stop.is_set():
            sample, ts = inlet.pull_sample(timeout=0.2)
            if sample is not None:
                self.samples.append((json.loads(sample[0]), ts))
                if self.samples[-1][0]["event"] == "session_end":
                    self.ended.set()
        for _ in range(20):      # drain
            sample, ts = inlet.pull_sample(timeout=0.1)
            if sample is None:
                break
            self.samples.append((json.loads(sample[0]), ts))


def test_demo_session_in_a_window_with_keys_and_lsl(xdisplay, tmp_path, monkeypatch):
    from hallucinator.experiment import viewer_bridge
    control, dream = make_pair(tmp_path / "stim", seconds=2.0)
    shown = []
    real_show = viewer_bridge.ViewerDisplay.show

    def recording_show(self, screen):
        shown.append(" ".join([screen.title, screen.body, screen.big, screen.hint]))
        return real_show(self, screen)

    monkeypatch.setattr(viewer_bridge.ViewerDisplay, "show", recording_show)
    opts = RunOptions("demo", "01", data=tmp_path / "data", window=(320, 180), console=None,
                      stim={"campus.dream": str(dream), "campus.control": str(control)})
    runner = SessionRunner(opts)
    reader = MarkerReader("hallucinator-demo-sub-01-ses-01-markers")
    reader.start()
    driver = Driver(xdisplay, runner.paths.events, reader.ready)
    driver.start()
    try:
        runner.run()
        assert reader.ended.wait(10), "the session_end marker never arrived"
    finally:
        driver.stop.set()
        reader.stop.set()
        driver.join(5)
        reader.join(5)
    assert driver.error is None, driver.error
    events = check_bids_session(tmp_path / "data", "01", "01", "demo")

    # blinding: no participant-facing screen named a condition
    assert shown and not [s for s in shown if re.search(r"\b(control|dream)\b", s, re.I)]
    # answers came from the keys: three steps right from the middle of the slider
    beh = bids.read_tsv(runner.paths.beh)
    vas = [float(r["response"]) for r in beh if r["scale"] == "vas"]
    assert len(vas) == 12 and set(vas) == {54.0}
    likert7 = [float(r["response"]) for r in beh if r["scale"] == "likert-7"]
    assert likert7 == [6.0, 6.0]
    prod = [float(r["response"]) for r in beh if r["task"] == "production"]
    assert len(prod) == 4 and all(0.3 < p < 3.0 for p in prod)
    # the stimuli played for their duration, in the counterbalanced order, with head motion
    stims = [r for r in events if r["trial_type"] == "stimulus"]
    assert [r["condition"] for r in stims] == ["control", "dream"]
    assert all(abs(float(r["duration"]) - 15.0) < 0.5 for r in stims)
    motion = bids.iter_motion(next((tmp_path / "data/sub-01/ses-01/motion").glob("*_motion.tsv")))
    assert len(motion) > 100
    for step in {r["step"] for r in stims}:   # the right arrow turned the head right, 5 degrees a press
        quats = [[float(m[k]) for k in ("quat_w", "quat_x", "quat_y", "quat_z")] for m in motion if m["step"] == step]
        assert all(abs(q[1]) < 1e-6 and abs(q[3]) < 1e-6 for q in quats)     # no pitch, no roll
        yaws = [-2 * math.degrees(math.atan2(q[2], q[0])) for q in quats]
        assert all(abs(y / 5 - round(y / 5)) < 1e-3 for y in yaws)
        assert yaws == sorted(yaws) and yaws[-1] >= 5.0, yaws[-1]
    clock = bids.read_tsv(runner.paths.clock)
    assert any("playback" in c["where"] for c in clock)

    # LSL: every marker pushed is a row of the events file, at the same instant
    assert reader.samples, "no LSL markers received"
    by_key = {}
    for r in events:
        by_key.setdefault((r["trial_type"], r["step"], r["onset"]), r)
    # one time axis: lsl_time = t0 + onset, up to the rounding of the two written columns (6 decimals);
    # rounding the difference instead can split one t0 in two (22783.23505 -> .235 and .2351)
    t0s = [float(r["lsl_time"]) - float(r["onset"]) for r in events]
    assert max(t0s) - min(t0s) < 5e-6, (min(t0s), max(t0s))
    matched = 0
    for payload, ts in reader.samples:
        cands = [r for r in events if r["trial_type"] == payload["event"]
                 and str(payload.get("step", "n/a")) == r["step"]
                 and abs(float(r["lsl_time"]) - ts) < 2e-6 + 1e-6]
        if payload["event"] == "stimulus_end":
            stim = [r for r in stims if r["step"] == str(payload["step"])][0]
            assert abs(float(stim["lsl_time"]) + float(stim["duration"]) - ts) < 1e-3
            continue
        assert cands, (payload, ts)
        matched += 1
    kinds = {p["event"] for p, _ in reader.samples}
    assert {"step_start", "stimulus_start", "questionnaire_item", "production", "step_end"} <= kinds
    assert matched >= 40


BACKGROUND = """
[protocol]
name = "overlay"
[stimuli.s]
control = "{control}"
dream = "{dream}"
[conditions.control]
stimulus = "s"
dose = 0.0
[conditions.dream]
stimulus = "s"
dose_timeline = [[0, 0.0], [2, 1.0]]
[counterbalance]
scheme = "fixed"
[[block]]
type = "reproduction"
durations = [0.5]
background = "stimulus"
iti = 0.3
[[block]]
type = "production"
durations = [1.0]
background = "stimulus"
"""


def test_timing_tasks_over_the_video(xdisplay, tmp_path):
    """Timing cues drawn over the playing video; key presses reach them during playback."""
    control, dream = make_pair(tmp_path / "stim", seconds=1.0)
    proto = tmp_path / "bg.toml"
    proto.write_text(BACKGROUND.format(control=control, dream=dream))
    runner = SessionRunner(RunOptions(str(proto), "01", data=tmp_path / "data", window=(256, 144), console=None,
                                      lsl=False))
    stop = threading.Event()

    def press():
        xk = XKeys(xdisplay)
        xk.move(50, 40)
        wait_until(lambda: event_rows(runner.paths.events, "stimulus_start") or stop.is_set(), 60)
        while not stop.is_set():
            xk.key("space")
            stop.wait(0.7)          # a press every 0.7 s: the intervals the participant produces
        xk.close()

    th = threading.Thread(target=press, daemon=True)
    th.start()
    try:
        runner.run()
    finally:
        stop.set()
        th.join(5)
    events = check_bids_session(tmp_path / "data", "01", "01", "overlay")
    by_step = {}
    for r in events:
        by_step.setdefault(r["step"], []).append(r)
    for step in ("0", "2"):      # reproduction: the target, then the reproduced interval, while the video plays
        kinds = [r["trial_type"] for r in by_step[step]]
        assert kinds.index("stimulus_start") < kinds.index("reproduction_target") < kinds.index("reproduction")
        rep = [r for r in by_step[step] if r["trial_type"] == "reproduction"][0]
        stim = [r for r in by_step[step] if r["trial_type"] == "stimulus"][0]
        assert float(stim["onset"]) <= float(rep["onset"]) <= float(stim["onset"]) + float(stim["duration"])
        assert 0.3 < float(rep["response_time"]) < 3.0
    prod = [r for r in by_step["3"] if r["trial_type"] == "production"]
    assert len(prod) == 1 and 0.3 < float(prod[0]["response_time"]) < 3.0
    # the dose ramp of the dream block was logged as it happened
    assert any(r["trial_type"] == "dose_change" for r in by_step["2"])


ESCAPE = """
[protocol]
name = "escape"
[stimuli.s]
control = "{control}"
dream = "{dream}"
[conditions.control]
stimulus = "s"
dose = 0.0
[conditions.dream]
stimulus = "s"
dose = 1.0
[[block]]
type = "stimulus"
duration = 2.5
"""


def test_escape_stops_the_session_and_resume_finishes_it(xdisplay, tmp_path, capsys):
    from hallucinator.cli import main
    control, dream = make_pair(tmp_path / "stim", seconds=1.0)
    proto = tmp_path / "esc.toml"
    proto.write_text(ESCAPE.format(control=control, dream=dream))
    args = ["experiment", "run", str(proto), "-p", "1", "--data", str(tmp_path / "data"), "--window", "256x144",
            "--no-lsl"]
    events = tmp_path / "data/sub-01/ses-01/beh/sub-01_ses-01_task-escape_events.tsv"

    def press_escape():
        xk = XKeys(xdisplay)
        xk.move(50, 40)
        if wait_until(lambda: event_rows(events, "stimulus_start"), 30):
            # again until the runner has seen it
            wait_until(lambda: event_rows(events, "session_abort") or xk.key("escape"), 30, interval=0.1)
        xk.close()

    th = threading.Thread(target=press_escape, daemon=True)
    th.start()
    assert main(args) == 3
    th.join(5)
    assert "--resume" in capsys.readouterr().err
    rows = bids.read_tsv(events)
    assert rows[-1]["trial_type"] == "session_abort"
    stim = [r for r in rows if r["trial_type"] == "stimulus"][0]
    assert float(stim["duration"]) < 2.4          # stopped early
    assert main(args + ["--resume"]) == 0
    rows = check_bids_session(tmp_path / "data", "01", "01", "escape")
    assert [r["attempt"] for r in rows if r["trial_type"] == "step_end" and r["step"] == "0"] == ["2"]


LIVE = (ESCAPE.replace('name = "escape"', 'name = "live"')
        .replace('control = "{control}"\ndream = "{dream}"',
                 'live = "{source}"\nlive_size = "64x32"\nstudent = "{student}"')
        .replace("duration = 2.5", "duration = 1.5"))


def test_a_live_stimulus_is_dreamed_as_it_plays_and_staged_with_its_student(xdisplay, tmp_path):
    """A ``live`` stimulus: the source dreamed by a student as it plays (its own control at dose 0), looped past
    its end; the source and the student file are placed in stimuli/ with their hashes."""
    from hallucinator.io.probe import probe
    from hallucinator.student.export import write_random_student

    source, _ = make_pair(tmp_path / "stim", seconds=1.0)
    student = write_random_student(tmp_path / "student.onnx", seed=1)
    proto = tmp_path / "live.toml"
    proto.write_text(LIVE.format(source=source, student=student))
    runner = SessionRunner(RunOptions(str(proto), "01", data=tmp_path / "data", window=(160, 96), console=None,
                                      lsl=False))
    runner.run()
    events = check_bids_session(tmp_path / "data", "01", "01", "live")
    stims = [r for r in events if r["trial_type"] == "stimulus"]
    assert sorted(r["condition"] for r in stims) == ["control", "dream"]
    assert all(r["stim_file"] == "s/control.mp4" and r["mixed_with"] == "n/a" for r in stims)
    n_source = probe(source).frames
    for r in stims:   # the 1 s source looped on for the 1.5 s stimulus (shown or dropped, the clock went past its end)
        shown, dropped, dreamed = map(int, re.search(r"frames=(\d+) dropped=(\d+) dreamed=(\d+)",
                                                     r["response"]).groups())
        assert shown > 0 and shown + dropped > n_source and dreamed >= shown, (r["response"], n_source)
    placed = tmp_path / "data" / "stimuli" / "s"
    for name, kind, src in (("control.mp4", "live", source), ("student.onnx", "student", student)):
        side = json.loads((placed / f"{name}.json").read_text())
        assert side["Kind"] == kind and (placed / name).read_bytes() == Path(src).read_bytes()
