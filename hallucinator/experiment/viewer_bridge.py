"""The runner's display on top of :class:`hallucinator.viewer.app.Viewer`.

Screens (instructions, questionnaire items, timing cues) are rendered to RGBA
images (:mod:`.screens`) and blended over the whole window with
``Viewer.draw_image``; stimuli play with ``Viewer.play`` (viewer keys off, so
the participant cannot pause, seek or change the dose; no status line), and
timing-task cues are drawn over the video from ``on_frame``; input during
playback arrives through ``on_events`` on every pass of the viewer's loop.

In a headset (``xr``) every screen is also a quad layer in front of the
participant (:mod:`hallucinator.viewer.xr_layers`; world-locked by default,
``quad="head"`` for head-locked), the desktop window showing the same screen,
and the headset gets a frame whenever it wants one while a screen is up
(``show``/``wait``).  Controller actions arrive as the keys they stand for
(:mod:`hallucinator.viewer.xr_actions`): select is SPACE, the thumbstick the
arrow keys.  Timing cues over a video are a transparent quad over the scene.

Times: viewer events carry ``time.monotonic()``; they are moved onto the
session clock with the offset between the two clocks measured at each poll.
The playback clock (``FrameInfo.time``) is logged against LSL's clock in
``*_clock.tsv`` at the first frame, every 5 s and at the last frame.
"""
from __future__ import annotations

import contextlib
import dataclasses

import time
from typing import List

from .display import Display, Input, PlayRequest, PlayResult, key_names
from .screens import Screen, render


class _Continuous:
    """A pose source drawn at the display rate: scripted head paths are logged per
    display frame, and timing cues over the video change on the frame they are due."""

    continuous = True

    def __init__(self, inner):
        self.inner = inner
        self.name = getattr(inner, "name", "mouse")

    def pose(self, t):
        return self.inner.pose(t)

    def handle_event(self, ev):
        h = getattr(self.inner, "handle_event", None)
        return bool(h(ev)) if h else False


