"""One session, from the first screen (or the step after a crash) to the last row.

The runner walks the participant's schedule (protocol + counterbalanced
order).  Each step writes ``step_start`` when it begins and ``step_end`` when
it is done; ``--resume`` skips every step with a ``step_end`` and re-runs the
interrupted one as attempt 2 (the rows of attempt 1 stay: they happened).
"""
from __future__ import annotations

import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from ..errors import UserError
from . import bids
from ..provenance import versions
from .bids import BEH_COLUMNS, CLOCK_COLUMNS, EVENTS_COLUMNS, MOTION_CHANNELS, SessionPaths, TsvAppender
from .clock import SessionClock, VirtualClock, local_clock
from .display import Display, Input, NullDisplay, PlayRequest
from .lsl import LslOutlets
from .protocol import Protocol, Step, load_protocol, participant_number
from .questionnaire import Item, Questionnaire
from .screens import Screen, Slider, slider_value_at
from .simulate import SimulatedParticipant
from .timing import TimingTrial

CONTINUE = "Press SPACE to continue."
DOSE_STEP = 0.05


class SessionAborted(Exception):
    pass


@dataclass
class RunOptions:
    protocol: str
    participant: str
    session: str = "01"
    data: Path = Path("data")
    resume: bool = False
    simulate: Optional[int] = None
    realtime: Optional[bool] = None          # None: the protocol's [simulate] realtime (simulations only)
    headless: bool = False                   # no window even in real time
    xr: bool = False
    window: tuple = (1280, 720)
    fullscreen: bool = False
    stim: Dict[str, str] = field(default_factory=dict)
    lsl: Optional[bool] = None               # None: on, except in simulations that do not wait
    console: object = sys.stderr             # operator console (None: silent)
    motion_rate: float = 10.0                # Hz of simulated head motion without a window


SESSION_PACKAGES = ("numpy", "pylsl", "glfw", "OpenGL", "av", "scipy", "matplotlib")


