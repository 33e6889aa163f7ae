"""``hallucinator bench video --ray-workers 1,2``: one clip dreamed in the same chunks by 1, 2 ... workers.

Ray is started once, with a CPU per worker thread, and each worker process loads the engine before
anything is timed (so the figures compare dreaming, not process start-up; Ray's own start is printed
apart).  Each worker count gets a fresh cache.  Printed: seconds per worker count, the speed-up over
the first, whether the frames are identical, audio and 360° metadata in the output, and the
continuity figure (:mod:`.continuity`).
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


def parse_workers(text: str) -> List[int]:
    try:
        counts = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise UserError(f"--ray-workers {text!r} must be worker counts, e.g. 1,2")
    return counts


def bench_scale(src: str, cfg, args, tmp: str) -> Dict[str, Any]:
    """Dream ``src`` once per worker count in ``args.ray_workers``; print and return the figures."""
    from .driver import ScaledRun
    from .raybridge import ray_session
    from .tasks import warm_worker

    counts = parse_workers(args.ray_workers)
    threads = args.threads or 1
    base = VideoOptions(frames=parse_frames(args.frames), size=parse_size(args.size), threads=threads,
                        blend=blend_preset(args.blend), stereo=None, to_2to1=args.to_2to1)
    report: Dict[str, Any] = {"workers": {}, "chunk_frames": args.chunk_frames, "overlap_frames": args.overlap_frames}
    t0 = time.perf_counter()
    with ray_session(LOCAL, max(counts) * threads) as ray:
        warm = ray.remote(warm_worker).options(num_cpus=threads)
        ray.get([warm.remote(cfg, threads) for _ in range(max(counts))])
        print(f"Ray started and {max(counts)} workers loaded the engine in {time.perf_counter() - t0:.1f} s")
        frames = {}
        for n in counts:
            out = os.path.join(tmp, f"ray{n}.mp4")
            opts = VideoOptions(**{**base.__dict__, "cache_dir": os.path.join(tmp, f"cache{n}"),
                                   "png_dir": os.path.join(tmp, f"png{n}"), "control": os.path.join(tmp, f"c{n}.mp4")})
            scale = ScaleOptions(ray=LOCAL, workers=n, chunk_frames=args.chunk_frames,
                                 overlap_frames=args.overlap_frames)
            r = ScaledRun(cfg, opts, scale).run(src, out)
            frames[n] = read_png_sequence(opts.png_dir)
            info = probe(out)
            cont = r.quality.get("continuity", {})
            report["workers"][n] = {"seconds": r.seconds, "audio": info.has_audio, "projection": info.projection,
                                    "continuity": cont, "retries": r.scale["retries"], "chunks": r.scale["chunks"]}
            print(f"{n} worker{'s' if n > 1 else ''}: {r.seconds:.2f} s for {r.frames} frames in "
                  f"{len(r.scale['chunks'])} chunks; audio {'yes' if info.has_audio else 'no'}, "
                  f"360 metadata {info.projection or 'none'}; boundary jump x{cont.get('ratio_max', float('nan')):.2f}"
                  f" of the median inside chunks (target <= 1.25)")
    first = counts[0]
    for n in counts[1:]:
        same = len(frames[n]) == len(frames[first]) and all(np.array_equal(a, b)
                                                            for a, b in zip(frames[n], frames[first]))
        speed = report["workers"][first]["seconds"] / report["workers"][n]["seconds"]
        report["workers"][n].update(speedup=speed, identical_frames=same)
        print(f"speed-up {n} vs {first} worker{'s' if first > 1 else ''}: x{speed:.2f} (target >= 1.5 for 2 vs 1); "
              f"frames identical: {'yes' if same else 'NO'}")
    return report
