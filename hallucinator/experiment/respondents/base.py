"""What a step may ask of a participant, whoever answers.

A step shows screens and asks for actions; a :class:`Respondent` performs
them on the session clock and returns when and what:

* ``acknowledge(screen, min_time)``  read a screen, press SPACE/Enter to go on
* ``hold(screen, seconds)``          a screen shown for a fixed time (only Escape ends it early)
* ``rate(screen_for, item, dose)``   answer one questionnaire item
* ``perform_timing(task, play_behind)`` do the trials of a timing task, over the video when
                                     ``play_behind`` is given
* ``head_path(duration, condition)`` a scripted head path for a stimulus, or None for live head motion
* ``needs_item_texts``               whether questionnaire items must have texts to be answered

Escape (or the window closing) raises :class:`SessionAborted` from any of them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from ..display import Display, Input
from ..questionnaire import Item
from ..screens import Screen

POLL_S = 0.005      # longest wait between two looks at the input while a screen is up


class SessionAborted(Exception):
    """The operator stopped the session (Escape or the window closed); it can be resumed."""


@dataclass
class Response:
    onset: float                   # session time the screen appeared
    t: float                       # session time of the answer (or the end of the screen)
    key: Optional[str] = None      # key that closed the screen
    value: Optional[float] = None  # answer on the item's own scale

    @property
    def time(self) -> float:
        """Seconds from onset to the answer."""
        return self.t - self.onset


def check_abort(inputs: Sequence[Input]) -> None:
    if any(ev.kind == "key" and ev.key == "escape" for ev in inputs):
        raise SessionAborted()


class Respondent:
    needs_item_texts = True

    def __init__(self, display: Display, clock):
        self.display = display
        self.clock = clock

    def show_until(self, screen: Screen, keys=("space", "enter"), min_time: float = 0.0,
                   timeout: Optional[float] = None) -> Response:
        """Show ``screen`` until one of ``keys`` (pressed after ``min_time``) or ``timeout``."""
        d = self.display
        d.show(screen)
        onset = self.clock.now()
        while True:
            inputs = d.poll()
            check_abort(inputs)
            for ev in inputs:
                if ev.t < onset:      # pressed before this screen appeared: not an answer to it
                    continue
                if ev.kind == "key" and ev.key in keys and ev.t - onset >= min_time:
                    return Response(onset, ev.t, ev.key)
            now = self.clock.now()
            if timeout is not None and now - onset >= timeout:
                return Response(onset, now)
            d.show(screen)
            d.wait(POLL_S)

    def hold(self, screen: Screen, seconds: float) -> Response:
        """``screen`` for ``seconds`` (a virtual clock jumps over them)."""
        if self.clock.virtual:
            self.display.show(screen)
            onset = self.clock.now()
            self.clock.sleep(seconds)
            return Response(onset, self.clock.now())
        return self.show_until(screen, keys=(), timeout=seconds)

    def acknowledge(self, screen: Screen, min_time: float = 0.0) -> Response:
        raise NotImplementedError

    def rate(self, screen_for: Callable[[Optional[float]], Screen], item: Item, dose: float) -> Response:
        """Answer ``item``; ``screen_for(value)`` is its screen with the marker at ``value`` (None: untouched)."""
        raise NotImplementedError

    def perform_timing(self, task, play_behind: Optional[Callable] = None) -> None:
        """Do every trial of ``task`` (a :class:`~..steps.timing_task.TimingTask`); ``play_behind(overlay,
        on_input, stop)`` plays the block's stimulus with the task drawn over it."""
        raise NotImplementedError

    def head_path(self, duration: float, condition: Optional[str]) -> Optional[Callable[[float], Sequence[float]]]:
        return None
