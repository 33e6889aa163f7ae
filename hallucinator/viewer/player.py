"""The playback loop behind :meth:`hallucinator.viewer.app.Viewer.play`.

Frames come from decode threads; the loop shows the newest frame whose time
has come on the playback clock (audio when the dream has audio, else wall, or
a step clock for offline rendering), counts frames that were never shown
(dropped) and those shown more than a frame period late, and writes one pose
log row per presented frame.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import UserError
from .app import FrameInfo, PlaybackSummary, SEEK_STEP_S, DOSE_STEP
from .audio import AudioClock, StepClock, WallClock
from .dose import DoseTimeline
from .frames import EOF, Frame, ImageSource, VideoSource, open_source
from .pose import FixedPose, MouseKeyboardPose, Pose


def as_source(obj, loop=False, hwaccel=False):
    if obj is None:
        return None
    if isinstance(obj, (str, Path)):
        return open_source(obj, loop=loop, hwaccel=hwaccel)
    if isinstance(obj, np.ndarray):
        return ImageSource.from_array(obj)
    return obj


def events_path_for(pose_log: Path) -> Path:
    stem = pose_log.stem
    stem = stem[: -len("_motion")] if stem.endswith("_motion") else stem
    return pose_log.with_name(stem + "_events.tsv")


class _LoopingClock:
    """Wraps an audio clock so a looping video keeps one continuous playback timeline."""

    def __init__(self, inner, duration: float):
        self.inner, self.duration, self.loops = inner, duration, 0
        self.kind = inner.kind

    def start(self):
        self.inner.start()

    def time(self):
        if getattr(self.inner, "ended", False) and self.duration:
            self.loops += 1
            self.inner.seek(0.0)
        return self.loops * self.duration + self.inner.time()

    def pause(self, flag=True):
        self.inner.pause(flag)

    @property
    def paused(self):
        return self.inner.paused

    def seek(self, t):
        self.loops = int(t // self.duration) if self.duration else 0
        self.inner.seek(t - self.loops * self.duration)

    def close(self):
        self.inner.close()

    def __getattr__(self, name):
        return getattr(self.inner, name)


class Playback:
    def __init__(self, viewer, dream, control=None, dose=1.0, duration_s=None, max_frames=None, pose=None,
                 pose_log=None, on_frame=None, start_s=0.0, loop=False, audio=True, audio_device=None,
                 realtime=True, stereo="auto", keys=True, hwaccel=False, log_metadata=None, on_events=None):
        self._owned, self.audio, self.log, self.clock = [], None, None, None
        try:
            self._setup(viewer, dream, control, dose, duration_s, max_frames, pose, pose_log, on_frame, start_s,
                        loop, audio, audio_device, realtime, stereo, keys, hwaccel, log_metadata, on_events)
        except BaseException:
            self._cleanup()
            raise

    def _cleanup(self):
        for obj in self._owned:
            obj.close()
        self._owned = []
        if self.clock is not None:
            self.clock.close()
            self.clock = None
        elif self.audio is not None:
            self.audio.close()
        self.audio = None
        if self.log:
            self.log.close()
            self.log = None

    def _setup(self, viewer, dream, control, dose, duration_s, max_frames, pose, pose_log, on_frame, start_s,
               loop, audio, audio_device, realtime, stereo, keys, hwaccel, log_metadata, on_events):
        self.v = viewer
        self.loop = loop
        self.src = as_source(dream, loop=loop, hwaccel=hwaccel)
        if self.src is not dream:
            self._owned.append(self.src)
        self.ctrl = as_source(control, loop=loop, hwaccel=hwaccel)
        if self.ctrl is not None and self.ctrl is not control:
            self._owned.append(self.ctrl)
        for o in self._owned:
            if isinstance(o, VideoSource):
                o.planar = viewer.renderer.planar
        if self.ctrl is not None and self.ctrl.is_still != self.src.is_still:
            raise UserError("dream and control must both be videos or both be images; give matched files")
        if self.ctrl is not None and not self.src.is_still and self.ctrl.frame_count and self.src.frame_count \
                and abs(self.ctrl.frame_count - self.src.frame_count) > 1:
            # lockstep needs the same frames; a short control would freeze
            raise UserError(f"control has {self.ctrl.frame_count} frames but the dream has {self.src.frame_count}; "
                            "give the control encoded alongside this dream")
        self.timeline = DoseTimeline.from_spec(dose)
        self.manual_dose: Optional[float] = None
        self.duration_s = duration_s
        self.max_frames = max_frames
        self.on_frame = on_frame
        self.on_events = on_events
        self.start_s = float(start_s)
        self.realtime = realtime or self.src.is_still   # a still has no frames to step through
        self.still_once = self.src.is_still and not realtime   # "every frame once" of a still: one frame
        self.keys = keys
        if stereo == "auto":
            stereo = getattr(self.src, "stereo", "mono")
            stereo = stereo if stereo in ("mono", "tb") else "mono"
        if stereo not in ("mono", "tb"):
            raise UserError(f"stereo layout {stereo!r} is not supported; use mono or tb (top-bottom)")
        self.layout = stereo
        if self.v.xr is not None:
            self.pose_src = self.v.xr.pose_source
        elif pose is None:
            self.pose_src = MouseKeyboardPose(width=self.v.window_size[0])
        elif isinstance(pose, Pose):
            self.pose_src = FixedPose(pose)
        else:
            self.pose_src = pose
        self.fps = float(getattr(self.src, "fps", 0.0) or 0.0)
        # continuous pose sources redraw at most this often when the swap does not pace the loop
        self.min_interval = 1.0 / 240.0 if (self.v.visible and self.v.vsync) else 1.0 / 90.0
        self.frame_period = 1.0 / self.fps if self.fps else 0.0
        self.log = None
        if pose_log:
            from .poselog import PoseLogWriter

            pose_log = Path(pose_log)
            meta = {"dream": str(getattr(self.src, "path", "")),
                    "control": str(getattr(self.ctrl, "path", "")) if self.ctrl is not None else None,
                    "dose": str(self.timeline), "fps": self.fps, "stereo": self.layout,
                    "viewport": list(self.v.framebuffer_size), "start_s": self.start_s,
                    **(log_metadata or {})}
            self.log = PoseLogWriter(pose_log, metadata=meta, events_path=events_path_for(pose_log))
        # clock
        self.audio = None
        if not self.realtime:
            self.clock = StepClock(self.start_s)
        elif audio and not self.src.is_still and getattr(self.src, "has_audio", False):
            self.audio = AudioClock(self.src.path, start_s=self.start_s, device=audio_device)
            self.clock = _LoopingClock(self.audio, self.src.duration) if loop else self.audio
        else:
            self.clock = WallClock(self.start_s)
        self.summary = PlaybackSummary(fps=self.fps, pose_log=str(pose_log) if pose_log else None)
        if isinstance(self.src, VideoSource):
            self.summary.decoder = self.src.hwaccel_used or "software"
        self._last_dose = None
        self._status_text = ""
        self._status_at = 0.0

    # -- helpers ---------------------------------------------------------------
    def _ftime(self, f: Frame) -> float:
        return f.loop * (self.src.duration or 0.0) + f.time

    def dose(self, t: float) -> float:
        return self.manual_dose if self.manual_dose is not None else self.timeline.value(t)

    def _dose_event(self, t: float, value: float, why: str):
        self.summary.dose_events.append((t, value, why))
        if self.log:
            self.log.event(t, "dose", f"{value:g}", 0.0)

    def _control_for(self, index: int) -> Optional[np.ndarray]:
        """The control frame with ``index`` (lockstep: waits for the control decoder)."""
        while True:
            c = self._ctrl_pending
            if c is None:
                c = self.ctrl.get(timeout=5.0)
                if c is None:
                    raise UserError(f"the control video {self.ctrl.path} stalled; check the file")
            if c is EOF:
                self._ctrl_pending = EOF
                return self._ctrl_last
            if c.index + c.loop * 10**9 < index + self._cur_loop * 10**9:
                self._ctrl_pending = None
                self._ctrl_last = c
                continue
            if c.index == index:
                self._ctrl_pending = None
                self._ctrl_last = c
                return c
            self._ctrl_pending = c  # control ahead (dream skipped a frame): keep the last one
            return self._ctrl_last if self._ctrl_last is not None else c

    def _seek(self, t: float):
        if self.src.is_still:
            return
        end = self.src.duration if not self.loop else float("inf")
        t = max(0.0, min(t, max(0.0, end - self.frame_period)))
        self.clock.seek(t)
        self._t_now = t
        self._seeked = True
        self.src.seek(t)
        if self.ctrl is not None:
            self.ctrl.seek(t)
            self._ctrl_pending = None
        self._pending = None

    def _handle(self, events):
        import glfw

        changed = False
        for ev in events:
            if ev.kind == "close":
                self._stop = "closed"
            if hasattr(self.pose_src, "handle_event") and self.pose_src.handle_event(ev):
                changed = True
            if not self.keys or ev.kind != "key" or ev.action not in (glfw.PRESS, glfw.REPEAT):
                continue
            k = ev.key
            t = self.clock.time()
            if k in (glfw.KEY_ESCAPE, glfw.KEY_Q):
                self._stop = "closed"
            elif k == glfw.KEY_SPACE and ev.action == glfw.PRESS:
                self.clock.pause(not self.clock.paused)
                changed = True
            elif k == glfw.KEY_RIGHT and ev.mods & glfw.MOD_SHIFT or k == glfw.KEY_PAGE_DOWN:
                self._seek(t + SEEK_STEP_S)
            elif k == glfw.KEY_LEFT and ev.mods & glfw.MOD_SHIFT or k == glfw.KEY_PAGE_UP:
                self._seek(t - SEEK_STEP_S)
            elif k == glfw.KEY_HOME:
                self._seek(0.0)
            elif k in (glfw.KEY_LEFT_BRACKET, glfw.KEY_RIGHT_BRACKET):
                step = DOSE_STEP if k == glfw.KEY_RIGHT_BRACKET else -DOSE_STEP
                self.manual_dose = round(max(0.0, min(2.0, self.dose(t) + step)), 3)
                self._dose_event(t, self.manual_dose, "key")
                changed = True
            elif k == glfw.KEY_BACKSLASH:
                self.manual_dose = None
                self._dose_event(t, self.dose(t), "timeline")
                changed = True
            elif k == glfw.KEY_H:
                self.v.show_status = not self.v.show_status
                changed = True
            elif k == glfw.KEY_F:
                self.v.toggle_fullscreen()
                changed = True
            elif k == glfw.KEY_L:
                self.loop = not self.loop
        return changed

    def _status(self, t, frame_index, pose, dose):
        now = time.monotonic()
        if now - self._status_at > 0.25 or not self._status_text:
            yaw, pitch, roll = pose.euler
            dur = self.src.duration if not self.src.is_still else 0.0
            self._status_text = (f"{t:7.2f}/{dur:.2f}s  frame {frame_index}  dose {dose:.2f}  "
                                 f"yaw {yaw:6.1f} pitch {pitch:5.1f} fov {pose.fov:5.1f}  "
                                 f"dropped {self.summary.dropped}" + ("  [paused]" if self.clock.paused else ""))
            self._status_at = now
        self.v.draw_text(self._status_text, 8, 8, scale=0.45, key="status")

    # -- the loop ----------------------------------------------------------------
    def run(self) -> PlaybackSummary:
        from OpenGL import GL

        v, s = self.v, self.summary
        self._stop = None
        self._pending = None
        self._ctrl_pending = None
        self._ctrl_last = None
        self._cur_loop = 0
        current: Optional[Frame] = None
        upload_n = render_n = 0
        upload_s = render_s = 0.0
        drawn_once = False
        last_dose_drawn = None
        last_draw_wall = 0.0
        skipped = 0
        prev_shown = None
        self._seeked = False
        self._t_now = self.start_s
        try:
            self.src.start(self.start_s)
            if self.ctrl is not None:
                self.ctrl.start(self.start_s)
            # the first frame before the clock starts
            first = self.src.get(timeout=20.0)
            if first is None or first is EOF:
                raise UserError(f"no frames in {getattr(self.src, 'path', 'the source')} at {self.start_s:g}s")
            self._pending = first
            # warm up (texture storage, shader first use) so the first frames are not late
            v.renderer.set_frame("dream", first)
            v.renderer.layout = self.layout
            if self.ctrl is not None and self.ctrl.is_still:
                v.renderer.set_frame("control", self.ctrl.image)
            elif self.ctrl is not None:
                v.renderer.set_frame("control", first)
            else:
                v.renderer.clear_control()
            v.draw_view(self.pose_src.pose(self.start_s), 1.0)
            GL.glFinish()
            self.clock.start()
            if self.realtime and not self.src.is_still and self.frame_period:
                # frames more than 3 periods (0.1 s) behind the clock are not worth converting: the decoder
                # skips them, so a slow machine drops frames instead of letting the video lag the sound
                late = max(3 * self.frame_period, 0.1)
                for src in (self.src, self.ctrl):
                    if isinstance(src, VideoSource):
                        src.drop_before = lambda: self._t_now - late
            if self.audio is not None:
                s.clock = "audio-virtual" if self.audio.virtual else "audio"
            else:
                s.clock = self.clock.kind
            wall0 = time.monotonic()
            t_begin = self.clock.time()
            d0 = self.dose(t_begin)
            self._dose_event(t_begin, d0, "start")
            self._last_dose = d0
            next_key = 0
            while self._stop is None:
                events = v.poll()
                if v.should_close:
                    self._stop = "closed"
                changed = self._handle(events)
                if events and self.on_events is not None:
                    if self.on_events(events, self.clock.time()) is False:
                        self._stop = "callback"
                if self._stop:
                    break
                new = False
                if self.realtime:
                    t = self.clock.time()
                    self._t_now = t
                    # take every frame that is due; all but the newest are dropped
                    while True:
                        if self._pending is None and not self.src.is_still:
                            self._pending = self.src.get(timeout=0)
                        p = self._pending
                        if p is None or p is EOF:
                            break
                        if current is None or self.src.is_still or self._ftime(p) <= t + 1e-4:
                            current, new = p, True
                            self._pending = None
                            if self.src.is_still:
                                self._pending = EOF
                            continue
                        break
                else:
                    p = self._pending if self._pending is not None else self.src.get(timeout=30.0)
                    self._pending = None
                    if p is None:
                        raise UserError("decoding stalled; check the video file")
                    if p is not EOF:
                        current, new = p, True
                        self.clock.seek(self._ftime(p))
                        if self.src.is_still:
                            self._pending = EOF
                    elif not self.src.is_still:
                        self._stop = "end"
                        break
                    t = self.clock.time()
                # end conditions
                if self.duration_s is not None and t >= self.start_s + self.duration_s - 1e-9 and drawn_once:
                    self._stop = "duration"
                    break
                if self._pending is EOF and not self.src.is_still and not new and current is not None \
                        and t >= self._ftime(current) + self.frame_period and not self.loop:
                    self._stop = "end"
                    break
                dose = self.dose(t)
                if self.manual_dose is None and self._last_dose is not None:
                    keys = self.timeline.keys
                    while next_key < len(keys) and keys[next_key][0] <= t:
                        if keys[next_key][0] > t_begin:
                            self._dose_event(keys[next_key][0], keys[next_key][1], "timeline")
                        next_key += 1
                # redraw on a new video frame or input; continuous pose sources (headsets, scripted
                # paths over stills) and dose ramps over stills also redraw at the display rate
                rate_ok = time.monotonic() - last_draw_wall >= self.min_interval
                continuous = getattr(self.pose_src, "continuous", False) and rate_ok
                dose_moved = (self.src.is_still and rate_ok and last_dose_drawn is not None
                              and abs(dose - last_dose_drawn) > 1e-9)
                need = new or changed or not drawn_once or continuous or dose_moved
                if not need or current is None:
                    # sleep until the next frame is due (or an event arrives)
                    if self.realtime:
                        if self._pending is not None and self._pending is not EOF:
                            wait = self._ftime(self._pending) - t
                        else:
                            wait = 0.002 if not self.src.is_still else 0.02
                        if self.duration_s is not None:
                            wait = min(wait, self.start_s + self.duration_s - t)
                        if getattr(self.pose_src, "continuous", False) or (
                                self.src.is_still and self.manual_dose is None and not self.timeline.is_constant):
                            wait = min(wait, self.min_interval - (time.monotonic() - last_draw_wall))
                        v.idle(max(0.0, min(wait, 0.02)))
                    continue
                pose = self.pose_src.pose(t)
                last_draw_wall = time.monotonic()
                # frames never shown since the last one (skipped here or by the decoder)
                if new:
                    if prev_shown is not None and not self._seeked and not self.src.is_still:
                        step = round((self._ftime(current) - self._ftime(prev_shown)) * self.fps)
                        skipped = max(0, step - 1)
                    else:
                        skipped = 0
                    self._seeked = False
                    prev_shown = current
                # upload
                t0 = time.perf_counter()
                if new:
                    self._cur_loop = current.loop
                    v.renderer.set_frame("dream", current)
                    if self.ctrl is not None:
                        cimg = self.ctrl.image if self.ctrl.is_still else self._control_for(current.index)
                        v.renderer.set_frame("control", cimg)
                    v.renderer.layout = self.layout
                    upload_s += time.perf_counter() - t0
                    upload_n += 1
                t1 = time.perf_counter()
                # draw
                if v.xr is not None:
                    head = v.xr.render_frame(lambda eye, vp, rot, tan: v.renderer.draw(vp, rot, tan, dose, eye,
                                                                                       self.layout))
                    if head is None:   # session not visible yet (or stopping): nothing was shown
                        continue
                    pose = head
                    v.xr.mirror()
                else:
                    v.draw_view(pose, dose, 0)
                if v.show_status and v.visible:
                    self._status(t, current.index, pose, dose)
                frame_t = self._ftime(current)
                info = FrameInfo(v, t, current.index, frame_t, pose, dose, skipped if new else 0,
                                 s.frames_presented, events, v.framebuffer_size)
                keep = True
                if self.on_frame is not None:
                    keep = self.on_frame(info) is not False
                v.present()
                render_s += time.perf_counter() - t1
                render_n += 1
                # bookkeeping
                if new:
                    s.video_frames += 1
                    s.dropped += skipped
                    s.frame_indices.append(current.index)
                    if s.first_frame < 0:
                        s.first_frame = current.index
                    s.last_frame = current.index
                    if self.realtime and not self.src.is_still:
                        off = t - frame_t
                        s.max_av_offset_s = max(s.max_av_offset_s, abs(off))
                        if self.frame_period and off > self.frame_period:
                            s.late += 1
                if self.log:
                    self.log.write(t, current.index, pose, dose, skipped if new else 0,
                                   time.monotonic() - wall0, getattr(self.pose_src, "name", ""))
                if new:
                    skipped = 0
                s.frames_presented += 1
                drawn_once = True
                last_dose_drawn = dose
                if not keep:
                    self._stop = "callback"
                elif self.still_once:
                    self._stop = "end"
                elif self.max_frames is not None and (s.video_frames if not self.src.is_still
                                                      else s.frames_presented) >= self.max_frames:
                    self._stop = "frames"
            s.ended_by = self._stop or "end"
            s.wall_seconds = time.monotonic() - wall0
            s.media_seconds = self.clock.time() - t_begin
            s.mean_upload_ms = 1000 * upload_s / max(1, upload_n)
            s.mean_render_ms = 1000 * render_s / max(1, render_n)
            if self.audio is not None:
                s.audio_underruns = self.audio.underruns
            return s
        finally:
            self._cleanup()
