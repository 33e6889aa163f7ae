"""One module per kind of protocol step; :data:`STEP_KINDS` maps a step's ``type`` to the function that runs it.

Every step function takes a :class:`~.context.StepContext` and the :class:`~..protocol.Step`; it shows
screens and asks the :class:`~..respondents.base.Respondent` for actions, and writes what happened through
the :class:`~..session_log.SessionLog`.  None of them knows whether a person or a simulation answers.

* :mod:`.instructions`  a text screen, closed by a key or after a fixed time
* :mod:`.rest`          a rest screen for a fixed time
* :mod:`.stimulus`      a 360 video at the condition's dose, with head motion and dose changes logged
* :mod:`.questionnaire` the items of a questionnaire, one answer row each, and the dimension scores
* :mod:`.timing_task`   interval production and reproduction, on a blank screen or over the video
"""
from __future__ import annotations

from . import instructions, questionnaire, rest, stimulus, timing_task

STEP_KINDS = {
    "instructions": instructions.run,
    "rest": rest.run,
    "stimulus": stimulus.run,
    "questionnaire": questionnaire.run,
    "production": timing_task.run,
    "reproduction": timing_task.run,
}
