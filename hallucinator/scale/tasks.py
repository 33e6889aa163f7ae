"""One chunk dreamed in a worker process: its frames read (or received), dreamed as one chain, cached.

:func:`run_chunk` is a plain function (Ray runs it as a task, :mod:`.raybridge`; tests may call it
directly).  The engine is loaded once per worker process and kept for its later chunks.  A chunk's
frames depend only on its :class:`~.chunks.Chunk`, the configuration and the options (the seed of
frame ``i`` is the config's seed + ``i``), never on which worker runs it or when.
"""
from __future__ import annotations

import os
import socket
import tempfile
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from ..errors import UserError
from ..threads import set_threads
from ..video.cache import Cache, source_sha256
from ..video.layout import Layout
from ..video.options import VideoOptions
from .chunks import Chunk

Sources = List[Tuple[int, List[np.ndarray]]]     # (frame index, working frame per eye)

_ENGINES: Dict[str, object] = {}                  # this worker process's loaded engines, by configuration


@dataclass
class ChunkJob:
    """Everything a worker needs to dream one chunk (crosses the process boundary, pickled)."""

    chunk: Chunk
    cfg: object                  # DreamConfig
    opts: VideoOptions           # cache_dir: the shared cache, or None (the worker's own) when shipping
    input: str
    sha: str
    layout: Layout
    threads: int = 0             # torch threads in the worker (0: torch's default)
    ship: bool = False           # sources arrive with the job and dreams go back with the result


@dataclass
class ChunkResult:
    """What a worker did with a chunk; ``dreams`` (per frame, per eye) only when frames are shipped."""

    chunk: int
    frames_key: str
    dreamed: int
    from_cache: int
    seconds: float
    cpu_seconds: float           # this worker process's CPU time on the chunk (all its threads)
    pid: int
    node: str
    timings: Dict[str, float] = field(default_factory=dict)
    dreams: Optional[Dict[int, List[np.ndarray]]] = None


def worker_cache_dir() -> str:
    """Where a worker caches pyramids, flows and frames when frames are shipped: this node's temporary folder."""
    return os.path.join(tempfile.gettempdir(), "hallucinator-chunks")


def _engine(cfg):
    """The cold engine for ``cfg``, loaded once per process."""
    key = repr(cfg.to_dict())
    if key not in _ENGINES:
        from ..engine import Dreamer

        _ENGINES[key] = Dreamer(cfg)
    return _ENGINES[key]


def _read_sources(job: ChunkJob, cache: Cache) -> Sources:
    """The chunk's working frames, decoded here from the input (which must be this file on this node)."""
    from ..io.reader import VideoReader

    where = f"node {socket.gethostname()}"
    if not os.access(job.input, os.R_OK):
        raise UserError(f"input {job.input} is not readable on {where}; put the input and --cache-dir on a "
                        "filesystem every node shares, or use --ship-frames")
    if source_sha256(job.input, cache) != job.sha:
        raise UserError(f"input {job.input} on {where} is not the file the run started with; "
                        "give every node the same file, or use --ship-frames")
    c = job.chunk
    with VideoReader(job.input) as reader:
        return [(f.index, job.layout.split(f.image)) for f in reader.frames(c.warm_start, c.stop)]


def run_chunk(job: ChunkJob, sources: Optional[Sources] = None,
              report: Optional[Callable[[int], None]] = None) -> ChunkResult:
    """Dream ``job.chunk`` (warm-up and kept frames) into the cache; ``report(frames done)`` as it goes."""
    from ..video.run import VideoDreamer

    t0, c0 = time.perf_counter(), time.process_time()
    if job.threads:
        set_threads(job.threads)
    opts = replace(job.opts, progress=False, cache_dir=job.opts.cache_dir or worker_cache_dir())
    vd = VideoDreamer(job.cfg, opts, dreamer=_engine(job.cfg))
    if sources is None:
        sources = _read_sources(job, vd.cache)
    keys = vd.keys(job.input, job.sha, job.layout, job.chunk.warm_start)
    dreams: Optional[Dict[int, List[np.ndarray]]] = {} if job.ship else None
    done = [0]

    def on_frame(index: int, frame_dreams: List[np.ndarray], from_cache: bool) -> None:
        done[0] += 1
        if dreams is not None:
            dreams[index] = frame_dreams
        if report is not None:
            report(done[0])

    r = vd.dream_range(keys, job.layout.eyes, sources, on_frame)
    return ChunkResult(chunk=job.chunk.index, frames_key=keys.frames, dreamed=r.dreamed, from_cache=r.from_cache,
                       seconds=time.perf_counter() - t0, cpu_seconds=time.process_time() - c0, pid=os.getpid(),
                       node=socket.gethostname(), timings=dict(vd.timer.t), dreams=dreams)


def warm_worker(cfg, threads: int) -> int:
    """Load the engine in this worker process (before a timed run); returns its pid."""
    if threads:
        set_threads(threads)
    _engine(cfg)
    time.sleep(0.5)      # keep this worker busy while the others are warmed, so each gets one
    return os.getpid()
