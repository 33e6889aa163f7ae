"""``hallucinator bench dream``: seconds per frame of the engine against the plain reference, in the same run."""
from __future__ import annotations

import argparse
import json
import platform
import time
from typing import Any, Callable, Dict, List

import numpy as np

from ..config import DreamConfig


def _bench_config(args: argparse.Namespace, device) -> DreamConfig:
    from ..models import get_spec

    layer = args.layer or get_spec(args.model).default_layer
    return DreamConfig(model=args.model, layers=[layer], octaves=args.octaves, octave_scale=args.octave_scale,
                       iterations=args.iterations, device=str(device), seed=0).validate()


def _source(w: int, h: int, device):
    import torch

    from .. import sphere
    from ..demo import demo_panorama

    src = sphere.to_tensor(demo_panorama(w) if w == 2 * h else np.zeros((h, w, 3), np.uint8)).to(device)
    if src.shape[-2:] != (h, w):
        src = torch.nn.functional.interpolate(src, size=(h, w), mode="bilinear")
    return src


def _timer(fn: Callable[[], Any], device) -> Callable[[], float]:
    import torch

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    def timed() -> float:
        sync()
        t = time.perf_counter()
        fn()
        sync()
        return time.perf_counter() - t
    return timed


def measure(args: argparse.Namespace) -> Dict[str, Any]:
    """Time the engine and the reference (interleaved, median of ``args.repeat``); the benchmark's record."""
    import torch

    from ..config import parse_size
    from ..engine import Dreamer, reference_dream, resolve_device
    from ..models import load_backbone

    w, h = parse_size(args.size)
    device = resolve_device(args.device)
    cfg = _bench_config(args, device)
    # the same weights for both: the installed ones, or one random draw
    engine_net = load_backbone(cfg.model, random_init=args.random_weights)
    ref_net = load_backbone(cfg.model, fold_bn=False, random_init=args.random_weights).to(device)
    dreamer = Dreamer(cfg, net=engine_net)
    src = _source(w, h, device)
    run_engine = _timer(lambda: dreamer.dream(src), device)
    run_ref = _timer(lambda: reference_dream(ref_net, src, cfg.layers[0], cfg.octaves, cfg.octave_scale,
                                             cfg.iterations), device)
    if args.warmup:
        run_engine(), run_ref()
    eng: List[float] = []
    ref: List[float] = []
    for _ in range(args.repeat):  # interleaved, so both see the same machine load
        ref.append(run_ref())
        eng.append(run_engine())
    engine_s, reference_s = float(np.median(eng)), float(np.median(ref))
    result = {"size": f"{w}x{h}", "model": cfg.model, "layer": cfg.layers[0], "octaves": cfg.octaves,
              "octave_scale": cfg.octave_scale, "iterations": cfg.iterations, "device": str(device),
              "engine_s": round(engine_s, 4), "reference_s": round(reference_s, 4),
              "ratio": round(reference_s / engine_s, 4), "engine_fps": round(1 / engine_s, 4),
              "reference_fps": round(1 / reference_s, 4), "repeat": args.repeat,
              "weights_sha256": engine_net.weights_sha256, "random_weights": engine_net.weights_file is None,
              "machine": platform.processor() or platform.machine(), "threads": torch.get_num_threads()}
    if device.type == "cuda":
        result["gpu"] = torch.cuda.get_device_name(device)
        result["peak_memory_gb"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 3)
    return result


def cmd_bench_dream(args: argparse.Namespace) -> int:
    r = measure(args)
    if args.json:
        print(json.dumps(r))
        return 0
    weights = "random weights" if r["random_weights"] else "ImageNet weights"
    print(f"dream {r['size']}, {r['model']} -> {r['layer']} ({weights}), {r['octaves']} octaves x "
          f"{r['octave_scale']}, {r['iterations']} iterations, {r['device']} ({r['threads']} threads), "
          f"median of {r['repeat']}")
    print(f"  engine (sphere-correct): {r['engine_s']:8.3f} s/frame  {r['engine_fps']:7.3f} fps")
    print(f"  plain reference:         {r['reference_s']:8.3f} s/frame  {r['reference_fps']:7.3f} fps")
    print(f"  ratio reference/engine:  {r['ratio']:8.3f}")
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
    p.add_argument("--repeat", type=int, default=3, help="runs of each, interleaved; the median counts")
    p.add_argument("--warmup", action="store_true", help="one untimed run of each first")
    p.add_argument("--random-weights", action="store_true", help="same architecture, random weights (speed only)")
    p.add_argument("--json", action="store_true", help="one machine-readable line")
    p.set_defaults(func=cmd_bench_dream)
