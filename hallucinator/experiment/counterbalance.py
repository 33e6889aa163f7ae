"""Condition orders assigned offline and deterministically from the participant number.

Schemes:

* ``"latin"`` (alias ``"williams"``): a Williams design, the balanced Latin
  square: every condition appears once in every position across the rows, and
  (for an even number of conditions) every condition follows every other
  exactly once.  ``k`` rows for even ``k``, ``2k`` rows for odd ``k``.
* ``"full"``: all ``k!`` permutations in lexicographic order.
* ``"fixed"``: the order as written, for everyone.

Participant number ``n`` (1-based) gets row ``(n - 1) mod rows``.  Any
multiple of ``rows`` participants is therefore exactly balanced by position.
"""
from __future__ import annotations

import itertools
from typing import List, Sequence

SCHEMES = ("latin", "williams", "full", "fixed")


def williams_rows(k: int) -> List[List[int]]:
    """Rows of a Williams (balanced Latin) square on ``k`` conditions, as index lists."""
    if k < 1:
        raise ValueError("need at least one condition")
    first = [0]
    lo, hi = 1, k - 1
    take_lo = True
    while len(first) < k:
        if take_lo:
            first.append(lo)
            lo += 1
        else:
            first.append(hi)
            hi -= 1
        take_lo = not take_lo
    rows = [[(c + r) % k for c in first] for r in range(k)]
    if k % 2 == 1 and k > 1:
        rows += [list(reversed(row)) for row in rows]
    return rows


def order_rows(conditions: Sequence[str], scheme: str = "latin") -> List[List[str]]:
    """All rows (orders) of the scheme, in the order participants are assigned to them."""
    conditions = list(conditions)
    if scheme in ("latin", "williams"):
        return [[conditions[i] for i in row] for row in williams_rows(len(conditions))]
    if scheme == "full":
        return [list(p) for p in itertools.permutations(conditions)]
    if scheme == "fixed":
        return [conditions]
    raise ValueError(f"unknown counterbalancing scheme {scheme!r}; use one of {', '.join(SCHEMES)}")


def order_for(participant_number: int, conditions: Sequence[str], scheme: str = "latin"):
    """``(row_index, order)`` for a participant number (1-based)."""
    if participant_number < 1:
        raise ValueError("participant numbers start at 1")
    rows = order_rows(conditions, scheme)
    index = (participant_number - 1) % len(rows)
    return index, rows[index]


def position_counts(orders: Sequence[Sequence[str]]):
    """``{condition: [count at position 0, count at position 1, ...]}`` over a list of orders."""
    counts = {}
    for order in orders:
        for pos, cond in enumerate(order):
            counts.setdefault(cond, [0] * len(order))[pos] += 1
    return counts


def carryover_counts(orders: Sequence[Sequence[str]]):
    """``{(a, b): times b directly followed a}`` over a list of orders."""
    counts = {}
    for order in orders:
        for a, b in zip(order, order[1:]):
            counts[(a, b)] = counts.get((a, b), 0) + 1
    return counts
