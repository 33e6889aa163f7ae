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
from typing import Dict, List, Optional, Sequence, Tuple


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


class ChunkPlanner:
    """The plan made while the frames are scanned: each chunk is final as soon as the next one begins.

    ``feed(index, cut)`` for every frame after the first, in order, gives the chunks that frame closes;
    ``finish(stop)`` gives the last one; ``opened()`` is the chunk being scanned, at its longest, and
    ``ahead(n)`` adds the chunks after it as they will be if no cut comes.  The chunks are those of
    :func:`plan_chunks`, so a run can start dreaming its first chunks while the rest of the clip is
    still being scanned for cuts.
    """

    def __init__(self, start: int, chunk_frames: int, overlap: int):
        self.chunk_frames, self.overlap = chunk_frames, overlap
        self.starts: List[Tuple[int, bool]] = [(start, False)]     # (first kept frame, starts at a cut)
        self.made = 0

    def feed(self, index: int, cut: bool) -> List[Chunk]:
        s = self.starts[-1][0]
        if index <= s:
            raise ValueError(f"frame {index} fed after frame {s}")
        if cut or index - s >= self.chunk_frames:
            self.starts.append((index, cut))
            return [self._chunk(len(self.starts) - 2, index)]
        return []

    def finish(self, stop: int) -> List[Chunk]:
        """The last chunk, ending at ``stop`` (nothing when the range is empty or already finished)."""
        k = len(self.starts) - 1
        if self.made > k or stop <= self.starts[k][0]:
            return []
        return [self._chunk(k, stop)]

    def opened(self, limit: Optional[int] = None) -> Chunk:
        """The chunk the scan is in, as it will be unless a cut ends it sooner: ``chunk_frames`` frames from
        its start (at most to ``limit``, the range's end when known).  Its first frame, warm-up and cache
        key are already final, so it can be dreamed before the scan reaches its end."""
        return self.ahead(1, limit)[0]

    def ahead(self, n: int, limit: Optional[int] = None) -> List[Chunk]:
        """The chunk the scan is in (:meth:`opened`) and the ``n - 1`` after it as they will be if no cut
        comes first: each ``chunk_frames`` frames after the last, with its warm-up; none begins at or past
        ``limit``."""
        k, s = len(self.starts) - 1, self.starts[-1][0]
        starts = self.starts + [(s + j * self.chunk_frames, False) for j in range(1, n)]
        out = []
        for j in range(k, k + n):
            stop = starts[j][0] + self.chunk_frames
            stop = stop if limit is None else min(stop, limit)
            if j > k and stop <= starts[j][0]:
                break
            out.append(self._make(j, stop, starts))
        return out

    def _chunk(self, k: int, stop: int) -> Chunk:
        self.made = k + 1
        return self._make(k, stop)

    def _make(self, k: int, stop: int, starts: Optional[List[Tuple[int, bool]]] = None) -> Chunk:
        starts = starts or self.starts
        s, cut = starts[k]
        warm = s if (k == 0 or cut) else max(s - self.overlap, starts[k - 1][0])
        return Chunk(index=k, warm_start=warm, start=s, stop=stop, cut=cut)


def plan_chunks(start: int, stop: int, cuts: Sequence[int], chunk_frames: int, overlap: int) -> List[Chunk]:
    """Chunks covering ``[start, stop)``: new ones at each cut and every ``chunk_frames`` frames."""
    if stop <= start:
        return []
    cut_set = set(cuts)
    planner = ChunkPlanner(start, chunk_frames, overlap)
    chunks = [c for f in range(start + 1, stop) for c in planner.feed(f, f in cut_set)]
    return chunks + planner.finish(stop)


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
