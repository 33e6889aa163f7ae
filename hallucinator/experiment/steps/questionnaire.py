"""``type = "questionnaire"``: the instructions, then one screen per item (``shuffle`` = reproducible order).

Each answer is a beh row and a ``questionnaire_item`` event; the step ends
with a ``questionnaire`` event carrying the dimension scores.  ``dose`` is
the block's condition dose (answers are about the video just seen).
"""
from __future__ import annotations

import functools

from ...errors import UserError
from ..protocol import Step
from ..questionnaire import Item, Questionnaire
from ..screens import CONTINUE_HINT, Screen, Slider
from .context import StepContext


def item_screen(q: Questionnaire, item: Item, k: int, value) -> Screen:
    """Item ``k`` of ``q`` with the slider marker at ``value`` (None: not yet touched)."""
    points = item.points if item.scale == "likert" else 0
    hint = ("Press 1-%d or use the arrow keys / mouse, then Enter." % points) if points else \
        "Use the left/right arrow keys or the mouse, then press Enter."
    return Screen(title=q.title, body=item.text or f"Item {item.id}",
                  slider=Slider(value, item.minimum, item.maximum, tuple(item.anchors), points, tuple(item.labels)),
                  hint=hint, progress=f"{k + 1}/{len(q.items)}")


def run(ctx: StepContext, step: Step) -> None:
    q = ctx.protocol.questionnaire(step.params)
    if q.needs_texts and ctx.respondent.needs_item_texts:
        raise UserError(f"questionnaire {q.name} has no item texts (they are licensed and not shipped); add "
                        "texts = \"FILE.tsv\" (columns item, text) to the questionnaire step of the protocol")
    cond = ctx.condition(step)
    dose = cond.dose if cond else None
    log = ctx.log
    t_start = ctx.clock.now()
    if q.instructions:
        ctx.respondent.acknowledge(Screen(title=q.title, body=q.instructions, hint=CONTINUE_HINT))
    answers = {}
    for k, item in enumerate(ctx.ordered(step, q.items)):
        r = ctx.respondent.rate(functools.partial(item_screen, q, item, k), item, dose if dose is not None else 0.0)
        answers[item.id] = r.value
        scale = "vas" if item.scale == "vas" else f"likert-{item.points}"
        log.answer(step, onset=r.onset, dose=dose, task=q.name, item=item.id, dimension=item.dimension,
                   scale=scale, response=r.value, response_time=r.time)
        log.event("questionnaire_item", r.onset, r.time, step=step, response=r.value, response_time=r.time,
                  questionnaire=q.name, item=item.id, dose=dose)
    log.event("questionnaire", t_start, ctx.clock.now() - t_start, step=step, questionnaire=q.name,
              response=";".join(f"{k}={v:.1f}" for k, v in q.score(answers).items()), marker=False)