class SessionRunner:
    def __init__(self, opts: RunOptions, display: Optional[Display] = None):
        self.opts = opts
        self.protocol: Protocol = load_protocol(opts.protocol)
        for key, value in opts.stim.items():
            self.protocol.override_stimulus(key, value)
        self.pid = opts.participant
        self.number = participant_number(self.pid)
        if not opts.session.isalnum():
            raise UserError(f"session label {opts.session!r} must be letters and digits only, e.g. 01")
        self.order_index, self.order = self.protocol.order_for(self.number)
        self.schedule: List[Step] = self.protocol.schedule(self.order)
        self.paths = SessionPaths(Path(opts.data), self.pid, opts.session, self.protocol.name)
        self.simulated = opts.simulate is not None
        realtime = opts.realtime
        if realtime is None:
            realtime = bool(self.protocol.simulate.get("realtime", False)) if self.simulated else True
        self.realtime = realtime
        self.sim = SimulatedParticipant(opts.simulate, self.number, self.protocol.simulate) if self.simulated else None
        self.pace = float(self.protocol.simulate.get("pace", 0.1))   # real-time simulations: interaction speed-up
        self._display = display
        self.abort_requested = False
        if opts.headless and not self.simulated and display is None:
            raise UserError("--headless needs --simulate SEED: a person needs the window to answer")

    # ------------------------------------------------------------------ setup
    def _prepare(self):
        p, paths = self.protocol, self.paths
        exists = paths.events.exists() and paths.events.stat().st_size > 0
        if exists and not self.opts.resume:
            raise UserError(f"data for sub-{self.pid} ses-{self.opts.session} already exist in {paths.dir}; "
                            "add --resume to continue that session, or choose another --session")
        self.done_steps: Dict[int, int] = {}
        self.attempts: Dict[int, int] = {}
        self.resuming = exists
        info = {}
        last_onset = 0.0
        if exists:
            if not paths.session_json.exists():
                raise UserError(f"{paths.dir} has events but no session file; it was not written by this "
                                "program or was damaged; choose another --session")
            info = bids.load_json(paths.session_json)
            if info.get("protocol_sha256") != p.sha256:
                raise UserError(f"the protocol changed since this session started ({paths.protocol_copy.name} "
                                "holds the one it ran with); resume with that file as PROTOCOL")
            if info.get("order") != self.order:
                raise UserError("the condition order differs from the one recorded for this session; resume "
                                "with the same protocol and participant ID")
            if bool(info.get("simulated")) != self.simulated:
                raise UserError("this session was " + ("" if info.get("simulated") else "not ") +
                                "simulated; resume it the same way (with or without --simulate SEED)")
            rows = bids.read_tsv(paths.events)
            for r in rows:
                step = int(bids.num(r.get("step"), -1))
                att = int(bids.num(r.get("attempt"), 1))
                if r.get("trial_type") == "session_end":
                    raise UserError(f"sub-{self.pid} ses-{self.opts.session} is already complete; nothing to resume")
                if step >= 0:
                    self.attempts[step] = max(self.attempts.get(step, 0), att)
                    if r.get("trial_type") == "step_end":
                        self.done_steps[step] = att
                last_onset = max(last_onset, bids.num(r.get("onset"), 0.0) + max(0.0, bids.num(r.get("duration"), 0.0)))
        # clock
        if self.realtime:
            self.clock = SessionClock(info.get("t0_lsl"), info.get("t0_wall"))
        else:
            self.clock = VirtualClock(start=(last_onset + 1.0) if exists else 0.0)
        # open the window and check the stimuli before anything is written, so that a missing file or
        # display does not leave a session that needs --resume
        windowed = self._display is None and self.realtime and not self.opts.headless
        if windowed or (self._display is not None and not isinstance(self._display, NullDisplay)):
            p.check_files(sorted({s.condition for s in self.schedule if s.condition}))
        self.display  # opens the window now (a failure leaves nothing behind)
        bids.ensure_dataset(paths.root, f"Hallucinator sessions: {p.title}")
        paths.dir.mkdir(parents=True, exist_ok=True)
        if not paths.protocol_copy.exists():
            bids.atomic_write(paths.protocol_copy, p.text)
        for fname, q in p.questionnaires.items():
            dst = paths.dir / f"{paths.stem}_questionnaire-{q.name}.toml"
            if q.path and not dst.exists():
                bids.atomic_write(dst, Path(q.path).read_text(encoding="utf-8"))
        run_info = {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "argv": sys.argv,
                    "resumed": exists, "versions": versions(SESSION_PACKAGES), "host": platform.node(),
                    "realtime": self.realtime}
        info = info or {
            "participant": self.pid, "session": self.opts.session, "task": p.name, "protocol_title": p.title,
            "protocol_file": str(p.path), "protocol_sha256": p.sha256, "protocol_version": p.version,
            "participant_number": self.number, "scheme": p.scheme, "order_index": self.order_index,
            "order": self.order, "simulated": self.simulated, "seed": self.opts.simulate,
            "t0_lsl": self.clock.t0, "t0_wall": self.clock.t0_wall,
            "clock": "virtual (simulated, no waiting)" if not self.realtime else "LSL local_clock",
            "schedule": [{"step": s.index, "type": s.kind, "block": s.block, "condition": s.condition}
                         for s in self.schedule],
            "stimuli": {n: {k: str(v) for k, v in vars(s).items() if v is not None and k != "name"}
                        for n, s in p.stimuli.items()},
            "runs": []}
        info["runs"].append(run_info)
        bids.write_json(paths.session_json, info)
        self.info = info
        if not paths.sidecar(paths.events).exists():
            bids.write_json(paths.sidecar(paths.events), {
                "TaskName": p.name, "Simulated": self.simulated, "CounterbalancingOrder": self.order,
                **bids.EVENTS_SIDECAR})
            bids.write_json(paths.sidecar(paths.beh), {"TaskName": p.name, **bids.BEH_SIDECAR})
            bids.write_json(paths.sidecar(paths.motion), {
                "TaskName": p.name, "TrackingSystemName": "hallucinator viewer" + (" (simulated)" if self.simulated else ""),
                "SamplingFrequency": "n/a", "SamplingFrequencyEffective": "n/a",
                "RecordingType": "continuous", "MotionChannelCount": len(MOTION_CHANNELS),
                "ORNTChannelCount": 4, "RotationRule": "right-hand", "RotationOrder": "n/a",
                "SpatialAxes": "x right, y up, -z forward (camera to world quaternion)",
                "Description": "Head orientation per displayed frame; latency on the session clock (events onset). "
                               "Rows of all steps of the session, step column says which; no header (see "
                               "channels.tsv)."})
            bids.write_channels(paths.motion_channels)
        bids.update_participants(paths.root, {
            "participant_id": f"sub-{self.pid}", "session_id": self.opts.session, "task": p.name,
            "order_index": self.order_index, "order": ",".join(self.order), "scheme": p.scheme,
            "simulated": self.simulated, "seed": self.opts.simulate, "status": "started"})
        resume = exists
        # rows are flushed at once; fsynced at once in real time (simulations that do not wait: every 0.5 s)
        every = 0.0 if self.realtime else 0.5
        self.events = TsvAppender(paths.events, EVENTS_COLUMNS, resume=resume or paths.events.exists(),
                                  fsync_every=every)
        self.beh = TsvAppender(paths.beh, BEH_COLUMNS, resume=resume or paths.beh.exists(), fsync_every=every)
        self.motion = TsvAppender(paths.motion, [c[0] for c in MOTION_CHANNELS], header=False,
                                  resume=resume or paths.motion.exists(), fsync_every=0.2)
        self.clocklog = TsvAppender(paths.clock, CLOCK_COLUMNS, resume=resume or paths.clock.exists())
        lsl_on = self.opts.lsl if self.opts.lsl is not None else self.realtime
        self.lsl = LslOutlets(p.name, f"hallucinator-{p.name}-sub-{self.pid}-ses-{self.opts.session}", lsl_on)

    # ----------------------------------------------------------------- output
    def event(self, trial_type: str, onset: float, duration: float = 0.0, step: Optional[Step] = None,
              marker: bool = True, **cols):
        row = {"onset": onset, "duration": duration, "trial_type": trial_type, "lsl_time": self.clock.lsl(onset)}
        if step is not None:
            row.update(step=step.index, block=step.block, attempt=self.attempt,
                       condition=step.condition)
        row.update(cols)
        self.events.write(row)
        if marker:
            self.lsl.marker(row["lsl_time"], trial_type, **{k: v for k, v in row.items()
                                                            if k not in ("onset", "lsl_time", "trial_type")})

    def log_clock(self, where: str, playback_time: Optional[float] = None):
        a = local_clock()
        now = self.clock.now()
        b = local_clock()
        lsl_t = (a + b) / 2
        pb = now if playback_time is None else playback_time
        self.clocklog.write({"onset": now, "lsl_time": lsl_t, "playback_time": pb, "offset": lsl_t - pb,
                             "wall_time": time.time(), "where": where})

    def console(self, step: Step, extra: str = ""):
        out = self.opts.console
        if out is None:
            return
        n = len(self.schedule)
        cond = f" {step.condition}" if step.condition else ""
        dose = ""
        if step.condition:
            c = self.protocol.conditions[step.condition]
            dose = f" dose {'timeline' if c.timeline else f'{c.dose:g}'}"
        blocks = f" block {step.block}/{len(self.order)}" if step.block else ""
        t = self.clock.now()
        line = (f"[sub-{self.pid} ses-{self.opts.session}{' SIM' if self.simulated else ''}] "
                f"step {step.index + 1}/{n} {step.kind}{blocks}{cond}{dose} {extra} "
                f"t={int(t // 60):02d}:{t % 60:04.1f}")
        end = "\r" if getattr(out, "isatty", lambda: False)() else "\n"
        print(line.ljust(100), end=end, file=out, flush=True)

    # ---------------------------------------------------------------- display
    @property
    def display(self) -> Display:
        if self._display is None:
            if self.realtime and not self.opts.headless:
                from .viewer_bridge import open_display
                self._display = open_display(self.clock, self.opts.window, fullscreen=self.opts.fullscreen,
                                             xr=self.opts.xr)
            else:
                self._display = NullDisplay(self.clock, rate=self.opts.motion_rate)
        return self._display

    def _check_abort(self, inputs: Sequence[Input]):
        for ev in inputs:
            if ev.kind == "key" and ev.key == "escape":
                raise SessionAborted()

    def wait_keys(self, screen: Screen, keys=("space", "enter"), min_time: float = 0.0,
                  timeout: Optional[float] = None):
        """Show ``screen`` until one of ``keys`` (after ``min_time``) or ``timeout``; (onset, Input|None)."""
        d = self.display
        d.show(screen)
        onset = self.clock.now()
        while True:
            inputs = d.poll()
            self._check_abort(inputs)
            for ev in inputs:
                if ev.t < onset:      # pressed before this screen appeared: not an answer to it
                    continue
                if ev.kind == "key" and ev.key in keys and ev.t - onset >= min_time:
                    return onset, ev
            now = self.clock.now()
            if timeout is not None and now - onset >= timeout:
                return onset, None
            d.show(screen)
            time.sleep(0.005)

    def sim_wait(self, seconds: float):
        """Time a simulated participant takes: full in virtual time, ``pace`` of it in real time."""
        if self.clock.virtual:
            self.clock.advance(seconds)
        else:
            end = time.monotonic() + seconds * self.pace
            while time.monotonic() < end:
                inputs = self.display.poll()
                self._check_abort(inputs)
                time.sleep(min(0.01, max(0.0, end - time.monotonic())))

    def _order(self, step: Step, seq):
        """``seq`` as listed, or shuffled reproducibly from the participant number and step (``shuffle = true``)."""
        seq = list(seq)
        if step.params.get("shuffle"):
            import numpy as np
            perm = np.random.default_rng([self.number, step.index, 7919]).permutation(len(seq))
            seq = [seq[i] for i in perm]
        return seq

    def _fmt(self, text: str, step: Step) -> str:
        return text.replace("{block}", str(step.block)).replace("{blocks}", str(len(self.order)))

    # ------------------------------------------------------------------ steps
    def run(self) -> SessionPaths:
        self._prepare()
        try:
            t = self.clock.now()
            self.attempt = 0
            self.log_clock("session_resume" if self.resuming else "session_start")
            self.event("session_resume" if self.resuming else "session_start", t,
                       response=f"run {len(self.info['runs'])}", attempt=len(self.info["runs"]))
            for step in self.schedule:
                if step.index in self.done_steps:
                    continue
                self.attempt = self.attempts.get(step.index, 0) + 1
                self.attempts[step.index] = self.attempt
                self.console(step, f"attempt {self.attempt}" if self.attempt > 1 else "")
                t0 = self.clock.now()
                self.event("step_start", t0, step=step, response=step.kind)
                getattr(self, f"step_{step.kind}")(step)
                t1 = self.clock.now()
                self.event("step_end", t1, step=step, response=step.kind)
                for f in (self.events, self.beh, self.motion):
                    f.sync(force=self.realtime)
            t = self.clock.now()
            self.attempt = 0
            self.event("session_end", t)
            self.log_clock("session_end")
            bids.update_participants(self.paths.root, {
                "participant_id": f"sub-{self.pid}", "session_id": self.opts.session, "task": self.protocol.name,
                "order_index": self.order_index, "order": ",".join(self.order), "scheme": self.protocol.scheme,
                "simulated": self.simulated, "seed": self.opts.simulate, "status": "complete"})
            if self.opts.console is not None:
                print(f"\nsession complete: {self.paths.dir}", file=self.opts.console, flush=True)
            try:
                self.display.show(Screen(title="Thank you!", body="This part is over. Please wait for the "
                                                                  "experimenter."))
            except Exception:
                pass
            return self.paths
        except SessionAborted:
            self.event("session_abort", self.clock.now(), attempt=self.attempt)
            raise UserError("session stopped by the operator (Escape); continue it with --resume", code=3)
        finally:
            for f in ("events", "beh", "motion", "clocklog"):
                if hasattr(self, f):
                    getattr(self, f).close()
            if self._display is not None:
                self._display.close()
            if hasattr(self, "lsl"):
                self.lsl.close()

    def step_instructions(self, step: Step):
        text = self._fmt(str(step.params["text"]), step)
        wait = bool(step.params.get("wait", True))
        min_time = float(step.params.get("duration", 0.0)) if wait else 0.0
        screen = Screen(body=text, hint=CONTINUE if wait else "")
        if self.sim:
            self.display.show(screen)
            onset = self.clock.now()
            self.sim_wait(max(min_time, self.sim.read_time(text)) if wait else float(step.params["duration"]))
            key = "space" if wait else None
            end = self.clock.now()
        elif wait:
            onset, ev = self.wait_keys(screen, min_time=min_time)
            key, end = ev.key, ev.t
        else:
            onset, _ = self.wait_keys(screen, keys=(), timeout=float(step.params["duration"]))
            key, end = None, self.clock.now()
        self.event("instructions", onset, end - onset, step=step, response=key,
                   response_time=(end - onset) if key else None)

    def step_rest(self, step: Step):
        text = self._fmt(str(step.params.get("text", "Rest for a moment.")), step)
        dur = float(step.params["duration"])
        screen = Screen(body=text)
        if self.sim and self.clock.virtual:
            onset = self.clock.now()
            self.clock.advance(dur)
        else:
            onset, _ = self.wait_keys(screen, keys=(), timeout=dur)
        self.event("rest", onset, self.clock.now() - onset, step=step)

    def _play(self, step: Step, duration: float, overlay=None, on_input=None, stop=None):
        cond = self.protocol.conditions[step.condition]
        stim = self.protocol.stimulus_for(step.condition)
        if not isinstance(self.display, NullDisplay):      # files are only opened when something is shown
            self.protocol.check_files([step.condition])
        pose = self.sim.pose_function(duration + 5.0, 60.0, step.condition) if self.sim else None
        req = PlayRequest(str(stim.dream) if stim.dream else None, str(stim.control) if stim.control else None,
                          str(stim.file) if stim.file else None, duration, cond.dose_at,
                          list(cond.timeline) if cond.timeline else [(0.0, cond.dose)],
                          float(step.params.get("start", 0.0)), pose, overlay, on_input)
        def shown(dose):
            if req.file:
                return Path(req.file).name
            if dose <= 0.0:
                return Path(req.control).name
            if dose >= 1.0:
                return Path(req.dream).name
            return f"{Path(req.dream).name}|{Path(req.control).name}"
        files = [shown(cond.dose_at(0.0))] if not cond.timeline else [shown(0.5)]
        state = {"first": None, "dose": None, "frames": 0}

        def on_frame(t, quat, dose):
            if state["first"] is None:
                state["first"] = t
                self.event("stimulus_start", t, step=step, dose=dose, stim_file="|".join(files))
            # dose changes are logged in steps of 0.05 (and when a ramp ends)
            if state["dose"] is not None and (abs(dose - state["dose"]) >= DOSE_STEP or
                                              (dose != state["dose"] and dose in (0.0, 1.0))):
                self.event("dose_change", t, step=step, dose=round(dose, 4))
                state["dose"] = dose
            if state["dose"] is None:
                state["dose"] = dose
            state["frames"] += 1
            self.motion.write_values([t, step.index, *quat])
            self.lsl.head(self.clock.lsl(t), quat)
            if stop is not None and stop():
                return False
            return True

        self.log_clock(f"step {step.index} before play")
        result = self.display.play(req, on_frame)
        for lsl_t, pb_t in result.clock_pairs:
            self.clocklog.write({"onset": lsl_t - self.clock.t0, "lsl_time": lsl_t, "playback_time": pb_t,
                                 "offset": lsl_t - pb_t, "wall_time": time.time(),
                                 "where": f"step {step.index} playback"})
        self.log_clock(f"step {step.index} after play")
        onset = state["first"] if state["first"] is not None else result.onset
        self.event("stimulus", onset, result.duration, step=step,
                   dose=cond.dose if not cond.timeline else None, stim_file="|".join(files),
                   response=f"frames={result.frames} dropped={result.dropped}", marker=False)
        self.lsl.marker(self.clock.lsl(onset + result.duration), "stimulus_end", step=step.index,
                        condition=step.condition)
        if result.aborted:
            raise SessionAborted()
        return result

    def step_stimulus(self, step: Step):
        self._play(step, float(step.params["duration"]))

    # -- questionnaires ------------------------------------------------------
    def _item_screen(self, q: Questionnaire, item: Item, k: int, value):
        points = item.points if item.scale == "likert" else 0
        hint = ("Press 1-%d or use the arrow keys / mouse, then Enter." % points) if points else \
            "Use the left/right arrow keys or the mouse, then press Enter."
        return Screen(title=q.title, body=item.text or f"Item {item.id}",
                      slider=Slider(value, item.minimum, item.maximum, tuple(item.anchors), points,
                                    tuple(item.labels)),
                      hint=hint, progress=f"{k + 1}/{len(q.items)}")

    def _ask(self, q: Questionnaire, item: Item, k: int):
        value = None
        screen = self._item_screen(q, item, k, value)
        d = self.display
        d.show(screen)
        onset = self.clock.now()
        w, h = d.size
        step_size = 1.0 if item.scale == "likert" else 2.0
        while True:
            inputs = d.poll()
            self._check_abort(inputs)
            for ev in inputs:
                if ev.t < onset:
                    continue
                if ev.kind == "key":
                    if ev.key in ("enter", "space") and value is not None:
                        return onset, value, ev.t - onset
                    if ev.key in ("left", "right"):
                        start = value if value is not None else (
                            (item.minimum + item.maximum) / 2 if item.scale == "vas" else
                            float((item.points + 1) // 2))
                        value = start + (step_size if ev.key == "right" else -step_size) \
                            if value is not None else start
                        value = float(min(item.maximum, max(item.minimum, value)))
                    elif ev.key.isdigit() and item.scale == "likert" and 1 <= int(ev.key) <= item.points:
                        value = float(ev.key)
                elif ev.kind in ("click", "move"):
                    value = slider_value_at(ev.x, w, h, screen.slider)
                screen = self._item_screen(q, item, k, value)
            d.show(screen)
            time.sleep(0.005)

    def step_questionnaire(self, step: Step):
        q = self.protocol.questionnaire(step.params)
        if q.needs_texts and not self.sim:
            raise UserError(f"questionnaire {q.name} has no item texts (they are licensed and not shipped); add "
                            "texts = \"FILE.tsv\" (columns item, text) to the questionnaire step of the protocol")
        cond = self.protocol.conditions.get(step.condition) if step.condition else None
        dose = cond.dose if cond else None
        t_start = self.clock.now()
        if q.instructions:
            if self.sim:
                self.display.show(Screen(title=q.title, body=q.instructions, hint=CONTINUE))
                self.sim_wait(self.sim.read_time(q.instructions))
            else:
                self.wait_keys(Screen(title=q.title, body=q.instructions, hint=CONTINUE))
        answers = {}
        for k, item in enumerate(self._order(step, q.items)):
            if self.sim:
                self.display.show(self._item_screen(q, item, k, None))
                onset = self.clock.now()
                value, rt = self.sim.answer(item, dose if dose is not None else 0.0)
                self.sim_wait(rt)
                rt = self.clock.now() - onset
            else:
                onset, value, rt = self._ask(q, item, k)
            answers[item.id] = value
            scale = "vas" if item.scale == "vas" else f"likert-{item.points}"
            self.beh.write({"onset": onset, "step": step.index, "block": step.block, "attempt": self.attempt,
                            "condition": step.condition, "dose": dose, "task": q.name, "item": item.id,
                            "dimension": item.dimension, "scale": scale, "response": value, "response_time": rt})
            self.event("questionnaire_item", onset, rt, step=step, response=value, response_time=rt,
                       stim_file=f"{q.name}:{item.id}", dose=dose)
        self.event("questionnaire", t_start, self.clock.now() - t_start, step=step, stim_file=q.name,
                   response=";".join(f"{k}={v:.1f}" for k, v in q.score(answers).items()), marker=False)

    # -- timing tasks ----------------------------------------------------------
    def step_production(self, step: Step):
        self._timing(step, "production")

    def step_reproduction(self, step: Step):
        self._timing(step, "reproduction")

    def _timing(self, step: Step, kind: str):
        durations = [float(x) for x in step.params["durations"]]
        iti = float(step.params.get("iti", 1.0))
        intro = step.params.get("text")
        if intro:
            if self.sim:
                self.sim_wait(self.sim.read_time(intro))
            else:
                self.wait_keys(Screen(body=self._fmt(str(intro), step), hint=CONTINUE))
        trials = [TimingTrial(kind, d, i + 1) for i, d in enumerate(self._order(step, durations))]
        background = step.params.get("background", "blank") == "stimulus" and step.condition is not None
        state = {"i": 0, "iti_until": None}

        def current():
            return trials[state["i"]] if state["i"] < len(trials) else None

        def begin(now):
            tr = current()
            if tr is not None:
                tr.start(now)

        def finish(tr: TimingTrial):
            self._timing_rows(step, tr)
            state["i"] += 1
            state["iti_until"] = self.clock.now() + iti

        def on_key(t, key):
            tr = current()
            if tr is None or state["iti_until"] is not None or t < tr.t_ready:
                return
            tr.tick(t)
            tr.key(t, key)
            if tr.done:
                finish(tr)

        def tick(now):
            if state["iti_until"] is not None and now >= state["iti_until"]:
                state["iti_until"] = None
                begin(now)
            tr = current()
            if tr is not None and state["iti_until"] is None:
                tr.tick(now)

        def screen(transparent=False):
            tr = current()
            if tr is None or state["iti_until"] is not None:
                return Screen(big="", transparent=transparent)
            big, hint = tr.screen()
            return Screen(big=big, hint=hint, transparent=transparent, progress=f"{state['i'] + 1}/{len(trials)}")

        if self.sim:
            # the simulated participant presses keys at times drawn from the seed
            if background:
                # motion and frames during the task: play for the expected length, keys scripted below
                pass
            for tr in trials:
                tr.start(self.clock.now())
                self.display.show(screen())
                self.sim_wait(self.sim.reaction())
                tr.key(self.clock.now(), "space")
                if kind == "reproduction":
                    self.display.show(screen())
                    if self.clock.virtual:
                        self.clock.advance(tr.target)
                    else:
                        self.clock.sleep(tr.target)
                    tr.tick(self.clock.now())
                    self.sim_wait(self.sim.reaction())
                    tr.key(self.clock.now(), "space")
                interval = self.sim.interval(tr.target, step.condition)
                if self.clock.virtual:
                    self.clock.advance(interval)
                else:
                    self.clock.sleep(interval)
                tr.key(self.clock.now(), "space")
                self._timing_rows(step, tr)
                if self.clock.virtual:
                    self.clock.advance(iti)
                else:
                    self.clock.sleep(min(iti, 0.2))
            return
        begin(self.clock.now())
        if background:
            def overlay(t):
                tick(self.clock.now())
                return screen(transparent=True)

            def on_input(ev: Input):
                if ev.kind == "key":
                    if ev.key == "escape":
                        self.abort_requested = True
                    on_key(ev.t, ev.key)
            budget = sum(durations) * 3 + len(durations) * (iti + 10) + 30
            self._play(step, budget, overlay=overlay, on_input=on_input,
                       stop=lambda: current() is None or self.abort_requested)
            if self.abort_requested:
                raise SessionAborted()
            return
        while current() is not None:
            now = self.clock.now()
            tick(now)
            self.display.show(screen())
            inputs = self.display.poll()
            self._check_abort(inputs)
            for ev in inputs:
                if ev.kind == "key":
                    on_key(ev.t, ev.key)
            time.sleep(0.002)

    def _timing_rows(self, step: Step, tr: TimingTrial):
        cond = self.protocol.conditions.get(step.condition) if step.condition else None
        dose = (cond.dose if cond and not cond.timeline else None)
        if tr.kind == "reproduction" and tr.t_target_on is not None:
            self.event("reproduction_target", tr.t_target_on, tr.target, step=step, target=tr.target, dose=dose)
        self.event(tr.kind, tr.t_start, tr.interval, step=step, target=tr.target, response="space",
                   response_time=tr.interval, dose=dose)
        self.beh.write({"onset": tr.t_start, "step": step.index, "block": step.block, "attempt": self.attempt,
                        "condition": step.condition, "dose": dose, "task": tr.kind, "item": tr.number,
                        "dimension": "interval", "scale": "s", "target": tr.target, "response": tr.interval})


def run_session(opts: RunOptions, display: Optional[Display] = None) -> SessionPaths:
    return SessionRunner(opts, display).run()