class ViewerDisplay(Display):
    def __init__(self, clock, size=(1280, 720), fullscreen: bool = False, xr: bool = False, viewer=None,
                 quad: str = "world"):
        from ..viewer.app import Viewer
        self.clock = clock
        self._own = viewer is None
        self.v = viewer or Viewer(size=tuple(size), fullscreen=fullscreen, visible=True, title="Hallucinator",
                                  xr=xr, status=False)
        if self._own:
            self.v.open()
        self.v.show_status = False
        if self.v.xr is not None:
            self.v.xr.quad_placement = quad
        self._button = False

    @property
    def size(self):
        return self.v.framebuffer_size

    @property
    def tracking_system(self):
        """In a headset the poses are the OpenXR runtime's; else the viewer's (mouse, keys or a script)."""
        return "OpenXR headset (head pose from the runtime)" if self.v.xr is not None else None

    @property
    def frame_rate(self):
        """The monitor's refresh rate (one frame per refresh with vsync); None in a headset, whose runtime
        paces the frames (the motion sidecar then gives the measured rate)."""
        if self.v.xr is not None or not getattr(self.v, "vsync", False):
            return None
        import glfw
        monitor = glfw.get_primary_monitor()
        mode = glfw.get_video_mode(monitor) if monitor else None
        return float(mode.refresh_rate) if mode and mode.refresh_rate > 0 else None

    def _session_time(self, mono: float) -> float:
        return self.clock.now() - (time.monotonic() - mono)

    def convert(self, events) -> List[Input]:
        import glfw
        names = key_names()
        out: List[Input] = []
        ww, wh = glfw.get_window_size(self.v.window) if self.v.visible else self.size
        fw, fh = self.size
        sx, sy = fw / max(1, ww), fh / max(1, wh)
        for ev in events:
            t = self._session_time(ev.time)
            if ev.kind == "key" and ev.action in (glfw.PRESS, glfw.REPEAT) and ev.key in names:
                name = names[ev.key]
                if ev.action == glfw.REPEAT and name not in ("left", "right"):
                    continue
                out.append(Input(t, "key", name))
            elif ev.kind == "close":
                out.append(Input(t, "key", "escape"))
            elif ev.kind == "mouse_button" and ev.button == glfw.MOUSE_BUTTON_LEFT:
                self._button = ev.action == glfw.PRESS
                if self._button:
                    out.append(Input(t, "click", "", ev.x * sx, ev.y * sy))
            elif ev.kind == "cursor":
                if self._button:
                    out.append(Input(t, "move", "", ev.x * sx, ev.y * sy))
        return out

    def poll(self) -> List[Input]:
        return self.convert(self.v.poll())

    def wait(self, seconds: float) -> None:
        xr = self.v.xr
        if xr is not None:
            self.v.make_current()
            xr.tick()         # the headset's next frame, when it is due
            seconds = min(seconds, max(xr.frame_due_in(), 0.001))
        self.v.idle(seconds)

    def _draw_screen(self, screen: Screen):
        w, h = self.size
        img = render(screen, max(1, w), max(1, h))
        self.v.draw_image(img, 0, 0, key="experiment-screen", token=id(img), width=w, height=h)

    def _headset_screen(self, screen):
        """``screen`` on the headset's quad from its next frame on (None: no quad)."""
        if self.v.xr is not None:
            from ..viewer.xr_actions import headset_hint
            from ..viewer.xr_layers import QUAD_PIXELS
            picture = None if screen is None else \
                render(dataclasses.replace(screen, hint=headset_hint(screen.hint)), *QUAD_PIXELS)
            self.v.xr.set_picture(picture, token=screen)

    def show(self, screen: Screen) -> None:
        if self.v.xr is not None:       # the participant holds a controller; the desktop mirrors their screen
            from ..viewer.xr_actions import headset_hint
            screen = dataclasses.replace(screen, hint=headset_hint(screen.hint))
        self.v.make_current()
        bg = tuple(c / 255.0 for c in screen.background)
        self.v.clear(bg)
        self._draw_screen(screen)
        self.v.present()
        if self.v.xr is not None:
            self._headset_screen(screen)
            self.v.xr.tick()

    def _pose_source(self, request: PlayRequest, start: float):
        """The scripted head path, the headset (None), or the mouse and arrow keys."""
        from ..viewer.pose import FunctionPose, MouseKeyboardPose, Pose
        if request.pose is not None:
            fn = request.pose
            pose = FunctionPose(lambda t: Pose(tuple(float(x) for x in fn(t - start)), 90.0))
        elif self.v.xr is not None:
            return None
        else:
            pose = MouseKeyboardPose(width=self.size[0])
        if request.pose is not None or request.overlay is not None:
            pose = _Continuous(pose)
        return pose

    def play(self, request: PlayRequest, on_frame) -> PlayResult:
        from ..viewer.dose import DoseTimeline
        start = float(request.start)
        timeline = DoseTimeline([(start + t, d) for t, d in request.dose_keys])
        with contextlib.ExitStack() as stack:
            if request.live is not None:
                from ..live.session import open_live

                lp = stack.enter_context(open_live(request.file, request.live, loop=True))
                result = self._play(request, on_frame, timeline, start, lp.dream, lp.control)
                return dataclasses.replace(result, dreamed=lp.stats.dreamed)
            if request.file:
                return self._play(request, on_frame, timeline, start, request.file, None)
            return self._play(request, on_frame, timeline, start, request.dream, request.control)

    def _play(self, request: PlayRequest, on_frame, timeline, start: float, dream, control) -> PlayResult:
        state = {"onset": None, "last": None, "pairs": [], "next_pair": 0.0, "stopped": False, "aborted": False}

        def cb(info):
            now = self.clock.now()
            if state["onset"] is None:
                state["onset"] = now
            state["last"] = now
            if now >= state["next_pair"]:
                state["pairs"].append((self.clock.lsl(now), info.time))
                state["next_pair"] = now + 5.0
            state["pb"] = info.time
            if state["stopped"]:
                return False
            if request.overlay is not None:
                scr = request.overlay(now)
                shown = scr is not None and bool(scr.big or scr.hint or scr.body)
                if shown:
                    self._draw_screen(scr)
                self._headset_screen(scr if shown else None)
            keep = on_frame(now, info.pose.quat, info.dose)
            if keep is False:
                state["stopped"] = True
            return keep

        def on_events(events, t):
            # every pass of the viewer's loop, drawn or not: key times are never held back to the next frame
            inputs = self.convert(events)
            if request.on_input is not None:
                for ev in inputs:
                    request.on_input(ev)
            elif any(ev.kind == "key" and ev.key == "escape" for ev in inputs):
                state["stopped"] = state["aborted"] = True
                return False
            return None

        self.v.make_current()
        self._headset_screen(None)        # the stimulus alone in the headset
        try:
            summary = self.v.play(dream, control=control, dose=timeline, duration_s=request.duration,
                                  pose=self._pose_source(request, start), on_frame=cb, on_events=on_events,
                                  start_s=start, loop=True, keys=False)
        finally:
            self._headset_screen(None)
        if state["last"] is not None and "pb" in state:
            state["pairs"].append((self.clock.lsl(state["last"]), state["pb"]))
        onset = state["onset"] if state["onset"] is not None else self.clock.now()
        last = state["last"] if state["last"] is not None else onset
        aborted = state["aborted"] or summary.ended_by == "closed"
        return PlayResult(onset, last - onset, summary.frames_presented, summary.dropped, aborted, state["pairs"])

    def close(self) -> None:
        if self._own and self.v is not None:
            self.v.close()
            self.v = None

