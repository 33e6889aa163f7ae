"""``hallucinator bench live``: the live engine's ms/frame at several sizes, the teacher's s/frame at one of
them in the same run (and the ratio), then a live playback of a clip: displayed fps and dropped frames.

The teacher is the engine with its default settings (:class:`hallucinator.engine.Dreamer`), the gradient
ascent the student was distilled from.  Frames are the source's own (its first frames, resized wrap-aware
to each size), so the student and the teacher see the same picture.
"""
from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..sphere import resize_equirect_image
from .options import LiveOptions

DEFAULT_SIZES = ((256, 128), (384, 192), (512, 256), (1024, 512))
RATIO_BAR = 30.0        # issue 11: the student at least 30x faster than the teacher at 512x256 on a CPU
DROP_BAR = 0.05         # and a live playback of the battle clip with at most 5 % of frames dropped


@dataclass
class LiveBenchOptions:
    source: str
    live: LiveOptions
    size: Tuple[int, int] = (512, 256)                 # where the teacher is timed (and the ratio taken)
    sizes: Tuple[Tuple[int, int], ...] = DEFAULT_SIZES
    frames: int = 20                                   # timed frames per size
    teacher_repeat: int = 1                            # timed teacher frames (after one untimed)
    play_frames: int = 150                             # live playback length (0: none)
    view_size: Tuple[int, int] = (640, 360)
    live_size: Optional[Tuple[int, int]] = (384, 192)  # the playback's dreaming size
    stereo: str = "auto"
    extra: Dict[str, Any] = field(default_factory=dict)


def source_frames(path: str, n: int) -> List[np.ndarray]:
    """The first ``n`` frames of a video (RGB), or an image ``n`` times."""
    from ..viewer.frames import open_source

    with open_source(path) as src:
        if src.is_still:
            return [src.image] * n
        src.planar = False
        return [src.frame_at(k).image for k in range(min(n, max(1, src.frame_count)))]


def _sized(frames: List[np.ndarray], size: Tuple[int, int]) -> List[np.ndarray]:
    w, h = size
    return [np.ascontiguousarray(resize_equirect_image(f, width=w, height=h)) for f in frames]


def time_engine(engine, frames: List[np.ndarray], n: int) -> List[float]:
    """Seconds per frame of ``n`` dreams (a chain along the frames; one untimed cold frame first)."""
    chain = engine.chain()
    chain.reset()
    chain.dream(frames[0])
    out = []
    for k in range(n):
        f = frames[(k + 1) % len(frames)]
        t = time.perf_counter()
        chain.dream(f)
        out.append(time.perf_counter() - t)
    return out


def time_teacher(frame: np.ndarray, device: str, repeat: int) -> Tuple[List[float], Dict[str, Any]]:
    """Seconds per frame of the engine with its default settings (one untimed run first)."""
    import torch

    from ..config import DreamConfig
    from ..engine import Dreamer, resolve_device
    from ..engine.timing import timed
    from ..sphere import to_tensor

    dev = resolve_device(device)
    d = Dreamer(DreamConfig(device=str(dev)))
    src = to_tensor(frame).to(dev)
    once = timed(lambda: d.dream(src, seed=0), dev)
    once()
    c = d.cfg
    return [once() for _ in range(max(1, repeat))], {
        "model": c.model, "layers": c.layers, "octaves": c.octaves, "iterations": c.iterations,
        "device": str(dev), "threads": torch.get_num_threads()}


def play(opts: LiveBenchOptions) -> Dict[str, Any]:
    """A live playback of the source: headless, no audio, realtime; what was shown and dropped."""
    from dataclasses import replace

    from ..viewer.app import Viewer
    from ..viewer.pose import Pose
    from .session import open_live

    live = replace(opts.live, size=opts.live_size or opts.live.size)
    with open_live(opts.source, live, stereo=opts.stereo) as lp, \
            Viewer(size=opts.view_size, visible=False) as v:
        s = v.play(lp.dream, control=lp.control, max_frames=opts.play_frames, pose=Pose(), audio=False,
                   realtime=True, stereo=opts.stereo)
        stats = lp.stats.to_dict()
        size = lp.engine.size
    shown_span = (s.frame_indices[-1] - s.frame_indices[0] + 1) if s.frame_indices else 0
    return {"source": opts.source, "live_size": f"{size[0]}x{size[1]}",
            "view_size": f"{opts.view_size[0]}x{opts.view_size[1]}", "frames_presented": s.frames_presented,
            "video_frames": s.video_frames, "dropped": s.dropped, "late": s.late,
            "dropped_fraction": round(s.dropped / shown_span, 4) if shown_span else 0.0,
            "displayed_fps": round(s.video_frames / s.wall_seconds, 2) if s.wall_seconds else 0.0,
            "source_fps": s.fps, "wall_seconds": round(s.wall_seconds, 3), "ended_by": s.ended_by, **stats}


