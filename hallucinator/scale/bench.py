"""``hallucinator bench video --ray-workers 1,2``: one clip dreamed in the same chunks by 1, 2 ... workers.

Ray is started once, with a CPU per worker thread, and each worker process loads the engine before
anything is timed (so the figures compare dreaming, not process start-up; Ray's own start is printed
apart).  ``--overlap-frames 0,2,6`` repeats it for each overlap.  Each worker count gets a fresh
cache.  Printed: seconds per worker count (and the chunks' CPU time), the speed-up over the first,
whether the frames are identical, audio and 360° metadata in the output, and the continuity figure
(:mod:`.continuity`).
"""
from __future__ import annotations

import os
import time
from typing import Any, Dict, List

import numpy as np

from ..errors import UserError
from ..io.probe import probe
from ..io.writer import read_png_sequence
from ..video.options import VideoOptions, blend_preset, parse_frames
from ..config import parse_size
from .options import LOCAL, ScaleOptions


def parse_counts(text: str, option: str, least: int) -> List[int]:
    """``"1,2"`` -> ``[1, 2]``; one line naming ``option`` when it is not a list of whole numbers >= least."""
    try:
        counts = [int(t) for t in str(text).split(",") if t.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < least:
        raise UserError(f"{option} {text!r} must be whole numbers of at least {least}, e.g. 1,2")
    return counts


def bench_scale(src: str, cfg, args, tmp: str) -> Dict[str, Any]:
    """Dream ``src`` per overlap in ``args.overlap_frames`` and worker count in ``args.ray_workers``."""
    from .raybridge import ray_session
    from .tasks import warm_worker

    counts = parse_counts(args.ray_workers, "--ray-workers", 1)
    overlaps = parse_counts(args.overlap_frames, "--overlap-frames", 0)
    threads = args.threads or 1
    report: Dict[str, Any] = {"chunk_frames": args.chunk_frames, "overlaps": {}}
    t0 = time.perf_counter()
    with ray_session(LOCAL, max(counts) * threads) as ray:
        warm = ray.remote(warm_worker).options(num_cpus=threads)
        ray.get([warm.remote(cfg, threads) for _ in range(max(counts))])
        print(f"Ray started and {max(counts)} workers loaded the engine in {time.perf_counter() - t0:.1f} s")
        for k in overlaps:
            report["overlaps"][k] = _bench_overlap(src, cfg, args, tmp, counts, k, threads)
    return report


def _bench_overlap(src, cfg, args, tmp, counts: List[int], overlap: int, threads: int) -> Dict[str, Any]:
    from .driver import ScaledRun

    base = dict(frames=parse_frames(args.frames), size=parse_size(args.size), threads=threads,
                blend=blend_preset(args.blend), stereo=None, to_2to1=args.to_2to1)
    runs: Dict[int, Dict[str, Any]] = {}
    frames = {}
    for n in counts:
        name = f"k{overlap}-w{n}"
        opts = VideoOptions(**base, cache_dir=os.path.join(tmp, f"cache-{name}"), png_dir=os.path.join(tmp, name),
                            control=os.path.join(tmp, f"{name}-control.mp4"), progress=True)
        scale = ScaleOptions(ray=LOCAL, workers=n, chunk_frames=args.chunk_frames, overlap_frames=overlap)
        out = os.path.join(tmp, f"{name}.mp4")
        r = ScaledRun(cfg, opts, scale).run(src, out)
        frames[n] = read_png_sequence(opts.png_dir)
        info = probe(out)
        cont = r.quality.get("continuity", {})
        runs[n] = {"seconds": r.seconds, "audio": info.has_audio, "projection": info.projection,
                   "continuity": cont, "retries": r.scale["retries"], "chunks": r.scale["chunks"],
                   "strength": r.quality.get("strength")}
        cpu = sum(c.get("cpu_seconds", 0.0) for c in r.scale["chunks"])
        runs[n]["chunk_cpu_seconds"] = cpu
        print(f"overlap {overlap}, {n} worker{'s' if n > 1 else ''}: {r.seconds:.2f} s for {r.frames} frames in "
              f"{len(r.scale['chunks'])} chunks (their CPU time {cpu:.1f} s); "
              f"audio {'yes' if info.has_audio else 'no'}, 360 metadata {info.projection or 'none'}; "
              f"boundary jump x{cont.get('ratio_max', float('nan')):.3f} of the median inside chunks "
              "(target <= 1.25)")
    first = counts[0]
    for n in counts[1:]:
        same = len(frames[n]) == len(frames[first]) and all(np.array_equal(a, b)
                                                            for a, b in zip(frames[n], frames[first]))
        speed = runs[first]["seconds"] / runs[n]["seconds"]
        runs[n].update(speedup=speed, identical_frames=same)
        print(f"overlap {overlap}: speed-up {n} vs {first} worker{'s' if first > 1 else ''}: x{speed:.2f} "
              f"(target >= 1.5 for 2 vs 1); frames identical: {'yes' if same else 'NO'}")
    return runs
