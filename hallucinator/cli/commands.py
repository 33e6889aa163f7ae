"""Subcommands for still images: dream, models, inspect, demo, and ``bench dream``."""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

from ..errors import UserError

# ----------------------------------------------------------------------------
# shared options


def add_dream_options(p: argparse.ArgumentParser) -> None:
    """Options that set a DreamConfig.  Defaults are None so presets and config files can fill them."""
    g = p.add_argument_group("dream settings (precedence: flags > --config > --preset > defaults)")
    g.add_argument("--preset", help="named settings: default, classic, hallucination-machine, fast")
    g.add_argument("--config", metavar="FILE", help="settings from a TOML file or an earlier output's .json sidecar")
    g.add_argument("--model", help="backbone (see `hallucinator models`)")
    g.add_argument("--layer", action="append", dest="layers", metavar="NAME",
                   help="layer to dream (repeat or comma-separate for several)")
    g.add_argument("--objective", choices=("l2", "channels", "class", "guide"))
    g.add_argument("--channels", help="channel numbers for --objective channels, e.g. 3,17,42")
    g.add_argument("--class-index", type=int, help="ImageNet class for --objective class")
    g.add_argument("--guide", metavar="IMAGE", help="guide image for --objective guide")
    g.add_argument("--octaves", type=int)
    g.add_argument("--octave-scale", type=float)
    g.add_argument("--iterations", type=int, help="gradient steps per octave")
    g.add_argument("--step-size", type=float, help="step in 0-255 pixel units on the mean-normalised gradient")
    g.add_argument("--jitter", type=int, help="random shift in pixels (wraps in longitude only)")
    g.add_argument("--seed", type=int)
    g.add_argument("--device", help="auto, cpu, cuda or cuda:N")
    g.add_argument("--flat", action="store_true", default=None, help="an ordinary picture, not a 360° panorama")
    g.add_argument("--poles", choices=("faces", "none"), help="how the polar caps are dreamed")
    g.add_argument("--tile-max-pixels", type=int, help="tile passes larger than this many pixels (0: automatic)")
    g.add_argument("--weights", metavar="PATH", help="weights file for a torchvision backbone")


def config_from_args(args: argparse.Namespace):
    from ..config import DreamConfig, load_config_file, preset

    values: Dict[str, Any] = {}
    if getattr(args, "preset", None):
        values.update(preset(args.preset))
    if getattr(args, "config", None):
        values.update(load_config_file(args.config))
    for key in ("model", "objective", "class_index", "guide", "octaves", "octave_scale", "iterations", "step_size",
                "jitter", "seed", "device", "flat", "poles", "tile_max_pixels", "weights"):
        v = getattr(args, key, None)
        if v is not None:
            values[key] = v
    if getattr(args, "layers", None):
        values["layers"] = [l.strip() for item in args.layers for l in item.split(",") if l.strip()]
    if getattr(args, "channels", None):
        try:
            values["channels"] = [int(c) for c in str(args.channels).split(",") if c.strip()]
        except ValueError:
            raise UserError(f"--channels must be comma-separated integers, not {args.channels!r}") from None
    if "model" in values and "layers" not in values and not getattr(args, "preset", None):
        from ..models.backbones import CARDS

        if values["model"] in CARDS:
            values["layers"] = [CARDS[values["model"]].default_layer]
    return DreamConfig(**values).validate()


class Progress:
    """A one-line progress display on stderr (octave, iteration, elapsed, ETA)."""

    def __init__(self, label: str, enabled: bool = True):
        self.label, self.enabled, self.t0 = label, enabled and sys.stderr.isatty(), time.perf_counter()

    def __call__(self, octave: int, n_oct: int, it: int, n_it: int) -> None:
        if not self.enabled:
            return
        done = (octave * n_it + it) / max(n_oct * n_it, 1)
        el = time.perf_counter() - self.t0
        eta = el / max(done, 1e-9) * (1 - done)
        print(f"\r{self.label}: octave {octave + 1}/{n_oct} step {it}/{n_it}  {el:5.1f}s  ETA {eta:5.1f}s",
              end="", file=sys.stderr, flush=True)

    def close(self):
        if self.enabled:
            print(file=sys.stderr)


