"""Helpers for the experiment tests (no tests here): synthetic clips and BIDS checks."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

EPS = 2e-6      # times in the TSVs are written to the microsecond


def wait_until(predicate, timeout: float, interval: float = 0.02) -> bool:
    """Poll ``predicate`` until it is true (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def event_rows(path: Path, trial_type: str):
    """Rows of an events file (read while it is being written) with that trial_type."""
    from hallucinator.experiment import bids
    return [r for r in bids.read_tsv(path) if r["trial_type"] == trial_type]


def _duration(row) -> float:
    return 0.0 if row["duration"] == "n/a" else float(row["duration"])


def check_time_axis(events):
    """Session and step boundaries never go back in time, and every row of a finished step lies inside it."""
    marks = [float(r["onset"]) for r in events if r["trial_type"] in (
        "session_start", "session_resume", "step_start", "step_end", "session_end")]
    assert marks == sorted(marks), marks
    bounds = {}
    for r in events:
        if r["trial_type"] in ("step_start", "step_end"):
            bounds.setdefault((r["step"], r["attempt"]), {})[r["trial_type"]] = float(r["onset"])
    for r in events:
        b = bounds.get((r["step"], r["attempt"]), {})
        if "step_end" not in b:
            continue
        assert b["step_start"] - EPS <= float(r["onset"]), r
        assert float(r["onset"]) + _duration(r) <= b["step_end"] + EPS, r


def make_clip(path: Path, seconds: float = 2.0, fps: int = 10, size=(128, 64), hue: int = 0) -> Path:
    """A tiny equirect (2:1) H.264 clip with moving stripes, written with PyAV."""
    import av
    w, h = size
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264" if "libx264" in av.codecs_available else "mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        u = np.arange(w)[None, :]
        v = np.arange(h)[:, None]
        for i in range(int(seconds * fps)):
            img = np.zeros((h, w, 3), np.uint8)
            img[..., 0] = ((u + 4 * i) % 32 * 8 + hue) % 256
            img[..., 1] = (v * 4) % 256
            img[..., 2] = 128 + hue % 128
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def make_pair(folder: Path, seconds: float = 2.0):
    folder = Path(folder)
    return make_clip(folder / "control.mp4", seconds, hue=0), make_clip(folder / "dream.mp4", seconds, hue=90)


REQUIRED_EVENTS = ["onset", "duration", "trial_type", "condition", "dose", "stim_file", "response", "response_time"]


def check_bids_session(root: Path, pid: str, ses: str, task: str, complete: bool = True):
    """Assert the BIDS-style tree of one session is complete and consistent; return its events rows."""
    import json

    from hallucinator.experiment import bids

    root = Path(root)
    desc = json.loads((root / "dataset_description.json").read_text())
    assert desc["Name"] and desc["BIDSVersion"]
    parts = bids.read_tsv(root / "participants.tsv")
    row = [r for r in parts if r["participant_id"] == f"sub-{pid}" and r["session_id"] == ses and r["task"] == task]
    assert len(row) == 1, parts
    assert row[0]["status"] == ("complete" if complete else "started")
    assert (root / "participants.json").exists()
    d = root / f"sub-{pid}" / f"ses-{ses}"
    stem = f"sub-{pid}_ses-{ses}_task-{task}"
    ev_path = d / "beh" / f"{stem}_events.tsv"
    header = ev_path.read_text().split("\n", 1)[0].split("\t")
    assert header[:2] == ["onset", "duration"] and set(REQUIRED_EVENTS) <= set(header)
    side = json.loads((d / "beh" / f"{stem}_events.json").read_text())
    assert all(c in side for c in header), set(header) - set(side)
    events = bids.read_tsv(ev_path)
    assert events and all(len(r) == len(header) for r in events)
    for r in events:
        float(r["onset"])
        assert r["duration"] == "n/a" or float(r["duration"]) >= 0
    check_time_axis(events)
    beh_path = d / "beh" / f"{stem}_beh.tsv"
    beh_header = beh_path.read_text().split("\n", 1)[0].split("\t")
    beh_side = json.loads((d / "beh" / f"{stem}_beh.json").read_text())
    assert all(c in beh_side for c in beh_header)
    motion = sorted((d / "motion").glob(f"{stem}_tracksys-*_motion.tsv"))
    assert len(motion) == 1
    chans = bids.read_tsv(Path(str(motion[0]).replace("_motion.tsv", "_channels.tsv")))
    assert [c["name"] for c in chans][:2] == ["latency", "step"] and sum(c["type"] == "ORNT" for c in chans) == 4
    msd = json.loads(motion[0].with_suffix(".json").read_text())
    assert {"SamplingFrequency", "TaskName", "TrackingSystemName"} <= set(msd)
    assert msd["TrackingSystemName"].startswith("hallucinator viewer")      # no headset here: the viewer's poses
    lines = [ln for ln in motion[0].read_text().split("\n") if ln]
    assert lines, "no head motion"
    for ln in lines[:50]:
        vals = [float(x) for x in ln.split("\t")]
        assert len(vals) == len(chans)
        assert abs(sum(v * v for v in vals[2:6]) - 1.0) < 1e-3
    info = json.loads((d / f"{stem}_session.json").read_text())
    from hallucinator import __version__
    assert all(run["versions"]["hallucinator"] == __version__ for run in info["runs"])
    assert info["schedule"] and [s["step"] for s in info["schedule"]] == list(range(len(info["schedule"])))
    assert (d / f"{stem}_protocol.toml").exists()
    if complete:
        assert events[-1]["trial_type"] == "session_end"
        ends = [r for r in events if r["trial_type"] == "step_end"]
        assert sorted(int(r["step"]) for r in ends) == list(range(len(info["schedule"])))
    return events
