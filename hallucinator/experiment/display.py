"""What the runner needs from a screen, behind one small interface.

:class:`Display` is the interface:

* ``show(screen)``       draw a participant-facing :class:`~.screens.Screen` now
* ``poll()``             input since the last call: a list of :class:`Input` (time on the session clock)
* ``play(request, on_frame)`` play a stimulus for ``request.duration`` seconds; ``on_frame(t, quat, dose)``
                         is called per displayed frame (return False to stop early); returns a :class:`PlayResult`
* ``size``, ``close()``

Implementations: :class:`NullDisplay` (no window: simulated sessions that do
not wait, and piloting without a GPU) and :class:`GLDisplay` (a GLFW window;
screens are images drawn on a textured quad; stimuli go through the viewer,
see :mod:`.viewer_bridge`).
"""
from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import UserError
from .screens import Screen, render


@dataclass
class Input:
    t: float                 # session clock
    kind: str                # "key" | "click" | "move"
    key: str = ""            # key name: space, enter, left, right, escape, 1..9, a..z
    x: float = 0.0           # pixels (mouse)
    y: float = 0.0


@dataclass
class PlayRequest:
    dream: Optional[str]
    control: Optional[str]
    file: Optional[str]
    duration: float
    dose: Callable[[float], float]            # seconds into the stimulus -> dose
    start: float = 0.0                        # seconds into the video file
    pose: Optional[Callable[[float], Sequence[float]]] = None   # scripted head pose (simulation); None: live
    overlay: Optional[Callable[[float], Optional[Screen]]] = None  # drawn over the video (timing tasks)
    on_input: Optional[Callable[[Input], None]] = None           # keys during playback


@dataclass
class PlayResult:
    onset: float             # session time of the first displayed frame
    duration: float          # seconds until the last frame
    frames: int = 0
    dropped: int = 0
    stopped_early: bool = False
    clock_pairs: List[Tuple[float, float]] = field(default_factory=list)  # (lsl time, playback time)


class Display:
    size: Tuple[int, int] = (1280, 720)
    interactive = True

    def show(self, screen: Screen) -> None:
        raise NotImplementedError

    def poll(self) -> List[Input]:
        raise NotImplementedError

    def play(self, request: PlayRequest, on_frame) -> PlayResult:
        raise NotImplementedError

    def close(self) -> None:
        pass


class NullDisplay(Display):
    """No window.  ``play`` steps through the stimulus at ``rate`` Hz on the session clock
    (a virtual clock makes that instant), calling ``on_frame`` with the scripted pose."""

    interactive = False

    def __init__(self, clock, rate: float = 10.0):
        self.clock = clock
        self.rate = rate
        self.shown: List[Screen] = []

    def show(self, screen: Screen) -> None:
        self.shown.append(screen)
        if len(self.shown) > 50:
            del self.shown[:25]

    def poll(self) -> List[Input]:
        return []

    def play(self, request: PlayRequest, on_frame) -> PlayResult:
        onset = self.clock.now()
        dt = 1.0 / self.rate
        n = int(round(request.duration * self.rate))
        frames = 0
        stopped = False
        for i in range(n + 1):
            t = i * dt
            target = onset + t
            wait = target - self.clock.now()
            if wait > 0:
                self.clock.sleep(wait)
            quat = request.pose(t) if request.pose else (1.0, 0.0, 0.0, 0.0)
            frames += 1
            if on_frame(self.clock.now(), quat, request.dose(t)) is False:
                stopped = True
                break
        return PlayResult(onset, self.clock.now() - onset, frames, 0, stopped)


# ---------------------------------------------------------------------------
# GL window

_VERT = """#version 330 core
const vec2 P[4] = vec2[4](vec2(-1.0, -1.0), vec2(1.0, -1.0), vec2(-1.0, 1.0), vec2(1.0, 1.0));
out vec2 uv;
void main() { uv = vec2((P[gl_VertexID].x + 1.0) * 0.5, 1.0 - (P[gl_VertexID].y + 1.0) * 0.5);
              gl_Position = vec4(P[gl_VertexID], 0.0, 1.0); }
"""
_FRAG = """#version 330 core
in vec2 uv; out vec4 color; uniform sampler2D screen_tex;
void main() { color = texture(screen_tex, uv); }
"""

KEY_NAMES = {}


