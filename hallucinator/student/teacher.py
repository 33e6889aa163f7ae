"""What the student learns from: the engine's dreams of real panoramas and video frames, cached on disk.

The plan (:func:`plan_samples`) lists pictures (a panorama, or one eye of one video frame), each with an
augmentation (a yaw roll, a mirror in longitude, a tilt, a hue turn, saturation and brightness gains) that
the TEACHER dreams — the target is the engine's dream of the augmented picture, not a transformed dream —
and a seed for the engine's jitter.
Whole panoramas and one whole video are held out: training never sees them, the figures are measured on them.

Each dream is cached as ``CACHE/<key>.npz`` (the picture at the training size, uint8, and the teacher's
residual, float16), the key being the source's SHA-256, frame and eye, the augmentation, the seed, the size and
the engine's fingerprint; so a rerun or a resumed run never dreams a sample twice.
"""
from __future__ import annotations

import multiprocessing
import sys
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from .. import sphere
from ..atomic import atomic_write
from ..errors import UserError
from ..provenance import sha256_file, short_hash

SKIP_WORDS = ("synthetic",)   # test patterns (the testroom grid), not pictures to learn a look from
DEMO = "demo-panorama"        # the demo panorama, composed from scikit-image's photographs (no file)


@dataclass(frozen=True)
class Aug:
    """An augmentation the teacher dreams: roll by ``roll`` of a turn, mirror in longitude, the sphere tilted
    by ``tilt`` degrees about the forward axis, hue turned by ``hue`` degrees, saturation and brightness scaled.

    The colours and the tilt put content the few training sources have (an orange sunset sky, a level
    horizon) into colours and latitudes they lack: with them the held-out correlation rose from 0.26 to
    0.35 of the teacher's repeatability (docs/student.md)."""

    roll: float = 0.0
    mirror: bool = False
    gain: float = 1.0
    hue: float = 0.0
    saturation: float = 1.0
    tilt: float = 0.0

    def apply(self, img: np.ndarray) -> np.ndarray:
        out = img
        if self.mirror:
            out = out[:, ::-1]
        if self.roll:
            out = np.roll(out, int(round(self.roll * img.shape[1])), axis=1)
        if self.tilt:
            from ..video import flow

            out = flow.render_view(out, flow.tilted_maps(out.shape[1], out.shape[0], self.tilt))
        if self.hue or self.saturation != 1.0:
            out = _recoloured(out, self.hue, self.saturation)
        if self.gain != 1.0:
            out = np.clip(np.rint(out.astype(np.float32) * self.gain), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(out)

    def key(self) -> Dict:
        """What names the augmentation in a cache key: roll, mirror and gain, and any other field that is set
        (so a sample without the newer fields keeps the key it always had)."""
        return {k: v for k, v in asdict(self).items() if k in ("roll", "mirror", "gain") or v != getattr(Aug(), k)}


def _recoloured(img: np.ndarray, hue: float, saturation: float) -> np.ndarray:
    """uint8 RGB with its hue turned by ``hue`` degrees and its saturation scaled by ``saturation``."""
    import cv2

    hsv = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2HSV_FULL).astype(np.float32)
    hsv[..., 0] = np.mod(hsv[..., 0] + hue / 360.0 * 256.0, 256.0)
    hsv[..., 1] = np.clip(hsv[..., 1] * saturation, 0, 255)
    return cv2.cvtColor(np.mod(np.rint(hsv), 256).astype(np.uint8), cv2.COLOR_HSV2RGB_FULL)


@dataclass(frozen=True)
class Picture:
    """A panorama, or one eye of one frame of a video."""

    path: str            # a file, or DEMO
    sha256: str
    frame: int = -1      # -1: a still
    eye: int = 0         # 0 top / mono, 1 bottom of a top-bottom stereo frame

    @property
    def name(self) -> str:
        base = Path(self.path).name
        return base if self.frame < 0 else f"{base}#{self.frame}" + (f"/eye{self.eye}" if self.eye else "")


@dataclass(frozen=True)
class Sample:
    picture: Picture
    aug: Aug
    seed: int
    split: str           # "train" or "heldout"

    def key(self, size: Tuple[int, int], fingerprint: str) -> str:
        return short_hash({"source": self.picture.sha256, "frame": self.picture.frame, "eye": self.picture.eye,
                           "aug": self.aug.key(), "seed": self.seed, "size": list(size), "engine": fingerprint})


@dataclass
class Plan:
    """What a distillation dreams: every sample, and which sources are held out."""

    samples: List[Sample]
    heldout: List[str]                          # source file names kept out of training
    sources: Dict[str, str] = field(default_factory=dict)   # file name -> SHA-256

    def split(self, name: str) -> List[Sample]:
        return [s for s in self.samples if s.split == name]


