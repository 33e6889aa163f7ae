"""``type = "rest"``: a rest screen for ``duration`` seconds (``text``, default "Rest for a moment.")."""
from __future__ import annotations

from ..protocol import Step
from ..screens import Screen
from .context import StepContext


def run(ctx: StepContext, step: Step) -> None:
    text = ctx.text(step.params.get("text", "Rest for a moment."), step)
    r = ctx.respondent.hold(Screen(body=text), float(step.params["duration"]))
    ctx.log.event("rest", r.onset, r.time, step=step)
