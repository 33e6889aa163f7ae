"""OpenXR headset output through pyopenxr, behind a small pose-source interface.

Only this module imports ``xr``.  :func:`check_runtime` fails with one line
(:class:`UserError`, exit 2) when no runtime is installed/active; the viewer
calls it before opening any window.  :class:`XRSession` owns the instance,
session, reference space and one swapchain per eye, and renders each eye with
the runtime's pose and (asymmetric) field of view by calling back into the
viewer's renderer; :class:`XRPoseSource` hands the head pose to the rest of
the viewer (pose logs, status) like any other pose source.

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
from typing import Callable, List, Optional

from ..errors import UserError
from .pose import Pose, matrix_from_quat

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


class XRSession:
    """Instance, session, LOCAL space and per-eye swapchains on the viewer's GL context.

    A context manager: entering creates everything (what was created is destroyed
    again if a later step fails), leaving destroys it in reverse order.
    """

    def __init__(self, viewer):
        self.viewer = viewer
        self.xr = _import_xr()
        self.instance = self.system = self.session = self.space = None
        self.swapchains = []
        self.running = False
        self.exit_requested = False
        self.state = None
        self.pose_source = XRPoseSource()
        self._fbo = None
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
        self._stack.close()
        self.instance = self.system = self.session = self.space = None
        self.swapchains = []
        self._fbo = None

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
        check_runtime()
        with quiet_stderr():
            try:
                self.instance = xr.create_instance(xr.InstanceCreateInfo(
                    application_info=xr.ApplicationInfo(application_name="hallucinator", engine_name="hallucinator"),
                    enabled_extension_names=[xr.KHR_OPENGL_ENABLE_EXTENSION_NAME]))
                self._destroy_later(xr.destroy_instance, self.instance)
                self.system = xr.get_system(self.instance,
                                            xr.SystemGetInfo(form_factor=xr.FormFactor.HEAD_MOUNTED_DISPLAY))
            except xr.exception.XrException as exc:
                raise UserError(f"--xr: the OpenXR runtime has no headset ready ({str(exc).strip().splitlines()[0]}); "
                                "connect and wake the headset, or run without --xr") from None
        self._check_opengl()
        self.viewer.make_current()
        binding = self._graphics_binding()
        self.session = xr.create_session(self.instance, xr.SessionCreateInfo(
            system_id=self.system, next=ctypes.cast(ctypes.pointer(binding), ctypes.c_void_p)))
        self._destroy_later(xr.destroy_session, self.session)
        self.space = xr.create_reference_space(self.session, xr.ReferenceSpaceCreateInfo(
            reference_space_type=xr.ReferenceSpaceType.LOCAL))
        self._destroy_later(xr.destroy_space, self.space)
        self.view_type = xr.ViewConfigurationType.PRIMARY_STEREO
        self._create_swapchains()

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

    def _create_swapchains(self):
        xr = self.xr
        from OpenGL import GL

        views = xr.enumerate_view_configuration_views(self.instance, self.system, self.view_type)
        formats = list(xr.enumerate_swapchain_formats(self.session))
        fmt = next((f for f in (GL.GL_SRGB8_ALPHA8, GL.GL_RGBA8) if f in formats), formats[0])
        for vc in views:
            info = xr.SwapchainCreateInfo(
                usage_flags=xr.SwapchainUsageFlags.COLOR_ATTACHMENT_BIT | xr.SwapchainUsageFlags.SAMPLED_BIT,
                format=fmt, sample_count=1, width=vc.recommended_image_rect_width,
                height=vc.recommended_image_rect_height, face_count=1, array_size=1, mip_count=1)
            handle = xr.create_swapchain(self.session, info)
            self._destroy_later(xr.destroy_swapchain, handle)
            images = xr.enumerate_swapchain_images(handle, xr.SwapchainImageOpenGLKHR)
            self.swapchains.append((handle, info.width, info.height, [img.image for img in images]))
        self._fbo = GL.glGenFramebuffers(1)
        self._stack.callback(GL.glDeleteFramebuffers, 1, [self._fbo])

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

    def render_frame(self, draw_eye: Callable) -> Optional[Pose]:
        """One headset frame: wait, locate the eyes, ``draw_eye(eye, viewport, rotation, tangents)`` into each
        swapchain image, submit.  Returns the head pose (or None when the runtime asked for no rendering)."""
        xr = self.xr
        self._poll()
        if self.exit_requested:
            self.viewer.request_close()
            return None
        if not self.running:
            import time

            time.sleep(0.05)   # the runtime has not started the session yet; nothing to pace the loop
            return None
        state = xr.wait_frame(self.session, xr.FrameWaitInfo())
        xr.begin_frame(self.session, xr.FrameBeginInfo())
        layers = []
        head = None
        if state.should_render:
            _, views = xr.locate_views(self.session, xr.ViewLocateInfo(
                view_configuration_type=self.view_type, display_time=state.predicted_display_time, space=self.space))
            proj_views = (xr.CompositionLayerProjectionView * len(views))()
            quats = [self._draw_eye(eye, view, proj_views[eye], draw_eye) for eye, view in enumerate(views)]
            layer = xr.CompositionLayerProjection(space=self.space, views=proj_views)
            layers.append(ctypes.byref(layer))
            # head orientation: the normalised mean of the eyes (they differ by position, not rotation)
            w_, x_, y_, z_ = (sum(c) / len(quats) for c in zip(*quats))
            n = math.sqrt(w_ * w_ + x_ * x_ + y_ * y_ + z_ * z_) or 1.0
            l, r = views[0].fov.angle_left, views[-1].fov.angle_right
            head = Pose((w_ / n, x_ / n, y_ / n, z_ / n), math.degrees(r - l))
            self.pose_source.last = head
        xr.end_frame(self.session, xr.FrameEndInfo(display_time=state.predicted_display_time,
                                                   environment_blend_mode=xr.EnvironmentBlendMode.OPAQUE,
                                                   layers=layers))
        return head

    def _draw_eye(self, eye: int, view, pv, draw_eye: Callable):
        """Draw one eye into its swapchain image and fill its projection view; returns the eye's quaternion."""
        xr = self.xr
        from OpenGL import GL

        handle, w, h, images = self.swapchains[eye]
        idx = xr.acquire_swapchain_image(handle, xr.SwapchainImageAcquireInfo())
        xr.wait_swapchain_image(handle, xr.SwapchainImageWaitInfo(timeout=xr.INFINITE_DURATION))
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self._fbo)
        GL.glFramebufferTexture2D(GL.GL_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0, GL.GL_TEXTURE_2D, images[idx], 0)
        o = view.pose.orientation
        q = (o.w, o.x, o.y, o.z)
        f = view.fov
        tangents = (math.tan(f.angle_left), math.tan(f.angle_right), math.tan(f.angle_down), math.tan(f.angle_up))
        draw_eye(eye, (0, 0, w, h), matrix_from_quat(q), tangents)
        if eye == 0:
            self._mirror_copy(w, h)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)
        xr.release_swapchain_image(handle, xr.SwapchainImageReleaseInfo())
        pv.type = xr.StructureType.COMPOSITION_LAYER_PROJECTION_VIEW
        pv.pose, pv.fov = view.pose, view.fov
        pv.sub_image.swapchain = handle
        pv.sub_image.image_rect.offset.x = pv.sub_image.image_rect.offset.y = 0
        pv.sub_image.image_rect.extent.width, pv.sub_image.image_rect.extent.height = w, h
        return q

    def _mirror_copy(self, w: int, h: int):
        """Blit the left eye (bound to our FBO) onto the desktop window."""
        from OpenGL import GL

        ww, wh = self.viewer.framebuffer_size
        scale = min(ww / w, wh / h)
        dw, dh = int(w * scale), int(h * scale)
        GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, self._fbo)
        GL.glBindFramebuffer(GL.GL_DRAW_FRAMEBUFFER, self.viewer.target)
        GL.glClearColor(0, 0, 0, 1)
        GL.glClear(GL.GL_COLOR_BUFFER_BIT)
        x0, y0 = (ww - dw) // 2, (wh - dh) // 2
        GL.glBlitFramebuffer(0, 0, w, h, x0, y0, x0 + dw, y0 + dh, GL.GL_COLOR_BUFFER_BIT, GL.GL_LINEAR)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self._fbo)
