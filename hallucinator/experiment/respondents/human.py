"""A person at the display: key presses and mouse moves, timed on the session clock.

Screens stay up until the person answers; every wait looks at the input at
least every few milliseconds (and wakes at once when input arrives), so a
key time is the time the key was pressed, not the time it was noticed.
"""
from __future__ import annotations

from typing import Callable, Optional

from ..questionnaire import Item
from ..screens import Screen, slider_value_at
from .base import POLL_S, Respondent, Response, SessionAborted, check_abort


def _moved(item: Item, value: Optional[float], key: str) -> float:
    """The slider value after an arrow key: the middle first, then a point (Likert) or 2 points (VAS) a press."""
    if value is None:
        start = (item.minimum + item.maximum) / 2 if item.scale == "vas" else float((item.points + 1) // 2)
        return float(min(item.maximum, max(item.minimum, start)))
    step = 1.0 if item.scale == "likert" else 2.0
    return float(min(item.maximum, max(item.minimum, value + (step if key == "right" else -step))))


class HumanRespondent(Respondent):
    def acknowledge(self, screen: Screen, min_time: float = 0.0) -> Response:
        return self.show_until(screen, min_time=min_time)

    def rate(self, screen_for: Callable[[Optional[float]], Screen], item: Item, dose: float) -> Response:
        value = None
        screen = screen_for(value)
        d = self.display
        d.show(screen)
        onset = self.clock.now()
        w, h = d.size
        while True:
            inputs = d.poll()
            check_abort(inputs)
            for ev in inputs:
                if ev.t < onset:
                    continue
                if ev.kind == "key":
                    if ev.key in ("enter", "space") and value is not None:
                        return Response(onset, ev.t, ev.key, value)
                    if ev.key in ("left", "right"):
                        value = _moved(item, value, ev.key)
                    elif ev.key.isdigit() and item.scale == "likert" and 1 <= int(ev.key) <= item.points:
                        value = float(ev.key)
                elif ev.kind in ("click", "move"):
                    value = slider_value_at(ev.x, w, h, screen.slider)
                screen = screen_for(value)
            d.show(screen)
            d.wait(POLL_S)

    def perform_timing(self, task, play_behind: Optional[Callable] = None) -> None:
        task.begin(self.clock.now())
        if play_behind is not None:
            self._timing_over_video(task, play_behind)
            return
        d = self.display
        while not task.done:
            task.tick(self.clock.now())
            d.show(task.screen())
            inputs = d.poll()
            check_abort(inputs)
            for ev in inputs:
                if ev.kind == "key":
                    task.on_key(ev.t, ev.key)
            d.wait(POLL_S)

    def _timing_over_video(self, task, play_behind: Callable) -> None:
        aborted = []

        def overlay(t):
            task.tick(self.clock.now())
            return task.screen(transparent=True)

        def on_input(ev):
            if ev.kind == "key":
                if ev.key == "escape":
                    aborted.append(ev.t)
                task.on_key(ev.t, ev.key)

        play_behind(overlay, on_input, lambda: task.done or bool(aborted))
        if aborted:
            raise SessionAborted()
