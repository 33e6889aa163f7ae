"""``hallucinator dream --engine student``: stills and videos through the student, with the engine's outputs.

Stills are written as the engine writes them (PNG/JPEG with XMP GPano via ``io.images.write_image``); videos
through ``video.sink.Sink`` (360° metadata, the source's audio, the matched control, a PNG sequence), frames
split into eyes and resized by ``video.layout`` as the engine's runs are.  Every output gets a sidecar that
names the student (path, SHA-256, providers, card).  Video figures are the engine's: warping error along the
source's wrap-aware flow minus the source's own, strength, brightness drift (``video.figures``).
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import numpy as np

from ..errors import UserError, notice
from ..provenance import sha256_file, versions, write_sidecar
from .runtime import Student
from .temporal import TemporalBlend


def dream_image(input_path: str, output_path: str, student: Student, size: Optional[Tuple[int, int]] = None,
                strength: float = 1.0) -> Dict[str, Any]:
    """Dream one equirect still with the student; write it (with 360° metadata) and its sidecar."""
    from .. import quality
    from ..io.images import check_writable, read_still_input, unmarked_outputs, write_image_with_sidecar

    check_writable(output_path)
    src, notes = read_still_input(input_path, False, "the student dreams panoramas only (use the gradient engine "
                                                     "with --flat for other pictures)")
    h, w = src.shape[:2]
    t0 = time.perf_counter()
    out = student.dream(src, size=size, strength=strength)
    t_dream = time.perf_counter() - t0
    unmarked = unmarked_outputs(output_path, False)
    sidecar = {
        "kind": "hallucinator.dream.image",
        "engine": "student",
        "input": {"path": str(input_path), "sha256": sha256_file(input_path), "width": w, "height": h,
                  "conversions": notes},
        "output": {"path": str(output_path)},
        "student": student.describe(),
        "dream_size": list(size) if size else [w, h],
        "strength": strength,
        "versions": versions(("torch", "numpy", "cv2", "onnxruntime")),
        "timings_s": {"dream": round(t_dream, 4)},
        "quality": quality.inspect(src, out),
        "warnings": [f"input: {n}" for n in notes] + unmarked,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    write_image_with_sidecar(output_path, out, sidecar, spherical=True)
    return sidecar


def dream_video(input_path: str, output: Optional[str], student: Student, opts, size: Optional[Tuple[int, int]] = None,
                strength: float = 1.0, blend: Optional[float] = None) -> Dict[str, Any]:
    """Dream a video with the student (``opts``: :class:`~hallucinator.video.options.VideoOptions`); write the
    dream, control and PNG outputs the options ask for, and the sidecar.  ``blend`` (0..1) carries that part of
    the previous frame's residual along the flow (:class:`TemporalBlend`); None or 0: each frame alone."""
    from tqdm import tqdm

    from ..io.probe import scan_packets
    from ..io.reader import VideoReader
    from ..video.figures import Timer, clip_figures
    from ..video.layout import plan_layout
    from ..video.run import check_outputs
    from ..video.sink import Sink

    check_outputs(input_path, output, opts)
    start, stop = opts.frames if opts.frames else (0, None)
    scan_packets(input_path).require(input_path, stop)
    timer, warnings = Timer(), []
    t_start = time.perf_counter()
    with VideoReader(input_path) as reader:
        info = reader.info
        if info.frames and start >= info.frames:
            raise UserError(f"--frames starts at {start} but {input_path} has {info.frames} frames")
        layout = plan_layout(info, opts)
        if info.display_size != (layout.width, layout.height * layout.eyes) and not opts.size:
            warnings.append(f"source {info.display_size[0]}x{info.display_size[1]} resampled to "
                            f"{layout.width}x{layout.height} per eye")
            notice(f"{input_path}: {warnings[-1]}")
        audio_from = input_path if (opts.audio and info.has_audio) else None
        eyes = [_Eye(student, size, strength, blend, timer) for _ in range(layout.eyes)]
        total = (min(stop, info.frames) if stop else info.frames) - start if info.frames else None
        n = 0
        with Sink(output, opts, info, layout, audio_from, start, timer, warnings) as sink, \
                tqdm(total=total, unit="frame", desc="student", disable=not opts.progress, file=sys.stderr) as bar:
            for frame in reader.frames(start, stop):
                sources = layout.split(frame.image)
                dreams = [eye.step(frame.index, src) for eye, src in zip(eyes, sources)]
                sink.write(frame.index, frame.pts, layout.join(dreams), layout.join(sources))
                n += 1
                bar.update(1)
    seconds = time.perf_counter() - t_start
    sidecar = _video_sidecar(input_path, output, student, opts, info, size, strength, blend, n, timer, seconds,
                             clip_figures([e.figures for e in eyes]), warnings, layout)
    if output or opts.png_dir:
        write_sidecar(str(output or Path(opts.png_dir)) + ".json", sidecar)
    return sidecar


class _Eye:
    """One eye of a student-dreamed video: its dream (alone or blended along the flow) and its figures."""

    def __init__(self, student: Student, size, strength: float, blend: Optional[float], timer):
        self.student, self.size, self.strength, self.timer = student, size, strength, timer
        self.blend = TemporalBlend(blend) if blend else None
        self.figures: list = []
        self.prev: Optional[Tuple[np.ndarray, np.ndarray]] = None

    def step(self, index: int, src: np.ndarray) -> np.ndarray:
        from ..video import flow as flowmod
        from ..video.figures import frame_figures

        t0 = time.perf_counter()
        if self.blend is not None:
            dream = self.blend.dream(self.student, src, size=self.size, strength=self.strength)
        else:
            dream = self.student.dream(src, size=self.size, strength=self.strength)
        self.timer.add("dream", time.perf_counter() - t0)
        t0 = time.perf_counter()
        if self.prev is None:
            self.figures.append(frame_figures(index, dream, src, None, None, None, None))
        else:
            fwd, bwd = flowmod.flow_pair(self.prev[0], src)
            occ = flowmod.occlusion_mask(fwd, bwd)
            self.figures.append(frame_figures(index, dream, src, self.prev[0], self.prev[1], bwd, occ))
        self.timer.add("figures", time.perf_counter() - t0)
        self.prev = (src, dream)
        return dream


def _video_sidecar(input_path, output, student, opts, info, size, strength, blend, n, timer, seconds, quality,
                   warnings, layout) -> Dict[str, Any]:
    sidecar = {
        "kind": "video",
        "engine": "student",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": sys.argv,
        "input": os.path.abspath(input_path),
        "input_sha256": sha256_file(input_path),
        "input_info": info.to_dict(),
        "output": os.path.abspath(output) if output else None,
        "control": os.path.abspath(opts.control) if opts.control else None,
        "png_dir": os.path.abspath(opts.png_dir) if opts.png_dir else None,
        "student": student.describe(),
        "dream_size": list(size) if size else [layout.width, layout.height],
        "strength": strength,
        "temporal_blend": blend or 0.0,
        "video": opts.to_dict(),
        "frames_written": n,
        "versions": versions(("torch", "numpy", "cv2", "av", "onnxruntime")),
        "timings_s": dict(timer.t, total=seconds, fps=n / seconds if seconds > 0 else None),
        "quality": quality,
        "warnings": warnings,
    }
    return sidecar
