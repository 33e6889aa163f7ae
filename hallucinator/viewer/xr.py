"""OpenXR headset output through pyopenxr, behind a small pose-source interface.

:func:`check_runtime` fails with one line (:class:`UserError`, exit 2) when no
runtime is installed/active; the viewer calls it before opening any window.
:class:`XRSession` owns the instance, session, reference spaces, the action
set (:mod:`.xr_actions`) and the composition layers (:mod:`.xr_layers`): the
scene as a projection layer (each eye rendered by the viewer with the
runtime's pose and asymmetric field of view) or as equirect layers (the
compositor samples the mixed sphere itself), and a quad layer for a
participant's screens.  :class:`XRPoseSource` hands the head pose to the rest
of the viewer (pose logs, status) like any other pose source.  Leaving the
session asks the runtime to end it and follows its states through EXITING.

Conventions match :mod:`hallucinator.sphere`: OpenXR's LOCAL space is x right,
y up, -z forward, and its orientation quaternions are camera to world.
"""
from __future__ import annotations

import contextlib
import ctypes
import math
import os
import sys
import tempfile
import time
from typing import List, Optional

from ..errors import UserError
from .pose import Pose
from .request import XR_LAYERS

EQUIRECT_EXTENSION = "XR_KHR_composition_layer_equirect2"
EXIT_TIMEOUT_S = 3.0        # how long leaving waits for the runtime to take the session through EXITING
RUNTIME_HELP = ("install and start an OpenXR runtime (SteamVR, Monado, Meta/Oculus, WMR) and make it the "
                "active one, or run without --xr")


@contextlib.contextmanager
def quiet_stderr():
    """Silence the OpenXR loader's own multi-line complaints on fd 2 (their text lands in the yielded dict)."""
    captured = {"text": ""}
    fd = 2  # the C++ loader writes to the process's stderr, whatever sys.stderr is
    try:
        sys.stderr.flush()
    except Exception:
        pass
    saved = os.dup(fd)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), fd)
        try:
            yield captured
        finally:
            os.dup2(saved, fd)
            os.close(saved)
            tmp.seek(0)
            captured["text"] = tmp.read().decode(errors="replace")


def _import_xr():
    try:
        import xr  # noqa: F401
    except Exception as exc:  # pragma: no cover - pyopenxr is a dependency
        raise UserError(f"pyopenxr is not usable ({exc}); pip install pyopenxr, or run without --xr") from None
    return xr


def resolve_layer(word: str, extensions: List[str]) -> str:
    """The scene layer to use: ``equirect`` or ``projection`` (``auto``: equirect when the runtime offers
    XR_KHR_composition_layer_equirect2); :class:`UserError` for equirect on a runtime without it."""
    if word not in XR_LAYERS:
        raise UserError(f"--xr-layer {word!r} is not one of {', '.join(XR_LAYERS)}")
    offered = EQUIRECT_EXTENSION in extensions
    if word == "auto":
        return "equirect" if offered else "projection"
    if word == "equirect" and not offered:
        raise UserError("--xr-layer equirect: the active OpenXR runtime has no XR_KHR_composition_layer_equirect2; "
                        "use --xr-layer projection")
    return word


def check_runtime() -> List[str]:
    """The runtime's instance extensions; :class:`UserError` when there is no runtime or no OpenGL support."""
    xr = _import_xr()
    with quiet_stderr():
        try:
            props = xr.enumerate_instance_extension_properties()
        except xr.exception.XrException as exc:
            reason = "the loader could not find or load one" if isinstance(
                exc, getattr(xr.exception, "RuntimeUnavailableError", ())) else str(exc).strip().splitlines()[0]
            hint = f" (XR_RUNTIME_JSON={os.environ['XR_RUNTIME_JSON']})" if os.environ.get("XR_RUNTIME_JSON") else ""
        else:
            reason = None
    if reason is not None:
        raise UserError(f"--xr: no OpenXR runtime available: {reason}{hint}; {RUNTIME_HELP}")
    names = [p.extension_name.decode() if isinstance(p.extension_name, bytes) else str(p.extension_name)
             for p in props]
    if xr.KHR_OPENGL_ENABLE_EXTENSION_NAME not in names:
        raise UserError("--xr: the active OpenXR runtime has no OpenGL support (XR_KHR_opengl_enable); "
                        "use a runtime that offers it (SteamVR, Monado), or run without --xr")
    return names