def _key_names():
    import glfw
    if not KEY_NAMES:
        for name, code in (("space", glfw.KEY_SPACE), ("enter", glfw.KEY_ENTER), ("enter", glfw.KEY_KP_ENTER),
                           ("left", glfw.KEY_LEFT), ("right", glfw.KEY_RIGHT), ("up", glfw.KEY_UP),
                           ("down", glfw.KEY_DOWN), ("escape", glfw.KEY_ESCAPE), ("backspace", glfw.KEY_BACKSPACE),
                           ("pageup", glfw.KEY_PAGE_UP), ("pagedown", glfw.KEY_PAGE_DOWN)):
            KEY_NAMES[code] = name
        for k in range(10):
            KEY_NAMES[glfw.KEY_0 + k] = str(k)
            KEY_NAMES[glfw.KEY_KP_0 + k] = str(k)
        for k in range(26):
            KEY_NAMES[glfw.KEY_A + k] = chr(ord("a") + k)
    return KEY_NAMES


class ScreenDrawer:
    """Draws RGBA images on a full-window quad in the current GL context (core or compatibility 3.3+)."""

    def __init__(self):
        from OpenGL import GL
        self.GL = GL
        self.prog = self._program(GL)
        self.vao = GL.glGenVertexArrays(1)
        self.tex = GL.glGenTextures(1)
        GL.glBindTexture(GL.GL_TEXTURE_2D, self.tex)
        for p in (GL.GL_TEXTURE_MIN_FILTER, GL.GL_TEXTURE_MAG_FILTER):
            GL.glTexParameteri(GL.GL_TEXTURE_2D, p, GL.GL_LINEAR)
        for p in (GL.GL_TEXTURE_WRAP_S, GL.GL_TEXTURE_WRAP_T):
            GL.glTexParameteri(GL.GL_TEXTURE_2D, p, GL.GL_CLAMP_TO_EDGE)
        self._key = None

    @staticmethod
    def _program(GL):
        def compile_(src, kind):
            sh = GL.glCreateShader(kind)
            GL.glShaderSource(sh, src)
            GL.glCompileShader(sh)
            if not GL.glGetShaderiv(sh, GL.GL_COMPILE_STATUS):
                raise RuntimeError(GL.glGetShaderInfoLog(sh).decode())
            return sh
        prog = GL.glCreateProgram()
        for src, kind in ((_VERT, GL.GL_VERTEX_SHADER), (_FRAG, GL.GL_FRAGMENT_SHADER)):
            GL.glAttachShader(prog, compile_(src, kind))
        GL.glLinkProgram(prog)
        if not GL.glGetProgramiv(prog, GL.GL_LINK_STATUS):
            raise RuntimeError(GL.glGetProgramInfoLog(prog).decode())
        return prog

    def draw(self, image: np.ndarray, viewport: Tuple[int, int], blend: bool = False) -> None:
        GL = self.GL
        h, w = image.shape[:2]
        GL.glViewport(0, 0, *viewport)
        GL.glBindTexture(GL.GL_TEXTURE_2D, self.tex)
        key = (id(image), w, h)
        if key != self._key:
            GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 1)
            GL.glTexImage2D(GL.GL_TEXTURE_2D, 0, GL.GL_RGBA8, w, h, 0, GL.GL_RGBA, GL.GL_UNSIGNED_BYTE,
                            np.ascontiguousarray(image))
            self._key = key
        if blend:
            GL.glEnable(GL.GL_BLEND)
            GL.glBlendFunc(GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA)
        else:
            GL.glDisable(GL.GL_BLEND)
        GL.glDisable(GL.GL_DEPTH_TEST)
        GL.glUseProgram(self.prog)
        GL.glActiveTexture(GL.GL_TEXTURE0)
        GL.glUniform1i(GL.glGetUniformLocation(self.prog, "screen_tex"), 0)
        GL.glBindVertexArray(self.vao)
        GL.glDrawArrays(GL.GL_TRIANGLE_STRIP, 0, 4)
        GL.glBindVertexArray(0)
        GL.glUseProgram(0)
        if blend:
            GL.glDisable(GL.GL_BLEND)


