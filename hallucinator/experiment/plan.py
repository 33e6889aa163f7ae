"""Who runs what: a participant's place in the protocol (order, schedule), and the records that describe it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

from ..errors import UserError
from .protocol import Protocol, Step, participant_number


@dataclass
class SessionPlan:
    protocol: Protocol
    participant: str
    session: str
    number: int                 # participant number: picks the order
    order_index: int            # row of the counterbalancing scheme
    order: List[str]            # conditions in presentation order
    schedule: List[Step]
    seed: Optional[int] = None  # a simulated participant's seed; None: a person

    @property
    def simulated(self) -> bool:
        return self.seed is not None

    def participant_row(self, status: str) -> dict:
        """This session's row of participants.tsv."""
        p = self.protocol
        return {"participant_id": f"sub-{self.participant}", "session_id": self.session, "task": p.name,
                "order_index": self.order_index, "order": ",".join(self.order), "scheme": p.scheme,
                "simulated": self.simulated, "seed": self.seed, "status": status}

    def session_info(self, clock, realtime: bool) -> dict:
        """The session file's contents at the first run (``runs`` is filled in per run)."""
        p = self.protocol
        return {
            "participant": self.participant, "session": self.session, "task": p.name, "protocol_title": p.title,
            "protocol_file": str(p.path), "protocol_sha256": p.sha256, "protocol_version": p.version,
            "participant_number": self.number, "scheme": p.scheme, "order_index": self.order_index,
            "order": self.order, "simulated": self.simulated, "seed": self.seed,
            "t0_lsl": clock.t0, "t0_wall": clock.t0_wall,
            "clock": "virtual (simulated, no waiting)" if not realtime else "LSL local_clock",
            "schedule": [{"step": s.index, "type": s.kind, "block": s.block, "condition": s.condition}
                         for s in self.schedule],
            "stimuli": {n: {k: str(v) for k, v in vars(s).items() if v is not None and k != "name"}
                        for n, s in p.stimuli.items()},
            "runs": []}


def make_plan(protocol: Protocol, participant: str, session: str, seed: Optional[int]) -> SessionPlan:
    """The participant's order and schedule; one-line errors for labels that cannot name BIDS files."""
    number = participant_number(participant)
    if not session.isalnum():
        raise UserError(f"session label {session!r} must be letters and digits only, e.g. 01")
    order_index, order = protocol.order_for(number)
    return SessionPlan(protocol, participant, session, number, order_index, order, protocol.schedule(order), seed)
