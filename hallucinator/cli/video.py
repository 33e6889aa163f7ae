"""The video side of the command line: ``dream`` on a video, ``cache``, ``bench video``, the demo's clip.

The options of ``hallucinator dream`` that apply to videos are built from
the fields of :class:`~hallucinator.video.options.VideoOptions`,
:class:`~hallucinator.video.options.BlendParams` and
:class:`~hallucinator.video.flow.FlowParams` (their ``help`` metadata);
:func:`options_from_args` turns the parsed command line into
:class:`VideoOptions`, and the library below never sees the namespace.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict

import numpy as np

from ..config import parse_size
from ..errors import UserError
from ..threads import set_threads
from ..io.probe import STEREO_CHOICES, is_video, parse_stereo
from ..video.cache import Cache, default_cache_dir
from ..video.figures import compare
from ..video.flow import FlowParams
from ..video.options import BLEND_PRESETS, BlendParams, VideoOptions, blend_preset, parse_frames
from ..scale.options import ScaleOptions
from ..video.run import SHARED_CLIP, RunResult, VideoDreamer, demo_video, dream_video, shared_data_dir
from ..video.view_figures import against_independent, format_against_independent, format_report, video_figure
from .args import add_dataclass_arguments, values_from_args


def add_video_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``hallucinator dream`` that apply when INPUT is a video."""
    g = parser.add_argument_group("video (when INPUT is a video file)")
    add_dataclass_arguments(g, VideoOptions)
    add_dataclass_arguments(g, BlendParams)
    add_dataclass_arguments(g, FlowParams)
    add_dataclass_arguments(parser.add_argument_group("scale-out on Ray (docs/scale-out.md)"), ScaleOptions)


def scale_from_args(args: argparse.Namespace) -> ScaleOptions:
    """The :class:`ScaleOptions` a parsed ``dream`` command line asks for; its options need ``--ray``."""
    values = values_from_args(args, ScaleOptions)
    if values and not values.get("ray"):
        given = ", ".join("--" + k.replace("_", "-") for k in values)
        raise UserError(f"{given} apply to a run on Ray; add --ray local (or --ray ADDRESS of a cluster)")
    return ScaleOptions(**values).validate()


def options_from_args(args: argparse.Namespace) -> VideoOptions:
    """The :class:`VideoOptions` a parsed ``dream`` command line asks for (``--preset hallucination-machine``
    selects the 2017 blend unless ``--blend`` says otherwise)."""
    values = values_from_args(args, VideoOptions)
    default_blend = "hallucination-machine" if getattr(args, "preset", None) == "hallucination-machine" \
        else "coherent"
    blend = blend_preset(values.pop("blend", default_blend), **values_from_args(args, BlendParams))
    flow = values_from_args(args, FlowParams)
    if flow:
        blend = replace(blend, flow=replace(blend.flow, **flow))
    values["frames"] = parse_frames(values.get("frames"))
    values["size"] = parse_size(values["size"]) if values.get("size") else None
    values["stereo"] = parse_stereo(values.get("stereo", "auto"))
    return VideoOptions(blend=blend, **values)


def run_video(args: argparse.Namespace, cfg) -> int:
    """``hallucinator dream INPUT.mp4 OUTPUT.mp4 ...``: dream a video with the options in ``args``."""
    output = getattr(args, "output", None)
    if output and not is_video(output):
        raise UserError(f"output {output} must be a video file (.mp4, .mov or .m4v); "
                        "use --png-dir for a PNG sequence")
    quiet = bool(getattr(args, "quiet", False))
    opts = replace(options_from_args(args), progress=not quiet)
    scale = scale_from_args(args)
    if scale.ray:
        from ..scale.driver import ScaledRun

        result = ScaledRun(cfg, opts, scale).run(args.input, output)
    else:
        result = VideoDreamer(cfg, opts).run(args.input, output)
    if not quiet:
        print(summary(result))
    return 0


def run_demo(out, seed: int = 0, device: str = "auto") -> int:
    """The demo's clip (see :func:`hallucinator.video.run.demo_video`), with its summary."""
    print(summary(demo_video(out, seed=seed, device=device)))
    return 0


