"""Where the project's top-level data folders (shaders/, models/, experiments/) are found.

In a source checkout or an editable install they sit next to the package; a
regular install puts them under ``<prefix>/share/hallucinator/``.
"""
from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """The folder ``name`` (``"shaders"``, ``"models"`` or ``"experiments"``)."""
    for base in (_HERE.parent, Path(sys.prefix) / "share" / "hallucinator"):
        path = base / name
        if path.is_dir():
            return path
    raise FileNotFoundError(f"the project's {name}/ folder is missing; reinstall hallucinator")