def default_inputs() -> List[str]:
    """The shared panoramas and videos (those that are present) and the demo panorama."""
    from ..video.run import shared_data_dir

    root = shared_data_dir()
    files = sorted(str(p) for sub in ("panoramas", "videos") for p in (root / sub).glob("*") if p.is_file())
    return files + [DEMO]


def _is_video(path: str) -> bool:
    from ..io.images import is_image_path

    return path != DEMO and not is_image_path(path)


def _eyes(path: str) -> Tuple[int, int]:
    """(frame count, eyes) of a video."""
    from ..io.reader import Decoder

    with Decoder(path) as d:
        layout = d.info.layout
        eyes = layout.eyes if layout is not None else 1
        return d.frame_count(), eyes


def plan_samples(inputs: Sequence[str], heldout: Sequence[str], per_panorama: int = 16, per_video: int = 48,
                 heldout_frames: int = 4, seed: int = 0) -> Plan:
    """The samples of a distillation: ``per_panorama`` augmented dreams of each training panorama, ``per_video``
    frames of each training video (each eye of a stereo one; each with an augmentation), and for each held-out
    source two teacher seeds without augmentation (a panorama) or ``heldout_frames`` frames (a video)."""
    samples: List[Sample] = []
    sources: Dict[str, str] = {}
    names = {Path(p).name for p in inputs}
    for h in heldout:
        if h not in names:
            raise UserError(f"--heldout {h} is not among the inputs; name one of: {', '.join(sorted(names))}")
    used_heldout = []
    for path in inputs:
        name = Path(path).name
        if any(w in name for w in SKIP_WORDS):
            continue
        if path != DEMO and not Path(path).is_file():
            raise UserError(f"input {path} not found; give existing panoramas or videos")
        sha = short_hash(DEMO) if path == DEMO else sha256_file(path)
        sources[name] = sha
        held = name in heldout
        if held:
            used_heldout.append(name)

        def aug(i: int) -> Tuple[Aug, int]:  # the i-th draw of this source: the same whatever the counts
            rng = np.random.default_rng([seed, zlib.crc32(name.encode()), i])
            roll, mirror = float(rng.random()), bool(rng.random() < 0.5)
            gain = float(np.exp(rng.uniform(np.log(0.75), np.log(1.3))))
            jitter_seed = int(rng.integers(1 << 30))
            more = np.random.default_rng([seed, zlib.crc32(name.encode()), i, 7])  # drawn apart: the above stay
            hue = float(more.uniform(-180, 180)) if more.random() < 0.5 else 0.0  # half keep their colours
            saturation = float(np.exp(more.uniform(np.log(0.5), np.log(1.6))))
            tilt = float(more.uniform(-25, 25)) if more.random() < 0.5 else 0.0   # half stay level
            return Aug(roll, mirror, gain, hue, saturation, tilt), jitter_seed

        if not _is_video(path):
            pic = Picture(path, sha)
            if held:
                samples += [Sample(pic, Aug(), s, "heldout") for s in (0, 1)]
            else:
                samples += [Sample(pic, *aug(i), "train") for i in range(per_panorama)]
            continue
        count, eyes = _eyes(path)
        if count <= 0:
            raise UserError(f"{path} has no readable frames")
        n = heldout_frames if held else per_video
        for i, f in enumerate(spread_frames(count, n)):
            for eye in range(eyes):
                pic = Picture(path, sha, int(f), eye)
                if held:
                    samples.append(Sample(pic, Aug(), 0, "heldout"))
                else:
                    samples.append(Sample(pic, *aug(2 * i + eye), "train"))
    return Plan(samples, used_heldout, sources)


def spread_frames(count: int, n: int) -> List[int]:
    """``n`` frame numbers spread over ``count`` frames, in an order whose every prefix is spread too
    (bit-reversed fractions), so asking for fewer frames keeps a prefix of the same frames (and their cache)."""
    out: List[int] = []
    k = 0
    while len(out) < min(n, count):
        f, b, i = 0.0, 0.5, k
        while i:
            f += b * (i & 1)
            i >>= 1
            b /= 2
        frame = int(f * count)
        if frame not in out:
            out.append(frame)
        k += 1
    return out


# -- pictures at the training size


def load_pictures(pictures: Iterable[Picture], size: Tuple[int, int]) -> Dict[Picture, np.ndarray]:
    """Each picture as uint8 (h, w, 3) at ``size`` (w, h), resized wrap-aware; videos decoded once each."""
    from ..io.images import read_image
    from ..io.probe import split_eyes
    from ..io.reader import VideoReader

    w, h = size
    out: Dict[Picture, np.ndarray] = {}
    by_video: Dict[str, List[Picture]] = {}
    for p in set(pictures):
        if p.frame < 0:
            if p.path == DEMO:
                from ..demo import demo_panorama

                img = demo_panorama(1024)
            else:
                img = read_image(p.path)
            out[p] = sphere.resize_equirect_image(img, width=w, height=h)
        else:
            by_video.setdefault(p.path, []).append(p)
    for path, pics in by_video.items():
        wanted: Dict[int, List[Picture]] = {}
        for p in pics:
            wanted.setdefault(p.frame, []).append(p)
        last = max(wanted)
        with VideoReader(path) as reader:
            eyes = reader.info.layout.eyes if reader.info.layout is not None else 1
            for fr in reader.frames(0, last + 1):
                for p in wanted.get(fr.index, []):
                    out[p] = sphere.resize_equirect_image(split_eyes(fr.image, eyes)[p.eye], width=w, height=h)
    return out


