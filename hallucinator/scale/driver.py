"""The driver of a scaled-out run: plan the chunks, run them on Ray, assemble the outputs in order.

1. The input is checked and planned as for an ordinary run (:class:`~hallucinator.video.run.VideoDreamer`).
2. One pass over the range makes the working frames and finds the scene cuts by the chain's rule (a
   frame more than half occluded from the previous one), measured on small copies (:func:`cut_measure`:
   the same few milliseconds a frame at any working size, so the driver keeps up with many workers);
   a :class:`~.chunks.ChunkPlanner` plans the chunks as the pass goes.  The workers compute the flows
   their chains need, in parallel, into the shared cache, where the figures find them.
3. Chunks become Ray tasks before the pass reaches them: the chunk the pass is in and as many after it
   as there are workers are sent as they will be if no cut comes first, so every worker starts at once.
   A cut found later ends the chunk it falls in sooner and moves the ones after it (their tasks are
   withdrawn and sent again).  Chunks whose frames are all in the cache are not run again (a rerun after
   the driver was killed resumes).
4. Frames are assembled in order as the workers cache them (shipped frames: as their chunks finish),
   from the working frames the pass made (kept up to :data:`KEEP_BYTES`, so each source frame is
   decoded and resized once), so the last chunk's frames are written while it is still dreaming: each
   from its chunk's cached dream, faded with the next chunk's warm-up where they overlap; written with audio,
   360° metadata and the matched control (:class:`~hallucinator.video.sink.Sink`); figures measured on
   the output.
5. One sidecar records the plan, the workers, retries, cache hits and per-chunk timings.
"""
from __future__ import annotations

import os
import sys
import time
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np

from ..io.reader import VideoReader
from ..provenance import write_sidecar
from ..student.resize import shrink
from ..video import flow as flowmod
from ..video.cache import CacheKeys, source_keys, source_sha256, write_error
from ..video.chain import ChainDreamer
from ..video.figures import clip_figures, frame_figures, pick_frames, sphere_figures
from ..video.flow import FlowParams
from ..video.options import VideoOptions
from ..video.run import RunResult, Source, VideoDreamer
from ..video.sink import Sink
from .chunks import Chunk, ChunkPlanner, contributions
from .continuity import boundary_figures
from .options import LOCAL, ScaleOptions
from .tasks import ChunkJob, ChunkResult, Sources

KEEP_BYTES = 512 * 2**20    # working frames the scan keeps for the assembly (beyond that, decoded and resized again)
CUT_SIZE = (128, 64)        # the scan looks for cuts on copies of the working frames at most this size
CUT_PRESET = "fast"         # and with this DIS preset


def cut_copy(frame: np.ndarray) -> np.ndarray:
    """The working frame shrunk to at most :data:`CUT_SIZE` for the scan's cut measure (an area average,
    :func:`~hallucinator.student.resize.shrink`: no pixel needs anything from across the seam)."""
    w = CUT_SIZE[0]
    if frame.shape[1] <= w:
        return frame
    return shrink(frame, w, max(1, round(frame.shape[0] * w / frame.shape[1])))


def cut_measure(prev: np.ndarray, cur: np.ndarray, params: FlowParams) -> float:
    """The fraction of ``cur`` that fails the chain's forward–backward check from ``prev`` (frames from
    :func:`cut_copy`; DIS flows at :data:`CUT_PRESET`): above :meth:`BlendParams.is_cut`'s bound, a new
    chunk starts there.

    Measured at 128×64 against the chain's own measure at 256×128 (DIS medium, its caps blended in): about
    2–4 against 45–51 ms a frame pair; a frame turned upside down 1.00 against 0.89, a frame of another clip
    1.00 against 0.95, a pan of a quarter turn between two frames 0.32 against 0.49; at most 0.002 on 48
    frames of each of the battle, tunnel, Congo and test-room clips (none has a cut), where the chain's
    measure reaches 0.05.  The chain inside a chunk still applies its own measure, so a frame the two
    judge differently starts a chain afresh inside a chunk rather than a new chunk.
    """
    fwd, bwd = flowmod.flow_pair(prev, cur, replace(params, dis_preset=CUT_PRESET))
    return float(flowmod.occlusion_mask(fwd, bwd).mean())


