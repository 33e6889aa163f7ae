"""The viewer as a Python API: a window (or headset) that plays 360° footage.

Use :class:`Viewer` as a context manager; it owns the GLFW window, the OpenGL
3.3 core context and the renderer.  Everything runs on the calling thread
(decoding and audio run on their own threads).  Example::

    from .app import Viewer
    from .pose import MouseKeyboardPose

    with Viewer(size=(1280, 720)) as v:                      # visible=False: headless (Xvfb/offscreen FBO)
        summary = v.play("dream.mp4", control="control.mp4",
                         dose="0s:0 -> 30s:1 -> 90s:1 -> 120s:0",   # number, timeline text or file
                         duration_s=120, pose_log="sub-01_motion.tsv",
                         on_frame=lambda info: None)                # called before each swap
        print(summary.frames_presented, summary.dropped)

        # your own screens between trials (questionnaires, instructions):
        while not v.should_close:
            events = v.poll()                                     # list[Event]: key/char/mouse/scroll/...
            v.clear((0.1, 0.1, 0.1))
            v.draw_text("How intense was it? (1-7)", 40, 40, scale=1.0)
            v.present()
            if any(e.kind == "char" and e.char in "1234567" for e in events):
                break

API (stable):

``Viewer(size=(w, h), fullscreen=False, visible=True, title=..., vsync=True, xr=False, status=True)``
    ``visible=False`` renders into an offscreen framebuffer of ``size`` (needs an
    X display such as Xvfb, but shows nothing).  ``xr=True`` opens an OpenXR
    session (:mod:`hallucinator.viewer.xr`) and raises :class:`UserError` when no
    runtime is present.
``play(dream, control=None, dose=1.0, duration_s=None, max_frames=None, pose=None, pose_log=None,
       on_frame=None, start_s=0.0, loop=False, audio=True, audio_device=None, realtime=True,
       stereo="auto", keys=True, hwaccel=False, log_metadata=None, on_events=None) -> PlaybackSummary``
    ``dream``/``control``: paths (video or image) or already opened sources
    (:mod:`hallucinator.viewer.frames`).  ``pose``: a pose source
    (:mod:`hallucinator.viewer.pose`); default mouse/keyboard.  ``pose_log``:
    path of a TSV written one row per displayed frame.  ``on_frame(info)``
    gets a :class:`FrameInfo` after the scene is drawn and before the buffer
    swap (draw on top with your own GL; return ``False`` to stop).
    ``on_events(events, t)`` gets input on every pass of the loop as soon as it
    arrives (not only when a frame is drawn; return ``False`` to stop);
    ``log_metadata`` goes into the pose log's sidecar.
    ``realtime=False`` shows every frame once, as fast as it renders (clock
    steps by one frame; no audio).  ``audio_device=False`` plays sound into a
    virtual output (the clock still follows the audio).  Keys while playing
    (``keys=True``): space pause, PgUp/PgDn or shift+left/right seek 5 s, Home
    restart, [ ] dose -/+ 0.1, \\ back to the dose timeline, h status line,
    f fullscreen, l loop, Esc/q stop; mouse drag, arrows, +/- and the wheel
    look around (pose source permitting).  Closing the window always stops
    playback (``PlaybackSummary.ended_by == "closed"``).
``render_view(pose, dose=1.0, eye=0) -> np.ndarray``
    Draw the current frames at ``pose`` and return the RGB pixels (uint8, row 0 on top).
``set_frames(dream, control=None, layout="mono")``
    Upload frames yourself (RGB arrays or :class:`frames.Frame`; stills, your own decoding).
``poll() -> list[Event]``, ``wait(timeout) -> list[Event]``, ``idle(timeout)`` (sleep, events
stay queued), ``inject(event)``, ``clear(rgb)``, ``draw_text(...)``,
``draw_image(rgba, x, y)``, ``present()``, ``read_pixels()``, ``should_close``,
``framebuffer_size``, ``window`` (the GLFW handle), ``make_current()``.

Events are :class:`Event` records with ``kind`` in ``key``, ``char``,
``mouse_button``, ``cursor``, ``scroll``, ``resize`` (framebuffer pixels),
``window_size`` (screen coordinates), ``close`` and the fields
that kind needs (GLFW key codes, ``action`` PRESS/RELEASE/REPEAT, ``mods``).
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Tuple, Union

import numpy as np

from ..errors import UserError
from .dose import DoseTimeline
from .pose import Pose

SEEK_STEP_S = 5.0
DOSE_STEP = 0.1


@dataclass
class Event:
    """One input event from the window."""

    kind: str                  # key, char, mouse_button, cursor, scroll, resize, window_size, close
    key: int = 0
    scancode: int = 0
    action: int = 0
    mods: int = 0
    char: str = ""
    button: int = 0
    x: float = 0.0
    y: float = 0.0
    time: float = field(default_factory=time.monotonic)


@dataclass
class FrameInfo:
    """What ``on_frame`` is told about the frame about to be shown."""

    viewer: "Viewer"
    time: float                # playback clock (s)
    frame: int                 # video frame index in the file
    frame_time: float          # that frame's presentation time (s, on the playback timeline)
    pose: Pose
    dose: float
    dropped: int               # video frames skipped just before this one
    presented: int             # how many frames were presented before this one
    events: List[Event]
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


def _glfw():
    import glfw

    return glfw


_GLFW_USERS = 0   # viewers alive in this process: GLFW is terminated only when the last one closes


def _glfw_acquire():
    global _GLFW_USERS
    glfw = _glfw()
    if _GLFW_USERS == 0 and not glfw.init():
        raise UserError("GLFW could not initialise a window system; check $DISPLAY (or use xvfb-run)")
    _GLFW_USERS += 1


def _glfw_release():
    global _GLFW_USERS
    _GLFW_USERS = max(0, _GLFW_USERS - 1)
    if _GLFW_USERS == 0:
        _glfw().terminate()


class Viewer:
    """A GLFW window with an OpenGL 3.3 core context, an equirect renderer and a playback loop."""

    def __init__(self, size: Tuple[int, int] = (1280, 720), fullscreen: bool = False, visible: bool = True,
                 title: str = "Hallucinator", vsync: bool = True, xr: bool = False, status: bool = True):
        self.size = (int(size[0]), int(size[1]))
        self.fullscreen = fullscreen
        self.visible = visible
        self.title = title
        self.vsync = vsync
        self.xr_requested = xr
        self.show_status = status
        self.window = None
        self.renderer = None
        self.overlay = None
        self.xr = None
        self._fbo = None
        self._events: List[Event] = []
        self._windowed_geometry = None

    # -- lifetime --------------------------------------------------------------
    def __enter__(self) -> "Viewer":
        self.open()
        return self

    def __exit__(self, *exc):
        self.close()

    def open(self):
        glfw = _glfw()
        if self.xr_requested:
            # fail before any window appears when there is no runtime at all
            from .xr import check_runtime

            check_runtime()
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise UserError("no display to open a window on ($DISPLAY is not set); run it on a desktop, "
                            "or headless under xvfb-run")
        _glfw_acquire()
        self._glfw_held = True
        glfw.window_hint(glfw.CONTEXT_VERSION_MAJOR, 3)
        glfw.window_hint(glfw.CONTEXT_VERSION_MINOR, 3)
        glfw.window_hint(glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE)
        glfw.window_hint(glfw.OPENGL_FORWARD_COMPAT, True)
        glfw.window_hint(glfw.VISIBLE, bool(self.visible))
        glfw.window_hint(glfw.DOUBLEBUFFER, True)
        monitor = glfw.get_primary_monitor() if (self.fullscreen and self.visible) else None
        w, h = self.size
        if monitor:
            mode = glfw.get_video_mode(monitor)
            w, h = mode.size.width, mode.size.height
        self.window = glfw.create_window(w if self.visible else max(16, min(w, 64)),
                                         h if self.visible else max(16, min(h, 64)), self.title, monitor, None)
        if not self.window:
            _glfw_release()
            self._glfw_held = False
            raise UserError("could not create an OpenGL 3.3 core window; update the graphics driver "
                            "(Mesa >= 10 works) or check $DISPLAY")
        glfw.make_context_current(self.window)
        glfw.swap_interval(1 if (self.vsync and self.visible) else 0)
        self._install_callbacks()
        from .renderer import EquirectRenderer, Overlay

        self.renderer = EquirectRenderer()
        self.overlay = Overlay()
        if not self.visible:
            from .gl import Framebuffer

            self._fbo = Framebuffer(*self.size)
        if self.xr_requested:
            from .xr import XRSession

            self.xr = XRSession(self)
            self.xr.open()
        return self

    def close(self):
        glfw = _glfw()
        if self.window is None:
            return
        glfw.make_context_current(self.window)
        if self.xr is not None:
            self.xr.close()
            self.xr = None
        for obj in (self.renderer, self.overlay, self._fbo):
            if obj is not None:
                try:
                    obj.delete()
                except Exception:
                    pass
        self.renderer = self.overlay = self._fbo = None
        glfw.destroy_window(self.window)
        self.window = None
        if getattr(self, "_glfw_held", False):
            self._glfw_held = False
            _glfw_release()

    def make_current(self):
        """Make this viewer's GL context current on the calling thread (other viewers may have taken it)."""
        import ctypes

        glfw = _glfw()
        cur = glfw.get_current_context()
        if not cur or ctypes.cast(cur, ctypes.c_void_p).value != ctypes.cast(self.window, ctypes.c_void_p).value:
            glfw.make_context_current(self.window)

    # -- input -----------------------------------------------------------------
    def _install_callbacks(self):
        glfw = _glfw()
        ev = self._events.append
        glfw.set_key_callback(self.window, lambda w, k, s, a, m: ev(Event("key", key=k, scancode=s, action=a, mods=m)))
        glfw.set_char_callback(self.window, lambda w, c: ev(Event("char", char=chr(c))))
        glfw.set_mouse_button_callback(self.window, lambda w, b, a, m: ev(
            Event("mouse_button", button=b, action=a, mods=m, x=glfw.get_cursor_pos(w)[0], y=glfw.get_cursor_pos(w)[1])))
        glfw.set_cursor_pos_callback(self.window, lambda w, x, y: ev(Event("cursor", x=x, y=y)))
        glfw.set_scroll_callback(self.window, lambda w, x, y: ev(Event("scroll", x=x, y=y)))
        glfw.set_framebuffer_size_callback(self.window, lambda w, x, y: ev(Event("resize", x=x, y=y)))
        glfw.set_window_size_callback(self.window, lambda w, x, y: ev(Event("window_size", x=x, y=y)))
        glfw.set_window_close_callback(self.window, lambda w: ev(Event("close")))

    def poll(self) -> List[Event]:
        """Process window events; return those that arrived since the last call."""
        _glfw().poll_events()
        out, self._events[:] = list(self._events), []
        return out

    def wait(self, timeout: float) -> List[Event]:
        """Sleep until an event arrives or ``timeout`` seconds pass; return the events."""
        if timeout > 0:
            _glfw().wait_events_timeout(timeout)
        return self.poll()

    def idle(self, timeout: float):
        """Sleep until an event arrives or ``timeout`` seconds pass; the events stay queued for :meth:`poll`."""
        if timeout > 0:
            _glfw().wait_events_timeout(timeout)

    def inject(self, event: Event):
        """Queue a synthetic event (scripts and tests drive the viewer this way)."""
        self._events.append(event)

    @property
    def should_close(self) -> bool:
        return bool(_glfw().window_should_close(self.window))

    def request_close(self):
        _glfw().set_window_should_close(self.window, True)

    def toggle_fullscreen(self):
        glfw = _glfw()
        if not self.visible:
            return
        monitor = glfw.get_window_monitor(self.window)
        if monitor:
            x, y, w, h = self._windowed_geometry or (100, 100, *self.size)
            glfw.set_window_monitor(self.window, None, x, y, w, h, 0)
        else:
            self._windowed_geometry = (*glfw.get_window_pos(self.window), *glfw.get_window_size(self.window))
            mon = glfw.get_primary_monitor()
            mode = glfw.get_video_mode(mon)
            glfw.set_window_monitor(self.window, mon, 0, 0, mode.size.width, mode.size.height, mode.refresh_rate)

    # -- drawing ---------------------------------------------------------------
    @property
    def framebuffer_size(self) -> Tuple[int, int]:
        if self._fbo is not None:
            return self._fbo.width, self._fbo.height
        return tuple(_glfw().get_framebuffer_size(self.window))

    @property
    def window_size(self) -> Tuple[int, int]:
        """Window size in screen coordinates (what cursor events use; differs from pixels on HiDPI screens)."""
        if self._fbo is not None:
            return self._fbo.width, self._fbo.height
        return tuple(_glfw().get_window_size(self.window))

    @property
    def target(self) -> int:
        """The framebuffer object drawn into (0 = the window)."""
        return self._fbo.id if self._fbo is not None else 0

    def bind_target(self):
        from OpenGL import GL

        self.make_current()
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self.target)
        w, h = self.framebuffer_size
        GL.glViewport(0, 0, w, h)

    def clear(self, rgb=(0.0, 0.0, 0.0)):
        from OpenGL import GL

        self.bind_target()
        GL.glClearColor(float(rgb[0]), float(rgb[1]), float(rgb[2]), 1.0)
        GL.glClear(GL.GL_COLOR_BUFFER_BIT)

    def draw_text(self, text: str, x: float, y: float, scale: float = 0.6, color=(255, 255, 255),
                  background=(0, 0, 0, 160), key: str = "text") -> Tuple[int, int]:
        """Text at (x, y) window pixels from the top-left; returns its (w, h).  Distinct ``key`` per text block."""
        self.bind_target()
        return self.overlay.draw_text(text, x, y, self.framebuffer_size, scale, color, background, key=key)

    def draw_image(self, rgba: np.ndarray, x: float, y: float, key: Optional[str] = None, token=None,
                   width: Optional[float] = None, height: Optional[float] = None):
        """Blend an RGBA uint8 image at (x, y) window pixels from the top-left."""
        self.bind_target()
        self.overlay.draw_image(rgba, x, y, self.framebuffer_size, key=key, token=token, width=width, height=height)

    def present(self):
        """Show what was drawn (swap buffers; a no-op for the offscreen target)."""
        self.make_current()
        if self._fbo is None:
            _glfw().swap_buffers(self.window)
        else:
            from OpenGL import GL

            GL.glFlush()

    def read_pixels(self) -> np.ndarray:
        """RGB uint8 (h, w, 3), row 0 at the top, of the target's current contents (call before present())."""
        from .gl import read_pixels

        self.make_current()
        w, h = self.framebuffer_size
        return read_pixels(0, 0, w, h, self.target)

    def set_frames(self, dream, control=None, layout: str = "mono"):
        """Upload frames to show: uint8 (H, W, 3) RGB equirect arrays, or :class:`frames.Frame` objects."""
        self.make_current()
        self.renderer.set_frame("dream", dream)
        if control is not None:
            self.renderer.set_frame("control", control)
        else:
            self.renderer.clear_control()
        self.renderer.layout = layout

    def draw_view(self, pose: Pose, dose: float = 1.0, eye: int = 0):
        """Draw the current frames at ``pose`` over the whole target."""
        self.bind_target()
        w, h = self.framebuffer_size
        self.renderer.draw_pose((0, 0, w, h), pose, dose, eye)

    def render_view(self, pose: Pose, dose: float = 1.0, eye: int = 0) -> np.ndarray:
        """Draw the current frames at ``pose`` and return the pixels."""
        self.draw_view(pose, dose, eye)
        return self.read_pixels()

    # -- playback --------------------------------------------------------------
    def play(self, dream, control=None, dose: Union[float, str, DoseTimeline] = 1.0,
             duration_s: Optional[float] = None, max_frames: Optional[int] = None, pose=None,
             pose_log=None, on_frame: Optional[Callable[[FrameInfo], Any]] = None, start_s: float = 0.0,
             loop: bool = False, audio: bool = True, audio_device=None, realtime: bool = True,
             stereo: str = "auto", keys: bool = True, hwaccel: bool = False,
             log_metadata: Optional[dict] = None,
             on_events: Optional[Callable[[List[Event], float], Any]] = None) -> PlaybackSummary:
        """Play ``dream`` (mixed with ``control`` by ``dose``) until the end, ``duration_s``, ``max_frames``
        video frames, Esc/q, the window closing, or ``on_frame`` returning False.  See the module docstring."""
        from .player import Playback

        self.make_current()
        return Playback(self, dream, control=control, dose=dose, duration_s=duration_s, max_frames=max_frames,
                        pose=pose, pose_log=pose_log, on_frame=on_frame, start_s=start_s, loop=loop, audio=audio,
                        audio_device=audio_device, realtime=realtime, stereo=stereo, keys=keys, hwaccel=hwaccel,
                        log_metadata=log_metadata, on_events=on_events).run()
