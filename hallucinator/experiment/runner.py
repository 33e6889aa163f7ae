"""One session, from the first screen (or the step after a crash) to the last row.

The runner walks the participant's schedule (protocol + counterbalanced
order).  Each step writes ``step_start`` when it begins and ``step_end`` when
it is done; ``--resume`` skips every step with a ``step_end`` and re-runs the
interrupted one as attempt 2 (the rows of attempt 1 stay: they happened).

What a step does lives in :mod:`.steps`; who answers (a person at the
window, or a simulated participant) is the :mod:`.respondents`; what is
written, and when, is the :mod:`.session_log`.
"""
from __future__ import annotations

import sys
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional

from ..errors import UserError
from . import bids
from .bids import SessionPaths
from .clock import SessionClock, VirtualClock
from .display import Display, NullDisplay
from .plan import SessionPlan, make_plan
from .protocol import Step, load_protocol, participant_label
from .respondents.base import Respondent, SessionAborted
from .respondents.human import HumanRespondent
from .respondents.simulated import SimulatedRespondent
from .screens import Screen
from .session_log import ResumeState, open_session_log, read_resume_state
from .simulate import SimulatedParticipant
from .steps import STEP_KINDS
from .steps.context import StepContext

DEFAULT_PACE = 0.1      # real-time simulations: interactions take this fraction of their simulated time


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


class SessionRunner:
    def __init__(self, opts: RunOptions, display: Optional[Display] = None):
        self.opts = opts
        protocol = load_protocol(opts.protocol)
        for key, value in opts.stim.items():
            protocol.override_stimulus(key, value)
        label = participant_label(opts.participant, Path(opts.data))
        self.plan: SessionPlan = make_plan(protocol, label, opts.session, opts.simulate)
        self.paths = SessionPaths(Path(opts.data), label, opts.session, protocol.name)
        realtime = opts.realtime
        if realtime is None:
            realtime = bool(protocol.simulate.get("realtime", False)) if self.plan.simulated else True
        self.realtime = realtime
        self._display = display
        if opts.headless and not self.plan.simulated and display is None:
            raise UserError("--headless needs --simulate SEED: a person needs the window to answer")

    # ------------------------------------------------------------------ setup
    def _clock(self, state: ResumeState):
        if self.realtime:
            return SessionClock(state.info.get("t0_lsl"), state.info.get("t0_wall"))
        return VirtualClock(start=(state.last_onset + 1.0) if state.resuming else 0.0)

    def _open_display(self, clock) -> Display:
        """The display; stimulus files are checked first when it shows them, so a missing file or display
        leaves nothing behind that would need --resume."""
        windowed = self._display is None and self.realtime and not self.opts.headless
        if windowed or (self._display is not None and not isinstance(self._display, NullDisplay)):
            self.plan.protocol.check_files(sorted({s.condition for s in self.plan.schedule if s.condition}))
        if self._display is not None:
            return self._display
        if windowed:
            from .viewer_bridge import ViewerDisplay
            return ViewerDisplay(clock, self.opts.window, fullscreen=self.opts.fullscreen, xr=self.opts.xr)
        return NullDisplay(clock, rate=self.opts.motion_rate)

    def _respondent(self, display: Display, clock) -> Respondent:
        if not self.plan.simulated:
            return HumanRespondent(display, clock)
        settings = self.plan.protocol.simulate
        participant = SimulatedParticipant(self.plan.seed, self.plan.number, settings)
        return SimulatedRespondent(display, clock, participant, float(settings.get("pace", DEFAULT_PACE)))

    # ------------------------------------------------------------------ run
    def run(self) -> SessionPaths:
        state = read_resume_state(self.paths, self.plan, self.opts.resume)
        clock = self._clock(state)
        with ExitStack() as stack:
            display = stack.enter_context(self._open_display(clock))
            lsl = self.opts.lsl if self.opts.lsl is not None else self.realtime
            log = stack.enter_context(open_session_log(self.paths, self.plan, state, clock, self.realtime, lsl,
                                                       display.frame_rate, display.tracking_system))
            if self.opts.console is not None and log.lsl.error:
                print(f"LSL off: {log.lsl.error}", file=self.opts.console, flush=True)
            ctx = StepContext(self.plan.protocol, log, self._respondent(display, clock), display, clock,
                              len(self.plan.order), self.plan.number)
            try:
                self._walk(ctx, state)
            except SessionAborted:
                log.event("session_abort", clock.now(), attempt=log.attempt)
                raise UserError("session stopped by the operator (Escape); continue it with --resume", code=3)
        return self.paths

    def _walk(self, ctx: StepContext, state: ResumeState) -> None:
        log, clock = ctx.log, ctx.clock
        start = "session_resume" if state.resuming else "session_start"
        log.clock_row(start)
        log.event(start, clock.now(), response=f"run {log.run}", attempt=log.run)
        for step in self.plan.schedule:
            if step.index in state.done_steps:
                continue
            log.attempt = state.attempts.get(step.index, 0) + 1
            self._console(step, clock, f"attempt {log.attempt}" if log.attempt > 1 else "")
            log.event("step_start", clock.now(), step=step, response=step.kind)
            STEP_KINDS[step.kind](ctx, step)
            log.event("step_end", clock.now(), step=step, response=step.kind)
            log.sync(force=self.realtime)
        log.attempt = 0
        log.event("session_end", clock.now())
        log.clock_row("session_end")
        bids.update_participants(self.paths.root, self.plan.participant_row("complete"))
        if self.opts.console is not None:
            print(f"\nsession complete: {self.paths.dir}", file=self.opts.console, flush=True)
        try:    # the data are complete: a window closed at this moment is no error
            ctx.display.show(Screen(title="Thank you!", body="This part is over. Please wait for the experimenter."))
        except Exception:
            pass

    def _console(self, step: Step, clock, extra: str = "") -> None:
        """One status line for the operator: step, block, condition and dose, session time."""
        out = self.opts.console
        if out is None:
            return
        plan = self.plan
        cond = f" {step.condition}" if step.condition else ""
        dose = ""
        if step.condition:
            c = plan.protocol.conditions[step.condition]
            dose = f" dose {'timeline' if c.timeline else f'{c.dose:g}'}"
        blocks = f" block {step.block}/{len(plan.order)}" if step.block else ""
        t = clock.now()
        line = (f"[sub-{plan.participant} ses-{plan.session}{' SIM' if plan.simulated else ''}] "
                f"step {step.index + 1}/{len(plan.schedule)} {step.kind}{blocks}{cond}{dose} {extra} "
                f"t={int(t // 60):02d}:{t % 60:04.1f}")
        end = "\r" if getattr(out, "isatty", lambda: False)() else "\n"
        print(line.ljust(100), end=end, file=out, flush=True)


def run_session(opts: RunOptions, display: Optional[Display] = None) -> SessionPaths:
    return SessionRunner(opts, display).run()
