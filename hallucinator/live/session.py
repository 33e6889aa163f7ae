"""Opening a live playback: the source (file or camera), the engine, and the dream thread between them.

:func:`open_live` is a context manager giving a :class:`LivePlayback`: what ``Viewer.play`` takes as the
dream and the control (the source itself), the engine's description and the dream thread's figures.  A
still image is dreamed once, before playback.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from ..errors import UserError
from ..viewer.frames import open_source
from ..viewer.request import resolve_stereo
from .camera import CameraSource, parse_camera
from .engines import open_engine
from .options import LiveOptions
from .pipeline import LiveSource, LiveStats, dream_eyes


@dataclass
class LivePlayback:
    dream: Any            # a LiveSource (video, camera) or the dreamed RGB array (still)
    control: Any          # its control: the source frames
    engine: Any
    stats: LiveStats
    description: str      # engine, providers, live size

    def log_metadata(self) -> dict:
        e = self.engine
        return {"live": {"engine": e.name, "providers": list(e.providers), "live_size": list(e.size)}}


def check_source(source: str) -> None:
    """A one-line error for a source that is neither a camera nor an existing file."""
    if parse_camera(source) is None and not Path(source).exists():
        raise UserError(f"{source} not found; give an equirectangular image or video, or a camera as camera:N")


@contextlib.contextmanager
def open_live(source: str, opts: LiveOptions, stereo="auto", loop: bool = False,
              hwaccel: bool = False) -> Iterator[LivePlayback]:
    """Open ``source`` (a file or ``camera:N``) and ``opts``' engine, and start nothing yet."""
    check_source(source)
    with contextlib.ExitStack() as stack:
        cam = parse_camera(source)
        src = CameraSource(cam) if cam is not None else open_source(source, loop=loop, hwaccel=hwaccel)
        stack.callback(src.close)
        engine = stack.enter_context(open_engine(opts))
        layout = resolve_stereo(stereo, src)
        chains = [engine.chain() for _ in range(layout.eyes)]
        stats = LiveStats()
        if src.is_still:
            t0 = time.monotonic()
            dreamed = dream_eyes(chains, src.image)
            stats.add(time.monotonic() - t0, time.monotonic())
            yield LivePlayback(dreamed, src.image, engine, stats, engine.describe())
            return
        src.planar = False   # the engines take RGB
        live = LiveSource(src, engine, layout)
        stack.callback(live.close)
        yield LivePlayback(live, live.control, engine, live.stats, engine.describe())