def default_workers(device: str, threads: int) -> int:
    """One per GPU when there are GPUs to use, else one per ``threads`` CPU cores."""
    if device != "cpu":
        import torch

        if torch.cuda.is_available():
            return torch.cuda.device_count()
    return max(1, (os.cpu_count() or 1) // max(1, threads))


class _Chunks:
    """The chunks of a run as they are planned: cached ones kept, the others sent to Ray as they come.

    Ray (and its progress bar) start at the first chunk that has frames to dream, so a rerun whose
    frames are all cached never starts it.  ``ready(k, frame)`` waits for one frame of chunk ``k``,
    ``finish()`` for every result; ``pump()`` keeps the workers fed without waiting.  Closing cancels
    what is still running and shuts a local Ray down.
    """

    def __init__(self, run: "ScaledRun", src: Source, input_path: str):
        self.run, self.src, self.input = run, src, input_path
        self.planner = ChunkPlanner(src.start, run.scale.chunk_frames, run.scale.overlap_frames)
        self.limit = src.stop or src.info.frames or None     # the range's end, as far as it is known yet
        self.chunks: List[Chunk] = []
        self.keys: Dict[int, CacheKeys] = {}          # by chunk index
        self._keys_at: Dict[int, CacheKeys] = {}      # by warm start: a chunk's keys depend on nothing else
        self.sent: Dict[int, Chunk] = {}          # by index: what each chunk's task was sent to dream
        self.withdrawn: List[Chunk] = []          # sent ahead of the scan, then moved by a cut
        self._running: Dict[int, Chunk] = {}      # sent to the workers, result not yet received
        self.dispatcher = None
        self.bar = None
        self.stack = ExitStack()

    def __enter__(self) -> "_Chunks":
        return self

    def __exit__(self, *exc) -> None:
        self.stack.close()

    def open(self) -> None:
        """Send the chunk the scan is in, and as many after it as there are workers, before the scan reaches
        them: each as it will be if no cut comes first.  A chunk's first frame decides its warm-up and
        cache key; a cut found later ends a chunk sooner (the frames its task dreams past the cut go
        unused) and moves the chunks after it (their tasks are withdrawn and sent again as they now are).
        A chunk with frames already in the cache (a rerun) waits for its final extent instead, so a rerun
        dreams nothing again."""
        for c in self.planner.ahead(self.run.workers, self.limit):
            if c.stop > c.start:
                self._offer(c, first_only=True)

    def add(self, chunks: List[Chunk]) -> None:
        """Chunks whose extent is final: kept, and sent unless already sent as they are or wholly cached."""
        for c in chunks:
            self.chunks.append(c)
            self._offer(c)

    def _offer(self, c: Chunk, first_only: bool = False) -> None:
        sent = self.sent.get(c.index)
        if sent is not None and (sent.warm_start, sent.start) == (c.warm_start, c.start) and sent.stop >= c.stop:
            return                                  # sent as it is (or longer)
        if sent is not None:    # sent ahead, and a cut has moved it since (or the clip ran past its stated end)
            self.dispatcher.withdraw(c.index)
            del self.sent[c.index]
            self._running.pop(c.index, None)
            self.withdrawn.append(sent)
        if not self.run._cached(c, self._keys(c), self.src.layout.eyes, first_only=first_only):
            self._send(c)

    def _keys(self, c: Chunk) -> CacheKeys:
        if c.warm_start not in self._keys_at:
            self._keys_at[c.warm_start] = self.run.vd.keys(self.input, self.src.sha, self.src.layout, c.warm_start)
        self.keys[c.index] = self._keys_at[c.warm_start]
        return self.keys[c.index]

    def _send(self, c: Chunk) -> None:
        r = self.run
        self._dispatcher().submit(self._job(c), (lambda c=c: r._sources(self.src, c)) if r.scale.ship_frames
                                  else None)
        self.sent[c.index] = self._running[c.index] = c
        self.bar.total = sum(t.dreamed for t in self.sent.values())
        self.bar.refresh()

    def ready(self, k: int, frame: int) -> None:
        """Wait until ``frame`` of chunk ``k`` is in the cache: as soon as the worker has cached it, or (frames
        shipped back) when the chunk has finished."""
        if k not in self._running:
            return
        if self.run.scale.ship_frames:
            self._finish(k)
        else:
            keys, eyes = self.keys[k], self.src.layout.eyes
            self.dispatcher.wait_for_frames(k, lambda: self.run._frame_cached(keys, frame, eyes))

    def finish(self) -> None:
        """Every chunk's result in (their timings, their shipped frames in the cache)."""
        for k in list(self._running):
            self._finish(k)

    def _finish(self, k: int) -> None:
        self.run._receive(self.dispatcher.wait_for(k), self.keys[k])
        del self._running[k]

    def pump(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.pump()

    def info(self) -> Dict[str, Any]:
        if self.dispatcher is None:
            return {"retries": {}}
        return {"retries": self.dispatcher.retries(), "results": self.dispatcher.results}

    def _job(self, c: Chunk) -> ChunkJob:
        r = self.run
        ship = r.scale.ship_frames
        opts = replace(r.opts, cache_dir=None if ship else str(r.vd.cache.root.resolve()), progress=False)
        return ChunkJob(c, r.cfg, opts, os.path.abspath(self.src.path), self.src.sha, self.src.layout, r.threads,
                        ship)

    def _dispatcher(self):
        if self.dispatcher is None:
            from tqdm import tqdm

            from .raybridge import Dispatcher, ray_session, task_resources

            r = self.run
            ray = self.stack.enter_context(ray_session(r.scale.ray or LOCAL, r.workers * r.threads))
            self.bar = self.stack.enter_context(tqdm(
                total=0, unit="frame", desc=f"dreaming ({r.workers} workers)", file=sys.stderr,
                disable=not r.opts.progress, dynamic_ncols=True))
            resources = task_resources(r.cfg.device, r.threads, ray.cluster_resources())
            self.dispatcher = Dispatcher(ray, r.workers, r.scale.retries, resources, self._show)
            self.stack.callback(self.dispatcher.cancel)
        return self.dispatcher

    def _show(self, done: Dict[int, int]) -> None:
        self.bar.n = min(self.bar.total, sum(done.values()))
        self.bar.refresh()


class _KeptFrames:
    """Working frames (per eye) the scan made, with their timestamps, kept by frame index until the assembly
    takes them, up to a budget in bytes; a frame not kept is simply made again from the decoded frame."""

    def __init__(self, budget: Optional[int] = None):
        self.budget, self.used = KEEP_BYTES if budget is None else budget, 0
        self.frames: Dict[int, Tuple[Any, List[np.ndarray]]] = {}
        self.dropped = False          # some frame went over the budget (the assembly decodes the input again)

    def keep(self, index: int, pts, eyes: List[np.ndarray]) -> None:
        size = sum(e.nbytes for e in eyes)
        if self.used + size <= self.budget:
            self.frames[index] = (pts, eyes)
            self.used += size
        else:
            self.dropped = True

    def take(self, index: int, make: Callable[[], List[np.ndarray]]) -> List[np.ndarray]:
        """The kept frame's eyes (no longer kept), else ``make()``."""
        return self.pop(index)[1] if index in self.frames else make()

    def pop(self, index: int) -> Tuple[Any, List[np.ndarray]]:
        """(timestamp, eyes) of a kept frame, no longer kept."""
        pts, eyes = self.frames.pop(index)
        self.used -= sum(e.nbytes for e in eyes)
        return pts, eyes


class ScaledRun:
    """A video dreamed in chunks on Ray; ``ScaledRun(cfg, opts, scale).run(input, output)``."""

    def __init__(self, cfg, opts: VideoOptions, scale: ScaleOptions):
        self.cfg, self.opts, self.scale = cfg, opts, scale.validate()
        self.vd = VideoDreamer(cfg, opts)
        self.threads = int(opts.threads) or 1             # per worker
        self.workers = scale.workers or default_workers(cfg.device, self.threads)

    def run(self, input_path, output=None) -> RunResult:
        from .raybridge import import_ray

        t_start, c_start = time.perf_counter(), time.process_time()
        self.kept = _KeptFrames()             # this run's working frames, from the scan to the writing
        input_path = str(input_path)
        import_ray()                          # say how to get Ray before anything else
        self.vd.check_outputs(input_path, output)
        with VideoReader(input_path) as reader:
            src = self.vd.plan(input_path, reader)
        src.sha = source_sha256(input_path, self.vd.cache)
        with _Chunks(self, src, input_path) as work:
            # chunks are sent ahead of the scan (as they will be if no cut comes) and corrected at cuts
            stop = src.start
            work.open()
            for index, occluded in self._scan(src):
                stop = index + 1
                if occluded is not None:
                    work.add(work.planner.feed(index, self.opts.blend.is_cut(occluded)))
                    work.open()
                work.pump()
            work.add(work.planner.finish(stop))
            src.keys = work.keys[0]
            result = self._assemble(src, work.chunks, work.keys, output, work.ready, work.pump)
            work.finish()
            info = work.info()
        result.seconds = time.perf_counter() - t_start
        result.timings = dict(self.vd.timer.t, total=result.seconds, fps=result.frames / max(result.seconds, 1e-9))
        result.scale = self._scale_record(work.chunks, work.sent, work.withdrawn, info, result)
        result.scale["driver_cpu_seconds"] = time.process_time() - c_start     # competes with local workers
        if output or self.opts.png_dir:
            result.sidecar = str(output or Path(self.opts.png_dir)) + ".json"
            record = dict(self.vd.sidecar(src, result), kind="video-scaled", scale=result.scale)
            try:
                write_sidecar(result.sidecar, record)
            except OSError as exc:
                raise write_error(exc, result.sidecar, "or choose another output folder") from None
        return result

    # -- plan

    def _scan(self, src: Source) -> Iterator[Tuple[int, Optional[float]]]:
        """(frame index, its occluded fraction from the previous frame; None for the first), frame by frame.

        The fraction is the chain's cut measure (the forward–backward check of the frame's flow) taken on a
        copy of the working frame at most :data:`CUT_SIZE` (:func:`cut_measure`), so the driver's pass costs
        the same at any working size; the workers compute the flows the chain needs, in parallel.
        """
        prev = None
        with VideoReader(src.path) as reader:
            for frame in reader.frames(src.start, src.stop):
                cur = src.layout.split(frame.image)
                self.kept.keep(frame.index, frame.pts, cur)
                small = [cut_copy(e) for e in cur]
                occluded = None
                if prev is not None:
                    occluded = max(cut_measure(p, c, self.opts.blend.flow) for p, c in zip(prev, small))
                prev = small
                yield frame.index, occluded

    def _flow_keys(self, src: Source) -> CacheKeys:
        """The keys under which the workers cache the flows, for the figures (no engine is needed to name them)."""
        base, flow = source_keys(src.sha, src.layout.key(), self.opts.blend)
        return CacheKeys(base=base, pyramid="", flow=flow, frames="", independent_frames="")

    def _cached(self, chunk: Chunk, keys: CacheKeys, eyes: int, first_only: bool = False) -> bool:
        """Every frame the chunk dreams is in the cache (``first_only``: its first frame is)."""
        stop = chunk.warm_start + 1 if first_only else chunk.stop
        return all(self._frame_cached(keys, i, eyes) for i in range(chunk.warm_start, stop))

    def _frame_cached(self, keys: CacheKeys, index: int, eyes: int) -> bool:
        return all(self.vd.cache.path(keys.frames, f"eye{e}", f"{index:06d}.png").is_file() for e in range(eyes))

    # -- run

    def _sources(self, src: Source, chunk: Chunk) -> Sources:
        with VideoReader(src.path) as reader:
            return [(f.index, src.layout.split(f.image)) for f in reader.frames(chunk.warm_start, chunk.stop)]

    def _receive(self, r: ChunkResult, keys: CacheKeys) -> ChunkResult:
        """A finished chunk; shipped dreams go into this machine's cache (so a rerun finds them)."""
        if r.frames_key != keys.frames:
            raise RuntimeError(f"chunk {r.chunk} was dreamed under key {r.frames_key}, expected {keys.frames} "
                               "(different package or model versions on the workers?)")
        for index, dreams in (r.dreams or {}).items():
            for e, dream in enumerate(dreams):
                self.vd.cache.save_png(self.vd.cache.path(keys.frames, f"eye{e}", f"{index:06d}.png"), dream)
        r.dreams = None
        return r

    # -- assemble

    def _assemble(self, src: Source, chunks: List[Chunk], keys, output, ready: Callable[[int, int], None],
                  between: Callable[[], None] = lambda: None) -> RunResult:
        """Write every frame in order; ``ready(chunk, frame)`` waits until that frame of that chunk is in the
        cache, ``between()`` runs after each frame (to keep the workers fed)."""
        o, layout, cache = self.opts, src.layout, self.vd.cache
        parts = contributions(chunks, self.scale.fade)
        chainer = ChainDreamer(self.cfg, o, cache, self._flow_keys(src), self.vd.engines, self.vd.timer)
        figures: List[list] = [[] for _ in range(layout.eyes)]
        cold = {c.start for c in chunks if c.cut or c.index == 0}     # the output starts afresh here
        picks = set(pick_frames(list(range(src.start, chunks[-1].stop)), o.quality_frames))
        pairs, prev, n = [], None, 0
        audio_from = src.path if (o.audio and src.info.has_audio) else None
        with Sink(output, o, src.info, layout, audio_from, src.start, self.vd.timer, self.vd.warnings) as sink:
            for i, pts, sources in self._working_frames(src, chunks[-1].stop):
                for k, _ in parts[i]:
                    ready(k, i)
                dreams = [self._blend(keys, parts[i], e, i, sources[e].shape) for e in range(layout.eyes)]
                for e in range(layout.eyes):
                    bwd = occ = None
                    if prev is not None:
                        fwd, bwd = chainer.flows(e, i, prev[0][e], sources[e])
                        occ = flowmod.occlusion_mask(fwd, bwd)
                    p_src, p_dream = (prev[0][e], prev[1][e]) if prev else (None, None)
                    figures[e].append(frame_figures(i, dreams[e], sources[e], p_src, p_dream, bwd, occ,
                                                    cold=i in cold))
                    if i in picks:
                        pairs.append((i, e, sources[e], dreams[e]))
                sink.write(i, pts, layout.join(dreams), layout.join(sources))
                prev, n = (sources, dreams), n + 1
                between()
        quality = clip_figures(figures)
        quality.update(sphere_figures(pairs, self.vd.warnings))
        quality["continuity"] = boundary_figures(figures, chunks, self.scale.fade, sorted(cold))
        return RunResult(output=str(output) if output else None, control=o.control, png_dir=o.png_dir, frames=n,
                         dreamed=0, from_cache=0, figures=figures, quality=quality, frame_key=keys[0].frames,
                         dream_frames_dir=str(cache.path(keys[0].frames)))

    def _working_frames(self, src: Source, stop: int) -> Iterator[Tuple[int, Any, List[np.ndarray]]]:
        """(index, timestamp, working frame per eye) in order: the scan's kept frames when it kept them all,
        else the input decoded again (and a frame resized again where the scan did not keep it)."""
        if not self.kept.dropped:
            for i in sorted(f for f in self.kept.frames if f < stop):
                yield (i, *self.kept.pop(i))
            return
        with VideoReader(src.path) as reader:
            for frame in reader.frames(src.start, stop):
                yield frame.index, frame.pts, self.kept.take(frame.index, lambda: src.layout.split(frame.image))

    def _blend(self, keys, parts, eye: int, index: int, shape) -> np.ndarray:
        """Frame ``index`` of one eye: its chunk's dream, or the weighted mix of two chunks' in a fade."""
        imgs = []
        for k, _ in parts:
            img = self.vd.cache.load_png(self.vd.cache.path(keys[k].frames, f"eye{eye}", f"{index:06d}.png"), shape)
            if img is None:
                raise RuntimeError(f"frame {index} of chunk {k} is missing from the cache after the chunk finished")
            imgs.append(img)
        if len(imgs) == 1:
            return imgs[0]
        mix = sum(w * img.astype(np.float32) for (_, w), img in zip(parts, imgs))
        return np.clip(np.rint(mix), 0, 255).astype(np.uint8)

    # -- record

    def _scale_record(self, chunks: List[Chunk], sent: Dict[int, Chunk], withdrawn: List[Chunk], info,
                      result: RunResult) -> Dict[str, Any]:
        results: Dict[int, ChunkResult] = info.get("results", {})
        rows = []
        for c in chunks:
            r = results.get(c.index)
            longer = c.index in sent and sent[c.index].stop != c.stop      # sent before a cut ended it sooner
            rows.append(dict(c.to_dict(), skipped_cached=c.index not in sent,
                             **({"sent_stop": sent[c.index].stop} if longer else {}),
                             **({"seconds": r.seconds, "cpu_seconds": r.cpu_seconds, "dreamed": r.dreamed,
                                 "from_cache": r.from_cache,
                                 "pid": r.pid, "node": r.node} if r else {})))
        result.dreamed = sum(r.dreamed for r in results.values())
        result.from_cache = sum(r.from_cache for r in results.values()) + \
            sum(c.dreamed for c in chunks if c.index not in sent)
        return {"options": self.scale.to_dict(), "ray": self.scale.ray, "workers": self.workers,
                "threads_per_worker": self.threads, "frames_shipped": self.scale.ship_frames,
                "chunks": rows, "chunks_run": len(sent), "chunks_cached": len(chunks) - len(sent),
                "chunks_withdrawn": [c.to_dict() for c in withdrawn],
                "retries": info.get("retries", {}), "frames_dreamed": result.dreamed,
                "frames_from_cache": result.from_cache,
                "seeds": "config seed + source frame index; each chunk's chain starts cold at its warm_start"}
