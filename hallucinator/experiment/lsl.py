"""Lab Streaming Layer outlets: event markers and head pose on LSL's clock.

Streams (names start with the protocol's task label)::

    <task>-markers   type Markers, 1 string channel, irregular: one JSON object per marker
                     {"event": "stimulus_start", "step": 3, "condition": "dream", "dose": 1.0, ...}
    <task>-headpose  type MoCap, 4 float32 channels quat_w, quat_x, quat_y, quat_z, one sample per frame

Every sample is pushed with an explicit timestamp: the session clock's
``lsl(onset)``, the same instant as the ``lsl_time`` column of the events
file.  LabRecorder then puts EEG and markers on one axis.
"""
from __future__ import annotations

import json
from typing import Sequence


class LslOutlets:
    def __init__(self, task: str, source_id: str, enabled: bool = True, pose: bool = True):
        self.markers = None
        self.pose = None
        self.error = ""
        if not enabled:
            return
        try:
            import pylsl
        except Exception as exc:  # pragma: no cover - pylsl is a dependency, but its library may not load
            self.error = f"pylsl unavailable: {exc}"
            return
        info = pylsl.StreamInfo(f"{task}-markers", "Markers", 1, pylsl.IRREGULAR_RATE, pylsl.cf_string,
                                f"{source_id}-markers")
        info.desc().append_child_value("manufacturer", "hallucinator")
        self.markers = pylsl.StreamOutlet(info)
        if pose:
            pinfo = pylsl.StreamInfo(f"{task}-headpose", "MoCap", 4, pylsl.IRREGULAR_RATE, pylsl.cf_float32,
                                     f"{source_id}-headpose")
            chans = pinfo.desc().append_child("channels")
            for name in ("quat_w", "quat_x", "quat_y", "quat_z"):
                ch = chans.append_child("channel")
                ch.append_child_value("label", name)
                ch.append_child_value("type", "Orientation")
                ch.append_child_value("unit", "quaternion")
            pinfo.desc().append_child_value("convention", "camera to world; x right, y up, -z forward")
            self.pose = pylsl.StreamOutlet(pinfo)

    def marker(self, lsl_time: float, event: str, **fields) -> None:
        if self.markers is not None:
            payload = {"event": event, **{k: v for k, v in fields.items() if v is not None}}
            self.markers.push_sample([json.dumps(payload, separators=(",", ":"))], lsl_time)

    def head(self, lsl_time: float, quat: Sequence[float]) -> None:
        if self.pose is not None:
            self.pose.push_sample([float(v) for v in quat], lsl_time)

    def close(self) -> None:
        self.markers = None
        self.pose = None
