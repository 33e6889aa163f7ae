"""Simulated sessions: the BIDS tree, refusing to overwrite, crash-safe appends and kill -9 + --resume."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from hallucinator.cli import main
from hallucinator.experiment import bids
from hallucinator.experiment.runner import RunOptions, run_session
from test_experiment_support import check_bids_session, wait_until


def test_simulated_demo_session_tree(tmp_path):
    paths = run_session(RunOptions("demo", "02", data=tmp_path, simulate=4, console=None))
    events = check_bids_session(tmp_path, "02", "01", "demo")
    info = json.loads(paths.session_json.read_text())
    assert info["simulated"] and info["seed"] == 4 and info["order"] == ["dream", "control"]
    assert bids.read_tsv(tmp_path / "participants.tsv")[0]["simulated"] == "1"
    stims = [r for r in events if r["trial_type"] == "stimulus"]
    assert [r["condition"] for r in stims] == ["dream", "control"]
    assert [r["stim_file"] for r in stims] == ["campus/dream.mp4", "campus/control.mp4"]   # under stimuli/
    beh = bids.read_tsv(paths.beh)
    assert len([r for r in beh if r["task"] == "heq"]) == 16
    assert len([r for r in beh if r["task"] == "production"]) == 4
    # same seed, same data
    run_session(RunOptions("demo", "02", session="02", data=tmp_path, simulate=4, console=None))
    again = bids.read_tsv(tmp_path / "sub-02/ses-02/beh/sub-02_ses-02_task-demo_beh.tsv")
    assert [r["response"] for r in again] == [r["response"] for r in beh]


def test_refuses_to_overwrite_and_to_resume_complete(tmp_path, capsys):
    args = ["experiment", "run", "demo", "-p", "5", "--simulate", "1", "--data", str(tmp_path)]
    assert main(args) == 0
    before = (tmp_path / "sub-05/ses-01/beh/sub-05_ses-01_task-demo_events.tsv").read_bytes()
    assert main(args) == 2
    assert "add --resume" in capsys.readouterr().err
    assert main(args + ["--resume"]) == 2
    assert "already complete" in capsys.readouterr().err
    assert (tmp_path / "sub-05/ses-01/beh/sub-05_ses-01_task-demo_events.tsv").read_bytes() == before
    assert main(["experiment", "run", "demo", "-p", "5", "--data", str(tmp_path), "--resume", "--headless"]) == 2
    assert "--simulate" in capsys.readouterr().err
    main(["experiment", "run", "demo", "-p", "5", "--data", str(tmp_path), "--resume", "--simulate", "2"])
    assert "already complete" in capsys.readouterr().err


def test_appender_cuts_only_a_partial_last_line(tmp_path):
    path = tmp_path / "x.tsv"
    w = bids.TsvAppender(path, ["a", "b"])
    w.write({"a": 1, "b": "x"})
    w.close()
    with open(path, "a") as fh:
        fh.write("2\thalf-writ")            # a kill in the middle of a row
    assert [r["a"] for r in bids.read_tsv(path)] == ["1"]
    with pytest.raises(FileExistsError):
        bids.TsvAppender(path, ["a", "b"])
    w = bids.TsvAppender(path, ["a", "b"], resume=True)
    w.write({"a": 3, "b": None})
    w.close()
    assert path.read_text() == "a\tb\n1\tx\n3\tn/a\n"


RESUME_PROTOCOL = """
[protocol]
name = "resumetest"
[stimuli.s]
control = "c.mp4"
dream = "d.mp4"
[conditions.control]
stimulus = "s"
dose = 0.0
[conditions.dream]
stimulus = "s"
dose_timeline = [[0, 0.0], [1.0, 1.0]]
[[intro]]
type = "instructions"
text = "Hello"
[[block]]
type = "stimulus"
duration = 2.0
[[block]]
type = "questionnaire"
file = "heq.toml"
[[block]]
type = "production"
durations = [0.5, 0.8]
[simulate]
pace = 0.05
"""


def _cmd(proto, data, *extra):
    return [sys.executable, "-m", "hallucinator", "experiment", "run", str(proto), "-p", "3", "--simulate", "9",
            "--realtime", "--headless", "--data", str(data), *extra]


@pytest.mark.slow
def test_kill_minus_9_then_resume(tmp_path):
    proto = tmp_path / "resume.toml"
    proto.write_text(RESUME_PROTOCOL)
    data = tmp_path / "data"
    events = data / "sub-03/ses-01/beh/sub-03_ses-01_task-resumetest_events.tsv"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(_cmd(proto, data), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                            cwd=tmp_path)
    # kill it in the middle of the second block's stimulus, once the dose has started ramping up

    def ramping():
        rows = bids.read_tsv(events)
        starts = [i for i, r in enumerate(rows) if r["trial_type"] == "stimulus_start"]
        return len(starts) == 2 and any(r["trial_type"] == "dose_change" for r in rows[starts[1]:])

    if not wait_until(lambda: ramping() or proc.poll() is not None, 120) or proc.poll() is not None:
        proc.kill()
        pytest.fail("the session never reached the second stimulus: " + proc.stderr.read().decode())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    before_events = events.read_bytes()
    before_beh = (events.parent / "sub-03_ses-01_task-resumetest_beh.tsv").read_bytes()
    before_motion = next((data / "sub-03/ses-01/motion").glob("*_motion.tsv")).read_bytes()
    rows_before = bids.read_tsv(events)
    assert rows_before[-1]["trial_type"] in ("stimulus_start", "dose_change")
    # without --resume: refused, nothing touched
    r = subprocess.run(_cmd(proto, data), capture_output=True, env=env, cwd=tmp_path)
    assert r.returncode == 2 and b"--resume" in r.stderr
    assert events.read_bytes() == before_events
    r = subprocess.run(_cmd(proto, data, "--resume"), capture_output=True, env=env, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    after = events.read_bytes().split(b"\n")
    # every row written before the kill is still there, byte for byte, ahead of the resumed run's rows (the
    # completed session's file is put in onset order, so rows of the first run may have swapped places)
    cut = before_events[: before_events.rfind(b"\n") + 1].split(b"\n")[:-1]
    assert sorted(after[: len(cut)]) == sorted(cut)
    onsets = [float(r["onset"]) for r in bids.read_tsv(events)]
    assert onsets == sorted(onsets)
    assert (events.parent / "sub-03_ses-01_task-resumetest_beh.tsv").read_bytes().startswith(
        before_beh[: before_beh.rfind(b"\n") + 1])
    assert next((data / "sub-03/ses-01/motion").glob("*_motion.tsv")).read_bytes().startswith(
        before_motion[: before_motion.rfind(b"\n") + 1])
    rows = check_bids_session(data, "03", "01", "resumetest")
    interrupted = int(rows_before[-1]["step"])
    assert [r["trial_type"] for r in rows].count("session_resume") == 1
    # each step finished exactly once; only the interrupted one ran twice
    ends = [(r["step"], r["attempt"]) for r in rows if r["trial_type"] == "step_end"]
    assert len(ends) == len({s for s, _ in ends})
    assert dict(ends)[str(interrupted)] == "2"
    starts = [(int(r["step"]), r["attempt"]) for r in rows if r["trial_type"] == "step_start"]
    assert len(starts) == len(set(starts))
    assert {s for s, a in starts if a == "2"} == {interrupted}
    # no row duplicated
    keys = [tuple(sorted(r.items())) for r in rows]
    assert len(keys) == len(set(keys))
    # one answer per item in the finished questionnaires, none of them re-asked
    beh = bids.read_tsv(events.parent / "sub-03_ses-01_task-resumetest_beh.tsv")
    items = [(r["step"], r["item"], r["attempt"]) for r in beh]
    assert len(items) == len(set(items)) and all(a == "1" for _, _, a in items if _ != str(interrupted))
    # the time axis continues across the restart
    onsets = [float(r["onset"]) for r in rows if r["trial_type"] in ("step_start", "step_end")]
    assert onsets == sorted(onsets)
    info = json.loads((data / "sub-03/ses-01/sub-03_ses-01_task-resumetest_session.json").read_text())
    assert len(info["runs"]) == 2 and info["runs"][1]["resumed"]


def test_window_size_errors_are_one_line_and_write_nothing(tmp_path, capsys):
    for size, needle in (("10x10", "at least 64 pixels"), ("wide", "WIDTHxHEIGHT")):
        assert main(["experiment", "run", "demo", "-p", "1", "--data", str(tmp_path), "--window", size]) == 2
        err = capsys.readouterr().err
        assert needle in err and err.count("\n") == 1
    assert not any(tmp_path.iterdir())