def summary(r: RunResult) -> str:
    """A few lines on a finished run: frames, time, outputs, figures."""
    q = r.quality
    lines = [f"{r.frames} frames in {r.seconds:.1f} s ({r.frames / max(r.seconds, 1e-9):.2f} fps): "
             f"{r.dreamed} dreamed, {r.from_cache} from the cache"]
    for label, path in (("dream", r.output), ("control", r.control), ("png", r.png_dir), ("sidecar", r.sidecar)):
        if path:
            lines.append(f"  {label:8s} {path}")
    if r.scale:
        s = r.scale
        lines.append(f"  {len(s['chunks'])} chunks on {s['workers']} workers ({s['chunks_cached']} from the cache), "
                     f"reruns {sum(s['retries'].values())}")
    if q:
        if q.get("continuity", {}).get("ratio_max") is not None:
            lines.append(f"  chunk boundaries: added warping error up to x{q['continuity']['ratio_max']:.2f} "
                         "the median inside chunks (target <= 1.25)")
        if q.get("warp_error") is not None:
            lines.append(f"  temporal warping error (minus source's) {q['warp_error']:.5f}")
        if q.get("vs_independent"):
            c = q["vs_independent"]
            lines.append(f"  vs --independent: warping error x{c.get('warp_error_ratio', float('nan')):.2f}, "
                         f"strength x{c.get('strength_ratio', float('nan')):.2f}")
        lines.append(f"  strength {q['strength']:.4f}   brightness drift {100 * q['brightness_drift']:.2f}%")
        if "seam_ratio_mean" in q:
            lines.append(f"  seam ratio {q['seam_ratio_mean']:.3f}   pole/horizon coherence "
                         f"{q.get('pole_horizon_coherence_ratio_mean', float('nan')):.3f}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------
# `hallucinator cache`


def register(sub) -> None:
    p = sub.add_parser("cache", help="show the size of the video cache, or clear it")
    p.add_argument("--cache-dir", metavar="DIR", help=f"cache folder (default {default_cache_dir()})")
    p.add_argument("--clear", action="store_true", help="delete everything in the cache")
    p.set_defaults(func=_cache_command)


def _cache_command(args) -> int:
    cache = Cache(args.cache_dir or default_cache_dir())
    size, files = cache.size()
    if args.clear:
        cache.clear()
        print(f"cleared {cache.root}: {_human(size)} in {files} files removed")
        return 0
    print(f"{cache.root}: {_human(size)} in {files} files")
    for source, kinds in cache.usage().items():
        print(f"  source {source}: " + ", ".join(f"{k} {_human(v)}" for k, v in sorted(kinds.items())))
    return 0


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


# ----------------------------------------------------------------------------
# `hallucinator bench video`


def register_bench(bench_sub) -> None:
    p = bench_sub.add_parser("video", help="time a clip dreamed twice (another layer: pyramids and flow reused) "
                                           "and measure temporal coherence against --independent")
    p.add_argument("input", nargs="?", help="video (default: the shared 1941 battle clip)")
    p.add_argument("--frames", default="0:24", help="frames A:B (default 0:24)")
    p.add_argument("--size", default="256x128", help="working size (default 256x128)")
    p.add_argument("--model", default=None, help="model (default: the embedded default)")
    p.add_argument("--layer", default=None, help="layer of the first run")
    p.add_argument("--layer2", default=None, help="layer of the second run (same stride, so pyramids are shared)")
    p.add_argument("--step2", type=float, default=None,
                   help="instead of another layer, dream the second run with this step size (0-255 units): "
                        "another strength at the same cost, so the two times compare like for like")
    p.add_argument("--octaves", type=int, default=None)
    p.add_argument("--iterations", type=int, default=None)
    p.add_argument("--blend", default="coherent", choices=sorted(BLEND_PRESETS))
    p.add_argument("--to-2to1", action="store_true", help="scale a full panorama at another aspect to 2:1")
    p.add_argument("--stereo", choices=STEREO_CHOICES, default="auto")
    p.add_argument("--baseline", action="store_true",
                   help="also time the second layer with an empty cache (what the cache saves, like for like)")
    p.add_argument("--no-independent", action="store_true", help="skip the --independent comparison")
    p.add_argument("--cache-dir", default=None, help="cache folder (default: a fresh temporary one)")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    p.add_argument("--ray-workers", metavar="N,N", help="instead: dream the clip in chunks on a local Ray with "
                   "each number of workers (e.g. 1,2; --threads per worker, default 1) and print the speed-up")
    p.add_argument("--chunk-frames", type=int, default=12, help="with --ray-workers: frames per chunk (default 12)")
    p.add_argument("--overlap-frames", default="6", metavar="K,K",
                   help="with --ray-workers: overlaps, each measured in turn (default 6)")
    p.add_argument("--repeat", type=int, default=3,
                   help="with --ray-workers: runs of each worker count, interleaved; the median speed-up counts")
    p.add_argument("--seeds", metavar="S,S",
                   help="instead: dream the clip once per seed (e.g. 0,1,2) and print each run's view figures, "
                        "their medians and how many seeds meet both targets (they scatter from seed to seed)")
    p.set_defaults(func=_bench_command)


def _bench_config(args):
    """The first run's configuration, and the second run's with what changed (None when nothing can)."""
    from ..config import DreamConfig
    from ..models import MODELS

    changes: Dict[str, Any] = {}
    for name in ("model", "octaves", "iterations"):
        if getattr(args, name):
            changes[name] = getattr(args, name)
    if args.layer:
        changes["layers"] = [args.layer]
    cfg = DreamConfig(device="cpu").replace(**changes)
    if args.step2 is not None:     # in 0-255 units, as DreamConfig.step_size is
        return cfg, cfg.replace(step_size=args.step2), f"step {args.step2:g}"
    card = MODELS.get(cfg.model)
    layer2 = args.layer2 or next((l for l in (card.recommended_layers if card else []) if l != cfg.layers[0]), None)
    return (cfg, cfg.replace(layers=[layer2]), f"layer {layer2}") if layer2 else (cfg, None, None)


def _timing_line(label: str, r: RunResult) -> str:
    t = r.timings
    return (f"{label}: {r.seconds:.2f} s  [decode {t.get('decode', 0):.2f} s, flow {t.get('flow', 0):.2f} s, "
            f"pyramids {t.get('pyramid', 0):.2f} s, carry {t.get('carry', 0):.2f} s, dream {t.get('dream', 0):.2f} s, "
            f"encode {t.get('encode', 0):.2f} s]")


def _bench_command(args) -> int:
    src = args.input or str(shared_data_dir() / SHARED_CLIP)
    if not os.path.isfile(src):
        raise UserError(f"bench input {src} not found; give a video file")
    set_threads(args.threads or None)   # 0: torch's default
    cfg, cfg2, what = _bench_config(args)
    report: Dict[str, Any] = {"input": src, "frames": args.frames, "size": args.size, "config": cfg.to_dict()}
    if args.ray_workers and args.seeds:
        raise UserError("--ray-workers and --seeds each choose what bench video measures; give one of them")
    if args.ray_workers:
        from ..scale.bench import bench_scale

        with tempfile.TemporaryDirectory(prefix="hallucinator-bench-") as tmp:
            report["ray"] = bench_scale(src, cfg, args, tmp)
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2, default=str))
        return 0
    with tempfile.TemporaryDirectory(prefix="hallucinator-bench-") as tmp:
        common = dict(frames=args.frames, size=args.size, cache_dir=args.cache_dir or os.path.join(tmp, "cache"),
                      blend=args.blend, progress=True, to_2to1=args.to_2to1, stereo=args.stereo)
        if args.seeds:
            report["seeds"] = _bench_seeds(args.seeds, src, tmp, cfg, common)
            if args.json:
                Path(args.json).write_text(json.dumps(report, indent=2, default=str))
            return 0
        r1 = dream_video(src, os.path.join(tmp, "a.mp4"), cfg, **common)
        print(_timing_line(f"run 1 (layer {cfg.layers[0]}, empty cache)", r1))
        report["run1"] = {"layer": cfg.layers[0], "seconds": r1.seconds, "timings": r1.timings, "quality": r1.quality,
                          "views": video_figure(src, os.path.join(tmp, "a.mp4"))}
        print("run 1 in views up, down and around the horizon:\n" + format_report(report["run1"]["views"]))
        if cfg2 is not None:
            _bench_second_run(args, src, tmp, cfg2, what, r1, common, report)
        if not args.no_independent:
            ri = dream_video(src, os.path.join(tmp, "i.mp4"), cfg, independent=True, **common)
            _bench_independent(r1, ri, report)
            views = video_figure(src, os.path.join(tmp, "i.mp4"))
            report["independent"]["views"] = views
            report["views_against_independent"] = against_independent(report["run1"]["views"], views)
            print("run 1 against the independent frames, in the same views:\n"
                  + format_against_independent(report["views_against_independent"]))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str))
    return 0


