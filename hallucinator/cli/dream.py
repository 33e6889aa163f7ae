"""``hallucinator dream``: a still image here, a video through :mod:`.video`.

The dream settings are the documented fields of
:class:`~hallucinator.config.DreamConfig` (built by :mod:`.args`), with the
precedence flags > ``--config`` > ``--preset`` > defaults; the image path
writes the dream and a provenance sidecar next to it.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Dict

import numpy as np

from ..config import DreamConfig, load_config_file, preset
from ..errors import UserError
from .args import add_dataclass_arguments, values_from_args
from .video import add_video_arguments, run_video


def add_dream_options(p: argparse.ArgumentParser) -> None:
    """Options that set a DreamConfig.  Defaults are None so presets and config files can fill them."""
    g = p.add_argument_group("dream settings (precedence: flags > --config > --preset > defaults)")
    g.add_argument("--preset", help="named settings: default, classic, hallucination-machine, fast")
    g.add_argument("--config", metavar="FILE", help="settings from a TOML file or an earlier output's .json sidecar")
    add_dataclass_arguments(g, DreamConfig)


def config_from_args(args: argparse.Namespace) -> DreamConfig:
    """The DreamConfig of a parsed command line: defaults, then --preset, then --config, then flags."""
    from ..models import get_spec

    values: Dict[str, Any] = {}
    if args.preset:
        values.update(preset(args.preset))
    if args.config:
        values.update(load_config_file(args.config))
    values.update(values_from_args(args, DreamConfig))
    if "model" in values and "layers" not in values:
        values["layers"] = [get_spec(values["model"]).default_layer]
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


def dream_image_file(input_path: str, output_path: str, cfg: DreamConfig, quiet: bool = False) -> Dict[str, Any]:
    """Dream one image file into another, with a JSON sidecar next to it.  Returns the sidecar."""
    import torch

    from .. import quality, sphere
    from ..engine import Dreamer
    from ..io.images import check_writable, read_still_input, unmarked_outputs, write_image_with_sidecar
    from ..provenance import sha256_file, versions

    check_writable(output_path)
    src_u8, notes = read_still_input(input_path, cfg.flat, "pass --flat to dream it as an ordinary picture, or "
                                                           "resample it to 2:1")
    h, w = src_u8.shape[:2]
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
    unmarked = unmarked_outputs(output_path, cfg.flat)
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
        "warnings": [f"input: {n}" for n in notes] + unmarked + list(dreamer.warnings),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    write_image_with_sidecar(output_path, out_u8, sidecar, spherical=not cfg.flat)
    return sidecar


def _quality_line(q: Dict[str, Any]) -> str:
    """The seam and pole figures of a dreamed panorama, on one line."""
    return (f"seam {q['seam_ratio']:.2f}  pole/horizon coherence {q['pole_horizon_coherence_ratio']:.2f}"
            f"  tangential bias excess {q['tangential_bias_excess']:+.2f}"
            f"  pole/horizon strength {q['pole_horizon_strength_ratio']:.2f}")


def cmd_dream(args: argparse.Namespace) -> int:
    from ..io.probe import is_video

    if args.engine == "student":
        return cmd_dream_student(args)
    cfg = config_from_args(args)
    if is_video(args.input):
        return run_video(args, cfg)
    sidecar = dream_image_file(args.input, args.output, cfg, quiet=args.quiet)
    if not args.quiet:
        q = sidecar["quality"]
        line = f"wrote {args.output} and {args.output}.json in {sidecar['timings_s']['dream']:.1f}s"
        if "seam_ratio" in q:
            line += "  " + _quality_line(q)
        print(line)
    return 0


def cmd_dream_student(args: argparse.Namespace) -> int:
    """``dream --engine student``: the distilled student in ONNX Runtime (docs/student.md)."""
    from ..config import parse_size
    from ..io.probe import is_video
    from ..student.runtime import Student
    from ..student import run as student_run

    size = parse_size(args.student_size, "--student-size") if args.student_size else None
    if args.temporal is not None and not 0.0 <= args.temporal < 1.0:
        raise UserError(f"--temporal must be in [0, 1), not {args.temporal}")
    device = (args.device or "auto").split(":")[0]   # cuda:N -> cuda (ONNX Runtime picks the device)
    with Student(args.student, device=device, threads=args.global_threads) as student:
        if not args.quiet:
            print(f"student {student.path.name} on {', '.join(student.providers)}", file=sys.stderr)
        if is_video(args.input):
            from .video import options_from_args
            from dataclasses import replace

            opts = replace(options_from_args(args), progress=not args.quiet)
            if args.output and not is_video(args.output):
                raise UserError(f"output {args.output} must be a video file (.mp4, .mov or .m4v); "
                                "use --png-dir for a PNG sequence")
            side = student_run.dream_video(args.input, args.output, student, opts, size=size,
                                           strength=args.strength, blend=args.temporal)
            if not args.quiet:
                q, t = side["quality"], side["timings_s"]
                print(f"wrote {args.output or opts.png_dir}: {side['frames_written']} frames in {t['total']:.1f} s "
                      f"({t['dream'] / max(side['frames_written'], 1) * 1000:.0f} ms dreaming per frame)  "
                      f"warping error (minus source's) {q.get('warp_error') or 0:.5f}  strength {q['strength']:.4f}  "
                      f"brightness drift {100 * q['brightness_drift']:.2f}%")
            return 0
        side = student_run.dream_image(args.input, args.output, student, size=size, strength=args.strength)
        if not args.quiet:
            print(f"wrote {args.output} and {args.output}.json in {side['timings_s']['dream']:.2f}s  "
                  + _quality_line(side["quality"]))
    return 0


def register(sub) -> None:
    p = sub.add_parser("dream", help="dream a 360° image or video (or an ordinary picture with --flat)",
                       description="Dream INPUT into OUTPUT and write OUTPUT.json with every parameter.")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress or summary")
    g = p.add_argument_group("engine (docs/student.md)")
    g.add_argument("--engine", choices=("gradient", "student"), default="gradient",
                   help="gradient: the dream engine (default); student: the distilled network, an instant preview")
    g.add_argument("--student", metavar="ONNX", help="the student file (default: the shipped "
                                                     "models/student-lite2-block12.onnx)")
    g.add_argument("--student-size", metavar="WxH", help="dream at this size and enlarge the residual onto the "
                                                         "full frame (default: the frame's own size)")
    g.add_argument("--strength", type=float, default=1.0, help="student: multiply the residual (default 1)")
    g.add_argument("--temporal", type=float, metavar="KEEP", default=None,
                   help="student video: keep this part of the previous frame's residual, carried along the flow")
    add_dream_options(p)
    add_video_arguments(p)
    p.set_defaults(func=cmd_dream)
