"""The session's record: what an earlier run left, the files of a run, and every row written during it.

* :func:`read_resume_state` reads an earlier run's events (after checking
  that the protocol, order and simulated flag are the same) or refuses to
  touch a session that has data when ``--resume`` was not given.
* :func:`open_session_log` writes the session's fixed files (dataset files,
  the protocol and questionnaires as run, the session file with one entry
  per run, sidecars, the participants row) and opens a :class:`SessionLog`.
* :class:`SessionLog` appends rows: events (each with its LSL marker),
  answers (beh), head motion (and LSL head pose) and the clock file.  Rows
  are flushed at once and fsynced as described in :mod:`.bids`.
"""
from __future__ import annotations

import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, Optional, Tuple

import numpy as np

from ..errors import UserError
from ..provenance import versions
from . import bids
from .bids import BEH_COLUMNS, CLOCK_COLUMNS, EVENTS_COLUMNS, MOTION_CHANNELS, SessionPaths, TsvAppender
from .clock import local_clock
from .lsl import LslOutlets
from .plan import SessionPlan
from .protocol import Step
from .stimuli import StagedStimuli, stage as stage_stimuli

SESSION_PACKAGES = ("numpy", "pylsl", "glfw", "OpenGL", "av", "scipy", "matplotlib")
FSYNC_VIRTUAL_S = 0.5     # events/beh fsync interval of simulations that do not wait (real time: every row)
FSYNC_MOTION_S = 0.2      # motion fsync interval (and at every step end)

MOTION_SIDECAR = {
    "RecordingType": "discontinuous", "MotionChannelCount": len(MOTION_CHANNELS), "TrackedPointsCount": 1,
    "LATENCYChannelCount": 1, "MISCChannelCount": 1, "ORNTChannelCount": 4}


def motion_sidecar(task: str, simulated: bool, nominal: Optional[float], effective: Optional[float],
                   tracking: Optional[str] = None) -> dict:
    """The motion sidecar: ``SamplingFrequency`` is the display's rate (one row per displayed frame; the
    measured one when the display does not know it), ``SamplingFrequencyEffective`` the measured one."""
    out = {"TaskName": task,
           "TrackingSystemName": tracking or ("hallucinator viewer" + (" (simulated)" if simulated else "")),
           **MOTION_SIDECAR}
    rate = nominal or effective
    if rate:
        out["SamplingFrequency"] = round(float(rate), 3)
    if effective:
        out["SamplingFrequencyEffective"] = round(float(effective), 3)
    return out


class MotionRate:
    """The measured frame rate of the motion rows: one over the median interval between consecutive rows of a
    step (the gaps between steps do not count)."""

    def __init__(self, rows: Iterable[Tuple[float, str]] = ()):
        self.intervals = []
        self._last: Optional[Tuple[float, str]] = None
        for t, step in rows:
            self.add(t, step)

    def add(self, t: float, step) -> None:
        step = str(step)
        if self._last is not None and self._last[1] == step and t > self._last[0]:
            self.intervals.append(t - self._last[0])
        self._last = (t, step)

    def rate(self) -> Optional[float]:
        return 1.0 / float(np.median(self.intervals)) if self.intervals else None


@dataclass
class ResumeState:
    """What earlier runs of the session left (nothing for a new session)."""
    resuming: bool = False
    info: dict = field(default_factory=dict)               # the session file
    done_steps: Dict[int, int] = field(default_factory=dict)   # step -> attempt that finished it
    attempts: Dict[int, int] = field(default_factory=dict)     # step -> last attempt begun
    last_onset: float = 0.0                                 # end of the last event on the session clock


def _check_same_session(paths: SessionPaths, plan: SessionPlan) -> dict:
    if not paths.session_json.exists():
        raise UserError(f"{paths.dir} has events but no session file; it was not written by this "
                        "program or was damaged; choose another --session")
    info = bids.load_json(paths.session_json)
    if info.get("protocol_sha256") != plan.protocol.sha256:
        raise UserError(f"the protocol changed since this session started ({paths.protocol_copy.name} "
                        "holds the one it ran with); resume with that file as PROTOCOL")
    if info.get("order") != plan.order:
        raise UserError("the condition order differs from the one recorded for this session; resume "
                        "with the same protocol and participant ID")
    if bool(info.get("simulated")) != plan.simulated:
        raise UserError("this session was " + ("" if info.get("simulated") else "not ") +
                        "simulated; resume it the same way (with or without --simulate SEED)")
    return info


