"""Crash-safe BIDS-style files.

Tree written for participant ``P``, session ``S``, task ``T``::

    DATA/dataset_description.json, participants.tsv (+ .json), README, .bidsignore
    DATA/stimuli/<stimulus>/<video> (+ <video>.json: SHA-256, source)  the videos shown (see .stimuli)
    DATA/sub-P/ses-S/beh/sub-P_ses-S_task-T_events.tsv (+ .json)   every event, one row each
    DATA/sub-P/ses-S/beh/sub-P_ses-S_task-T_beh.tsv (+ .json)      questionnaire and timing answers
    DATA/sub-P/ses-S/motion/sub-P_ses-S_task-T_tracksys-T_motion.tsv (+ .json, _channels.tsv + .json)
    DATA/sub-P/ses-S/sub-P_ses-S_task-T_clock.tsv                 LSL clock vs playback clock
    DATA/sub-P/ses-S/sub-P_ses-S_task-T_session.json              order, seed, versions, runs
    DATA/sub-P/ses-S/sub-P_ses-S_task-T_protocol.toml             the protocol as run (+ questionnaires)

Rows are only ever appended while a session runs.  Every events and beh row is flushed and
fsynced when it is written; motion rows are flushed at once and fsynced at
least every 0.2 s and at the end of every step (a killed process loses
nothing that was flushed; fsync guards against power loss).  A file that
exists is never truncated except for a partial last line left by a kill
(which is cut back to the last complete row on ``--resume``), and the
events file, which is put in onset order when a run ends (the same rows,
written to a temporary name and renamed: :func:`sort_events`).
"""
from __future__ import annotations

import csv
import json
import math
import os
import time
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

from ..atomic import atomic_write_text, fsync_dir

EVENTS_COLUMNS = ["onset", "duration", "trial_type", "condition", "dose", "stim_file", "mixed_with", "questionnaire",
                  "item", "response", "response_time", "step", "block", "attempt", "target", "lsl_time"]
BEH_COLUMNS = ["onset", "step", "block", "attempt", "condition", "dose", "task", "item", "dimension", "scale",
               "target", "response", "response_time"]
MOTION_CHANNELS = [  # name, component, type, units
    ("latency", "n/a", "LATENCY", "s"),
    ("step", "n/a", "MISC", "n/a"),
    ("quat_w", "quat_w", "ORNT", "n/a"),
    ("quat_x", "quat_x", "ORNT", "n/a"),
    ("quat_y", "quat_y", "ORNT", "n/a"),
    ("quat_z", "quat_z", "ORNT", "n/a"),
]
CHANNELS_COLUMNS = ["name", "component", "type", "tracked_point", "units", "reference_frame"]
REFERENCE_FRAME = "world"
CHANNELS_SIDECAR = {"reference_frame": {
    "Description": "Frame the head orientation is given in.",
    "Levels": {REFERENCE_FRAME: {
        "Description": "The viewer's world frame: x right, y up, -z forward at the start of playback (OpenGL "
                       "convention of hallucinator/sphere.py); quaternions rotate head (camera) to world.",
        "SpatialAxes": "RSP", "RotationRule": "right-hand"}}}}
CLOCK_COLUMNS = ["onset", "lsl_time", "playback_time", "offset", "wall_time", "where"]

