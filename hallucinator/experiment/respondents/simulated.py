"""A simulated participant performing the steps: answers, key times and head paths from its seed.

With a virtual clock (simulations that do not wait) the time a participant
takes is added to the clock; in real time it passes for ``pace`` of its
length (interactions sped up), while the input is still watched for Escape.
Timing trials run on a blank screen, also when the protocol plays the video
behind them (no head motion is logged during simulated timing tasks).
"""
from __future__ import annotations

import time
from typing import Callable, Optional

from ..questionnaire import Item
from ..screens import Screen
from ..simulate import SimulatedParticipant
from .base import POLL_S, Respondent, Response, check_abort

HEAD_RATE_HZ = 60.0     # samples per second of a scripted head path
HEAD_SPARE_S = 5.0      # head path beyond the stimulus length (a late last frame)
REALTIME_ITI_S = 0.2    # longest pause between timing trials in real time


class SimulatedRespondent(Respondent):
    needs_item_texts = False

    def __init__(self, display, clock, participant: SimulatedParticipant, pace: float):
        super().__init__(display, clock)
        self.participant = participant
        self.pace = pace

    def take(self, seconds: float) -> None:
        """Time the participant takes: all of it on a virtual clock, ``pace`` of it in real time."""
        if self.clock.virtual:
            self.clock.sleep(seconds)
            return
        end = time.monotonic() + seconds * self.pace
        while time.monotonic() < end:
            check_abort(self.display.poll())
            self.display.wait(min(POLL_S, max(0.0, end - time.monotonic())))

    def acknowledge(self, screen: Screen, min_time: float = 0.0) -> Response:
        self.display.show(screen)
        onset = self.clock.now()
        self.take(max(min_time, self.participant.read_time(screen.body)))
        return Response(onset, self.clock.now(), "space")

    def rate(self, screen_for: Callable[[Optional[float]], Screen], item: Item, dose: float) -> Response:
        self.display.show(screen_for(None))
        onset = self.clock.now()
        value, rt = self.participant.answer(item, dose)
        self.take(rt)
        return Response(onset, self.clock.now(), "enter", value)

    def perform_timing(self, task, play_behind: Optional[Callable] = None) -> None:
        p = self.participant
        for tr in task.trials:
            tr.start(self.clock.now())
            self.display.show(task.screen_of(tr))
            self.take(p.reaction())
            tr.key(self.clock.now(), "space")
            if tr.kind == "reproduction":
                self.display.show(task.screen_of(tr))
                self.clock.sleep(tr.target)
                tr.tick(self.clock.now())
                self.take(p.reaction())
                tr.key(self.clock.now(), "space")
            self.clock.sleep(p.interval(tr.target, task.condition))
            tr.key(self.clock.now(), "space")
            task.record(tr)
            self.clock.sleep(task.iti if self.clock.virtual else min(task.iti, REALTIME_ITI_S))

    def head_path(self, duration: float, condition: Optional[str]):
        return self.participant.pose_function(duration + HEAD_SPARE_S, HEAD_RATE_HZ, condition)