# ----------------------------------------------------------------------------
# dream


def dream_image_file(input_path: str, output_path: str, cfg, quiet: bool = False) -> Dict[str, Any]:
    """Dream one image file into another, with a JSON sidecar next to it.  Returns the sidecar."""
    import torch

    from .. import quality, sphere
    from ..provenance import sha256_file, versions, write_sidecar
    from ..engine.dream import Dreamer
    from ..io.images import check_writable, read_image, write_image

    check_writable(output_path)
    sidecar_path = output_path + ".json"
    notes: List[str] = []
    src_u8 = read_image(input_path, notes)
    h, w = src_u8.shape[:2]
    if not cfg.flat and abs(w - 2 * h) > 1:
        raise UserError(f"{input_path} is {w}x{h}, not a 2:1 equirectangular panorama; pass --flat to dream it "
                        f"as an ordinary picture, or resample it to {2 * h}x{h}")
    t0 = time.perf_counter()
    dreamer = Dreamer(cfg)
    t_load = time.perf_counter() - t0
    progress = Progress(Path(output_path).name, enabled=not quiet)
    t1 = time.perf_counter()
    with torch.inference_mode(False):
        out = dreamer.dream(sphere.to_tensor(src_u8), progress=progress)
    t_dream = time.perf_counter() - t1
    progress.close()
    for msg in dreamer.warnings:
        print(f"hallucinator: warning: {msg}", file=sys.stderr)
    out_u8 = sphere.to_uint8(out)
    figures = quality.inspect(src_u8, out_u8) if not cfg.flat else {
        "strength_mean": float(np.abs(quality.residual(src_u8, out_u8)).mean())}
    sidecar = {
        "kind": "hallucinator.dream.image",
        "input": {"path": str(input_path), "sha256": sha256_file(input_path), "width": w, "height": h,
                  "conversions": notes},
        "output": {"path": str(output_path)},
        "config": cfg.to_dict(),
        "model": {"name": cfg.model, "weights_file": str(dreamer.net.weights_file),
                  "weights_sha256": dreamer.net.weights_sha256, "layers": dreamer.objective.layers,
                  "total_stride": dreamer.stride},
        "octave_sizes": [list(s) for s in dreamer.octave_sizes(h, w)],
        "device": str(dreamer.device),
        "fingerprint": dreamer.fingerprint(),
        "versions": versions(),
        "timings_s": {"load_model": round(t_load, 3), "dream": round(t_dream, 3)},
        "quality": figures,
        "warnings": dreamer.warnings,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    write_image(output_path, out_u8)
    try:
        write_sidecar(sidecar_path, sidecar)
    except BaseException:
        Path(output_path).unlink(missing_ok=True)
        raise
    return sidecar


def cmd_dream(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    pipeline = _pipeline()
    if pipeline is not None and pipeline.is_video(args.input):
        return int(pipeline.run_video(args, cfg) or 0)
    from ..io.images import is_image_path

    if pipeline is None and not is_image_path(args.input) and Path(args.input).suffix.lower() in (
            ".mp4", ".mov", ".mkv", ".webm", ".avi"):
        raise UserError("video dreaming is not available in this installation; reinstall hallucinator")
    sidecar = dream_image_file(args.input, args.output, cfg, quiet=args.quiet)
    if not args.quiet:
        q = sidecar["quality"]
        line = f"wrote {args.output} and {args.output}.json in {sidecar['timings_s']['dream']:.1f}s"
        if "seam_ratio" in q:
            line += (f"  seam {q['seam_ratio']:.2f}  pole/horizon coherence {q['pole_horizon_coherence_ratio']:.2f}"
                     f"  tangential bias excess {q['tangential_bias_excess']:+.2f}"
                     f"  pole/horizon strength {q['pole_horizon_strength_ratio']:.2f}")
        print(line)
    return 0


def _pipeline():
    import importlib

    try:
        pipeline = importlib.import_module("hallucinator.video.pipeline")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("hallucinator.video.pipeline"):
            return None
        raise
    return pipeline if hasattr(pipeline, "is_video") else None


# ----------------------------------------------------------------------------
# models


def cmd_models(args: argparse.Namespace) -> int:
    from ..models.backbones import CARDS, weights_path
    from ..resources import resource_dir

    cards_dir = resource_dir("models")
    rows = []
    for name, card in CARDS.items():
        path = weights_path(name)
        layers = _layers_of(name)
        rows.append({"name": name, "description": card.description, "weights": str(path) if path else None,
                     "available": path is not None, "default_layer": card.default_layer,
                     "recommended_layers": card.recommended_layers, "layers": layers,
                     "licence": card.licence, "card": str(cards_dir / f"{name}.toml")})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        status = "available" if r["available"] else "weights missing"
        print(f"{r['name']:20s} {status:16s} {r['description']}")
        print(f"{'':20s} default layer {r['default_layer']}; recommended {', '.join(r['recommended_layers'])}")
        if args.layers:
            print(f"{'':20s} layers: {', '.join(r['layers'])}")
        if not r["available"]:
            from ..models.backbones import torchvision_weights_path

            print(f"{'':20s} get them: run torchvision.models.{r['name']}(weights='DEFAULT') once with internet "
                  f"(saves {torchvision_weights_path(r['name'])}) or pass --weights PATH")
    return 0


def _layers_of(name: str) -> List[str]:
    from ..models.backbones import CARDS, TORCHVISION

    card = CARDS[name]
    if card.family == "efficientnet-lite":
        n_blocks = {"efficientnet-lite0": 16, "efficientnet-lite1": 21, "efficientnet-lite2": 21}[name]
        return ["stem"] + [f"block{i}" for i in range(n_blocks)] + ["head", "logits"]
    layers = list(TORCHVISION[name][2]())
    return layers + (["logits"] if TORCHVISION[name][3] else [])


# ----------------------------------------------------------------------------
# inspect


def cmd_inspect(args: argparse.Namespace) -> int:
    from .. import quality
    from ..io.images import read_image

    src = read_image(args.source)
    dream = read_image(args.dream)
    if src.shape != dream.shape:
        raise UserError(f"{args.source} is {src.shape[1]}x{src.shape[0]} but {args.dream} is "
                        f"{dream.shape[1]}x{dream.shape[0]}; compare a dream with its own source")
    if abs(src.shape[1] - 2 * src.shape[0]) > 1:
        raise UserError(f"{args.source} is not a 2:1 panorama; the seam and pole figures need one")
    figures = quality.inspect(src, dream)
    if args.json:
        print(json.dumps(figures))
    else:
        print(quality.format_report(figures))
    return 0


# ----------------------------------------------------------------------------
# demo


def cmd_demo(args: argparse.Namespace) -> int:
    from ..config import DreamConfig
    from ..demo import demo_panorama
    from ..io.images import write_image

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pano_path = out / "panorama.png"
    write_image(str(pano_path), demo_panorama(args.width))
    print(f"wrote {pano_path} (composed from scikit-image's sample photos)")
    cfg = DreamConfig(seed=args.seed, device=args.device)
    dream_path = out / "dream.png"
    sidecar = dream_image_file(str(pano_path), str(dream_path), cfg)
    q = sidecar["quality"]
    print(f"wrote {dream_path} and its .json sidecar in {sidecar['timings_s']['dream']:.1f}s: seam "
          f"{q['seam_ratio']:.2f}, pole/horizon coherence {q['pole_horizon_coherence_ratio']:.2f}, "
          f"tangential bias excess {q['tangential_bias_excess']:+.2f}")
    pipeline = _pipeline()
    if pipeline is not None and not args.no_video and hasattr(pipeline, "demo_video"):
        pipeline.demo_video(out, seed=args.seed, device=args.device)
    return 0


# ----------------------------------------------------------------------------
# bench dream


def cmd_bench_dream(args: argparse.Namespace) -> int:
    import torch

    from .. import sphere
    from ..models.backbones import load_backbone
    from ..config import DreamConfig
    from ..demo import demo_panorama
    from ..engine.dream import Dreamer, reference_dream, resolve_device

    from ..config import parse_size

    w, h = parse_size(args.size)
    device = resolve_device(args.device)
    layer = args.layer or None
    cfg_values = dict(model=args.model, octaves=args.octaves, octave_scale=args.octave_scale,
                      iterations=args.iterations, device=str(device), seed=0)
    if layer:
        cfg_values["layers"] = [layer]
    else:
        from ..models.backbones import CARDS

        cfg_values["layers"] = [CARDS[args.model].default_layer]
    cfg = DreamConfig(**cfg_values).validate()
    engine_net = load_backbone(cfg.model, random_init=args.random_weights)
    ref_net = load_backbone(cfg.model, fold_bn=False, random_init=args.random_weights).to(device)
    dreamer = Dreamer(cfg, net=engine_net)
    src = sphere.to_tensor(demo_panorama(w) if w == 2 * h else np.zeros((h, w, 3), np.uint8)).to(device)
    if src.shape[-2:] != (h, w):
        src = torch.nn.functional.interpolate(src, size=(h, w), mode="bilinear")

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    def run_engine():
        sync(); t = time.perf_counter(); dreamer.dream(src); sync(); return time.perf_counter() - t

    def run_ref():
        sync(); t = time.perf_counter()
        reference_dream(ref_net, src, cfg.layers[0], cfg.octaves, cfg.octave_scale, cfg.iterations)
        sync(); return time.perf_counter() - t

    if args.warmup:
        run_engine(); run_ref()
    eng, ref = [], []
    for _ in range(args.repeat):  # interleaved, so both see the same machine load
        ref.append(run_ref())
        eng.append(run_engine())
    engine_s, reference_s = float(np.median(eng)), float(np.median(ref))
    result = {"size": f"{w}x{h}", "model": cfg.model, "layer": cfg.layers[0], "octaves": cfg.octaves,
              "octave_scale": cfg.octave_scale, "iterations": cfg.iterations, "device": str(device),
              "engine_s": round(engine_s, 4), "reference_s": round(reference_s, 4),
              "ratio": round(reference_s / engine_s, 4), "engine_fps": round(1 / engine_s, 4),
              "reference_fps": round(1 / reference_s, 4), "repeat": args.repeat,
              "random_weights": bool(args.random_weights), "machine": platform.processor() or platform.machine(),
              "threads": torch.get_num_threads()}
    if device.type == "cuda":
        result["gpu"] = torch.cuda.get_device_name(device)
        result["peak_memory_gb"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 3)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"dream {w}x{h}, {cfg.model} -> {cfg.layers[0]}, {cfg.octaves} octaves x {cfg.octave_scale}, "
              f"{cfg.iterations} iterations, {device} ({result['threads']} threads), median of {args.repeat}")
        print(f"  engine (sphere-correct): {engine_s:8.3f} s/frame  {1 / engine_s:7.3f} fps")
        print(f"  plain reference:         {reference_s:8.3f} s/frame  {1 / reference_s:7.3f} fps")
        print(f"  ratio reference/engine:  {reference_s / engine_s:8.3f}")
    return 0


# ----------------------------------------------------------------------------
# registration


def register(sub) -> None:
    p = sub.add_parser("dream", help="dream a 360° image or video (or an ordinary picture with --flat)",
                       description="Dream INPUT into OUTPUT and write OUTPUT.json with every parameter.")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress or summary")
    add_dream_options(p)
    pipeline = _pipeline()
    if pipeline is not None and hasattr(pipeline, "add_video_arguments"):
        pipeline.add_video_arguments(p)
    p.set_defaults(func=cmd_dream)

    p = sub.add_parser("models", help="list backbones, their layers and whether weights are available")
    p.add_argument("--layers", action="store_true", help="list every dreamable layer")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("inspect", help="seam and pole figures of a dreamed panorama against its source")
    p.add_argument("source")
    p.add_argument("dream")
    p.add_argument("--json", action="store_true", help="one machine-readable line")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("demo", help="compose a panorama from bundled photos and dream it (no downloads)")
    p.add_argument("--out", default="demo-out", help="output folder (default demo-out)")
    p.add_argument("--width", type=int, default=1024, help="panorama width (default 1024)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--no-video", action="store_true", help="only the still panorama")
    p.set_defaults(func=cmd_demo)


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
