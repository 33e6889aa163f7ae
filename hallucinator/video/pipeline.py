"""Video dreaming: decode, carry the dream along the flow, encode, cache, resume, record.

How a clip is dreamed (see docs/video.md for the reasoning and the figures):

* Every source frame is decoded (rotation applied), split into eyes for
  top-bottom stereo, and resampled to the working size (2:1 per eye).
* The first frame of a chain is dreamed from scratch ("cold", the full
  configuration).  Every later frame starts from the previous dream's
  residual ``R = dream - source`` carried into it: warped along the
  wrap-aware optical flow where things move (``moving`` of it kept), taken
  unwarped where nothing moves (``static`` of it kept, so still areas are not
  blurred by resampling), and dropped where the forward–backward check finds
  an occlusion.  The engine injects that residual band by band into its
  octave loop and dreams ``warm_iterations`` per octave (by default
  ``(1 - moving)`` of the cold iterations, at least one): the carried
  residual decays by ``moving`` per frame and the short dream tops it up, so
  the dream neither fades nor accumulates.  A final gain keeps the residual's
  mean strength at that of the chain's cold frame (``normalise_strength``).
  A frame where most pixels are occluded (a cut) starts a new chain.
* ``--independent`` dreams every frame from scratch with the same settings.
* Octave pyramids, flows and dreamed frames are cached on disk under keys
  made of the source file's SHA-256 and the parameters that affect them; all
  cache writes are atomic, so a run killed at any moment resumes exactly.
  Everything downstream of a dreamed frame uses its 8-bit form (as cached),
  so a resumed run gives the same bytes as an uninterrupted one.
"""
from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import flow as flowmod
from ..config import parse_size as config_parse_size
from ..errors import UserError
from ..atomic import atomic_write
from ..provenance import sha256_file, short_hash, versions
from .flow import FlowParams
from ..io.probe import VideoInfo, is_video
from ..io.reader import VideoReader
from ..io.writer import PngSequenceWriter, VideoWriter, disk_full
CACHE_VERSION = 1


# ----------------------------------------------------------------------------
# settings


@dataclass(frozen=True)
class BlendParams:
    """How the previous dream is carried into the next frame (part of the dream cache key)."""

    name: str = "coherent"
    moving: float = 0.9              # kept fraction of the warped residual where things move
    static: float = 0.9              # kept fraction of the unwarped residual where nothing moves
    motion_threshold: float = 0.5    # pixels of flow (warping is in pixels); a 0-255 level when motion_normalised
    motion_normalised: bool = False  # the 2017 rule: magnitude scaled per frame to 0-255
    occlusion: bool = True           # drop the residual where the forward-backward check fails
    warm_iterations: Optional[int] = None   # per octave on carried frames; None: (1 - moving) * iterations
    normalise_strength: bool = True  # keep the residual's mean strength at the chain's cold frame's
    reset_fraction: float = 0.5      # start a new chain when more than this fraction is occluded (a cut)
    interpolation: str = "cubic"     # warping the residual: cubic keeps its detail (linear blurs it frame by frame)
    flow: FlowParams = FlowParams()

    def to_dict(self) -> dict:
        return asdict(self)

    def warm_iters(self, iterations: int) -> int:
        if self.warm_iterations is not None:
            return max(0, int(self.warm_iterations))
        return max(1, int(round((1.0 - self.moving) * iterations)))


BLEND_PRESETS: Dict[str, BlendParams] = {
    "coherent": BlendParams(),
    # Suzuki et al. 2017 preprocessor ratios and flow (see REFERENCE.md), with the two things it lacked:
    # occlusion handling and a schedule that keeps the strength stable.
    "hallucination-machine": BlendParams(
        name="hallucination-machine", moving=0.9, static=0.1, motion_threshold=6.0, motion_normalised=True,
        flow=FlowParams(method="farneback")),
}


@dataclass
class VideoOptions:
    """Everything about a video run that is not the dream configuration."""

    frames: Optional[Tuple[int, Optional[int]]] = None   # [A, B)
    size: Optional[Tuple[int, int]] = None                # (W, H) per eye, 2:1
    codec: str = "libx264"
    crf: int = 18
    x264_preset: str = "medium"
    png_dir: Optional[str] = None
    control: Optional[str] = None
    cache_dir: Optional[str] = None
    independent: bool = False
    blend: BlendParams = BlendParams()
    stereo: str = "auto"          # auto | mono | top-bottom
    to_2to1: bool = False
    audio: bool = True
    threads: int = 0
    quality_frames: int = 3       # frames on which the seam/pole figures are computed
    progress: bool = True