EVENTS_SIDECAR = {
    "onset": {"Description": "Seconds since the session started, on the session clock (LSL local_clock, the "
                             "clock the viewer's frames and the motion file also use). Resumed runs continue "
                             "the same time axis.", "Units": "s"},
    "duration": {"Description": "Seconds the event lasted (0 for point events).", "Units": "s"},
    "trial_type": {"Description": "What happened.", "Levels": {
        "session_start": "a run of the session began (attempt counts runs)",
        "session_resume": "the session was resumed after an interruption",
        "session_end": "all steps are done",
        "step_start": "a step of the protocol began", "step_end": "a step of the protocol finished",
        "instructions": "an instruction screen was shown; response is the key that closed it",
        "stimulus_start": "the first frame of the 360 video was displayed",
        "stimulus": "the 360 video was played (condition, dose, stim_file); response: frames shown and dropped",
        "dose_change": "the dream dose changed during playback (dose is the new value)",
        "questionnaire_item": "one questionnaire item; response is the answer",
        "questionnaire": "a whole questionnaire (response: its dimension scores)",
        "production": "interval production: response_time is the produced interval, target the asked one",
        "reproduction_target": "interval reproduction: the interval to remember was shown",
        "reproduction": "interval reproduction: response_time is the reproduced interval",
        "rest": "a rest screen", "key": "a key press outside any task",
        "session_abort": "the operator stopped the session (Escape)"}},
    "condition": {"Description": "Condition name from the protocol (never shown to the participant)."},
    "dose": {"Description": "Mix of control (0) and dream (1) video shown."},
    "stim_file": {"Description": "Video shown, relative to the dataset's stimuli/ folder (its SHA-256 is in "
                                 "the .json beside it): the control video at dose 0, else the dream video."},
    "mixed_with": {"Description": "While control and dream are mixed (0 < dose < 1, or a dose timeline): the "
                                  "control video, relative to stimuli/; n/a otherwise."},
    "questionnaire": {"Description": "Questionnaire name (questionnaire and questionnaire_item rows)."},
    "item": {"Description": "Questionnaire item id (questionnaire_item rows); the item texts are in the "
                            "questionnaire file copied beside the session."},
    "response": {"Description": "Answer or key (questionnaire value, key name)."},
    "response_time": {"Description": "Seconds from onset to the response; for timing tasks the interval "
                                     "produced or reproduced.", "Units": "s"},
    "step": {"Description": "Index of the protocol step (0-based) in this participant's schedule."},
    "block": {"Description": "Block number (1-based, in presentation order); 0 outside blocks."},
    "attempt": {"Description": "1 for the first run of a step; 2, 3, ... when a step was re-run after --resume."},
    "target": {"Description": "Target interval of a timing trial.", "Units": "s"},
    "lsl_time": {"Description": "The same instant on the LSL clock (pylsl.local_clock()); LSL markers carry "
                                "this timestamp.", "Units": "s"},
}
BEH_SIDECAR = {
    "onset": {"Description": "Seconds since session start when the item or trial began.", "Units": "s"},
    "step": {"Description": "Protocol step index."}, "block": {"Description": "Block number, 0 outside blocks."},
    "attempt": {"Description": "Run of the step (1 unless re-run after --resume); analysis uses the last."},
    "condition": {"Description": "Condition of the block the answer refers to."},
    "dose": {"Description": "Dose of that condition (first keyframe for a timeline)."},
    "task": {"Description": "Questionnaire name, or production / reproduction."},
    "item": {"Description": "Item id (questionnaires) or trial number (timing tasks)."},
    "dimension": {"Description": "Dimension the item scores on."},
    "scale": {"Description": "vas (0-100), likert-N (1..N), or s (seconds) for timing."},
    "target": {"Description": "Target interval of a timing trial.", "Units": "s"},
    "response": {"Description": "Raw answer; for timing tasks the produced/reproduced interval in s."},
    "response_time": {"Description": "Seconds from item onset to the confirming key.", "Units": "s"},
}


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` durably (temporary name, fsync, rename, fsync of the folder), creating the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text, durable=True)


def write_json(path: Path, obj) -> None:
    atomic_write(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def fmt(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        return f"{value:.6f}".rstrip("0").rstrip(".") if abs(value) < 1e12 else repr(value)
    return str(value).replace("\t", " ").replace("\n", " ").replace("\r", " ")


def repair_partial_line(path: Path) -> int:
    """Cut a partial last line (no newline: the process died mid-write); return the bytes removed."""
    size = path.stat().st_size
    if size == 0:
        return 0
    with open(path, "rb+") as fh:
        fh.seek(max(0, size - 65536))
        tail = fh.read()
        if tail.endswith(b"\n"):
            return 0
        cut = tail.rfind(b"\n")
        new_size = (size - len(tail) + cut + 1) if cut >= 0 else 0
        fh.truncate(new_size)
        fh.flush()
        os.fsync(fh.fileno())
        return size - new_size


class TsvAppender:
    """Append-only TSV: one row per ``write``, flushed, and fsynced (at most every ``fsync_every`` s)."""

    def __init__(self, path: Path, columns: Sequence[str], header: bool = True, resume: bool = False,
                 fsync_every: float = 0.0):
        self.path = Path(path)
        self.columns = list(columns)
        self.fsync_every = fsync_every
        self._last_sync = 0.0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        exists = self.path.exists() and self.path.stat().st_size > 0
        if exists and not resume:
            raise FileExistsError(str(self.path))
        if exists:
            repair_partial_line(self.path)
            if header:
                with open(self.path, encoding="utf-8") as fh:
                    first = fh.readline().rstrip("\n").split("\t")
                if first != self.columns:
                    raise ValueError(f"{self.path}: columns {first} differ from {self.columns}")
        self._fh = open(self.path, "a", encoding="utf-8", newline="\n")
        if header and not exists:
            self._fh.write("\t".join(self.columns) + "\n")
            self.sync(force=True)
            fsync_dir(self.path.parent)

    def write(self, row: Dict) -> None:
        unknown = set(row) - set(self.columns)
        if unknown:
            raise KeyError(f"unknown columns {sorted(unknown)} for {self.path.name}")
        self._fh.write("\t".join(fmt(row.get(c)) for c in self.columns) + "\n")
        self.sync()

    def write_values(self, values: Sequence) -> None:
        self._fh.write("\t".join(fmt(v) for v in values) + "\n")
        self.sync()

    def sync(self, force: bool = False) -> None:
        self._fh.flush()
        now = time.monotonic()
        if force or self.fsync_every <= 0 or now - self._last_sync >= self.fsync_every:
            os.fsync(self._fh.fileno())
            self._last_sync = now

    def close(self) -> None:
        if not self._fh.closed:
            self.sync(force=True)
            self._fh.close()


def read_tsv(path: Path, columns: Optional[Sequence[str]] = None) -> List[Dict[str, str]]:
    """Rows of a TSV as dicts (``columns`` for a file without header); a partial last line is ignored."""
    path = Path(path)
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
    lines = [ln for ln in text.split("\n") if ln != ""]
    if columns is None:
        if not lines:
            return []
        columns, lines = lines[0].split("\t"), lines[1:]
    return [dict(zip(columns, ln.split("\t"))) for ln in lines]


def num(value, default=float("nan")) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


class SessionPaths:
    def __init__(self, root: Path, participant: str, session: str, task: str, tracksys: str = "viewer"):
        self.root = Path(root)
        self.participant, self.session, self.task = participant, session, task
        self.dir = self.root / f"sub-{participant}" / f"ses-{session}"
        stem = f"sub-{participant}_ses-{session}_task-{task}"
        self.stem = stem
        self.events = self.dir / "beh" / f"{stem}_events.tsv"
        self.beh = self.dir / "beh" / f"{stem}_beh.tsv"
        self.motion = self.dir / "motion" / f"{stem}_tracksys-{tracksys}_motion.tsv"
        self.motion_channels = self.dir / "motion" / f"{stem}_tracksys-{tracksys}_channels.tsv"
        self.clock = self.dir / f"{stem}_clock.tsv"
        self.session_json = self.dir / f"{stem}_session.json"
        self.protocol_copy = self.dir / f"{stem}_protocol.toml"

    def sidecar(self, tsv: Path) -> Path:
        return tsv.with_suffix(".json")


FILL_IN = "FILL IN: "    # dataset_description.json placeholders the lab replaces before sharing


def ensure_dataset(root: Path, name: str) -> None:
    """dataset_description.json, README, .bidsignore and participants.json, written once."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    from .. import __version__
    if not (root / "dataset_description.json").exists():
        write_json(root / "dataset_description.json", {
            "Name": name, "BIDSVersion": "1.9.0", "DatasetType": "raw",
            "Authors": [FILL_IN + "the authors of this dataset, one per entry"],
            "License": FILL_IN + "the licence the data are shared under, e.g. CC0 or a data use agreement",
            "GeneratedBy": [{"Name": "hallucinator", "Version": __version__,
                             "Description": "hallucinator experiment run"}]})
    if not (root / ".bidsignore").exists():
        atomic_write(root / ".bidsignore", "*_clock.tsv\n*_session.json\n*_protocol.toml\n*_questionnaire-*.toml\n"
                                           "derivatives/\nstimuli/**/*.json\n")
    if not (root / "README").exists():
        atomic_write(root / "README", f"{name}\n\nRecorded with `hallucinator experiment run`. Each "
                     "sub-*/ses-* folder holds the events, answers, head motion, clock offsets, the protocol "
                     "as run and the software versions; stimuli/ holds the videos shown, each with its "
                     "SHA-256 in the .json beside it.\n\nBefore sharing: replace the \"" + FILL_IN.strip() +
                     "\" entries of dataset_description.json (Authors, License).\n")
    if not (root / "participants.json").exists():
        write_json(root / "participants.json", {
            "participant_id": {"Description": "Participant label"},
            "session_id": {"Description": "Session label"},
            "task": {"Description": "Task label (protocol name)"},
            "order_index": {"Description": "Row of the counterbalancing scheme (participant number - 1 mod rows)"},
            "order": {"Description": "Condition order (comma-separated; never shown to the participant)"},
            "scheme": {"Description": "Counterbalancing scheme"},
            "simulated": {"Description": "1 if answers and head motion came from a simulated participant"},
            "seed": {"Description": "Seed of the simulated participant"},
            "status": {"Description": "started, complete"}})


PARTICIPANT_COLUMNS = ["participant_id", "session_id", "task", "order_index", "order", "scheme", "simulated", "seed",
                       "status"]


def update_participants(root: Path, row: Dict) -> None:
    """Add or replace the (participant, session, task) row of participants.tsv (atomic rewrite)."""
    path = Path(root) / "participants.tsv"
    rows = read_tsv(path)
    key = (row["participant_id"], str(row["session_id"]), row["task"])
    rows = [r for r in rows if (r.get("participant_id"), r.get("session_id"), r.get("task")) != key]
    rows.append({c: fmt(row.get(c)) for c in PARTICIPANT_COLUMNS})
    rows.sort(key=lambda r: (r["participant_id"], r["session_id"], r["task"]))
    text = "\t".join(PARTICIPANT_COLUMNS) + "\n" + "".join(
        "\t".join(r.get(c, "n/a") for c in PARTICIPANT_COLUMNS) + "\n" for r in rows)
    atomic_write(path, text)


def write_channels(path: Path) -> None:
    """The motion channels (``_channels.tsv``) and their reference frame (``_channels.json``)."""
    def row(n, c, t, u):
        return [n, c, t, "head" if t == "ORNT" else "n/a", u, REFERENCE_FRAME if t == "ORNT" else "n/a"]
    atomic_write(path, "\t".join(CHANNELS_COLUMNS) + "\n" +
                 "".join("\t".join(row(*ch)) + "\n" for ch in MOTION_CHANNELS))
    write_json(Path(path).with_suffix(".json"), CHANNELS_SIDECAR)


def sort_events(path: Path) -> bool:
    """Rewrite an events file in onset order (stable: rows with one onset keep the order they were written in).

    Rows are appended as they happen, and a row that spans an interval (a stimulus, a questionnaire) is
    written when it ends, after rows with later onsets; BIDS wants events in onset order.  The same lines,
    byte for byte, are written to a temporary name and renamed; returns whether the order changed."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if not text.endswith("\n"):
        return False                       # a partial last line: leave it to --resume's repair
    header, *lines = text[:-1].split("\n")
    col = header.split("\t").index("onset")
    ordered = sorted(lines, key=lambda ln: num(ln.split("\t")[col], float("inf")))
    if ordered == lines:
        return False
    assert sorted(ordered) == sorted(lines)
    atomic_write(path, "\n".join([header, *ordered]) + "\n")
    return True


def find_sessions(root: Path) -> List[Dict[str, Path]]:
    """Every session folder below ``root`` with its files."""
    out = []
    for sj in sorted(Path(root).glob("sub-*/ses-*/*_session.json")):
        d = sj.parent
        stem = sj.name[: -len("_session.json")]
        motion = sorted((d / "motion").glob(f"{stem}_tracksys-*_motion.tsv"))
        out.append({"dir": d, "session_json": sj, "events": d / "beh" / f"{stem}_events.tsv",
                    "beh": d / "beh" / f"{stem}_beh.tsv", "motion": motion[0] if motion else None,
                    "channels": Path(str(motion[0]).replace("_motion.tsv", "_channels.tsv")) if motion else None})
    return out


def load_json(path: Path):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def iter_motion(path: Path, channels_path: Optional[Path] = None) -> List[Dict[str, str]]:
    cols = [n for n, *_ in MOTION_CHANNELS]
    if channels_path and Path(channels_path).exists():
        cols = [r["name"] for r in read_tsv(channels_path)]
    return read_tsv(path, columns=cols)


def write_csv(path: Path, rows: Iterable[Dict], columns: Sequence[str]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: fmt(v) if isinstance(v, float) else v for k, v in r.items()})
