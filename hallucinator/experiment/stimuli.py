"""The videos a session shows, placed in the dataset's ``stimuli/`` folder with their hashes.

BIDS names a stimulus in ``events.tsv`` (``stim_file``) by its path relative
to ``DATA/stimuli/``.  Each file is placed once, at
``stimuli/<stimulus>/<file name>``: hard-linked when the source is on the
same file system, else copied (to a temporary name, fsynced, renamed).
Beside it, ``<file name>.json`` records its SHA-256, size and source.  When
a different file (another hash) arrives under a name already taken, it is
placed as ``<stem>-<first 12 hex digits of its hash><suffix>``: nothing in
``stimuli/`` is ever replaced.  A stimulus file that does not exist (a
simulated session without the videos) keeps its planned name and is not
placed.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, Optional, Tuple

from ..atomic import fsync_dir
from ..provenance import sha256_file
from . import bids
from .protocol import STIMULUS_FILES, Protocol

STIMULI_DIR = "stimuli"
HASH_CHARS = 12          # of the SHA-256 in the name of a file placed beside another of the same name


@dataclass
class StagedStimuli:
    """Where each source file of the session is under ``stimuli/``, and the placed files' hashes."""
    names: Dict[str, str] = field(default_factory=dict)      # source path -> path relative to stimuli/
    sha256: Dict[str, str] = field(default_factory=dict)     # relative path -> SHA-256 (placed files only)

    def name(self, source: Optional[Path]) -> Optional[str]:
        """``source``'s path relative to ``stimuli/`` (its planned one if it was not placed)."""
        if source is None:
            return None
        return self.names.get(str(source), Path(source).name)


def _sidecar(dst: Path) -> Path:
    return dst.with_name(dst.name + ".json")


def _recorded_hash(dst: Path) -> Optional[str]:
    try:
        return bids.load_json(_sidecar(dst)).get("SHA256")
    except (OSError, ValueError):
        return None


def _place(src: Path, dst: Path) -> bool:
    """Hard-link (or copy) ``src`` to ``dst`` through a temporary name; returns whether it was linked."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    if tmp.exists():
        tmp.unlink()
    try:
        os.link(src, tmp)
        linked = True
    except OSError:
        shutil.copyfile(src, tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        linked = False
    os.replace(tmp, dst)
    fsync_dir(dst.parent)
    return linked


def _existing_match(src: Path, dst: Path, digest: str) -> bool:
    """Whether ``dst`` already holds ``src``'s content."""
    if not dst.exists():
        return False
    return (_recorded_hash(dst) or sha256_file(dst)) == digest


def stage_file(root: Path, stimulus: str, kind: str, src: Path) -> Tuple[str, str]:
    """Place ``src`` under ``root/stimuli/<stimulus>/``; returns (relative path, SHA-256)."""
    folder = Path(root) / STIMULI_DIR / stimulus
    dst = folder / src.name
    if dst.exists() and os.path.samefile(src, dst) and _recorded_hash(dst):
        return f"{stimulus}/{dst.name}", _recorded_hash(dst)
    digest = sha256_file(src)
    if dst.exists() and not _existing_match(src, dst, digest):
        dst = folder / f"{src.stem}-{digest[:HASH_CHARS]}{src.suffix}"
    rel = f"{stimulus}/{dst.name}"
    if _existing_match(src, dst, digest):
        return rel, digest
    linked = _place(src, dst)
    bids.write_json(_sidecar(dst), {"SHA256": digest, "Bytes": src.stat().st_size, "Source": str(src),
                                    "Stimulus": stimulus, "Kind": kind,
                                    "Placed": "hard link" if linked else "copy"})
    return rel, digest


def stage(root: Path, protocol: Protocol, conditions: Iterable[str]) -> StagedStimuli:
    """Place every existing file of the stimuli that ``conditions`` show; a missing one keeps its planned name."""
    out = StagedStimuli()
    for name in sorted({protocol.conditions[c].stimulus for c in conditions}):
        stim = protocol.stimuli[name]
        student = stim.live_options.student if stim.live and stim.live_options else None
        for kind, src in [(k, getattr(stim, k)) for k in STIMULUS_FILES] + [("student", student)]:
            if src is None:
                continue
            if not Path(src).is_file():
                out.names[str(src)] = f"{name}/{Path(src).name}"
                continue
            rel, digest = stage_file(root, name, kind, Path(src))
            out.names[str(src)] = rel
            out.sha256[rel] = digest
    return out
