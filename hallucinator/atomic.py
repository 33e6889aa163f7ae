"""The one atomic write: a temporary name beside the target, fsync, rename.

Everything Hallucinator writes for a user — images, sidecars, cached frames,
BIDS tables, MP4 rewrites — goes through :func:`atomic_write`, so a crash or a
full disk leaves either the old file or the new one, never half of one.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable, Union

PathLike = Union[str, os.PathLike]


def temp_path(final: PathLike, tag: str = "part") -> Path:
    """A new, empty temporary file in the same folder as ``final`` (so ``os.replace`` is atomic).

    It gets the usual permissions for new files (``mkstemp`` would make it 0600).
    """
    final = Path(final)
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=f".{tag}.tmp", dir=str(final.parent or "."))
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(name, 0o666 & ~umask)
    return Path(name)


def fsync_dir(path: PathLike) -> None:
    """Flush a folder's entries (a rename) to disk, where the platform allows it."""
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: PathLike, write: Callable[[str], None], tag: str = "part", durable: bool = False) -> None:
    """Call ``write(tmp)`` on a temporary name beside ``path``, then rename it over ``path``.

    On any failure the temporary file is removed and ``path`` is left as it was.
    ``durable`` also flushes the folder after the rename (experiment data).
    """
    path = Path(path)
    tmp = str(temp_path(path, tag))
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    if durable:
        fsync_dir(path.parent)


def _write_synced(tmp: str, data: bytes) -> None:
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def atomic_write_bytes(path: PathLike, data: bytes, durable: bool = False) -> None:
    """Write ``data`` to ``path`` atomically, fsynced."""
    atomic_write(path, lambda tmp: _write_synced(tmp, data), durable=durable)


def atomic_write_text(path: PathLike, text: str, durable: bool = False) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically, fsynced."""
    atomic_write_bytes(path, text.encode("utf-8"), durable=durable)
