"""``hallucinator bench dream``: seconds per frame of the engine against the plain reference, in the same run;
``hallucinator bench live``: the live engine against the teacher, and a live playback (:mod:`hallucinator.live.bench`)."""
from __future__ import annotations

import argparse
import json
import os
import platform
from typing import Any, Callable, Dict, List

import numpy as np

from ..config import PRECISIONS, DreamConfig


def _bench_config(args: argparse.Namespace, device) -> DreamConfig:
    from ..models import get_spec

    layer = args.layer or get_spec(args.model).default_layer
    return DreamConfig(model=args.model, layers=[layer], octaves=args.octaves, octave_scale=args.octave_scale,
                       iterations=args.iterations, device=str(device), precision=args.precision,
                       seed=0).validate()


def _source(w: int, h: int, device):
    import torch

    from .. import sphere
    from ..demo import demo_panorama

    src = sphere.to_tensor(demo_panorama(w) if w == 2 * h else np.zeros((h, w, 3), np.uint8)).to(device)
    if src.shape[-2:] != (h, w):
        src = torch.nn.functional.interpolate(src, size=(h, w), mode="bilinear")
    return src


class _Runs:
    """Timed runs of the engine and the reference, and each run's seconds per part."""

    def __init__(self, engine: Callable[[], float], reference: Callable[[], float], engine_timer, reference_timer):
        self.engine, self.reference = engine, reference
        self.timers = {"engine": engine_timer, "reference": reference_timer}
        self.seconds: Dict[str, List[float]] = {"engine": [], "reference": []}
        self.parts: Dict[str, List[Dict[str, float]]] = {"engine": [], "reference": []}

    def run(self, which: str, with_parts: bool) -> None:
        timer = self.timers[which]
        timer.enabled = with_parts
        timer.reset()
        self.seconds[which].append((self.engine if which == "engine" else self.reference)())
        if with_parts:
            self.parts[which].append(dict(timer.seconds))
        timer.enabled = False

    def breakdown(self, which: str, total: float) -> Dict[str, float]:
        """Median seconds per part over the runs that timed parts, and what the parts leave ("other")."""
        from ..engine.timing import PARTS

        order = ("network",) + PARTS
        runs = self.parts[which]
        names = sorted({k for r in runs for k in r}, key=lambda k: (order.index(k) if k in order else len(order), k))
        out = {k: round(float(np.median([r.get(k, 0.0) for r in runs])), 4) for k in names}
        out["other"] = round(max(total - sum(out.values()), 0.0), 4)
        return out


def _time_runs(args: argparse.Namespace, dreamer, src, ref_fn, device) -> _Runs:
    """Interleaved timed runs (so both see the same load); parts timed in them, or (CUDA) in one more run each."""
    from ..engine.timing import PartTimer, timed

    ref_timer = PartTimer(device=device)
    runs = _Runs(timed(lambda: dreamer.dream(src), device), timed(lambda: ref_fn(ref_timer), device),
                 dreamer.timer, ref_timer)
    parts_in_timed = device.type != "cuda"  # on a GPU the per-part waits would slow the timed runs
    if args.warmup:
        runs.run("reference", False), runs.run("engine", False)
        runs.seconds = {"engine": [], "reference": []}
    for _ in range(args.repeat):
        runs.run("reference", parts_in_timed)
        runs.run("engine", parts_in_timed)
    if not parts_in_timed:
        seconds = {k: list(v) for k, v in runs.seconds.items()}
        runs.run("reference", True), runs.run("engine", True)
        runs.seconds = seconds
    return runs


