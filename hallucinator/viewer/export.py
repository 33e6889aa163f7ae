"""Headless rendering: single stills (``--screenshot``) and participant's-eye replays of pose logs.

Both draw with the same renderer and shaders as live playback, into an
offscreen framebuffer of the requested size, so a replayed pose gives the same
pixels the participant saw.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Callable, Optional, Sequence, Tuple

import numpy as np

from ..atomic import atomic_write
from ..errors import UserError
from .frames import ImageSource, VideoSource, open_source
from .pose import Pose, ReplayPose
from .request import resolve_stereo


def save_png(image: np.ndarray, path) -> Path:
    """Write an RGB uint8 image to ``path`` atomically (temporary name, then rename)."""
    from PIL import Image

    path = Path(path)
    if not path.parent.exists():
        raise UserError(f"folder {path.parent} does not exist; create it or choose another output path")
    fmt = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF"}.get(
        path.suffix.lower())
    if fmt is None:
        raise UserError(f"screenshot {path} must end in .png, .jpg, .bmp or .tif")
    atomic_write(path, lambda tmp: Image.fromarray(image).save(tmp, format=fmt))
    return path


def _frame_image(src, time_s: float = 0.0, index: Optional[int] = None):
    """(frame, index): the frame of ``src`` at ``time_s`` (or ``index``), as the player would upload it."""
    if src.is_still:
        return src.image, 0
    if index is None:
        if time_s < 0 or (src.duration and time_s > src.duration):
            raise UserError(f"--time {time_s:g}s is outside the video (0 to {src.duration:.2f}s)")
        index = src.index_at(time_s)
    f = src.frame_at(index)
    return f, f.index


def _open(source, stack: contextlib.ExitStack):
    """A frame source for a path (closed with ``stack``) or an RGB array; None stays None."""
    if source is None:
        return None
    if isinstance(source, np.ndarray):
        return ImageSource.from_array(source)
    src = open_source(source)
    stack.callback(src.close)
    return src


def _match_renderer(viewer, *sources):
    """Decode as live playback on this renderer would (4:2:0 planes on GPUs, RGB on CPU rasterisers)."""
    for s in sources:
        if isinstance(s, VideoSource):
            s.planar = viewer.renderer.planar


def render_still(source, pose: Pose, size: Tuple[int, int], time_s: float = 0.0, dose: float = 1.0,
                 control=None, stereo="auto", eye: int = 0, viewer=None) -> np.ndarray:
    """Render one view of ``source`` (image or video path, or array) at ``time_s``; returns RGB uint8 (h, w, 3).

    ``stereo``: a :class:`~hallucinator.io.probe.Stereo` or its word (``auto`` reads the file); ``eye`` 0 left, 1 right.
    """
    from .app import Viewer

    with contextlib.ExitStack() as stack:
        src = _open(source, stack)
        ctrl = _open(control, stack)
        layout = resolve_stereo(stereo, src)
        v = viewer if viewer is not None else stack.enter_context(Viewer(size=size, visible=False))
        _match_renderer(v, src, ctrl)
        img, index = _frame_image(src, time_s)
        cimg = _frame_image(ctrl, time_s, index if not ctrl.is_still else None)[0] if ctrl is not None else None
        v.set_frames(img, cimg, layout)
        return v.render_view(pose, dose, eye)


def replay_frames(rows: Sequence[dict], fps: float, per_row: Optional[bool] = None):
    """Which pose-log rows make the output frames.

    One output frame per row when the log has about one row per video frame
    (the usual case); otherwise (a log written at display rate, with extra
    rows from head motion) the rows are resampled at ``fps`` by onset.
    """
    if per_row is None:
        distinct = len({r["frame"] for r in rows})
        per_row = len(rows) <= 1.05 * max(1, distinct) or not fps
    if per_row:
        return list(rows)
    onsets = np.array([r["onset"] for r in rows])
    n = int(np.floor((onsets[-1] - onsets[0]) * fps)) + 1
    idx = np.searchsorted(onsets, onsets[0] + np.arange(n) / fps + 1e-9, side="right") - 1
    return [rows[i] for i in np.clip(idx, 0, len(rows) - 1)]


def export_replay(dream, pose_log, output=None, size: Tuple[int, int] = (1280, 720), control=None,
                  fps: Optional[float] = None, sink: Optional[Callable[[np.ndarray, dict], None]] = None,
                  stereo="auto", eye: int = 0, per_row: Optional[bool] = None, crf: int = 18,
                  progress: bool = False, viewer=None) -> int:
    """Render the viewport sequence recorded in ``pose_log`` (rows from --pose-log) as eye ``eye`` saw it.

    Writes an MP4 to ``output`` (atomically, through :mod:`hallucinator.io.writer`)
    and/or passes each frame to ``sink(image, row)``.  Returns the number of
    frames rendered.
    """
    from .app import Viewer

    rows = pose_log if isinstance(pose_log, list) else ReplayPose.from_file(pose_log).rows
    if not rows:
        raise UserError(f"pose log {pose_log} has no rows; record one with --pose-log")
    with contextlib.ExitStack() as stack:
        src = _open(dream, stack)
        ctrl = _open(control, stack)
        out_fps = fps or (src.fps if not src.is_still else 30.0) or 30.0
        chosen = replay_frames(rows, out_fps, per_row)
        layout = resolve_stereo(stereo, src)
        v = viewer if viewer is not None else stack.enter_context(Viewer(size=size, visible=False))
        _match_renderer(v, src, ctrl)
        writer = None
        if output is not None:
            from ..io.writer import VideoWriter

            writer = VideoWriter(output, fps=out_fps, width=size[0], height=size[1], crf=crf, spherical=False,
                                 metadata={"comment": f"hallucinator replay of {Path(str(pose_log)).name}"})
            stack.push(lambda kind, exc, tb: writer.abort() if kind is not None else writer.close())
        last_index = None
        for n, row in enumerate(chosen, 1):
            if row["frame"] != last_index:
                img, _ = _frame_image(src, index=row["frame"])
                cimg = None
                if ctrl is not None:
                    cimg = _frame_image(ctrl, index=None if ctrl.is_still else row["frame"])[0]
                v.set_frames(img, cimg, layout)
                last_index = row["frame"]
            pixels = v.render_view(ReplayPose.row_pose(row), float(row.get("dose", 1.0)), eye)
            if writer is not None:
                writer.write(pixels)
            if sink is not None:
                sink(pixels, row)
            if progress and (n % 50 == 0 or n == len(chosen)):
                print(f"\rexport: {n}/{len(chosen)} frames", end="\n" if n == len(chosen) else "", flush=True)
    return len(chosen)
