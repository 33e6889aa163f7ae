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
``play(dream, **options) -> PlaybackSummary``
    The options are the fields of :class:`.request.PlaybackRequest` (``control``,
    ``dose``, ``duration_s``, ``max_frames``, ``pose``, ``pose_log``,
    ``on_frame``, ``start_s``, ``loop``, ``audio``, ``audio_device``,
    ``realtime``, ``stereo``, ``eye``, ``keys``, ``hwaccel``, ``log_metadata``,
    ``on_events``, ``xr_layer``); its docstring says what each does.  ``on_frame(info)``
    gets a :class:`.records.FrameInfo` after the scene is drawn and before the
    buffer swap (draw on top with your own GL; return ``False`` to stop);
    ``on_events(events, t)`` gets input on every pass of the loop as soon as it
    arrives (not only when a frame is drawn; return ``False`` to stop).  Keys
    while playing (``keys=True``, the table in :mod:`.keys`): space pause,
    PgUp/PgDn or shift+left/right seek 5 s, Home restart, [ ] dose -/+ 0.1,
    \\ back to the dose timeline, h status line, f fullscreen, l loop, Esc/q
    stop; mouse drag, arrows, +/- and the wheel look around (pose source
    permitting).  Closing the window always stops playback
    (``PlaybackSummary.ended_by == "closed"``).
``render_view(pose, dose=1.0, eye=0) -> np.ndarray``
    Draw the current frames at ``pose`` and return the RGB pixels (uint8, row 0 on top).
``set_frames(dream, control=None, layout="mono")`` (``layout``: a :class:`~hallucinator.io.probe.Stereo` or its word)
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

import contextlib
import os
import sys
import time
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import numpy as np

from ..errors import UserError
from ..io.probe import Stereo, parse_stereo
from .pose import Pose
from .records import PlaybackSummary


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


def _glfw():
    import glfw

    return glfw


_GLFW_USERS = 0   # viewers alive in this process: GLFW is terminated only when the last one closes


@contextlib.contextmanager
def _glfw_held():
    """GLFW initialised while the block runs (shared by the viewers alive in this process)."""
    global _GLFW_USERS
    glfw = _glfw()
    if _GLFW_USERS == 0 and not glfw.init():
        raise UserError("GLFW could not initialise a window system; check $DISPLAY (or use xvfb-run)")
    _GLFW_USERS += 1
    try:
        yield
    finally:
        _GLFW_USERS -= 1
        if _GLFW_USERS == 0:
            glfw.terminate()


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
        self._stack = contextlib.ExitStack()

    # -- lifetime --------------------------------------------------------------
    def __enter__(self) -> "Viewer":
        self.open()
        return self

    def __exit__(self, *exc):
        self.close()

    def open(self):
        """Open the window, the GL objects and (``xr``) the headset session; on failure nothing stays open."""
        if self.xr_requested:
            # fail before any window appears when there is no runtime at all
            from .xr import check_runtime

            check_runtime()
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise UserError("no display to open a window on ($DISPLAY is not set); run it on a desktop, "
                            "or headless under xvfb-run")
        with contextlib.ExitStack() as stack:
            stack.callback(self._forget)
            stack.enter_context(_glfw_held())
            self.window = self._create_window()
            stack.callback(self._destroy_window)
            self._install_callbacks()
            from .renderer import EquirectRenderer, Overlay

            self.renderer = EquirectRenderer()
            stack.callback(self.renderer.delete)
            self.overlay = Overlay()
            stack.callback(self.overlay.delete)
            if not self.visible:
                from .gl import Framebuffer

                self._fbo = Framebuffer(*self.size)
                stack.callback(self._fbo.delete)
            if self.xr_requested:
                from .xr import XRSession

                self.xr = stack.enter_context(XRSession(self))
            self._stack = stack.pop_all()
        return self

    def _create_window(self):
        glfw = _glfw()
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
        window = glfw.create_window(w if self.visible else max(16, min(w, 64)),
                                    h if self.visible else max(16, min(h, 64)), self.title, monitor, None)
        if not window:
            raise UserError("could not create an OpenGL 3.3 core window; update the graphics driver "
                            "(Mesa >= 10 works) or check $DISPLAY")
        glfw.make_context_current(window)
        glfw.swap_interval(1 if (self.vsync and self.visible) else 0)
        return window

    def _destroy_window(self):
        _glfw().destroy_window(self.window)

    def _forget(self):
        self.window = self.xr = self.renderer = self.overlay = self._fbo = None

    def close(self):
        """Close everything :meth:`open` opened, in reverse order (the GL objects with their context current)."""
        if self.window is None:
            return
        self.make_current()
        stack, self._stack = self._stack, contextlib.ExitStack()
        stack.close()

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

    def set_frames(self, dream, control=None, layout=Stereo.MONO):
        """Upload frames to show: uint8 (H, W, 3) RGB equirect arrays, or :class:`frames.Frame` objects.

        ``layout``: a :class:`Stereo` or its word (``mono``, ``top-bottom``, ``tb``)."""
        self.make_current()
        self.renderer.set_frame("dream", dream)
        if control is not None:
            self.renderer.set_frame("control", control)
        else:
            self.renderer.clear_control()
        self.renderer.layout = parse_stereo(layout) or Stereo.MONO

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
    def play(self, dream, **options) -> PlaybackSummary:
        """Play ``dream`` (mixed with ``control`` by ``dose``) until the end, ``duration_s``, ``max_frames``
        video frames, Esc/q, the window closing, or a callback returning False.  ``options``: the fields of
        :class:`.request.PlaybackRequest`."""
        from .player import Playback
        from .request import PlaybackRequest

        request = PlaybackRequest(dream=dream, **options)
        self.make_current()
        return Playback(self, request).run()
