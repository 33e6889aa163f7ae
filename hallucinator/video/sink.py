"""Where a run's frames go: the dream video, its matched control, a PNG sequence — opened and closed together.

:class:`Sink` is a context manager.  It keeps the source's timing (frame
timestamps shifted so the first frame is at 0, audio cut to the same range)
and, on leaving without an error, closes every output (each moves into place
whole); on an error it drops them all, so nothing half-written appears under
an output name.
"""
from __future__ import annotations

import time
from fractions import Fraction
from typing import List, Optional

import numpy as np

from ..io.probe import VideoInfo
from ..io.writer import PngSequenceWriter, VideoWriter
from .figures import Timer
from .layout import Layout
from .options import VideoOptions


class Timeline:
    """Output timestamps from the source's: shifted to start at 0, strictly increasing."""

    def __init__(self, info: VideoInfo):
        self.time_base = info.time_base
        self.step = max(1, int(round(1 / (info.fps * self.time_base)))) if info.fps else 1
        self.first: Optional[int] = None    # source pts of the first frame
        self.last: Optional[int] = None     # output pts of the last frame

    def place(self, pts: Optional[int]) -> tuple:
        """(output pts, whether the frame had to be re-timed) for a frame with source ``pts`` (None: unknown)."""
        if pts is None:    # one frame period after the previous frame, on the source's timeline
            pts = 0 if self.last is None else self.first + self.last + self.step
        if self.first is None:
            self.first = pts
        out = pts - self.first
        retimed = self.last is not None and out <= self.last
        if retimed:
            out = self.last + 1
        self.last = out
        return out, retimed

    def seconds(self, pts: int) -> float:
        return float(pts * self.time_base)

    def end_seconds(self) -> Optional[float]:
        """Source time just after the last frame (None before any frame)."""
        return self.seconds(self.first + self.last + self.step) if self.first is not None else None


class Sink:
    """The outputs of one run; ``with Sink(...) as sink: sink.write(index, pts, dream, control)``."""

    def __init__(self, output: Optional[str], opts: VideoOptions, info: VideoInfo, layout: Layout,
                 audio_from: Optional[str], start: int, timer: Timer, warnings: List[str]):
        self.output, self.opts, self.info, self.layout = output, opts, info, layout
        self.audio_from, self.start, self.timer, self.warnings = audio_from, start, timer, warnings
        self.timeline = Timeline(info)
        self.videos: List[VideoWriter] = []      # the dream and the control, the ones with sound
        self.dream = self.control = self.png = None
        self._writers: list = []                  # in the order they are opened and closed

    def __enter__(self) -> "Sink":
        try:
            if self.output:
                self.dream = self._open(self._video(self.output))
            if self.opts.control:
                self.control = self._open(self._video(self.opts.control))
            if self.opts.png_dir:
                self.png = self._open(PngSequenceWriter(self.opts.png_dir, start_number=self.start))
        except BaseException:
            self._abort()
            raise
        self.videos = [w for w in (self.dream, self.control) if w is not None]
        return self

    def _open(self, writer):
        self._writers.append(writer)
        return writer

    def _video(self, path) -> VideoWriter:
        o, (w, h) = self.opts, self.layout.out_size
        return VideoWriter(path, fps=self.info.fps or Fraction(25), width=w, height=h, time_base=self.info.time_base,
                           codec=o.codec, crf=o.crf, preset=o.x264_preset, audio_from=self.audio_from,
                           spherical=True, stereo="top-bottom" if self.layout.eyes == 2 else "mono",
                           metadata={"comment": "dreamed with hallucinator"}, latitude_qp=o.latitude_qp)

    def write(self, index: int, pts: Optional[int], dream: np.ndarray, control: np.ndarray) -> None:
        """One frame of every output; ``pts`` is the source frame's timestamp."""
        first = self.timeline.first is None
        out_pts, retimed = self.timeline.place(pts)
        if first:    # the sound starts with the first frame
            for w in self.videos:
                w.set_audio_start(self.timeline.seconds(self.timeline.first))
        if retimed:
            self.warnings.append(f"frame {index} has a timestamp out of order; re-timed")
        t0 = time.perf_counter()
        if self.dream is not None:
            self.dream.write(dream, pts=out_pts)
        if self.control is not None:
            self.control.write(control, pts=out_pts)
        if self.png is not None:
            self.png.write(dream)
        self.timer.add("encode", time.perf_counter() - t0)

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self._abort()
            return
        try:
            if self.opts.frames and self.opts.frames[1] is not None:
                end = self.timeline.end_seconds()    # a range that stops early: the sound stops with the frames
                for w in self.videos:
                    w.set_audio_end(end)
            t0 = time.perf_counter()
            for w in self._writers:
                w.close()
            self.timer.add("encode", time.perf_counter() - t0)
        except BaseException:
            self._abort()
            raise

    def _abort(self) -> None:
        for w in self._writers:
            w.abort()
