"""What every step may use: the protocol, the session log, the respondent, the display and the clock."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence

import numpy as np

from ..display import Display
from ..protocol import Condition, Protocol, Step
from ..respondents.base import Respondent
from ..session_log import SessionLog

SHUFFLE_SALT = 7919     # part of the seed of a shuffled step's order (with participant number and step index)


@dataclass
class StepContext:
    protocol: Protocol
    log: SessionLog
    respondent: Respondent
    display: Display
    clock: object                 # SessionClock or VirtualClock
    blocks: int                   # blocks in this participant's schedule
    participant_number: int

    def text(self, raw, step: Step) -> str:
        """Participant-facing text with ``{block}`` and ``{blocks}`` filled in."""
        return str(raw).replace("{block}", str(step.block)).replace("{blocks}", str(self.blocks))

    def ordered(self, step: Step, seq: Sequence) -> List:
        """``seq`` as listed, or shuffled reproducibly from the participant number and step (``shuffle = true``)."""
        seq = list(seq)
        if step.params.get("shuffle"):
            perm = np.random.default_rng([self.participant_number, step.index, SHUFFLE_SALT]).permutation(len(seq))
            seq = [seq[i] for i in perm]
        return seq

    def condition(self, step: Step) -> Optional[Condition]:
        return self.protocol.conditions.get(step.condition) if step.condition else None
