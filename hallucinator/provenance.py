"""What every output records about how it was made: one versions collector, one file hash, one sidecar writer.

Image and video sidecars (``OUTPUT.json``) and experiment session files all
take their software versions from :func:`versions` and their file hashes from
:func:`sha256_file`, and are written by :func:`write_sidecar`.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
from pathlib import Path
from typing import Any, Dict, Iterable

from . import __version__
from .atomic import atomic_write_text

# Python packages whose versions decide what a run produces or records.
DEFAULT_PACKAGES = ("torch", "numpy", "cv2", "av")


def _module_version(name: str) -> str | None:
    try:
        module = __import__(name)
    except Exception:
        return None
    version = getattr(module, "__version__", None) or getattr(module, "version", None)
    if name == "OpenGL" and not version:
        version = getattr(getattr(module, "version", None), "__version__", None)
    return str(version) if version is not None else None


def versions(packages: Iterable[str] = DEFAULT_PACKAGES) -> Dict[str, Any]:
    """Versions of Hallucinator, Python, the platform and the named packages that are importable.

    ``cv2`` is reported as ``opencv``; ``av`` adds the FFmpeg libraries it was built with, ``pylsl`` liblsl's.
    """
    out: Dict[str, Any] = {"hallucinator": __version__, "python": platform.python_version(),
                           "platform": platform.platform()}
    for name in packages:
        version = _module_version(name)
        if version is None:
            continue
        out["opencv" if name == "cv2" else name] = version
        if name == "av":
            import av

            out["ffmpeg"] = {k: ".".join(map(str, v)) for k, v in av.library_versions.items()}
        if name == "pylsl":
            import pylsl

            out["liblsl"] = str(pylsl.library_version())
    return out


def sha256_file(path: os.PathLike | str) -> str:
    """SHA-256 of a file's content, as 64 hex digits."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def short_hash(obj: Any) -> str:
    """A 16-hex-digit key for a JSON-able object (cache keys, fingerprints)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def write_sidecar(path: os.PathLike | str, data: Dict[str, Any]) -> None:
    """Write a JSON sidecar atomically (indented, one trailing newline)."""
    atomic_write_text(Path(path), json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
