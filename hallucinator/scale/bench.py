"""``hallucinator bench video --ray-workers 1,2``: one clip dreamed in the same chunks by 1, 2 ... workers.

Ray is started once, with a CPU per worker thread, and each worker process loads the engine before
anything is timed, and the driver makes one untimed two-frame run (so the figures compare dreaming,
not process start-up; Ray's own start is printed apart).  ``--overlap-frames 0,2,6`` repeats it for
each overlap.  Each run gets a fresh cache, and the worker counts take turns ``--repeat`` times
(default 3), as ``bench dream`` interleaves its runs.
Printed: seconds per run (and the CPU time of the chunks and of the driver, which shares the cores with
local workers), the speed-up over the first count (the median of
the rounds' ratios, each round's too), whether the frames are identical, audio and 360° metadata in
the output, and the continuity figure (:mod:`.continuity`).
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
    """Each worker count ``repeat`` times, interleaved (1, 2, 1, 2, ...), each run with a fresh cache; the
    speed-up is the median over the rounds of the first count's time over the other's in the same round."""
    from .driver import ScaledRun

    base = dict(frames=parse_frames(args.frames), size=parse_size(args.size), threads=threads,
                blend=blend_preset(args.blend), stereo=None, to_2to1=args.to_2to1)
    repeat = max(1, int(getattr(args, "repeat", 1) or 1))
    _warm_up(src, cfg, base, tmp, args, overlap, max(counts))
    runs: Dict[int, Dict[str, Any]] = {
        n: {"seconds_runs": [], "chunk_cpu_seconds_runs": [], "driver_cpu_seconds_runs": []} for n in counts}
    frames: Dict[int, list] = {}
    same = {n: True for n in counts}
    for k in range(repeat):
        for n in counts:
            name = f"k{overlap}-w{n}-r{k}"
            opts = VideoOptions(**base, cache_dir=os.path.join(tmp, f"cache-{name}"), png_dir=os.path.join(tmp, name),
                                control=os.path.join(tmp, f"{name}-control.mp4"), progress=True)
            scale = ScaleOptions(ray=LOCAL, workers=n, chunk_frames=args.chunk_frames, overlap_frames=overlap)
            out = os.path.join(tmp, f"{name}.mp4")
            r = ScaledRun(cfg, opts, scale).run(src, out)
            got = read_png_sequence(opts.png_dir)
            ref = frames.setdefault(counts[0], got)
            same[n] = same[n] and len(got) == len(ref) and all(np.array_equal(a, b) for a, b in zip(got, ref))
            info = probe(out)
            cont = r.quality.get("continuity", {})
            cpu = sum(c.get("cpu_seconds", 0.0) for c in r.scale["chunks"])
            runs[n]["seconds_runs"].append(r.seconds)
            runs[n]["chunk_cpu_seconds_runs"].append(cpu)
            runs[n]["driver_cpu_seconds_runs"].append(r.scale["driver_cpu_seconds"])
            runs[n].update(audio=info.has_audio, projection=info.projection, continuity=cont,
                           retries=r.scale["retries"], chunks=r.scale["chunks"], strength=r.quality.get("strength"))
            print(f"overlap {overlap}, {n} worker{'s' if n > 1 else ''} (run {k + 1} of {repeat}): {r.seconds:.2f} s "
                  f"for {r.frames} frames in {len(r.scale['chunks'])} chunks (their CPU time {cpu:.1f} s, the "
                  f"driver's {r.scale['driver_cpu_seconds']:.1f} s); "
                  f"audio {'yes' if info.has_audio else 'no'}, 360 metadata {info.projection or 'none'}; "
                  f"boundary jump x{cont.get('ratio_max', float('nan')):.3f} of the median inside chunks "
                  "(target <= 1.25)")
    for n in counts:
        runs[n]["seconds"] = float(np.median(runs[n]["seconds_runs"]))
        runs[n]["chunk_cpu_seconds"] = float(np.median(runs[n]["chunk_cpu_seconds_runs"]))
    first = counts[0]
    for n in counts[1:]:
        ratios = [a / b for a, b in zip(runs[first]["seconds_runs"], runs[n]["seconds_runs"])]
        speed = float(np.median(ratios))
        runs[n].update(speedup=speed, speedups=ratios, identical_frames=same[n])
        print(f"overlap {overlap}: speed-up {n} vs {first} worker{'s' if first > 1 else ''}: x{speed:.2f}, the median "
              f"of {', '.join(f'x{v:.2f}' for v in ratios)} (target >= 1.5 for 2 vs 1); "
              f"frames identical: {'yes' if same[n] else 'NO'}")
    return runs


def _warm_up(src, cfg, base, tmp, args, overlap: int, workers: int) -> None:
    """One untimed run of the clip's first two frames, so what a driver does once per process (imports,
    Ray exporting the task, the first progress actor) is not counted against the first timed run."""
    from .driver import ScaledRun

    start = base["frames"][0] if base["frames"] else 0
    name = f"warm-up-{overlap}"
    opts = VideoOptions(**dict(base, frames=(start, start + 2)), cache_dir=os.path.join(tmp, f"cache-{name}"),
                        png_dir=os.path.join(tmp, name), control=os.path.join(tmp, f"{name}-control.mp4"),
                        progress=False)
    scale = ScaleOptions(ray=LOCAL, workers=workers, chunk_frames=args.chunk_frames, overlap_frames=overlap)
    ScaledRun(cfg, opts, scale).run(src, os.path.join(tmp, f"{name}.mp4"))

