"""The composition layers the viewer submits to an OpenXR runtime, each with its own swapchains.

* :class:`ProjectionLayer`: the viewer renders each eye's perspective view
  (the runtime's pose and asymmetric field of view) into that eye's swapchain.
* :class:`EquirectLayer` (``XR_KHR_composition_layer_equirect2``): the viewer
  renders the whole sphere, dream and control already mixed by the dose, into
  an equirectangular swapchain image, and the compositor samples it along each
  display ray itself: full 360°×180°, infinite radius, in LOCAL space.  A
  top-bottom stereo source is two layers, one per eye.
* :class:`QuadLayer`: a flat RGBA picture (a participant's screen) in front of
  the head, world-locked (placed in front of where the head looks when the
  picture first appears) or head-locked.

A layer's ``compose(...)`` draws (or not) and returns the layer structures for
this frame; they stay referenced by the layer until the next call.  Swapchains
are destroyed with the session (its ``ExitStack``).  GL swapchain images have
their origin at the bottom-left, as GL draws.
"""
from __future__ import annotations

import ctypes
import math
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np

from ..io.probe import Stereo
from .pose import matrix_from_quat

EQUIRECT_MAX_WIDTH = 4096    # per eye; a source wider than this is sampled down into the layer
QUAD_PIXELS = (1280, 720)    # a screen's picture on a quad layer
QUAD_DISTANCE_M = 1.0        # how far in front of the head a quad is placed
QUAD_WIDTH_M = 1.2           # its width (about 62° of view at 1 m); the height follows the picture


class Swapchain:
    """One colour swapchain of ``width`` × ``height`` on the session, destroyed with ``stack``."""

    def __init__(self, xr, session, stack, fmt: int, width: int, height: int):
        self.xr = xr
        self.width, self.height = int(width), int(height)
        info = xr.SwapchainCreateInfo(
            usage_flags=xr.SwapchainUsageFlags.COLOR_ATTACHMENT_BIT | xr.SwapchainUsageFlags.SAMPLED_BIT,
            format=fmt, sample_count=1, width=self.width, height=self.height, face_count=1, array_size=1,
            mip_count=1)
        self.handle = xr.create_swapchain(session, info)
        self.alive = True

        def destroy():
            if self.alive:
                self.alive = False
                try:
                    xr.destroy_swapchain(self.handle)
                except xr.exception.XrException:
                    pass
        self.destroy = destroy
        stack.callback(destroy)
        self.images = [img.image for img in xr.enumerate_swapchain_images(self.handle, xr.SwapchainImageOpenGLKHR)]

    def acquire(self) -> int:
        """The GL texture of the next image (released again by :meth:`release`)."""
        xr = self.xr
        idx = xr.acquire_swapchain_image(self.handle, xr.SwapchainImageAcquireInfo())
        xr.wait_swapchain_image(self.handle, xr.SwapchainImageWaitInfo(timeout=xr.INFINITE_DURATION))
        return self.images[idx]

    def release(self):
        self.xr.release_swapchain_image(self.handle, self.xr.SwapchainImageReleaseInfo())

    def fill(self, sub):
        """Point a ``SwapchainSubImage`` at the whole image."""
        sub.swapchain = self.handle
        sub.image_rect.offset.x = sub.image_rect.offset.y = 0
        sub.image_rect.extent.width, sub.image_rect.extent.height = self.width, self.height
        sub.image_array_index = 0


def _draw_into(fbo: int, texture: int):
    from OpenGL import GL

    GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, fbo)
    GL.glFramebufferTexture2D(GL.GL_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0, GL.GL_TEXTURE_2D, texture, 0)


def eye_tangents(fov) -> Tuple[float, float, float, float]:
    return (math.tan(fov.angle_left), math.tan(fov.angle_right), math.tan(fov.angle_down), math.tan(fov.angle_up))


def eye_quat(view) -> Tuple[float, float, float, float]:
    o = view.pose.orientation
    return (o.w, o.x, o.y, o.z)


def letterbox(size: Tuple[int, int], aspect: float) -> Tuple[int, int, int, int]:
    """The largest centred rectangle of ``aspect`` (w/h) in a target of ``size``: (x, y, w, h)."""
    ww, wh = size
    w, h = (ww, int(round(ww / aspect))) if ww / max(1, wh) <= aspect else (int(round(wh * aspect)), wh)
    return (ww - w) // 2, (wh - h) // 2, w, h


