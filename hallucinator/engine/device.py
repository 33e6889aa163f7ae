"""Which torch device the engine runs on: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``, checked against the machine."""
from __future__ import annotations

from typing import Optional

import torch

from ..errors import UserError


def resolve_device(name: str) -> torch.device:
    """The torch device for a ``--device`` word; a one-line UserError for one this machine cannot give."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for but no CUDA GPU is available; use --device cpu or auto")
    if name not in ("cpu",) and not name.startswith("cuda"):
        raise UserError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N")
    return torch.device(name)


def autocast_dtype(precision: str) -> Optional[torch.dtype]:
    """The dtype the network's passes autocast to for a ``precision`` word, or None for plain fp32."""
    return {"fp32": None, "bf16": torch.bfloat16}[precision]
