"""Shared fixtures: where the real test data lives, and a clear skip when it is absent."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("HALLUCINATOR_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared_file(relative: str) -> Path:
    """Path of a file in ../shared/data, or skip the test saying which file is missing."""
    path = SHARED_DATA / relative
    if not path.is_file():
        pytest.skip(f"real test data not present: {path} (see shared/data/SOURCES.md)")
    return path


@pytest.fixture
def shared():
    return shared_file