def _memory(device) -> Dict[str, Any]:
    import torch

    if device.type == "cuda":
        return {"gpu": torch.cuda.get_device_name(device),
                "peak_memory_gb": round(torch.cuda.max_memory_allocated(device) / 2**30, 3)}
    import resource

    return {"peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3)}


def measure(args: argparse.Namespace) -> Dict[str, Any]:
    """Time the engine and the reference (interleaved, median of ``args.repeat``); the benchmark's record."""
    import torch

    from ..config import parse_size
    from ..engine import Dreamer, reference_dream, resolve_device
    from ..engine.timing import count_flops
    from ..models import load_backbone

    w, h = parse_size(args.size)
    device = resolve_device(args.device)
    cfg = _bench_config(args, device)
    # the same weights for both: the installed ones, or one random draw
    engine_net = load_backbone(cfg.model, random_init=args.random_weights)
    ref_net = load_backbone(cfg.model, fold_bn=False, random_init=args.random_weights).to(device)
    dreamer = Dreamer(cfg, net=engine_net)
    src = _source(w, h, device)

    def ref_fn(timer, iterations=cfg.iterations):
        return reference_dream(ref_net, src, cfg.layers[0], cfg.octaves, cfg.octave_scale, iterations,
                               timer=timer)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    runs = _time_runs(args, dreamer, src, ref_fn, device)
    engine_s, reference_s = float(np.median(runs.seconds["engine"])), float(np.median(runs.seconds["reference"]))
    memory = _memory(device)
    # FLOPs per frame: one step per octave counted, times the iterations (every step of an octave is alike)
    one_step = Dreamer(cfg.replace(iterations=1), net=engine_net)
    engine_flop = count_flops(lambda: one_step.dream(src)) * cfg.iterations
    reference_flop = count_flops(lambda: ref_fn(None, 1)) * cfg.iterations
    result = {"size": f"{w}x{h}", "model": cfg.model, "layer": cfg.layers[0], "octaves": cfg.octaves,
              "octave_scale": cfg.octave_scale, "iterations": cfg.iterations, "device": str(device),
              "precision": cfg.precision,
              "engine_s": round(engine_s, 4), "reference_s": round(reference_s, 4),
              "ratio": round(reference_s / engine_s, 4), "engine_fps": round(1 / engine_s, 4),
              "reference_fps": round(1 / reference_s, 4), "repeat": args.repeat,
              "engine_parts_s": runs.breakdown("engine", engine_s),
              "reference_parts_s": runs.breakdown("reference", reference_s),
              "engine_gflop_per_frame": round(engine_flop / 1e9, 2),
              "reference_gflop_per_frame": round(reference_flop / 1e9, 2),
              "engine_tflops": float(f"{engine_flop / engine_s / 1e12:.4g}"),
              "reference_tflops": float(f"{reference_flop / reference_s / 1e12:.4g}"),
              "weights_sha256": engine_net.weights_sha256, "random_weights": engine_net.weights_file is None,
              "machine": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
              "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "")}
    result.update(memory)
    return result


def _print_parts(parts: Dict[str, float], total: float) -> None:
    for name, seconds in parts.items():
        print(f"    {name + ':':<23}{seconds:8.3f} s  {100 * seconds / total:5.1f} %")


def cmd_bench_dream(args: argparse.Namespace) -> int:
    r = measure(args)
    if args.json:
        print(json.dumps(r))
        return 0
    weights = "random weights" if r["random_weights"] else "ImageNet weights"
    print(f"dream {r['size']}, {r['model']} -> {r['layer']} ({weights}), {r['octaves']} octaves x "
          f"{r['octave_scale']}, {r['iterations']} iterations, {r['device']} ({r['threads']} threads), "
          f"{r['precision']}, median of {r['repeat']}")
    for who, label in (("engine", "engine (sphere-correct)"), ("reference", "plain reference")):
        print(f"  {label + ':':<25}{r[who + '_s']:8.3f} s/frame  {r[who + '_fps']:7.3f} fps  "
              f"{r[who + '_gflop_per_frame']:9.1f} GFLOP/frame  {r[who + '_tflops']:.4g} TFLOP/s")
        _print_parts(r[who + "_parts_s"], r[who + "_s"])
    print(f"  ratio reference/engine:  {r['ratio']:8.3f}")
    if "peak_memory_gb" in r:
        print(f"  peak GPU memory:         {r['peak_memory_gb']:8.3f} GB ({r['gpu']})")
    else:
        print(f"  peak process memory:     {r['peak_rss_gb']:8.3f} GB")
    return 0


def register_bench(bench_sub) -> None:
    p = bench_sub.add_parser("dream", help="seconds per frame: engine vs plain reference, same run")
    p.add_argument("--size", default="1024x512", help="frame size WxH (default 1024x512)")
    p.add_argument("--model", default="efficientnet-lite2")
    p.add_argument("--layer", help="layer (default: the model's default)")
    p.add_argument("--octaves", type=int, default=4)
    p.add_argument("--octave-scale", type=float, default=1.4)
    p.add_argument("--iterations", type=int, default=10)
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="fp32", choices=PRECISIONS,
                   help="the engine's arithmetic (bf16: autocast, for GPUs); the reference stays fp32")
    p.add_argument("--repeat", type=int, default=3, help="runs of each, interleaved; the median counts")
    p.add_argument("--warmup", action="store_true", help="one untimed run of each first")
    p.add_argument("--random-weights", action="store_true", help="same architecture, random weights (speed only)")
    p.add_argument("--json", action="store_true", help="one machine-readable line")
    p.set_defaults(func=cmd_bench_dream)
    register_bench_live(bench_sub)


def cmd_bench_live(args: argparse.Namespace) -> int:
    from ..config import parse_size
    from ..live.bench import LiveBenchOptions, format_result, measure
    from ..live.options import LiveOptions
    from ..live.session import check_source

    check_source(args.source)
    sizes = tuple(parse_size(s, "--sizes") for s in args.sizes.split(",") if s.strip())
    opts = LiveBenchOptions(
        source=args.source, live=LiveOptions(engine=args.engine, student=args.student, device=args.device,
                                             threads=getattr(args, "global_threads", None)),
        size=parse_size(args.size), sizes=sizes, frames=args.frames, teacher_repeat=args.teacher_repeat,
        play_frames=args.play_frames, view_size=parse_size(args.view_size, "--view-size"),
        live_size=parse_size(args.live_size, "--live-size") if args.live_size else None)
    r = measure(opts)
    print(json.dumps(r) if args.json else format_result(r))
    return 0


def register_bench_live(bench_sub) -> None:
    from ..live.options import ENGINES

    p = bench_sub.add_parser("live", help="live dreaming: ms/frame at several sizes vs the teacher, live playback",
                             description="The live engine's ms/frame at several sizes and the teacher's (the engine "
                                         "with default settings) s/frame at --size in the same run, their ratio, "
                                         "then a headless realtime playback of SOURCE dreamed live at --live-size: "
                                         "displayed fps and dropped frames.")
    p.add_argument("source", help="video (or image) whose frames are dreamed and played")
    p.add_argument("--engine", choices=ENGINES, default="student", help="student (default) or gradient")
    p.add_argument("--student", help="student file (default: the shipped one)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--size", default="512x256", help="size where the teacher is timed and the ratio taken")
    p.add_argument("--sizes", default="256x128,384x192,512x256,1024x512",
                   help="comma-separated sizes for the engine's ms/frame")
    p.add_argument("--frames", type=int, default=20, help="timed frames per size (median counts; default 20)")
    p.add_argument("--teacher-repeat", type=int, default=1, help="timed teacher frames after one untimed")
    p.add_argument("--live-size", default="384x192", help="dreaming size of the playback (default 384x192)")
    p.add_argument("--view-size", default="640x360", help="viewport of the playback (default 640x360)")
    p.add_argument("--play-frames", type=int, default=150, help="frames of live playback (0: no playback)")
    p.add_argument("--json", action="store_true", help="one machine-readable line")
    p.set_defaults(func=cmd_bench_live)
