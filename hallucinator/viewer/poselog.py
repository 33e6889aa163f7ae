"""Pose logs: one row per displayed frame, BIDS motion-style TSV with a JSON sidecar.

Columns (all on one header line, tab-separated):

``onset``            playback clock in seconds when the frame was shown
``frame``            index of the video frame shown (0-based, in the source file)
``quat_w..quat_z``   head orientation, unit quaternion, camera to world (x right, y up, -z forward)
``yaw pitch roll``   the same in degrees (yaw right, pitch up, roll clockwise)
``fov``              horizontal field of view in degrees
``dose``             dream dose shown (0 = control, 1 = dream)
``dropped``          number of video frames skipped just before this one (0 = none)
``wall_time``        seconds since the start of playback on the monotonic wall clock
``source``           the pose source (mouse, xr, replay, script, fixed)

Floats are written with Python's ``repr`` so a replay reproduces the exact
orientation.  Every row is flushed as soon as it is written (and fsynced about
once a second), so a crash loses at most the frame being drawn.  Dose changes
(keys, timeline keyframes) also go to ``<stem>_events.tsv`` (onset, duration,
trial_type, value) when an events path is given.
"""
from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path
from typing import List, Optional

from ..atomic import atomic_write_text
from ..errors import UserError
from .pose import Pose

COLUMNS = ["onset", "frame", "quat_w", "quat_x", "quat_y", "quat_z", "yaw", "pitch", "roll", "fov", "dose",
           "dropped", "wall_time", "source"]

DESCRIPTIONS = {
    "onset": {"Description": "Playback clock when the frame was displayed (audio clock when the video has audio).",
              "Units": "s"},
    "frame": {"Description": "Index of the displayed video frame in the source file (0-based)."},
    "quat_w": {"Description": "Head orientation quaternion, scalar part (camera to world; x right, y up, -z forward)."},
    "quat_x": {"Description": "Head orientation quaternion, x."},
    "quat_y": {"Description": "Head orientation quaternion, y."},
    "quat_z": {"Description": "Head orientation quaternion, z."},
    "yaw": {"Description": "Yaw, positive to the right.", "Units": "deg"},
    "pitch": {"Description": "Pitch, positive up.", "Units": "deg"},
    "roll": {"Description": "Roll, positive clockwise (head tilted right).", "Units": "deg"},
    "fov": {"Description": "Horizontal field of view of the displayed view.", "Units": "deg"},
    "dose": {"Description": "Dream dose: 0 = control video, 1 = dream video, above 1 exaggerates the dream residual."},
    "dropped": {"Description": "Video frames skipped (never displayed) just before this one; 0 when none."},
    "wall_time": {"Description": "Monotonic wall clock since playback started.", "Units": "s"},
    "source": {"Description": "Where the pose came from: mouse, xr, replay, script or fixed."},
}


def _fmt(v) -> str:
    if isinstance(v, float):
        return repr(v)
    return str(v)


class PoseLogWriter:
    """Append-only, crash-safe pose log.  Use as a context manager or call :meth:`close`."""

    def __init__(self, path, metadata: Optional[dict] = None, events_path=None):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._f = open(self.path, "w", newline="", buffering=1)
        except OSError as exc:
            raise UserError(f"cannot write pose log {self.path}: {exc.strerror}; choose a writable path") from None
        self._f.write("\t".join(COLUMNS) + "\n")
        self._f.flush()
        self.rows = 0
        self._last_sync = time.monotonic()
        sidecar = {
            "Description": "Head pose per displayed frame, written by hallucinator view.",
            "SamplingFrequency": "n/a (one row per displayed frame; see onset)",
            "RecordingType": "continuous",
            **({} if not metadata else {"Metadata": metadata}),
            **DESCRIPTIONS,
        }
        self.sidecar_path = self.path.with_suffix(".json")
        atomic_write_text(self.sidecar_path, json.dumps(sidecar, indent=2) + "\n")
        self.events_path = Path(events_path) if events_path else None
        self._events = None
        if self.events_path:
            self._events = open(self.events_path, "w", newline="", buffering=1)
            self._events.write("onset\tduration\ttrial_type\tvalue\n")
            self._events.flush()

    def write(self, onset: float, frame: int, pose: Pose, dose: float, dropped: int = 0,
              wall_time: float = 0.0, source: str = ""):
        yaw, pitch, roll = pose.euler
        w, x, y, z = (float(v) for v in pose.quat)
        values = [float(onset), int(frame), w, x, y, z, float(yaw), float(pitch), float(roll), float(pose.fov),
                  float(dose), int(dropped), float(wall_time), source]
        self._f.write("\t".join(_fmt(v) for v in values) + "\n")
        self._f.flush()
        self.rows += 1
        now = time.monotonic()
        if now - self._last_sync > 1.0:
            os.fsync(self._f.fileno())
            self._last_sync = now

    def event(self, onset: float, trial_type: str, value, duration: float = 0.0):
        """A discrete event (e.g. ``dose`` changed to ``value``)."""
        if self._events:
            self._events.write(f"{float(onset)!r}\t{float(duration)!r}\t{trial_type}\t{value}\n")
            self._events.flush()

    def close(self):
        for f in (self._f, self._events):
            if f and not f.closed:
                f.flush()
                os.fsync(f.fileno())
                f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


_INT = {"frame", "dropped"}
_STR = {"source"}


def read_pose_log(path) -> List[dict]:
    """Rows of a pose log as dicts with floats (``frame``, ``dropped`` as ints)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"pose log {path} not found; give the .tsv written by --pose-log")
    rows = []
    with open(path, newline="") as f:
        reader = csv.DictReader(f, delimiter="\t")
        missing = {"onset", "frame", "quat_w", "quat_x", "quat_y", "quat_z", "fov"} - set(reader.fieldnames or [])
        if missing:
            raise UserError(f"{path} is not a pose log (missing columns {', '.join(sorted(missing))})")
        for line_no, rec in enumerate(reader, start=2):
            try:
                row = {}
                for k, v in rec.items():
                    if k is None or v is None:
                        continue
                    row[k] = v if k in _STR else int(v) if k in _INT else float(v)
            except ValueError:
                raise UserError(f"{path} line {line_no} is damaged; remove it or re-record") from None
            if "dose" not in row:
                row["dose"] = 1.0
            rows.append(row)
    return rows
