"""``type = "instructions"``: a text screen closed by SPACE/Enter (after ``duration``), or shown for ``duration``."""
from __future__ import annotations

from ..protocol import Step
from ..screens import CONTINUE_HINT, Screen
from .context import StepContext


def run(ctx: StepContext, step: Step) -> None:
    text = ctx.text(step.params["text"], step)
    if bool(step.params.get("wait", True)):
        r = ctx.respondent.acknowledge(Screen(body=text, hint=CONTINUE_HINT),
                                       min_time=float(step.params.get("duration", 0.0)))
        ctx.log.event("instructions", r.onset, r.time, step=step, response=r.key, response_time=r.time)
    else:
        r = ctx.respondent.hold(Screen(body=text), float(step.params["duration"]))
        ctx.log.event("instructions", r.onset, r.time, step=step, response=None, response_time=None)