def mirror_view(viewer, renderer, view, dose: float, layout: Stereo):
    """The left eye's view drawn on the desktop window (letterboxed to the eye's shape)."""
    from OpenGL import GL

    t = eye_tangents(view.fov)
    viewer.bind_target()
    GL.glClearColor(0, 0, 0, 1)
    GL.glClear(GL.GL_COLOR_BUFFER_BIT)
    rect = letterbox(viewer.framebuffer_size, (t[1] - t[0]) / (t[3] - t[2]))
    renderer.draw(rect, matrix_from_quat(eye_quat(view)), t, dose, 0, layout)


@dataclass
class LayerContext:
    """What every layer needs from the session."""

    xr: object
    session: object
    space: object           # LOCAL
    view_space: object      # VIEW (head-locked quads)
    stack: object           # the session's ExitStack
    fmt: int                # the swapchain format
    fbo: int                # a framebuffer object to draw into swapchain images
    viewer: object


class ProjectionLayer:
    """Each eye's view rendered by the viewer (one swapchain per eye, the runtime's recommended size)."""

    name = "projection"

    def __init__(self, ctx: LayerContext, eye_sizes: List[Tuple[int, int]]):
        self.ctx = ctx
        self.chains = [Swapchain(ctx.xr, ctx.session, ctx.stack, ctx.fmt, w, h) for w, h in eye_sizes]
        self._keep = None

    def compose(self, views, renderer, dose: float, layout: Stereo) -> list:
        xr, ctx = self.ctx.xr, self.ctx
        from OpenGL import GL

        proj_views = (xr.CompositionLayerProjectionView * len(views))()
        for eye, view in enumerate(views):
            chain = self.chains[eye]
            _draw_into(ctx.fbo, chain.acquire())
            renderer.draw((0, 0, chain.width, chain.height), matrix_from_quat(eye_quat(view)),
                          eye_tangents(view.fov), dose, eye, layout)
            GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)
            chain.release()
            pv = proj_views[eye]
            pv.type = xr.StructureType.COMPOSITION_LAYER_PROJECTION_VIEW
            pv.pose, pv.fov = view.pose, view.fov
            chain.fill(pv.sub_image)
        mirror_view(ctx.viewer, renderer, views[0], dose, layout)
        self._keep = (proj_views, xr.CompositionLayerProjection(space=ctx.space, views=proj_views))
        return [self._keep[1]]


def equirect_size(renderer, layout: Stereo) -> Tuple[int, int]:
    """One eye's equirect size: the dream's own (per eye), at most :data:`EQUIRECT_MAX_WIDTH` wide, 2:1."""
    src = renderer.sources.get("dream")
    tex = src.textures[0] if src is not None and src.textures else None
    w = tex.width if tex is not None else 2048
    w = max(64, min(EQUIRECT_MAX_WIDTH, int(w)))
    return w, w // 2


class EquirectLayer:
    """The mixed sphere as ``XR_KHR_composition_layer_equirect2`` layers (one, or one per eye for stereo)."""

    name = "equirect"

    def __init__(self, ctx: LayerContext):
        self.ctx = ctx
        self.chains: List[Swapchain] = []
        self._keep = None

    def _chains_for(self, size: Tuple[int, int], eyes: int) -> List[Swapchain]:
        ctx = self.ctx
        if len(self.chains) != eyes or any((c.width, c.height) != size for c in self.chains):
            for c in self.chains:
                c.destroy()
            self.chains = [Swapchain(ctx.xr, ctx.session, ctx.stack, ctx.fmt, *size) for _ in range(eyes)]
        return self.chains

    def compose(self, views, renderer, dose: float, layout: Stereo) -> list:
        xr, ctx = self.ctx.xr, self.ctx
        from OpenGL import GL

        stereo = layout is Stereo.TOP_BOTTOM
        chains = self._chains_for(equirect_size(renderer, layout), 2 if stereo else 1)
        visibility = [xr.EyeVisibility.LEFT, xr.EyeVisibility.RIGHT] if stereo else [xr.EyeVisibility.BOTH]
        layers = []
        for eye, (chain, vis) in enumerate(zip(chains, visibility)):
            _draw_into(ctx.fbo, chain.acquire())
            renderer.draw_sphere((0, 0, chain.width, chain.height), dose, eye, layout)
            GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)
            chain.release()
            sub = xr.SwapchainSubImage()
            chain.fill(sub)
            layers.append(xr.CompositionLayerEquirect2KHR(
                space=ctx.space, eye_visibility=vis, sub_image=sub, pose=xr.Posef(),
                radius=0.0,    # 0: an infinitely large sphere (as +inf); partial spheres differ across runtimes
                central_horizontal_angle=2 * math.pi, upper_vertical_angle=math.pi / 2,
                lower_vertical_angle=-math.pi / 2))
        mirror_view(ctx.viewer, renderer, views[0], dose, layout)
        self._keep = layers
        return list(layers)


