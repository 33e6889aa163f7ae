"""What a scaled-out run is asked to do: where Ray runs, how many workers, how the clip is cut.

Fields whose metadata has a ``"help"`` are options of ``hallucinator dream`` (built by
:mod:`hallucinator.cli.args`, like :class:`~hallucinator.video.options.VideoOptions`).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional

from ..errors import UserError

LOCAL = "local"


@dataclass(frozen=True)
class ScaleOptions:
    """A video dreamed in chunks on Ray (``ray`` None: the ordinary one-process run)."""

    ray: Optional[str] = field(default=None, metadata={
        "help": "dream the video in chunks as Ray tasks: 'local' starts Ray on this machine, ADDRESS "
                "(host:port, or 'auto') joins a running cluster", "metavar": "local|ADDRESS"})
    workers: int = field(default=0, metadata={
        "help": "chunks dreamed at once (default: one per GPU, else one per CPU core / --threads)",
        "metavar": "N"})
    chunk_frames: int = field(default=48, metadata={
        "help": "frames per chunk (default 48); a chunk also starts at each scene cut", "metavar": "N"})
    overlap_frames: int = field(default=8, metadata={
        "help": "frames a chunk starts early: dreamed from there and faded in over the previous chunk's "
                "last frames (default 8)", "metavar": "K"})
    fade: bool = field(default=True, metadata={
        "help": "drop a chunk's early frames instead of fading them in (a visible jump at each boundary)",
        "flag": "--no-overlap-fade", "action": "store_false"})
    ship_frames: bool = field(default=False, metadata={
        "help": "send source and dreamed frames through Ray's object store (default: workers read the "
                "input and write the cache, which must then be on a filesystem every node shares)"})
    retries: int = field(default=3, metadata={
        "help": "times a chunk is rerun when its worker process dies (default 3)", "flag": "--ray-retries",
        "metavar": "N"})

    def validate(self) -> "ScaleOptions":
        if self.workers < 0:
            raise UserError(f"--workers must be at least 1, not {self.workers}")
        if self.chunk_frames < 1:
            raise UserError(f"--chunk-frames must be at least 1, not {self.chunk_frames}")
        if self.overlap_frames < 0:
            raise UserError(f"--overlap-frames must be 0 or more, not {self.overlap_frames}")
        if self.retries < 0:
            raise UserError(f"--ray-retries must be 0 or more, not {self.retries}")
        return self

    def to_dict(self) -> dict:
        return asdict(self)
