"""``type = "production"`` / ``"reproduction"``: interval timing trials (see :mod:`..timing`).

An optional intro screen (``text``), then one trial per entry of
``durations`` (``shuffle``: reproducible order) with ``iti`` seconds
between trials, on a blank screen or, with ``background = "stimulus"``,
over the block's video.  Each trial writes a beh row and an event (plus a
``reproduction_target`` event for reproduction).
"""
from __future__ import annotations

import functools
from typing import Callable, List, Optional

from ..protocol import Step
from ..screens import CONTINUE_HINT, Screen
from ..timing import TimingTrial
from . import stimulus
from .context import StepContext

# How long the video may play behind a timing task: enough for slow answers, a bound if nobody answers.
BUDGET_PER_TARGET = 3.0     # times the summed target durations
BUDGET_PER_TRIAL_S = 10.0   # plus this per trial (plus the inter-trial interval)
BUDGET_EXTRA_S = 30.0


class TimingTask:
    """The trials of one step as one state machine on given times: trial, inter-trial interval, next trial."""

    def __init__(self, trials: List[TimingTrial], iti: float, condition: Optional[str],
                 record: Callable[[TimingTrial], None]):
        self.trials, self.iti, self.condition, self.record = trials, iti, condition, record
        self.index = 0
        self.iti_until: Optional[float] = None

    @property
    def current(self) -> Optional[TimingTrial]:
        return self.trials[self.index] if self.index < len(self.trials) else None

    @property
    def done(self) -> bool:
        return self.current is None

    def begin(self, now: float) -> None:
        if self.current is not None:
            self.current.start(now)

    def on_key(self, t: float, key: str) -> None:
        tr = self.current
        if tr is None or self.iti_until is not None or t < tr.t_ready:
            return
        tr.tick(t)
        tr.key(t, key)
        if tr.done:
            self.record(tr)
            self.index += 1
            self.iti_until = t + self.iti

    def tick(self, now: float) -> None:
        if self.iti_until is not None and now >= self.iti_until:
            self.iti_until = None
            self.begin(now)
        tr = self.current
        if tr is not None and self.iti_until is None:
            tr.tick(now)

    def screen_of(self, tr: TimingTrial, transparent: bool = False) -> Screen:
        big, hint = tr.screen()
        return Screen(big=big, hint=hint, transparent=transparent, progress=f"{tr.number}/{len(self.trials)}")

    def screen(self, transparent: bool = False) -> Screen:
        """What the participant sees now: the current trial, or nothing between trials."""
        if self.current is None or self.iti_until is not None:
            return Screen(big="", transparent=transparent)
        return self.screen_of(self.current, transparent)


def _record(ctx: StepContext, step: Step, tr: TimingTrial) -> None:
    cond = ctx.condition(step)
    dose = cond.dose if cond and not cond.timeline else None
    if tr.kind == "reproduction" and tr.t_target_on is not None:
        ctx.log.event("reproduction_target", tr.t_target_on, tr.target, step=step, target=tr.target, dose=dose)
    ctx.log.event(tr.kind, tr.t_start, tr.interval, step=step, target=tr.target, response="space",
                  response_time=tr.interval, dose=dose)
    ctx.log.answer(step, onset=tr.t_start, dose=dose, task=tr.kind, item=tr.number, dimension="interval", scale="s",
                   target=tr.target, response=tr.interval)


def run(ctx: StepContext, step: Step) -> None:
    durations = [float(x) for x in step.params["durations"]]
    iti = float(step.params.get("iti", 1.0))
    if step.params.get("text"):
        ctx.respondent.acknowledge(Screen(body=ctx.text(step.params["text"], step), hint=CONTINUE_HINT))
    trials = [TimingTrial(step.kind, d, i + 1) for i, d in enumerate(ctx.ordered(step, durations))]
    task = TimingTask(trials, iti, step.condition, functools.partial(_record, ctx, step))
    play_behind = None
    if step.params.get("background", "blank") == "stimulus" and step.condition is not None:
        budget = sum(durations) * BUDGET_PER_TARGET + len(durations) * (iti + BUDGET_PER_TRIAL_S) + BUDGET_EXTRA_S
        play_behind = functools.partial(stimulus.play, ctx, step, budget)
    ctx.respondent.perform_timing(task, play_behind)