def measure(opts: LiveBenchOptions) -> Dict[str, Any]:
    import torch

    from .engines import open_engine

    sizes = list(dict.fromkeys(list(opts.sizes) + [opts.size]))
    frames = source_frames(opts.source, min(opts.frames + 1, 30))
    result: Dict[str, Any] = {"source": opts.source, "engine": opts.live.engine, "device": opts.live.device}
    per_size = []
    with open_engine(opts.live) as engine:
        result["providers"] = list(engine.providers)
        if opts.live.engine == "student":
            result["student"] = {"path": str(engine.student.path), "sha256": engine.student.sha256,
                                 "train_size": list(engine.student.train_size), "threads": engine.threads}
        for size in sizes:
            engine.size = size   # dream at the frame's own size
            secs = time_engine(engine, _sized(frames, size), opts.frames)
            per_size.append({"size": f"{size[0]}x{size[1]}", "ms": round(1000 * float(np.median(secs)), 2),
                             "fps": round(1 / float(np.median(secs)), 2), "frames": len(secs)})
        teacher_frame = _sized(frames[:1], opts.size)[0]
        teacher_s, teacher_cfg = time_teacher(teacher_frame, opts.live.device, opts.teacher_repeat)
        engine.size = opts.size   # again right after the teacher: the ratio's two sides under the same load
        after = time_engine(engine, _sized(frames, opts.size), opts.frames)
    at = next(r for r in per_size if r["size"] == f"{opts.size[0]}x{opts.size[1]}")
    engine_s = float(np.median([at["ms"] / 1000] + after))
    teacher = float(np.median(teacher_s))
    result.update({
        "sizes": per_size, "size": at["size"],
        "engine_ms": round(1000 * engine_s, 2), "teacher_s": round(teacher, 3), "teacher": teacher_cfg,
        "ratio": round(teacher / engine_s, 1), "ratio_bar": RATIO_BAR,
        "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(), "load_average": [round(x, 2) for x in os.getloadavg()]})
    if opts.play_frames > 0:
        result["live"] = play(opts)
        result["live"]["drop_bar"] = DROP_BAR
    result.update(opts.extra)
    return result


def format_result(r: Dict[str, Any]) -> str:
    lines = [f"bench live: {r['engine']} on {r['device']} (providers {', '.join(r['providers'])}); "
             f"load average {r['load_average']}"]
    for s in r["sizes"]:
        lines.append(f"  {r['engine']} {s['size']:>10}: {s['ms']:9.2f} ms/frame  {s['fps']:8.2f} fps")
    lines.append(f"  teacher  {r['size']:>10}: {r['teacher_s']:9.3f} s/frame  ({r['teacher']['model']} "
                 f"{','.join(r['teacher']['layers'])}, {r['teacher']['octaves']} octaves x "
                 f"{r['teacher']['iterations']} iterations)")
    bar = f" (bar {r['ratio_bar']:g}x)" if r["engine"] == "student" else ""
    lines.append(f"  ratio teacher/{r['engine']} at {r['size']}: {r['ratio']:.1f}x{bar}")
    if "live" in r:
        p = r["live"]
        lines.append(f"  live {p['source']} at {p['live_size']} -> {p['view_size']}: {p['video_frames']} frames "
                     f"shown, {p['dropped']} dropped ({100 * p['dropped_fraction']:.1f} %, bar "
                     f"{100 * p['drop_bar']:g} %), {p['late']} late; displayed {p['displayed_fps']:.1f} fps "
                     f"(source {p['source_fps']:g}), dreamed {p['dreamed_fps']:.1f} fps, latency "
                     f"{p['latency_ms']:.1f} ms (p95 {p['latency_p95_ms']:.1f})")
    return "\n".join(lines)