class GLDisplay(Display):
    """A GLFW window showing screens; stimuli are played through :mod:`.viewer_bridge`.

    ``window`` may be an existing GLFW window (e.g. the viewer's); otherwise one is created.
    Input callbacks are installed on the window and chained to any callbacks already there.
    """

    def __init__(self, clock, size=(1280, 720), title="Hallucinator", fullscreen=False, window=None,
                 xr: bool = False):
        import glfw
        self.glfw = glfw
        self.clock = clock
        self.xr = xr
        self._own = window is None
        if window is None:
            if not glfw.init():
                raise UserError("cannot open a window (no display?); run under a desktop or Xvfb, or use "
                                "--simulate SEED without --realtime")
            glfw.window_hint(glfw.CONTEXT_VERSION_MAJOR, 3)
            glfw.window_hint(glfw.CONTEXT_VERSION_MINOR, 3)
            glfw.window_hint(glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE)
            glfw.window_hint(glfw.OPENGL_FORWARD_COMPAT, True)
            monitor = glfw.get_primary_monitor() if fullscreen else None
            window = glfw.create_window(int(size[0]), int(size[1]), title, monitor, None)
            if not window:
                glfw.terminate()
                raise UserError("cannot create an OpenGL 3.3 window; check the graphics driver (or Mesa under Xvfb)")
        self.window = window
        glfw.make_context_current(window)
        glfw.swap_interval(1)
        self.drawer = ScreenDrawer()
        self._inputs: List[Input] = []
        self._prev = {}
        self._install()
        self._viewer = None

    # -- input -------------------------------------------------------------
    def _install(self):
        glfw, w = self.glfw, self.window
        names = _key_names()

        def on_key(win, key, scancode, action, mods):
            if action == glfw.PRESS and key in names:
                self._inputs.append(Input(self.clock.now(), "key", names[key]))
            prev = self._prev.get("key")
            if prev:
                prev(win, key, scancode, action, mods)

        def on_button(win, button, action, mods):
            if action == glfw.PRESS and button == glfw.MOUSE_BUTTON_LEFT:
                x, y = glfw.get_cursor_pos(win)
                self._inputs.append(Input(self.clock.now(), "click", "", *self._to_pixels(x, y)))
            prev = self._prev.get("button")
            if prev:
                prev(win, button, action, mods)

        def on_move(win, x, y):
            if glfw.get_mouse_button(win, glfw.MOUSE_BUTTON_LEFT) == glfw.PRESS:
                self._inputs.append(Input(self.clock.now(), "move", "", *self._to_pixels(x, y)))
            prev = self._prev.get("move")
            if prev:
                prev(win, x, y)

        self._callbacks = (on_key, on_button, on_move)   # keep references alive
        self._prev["key"] = glfw.set_key_callback(w, on_key)
        self._prev["button"] = glfw.set_mouse_button_callback(w, on_button)
        self._prev["move"] = glfw.set_cursor_pos_callback(w, on_move)

    def _to_pixels(self, x, y):
        ww, wh = self.glfw.get_window_size(self.window)
        fw, fh = self.size
        return x * fw / max(1, ww), y * fh / max(1, wh)

    @property
    def size(self):
        return self.glfw.get_framebuffer_size(self.window)

    def poll(self) -> List[Input]:
        self.glfw.poll_events()
        if self.glfw.window_should_close(self.window):
            self.glfw.set_window_should_close(self.window, False)
            self._inputs.append(Input(self.clock.now(), "key", "escape"))
        out, self._inputs = self._inputs, []
        return out

    # -- drawing -----------------------------------------------------------
    def show(self, screen: Screen) -> None:
        self.glfw.make_context_current(self.window)
        w, h = self.size
        image = render(screen, max(1, w), max(1, h))
        from OpenGL import GL
        GL.glClearColor(0, 0, 0, 1)
        GL.glClear(GL.GL_COLOR_BUFFER_BIT)
        self.drawer.draw(image, (w, h), blend=False)
        self.glfw.swap_buffers(self.window)

    def draw_overlay(self, screen: Screen) -> None:
        """Blend a transparent screen over whatever was drawn this frame (no swap)."""
        w, h = self.size
        self.drawer.draw(render(screen, max(1, w), max(1, h)), (w, h), blend=True)

    def play(self, request: PlayRequest, on_frame) -> PlayResult:
        from . import viewer_bridge
        if self._viewer is None:
            self._viewer = viewer_bridge.open_player(self)
        return self._viewer.play(request, on_frame)

    def close(self) -> None:
        if self._viewer is not None:
            self._viewer.close()
            self._viewer = None
        if self._own and self.window:
            self.glfw.destroy_window(self.window)
            self.window = None