class XRPoseSource:
    """The headset's head pose (updated by :meth:`XRSession.render_frame`)."""

    name = "xr"
    continuous = True   # render at the headset's rate, not only when the video advances

    def __init__(self, fov: float = 100.0):
        self.last = Pose(fov=fov)

    def pose(self, t: float) -> Pose:
        return self.last



def head_pose(views) -> Pose:
    """The head's orientation (the normalised mean of the eyes': they differ by position, not rotation) and the
    horizontal field of view of both eyes together."""
    quats = [(v.pose.orientation.w, v.pose.orientation.x, v.pose.orientation.y, v.pose.orientation.z) for v in views]
    w_, x_, y_, z_ = (sum(c) / len(quats) for c in zip(*quats))
    n = math.sqrt(w_ * w_ + x_ * x_ + y_ * y_ + z_ * z_) or 1.0
    left, right = views[0].fov.angle_left, views[-1].fov.angle_right
    return Pose((w_ / n, x_ / n, y_ / n, z_ / n), math.degrees(right - left))


class XRSession:
    """Instance, session, LOCAL and VIEW spaces, action set and layers on the viewer's GL context.

    A context manager: entering creates everything (what was created is destroyed
    again if a later step fails), leaving ends the session with the runtime and
    destroys it all in reverse order.  ``states`` lists the session states seen.
    """

    def __init__(self, viewer, quad_placement: str = "world"):
        self.viewer = viewer
        self.xr = _import_xr()
        self.instance = self.system = self.session = self.space = self.view_space = None
        self.extensions: List[str] = []
        self.running = False
        self.exit_requested = False
        self.state = None
        self.states: List[str] = []
        self.pose_source = XRPoseSource()
        self.layers = {}
        self.quad = None
        self.quad_placement = quad_placement
        self.actions = None
        self.frames_submitted = 0
        self.layers_submitted = {}          # layer name -> (frames it was in, layers of it submitted)
        self._period_s = 1.0 / 90.0
        self._next_frame_at = 0.0
        self._ctx = None
        self._close_sent = False
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> "XRSession":
        try:
            self._open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self.session is not None and self.running and not self.exit_requested:
            self._end_with_runtime()
        self._stack.close()
        self.instance = self.system = self.session = self.space = self.view_space = None
        self.layers, self.quad, self.actions, self._ctx = {}, None, None, None

    def _destroy_later(self, destroy, handle):
        """Destroy ``handle`` when the session closes (a runtime that is already gone is not an error)."""
        def run():
            try:
                destroy(handle)
            except self.xr.exception.XrException:
                pass
        self._stack.callback(run)

    def _open(self):
        xr = self.xr
        self.extensions = check_runtime()
        enabled = [xr.KHR_OPENGL_ENABLE_EXTENSION_NAME] + [e for e in (EQUIRECT_EXTENSION,) if e in self.extensions]
        with quiet_stderr():
            try:
                self.instance = xr.create_instance(xr.InstanceCreateInfo(
                    application_info=xr.ApplicationInfo(application_name="hallucinator", engine_name="hallucinator"),
                    enabled_extension_names=enabled))
                self._destroy_later(xr.destroy_instance, self.instance)
                self.system = xr.get_system(self.instance,
                                            xr.SystemGetInfo(form_factor=xr.FormFactor.HEAD_MOUNTED_DISPLAY))
            except xr.exception.XrException as exc:
                raise UserError(f"--xr: the OpenXR runtime has no headset ready ({str(exc).strip().splitlines()[0]}); "
                                "connect and wake the headset, or run without --xr") from None
        self._check_opengl()
        self.viewer.make_current()
        binding = self._graphics_binding()
        try:
            self.session = xr.create_session(self.instance, xr.SessionCreateInfo(
                system_id=self.system, next=ctypes.cast(ctypes.pointer(binding), ctypes.c_void_p)))
        except xr.exception.XrException as exc:
            raise UserError(f"--xr: the OpenXR runtime refused the session ({str(exc).strip().splitlines()[0]}); "
                            "check the runtime's log, or run without --xr") from None
        self._destroy_later(xr.destroy_session, self.session)
        self.space = self._reference_space(xr.ReferenceSpaceType.LOCAL)
        self.view_space = self._reference_space(xr.ReferenceSpaceType.VIEW)
        self.view_type = xr.ViewConfigurationType.PRIMARY_STEREO
        self._make_layer_context()
        self.actions = self._make_actions()

    def _reference_space(self, kind):
        xr = self.xr
        space = xr.create_reference_space(self.session, xr.ReferenceSpaceCreateInfo(reference_space_type=kind))
        self._destroy_later(xr.destroy_space, space)
        return space

    def _make_actions(self):
        from .xr_actions import XRActions

        try:
            return XRActions(self.xr, self.instance, self.session, self._stack)
        except self.xr.exception.XrException:
            return None      # no controller input on this runtime: the keyboard and mouse still answer

    def _check_opengl(self):
        xr = self.xr
        pfn = ctypes.cast(xr.get_instance_proc_addr(self.instance, "xrGetOpenGLGraphicsRequirementsKHR"),
                          xr.PFN_xrGetOpenGLGraphicsRequirementsKHR)
        req = xr.GraphicsRequirementsOpenGLKHR()
        result = xr.check_result(xr.Result(pfn(self.instance, self.system, ctypes.byref(req))))
        if result.is_exception():
            raise UserError(f"--xr: the OpenXR runtime refused OpenGL ({result}); update the runtime or the "
                            "graphics driver, or run without --xr")

    def _graphics_binding(self):
        xr = self.xr
        if sys.platform.startswith("win"):
            from OpenGL import WGL

            return xr.GraphicsBindingOpenGLWin32KHR(h_dc=WGL.wglGetCurrentDC(), h_glrc=WGL.wglGetCurrentContext())
        from OpenGL import GLX

        return xr.GraphicsBindingOpenGLXlibKHR(x_display=GLX.glXGetCurrentDisplay(),
                                               glx_drawable=GLX.glXGetCurrentDrawable(),
                                               glx_context=GLX.glXGetCurrentContext())

    def _make_layer_context(self):
        xr = self.xr
        from OpenGL import GL

        from .xr_layers import LayerContext

        formats = list(xr.enumerate_swapchain_formats(self.session))
        fmt = next((f for f in (GL.GL_SRGB8_ALPHA8, GL.GL_RGBA8) if f in formats), formats[0])
        fbo = GL.glGenFramebuffers(1)
        self._stack.callback(GL.glDeleteFramebuffers, 1, [fbo])
        self._ctx = LayerContext(xr, self.session, self.space, self.view_space, self._stack, fmt, fbo, self.viewer)

    def scene_layer(self, word: str = "auto"):
        """The scene's layer for ``word`` (``auto``, ``equirect``, ``projection``), made on first use."""
        from .xr_layers import EquirectLayer, ProjectionLayer

        kind = resolve_layer(word, self.extensions)
        if kind not in self.layers:
            if kind == "equirect":
                self.layers[kind] = EquirectLayer(self._ctx)
            else:
                views = self.xr.enumerate_view_configuration_views(self.instance, self.system, self.view_type)
                self.layers[kind] = ProjectionLayer(
                    self._ctx, [(v.recommended_image_rect_width, v.recommended_image_rect_height) for v in views])
        return self.layers[kind]

    # -- events and the frame loop ---------------------------------------------------------------
    def _poll(self):
        xr = self.xr
        while True:
            try:
                buf = xr.poll_event(self.instance)
            except xr.EventUnavailable:
                return
            kind = xr.StructureType(buf.type)
            if kind == xr.StructureType.EVENT_DATA_SESSION_STATE_CHANGED:
                ev = ctypes.cast(ctypes.byref(buf), ctypes.POINTER(xr.EventDataSessionStateChanged)).contents
                self.state = xr.SessionState(ev.state)
                self.states.append(self.state.name)
                if self.state == xr.SessionState.READY:
                    xr.begin_session(self.session, xr.SessionBeginInfo(primary_view_configuration_type=self.view_type))
                    self.running = True
                elif self.state == xr.SessionState.STOPPING:
                    xr.end_session(self.session)
                    self.running = False
                elif self.state in (xr.SessionState.EXITING, xr.SessionState.LOSS_PENDING):
                    self.exit_requested = True
            elif kind == xr.StructureType.EVENT_DATA_INSTANCE_LOSS_PENDING:
                self.exit_requested = True

    def _begin(self):
        """Poll, then wait for and begin a frame; None when there is no frame to give (not running, or the
        runtime ended the session: the viewer is then asked to close)."""
        xr = self.xr
        self._poll()
        if self.exit_requested:
            if not self._close_sent:
                self._close_sent = True
                self.viewer.request_close()
                self.viewer.inject(self._event("close"))
            return None
        if not self.running:
            time.sleep(0.05)   # the runtime has not started the session yet; nothing to pace the loop
            return None
        state = xr.wait_frame(self.session, xr.FrameWaitInfo())
        now = time.monotonic()
        if state.predicted_display_period > 0:
            self._period_s = state.predicted_display_period / 1e9
        self._next_frame_at = now + 0.8 * self._period_s
        xr.begin_frame(self.session, xr.FrameBeginInfo())
        if self.actions is not None and self.state == xr.SessionState.FOCUSED:
            self.actions.sync(self._emit_key, now)
        return state

    def _locate(self, state):
        xr = self.xr
        _, views = xr.locate_views(self.session, xr.ViewLocateInfo(
            view_configuration_type=self.view_type, display_time=state.predicted_display_time, space=self.space))
        return views

    def _end(self, state, layers):
        from .xr_layers import layer_pointers

        xr = self.xr
        xr.end_frame(self.session, xr.FrameEndInfo(display_time=state.predicted_display_time,
                                                   environment_blend_mode=xr.EnvironmentBlendMode.OPAQUE,
                                                   layers=layer_pointers(layers)))
        self.frames_submitted += 1
        names = [getattr(layer, "_hallucinator_name", "") for layer in layers]
        for name in set(names) - {""}:
            frames, count = self.layers_submitted.get(name, (0, 0))
            self.layers_submitted[name] = (frames + 1, count + names.count(name))

    @staticmethod
    def _event(kind: str, **fields):
        from .app import Event

        return Event(kind, **fields)

    def _emit_key(self, name: str, repeat: bool):
        """A controller action as the window's key event (what the keyboard would send)."""
        import glfw

        code = {"space": glfw.KEY_SPACE, "left": glfw.KEY_LEFT, "right": glfw.KEY_RIGHT, "up": glfw.KEY_UP,
                "down": glfw.KEY_DOWN}[name]
        self.viewer.inject(self._event("key", key=code, action=glfw.REPEAT if repeat else glfw.PRESS))

    def render_scene(self, renderer, dose: float, layout, layer: str = "auto") -> Optional[Pose]:
        """One headset frame of the scene (and the quad, if a picture is up) in the ``layer`` kind.

        Returns the head pose, or None when the runtime asked for no rendering (nothing was shown)."""
        state = self._begin()
        if state is None:
            return None
        layers, head = [], None
        if state.should_render:
            views = self._locate(state)
            head = self.pose_source.last = head_pose(views)
            layers = self._named(self.scene_layer(layer), self.scene_layer(layer).compose(views, renderer, dose,
                                                                                              layout))
            if self.quad is not None:
                layers += self._named(self.quad, self.quad.compose())
        self._end(state, layers)
        return head

    @staticmethod
    def _named(layer, structs):
        for s in structs:
            s._hallucinator_name = layer.name
        return structs

    # -- a participant's screens ------------------------------------------------------------------
    def set_picture(self, rgba, token=None):
        """Show ``rgba`` (RGBA uint8, row 0 on top) on the quad from the next frame on; None hides it."""
        from .xr_layers import QuadLayer

        if self.quad is None and rgba is None:
            return
        if self.quad is None:
            self.quad = QuadLayer(self._ctx, self.quad_placement)
        self.quad.set_picture(rgba, token, self.pose_source.last.quat)

    def frame_due_in(self) -> float:
        """Seconds until the runtime wants the next frame (0: now)."""
        return max(0.0, self._next_frame_at - time.monotonic())

    def tick(self) -> bool:
        """Submit a frame with only the quad, when one is due; True when a frame was submitted."""
        if self.frame_due_in() > 0 and self.running:
            return False
        state = self._begin()
        if state is None:
            return False
        layers = []
        if state.should_render:
            self.pose_source.last = head_pose(self._locate(state))
            if self.quad is not None:
                layers = self._named(self.quad, self.quad.compose())
        self._end(state, layers)
        return True

    def _end_with_runtime(self):
        """Ask the runtime to end the session and follow it to EXITING (empty frames while it stops)."""
        xr = self.xr
        try:
            xr.request_exit_session(self.session)
            deadline = time.monotonic() + EXIT_TIMEOUT_S
            while not self.exit_requested and time.monotonic() < deadline:
                self._poll()
                if self.running and not self.exit_requested:
                    state = xr.wait_frame(self.session, xr.FrameWaitInfo())
                    xr.begin_frame(self.session, xr.FrameBeginInfo())
                    self._end(state, [])
                elif not self.running:
                    time.sleep(0.01)
        except xr.exception.XrException:
            pass      # a runtime that has gone away already: nothing more to end