def default_cache_dir() -> Path:
    env = os.environ.get("HALLUCINATOR_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "hallucinator"


# ----------------------------------------------------------------------------
# atomic cache


class Cache:
    """Files under a cache folder, written atomically (temp name in the same folder, then rename)."""

    def __init__(self, root):
        self.root = Path(root)

    def path(self, *parts) -> Path:
        return self.root.joinpath(*[str(p) for p in parts])

    def write_bytes(self, path: Path, data: bytes) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
        except OSError as exc:
            if disk_full(exc):
                raise UserError(f"disk full while writing the cache in {self.root}; free some space (or use "
                                "--cache-dir on another disk) and run the same command again — finished "
                                "frames are kept") from None
            raise UserError(f"cannot write the cache in {self.root}: {exc.strerror}; check permissions "
                            "or choose another --cache-dir") from None

    def read_bytes(self, path: Path) -> Optional[bytes]:
        try:
            return path.read_bytes()
        except OSError:
            return None

    # typed helpers --------------------------------------------------------

    def save_png(self, path: Path, image: np.ndarray) -> None:
        import cv2

        ok, buf = cv2.imencode(".png", np.ascontiguousarray(image[..., ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, 1])
        if not ok:
            raise RuntimeError("PNG encoding failed")
        self.write_bytes(path, buf.tobytes())

    def load_png(self, path: Path, shape) -> Optional[np.ndarray]:
        import cv2

        data = self.read_bytes(path)
        if data is None:
            return None
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if img is None or img.shape != tuple(shape):
            return None
        return np.ascontiguousarray(img[..., ::-1])

    def save_arrays(self, path: Path, compress: bool = False, **arrays) -> None:
        buf = io.BytesIO()
        (np.savez_compressed if compress else np.savez)(buf, **arrays)
        self.write_bytes(path, buf.getvalue())

    def load_arrays(self, path: Path) -> Optional[Dict[str, np.ndarray]]:
        data = self.read_bytes(path)
        if data is None:
            return None
        try:
            with np.load(io.BytesIO(data)) as z:
                return {k: z[k] for k in z.files}
        except Exception:
            return None

    def save_tensors(self, path: Path, tensors) -> None:
        import torch

        buf = io.BytesIO()
        torch.save([t.detach().cpu() for t in tensors], buf)
        self.write_bytes(path, buf.getvalue())

    def load_tensors(self, path: Path):
        import torch

        data = self.read_bytes(path)
        if data is None:
            return None
        try:
            return torch.load(io.BytesIO(data), weights_only=True)
        except Exception:
            return None

    def write_json(self, path: Path, obj) -> None:
        self.write_bytes(path, json.dumps(obj, indent=1, sort_keys=True, default=str).encode())

    # maintenance ----------------------------------------------------------

    def size(self) -> Tuple[int, int]:
        total = files = 0
        if self.root.exists():
            for dirpath, _, names in os.walk(self.root):
                for n in names:
                    try:
                        total += os.path.getsize(os.path.join(dirpath, n))
                        files += 1
                    except OSError:
                        pass
        return total, files

    def clear(self) -> None:
        if self.root.exists():
            shutil.rmtree(self.root)


def file_sha256(path, cache: Optional[Cache] = None) -> str:
    """SHA-256 of a file's content; remembered in the cache by (path, size, mtime)."""
    st = os.stat(path)
    key = short_hash([os.path.abspath(path), st.st_size, st.st_mtime_ns])
    memo = cache.path("hashes", key) if cache else None
    if memo is not None:
        data = cache.read_bytes(memo)
        if data and len(data) == 64:
            return data.decode()
    digest = sha256_file(path)
    if memo is not None:
        cache.write_bytes(memo, digest.encode())
    return digest


# ----------------------------------------------------------------------------
# source preparation: rotation, stereo, size


@dataclass(frozen=True)
class Layout:
    """How source frames become the working frames that are dreamed."""

    eyes: int                  # 1 mono, 2 top-bottom stereo
    width: int                 # working (and output) size of one eye
    height: int
    rotation: int
    to_2to1: bool

    def key(self) -> str:
        return short_hash(asdict(self))

    def split(self, image: np.ndarray) -> List[np.ndarray]:
        """Decoded frame (rotation applied) -> working frames, one per eye, uint8 (H, W, 3)."""
        import cv2

        if self.eyes == 2:
            h = image.shape[0] // 2
            parts = [image[:h], image[h:2 * h]]
        else:
            parts = [image]
        out = []
        for p in parts:
            if p.shape[:2] != (self.height, self.width):
                shrink = p.shape[1] > self.width or p.shape[0] > self.height
                p = _resize_wrap(p, self.width, self.height, cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
            out.append(np.ascontiguousarray(p))
        return out

    def join(self, eyes: Sequence[np.ndarray]) -> np.ndarray:
        return eyes[0] if len(eyes) == 1 else np.concatenate(list(eyes), axis=0)

    @property
    def out_size(self) -> Tuple[int, int]:
        return self.width, self.height * self.eyes


def _resize_wrap(image: np.ndarray, width: int, height: int, interpolation) -> np.ndarray:
    """Resize an equirect uint8 image, treating ±180° as neighbours (tile, resize, crop)."""
    import cv2

    w = image.shape[1]
    tiled = np.concatenate([image[:, -w // 8:], image, image[:, :w // 8]], axis=1) if w >= 8 else image
    pad = w // 8 if w >= 8 else 0
    scale = width / w
    big_w = int(round(tiled.shape[1] * scale))
    out = cv2.resize(tiled, (big_w, height), interpolation=interpolation)
    start = int(round(pad * scale))
    out = out[:, start:start + width]
    if out.shape[1] != width:  # rounding: fall back to a plain resize
        out = cv2.resize(image, (width, height), interpolation=interpolation)
    return out


def plan_layout(info: VideoInfo, opts: VideoOptions) -> Layout:
    """Decide eyes and working size from the source and the options, refusing what cannot work."""
    w, h = info.display_size
    stereo = opts.stereo
    if stereo == "auto":
        if info.stereo in ("top-bottom",):
            stereo = "top-bottom"
        elif info.stereo in (None, "mono", "unspecified"):
            stereo = "mono"
        else:
            raise UserError(f"{info.path} is {info.stereo} stereo, which is not supported; "
                            "convert it to top-bottom, or pass --stereo mono to dream the frame as one picture")
    if stereo not in ("mono", "top-bottom"):
        raise UserError(f"unknown --stereo {stereo!r}; choose auto, mono or top-bottom")
    eyes = 2 if stereo == "top-bottom" else 1
    eh = h // eyes
    aspect = w / eh
    if opts.size:
        W, H = opts.size
        if W != 2 * H or W % 4:
            raise UserError(f"--size {W}x{H} must be 2:1 with a width divisible by 4 (e.g. {W - W % 4}x{(W - W % 4) // 2})")
        if abs(aspect - 2.0) > 0.02 and not opts.to_2to1 and eyes == 1:
            raise UserError(_aspect_message(info, w, h))
    else:
        if eyes == 1 and abs(aspect - 2.0) > 0.02 and not opts.to_2to1:
            raise UserError(_aspect_message(info, w, h))
        W = max(4, (w // 4) * 4)
        H = W // 2
    return Layout(eyes=eyes, width=W, height=H, rotation=info.rotation, to_2to1=bool(opts.to_2to1))


def _aspect_message(info: VideoInfo, w: int, h: int) -> str:
    from math import gcd

    g = gcd(w, h) or 1
    return (f"{info.path} is {w}x{h} ({w // g}:{h // g}), not a 2:1 equirectangular panorama; if it holds a full "
            f"360x180° view pass --to-2to1 to scale it to {w - w % 4}x{(w - w % 4) // 2}, if it is top-bottom "
            "stereo pass --stereo top-bottom, otherwise it cannot be dreamed as 360° video")


def parse_frames(text: Optional[str]) -> Optional[Tuple[int, Optional[int]]]:
    if not text:
        return None
    try:
        a, _, b = text.partition(":")
        start = int(a) if a.strip() else 0
        stop = int(b) if b.strip() else None
    except ValueError:
        raise UserError(f"--frames {text!r} must be A:B (frame numbers, B excluded), e.g. 0:100 or 50:") from None
    if start < 0 or (stop is not None and stop <= start):
        raise UserError(f"--frames {text!r} is empty or negative; give A:B with 0 <= A < B")
    return start, stop


def parse_size(text: Optional[str]) -> Optional[Tuple[int, int]]:
    return config_parse_size(text) if text else None


# ----------------------------------------------------------------------------
# the dreaming loop


@dataclass
class FrameFigures:
    index: int
    strength: float
    brightness_dream: float
    brightness_source: float
    warp_error_dream: Optional[float] = None
    warp_error_source: Optional[float] = None
    occluded: Optional[float] = None
    cold: bool = False
    gain: float = 1.0


@dataclass
class RunResult:
    output: Optional[str]
    control: Optional[str]
    png_dir: Optional[str]
    sidecar: Optional[str]
    frames: int
    dreamed: int
    from_cache: int
    seconds: float
    timings: Dict[str, float]
    quality: Dict[str, Any]
    figures: List[List[FrameFigures]]      # per eye
    frame_key: str
    dream_frames_dir: str


class _Timer:
    def __init__(self):
        self.t: Dict[str, float] = {}

    def add(self, key: str, seconds: float) -> None:
        self.t[key] = self.t.get(key, 0.0) + seconds


def _to_t(img_u8):
    from ..sphere import to_tensor

    return to_tensor(img_u8)


def _residual(dream_u8: np.ndarray, src_u8: np.ndarray) -> np.ndarray:
    return (dream_u8.astype(np.float32) - src_u8.astype(np.float32)) / 255.0


class VideoDreamer:
    """Dream a video file frame by frame with a cache; see :func:`dream_video`."""

    def __init__(self, cfg, opts: VideoOptions, dreamer=None):
        self.cfg = cfg
        self.opts = opts
        self._dreamer = dreamer
        self._warm = None
        self.cache = Cache(opts.cache_dir or default_cache_dir())
        self.timer = _Timer()
        self.warnings: List[str] = []

    # -- engine -------------------------------------------------------------

    @property
    def dreamer(self):
        if self._dreamer is None:
            from ..engine.dream import Dreamer

            t0 = time.perf_counter()
            self._dreamer = Dreamer(self.cfg)
            self.timer.add("load_model", time.perf_counter() - t0)
        return self._dreamer

    @property
    def warm_dreamer(self):
        if self._warm is None:
            from ..engine.dream import Dreamer

            n = self.opts.blend.warm_iters(self.cfg.iterations)
            self._warm = self.dreamer if n == self.cfg.iterations else \
                Dreamer(self.cfg.replace(iterations=n), net=self.dreamer.net)
        return self._warm

    # -- keys ---------------------------------------------------------------

    def keys(self, src_sha: str, layout: Layout) -> Dict[str, str]:
        o = self.opts
        d = self.dreamer
        base = f"{src_sha[:24]}/prep-{layout.key()}"
        chain = {
            "v": CACHE_VERSION, "dream": d.fingerprint(), "independent": o.independent,
            "blend": None if o.independent else o.blend.to_dict(),
            "warm": None if o.independent else self.warm_dreamer.fingerprint(),
            "start": None if o.independent else (o.frames[0] if o.frames else 0),
        }
        alone = {"v": CACHE_VERSION, "dream": d.fingerprint(), "independent": True, "blend": None, "warm": None,
                 "start": None}
        return {
            "base": base,
            "pyramid": f"{base}/pyramid-{d.pyramid_key()}",
            "flow": f"{base}/flow-{short_hash(o.blend.flow.to_dict())}",
            "frames": f"{base}/dream-{short_hash(chain)}",
            "independent_frames": f"{base}/dream-{short_hash(alone)}",
        }

    # -- cached pieces --------------------------------------------------------

    def pyramid(self, key: str, eye: int, index: int, src_u8: np.ndarray):
        """Octave bases of a working frame, smallest first, as the engine takes them.

        Cached as 8-bit levels, zlib-compressed (the source is 8-bit; a quarter of float32's
        size before compression); the run always uses the 8-bit form, cached or not, so
        both give the same bytes.
        """
        import torch

        path = self.cache.path(key, f"eye{eye}", f"{index:06d}.npz")
        z = self.cache.load_arrays(path)
        if z is not None and len(z) == int(z.get("levels", np.array(-1))) + 1:
            levels = [z[f"l{k}"] for k in range(int(z["levels"]))]
            return [torch.from_numpy(a).permute(2, 0, 1)[None].float().div_(255.0) for a in levels], True
        t0 = time.perf_counter()
        levels = [np.ascontiguousarray(p.detach().cpu()[0].permute(1, 2, 0).mul(255.0).round_().clamp_(0, 255)
                                       .to(torch.uint8).numpy()) for p in self.dreamer.pyramid(_to_t(src_u8))]
        self.cache.save_arrays(path, compress=True, levels=np.array(len(levels)),
                               **{f"l{k}": a for k, a in enumerate(levels)})
        self.timer.add("pyramid", time.perf_counter() - t0)
        return [torch.from_numpy(a).permute(2, 0, 1)[None].float().div_(255.0) for a in levels], False

    def flows(self, key: str, eye: int, index: int, prev_u8: np.ndarray, cur_u8: np.ndarray):
        """(forward prev->cur, backward cur->prev) for frame ``index``, float16-rounded as cached."""
        path = self.cache.path(key, f"eye{eye}", f"{index:06d}.npz")
        z = self.cache.load_arrays(path)
        if z is not None and z["forward"].shape[:2] == cur_u8.shape[:2]:
            return z["forward"].astype(np.float32), z["backward"].astype(np.float32), True
        t0 = time.perf_counter()
        fwd, bwd = flowmod.flow_pair(prev_u8, cur_u8, self.opts.blend.flow)
        fwd, bwd = fwd.astype(np.float16), bwd.astype(np.float16)
        self.cache.save_arrays(path, forward=fwd, backward=bwd)
        self.timer.add("flow", time.perf_counter() - t0)
        return fwd.astype(np.float32), bwd.astype(np.float32), False

    # -- one frame ------------------------------------------------------------

    def carry(self, prev_res: np.ndarray, fwd: np.ndarray, bwd: np.ndarray, occ: np.ndarray) -> np.ndarray:
        """The residual carried into the next frame (H, W, 3) float32."""
        b = self.opts.blend
        import cv2

        # whether to warp is a question in pixels: near the poles a small angular motion is many pixels
        moving = flowmod.motion_mask(bwd, b.motion_threshold, normalise=b.motion_normalised, spherical=False)
        interp = {"cubic": cv2.INTER_CUBIC, "linear": cv2.INTER_LINEAR}[b.interpolation]
        warped = flowmod.warp(prev_res, bwd, interp)
        if b.occlusion:
            warped = warped * (~occ)[..., None]
        m = moving[..., None]
        return (b.moving * m * warped + b.static * (1.0 - m) * prev_res).astype(np.float32)

    def dream_frame(self, src_u8, pyr, seed: int, detail: Optional[np.ndarray], ref_strength: Optional[float]):
        """Returns (dream uint8, gain applied)."""
        import torch
        from ..sphere import to_uint8

        src = _to_t(src_u8)
        t0 = time.perf_counter()
        if detail is None:
            out = self.dreamer.dream(src, pyramid=pyr, seed=seed)
        else:
            det = torch.from_numpy(detail).permute(2, 0, 1)[None].contiguous()
            out = self.warm_dreamer.dream(src, pyramid=pyr, detail=det, seed=seed)
        gain = 1.0
        if detail is not None and ref_strength and self.opts.blend.normalise_strength:
            res = out - src
            s = float(res.abs().mean())
            if s > 1e-6:
                gain = float(np.clip(ref_strength / s, 0.5, 2.0))
                out = (src + res * gain).clamp_(0, 1)
        self.timer.add("dream", time.perf_counter() - t0)
        return to_uint8(out), gain

    # -- the run ----------------------------------------------------------------

    def run(self, input_path, output=None) -> RunResult:
        o = self.opts
        t_start = time.perf_counter()
        input_path = str(input_path)
        if output is None and o.png_dir is None:
            raise UserError("give an output video, or --png-dir for a PNG sequence")
        if o.threads:
            import torch

            torch.set_num_threads(int(o.threads))
        for target in (output, o.control):
            if target and os.path.abspath(target) == os.path.abspath(input_path):
                raise UserError(f"output {target} is the input file; choose another name")
        reader = VideoReader(input_path)
        info = reader.info
        layout = plan_layout(info, o)
        if info.bit_depth > 8:
            self.warnings.append(f"source is {info.bit_depth}-bit {info.pix_fmt}; dreamed and written as 8-bit")
        if info.display_size != (layout.width, layout.height * layout.eyes) and not o.size:
            self.warnings.append(f"source {info.display_size[0]}x{info.display_size[1]} resampled to "
                                 f"{layout.width}x{layout.height} per eye")
        if info.rotation:
            self.warnings.append(f"source has a display rotation of {info.rotation}°; frames were turned upright")
        src_sha = file_sha256(input_path, self.cache)
        keys = self.keys(src_sha, layout)
        start, stop = o.frames if o.frames else (0, None)
        if info.frames and start >= info.frames:
            raise UserError(f"--frames starts at {start} but {input_path} has {info.frames} frames")
        total = (min(stop, info.frames) if stop else info.frames) - start if info.frames else None
        self.cache.write_json(self.cache.path(keys["base"], "info.json"),
                              {"source": input_path, "sha256": src_sha, "layout": asdict(layout)})
        self.cache.write_json(self.cache.path(keys["frames"], "settings.json"),
                              {"config": self.cfg.to_dict(), "options": _options_dict(o), "keys": keys})

        writers = []
        fps = info.fps or Fraction(25)
        audio_from = input_path if (o.audio and info.has_audio) else None
        video_writer = control_writer = png_writer = None
        try:
            if output:
                video_writer = self._writer(output, fps, info, layout, audio_from)
                writers.append(video_writer)
            if o.control:
                control_writer = self._writer(o.control, fps, info, layout, audio_from)
                writers.append(control_writer)
            if o.png_dir:
                png_writer = PngSequenceWriter(o.png_dir, start_number=start)
                writers.append(png_writer)
            result = self._loop(reader, info, layout, keys, start, stop, total,
                                video_writer, control_writer, png_writer)
            # audio range follows the frames
            t0 = time.perf_counter()
            for w in writers:
                w.close()
            self.timer.add("encode", time.perf_counter() - t0)
        except BaseException:
            for w in writers:
                w.abort()
            raise
        finally:
            reader.close()
        seconds = time.perf_counter() - t_start
        result.seconds = seconds
        result.output = str(output) if output else None
        result.control = o.control
        result.png_dir = o.png_dir
        quality = result.quality
        timings = dict(self.timer.t, total=seconds,
                       fps=result.frames / seconds if seconds > 0 else None)
        result.timings = timings
        if output or o.png_dir:
            sidecar = Path(str(output or Path(o.png_dir)) + ".json")
            doc = self._sidecar(input_path, src_sha, info, layout, keys, result, quality, timings)
            self.cache.write_bytes(sidecar, json.dumps(doc, indent=2, default=str).encode())
            result.sidecar = str(sidecar)
        return result

    def _writer(self, path, fps, info: VideoInfo, layout: Layout, audio_from):
        """An encoder for the dream or the control; the audio range is set from the first and last frames."""
        o = self.opts
        w, h = layout.out_size
        return VideoWriter(path, fps=fps, width=w, height=h, time_base=info.time_base, codec=o.codec, crf=o.crf,
                           preset=o.x264_preset, audio_from=audio_from,
                           spherical=True, stereo="top-bottom" if layout.eyes == 2 else "mono",
                           metadata={"comment": "dreamed with hallucinator"})

    def _loop(self, reader: VideoReader, info: VideoInfo, layout: Layout, keys, start, stop, total,
              video_writer, control_writer, png_writer) -> RunResult:
        from tqdm import tqdm

        o = self.opts
        eyes = layout.eyes
        frames_dir = self.cache.path(keys["frames"])
        prev_src: List[Optional[np.ndarray]] = [None] * eyes
        prev_dream: List[Optional[np.ndarray]] = [None] * eyes
        ref: List[Optional[float]] = [None] * eyes
        figures: List[List[FrameFigures]] = [[] for _ in range(eyes)]
        indices: List[int] = []
        alone_ok = not o.independent
        alone_figs: List[List[FrameFigures]] = [[] for _ in range(eyes)]
        prev_alone: List[Optional[np.ndarray]] = [None] * eyes
        dreamed = cached = n = 0
        first_pts = None
        last_pts = None
        tb = info.time_base
        step = max(1, int(round(1 / (info.fps * tb)))) if info.fps else 1
        bar = tqdm(total=total, unit="frame", desc="dreaming", disable=not o.progress, dynamic_ncols=True,
                   file=sys.stderr)
        t_decode = time.perf_counter()
        try:
            for frame in reader.frames(start, stop):
                self.timer.add("decode", time.perf_counter() - t_decode)
                pts = frame.pts if frame.pts is not None else (0 if last_pts is None else last_pts + step)
                if first_pts is None:
                    first_pts = pts
                    if video_writer is not None or control_writer is not None:
                        t_first = float(pts * tb)
                        for w in (video_writer, control_writer):
                            if w is not None and w._a is not None:
                                w._audio_start = int(round(Fraction(t_first).limit_denominator(1 << 30) / w._audio_tb))
                out_pts = pts - first_pts
                if last_pts is not None and out_pts <= last_pts:
                    out_pts = last_pts + 1
                    self.warnings.append(f"frame {frame.index} has a timestamp out of order; re-timed")
                last_pts = out_pts
                srcs = layout.split(frame.image)
                outs = []
                for e in range(eyes):
                    dream_u8, fig, was_cached, bwd, occ = self._frame(keys, e, frame.index, srcs[e], prev_src[e],
                                                                      prev_dream[e], ref, start, layout)
                    figures[e].append(fig)
                    if alone_ok:   # the same frames dreamed with --independent, when the cache has them
                        alone = self.cache.load_png(self.cache.path(keys["independent_frames"], f"eye{e}",
                                                                    f"{frame.index:06d}.png"), srcs[e].shape)
                        if alone is None:
                            alone_ok = False
                        else:
                            alone_figs[e].append(_figures(frame.index, alone, srcs[e], prev_src[e], prev_alone[e],
                                                          bwd, occ, cold=True))
                            prev_alone[e] = alone
                    if fig.cold:
                        ref[e] = fig.strength
                    prev_src[e], prev_dream[e] = srcs[e], dream_u8
                    outs.append(dream_u8)
                    dreamed += 0 if was_cached else 1
                    cached += 1 if was_cached else 0
                out = layout.join(outs)
                t0 = time.perf_counter()
                if video_writer is not None:
                    video_writer.write(out, pts=out_pts)
                if control_writer is not None:
                    control_writer.write(layout.join(srcs), pts=out_pts)
                if png_writer is not None:
                    png_writer.write(out)
                self.timer.add("encode", time.perf_counter() - t0)
                indices.append(frame.index)
                n += 1
                bar.update(1)
                bar.set_postfix(dreamed=dreamed, cached=cached, refresh=False)
                t_decode = time.perf_counter()
        finally:
            bar.close()
        if stop is not None:
            end_t = float((first_pts + last_pts + step) * tb) if first_pts is not None else None
            for w in (video_writer, control_writer):
                if w is not None and w._a is not None and end_t is not None:
                    w._audio_end = int(round(Fraction(end_t).limit_denominator(1 << 30) / w._audio_tb))
        quality = self._quality(figures, keys, layout, indices)
        if alone_ok and alone_figs[0]:
            quality["independent"] = clip_figures(alone_figs)
            quality["vs_independent"] = compare(clip_figures(figures), quality["independent"])
        return RunResult(output=None, control=None, png_dir=None, sidecar=None, frames=n, dreamed=dreamed,
                         from_cache=cached, seconds=0.0, timings={}, quality=quality, figures=figures,
                         frame_key=keys["frames"], dream_frames_dir=str(frames_dir))

    def _frame(self, keys, eye: int, index: int, src: np.ndarray, prev_src, prev_dream, ref, start, layout):
        o = self.opts
        path = self.cache.path(keys["frames"], f"eye{eye}", f"{index:06d}.png")
        fwd = bwd = occ = None
        if prev_src is not None:
            fwd, bwd, _ = self.flows(keys["flow"], eye, index, prev_src, src)
            occ = flowmod.occlusion_mask(fwd, bwd)
        occluded = float(occ.mean()) if occ is not None else None
        cold = o.independent or prev_src is None or occluded > o.blend.reset_fraction
        dream_u8 = self.cache.load_png(path, src.shape)
        was_cached = dream_u8 is not None
        gain = 1.0
        if dream_u8 is None:
            pyr, _ = self.pyramid(keys["pyramid"], eye, index, src)
            seed = int(self.cfg.seed) + index
            detail = None if cold else self.carry(_residual(prev_dream, prev_src), fwd, bwd, occ)
            dream_u8, gain = self.dream_frame(src, pyr, seed, detail, None if cold else ref[eye])
            self.cache.save_png(path, dream_u8)
        fig = _figures(index, dream_u8, src, prev_src, prev_dream, bwd, occ, cold=cold, gain=gain)
        return dream_u8, fig, was_cached, bwd, occ

    # -- figures --------------------------------------------------------------------

    def _quality(self, figures: List[List[FrameFigures]], keys, layout: Layout, indices) -> Dict[str, Any]:
        q = clip_figures(figures)
        # seam and pole figures on a few frames (first, middle, last)
        try:
            from .. import quality as imgq
        except ImportError:  # pragma: no cover - the image quality module is part of the engine
            imgq = None
        if imgq is not None and indices and self.opts.quality_frames > 0:
            picks = sorted(set(indices[int(round(k * (len(indices) - 1) / max(1, self.opts.quality_frames - 1)))]
                               for k in range(self.opts.quality_frames)))
            rows = []
            for idx in picks:
                for e in range(layout.eyes):
                    dream = self.cache.load_png(self.cache.path(keys["frames"], f"eye{e}", f"{idx:06d}.png"),
                                                (layout.height, layout.width, 3))
                    src = self._source_for_quality(keys, e, idx, layout)
                    if dream is None or src is None:
                        continue
                    try:
                        f = imgq.inspect(src, dream)
                    except Exception as exc:  # figures are a report, never a reason to lose the output
                        self.warnings.append(f"seam/pole figures failed on frame {idx}: {exc}")
                        continue
                    rows.append({k: f[k] for k in ("seam_ratio", "pole_horizon_coherence_ratio",
                                                   "tangential_bias_excess", "pole_horizon_strength_ratio")
                                 if k in f} | {"frame": idx, "eye": e})
            if rows:
                q["sphere_frames"] = rows
                for k in ("seam_ratio", "pole_horizon_coherence_ratio", "tangential_bias_excess",
                          "pole_horizon_strength_ratio"):
                    vals = [r[k] for r in rows if k in r]
                    if vals:
                        q[f"{k}_mean"] = float(np.mean(vals))
        return q

    def _source_for_quality(self, keys, eye, idx, layout):
        z = self.cache.load_arrays(self.cache.path(keys["pyramid"], f"eye{eye}", f"{idx:06d}.npz"))
        if z is None or "levels" not in z:
            return None
        from ..sphere import resize_equirect, to_tensor, to_uint8

        top = z[f"l{int(z['levels']) - 1}"]
        if top.shape[:2] != (layout.height, layout.width):
            top = to_uint8(resize_equirect(to_tensor(top), layout.height, layout.width))
        return top

    def _sidecar(self, input_path, src_sha, info, layout, keys, result: RunResult, quality, timings):

        from .. import __version__

        d = self.dreamer
        o = self.opts
        return {
            "kind": "video",
            "hallucinator": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "command": sys.argv,
            "input": os.path.abspath(input_path),
            "input_sha256": src_sha,
            "input_info": info.to_dict(),
            "output": os.path.abspath(result.output) if result.output else None,
            "control": os.path.abspath(o.control) if o.control else None,
            "png_dir": os.path.abspath(o.png_dir) if o.png_dir else None,
            "config": self.cfg.to_dict(),
            "fingerprint": d.fingerprint(),
            "warm_fingerprint": None if o.independent else self.warm_dreamer.fingerprint(),
            "warm_iterations": None if o.independent else o.blend.warm_iters(self.cfg.iterations),
            "seeds": "config seed + source frame index",
            "video": _options_dict(o),
            "layout": asdict(layout),
            "frames_written": result.frames,
            "frames_dreamed": result.dreamed,
            "frames_from_cache": result.from_cache,
            "cache": {"dir": str(self.cache.root.resolve()), **keys},
            "versions": versions(),
            "timings_s": timings,
            "quality": quality,
            "warnings": self.warnings + list(getattr(d, "warnings", [])),
        }


def _figures(index, dream_u8, src, prev_src, prev_dream, bwd, occ, cold=False, gain=1.0) -> FrameFigures:
    res = _residual(dream_u8, src)
    fig = FrameFigures(index=index, strength=float(np.abs(res).mean()),
                       brightness_dream=float(dream_u8.mean() / 255.0), brightness_source=float(src.mean() / 255.0),
                       occluded=float(occ.mean()) if occ is not None else None, cold=cold, gain=gain)
    if prev_src is not None and prev_dream is not None:
        valid = ~occ
        fig.warp_error_dream = flowmod.warping_error(prev_dream, dream_u8, bwd, valid)
        fig.warp_error_source = flowmod.warping_error(prev_src, src, bwd, valid)
    return fig


def _options_dict(o: VideoOptions) -> dict:
    d = asdict(o)
    d["blend"] = o.blend.to_dict()
    return d


def clip_figures(figures: List[List[FrameFigures]]) -> Dict[str, Any]:
    """Per-clip figures from per-frame ones (averaged over eyes).

    * ``warp_error``: mean over consecutive pairs of the dream's warping error
      along the source's flow minus the source's own (non-occluded pixels).
    * ``strength``: mean |dream - source| (0-1 scale).
    * ``brightness_drift``: change of the dream's brightness offset
      (dream - source) from the first tenth of the clip to the last tenth,
      relative to the source's mean brightness; ``brightness_drift_max`` the
      largest change from the first frame.
    """
    out: Dict[str, Any] = {}
    werr, strength, src_b, gains, colds = [], [], [], [], 0
    for eye in figures:
        for f in eye:
            strength.append(f.strength)
            src_b.append(f.brightness_source)
            gains.append(f.gain)
            colds += int(f.cold)
            if f.warp_error_dream is not None:
                werr.append(f.warp_error_dream - f.warp_error_source)
    if not strength:
        return out
    out["frames"] = len(figures[0])
    out["warp_error"] = float(np.mean(werr)) if werr else None
    out["warp_error_dream_raw"] = float(np.mean([f.warp_error_dream for e in figures for f in e
                                                 if f.warp_error_dream is not None])) if werr else None
    out["warp_error_source_raw"] = float(np.mean([f.warp_error_source for e in figures for f in e
                                                  if f.warp_error_source is not None])) if werr else None
    out["strength"] = float(np.mean(strength))
    per_eye_offsets = [np.array([f.brightness_dream - f.brightness_source for f in e]) for e in figures]
    mean_src = float(np.mean(src_b)) or 1e-6
    drifts, maxes = [], []
    for off in per_eye_offsets:
        k = max(1, len(off) // 10)
        drifts.append(abs(float(off[-k:].mean() - off[:k].mean())) / mean_src)
        maxes.append(float(np.abs(off - off[0]).max()) / mean_src)
    out["brightness_drift"] = float(np.max(drifts))
    out["brightness_drift_max"] = float(np.max(maxes))
    out["brightness_offset_mean"] = float(np.mean(np.concatenate(per_eye_offsets)))
    out["strength_first"] = float(np.mean([e[0].strength for e in figures]))
    out["strength_last"] = float(np.mean([e[-1].strength for e in figures]))
    out["gain_mean"] = float(np.mean(gains))
    out["cold_frames"] = colds
    return out


def compare(coherent: Dict[str, Any], independent: Dict[str, Any]) -> Dict[str, Any]:
    """Ratios of a coherent run's figures to an independent run's."""
    out = {}
    if coherent.get("warp_error") is not None and independent.get("warp_error"):
        out["warp_error_ratio"] = coherent["warp_error"] / independent["warp_error"]
    if independent.get("strength"):
        out["strength_ratio"] = coherent["strength"] / independent["strength"]
    out["brightness_drift"] = coherent.get("brightness_drift")
    out["brightness_drift_independent"] = independent.get("brightness_drift")
    out["ok"] = bool(out.get("warp_error_ratio", 1) <= 0.5 and 0.8 <= out.get("strength_ratio", 0) <= 1.25
                     and (coherent.get("brightness_drift") or 0) <= 0.02)
    return out


# ----------------------------------------------------------------------------
# plain Python entry point


def dream_video(input, output=None, cfg=None, control=None, *, frames=None, size=None, png_dir=None,
                codec="libx264", crf=18, cache_dir=None, independent=False, blend="coherent", stereo="auto",
                to_2to1=False, audio=True, threads=0, progress=True, dreamer=None, quality_frames=3,
                **blend_overrides) -> RunResult:
    """Dream a 360° video file; write ``output`` (and a matched ``control``); return figures and timings.

    ``frames`` is ``(A, B)`` or ``"A:B"``; ``size`` ``(W, H)`` or ``"WxH"`` (per eye);
    ``blend`` a preset name or :class:`BlendParams`; extra keyword arguments
    override fields of the blend preset (e.g. ``moving=0.8``).
    """
    from ..config import DreamConfig

    cfg = cfg or DreamConfig()
    if isinstance(frames, str):
        frames = parse_frames(frames)
    if isinstance(size, str):
        size = parse_size(size)
    if isinstance(blend, str):
        if blend not in BLEND_PRESETS:
            raise UserError(f"unknown --blend {blend!r}; choose one of {', '.join(BLEND_PRESETS)}")
        blend = BLEND_PRESETS[blend]
    if blend_overrides:
        blend = dataclasses.replace(blend, **blend_overrides)
    opts = VideoOptions(frames=frames, size=size, codec=codec, crf=crf, png_dir=png_dir, control=control,
                        cache_dir=cache_dir, independent=independent, blend=blend, stereo=stereo,
                        to_2to1=to_2to1, audio=audio, threads=threads, progress=progress,
                        quality_frames=quality_frames)
    return VideoDreamer(cfg, opts, dreamer=dreamer).run(input, output)


# ----------------------------------------------------------------------------
# command line


def add_video_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``hallucinator dream`` that apply when INPUT is a video."""
    g = parser.add_argument_group("video (when INPUT is a video file)")
    g.add_argument("--control", metavar="CONTROL.mp4",
                   help="also write the source through the same decode/scale/encode chain, dream off")
    g.add_argument("--frames", metavar="A:B", help="dream frames A (included) to B (excluded), e.g. 0:250")
    g.add_argument("--size", metavar="WxH", help="working and output size per eye, 2:1 (default: the source's)")
    g.add_argument("--png-dir", metavar="DIR", help="also (or only) write the dream as a PNG sequence")
    g.add_argument("--codec", choices=("libx264", "libx265"), default="libx264", help="video codec (H.264/H.265)")
    g.add_argument("--crf", type=int, default=18, help="encoder quality, 0 lossless .. 51 worst (default 18)")
    g.add_argument("--x264-preset", default="medium", help="encoder speed preset (default medium)")
    g.add_argument("--cache-dir", metavar="DIR",
                   help=f"where pyramids, flows and dreamed frames are cached (default {default_cache_dir()}, "
                        "or $HALLUCINATOR_CACHE)")
    g.add_argument("--independent", action="store_true", help="dream every frame alone (no temporal carry)")
    g.add_argument("--blend", default=None, choices=sorted(BLEND_PRESETS),
                   help="temporal blend preset (default coherent; hallucination-machine: the 2017 ratios)")
    g.add_argument("--blend-moving", type=float, help="kept fraction of the warped dream where things move (0.9)")
    g.add_argument("--blend-static", type=float, help="kept fraction of the dream where nothing moves")
    g.add_argument("--motion-threshold", type=float, help="flow magnitude (pixels) above which a pixel moves")
    g.add_argument("--warm-iterations", type=int, help="iterations per octave on carried frames "
                                                        "(default (1 - moving) x iterations, at least 1)")
    g.add_argument("--no-normalise-strength", action="store_true",
                   help="do not hold the carried dream's strength at the first frame's")
    g.add_argument("--flow", choices=flowmod.FLOW_METHODS, help="optical flow method (default dis)")
    g.add_argument("--stereo", choices=("auto", "mono", "top-bottom"), default="auto",
                   help="input layout: auto reads the file's stereo metadata; top-bottom dreams each eye")
    g.add_argument("--to-2to1", action="store_true",
                   help="scale a full panorama stored at another aspect (e.g. 16:9) to 2:1")
    g.add_argument("--no-audio", action="store_true", help="do not copy the audio stream")
    g.add_argument("--threads", type=int, default=0, help="CPU threads for the engine (default: torch's)")


def options_from_args(args, cfg=None) -> VideoOptions:
    g = lambda name, default=None: getattr(args, name, default)  # noqa: E731
    blend_name = g("blend") or ("hallucination-machine" if g("preset") == "hallucination-machine" else "coherent")
    if blend_name not in BLEND_PRESETS:
        raise UserError(f"unknown --blend {blend_name!r}; choose one of {', '.join(BLEND_PRESETS)}")
    blend = BLEND_PRESETS[blend_name]
    changes = {}
    for arg, fld in (("blend_moving", "moving"), ("blend_static", "static"),
                     ("motion_threshold", "motion_threshold"), ("warm_iterations", "warm_iterations")):
        v = g(arg)
        if v is not None:
            changes[fld] = v
    for fld in ("moving", "static"):
        if fld in changes and not 0.0 <= changes[fld] <= 1.0:
            raise UserError(f"--blend-{fld} must lie between 0 and 1")
    if g("no_normalise_strength"):
        changes["normalise_strength"] = False
    if g("flow"):
        changes["flow"] = dataclasses.replace(blend.flow, method=g("flow"))
    if changes:
        blend = dataclasses.replace(blend, **changes)
    return VideoOptions(frames=parse_frames(g("frames")), size=parse_size(g("size")), codec=g("codec") or "libx264",
                        crf=g("crf", 18) if g("crf") is not None else 18,
                        x264_preset=g("x264_preset") or "medium", png_dir=g("png_dir"),
                        control=g("control"), cache_dir=g("cache_dir"), independent=bool(g("independent")),
                        blend=blend, stereo=g("stereo") or "auto", to_2to1=bool(g("to_2to1")),
                        audio=not g("no_audio"), threads=g("threads") or 0)


def run_video(args, cfg) -> int:
    """``hallucinator dream INPUT.mp4 OUTPUT.mp4 ...``: dream a video with the options in ``args``."""
    opts = options_from_args(args, cfg)
    output = getattr(args, "output", None)
    if output and not is_video(output):
        raise UserError(f"output {output} must be a video file (.mp4, .mov, .m4v or .mkv); "
                        "use --png-dir for a PNG sequence")
    quiet = bool(getattr(args, "quiet", False))
    opts.progress = not quiet
    result = VideoDreamer(cfg, opts).run(args.input, output)
    if not quiet:
        print(summary(result))
    return 0


def demo_video(out, seed: int = 0, device: str = "auto", frames: int = 24, size: str = "512x256") -> RunResult:
    """The demo's clip: real 360° footage when the shared test clip is present, else the demo panorama turning.

    Writes ``dream.mp4``, ``control.mp4`` (the matched control) and ``dream.mp4.json`` into ``out``.
    """
    from ..config import DreamConfig

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    clip = Path(os.environ.get("HALLUCINATOR_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    clip = clip / "videos" / "panolens-1941-battle-640x320.mp4"
    if not clip.is_file():
        from ..demo import demo_orbit, demo_panorama

        w, h = parse_size(size)
        clip = out / "orbit-source.mp4"
        with VideoWriter(clip, fps=25, width=w, height=h, crf=16) as wr:
            for img in demo_orbit(demo_panorama(w), frames):
                wr.write(img)
    cfg = DreamConfig(seed=seed, device=device)
    result = dream_video(str(clip), str(out / "dream.mp4"), cfg, control=str(out / "control.mp4"),
                         frames=(0, frames), size=size, cache_dir=str(out / "cache"))
    print(summary(result))
    return result


def summary(r: RunResult) -> str:
    q = r.quality
    lines = [f"{r.frames} frames in {r.seconds:.1f} s ({r.frames / max(r.seconds, 1e-9):.2f} fps): "
             f"{r.dreamed} dreamed, {r.from_cache} from the cache"]
    for label, path in (("dream", r.output), ("control", r.control), ("png", r.png_dir), ("sidecar", r.sidecar)):
        if path:
            lines.append(f"  {label:8s} {path}")
    if q:
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
    else:
        print(f"{cache.root}: {_human(size)} in {files} files")
        if cache.root.exists():
            for src in sorted(p for p in cache.root.iterdir() if p.is_dir() and p.name != "hashes"):
                kinds: Dict[str, int] = {}
                for dirpath, _, names in os.walk(src):
                    kind = next((part.split("-")[0] for part in Path(dirpath).relative_to(src).parts
                                 if part.split("-")[0] in ("pyramid", "flow", "dream")), "other")
                    kinds[kind] = kinds.get(kind, 0) + sum(os.path.getsize(os.path.join(dirpath, n)) for n in names)
                print(f"  source {src.name}: " + ", ".join(f"{k} {_human(v)}" for k, v in sorted(kinds.items())))
    return 0


def _human(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


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
    p.add_argument("--stereo", choices=("auto", "mono", "top-bottom"), default="auto")
    p.add_argument("--baseline", action="store_true",
                   help="also time the second layer with an empty cache (what the cache saves, like for like)")
    p.add_argument("--no-independent", action="store_true", help="skip the --independent comparison")
    p.add_argument("--cache-dir", default=None, help="cache folder (default: a fresh temporary one)")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    p.set_defaults(func=_bench_command)


def _bench_command(args) -> int:
    import tempfile

    from ..config import DreamConfig

    src = args.input or str(Path(__file__).resolve().parents[1].parent / "shared" / "data" / "videos" /
                            "panolens-1941-battle-640x320.mp4")
    if not os.path.isfile(src):
        raise UserError(f"bench input {src} not found; give a video file")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    cfg = DreamConfig(device="cpu")
    changes = {}
    if args.model:
        changes["model"] = args.model
    if args.octaves:
        changes["octaves"] = args.octaves
    if args.iterations:
        changes["iterations"] = args.iterations
    if args.layer:
        changes["layers"] = [args.layer]
    cfg = cfg.replace(**changes)
    from ..models.backbones import CARDS

    card = CARDS.get(cfg.model)
    layer2 = args.layer2 or next((l for l in (card.recommended_layers if card else []) if l != cfg.layers[0]), None)
    tmp = tempfile.mkdtemp(prefix="hallucinator-bench-")
    cache_dir = args.cache_dir or os.path.join(tmp, "cache")
    common = dict(frames=args.frames, size=args.size, cache_dir=cache_dir, blend=args.blend, progress=True,
                  to_2to1=args.to_2to1, stereo=args.stereo)
    report: Dict[str, Any] = {"input": src, "frames": args.frames, "size": args.size, "config": cfg.to_dict()}
    def line(label, r):
        t = r.timings
        return (f"{label}: {r.seconds:.2f} s  [decode {t.get('decode', 0):.2f} s, flow {t.get('flow', 0):.2f} s, "
                f"pyramids {t.get('pyramid', 0):.2f} s, dream {t.get('dream', 0):.2f} s, "
                f"encode {t.get('encode', 0):.2f} s]")

    r1 = dream_video(src, os.path.join(tmp, "a.mp4"), cfg, **common)
    print(line(f"run 1 (layer {cfg.layers[0]}, empty cache)", r1))
    report["run1"] = {"layer": cfg.layers[0], "seconds": r1.seconds, "timings": r1.timings, "quality": r1.quality}
    if args.step2 is not None:
        cfg2, what = cfg.replace(step_size=args.step2 / 255.0), f"step {args.step2:g}/255"
    else:
        cfg2, what = (cfg.replace(layers=[layer2]), f"layer {layer2}") if layer2 else (None, None)
    if cfg2 is not None:
        r2 = dream_video(src, os.path.join(tmp, "b.mp4"), cfg2, **common)
        print(line(f"run 2 ({what}, pyramids and flow from the cache)", r2))
        print(f"second run {r2.seconds:.2f} s vs first {r1.seconds:.2f} s")
        report["run2"] = {"changed": what, "seconds": r2.seconds, "timings": r2.timings}
        if args.baseline:
            r3 = dream_video(src, os.path.join(tmp, "c.mp4"), cfg2,
                             **dict(common, cache_dir=os.path.join(tmp, "cache-empty")))
            print(line(f"run 2 again ({what}, empty cache)", r3))
            print(f"the cache saves {r3.seconds - r2.seconds:.2f} s of {r3.seconds:.2f} s on the second run")
            report["run2_empty_cache"] = {"changed": what, "seconds": r3.seconds, "timings": r3.timings}
    if not args.no_independent:
        ri = dream_video(src, os.path.join(tmp, "i.mp4"), cfg, independent=True, **common)
        c = compare(r1.quality, ri.quality)
        report["independent"] = {"seconds": ri.seconds, "quality": ri.quality}
        report["comparison"] = c
        q1, qi = r1.quality, ri.quality
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
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str))
    if not args.cache_dir:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0
