"""Dreaming a video file: decode, carry the dream along the flow, encode, cache, resume, record.

How a clip is dreamed (see docs/video.md for the reasoning and the figures):

* Every source frame is decoded (rotation applied), split into eyes for
  top-bottom stereo and resampled to the working size (:mod:`.layout`).
* Each eye's chain carries the dream from frame to frame (:mod:`.chain`);
  ``--independent`` dreams every frame from scratch with the same settings.
* Octave pyramids, flows and dreamed frames are cached on disk under keys of
  the source file's SHA-256 and the parameters that affect them
  (:mod:`.cache`), so a run killed at any moment resumes exactly.
* The dream, a matched control and a PNG sequence are written together
  (:mod:`.sink`); ``OUTPUT.json`` records every parameter and the figures
  (:mod:`.figures`).

:class:`VideoDreamer` takes a :class:`~hallucinator.config.DreamConfig` and
:class:`~hallucinator.video.options.VideoOptions`; :func:`dream_video` is the
plain Python entry point.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

import numpy as np

from ..errors import UserError, notice
from ..io.images import NEUTRAL
from ..io.probe import VideoInfo, has_alpha, parse_stereo, scan_packets
from ..io.reader import VideoReader
from ..io.writer import check_video_output
from ..provenance import versions, write_sidecar
from ..threads import set_threads
from .cache import Cache, CacheKeys, cache_keys, default_cache_dir, source_sha256, write_error
from .chain import ChainDreamer, Engines, EyeChain
from .figures import FrameFigures, Timer, clip_figures, compare, pick_frames, sphere_figures
from .layout import Layout, plan_layout
from .options import BlendParams, VideoOptions, blend_preset, parse_frames
from .sink import Sink

SHARED_CLIP = Path("videos") / "panolens-1941-battle-640x320.mp4"   # under the shared test data


def shared_data_dir() -> Path:
    """``$HALLUCINATOR_SHARED_DATA``, else ``../shared/data`` beside the source checkout."""
    return Path(os.environ.get("HALLUCINATOR_SHARED_DATA",
                               Path(__file__).resolve().parents[3] / "shared" / "data"))


@dataclass
class RunResult:
    output: Optional[str]
    control: Optional[str]
    png_dir: Optional[str]
    frames: int
    dreamed: int
    from_cache: int
    figures: List[List[FrameFigures]]      # per eye
    quality: Dict[str, Any]
    frame_key: str
    dream_frames_dir: str
    seconds: float = 0.0
    timings: Dict[str, float] = field(default_factory=dict)
    sidecar: Optional[str] = None
    scale: Optional[Dict[str, Any]] = None     # a run in chunks on Ray: the plan, workers, retries, timings


@dataclass
class RangeResult:
    """What :meth:`VideoDreamer.dream_range` did: its keys, per-eye figures, frames dreamed and from the cache."""

    keys: CacheKeys
    figures: List[List[FrameFigures]]
    dreamed: int
    from_cache: int


@dataclass
class Source:
    """The input of a run, opened: its reader, what it holds, its hash, layout and cache keys."""

    path: str
    reader: VideoReader
    info: VideoInfo
    sha: str
    layout: Layout
    keys: Optional[CacheKeys]   # set by VideoDreamer._record
    start: int
    stop: Optional[int]


def check_outputs(input_path: str, output, opts: VideoOptions) -> None:
    """Refuse a run with no output, an output that is the input, or an output that cannot be written."""
    if output is None and opts.png_dir is None:
        raise UserError("give an output video, or --png-dir for a PNG sequence")
    for target in (output, opts.control):
        if target and os.path.abspath(target) == os.path.abspath(input_path):
            raise UserError(f"output {target} is the input file; choose another name")
        if target:
            check_video_output(target)


class VideoDreamer:
    """Dream a video file frame by frame with a cache; see :func:`dream_video`."""

    def __init__(self, cfg, opts: VideoOptions, dreamer=None):
        self.cfg = cfg
        self.opts = opts
        opts.blend.validate()
        self.cache = Cache(opts.cache_dir or default_cache_dir())
        self.timer = Timer()
        self.engines = Engines(cfg, self.opts.blend, self.timer, dreamer)
        self.warnings: List[str] = []

    def run(self, input_path, output=None) -> RunResult:
        """Dream ``input_path`` into ``output`` (and the options' control and PNG folder); write the sidecar."""
        o = self.opts
        t_start = time.perf_counter()
        input_path = str(input_path)
        set_threads(int(o.threads) or None)   # 0: torch's default
        self.check_outputs(input_path, output)
        with VideoReader(input_path) as reader:
            src = self.plan(input_path, reader)
            audio_from = input_path if (o.audio and src.info.has_audio) else None
            with Sink(output, o, src.info, src.layout, audio_from, src.start, self.timer, self.warnings) as sink:
                self._record(src)
                result = self._loop(src, sink, output)
        result.seconds = time.perf_counter() - t_start
        result.timings = dict(self.timer.t, total=result.seconds,
                              fps=result.frames / result.seconds if result.seconds > 0 else None)
        if output or o.png_dir:
            result.sidecar = str(output or Path(o.png_dir)) + ".json"
            try:
                write_sidecar(result.sidecar, self.sidecar(src, result))
            except OSError as exc:
                raise write_error(exc, result.sidecar, "or choose another output folder") from None
        return result

    def check_outputs(self, input_path: str, output) -> None:
        """Refuse a run with no output, an output that is the input, or an output that cannot be written."""
        check_outputs(input_path, output, self.opts)

    def plan(self, input_path: str, reader: VideoReader) -> Source:
        """Check the whole file and the range, plan the layout, say what is converted; nothing is written yet."""
        o, info = self.opts, reader.info
        start, stop = o.frames if o.frames else (0, None)
        scan_packets(input_path).require(input_path, stop)
        if info.frames and start >= info.frames:
            raise UserError(f"--frames starts at {start} but {input_path} has {info.frames} frames")
        layout = plan_layout(info, o)
        for note in self._conversions(info, layout):
            self.warnings.append(note)
            notice(f"{input_path}: {note}")
        return Source(input_path, reader, info, "", layout, None, start, stop)

    def _conversions(self, info: VideoInfo, layout: Layout) -> List[str]:
        """One line for each way the frames dreamed differ from the frames in the file."""
        notes = []
        if info.bit_depth > 8:
            notes.append(f"source is {info.bit_depth}-bit {info.pix_fmt}; dreamed and written as 8-bit")
        if info.pix_fmt.startswith(("gray", "ya")):
            notes.append(f"source is grayscale ({info.pix_fmt}); expanded to RGB")
        if has_alpha(info.pix_fmt):
            notes.append(f"source has an alpha channel ({info.pix_fmt}); transparent areas composited onto "
                         f"neutral grey {NEUTRAL}")
        if info.display_size != (layout.width, layout.height * layout.eyes) and not self.opts.size:
            notes.append(f"source {info.display_size[0]}x{info.display_size[1]} resampled to "
                         f"{layout.width}x{layout.height} per eye")
        if info.rotation:
            notes.append(f"source has a display rotation of {info.rotation}°; frames were turned upright")
        return notes

    def _record(self, src: Source) -> None:
        """Hash the source and record it in the cache (once every check has passed and the outputs are open)."""
        src.sha = source_sha256(src.path, self.cache)
        src.keys = self.keys(src.path, src.sha, src.layout, src.start)

    def keys(self, path: str, sha: str, layout: Layout, start: int) -> CacheKeys:
        """The cache keys of a chain that starts cold at frame ``start``; records the source and settings."""
        o = self.opts
        keys = cache_keys(sha, layout.key(), self.engines, o.independent, o.blend, start)
        self.cache.write_json(self.cache.path(keys.base, "info.json"),
                              {"source": path, "sha256": sha, "layout": asdict(layout)})
        self.cache.write_json(self.cache.path(keys.frames, "settings.json"),
                              {"config": self.cfg.to_dict(), "options": o.to_dict(), "keys": asdict(keys)})
        return keys

    def dream_range(self, keys: CacheKeys, eyes: int, frames: Iterable[Tuple[int, List[np.ndarray]]],
                    on_frame: Optional[Callable[[int, List[np.ndarray], bool], None]] = None) -> RangeResult:
        """Dream ``frames`` ((index, working source per eye), in order) as one chain starting cold at the first.

        Frames go into the cache under ``keys`` (from :meth:`keys` with the first frame's index) and to
        ``on_frame(index, dreams, from_cache)``; nothing else is written.  A chunk of a scaled-out run is
        one such range: its warm-up frames and the frames it keeps.
        """
        chainer = ChainDreamer(self.cfg, self.opts, self.cache, keys, self.engines, self.timer)
        chains = chainer.chains(eyes)
        dreamed = cached = 0
        for index, sources in frames:
            dreams, hit = [], True
            for chain, source in zip(chains, sources):
                dream, from_cache = chainer.step(chain, index, source)
                dreams.append(dream)
                hit = hit and from_cache
            cached += int(hit)
            dreamed += int(not hit)
            if on_frame is not None:
                on_frame(index, dreams, hit)
        return RangeResult(keys=keys, figures=[c.figures for c in chains], dreamed=dreamed, from_cache=cached)

    def _loop(self, src: Source, sink: Sink, output) -> RunResult:
        """Every frame of the range: split into eyes, advance each eye's chain, write; then the figures."""
        from tqdm import tqdm

        o = self.opts
        chainer = ChainDreamer(self.cfg, o, self.cache, src.keys, self.engines, self.timer)
        chains = chainer.chains(src.layout.eyes)
        indices: List[int] = []
        dreamed = cached = 0
        info = src.info
        total = (min(src.stop, info.frames) if src.stop else info.frames) - src.start if info.frames else None
        bar = tqdm(total=total, unit="frame", desc="dreaming", disable=not o.progress, dynamic_ncols=True,
                   file=sys.stderr)
        t_decode = time.perf_counter()
        with bar:
            for frame in src.reader.frames(src.start, src.stop):
                self.timer.add("decode", time.perf_counter() - t_decode)
                sources = src.layout.split(frame.image)
                dreams = []
                for chain, source in zip(chains, sources):
                    dream, from_cache = chainer.step(chain, frame.index, source)
                    dreams.append(dream)
                    cached += int(from_cache)
                    dreamed += int(not from_cache)
                sink.write(frame.index, frame.pts, src.layout.join(dreams), src.layout.join(sources))
                indices.append(frame.index)
                bar.update(1)
                bar.set_postfix(dreamed=dreamed, cached=cached, refresh=False)
                t_decode = time.perf_counter()
        return RunResult(output=str(output) if output else None, control=o.control, png_dir=o.png_dir,
                         frames=len(indices), dreamed=dreamed, from_cache=cached,
                         figures=[c.figures for c in chains], quality=self._quality(chains, src, indices),
                         frame_key=src.keys.frames, dream_frames_dir=str(self.cache.path(src.keys.frames)))

    def _quality(self, chains: List[EyeChain], src: Source, indices: List[int]) -> Dict[str, Any]:
        """The clip's figures, seam/pole figures on a few frames, and the comparison with --independent."""
        q = clip_figures([c.figures for c in chains])
        q.update(sphere_figures(self._sphere_pairs(src, pick_frames(indices, self.opts.quality_frames)),
                                self.warnings))
        if all(c.follows_alone for c in chains) and chains[0].alone_figures:
            q["independent"] = clip_figures([c.alone_figures for c in chains])
            q["vs_independent"] = compare(clip_figures([c.figures for c in chains]), q["independent"])
        return q

    def _sphere_pairs(self, src: Source, picks: List[int]):
        """(frame, eye, source, dream) of the picked frames, from the cache (the pyramid's top is the source)."""
        from ..sphere import resize_equirect_image

        layout = src.layout
        for idx in picks:
            for e in range(layout.eyes):
                dream = self.cache.load_png(self.cache.path(src.keys.frames, f"eye{e}", f"{idx:06d}.png"),
                                            (layout.height, layout.width, 3))
                levels = self.cache.load_levels(self.cache.path(src.keys.pyramid, f"eye{e}", f"{idx:06d}.npz"))
                if dream is None or not levels:
                    continue
                yield idx, e, resize_equirect_image(levels[-1], width=layout.width, height=layout.height), dream

    def sidecar(self, src: Source, result: RunResult) -> Dict[str, Any]:
        from .. import __version__

        o, d = self.opts, self.engines.identity
        return {
            "kind": "video",
            "hallucinator": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "command": sys.argv,
            "input": os.path.abspath(src.path),
            "input_sha256": src.sha,
            "input_info": src.info.to_dict(),
            "output": os.path.abspath(result.output) if result.output else None,
            "control": os.path.abspath(o.control) if o.control else None,
            "png_dir": os.path.abspath(o.png_dir) if o.png_dir else None,
            "config": self.cfg.to_dict(),
            "fingerprint": d.fingerprint(),
            "warm_fingerprint": None if o.independent else self.engines.warm_identity.fingerprint(),
            "warm_iterations": None if o.independent else o.blend.warm_iters(self.cfg.iterations),
            "seeds": "config seed + source frame index",
            "video": o.to_dict(),
            "layout": asdict(src.layout),
            "frames_written": result.frames,
            "frames_dreamed": result.dreamed,
            "frames_from_cache": result.from_cache,
            "cache": {"dir": str(self.cache.root.resolve()), **asdict(src.keys)},
            "versions": versions(),
            "timings_s": result.timings,
            "quality": result.quality,
            "warnings": self.warnings + list(getattr(d, "warnings", [])),
        }


def dream_video(input, output=None, cfg=None, control=None, *, frames=None, size=None, png_dir=None,
                codec="libx264", crf=18, cache_dir=None, independent=False, blend="coherent", stereo="auto",
                to_2to1=False, audio=True, threads=0, progress=True, dreamer=None, quality_frames=3,
                **blend_overrides) -> RunResult:
    """Dream a 360° video file; write ``output`` (and a matched ``control``); return figures and timings.

    ``frames`` is ``(A, B)`` or ``"A:B"``; ``size`` ``(W, H)`` or ``"WxH"`` (per eye); ``stereo`` a
    :class:`~hallucinator.io.probe.Stereo` or one of its words (``auto``, ``mono``, ``top-bottom``, ``tb``);
    ``blend`` a preset name or :class:`BlendParams`; extra keyword arguments override fields of the blend
    (e.g. ``moving=0.8``).
    """
    from ..config import DreamConfig, parse_size

    if isinstance(blend, BlendParams):
        blend = replace(blend, **blend_overrides)
    else:
        blend = blend_preset(blend, **blend_overrides)
    opts = VideoOptions(frames=parse_frames(frames) if isinstance(frames, str) else frames,
                        size=parse_size(size) if isinstance(size, str) else size, codec=codec, crf=crf,
                        png_dir=png_dir, control=control, cache_dir=cache_dir, independent=independent, blend=blend,
                        stereo=parse_stereo(stereo), to_2to1=to_2to1, audio=audio, threads=threads,
                        progress=progress, quality_frames=quality_frames)
    return VideoDreamer(cfg or DreamConfig(), opts, dreamer=dreamer).run(input, output)


def demo_video(out, seed: int = 0, device: str = "auto", frames: int = 24, size: str = "512x256") -> RunResult:
    """The demo's clip: real 360° footage when the shared test clip is present, else the demo panorama turning.

    Writes ``dream.mp4``, ``control.mp4`` (the matched control) and ``dream.mp4.json`` into ``out``.
    """
    from ..config import DreamConfig, parse_size
    from ..io.writer import VideoWriter

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    clip = shared_data_dir() / SHARED_CLIP
    if not clip.is_file():
        from ..demo import demo_orbit, demo_panorama

        w, h = parse_size(size)
        clip = out / "orbit-source.mp4"
        with VideoWriter(clip, fps=25, width=w, height=h, crf=16) as wr:
            for img in demo_orbit(demo_panorama(w), frames):
                wr.write(img)
    cfg = DreamConfig(seed=seed, device=device)
    return dream_video(str(clip), str(out / "dream.mp4"), cfg, control=str(out / "control.mp4"),
                       frames=(0, frames), size=size, cache_dir=str(out / "cache"))
