"""User-facing errors.

A :class:`UserError` is a problem the user can fix (bad file, unknown layer,
missing weights).  The command line prints its message on one line and exits
with its code (2 by default) without a traceback; ``--debug`` shows it.
"""
from __future__ import annotations


class UserError(Exception):
    """A one-line problem with a fix, shown without a traceback."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return self.message


def notice(message: str) -> None:
    """Tell the user, on one line of stderr, what was done to their input (a conversion, a resample)."""
    import sys

    print(f"hallucinator: note: {message}", file=sys.stderr, flush=True)