def read_resume_state(paths: SessionPaths, plan: SessionPlan, resume: bool) -> ResumeState:
    """The state to continue from; refuses (UserError) a session with data unless ``resume``."""
    exists = paths.events.exists() and paths.events.stat().st_size > 0
    if not exists:
        return ResumeState()
    if not resume:
        raise UserError(f"data for sub-{plan.participant} ses-{plan.session} already exist in {paths.dir}; "
                        "add --resume to continue that session, or choose another --session")
    state = ResumeState(True, _check_same_session(paths, plan))
    with open(paths.events, encoding="utf-8") as fh:
        if fh.readline().rstrip("\n").split("\t") != EVENTS_COLUMNS:
            raise UserError(f"{paths.events.name} was written by an earlier version of hallucinator (other "
                            "columns); finish this session with that version, or choose another --session")
    for r in bids.read_tsv(paths.events):
        step = int(bids.num(r.get("step"), -1))
        att = int(bids.num(r.get("attempt"), 1))
        if r.get("trial_type") == "session_end":
            raise UserError(f"sub-{plan.participant} ses-{plan.session} is already complete; nothing to resume")
        if step >= 0:
            state.attempts[step] = max(state.attempts.get(step, 0), att)
            if r.get("trial_type") == "step_end":
                state.done_steps[step] = att
        end = bids.num(r.get("onset"), 0.0) + max(0.0, bids.num(r.get("duration"), 0.0))
        state.last_onset = max(state.last_onset, end)
    return state


def _write_copies(paths: SessionPaths, plan: SessionPlan) -> None:
    """The protocol and its questionnaires as run (kept from the first run)."""
    p = plan.protocol
    if not paths.protocol_copy.exists():
        bids.atomic_write(paths.protocol_copy, p.text)
    for q in p.questionnaires.values():
        dst = paths.dir / f"{paths.stem}_questionnaire-{q.name}.toml"
        if q.path and not dst.exists():
            bids.atomic_write(dst, Path(q.path).read_text(encoding="utf-8"))


def _write_sidecars(paths: SessionPaths, plan: SessionPlan) -> None:
    """The events, beh and channels sidecars (written once; the motion sidecar is :meth:`SessionLog.motion_sidecar`).
    The order and the simulated flag are in participants.tsv and the session file."""
    if paths.sidecar(paths.events).exists():
        return
    from .. import __version__
    presentation = {"StimulusPresentation": {"SoftwareName": "hallucinator", "SoftwareVersion": __version__,
                                             "OperatingSystem": f"{platform.system()} {platform.release()}"}}
    bids.write_json(paths.sidecar(paths.events), {**presentation, **bids.EVENTS_SIDECAR})
    bids.write_json(paths.sidecar(paths.beh), {"TaskName": plan.protocol.name, **bids.BEH_SIDECAR})
    bids.write_channels(paths.motion_channels)


def _write_session_files(paths: SessionPaths, plan: SessionPlan, state: ResumeState, clock,
                         realtime: bool) -> Tuple[int, StagedStimuli]:
    """Every file of the session but the appended ones; returns the number of this run (1, 2, ...) and where
    its stimuli are under stimuli/."""
    bids.ensure_dataset(paths.root, f"Hallucinator sessions: {plan.protocol.title}")
    staged = stage_stimuli(paths.root, plan.protocol, sorted({s.condition for s in plan.schedule if s.condition}))
    paths.dir.mkdir(parents=True, exist_ok=True)
    _write_copies(paths, plan)
    info = state.info or plan.session_info(clock, realtime)
    info["runs"].append({"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "argv": sys.argv,
                         "resumed": state.resuming, "versions": versions(SESSION_PACKAGES),
                         "host": platform.node(), "realtime": realtime, "stimuli_sha256": staged.sha256})
    bids.write_json(paths.session_json, info)
    _write_sidecars(paths, plan)
    bids.update_participants(paths.root, plan.participant_row("started"))
    return len(info["runs"]), staged


