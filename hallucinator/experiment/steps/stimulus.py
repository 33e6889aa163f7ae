"""``type = "stimulus"``: the condition's 360 video for ``duration`` seconds (from ``start``).

Logged: ``stimulus_start`` at the first displayed frame, ``dose_change``
while a dose timeline moves, one motion row (and LSL head-pose sample) per
displayed frame, the playback clock against LSL in the clock file, and a
``stimulus`` row (onset, duration, frames shown and dropped) at the end,
with an LSL ``stimulus_end`` marker.  :func:`play` is also how a timing
task puts the video behind its trials.
"""
from __future__ import annotations

from typing import Callable, Dict, Optional

from ..display import Input, NullDisplay, PlayRequest, PlayResult
from ..protocol import Condition, Step, Stimulus
from ..respondents.base import SessionAborted
from ..screens import Screen
from ..stimuli import StagedStimuli
from .context import StepContext

# A moving dose is logged each time it has moved by this much since the last ``dose_change`` row (and when
# it reaches 0 or 1).  It is the resolution of the log, not the viewer's dose dial: the participant cannot
# change the dose (the viewer's keys are off during a session), only a protocol's dose_timeline moves it.
DOSE_LOG_RESOLUTION = 0.05


def shown_files(stim: Stimulus, cond: Condition, staged: StagedStimuli) -> Dict[str, Optional[str]]:
    """The stim_file and mixed_with columns (paths relative to stimuli/): the file on screen, and the
    control video beside the dream one while they are mixed (a dose between 0 and 1, or a timeline)."""
    if stim.file:
        return {"stim_file": staged.name(stim.file), "mixed_with": None}
    if stim.live:   # dreamed as it plays; at a dose below 1 mixed with itself, the source
        return {"stim_file": staged.name(stim.live), "mixed_with": None}
    dose = 0.5 if cond.timeline else cond.dose_at(0.0)
    if dose <= 0.0:
        return {"stim_file": staged.name(stim.control), "mixed_with": None}
    return {"stim_file": staged.name(stim.dream), "mixed_with": staged.name(stim.control) if dose < 1.0 else None}


class _FrameLog:
    """``on_frame`` of a playback: the first frame, dose changes and one motion row per frame."""

    def __init__(self, ctx: StepContext, step: Step, files: Dict[str, Optional[str]],
                 stop: Optional[Callable[[], bool]]):
        self.ctx, self.step, self.files, self.stop = ctx, step, files, stop
        self.first: Optional[float] = None
        self.dose: Optional[float] = None

    def __call__(self, t: float, quat, dose: float) -> bool:
        log = self.ctx.log
        if self.first is None:
            self.first = t
            log.event("stimulus_start", t, step=self.step, dose=dose, **self.files)
        if self.dose is None:
            self.dose = dose
        elif abs(dose - self.dose) >= DOSE_LOG_RESOLUTION or (dose != self.dose and dose in (0.0, 1.0)):
            log.event("dose_change", t, step=self.step, dose=round(dose, 4))
            self.dose = dose
        log.head_sample(t, self.step.index, quat)
        return not (self.stop is not None and self.stop())


def play(ctx: StepContext, step: Step, duration: float, overlay: Optional[Callable[[float], Screen]] = None,
         on_input: Optional[Callable[[Input], None]] = None,
         stop: Optional[Callable[[], bool]] = None) -> PlayResult:
    """Play the step's condition for ``duration`` s, logging as the module says; Escape raises SessionAborted."""
    cond = ctx.protocol.conditions[step.condition]
    stim = ctx.protocol.stimulus_for(step.condition)
    if not isinstance(ctx.display, NullDisplay):      # files are only opened when something is shown
        ctx.protocol.check_files([step.condition])
    one = stim.file or stim.live
    req = PlayRequest(str(stim.dream) if stim.dream else None, str(stim.control) if stim.control else None,
                      str(one) if one else None, duration, cond.dose_at,
                      list(cond.timeline) if cond.timeline else [(0.0, cond.dose)],
                      float(step.params.get("start", 0.0)), ctx.respondent.head_path(duration, step.condition),
                      overlay, on_input, live=stim.live_options if stim.live else None)
    files = shown_files(stim, cond, ctx.log.stimuli)
    frames = _FrameLog(ctx, step, files, stop)
    log = ctx.log
    log.clock_row(f"step {step.index} before play")
    result = ctx.display.play(req, frames)
    log.playback_clock(result.clock_pairs, f"step {step.index} playback")
    log.clock_row(f"step {step.index} after play")
    onset = frames.first if frames.first is not None else result.onset
    log.event("stimulus", onset, result.duration, step=step, dose=cond.dose if not cond.timeline else None,
              **files, response=f"frames={result.frames} dropped={result.dropped}"
              + (f" dreamed={result.dreamed}" if result.dreamed is not None else ""), marker=False)
    log.marker(onset + result.duration, "stimulus_end", step=step.index, condition=step.condition)
    if result.aborted:
        raise SessionAborted()
    return result


def run(ctx: StepContext, step: Step) -> None:
    play(ctx, step, float(step.params["duration"]))
