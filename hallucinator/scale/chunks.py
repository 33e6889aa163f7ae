"""The chunk plan: which frames each chunk dreams, which it keeps, and how boundaries are faded.

A chunk keeps frames ``[start, stop)``.  Chunks start at the run's first frame, at every scene cut
(a frame the chain would start afresh anyway: most of it occluded from the previous one) and every
``chunk_frames`` frames after the last start.  A chunk that does not start at a cut dreams from
``warm_start = start - overlap`` (never before the previous chunk's start): its chain starts cold
there, and its first ``start - warm_start`` frames are the warm-up.

The dream does not forget how its chain began (two chains of the same frames begun at different
frames stay apart by about 10 of 255 levels, however long they run: docs/scale-out.md), so dropping
the warm-up leaves a jump at every boundary.  With ``fade`` the warm-up frames are cross-faded in
over the previous chunk's last frames instead: frame ``warm_start + j`` of a warm-up of ``K`` frames
takes :func:`fade_weight` ``((j + 1) / (K + 1))`` of the new chunk's dream.

The plan depends only on the range, the cuts, ``chunk_frames`` and ``overlap``, never on the workers;
each chunk's frames are cached under the key of a chain starting at its ``warm_start``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Dict, List, Sequence, Tuple


@dataclass(frozen=True)
class Chunk:
    """One chunk: dreamed from ``warm_start``, kept from ``start`` to ``stop`` (excluded)."""

    index: int
    warm_start: int
    start: int
    stop: int
    cut: bool = False          # starts at a scene cut (no warm-up)

    @property
    def warm_up(self) -> int:
        return self.start - self.warm_start

    @property
    def dreamed(self) -> int:
        return self.stop - self.warm_start

    def to_dict(self) -> dict:
        return asdict(self)


def plan_chunks(start: int, stop: int, cuts: Sequence[int], chunk_frames: int, overlap: int) -> List[Chunk]:
    """Chunks covering ``[start, stop)``: new ones at each cut and every ``chunk_frames`` frames."""
    if stop <= start:
        return []
    cut_set = {c for c in cuts if start < c < stop}
    starts, s = [start], start
    for f in range(start + 1, stop):
        if f in cut_set or f - s >= chunk_frames:
            starts.append(f)
            s = f
    chunks = []
    for k, s in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else stop
        cut = s in cut_set
        warm = s if (k == 0 or cut) else max(s - overlap, starts[k - 1])
        chunks.append(Chunk(index=k, warm_start=warm, start=s, stop=end, cut=cut))
    return chunks


EASE = 0.25     # share of smoothstep in the fade's ramp (the rest is linear)


def fade_weight(x: float) -> float:
    """The new chunk's share at fraction ``x`` of the fade: mostly linear, eased at the ends.

    Measured on the battle clip (two boundaries, K = 6), the worst step of the fade: linear 1.23 and
    1.20 times the median step inside chunks, smoothstep 1.25 and 1.26, this ramp 1.17 and 1.15.
    """
    return (1.0 - EASE) * x + EASE * x * x * (3.0 - 2.0 * x)


def contributions(chunks: Sequence[Chunk], fade: bool) -> Dict[int, List[Tuple[int, float]]]:
    """For each output frame, the chunks whose dreams make it and their weights (summing to 1)."""
    out: Dict[int, List[Tuple[int, float]]] = {}
    for c in chunks:
        for f in range(c.start, c.stop):
            out[f] = [(c.index, 1.0)]
    if fade:
        for c in chunks:
            k = c.warm_up
            for j in range(k):
                w = fade_weight((j + 1) / (k + 1))
                f = c.warm_start + j
                owner = out[f][0][0]
                out[f] = [(owner, 1.0 - w), (c.index, w)]
    return out


def cuts_from_occlusion(occluded: Dict[int, float], reset_fraction: float) -> List[int]:
    """Frames more than ``reset_fraction`` occluded from their previous frame (where a chain starts afresh)."""
    return sorted(i for i, f in occluded.items() if f > reset_fraction)
