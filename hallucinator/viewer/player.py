"""The playback loop behind :meth:`hallucinator.viewer.app.Viewer.play`.

:class:`Playback` wires the parts together for one :class:`.request.PlaybackRequest`:
frames come from decode threads (:mod:`.frames`), the playback clock is the audio
(when the dream has sound), the wall clock, or a step clock (every frame once);
:class:`.scheduler.FrameScheduler` decides which frame to show and counts the
dropped and late ones, :mod:`.keys` maps key presses to actions,
:class:`.presenter.Presenter` uploads and draws, and
:class:`.records.PlaybackRecords` keeps the summary and the pose log.  Everything
opened here is closed by one ``ExitStack`` however the loop ends.
"""
from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import UserError
from .audio import AudioClock, LoopingClock, StepClock, WallClock
from .dose import DoseDial, DoseTimeline
from .frames import EOF, ImageSource, VideoSource, open_source
from .keys import SEEK_STEP_S, Action, action_for
from .pose import FixedPose, MouseKeyboardPose, Pose
from .presenter import Presenter
from .records import FrameInfo, PlaybackRecords, PlaybackSummary
from .request import EYES, PlaybackRequest, resolve_stereo
from .scheduler import ControlLockstep, FrameScheduler, RedrawPolicy

FIRST_FRAME_TIMEOUT_S = 20.0
STEP_FRAME_TIMEOUT_S = 30.0


def _source(obj, stack: contextlib.ExitStack, loop: bool, hwaccel: bool, planar: bool):
    """A frame source for a path (opened here, closed with ``stack``), an RGB array, or an open source."""
    if obj is None:
        return None
    if isinstance(obj, np.ndarray):
        return ImageSource.from_array(obj)
    if not isinstance(obj, (str, Path)):
        return obj
    src = open_source(obj, loop=loop, hwaccel=hwaccel)
    stack.callback(src.close)
    if isinstance(src, VideoSource):
        src.planar = planar
    return src


def _check_pair(src, ctrl):
    if ctrl is None:
        return
    if ctrl.is_still != src.is_still:
        raise UserError("dream and control must both be videos or both be images; give matched files")
    if not src.is_still and ctrl.frame_count and src.frame_count and abs(ctrl.frame_count - src.frame_count) > 1:
        # lockstep needs the same frames; a short control would freeze
        raise UserError(f"control has {ctrl.frame_count} frames but the dream has {src.frame_count}; "
                        "give the control encoded alongside this dream")