def _bench_seeds(text: str, src: str, tmp: str, cfg, common) -> Dict[str, Any]:
    """Run 1 once per seed: each run's view figures (:mod:`~hallucinator.video.view_figures`), then per figure
    its median and how many seeds meet its target, and how many meet both.  A clip's figures scatter from
    seed to seed (the dream amplifies any small difference), so one run says little about a change."""
    from ..scale.bench import parse_counts
    from ..video.view_figures import LIMITS, verdicts

    runs = []
    for seed in parse_counts(text, "--seeds", 0):
        out = os.path.join(tmp, f"seed{seed}.mp4")
        r = dream_video(src, out, cfg.replace(seed=seed), **common)
        views = video_figure(src, out)
        ok = verdicts(views)
        runs.append(dict(seed=seed, seconds=r.seconds, views=views, met={k: ok.get(k, False) for k in LIMITS}))
        print(f"seed {seed}: " + ", ".join(f"{k} {_number(views.get(k))} ({'ok' if ok.get(k) else 'OUT OF RANGE'})"
                                           for k in LIMITS))
    summary: Dict[str, Any] = {"runs": runs, "targets": {k: list(v) for k, v in LIMITS.items()}, "medians": {},
                               "met": {}, "met_all": sum(all(r["met"].values()) for r in runs)}
    for key, (op, limit) in LIMITS.items():
        values = [r["views"][key] for r in runs if r["views"].get(key) is not None]
        summary["medians"][key] = float(np.median(values)) if values else None
        summary["met"][key] = sum(r["met"][key] for r in runs)
        print(f"{key}: median {_number(summary['medians'][key])} (target {op} {limit}), "
              f"met by {summary['met'][key]} of {len(runs)} seeds")
    print(f"both targets met by {summary['met_all']} of {len(runs)} seeds")
    return summary


