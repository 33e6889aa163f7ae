"""The video cache: octave pyramids, flows and dreamed frames on disk, under keys of what decides them.

Layout under the cache folder::

    hashes/KEY                                    SHA-256 of a source file, by (path, size, mtime)
    SHA/prep-LAYOUT/info.json                     the source and how its frames are prepared
    SHA/prep-LAYOUT/pyramid-PYR/eyeE/NNNNNN.npz   8-bit octave bases of a working frame
    SHA/prep-LAYOUT/flow-FLOW/eyeE/NNNNNN.npz     float16 flows (previous frame <-> this one)
    SHA/prep-LAYOUT/dream-CHAIN/eyeE/NNNNNN.png   dreamed frames (+ settings.json)

Every write is atomic (a temporary name in the same folder, then a rename),
so a run killed at any moment leaves only whole files and resumes exactly.
"""
from __future__ import annotations

import io
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..atomic import atomic_write
from ..errors import UserError
from ..io.writer import disk_full
from ..provenance import sha256_file, short_hash

CACHE_VERSION = 3   # 2: the caps are carried in polar views; 3: resizes borrow only the filter's reach across the seam
KINDS = ("pyramid", "flow", "dream")


def default_cache_dir() -> Path:
    """``$HALLUCINATOR_CACHE``, else ``$XDG_CACHE_HOME/hallucinator``, else ``~/.cache/hallucinator``."""
    env = os.environ.get("HALLUCINATOR_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "hallucinator"


def write_error(exc: OSError, what: str, hint: str = "or choose another --cache-dir") -> UserError:
    """The one-line error for a failed write of ``what`` (a full disk says so: finished frames are kept)."""
    if disk_full(exc):
        return UserError(f"disk full while writing {what}; free some space (or use --cache-dir on another disk) "
                         "and run the same command again — finished frames are kept")
    return UserError(f"cannot write {what}: {exc.strerror}; check permissions {hint}")


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
            raise write_error(exc, f"the cache in {self.root}") from None

    def read_bytes(self, path: Path) -> Optional[bytes]:
        try:
            return path.read_bytes()
        except OSError:
            return None

    def write_json(self, path: Path, obj) -> None:
        self.write_bytes(path, json.dumps(obj, indent=1, sort_keys=True, default=str).encode())

    # -- frames ----------------------------------------------------------------

    def save_png(self, path: Path, image: np.ndarray) -> None:
        import cv2

        ok, buf = cv2.imencode(".png", np.ascontiguousarray(image[..., ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, 1])
        if not ok:
            raise RuntimeError("PNG encoding failed")
        self.write_bytes(path, buf.tobytes())

    def load_png(self, path: Path, shape) -> Optional[np.ndarray]:
        """The uint8 RGB image at ``path`` if it is there, whole and of ``shape``; else None."""
        import cv2

        data = self.read_bytes(path)
        if data is None:
            return None
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if img is None or img.shape != tuple(shape):
            return None
        return np.ascontiguousarray(img[..., ::-1])

    # -- arrays: pyramids and flows ----------------------------------------------

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

    def save_levels(self, path: Path, levels: List[np.ndarray]) -> None:
        """Octave bases (uint8 HWC, smallest first), zlib-compressed."""
        self.save_arrays(path, compress=True, levels=np.array(len(levels)),
                         **{f"l{k}": a for k, a in enumerate(levels)})

    def load_levels(self, path: Path) -> Optional[List[np.ndarray]]:
        z = self.load_arrays(path)
        if z is None or len(z) != int(z.get("levels", np.array(-1))) + 1:
            return None
        return [z[f"l{k}"] for k in range(int(z["levels"]))]

    def save_flows(self, path: Path, forward: np.ndarray, backward: np.ndarray) -> None:
        self.save_arrays(path, forward=forward.astype(np.float16), backward=backward.astype(np.float16))

    def load_flows(self, path: Path, shape) -> Optional[Tuple[np.ndarray, np.ndarray]]:
        """(forward, backward) float32 if cached for frames of ``shape[:2]``; else None."""
        z = self.load_arrays(path)
        if z is None or z["forward"].shape[:2] != tuple(shape[:2]):
            return None
        return z["forward"].astype(np.float32), z["backward"].astype(np.float32)

    # -- maintenance ---------------------------------------------------------------

    def size(self) -> Tuple[int, int]:
        """(bytes, files) under the cache folder."""
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

    def usage(self) -> Dict[str, Dict[str, int]]:
        """Bytes per source (its SHA-256 folder) and kind (pyramid, flow, dream, other)."""
        out: Dict[str, Dict[str, int]] = {}
        if not self.root.exists():
            return out
        for src in sorted(p for p in self.root.iterdir() if p.is_dir() and p.name != "hashes"):
            kinds = out.setdefault(src.name, {})
            for dirpath, _, names in os.walk(src):
                kind = next((part.split("-")[0] for part in Path(dirpath).relative_to(src).parts
                             if part.split("-")[0] in KINDS), "other")
                kinds[kind] = kinds.get(kind, 0) + sum(os.path.getsize(os.path.join(dirpath, n)) for n in names)
        return out

    def clear(self) -> None:
        if self.root.exists():
            shutil.rmtree(self.root)


def source_sha256(path, cache: Cache) -> str:
    """SHA-256 of a file's content; remembered in the cache by (path, size, mtime)."""
    st = os.stat(path)
    memo = cache.path("hashes", short_hash([os.path.abspath(path), st.st_size, st.st_mtime_ns]))
    data = cache.read_bytes(memo)
    if data and len(data) == 64:
        return data.decode()
    digest = sha256_file(path)
    cache.write_bytes(memo, digest.encode())
    return digest


@dataclass(frozen=True)
class CacheKeys:
    """The cache folders of one run (relative to the cache root)."""

    base: str                 # the source and how its frames are prepared
    pyramid: str              # octave bases, by the engine's pyramid settings
    flow: str                 # flows, by the flow settings
    frames: str               # this run's dreamed frames, by everything that decides them
    independent_frames: str   # the same frames dreamed with --independent (for the comparison)


def cache_keys(src_sha: str, layout_key: str, engines, independent: bool, blend, start: int) -> CacheKeys:
    """Keys from the source's hash, the layout, the engines' fingerprints and the blend.

    ``engines`` names the ``identity`` and ``warm_identity`` of the cold and warm dreamers (the warm one is
    asked only for a coherent run; neither needs to be loaded);
    the blend and ``start`` (the first frame: a chain starts cold there) count only for a coherent run.
    """
    fingerprint = engines.identity.fingerprint()
    chain = {"v": CACHE_VERSION, "dream": fingerprint, "independent": independent,
             "blend": None if independent else blend.to_dict(),
             "warm": None if independent else engines.warm_identity.fingerprint(),
             "start": None if independent else start}
    alone = {"v": CACHE_VERSION, "dream": fingerprint, "independent": True, "blend": None, "warm": None,
             "start": None}
    base, flow = source_keys(src_sha, layout_key, blend)
    return CacheKeys(base=base, pyramid=f"{base}/pyramid-{engines.identity.pyramid_key()}", flow=flow,
                     frames=f"{base}/dream-{short_hash(chain)}",
                     independent_frames=f"{base}/dream-{short_hash(alone)}")


def source_keys(src_sha: str, layout_key: str, blend) -> Tuple[str, str]:
    """(base, flow): the folders of what depends only on the source, its layout and the flow settings (no
    engine), so the flows can be computed and cached before any engine is loaded."""
    base = f"{src_sha[:24]}/prep-{layout_key}"
    return base, f"{base}/flow-{short_hash(blend.flow.to_dict())}"