def _yaw_quat(w: float, x: float, y: float, z: float) -> Tuple[float, float, float, float]:
    """The rotation about the vertical axis only (heading) of a camera-to-world quaternion."""
    m = matrix_from_quat((w, x, y, z))
    fwd = -m[:, 2]
    yaw = math.atan2(-fwd[0], -fwd[2])      # rotation about +y that turns -z onto the heading
    return (math.cos(yaw / 2), 0.0, math.sin(yaw / 2), 0.0)


class QuadLayer:
    """A participant's screen (RGBA uint8, row 0 on top) on a quad in front of the head.

    ``placement``: ``world`` (fixed in LOCAL space, placed in front of where the
    head looks when a picture appears after none) or ``head`` (moves with the head).
    """

    name = "quad"

    def __init__(self, ctx: LayerContext, placement: str = "world"):
        if placement not in ("world", "head"):
            raise ValueError(f"quad placement {placement!r} is not world or head")
        self.ctx = ctx
        self.placement = placement
        self.chain: Optional[Swapchain] = None
        self.token = None
        self.pose = None
        self.uploads = 0
        self._keep = None

    def set_picture(self, rgba: Optional[np.ndarray], token, head_quat=None):
        """Show ``rgba`` from now on (uploaded when ``token`` changes); None hides the quad."""
        if rgba is None:
            self.token = self.pose = None
            return
        if self.pose is None:
            self.pose = self._place(head_quat)
        if token == self.token and self.chain is not None:
            return
        h, w = rgba.shape[:2]
        if self.chain is None or (self.chain.width, self.chain.height) != (w, h):
            if self.chain is not None:
                self.chain.destroy()
            self.chain = Swapchain(self.ctx.xr, self.ctx.session, self.ctx.stack, self.ctx.fmt, w, h)
        self._upload(rgba)
        self.token = token

    def _upload(self, rgba: np.ndarray):
        from OpenGL import GL

        tex = self.chain.acquire()
        GL.glBindTexture(GL.GL_TEXTURE_2D, tex)
        GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 1)
        GL.glTexSubImage2D(GL.GL_TEXTURE_2D, 0, 0, 0, rgba.shape[1], rgba.shape[0], GL.GL_RGBA,
                           GL.GL_UNSIGNED_BYTE, np.ascontiguousarray(rgba[::-1]))   # GL rows go bottom-up
        GL.glBindTexture(GL.GL_TEXTURE_2D, 0)
        GL.glFlush()
        self.chain.release()
        self.uploads += 1

    def _place(self, head_quat):
        xr = self.ctx.xr
        pose = xr.Posef()
        if self.placement == "head" or head_quat is None:
            pose.position.z = -QUAD_DISTANCE_M
            return pose
        w, x, y, z = _yaw_quat(*head_quat)
        pose.orientation.w, pose.orientation.x, pose.orientation.y, pose.orientation.z = w, x, y, z
        ang = 2 * math.atan2(y, w)
        pose.position.x, pose.position.z = -math.sin(ang) * QUAD_DISTANCE_M, -math.cos(ang) * QUAD_DISTANCE_M
        return pose

    @property
    def visible(self) -> bool:
        return self.token is not None and self.chain is not None

    def compose(self) -> list:
        if not self.visible:
            return []
        xr, ctx, chain = self.ctx.xr, self.ctx, self.chain
        sub = xr.SwapchainSubImage()
        chain.fill(sub)
        space = ctx.view_space if self.placement == "head" else ctx.space
        layer = xr.CompositionLayerQuad(
            layer_flags=xr.CompositionLayerFlags.BLEND_TEXTURE_SOURCE_ALPHA_BIT
            | xr.CompositionLayerFlags.UNPREMULTIPLIED_ALPHA_BIT,
            space=space, eye_visibility=xr.EyeVisibility.BOTH, sub_image=sub, pose=self.pose,
            size=xr.Extent2Df(QUAD_WIDTH_M, QUAD_WIDTH_M * chain.height / chain.width))
        self._keep = layer
        return [layer]


def layer_pointers(layers) -> list:
    """``ctypes.byref`` of each layer, as ``xrEndFrame`` takes them."""
    return [ctypes.byref(layer) for layer in layers]
