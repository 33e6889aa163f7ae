"""Headless rendering: single stills (``--screenshot``) and participant's-eye replays of pose logs.

Both draw with the same renderer and shaders as live playback, into an
offscreen framebuffer of the requested size, so a replayed pose gives the same
pixels the participant saw.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Optional, Sequence, Tuple

import numpy as np

from ..errors import UserError
from .frames import ImageSource, VideoSource, open_source
from .pose import Pose, ReplayPose


def save_png(image: np.ndarray, path) -> Path:
    """Write an RGB uint8 image to ``path`` atomically (temporary name, then rename)."""
    from PIL import Image

    path = Path(path)
    if not path.parent.exists():
        raise UserError(f"folder {path.parent} does not exist; create it or choose another output path")
    tmp = path.with_name(f".{path.name}.part")
    fmt = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF"}.get(
        path.suffix.lower())
    if fmt is None:
        raise UserError(f"screenshot {path} must end in .png, .jpg, .bmp or .tif")
    try:
        Image.fromarray(image).save(tmp, format=fmt)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _frame_image(src, time_s: float = 0.0, index: Optional[int] = None):
    """(frame, index): the frame of ``src`` at ``time_s`` (or ``index``), as the player would upload it."""
    if src.is_still:
        return src.image, 0
    if index is None:
        if time_s < 0 or (src.duration and time_s > src.duration):
            raise UserError(f"--time {time_s:g}s is outside the video (0 to {src.duration:.2f}s)")
        index = int(round(time_s * src.fps))
    f = src.frame_at(index)
    return f, f.index


def render_still(source, pose: Pose, size: Tuple[int, int], time_s: float = 0.0, dose: float = 1.0,
                 control=None, stereo: str = "auto", eye: int = 0, viewer=None) -> np.ndarray:
    """Render one view of ``source`` (image or video path, or array) at ``time_s``; returns RGB uint8 (h, w, 3)."""
    from .app import Viewer

    src = ImageSource.from_array(source) if isinstance(source, np.ndarray) else open_source(source)
    ctrl = None
    if control is not None:
        ctrl = ImageSource.from_array(control) if isinstance(control, np.ndarray) else open_source(control)
    try:
        layout = stereo if stereo != "auto" else (getattr(src, "stereo", "mono") if getattr(src, "stereo", "mono")
                                                  in ("mono", "tb") else "mono")
        def draw(v):
            for s in (src, ctrl):
                if isinstance(s, VideoSource):
                    s.planar = v.renderer.planar
            img, index = _frame_image(src, time_s)
            cimg = _frame_image(ctrl, time_s, index if not ctrl.is_still else None)[0] if ctrl is not None else None
            v.set_frames(img, cimg, layout)
            return v.render_view(pose, dose, eye)

        if viewer is not None:
            return draw(viewer)
        with Viewer(size=size, visible=False) as v:
            return draw(v)
    finally:
        for s in (src, ctrl):
            if s is not None:
                s.close()


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
                  stereo: str = "auto", per_row: Optional[bool] = None, crf: int = 18, progress: bool = False,
                  viewer=None) -> int:
    """Render the viewport sequence recorded in ``pose_log`` (rows from --pose-log).

    Writes an MP4 to ``output`` (atomically, through :mod:`hallucinator.media`)
    and/or passes each frame to ``sink(image, row)``.  Returns the number of
    frames rendered.
    """
    from .app import Viewer

    rows = pose_log if isinstance(pose_log, list) else ReplayPose.from_file(pose_log).rows
    if not rows:
        raise UserError(f"pose log {pose_log} has no rows; record one with --pose-log")
    src = open_source(dream) if not isinstance(dream, np.ndarray) else ImageSource.from_array(dream)
    ctrl = None
    if control is not None:
        ctrl = open_source(control) if not isinstance(control, np.ndarray) else ImageSource.from_array(control)
    out_fps = fps or (src.fps if not src.is_still else 30.0) or 30.0
    chosen = replay_frames(rows, out_fps, per_row)
    layout = stereo if stereo != "auto" else (src.stereo if src.stereo in ("mono", "tb") else "mono")
    writer = None
    n = 0
    own = viewer is None
    v = viewer or Viewer(size=size, visible=False).open()
    for s in (src, ctrl):
        if isinstance(s, VideoSource):
            s.planar = v.renderer.planar
    try:
        if output is not None:
            from ..io.writer import VideoWriter

            writer = VideoWriter(output, fps=out_fps, width=size[0], height=size[1], crf=crf, spherical=False,
                                 metadata={"comment": f"hallucinator replay of {Path(str(pose_log)).name}"})
        last_index = None
        for row in chosen:
            if row["frame"] != last_index:
                img, _ = _frame_image(src, index=row["frame"])
                cimg = None
                if ctrl is not None:
                    cimg = _frame_image(ctrl, index=None if ctrl.is_still else row["frame"])[0]
                v.set_frames(img, cimg, layout)
                last_index = row["frame"]
            pixels = v.render_view(ReplayPose.row_pose(row), float(row.get("dose", 1.0)))
            if writer is not None:
                writer.write(pixels)
            if sink is not None:
                sink(pixels, row)
            n += 1
            if progress and n % 50 == 0:
                print(f"\rexport: {n}/{len(chosen)} frames", end="", flush=True)
        if writer is not None:
            writer.close()
            writer = None
        if progress:
            print(f"\rexport: {n}/{len(chosen)} frames")
    finally:
        if writer is not None:
            writer.abort()
        if own:
            v.close()
        for s in (src, ctrl):
            if s is not None:
                s.close()
    return n