class Playback:
    """One playback of ``request`` on ``viewer``; :meth:`run` plays it and returns the summary."""

    def __init__(self, viewer, request: PlaybackRequest):
        self.v = viewer
        self.req = request
        self._stop: Optional[str] = None
        self._t_now = request.start_s

    # -- opening -----------------------------------------------------------------------------
    def _open(self, stack: contextlib.ExitStack):
        v, req = self.v, self.req
        planar = v.renderer.planar
        self.src = _source(req.dream, stack, req.loop, req.hwaccel, planar)
        self.ctrl = _source(req.control, stack, req.loop, req.hwaccel, planar)
        _check_pair(self.src, self.ctrl)
        self.still = self.src.is_still
        self.still_once = self.still and not req.realtime   # "every frame once" of a still: one frame
        self.fps = float(getattr(self.src, "fps", 0.0) or 0.0)
        self.sched = FrameScheduler(self.fps, self.src.duration, self.src.frame_count, realtime=req.realtime,
                                    still=self.still, loop=req.loop)
        self.lockstep = None
        if self.ctrl is not None and not self.ctrl.is_still:
            ctrl = self.ctrl
            self.lockstep = ControlLockstep(lambda timeout: ctrl.get(timeout=timeout), f"the control video {ctrl.path}")
        self.layout = resolve_stereo(req.stereo, self.src)
        self.pose_src = self._pose_source()
        self.dial = DoseDial(DoseTimeline.from_spec(req.dose))
        self.redraw = RedrawPolicy(1.0 / 240.0 if (v.visible and v.vsync) else 1.0 / 90.0,
                                   continuous=getattr(self.pose_src, "continuous", False))
        self.presenter = Presenter(v, self.layout, req.eye, req.xr_layer)
        self.records = stack.enter_context(PlaybackRecords(
            self.fps, req.pose_log, self._log_metadata(), getattr(self.pose_src, "name", "")))
        if isinstance(self.src, VideoSource):
            self.records.summary.decoder = self.src.hwaccel_used or "software"
        self.audio, self.clock = self._clock()
        stack.callback(self.clock.close)

    def _pose_source(self):
        pose = self.req.pose
        if self.v.xr is not None:
            return self.v.xr.pose_source
        if pose is None:
            return MouseKeyboardPose(width=self.v.window_size[0])
        return FixedPose(pose) if isinstance(pose, Pose) else pose

    def _log_metadata(self) -> dict:
        req = self.req
        return {"dream": str(getattr(self.src, "path", "")),
                "control": str(getattr(self.ctrl, "path", "")) if self.ctrl is not None else None,
                "dose": str(self.dial.timeline), "fps": self.fps, "stereo": str(self.layout),
                "eye": EYES[req.eye], "viewport": list(self.v.framebuffer_size), "start_s": req.start_s,
                **(req.log_metadata or {})}

    def _clock(self):
        req = self.req
        if not self.sched.realtime:
            return None, StepClock(req.start_s)
        if req.audio and not self.still and getattr(self.src, "has_audio", False):
            audio = AudioClock(self.src.path, start_s=req.start_s, device=req.audio_device)
            return audio, (LoopingClock(audio, self.src.duration) if req.loop else audio)
        return None, WallClock(req.start_s)

    # -- starting ----------------------------------------------------------------------------
    def _start(self):
        from OpenGL import GL

        req, s = self.req, self.records.summary
        self.src.start(req.start_s)
        if self.ctrl is not None:
            self.ctrl.start(req.start_s)
        first = self.src.get(timeout=FIRST_FRAME_TIMEOUT_S)
        if first is None or first is EOF:
            raise UserError(f"no frames in {getattr(self.src, 'path', 'the source')} at {req.start_s:g}s")
        self.sched.prime(first)
        # warm up (texture storage, shader first use) so the first frames are not late
        self.v.set_frames(first, None if self.ctrl is None else (self.ctrl.image if self.ctrl.is_still else first),
                          self.layout)
        self.v.draw_view(self.pose_src.pose(req.start_s), 1.0, req.eye)
        GL.glFinish()
        self.clock.start()
        if self.sched.realtime and not self.still and self.fps:
            # frames more than 3 periods (0.1 s) behind the clock are not worth converting: the decoder
            # skips them, so a slow machine drops frames instead of letting the video lag the sound
            late = max(3.0 / self.fps, 0.1)
            for src in (self.src, self.ctrl):
                if isinstance(src, VideoSource):
                    src.drop_before = lambda: self._t_now - late
        follow = getattr(self.src, "follow_clock", None)   # a live source passes over frames it would show late
        if follow is not None:
            follow((lambda: self._t_now) if self.sched.realtime and not self.still else None)
        s.clock = ("audio-virtual" if self.audio.virtual else "audio") if self.audio is not None else self.clock.kind
        self.wall0 = time.monotonic()
        self.t_begin = self.clock.time()
        self.records.dose_event(*self.dial.start(self.t_begin))

    # -- input -------------------------------------------------------------------------------
    def _handle(self, events) -> bool:
        """Window events: the pose source's, then the playback keys.  True when the view changed."""
        changed = False
        for ev in events:
            if ev.kind == "close":
                self._stop = "closed"
            if hasattr(self.pose_src, "handle_event") and self.pose_src.handle_event(ev):
                changed = True
            action = action_for(ev) if self.req.keys else None
            if action is not None:
                changed = self._act(action) or changed
        return changed

    def _act(self, action: Action) -> bool:
        """Do what a key asks; True when the picture must be redrawn."""
        t = self.clock.time()
        if action is Action.STOP:
            self._stop = "closed"
        elif action is Action.PAUSE:
            self.clock.pause(not self.clock.paused)
        elif action in (Action.SEEK_FORWARD, Action.SEEK_BACK, Action.RESTART):
            self._seek({Action.SEEK_FORWARD: t + SEEK_STEP_S, Action.SEEK_BACK: t - SEEK_STEP_S}.get(action, 0.0))
            return False
        elif action in (Action.DOSE_UP, Action.DOSE_DOWN):
            self.records.dose_event(*self.dial.nudge(t, 1 if action is Action.DOSE_UP else -1))
        elif action is Action.DOSE_TIMELINE:
            self.records.dose_event(*self.dial.release(t))
        elif action is Action.STATUS:
            self.v.show_status = not self.v.show_status
        elif action is Action.FULLSCREEN:
            self.v.toggle_fullscreen()
        elif action is Action.LOOP:
            self.sched.loop = not self.sched.loop
            return False
        return action is not Action.STOP

    def _seek(self, t: float):
        if self.still or not getattr(self.src, "seekable", True):   # a camera cannot seek
            return
        end = self.src.duration if not self.sched.loop else float("inf")
        t = max(0.0, min(t, max(0.0, end - self.sched.period)))
        self.clock.seek(t)
        self._t_now = t
        self.src.seek(t)
        self.sched.seek()
        if self.ctrl is not None:
            self.ctrl.seek(t)
        if self.lockstep is not None:
            self.lockstep.seek()

    # -- one pass of the loop ------------------------------------------------------------------
    def _choose(self):
        """(new frame or None, clock time)."""
        if self.sched.realtime:
            t = self._t_now = self.clock.time()
            return self.sched.take_due(t, lambda: self.src.get(timeout=0)), t
        new = self.sched.take_next(lambda: self.src.get(timeout=STEP_FRAME_TIMEOUT_S))
        if new is not None:
            self.clock.seek(self.sched.frame_time(new))
        return new, self.clock.time()

    def _step(self):
        v, req = self.v, self.req
        events = v.poll()
        if v.should_close:
            self._stop = "closed"
        changed = self._handle(events)
        if events and req.on_events is not None and req.on_events(events, self.clock.time()) is False:
            self._stop = "callback"
        if self._stop:
            return
        new, t = self._choose()
        drawn_once = self.records.summary.frames_presented > 0
        if req.duration_s is not None and t >= req.start_s + req.duration_s - 1e-9 and drawn_once:
            self._stop = "duration"
            return
        if self.sched.ended(t, new is not None):
            self._stop = "end"
            return
        dose = self.dial.value(t)
        for event in self.dial.keyframes_reached(t):
            self.records.dose_event(*event)
        now = time.monotonic()
        if self.sched.current is None or not self.redraw.due(now, new is not None, changed, self.still, dose):
            self._idle(t, now)
            return
        self._show(t, new, dose, events)
        self.redraw.drawn(now, dose)

    def _idle(self, t: float, now: float):
        """Sleep until the next frame is due, the next redraw, or input (realtime only)."""
        if not self.sched.realtime:
            return
        wait = self.sched.wait_s(t)
        if self.req.duration_s is not None:
            wait = min(wait, self.req.start_s + self.req.duration_s - t)
        wait = self.redraw.wait_s(now, wait, animated=self.still and self.dial.animated)
        self.v.idle(min(wait, 0.02))

    def _show(self, t: float, new, dose: float, events):
        """Upload ``new`` (if any), draw, let ``on_frame`` draw on top, swap, and record the frame."""
        v, req, cur = self.v, self.req, self.sched.current
        if new is not None:
            control = None
            if self.ctrl is not None:
                control = self.ctrl.image if self.ctrl.is_still else self.lockstep.frame_for(new)
            self.presenter.upload(new, control)
        pose = self.presenter.draw(self.pose_src.pose(t), dose)
        if pose is None:   # a headset not showing yet: nothing was presented (a new frame counts as dropped)
            return
        s = self.records.summary
        if v.show_status and v.visible:
            self.presenter.status(lambda: self._status_text(t, cur.index, pose, dose))
        shown = self.sched.presented(new, t) if new is not None else None
        info = FrameInfo(v, t, cur.index, self.sched.frame_time(cur), pose, dose, shown.dropped if shown else 0,
                         s.frames_presented, events, v.framebuffer_size)
        keep = req.on_frame is None or req.on_frame(info) is not False
        self.presenter.present()
        self.records.presented(t, cur.index, pose, dose, shown, time.monotonic() - self.wall0)
        if not keep:
            self._stop = "callback"
        elif self.still_once:
            self._stop = "end"
        elif req.max_frames is not None and (s.frames_presented if self.still else s.video_frames) >= req.max_frames:
            self._stop = "frames"

    def _status_text(self, t: float, index: int, pose: Pose, dose: float) -> str:
        yaw, pitch, _ = pose.euler
        dur = self.src.duration if not self.still else 0.0
        return (f"{t:7.2f}/{dur:.2f}s  frame {index}  dose {dose:.2f}  "
                f"yaw {yaw:6.1f} pitch {pitch:5.1f} fov {pose.fov:5.1f}  "
                f"dropped {self.records.summary.dropped}" + ("  [paused]" if self.clock.paused else "")
                + (f"  {self.src.status_text()}" if hasattr(self.src, "status_text") else ""))

    # -- the loop ------------------------------------------------------------------------------
    def run(self) -> PlaybackSummary:
        with contextlib.ExitStack() as stack:
            self._open(stack)
            self._start()
            while self._stop is None:
                self._step()
            s = self.records.summary
            s.ended_by = self._stop
            s.wall_seconds = time.monotonic() - self.wall0
            s.media_seconds = self.clock.time() - self.t_begin
            s.mean_upload_ms = self.presenter.mean_upload_ms
            s.mean_render_ms = self.presenter.mean_render_ms
            if self.audio is not None:
                s.audio_underruns = self.audio.underruns
            return s