# -- the teacher's dreams, cached


def _npz_write(path: Path, **arrays) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    atomic_write(path, write)


class TeacherCache:
    """The teacher's dreams on disk: ``get(sample)`` -> (picture uint8, residual float16) or None."""

    def __init__(self, root, size: Tuple[int, int], fingerprint: str):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.size, self.fingerprint = size, fingerprint

    def path(self, s: Sample) -> Path:
        return self.root / f"{s.key(self.size, self.fingerprint)}.npz"

    def get(self, s: Sample) -> Optional[Tuple[np.ndarray, np.ndarray]]:
        p = self.path(s)
        if not p.is_file():
            return None
        with np.load(p) as z:
            return z["picture"], z["residual"]

    def put(self, s: Sample, picture: np.ndarray, residual: np.ndarray) -> None:
        _npz_write(self.path(s), picture=picture, residual=residual.astype(np.float16))


_dreamer = None


def _worker_init(threads: int) -> None:
    from ..threads import set_threads

    set_threads(threads)


def _teacher():
    global _dreamer
    if _dreamer is None:
        from ..config import DreamConfig
        from ..engine import Dreamer

        _dreamer = Dreamer(DreamConfig(device="cpu"))
    return _dreamer


def teacher_fingerprint() -> str:
    """The engine's fingerprint with the default settings (what the cache keys on)."""
    return _teacher().fingerprint()


def teacher_settings() -> Dict:
    return _teacher().cfg.to_dict()


def dream_residual(picture: np.ndarray, seed: int) -> np.ndarray:
    """The teacher's residual (h, w, 3) float32 of a uint8 picture: the default engine's dream minus it."""
    src = sphere.to_tensor(picture)
    out = _teacher().dream(src, seed=seed).detach()
    return (out - src)[0].permute(1, 2, 0).float().numpy()


def _dream_job(job) -> Tuple[str, float]:
    root, size, fingerprint, sample, picture = job
    t = time.perf_counter()
    cache = TeacherCache(root, size, fingerprint)
    img = sample.aug.apply(picture)
    cache.put(sample, img, dream_residual(img, sample.seed))
    return sample.picture.name, time.perf_counter() - t


def fill_cache(plan: Plan, cache: TeacherCache, jobs: int = 1, threads: int = 1) -> Dict[str, float]:
    """Dream every sample of ``plan`` not yet in ``cache`` (``jobs`` processes of ``threads`` threads each);
    progress on stderr.  Returns counts and seconds."""
    todo = [s for s in plan.samples if not cache.path(s).is_file()]
    done0 = len(plan.samples) - len(todo)
    print(f"hallucinator distill: teacher: {len(plan.samples)} dreams, {done0} cached, {len(todo)} to dream "
          f"({jobs} process(es))", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    if todo:
        pictures = load_pictures([s.picture for s in todo], cache.size)
        work = [(str(cache.root), cache.size, cache.fingerprint, s, pictures[s.picture]) for s in todo]
        if jobs <= 1:
            _worker_init(threads)
            results = map(_dream_job, work)
            _run(results, len(work), t0)
        else:
            # spawned, not forked: a fork of a process whose torch thread pools have started can deadlock
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_worker_init, initargs=(threads,)) as ex:
                _run(ex.map(_dream_job, work), len(work), t0)
    return {"samples": len(plan.samples), "cached_before": done0, "dreamed": len(todo),
            "seconds": round(time.perf_counter() - t0, 1)}


def _run(results, n: int, t0: float) -> None:
    for i, (name, secs) in enumerate(results, 1):
        el = time.perf_counter() - t0
        print(f"hallucinator distill: teacher {i}/{n} {name} {secs:.1f} s (eta {el / i * (n - i) / 60:.1f} min)",
              file=sys.stderr, flush=True)


def load_split(plan: Plan, cache: TeacherCache, split: str) -> Tuple[np.ndarray, np.ndarray, List[Sample]]:
    """(pictures uint8 (N, h, w, 3), residuals float16 (N, h, w, 3), samples) of one split, from the cache."""
    samples = plan.split(split)
    pics, res = [], []
    for s in samples:
        got = cache.get(s)
        if got is None:
            raise UserError(f"teacher dream of {s.picture.name} is missing from {cache.root}; run distill again")
        pics.append(got[0])
        res.append(got[1])
    return np.stack(pics), np.stack(res), samples