class SessionLog:
    """The appended files of one run, and the LSL outlets that mirror them.  A context manager."""

    def __init__(self, paths: SessionPaths, clock, lsl: LslOutlets, realtime: bool, run: int,
                 stimuli: Optional[StagedStimuli] = None, plan: Optional[SessionPlan] = None,
                 frame_rate: Optional[float] = None, tracking: Optional[str] = None):
        self.paths, self.clock, self.lsl, self.run = paths, clock, lsl, run
        self._tracking = tracking
        self.stimuli = stimuli or StagedStimuli()
        self.attempt = 0          # of the step running now (0 outside steps)
        self._plan, self._frame_rate = plan, frame_rate
        self.motion_rate = MotionRate((bids.num(r.get("latency")), r.get("step"))
                                      for r in bids.iter_motion(paths.motion, paths.motion_channels))
        self._rate_written: Optional[int] = None
        self.motion_sidecar()
        every = 0.0 if realtime else FSYNC_VIRTUAL_S
        self.events = TsvAppender(paths.events, EVENTS_COLUMNS, resume=paths.events.exists(), fsync_every=every)
        self.beh = TsvAppender(paths.beh, BEH_COLUMNS, resume=paths.beh.exists(), fsync_every=every)
        self.motion = TsvAppender(paths.motion, [c[0] for c in MOTION_CHANNELS], header=False,
                                  resume=paths.motion.exists(), fsync_every=FSYNC_MOTION_S)
        self.clocklog = TsvAppender(paths.clock, CLOCK_COLUMNS, resume=paths.clock.exists())

    def __enter__(self) -> "SessionLog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def event(self, trial_type: str, onset: float, duration: float = 0.0, step: Optional[Step] = None,
              marker: bool = True, **cols) -> None:
        """An events row (``step`` fills step, block, attempt and condition) and, unless not ``marker``, its LSL marker."""
        row = {"onset": onset, "duration": duration, "trial_type": trial_type, "lsl_time": self.clock.lsl(onset)}
        if step is not None:
            row.update(step=step.index, block=step.block, attempt=self.attempt, condition=step.condition)
        row.update(cols)
        self.events.write(row)
        if marker:
            self.lsl.marker(row["lsl_time"], trial_type, **{k: v for k, v in row.items()
                                                            if k not in ("onset", "lsl_time", "trial_type")})

    def marker(self, t: float, event: str, **fields) -> None:
        """An LSL marker without an events row, at session time ``t``."""
        self.lsl.marker(self.clock.lsl(t), event, **fields)

    def answer(self, step: Step, **cols) -> None:
        """A beh row of ``step`` (a questionnaire answer or a timing trial)."""
        self.beh.write({"step": step.index, "block": step.block, "attempt": self.attempt,
                        "condition": step.condition, **cols})

    def motion_sidecar(self) -> None:
        """(Re)write the motion sidecar when the measured rate has new intervals."""
        n = len(self.motion_rate.intervals)
        if self._plan is None or n == self._rate_written:
            return
        bids.write_json(self.paths.sidecar(self.paths.motion), motion_sidecar(
            self._plan.protocol.name, self._plan.simulated, self._frame_rate, self.motion_rate.rate(),
            self._tracking))
        self._rate_written = n

    def head_sample(self, t: float, step_index: int, quat) -> None:
        self.motion_rate.add(t, step_index)
        self.motion.write_values([t, step_index, *quat])
        self.lsl.head(self.clock.lsl(t), quat)

    def clock_row(self, where: str, playback_time: Optional[float] = None) -> None:
        """The session clock against LSL's clock (read on both sides) and the wall clock."""
        a = local_clock()
        now = self.clock.now()
        b = local_clock()
        lsl_t = (a + b) / 2
        pb = now if playback_time is None else playback_time
        self.clocklog.write({"onset": now, "lsl_time": lsl_t, "playback_time": pb, "offset": lsl_t - pb,
                             "wall_time": time.time(), "where": where})

    def playback_clock(self, pairs: Iterable[Tuple[float, float]], where: str) -> None:
        """(LSL time, playback time) pairs measured during a playback."""
        for lsl_t, pb_t in pairs:
            self.clocklog.write({"onset": lsl_t - self.clock.t0, "lsl_time": lsl_t, "playback_time": pb_t,
                                 "offset": lsl_t - pb_t, "wall_time": time.time(), "where": where})

    def sync(self, force: bool) -> None:
        """End of a step: flush events, answers and motion; fsync them when ``force`` (or when due)."""
        for f in (self.events, self.beh, self.motion):
            f.sync(force=force)
        self.motion_sidecar()

    def close(self) -> None:
        """Close the files, bring the events into onset order (:func:`.bids.sort_events`), update the motion
        sidecar."""
        for f in (self.events, self.beh, self.motion, self.clocklog):
            f.close()
        self.lsl.close()
        bids.sort_events(self.paths.events)
        self.motion_sidecar()


def open_session_log(paths: SessionPaths, plan: SessionPlan, state: ResumeState, clock, realtime: bool,
                     lsl: bool, frame_rate: Optional[float] = None, tracking: Optional[str] = None) -> SessionLog:
    """Write the session's fixed files and open its appenders and LSL outlets (``frame_rate``: the display's
    nominal rate, None when it does not know it)."""
    run, staged = _write_session_files(paths, plan, state, clock, realtime)
    outlets = LslOutlets(plan.protocol.name, f"hallucinator-{plan.protocol.name}-sub-{plan.participant}-"
                                             f"ses-{plan.session}", lsl)
    return SessionLog(paths, clock, outlets, realtime, run, staged, plan, frame_rate, tracking)