def _number(value) -> str:
    return f"{value:.3f}" if value is not None else "n/a"


def _bench_second_run(args, src, tmp, cfg2, what, r1: RunResult, common, report) -> None:
    r2 = dream_video(src, os.path.join(tmp, "b.mp4"), cfg2, **common)
    print(_timing_line(f"run 2 ({what}, pyramids and flow from the cache)", r2))
    print(f"second run {r2.seconds:.2f} s vs first {r1.seconds:.2f} s")
    report["run2"] = {"changed": what, "config": cfg2.to_dict(), "seconds": r2.seconds, "timings": r2.timings,
                      "quality": r2.quality}
    if args.baseline:
        r3 = dream_video(src, os.path.join(tmp, "c.mp4"), cfg2, **dict(common, cache_dir=os.path.join(tmp, "empty")))
        print(_timing_line(f"run 2 again ({what}, empty cache)", r3))
        print(f"the cache saves {r3.seconds - r2.seconds:.2f} s of {r3.seconds:.2f} s on the second run")
        report["run2_empty_cache"] = {"changed": what, "seconds": r3.seconds, "timings": r3.timings}


def _bench_independent(r1: RunResult, ri: RunResult, report) -> None:
    q1, qi = r1.quality, ri.quality
    c = compare(q1, qi)
    report["independent"] = {"seconds": ri.seconds, "quality": qi}
    report["comparison"] = c
    print(f"independent run: {ri.seconds:.2f} s")
    print(f"warping error (minus source's): coherent {q1['warp_error']:.5f}  independent {qi['warp_error']:.5f}"
          f"  ratio {c.get('warp_error_ratio', float('nan')):.3f}  (target <= 0.5)")
    print(f"strength: coherent {q1['strength']:.4f}  independent {qi['strength']:.4f}  "
          f"ratio {c.get('strength_ratio', float('nan')):.3f}  (target 0.8-1.25)")
    print(f"strength first/last frame: coherent {q1['strength_first']:.4f}/{q1['strength_last']:.4f}  "
          f"independent {qi['strength_first']:.4f}/{qi['strength_last']:.4f}")
    print(f"brightness drift beyond source: coherent {100 * q1['brightness_drift']:.2f}%  "
          f"(max {100 * q1['brightness_drift_max']:.2f}%)  independent {100 * qi['brightness_drift']:.2f}%"
          "  (target <= 2%)")
    print("verdict:", "ok" if c["ok"] else "NOT MET")
