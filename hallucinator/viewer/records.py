"""What a playback leaves behind: the summary, the pose log (one row per presented frame) and its events.

:class:`PlaybackRecords` is the one place the player reports to: each
presented frame (:meth:`~PlaybackRecords.presented`) and each dose change
(:meth:`~PlaybackRecords.dose_event`) goes into the :class:`PlaybackSummary`
and, when a pose log was asked for, into the log and its ``_events.tsv``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, List, Optional, Tuple

from .pose import Pose
from .poselog import PoseLogWriter

if TYPE_CHECKING:
    from .scheduler import Shown


@dataclass
class FrameInfo:
    """What ``on_frame`` is told about the frame about to be shown."""

    viewer: Any                # the :class:`.app.Viewer`
    time: float                # playback clock (s)
    frame: int                 # video frame index in the file
    frame_time: float          # that frame's presentation time (s, on the playback timeline)
    pose: Pose
    dose: float
    dropped: int               # video frames skipped just before this one
    presented: int             # how many frames were presented before this one
    events: list               # the :class:`.app.Event` s of this pass of the loop
    size: Tuple[int, int]      # framebuffer (w, h)


@dataclass
class PlaybackSummary:
    frames_presented: int = 0          # buffer swaps (== pose log rows)
    video_frames: int = 0              # distinct video frames shown
    dropped: int = 0                   # video frames never shown
    late: int = 0                      # frames shown more than one frame period after their time
    first_frame: int = -1
    last_frame: int = -1
    frame_indices: List[int] = field(default_factory=list)
    clock: str = "wall"                # audio, audio-virtual, wall, step
    fps: float = 0.0                   # source frame rate
    wall_seconds: float = 0.0
    media_seconds: float = 0.0         # playback clock advanced
    max_av_offset_s: float = 0.0       # max |clock - shown frame time| at presentation
    mean_upload_ms: float = 0.0
    mean_render_ms: float = 0.0
    audio_underruns: int = 0
    dose_events: List[Tuple[float, float, str]] = field(default_factory=list)
    ended_by: str = ""                 # end, duration, frames, closed, callback
    decoder: str = ""                  # software, or the hardware decoder FFmpeg used
    pose_log: Optional[str] = None

    def line(self) -> str:
        return (f"{self.frames_presented} frames presented ({self.video_frames} video frames, "
                f"{self.dropped} dropped, {self.late} late) in {self.wall_seconds:.2f} s; clock {self.clock}, "
                f"max A/V offset {self.max_av_offset_s * 1000:.1f} ms; "
                f"{self.decoder + ' decoding; ' if self.decoder else ''}upload {self.mean_upload_ms:.2f} ms, "
                f"render {self.mean_render_ms:.2f} ms per frame")


def events_path_for(pose_log: Path) -> Path:
    """``sub-01_motion.tsv`` -> ``sub-01_events.tsv`` (BIDS naming), else ``NAME_events.tsv``."""
    stem = pose_log.stem
    stem = stem[: -len("_motion")] if stem.endswith("_motion") else stem
    return pose_log.with_name(stem + "_events.tsv")


class PlaybackRecords:
    """The summary and the optional pose log of one playback (close it, or use it as a context manager)."""

    def __init__(self, fps: float, pose_log=None, metadata: Optional[dict] = None, pose_source: str = ""):
        self.summary = PlaybackSummary(fps=fps, pose_log=str(pose_log) if pose_log else None)
        self.pose_source = pose_source
        self.log: Optional[PoseLogWriter] = None
        if pose_log:
            pose_log = Path(pose_log)
            self.log = PoseLogWriter(pose_log, metadata=metadata, events_path=events_path_for(pose_log))

    def __enter__(self) -> "PlaybackRecords":
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self.log is not None:
            self.log.close()
            self.log = None

    def dose_event(self, t: float, value: float, why: str):
        self.summary.dose_events.append((t, value, why))
        if self.log is not None:
            self.log.event(t, "dose", f"{value:g}", 0.0)

    def presented(self, t: float, frame: int, pose: Pose, dose: float, shown: Optional["Shown"],
                  wall_s: float):
        """One buffer swap showing video frame ``frame``; ``shown`` when that frame is new on screen."""
        s = self.summary
        if shown is not None:
            s.video_frames += 1
            s.dropped += shown.dropped
            s.late += int(shown.late)
            s.max_av_offset_s = max(s.max_av_offset_s, abs(shown.offset_s))
            s.frame_indices.append(frame)
            if s.first_frame < 0:
                s.first_frame = frame
            s.last_frame = frame
        if self.log is not None:
            self.log.write(t, frame, pose, dose, shown.dropped if shown is not None else 0, wall_s,
                           self.pose_source)
        s.frames_presented += 1
