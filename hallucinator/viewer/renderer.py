"""The equirect renderer: one fullscreen pass, a ray per pixel, dream and control mixed by dose.

Needs a current OpenGL 3.3 core context.  ``set_frame("dream", image)``
uploads a frame (through pixel buffer objects), ``draw(...)`` renders a view
into the bound framebuffer's ``viewport``.  Also a tiny text/image overlay
(:class:`Overlay`) for the status line and for callers' own screens.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from OpenGL import GL

from ..io.probe import Stereo
from .gl import Program, Texture
from .pose import Pose, symmetric_tangents

LAYOUTS = {Stereo.MONO: 0, Stereo.TOP_BOTTOM: 1}   # the shader's u_layout


class _Source:
    """The textures of one source (dream or control): one RGB texture or Y, U, V planes."""

    def __init__(self):
        self.textures: List[Texture] = []
        self.yuv = None

    def upload(self, planes, yuv, pbo: bool):
        if len(planes) != len(self.textures) or not all(t.matches(p) for t, p in zip(self.textures, planes)):
            self.delete()
            self.textures = [Texture(p.shape[1], p.shape[0], p.shape[2] if p.ndim == 3 else 1,
                                     pbo_count=2 if pbo else 0) for p in planes]
        for t, p in zip(self.textures, planes):
            t.upload(p)
        self.yuv = yuv

    def bind(self, program, prefix: str, first_unit: int):
        for i in range(3):
            tex = self.textures[min(i, len(self.textures) - 1)]
            tex.bind(first_unit + i)
            program.set1i(f"{prefix}{i}", first_unit + i)
        program.set1i(f"{prefix}_yuv", 0 if self.yuv is None else (2 if len(self.textures) == 2 else 1))
        if self.yuv is not None:
            m, off = self.yuv
            program.set_mat3(f"{prefix}_matrix", m)
            program.set3f(f"{prefix}_offset", *off)

    def delete(self):
        for t in self.textures:
            t.delete()
        self.textures = []


def software_renderer() -> bool:
    """True on CPU rasterisers (llvmpipe, softpipe, SwiftShader), where PBOs only add a copy."""
    name = GL.glGetString(GL.GL_RENDERER) or b""
    name = name.decode(errors="replace") if isinstance(name, bytes) else str(name)
    return any(k in name.lower() for k in ("llvmpipe", "softpipe", "swiftshader", "software"))


class EquirectRenderer:
    """Draws perspective views of equirect frames with the shaders in ``shaders/``.

    ``pbo``: upload through pixel buffer objects (``"auto"``: yes on GPUs, no on
    software rasterisers where they only add a copy).
    """

    def __init__(self, pbo="auto"):
        self.program = Program("fullscreen.vert", "equirect.frag")
        self.vao = GL.glGenVertexArrays(1)
        self.sources: Dict[str, Optional[_Source]] = {"dream": None, "control": None}
        software = software_renderer()
        self.pbo = (not software) if pbo == "auto" else bool(pbo)
        # 4:2:0 planes converted in the shader halve the upload and skip the CPU conversion on GPUs;
        # on CPU rasterisers the extra texture fetches per output pixel cost more than they save
        self.planar = not software
        self.layout = Stereo.MONO

    def set_frame(self, which: str, frame):
        """Upload a frame as the ``dream`` or ``control`` picture.

        ``frame``: uint8 (H, W, 3) RGB array (row 0 at the top) or a
        :class:`hallucinator.viewer.frames.Frame` (RGB or Y/U/V planes).
        """
        if isinstance(frame, np.ndarray):
            planes, yuv = (frame,), None
        else:
            planes, yuv = frame.planes, frame.yuv
        src = self.sources.get(which)
        if src is None:
            src = self.sources[which] = _Source()
        src.upload(planes, yuv, self.pbo)

    def clear_control(self):
        if self.sources.get("control") is not None:
            self.sources["control"].delete()
            self.sources["control"] = None

    def draw(self, viewport: Sequence[int], rotation, tangents: Tuple[float, float, float, float], dose: float = 1.0,
             eye: int = 0, layout: Optional[Stereo] = None, sphere: bool = False):
        """Render the view with camera-to-world ``rotation`` (3x3) and frustum ``tangents`` into ``viewport``
        (``sphere``: the whole sphere as an equirect picture instead, top row up; rotation and tangents unused)."""
        dream = self.sources.get("dream")
        if dream is None:
            raise RuntimeError("no frame uploaded yet")
        control = self.sources.get("control")
        x, y, w, h = (int(v) for v in viewport)
        GL.glViewport(x, y, w, h)
        # whatever the caller's own GL code left enabled must not touch the scene
        for cap in (GL.GL_BLEND, GL.GL_DEPTH_TEST, GL.GL_SCISSOR_TEST, GL.GL_CULL_FACE, GL.GL_STENCIL_TEST):
            GL.glDisable(cap)
        GL.glColorMask(True, True, True, True)
        p = self.program
        p.use()
        dream.bind(p, "u_dream", 0)
        (control or dream).bind(p, "u_control", 3)
        p.set1i("u_has_control", 1 if control is not None else 0)
        p.set1f("u_dose", dose)
        p.set_mat3("u_rotation", rotation)
        p.set4f("u_tan", *tangents)
        p.set4f("u_viewport", x, y, w, h)
        p.set1i("u_layout", LAYOUTS[layout or self.layout])
        p.set1i("u_eye", eye)
        p.set1i("u_sphere", 1 if sphere else 0)
        GL.glBindVertexArray(self.vao)
        GL.glDrawArrays(GL.GL_TRIANGLES, 0, 3)
        GL.glBindVertexArray(0)

    def draw_pose(self, viewport: Sequence[int], pose: Pose, dose: float = 1.0, eye: int = 0,
                  layout: Optional[Stereo] = None):
        """Render a desktop view (symmetric frustum, horizontal FOV ``pose.fov``)."""
        w, h = int(viewport[2]), int(viewport[3])
        self.draw(viewport, pose.matrix, symmetric_tangents(pose.fov, w, h), dose, eye, layout)

    def draw_sphere(self, viewport: Sequence[int], dose: float = 1.0, eye: int = 0, layout: Optional[Stereo] = None):
        """Render one eye's whole sphere, dream and control mixed by ``dose``, as an equirect picture filling
        ``viewport`` (GL rows bottom-up: the top row is latitude +90°), for a runtime's equirect layer."""
        self.draw(viewport, np.eye(3), (-1.0, 1.0, -1.0, 1.0), dose, eye, layout, sphere=True)

    def delete(self):
        for k, src in list(self.sources.items()):
            if src is not None:
                src.delete()
            self.sources[k] = None
        self.program.delete()
        if self.vao:
            GL.glDeleteVertexArrays(1, [self.vao])
            self.vao = 0


def text_image(text: str, scale: float = 0.6, color=(255, 255, 255), background=(0, 0, 0, 160),
               thickness: int = 1, padding: int = 6, width: Optional[int] = None) -> np.ndarray:
    """RGBA uint8 image of one or more lines of text (OpenCV's Hershey font)."""
    import cv2

    lines = text.split("\n") or [""]
    font = cv2.FONT_HERSHEY_SIMPLEX
    sizes = [cv2.getTextSize(line or " ", font, scale, thickness) for line in lines]
    line_h = max(s[0][1] + s[1] for s in sizes) + padding
    w = width or (max(s[0][0] for s in sizes) + 2 * padding)
    h = line_h * len(lines) + padding
    img = np.zeros((h, w, 4), np.uint8)
    img[:] = background if len(background) == 4 else (*background, 255)
    rgba = (*color, 255) if len(color) == 3 else tuple(color)
    for i, line in enumerate(lines):
        base = padding + (i + 1) * line_h - sizes[i][1] - padding // 2
        cv2.putText(img, line, (padding, base), font, scale, rgba, thickness, cv2.LINE_AA)
    return img


class Overlay:
    """Draws RGBA images (and text) in window pixels, top-left origin, alpha-blended."""

    def __init__(self):
        self.program = Program("overlay.vert", "overlay.frag")
        self.vao = GL.glGenVertexArrays(1)
        self._cache: Dict[str, Tuple[str, Texture]] = {}

    def draw_image(self, rgba: np.ndarray, x: float, y: float, screen: Tuple[int, int], key: Optional[str] = None,
                   width: Optional[float] = None, height: Optional[float] = None, token=None):
        """Blend ``rgba`` (uint8 (h, w, 4)) with its top-left at pixel (x, y) of a ``screen`` (w, h) framebuffer.

        ``key`` names a cached texture; it is re-uploaded only when ``token`` changes.
        """
        key = key or f"_img{id(rgba)}"
        cached = self._cache.get(key)
        if cached is None or cached[0] != token or not cached[1].matches(rgba):
            if cached is not None and not cached[1].matches(rgba):
                cached[1].delete()
                cached = None
            tex = cached[1] if cached else Texture(rgba.shape[1], rgba.shape[0], 4, wrap_s=GL.GL_CLAMP_TO_EDGE,
                                                   pbo_count=0)
            tex.upload(rgba)
            self._cache[key] = (token, tex)
        tex = self._cache[key][1]
        GL.glViewport(0, 0, int(screen[0]), int(screen[1]))
        GL.glEnable(GL.GL_BLEND)
        GL.glBlendFunc(GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA)
        p = self.program
        p.use()
        tex.bind(0)
        p.set1i("u_image", 0)
        p.set4f("u_rect", x, y, width or rgba.shape[1], height or rgba.shape[0])
        p.set2f("u_screen", screen[0], screen[1])
        GL.glBindVertexArray(self.vao)
        GL.glDrawArrays(GL.GL_TRIANGLE_STRIP, 0, 4)
        GL.glBindVertexArray(0)
        GL.glDisable(GL.GL_BLEND)
        if key.startswith("_img"):
            tex.delete()
            del self._cache[key]

    def draw_text(self, text: str, x: float, y: float, screen: Tuple[int, int], scale: float = 0.6,
                  color=(255, 255, 255), background=(0, 0, 0, 160), key: str = "text") -> Tuple[int, int]:
        """Draw ``text`` at (x, y) (top-left, pixels); returns the (width, height) it took."""
        token = (text, scale, tuple(color), tuple(background))
        cached = self._cache.get(key)
        if cached is not None and cached[0] == token:
            img_shape = (cached[1].height, cached[1].width)
            rgba = None
        else:
            rgba = text_image(text, scale, color, background)
            img_shape = rgba.shape[:2]
        if rgba is None:
            tex = cached[1]
            GL.glViewport(0, 0, int(screen[0]), int(screen[1]))
            GL.glEnable(GL.GL_BLEND)
            GL.glBlendFunc(GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA)
            self.program.use()
            tex.bind(0)
            self.program.set1i("u_image", 0)
            self.program.set4f("u_rect", x, y, tex.width, tex.height)
            self.program.set2f("u_screen", screen[0], screen[1])
            GL.glBindVertexArray(self.vao)
            GL.glDrawArrays(GL.GL_TRIANGLE_STRIP, 0, 4)
            GL.glBindVertexArray(0)
            GL.glDisable(GL.GL_BLEND)
        else:
            self.draw_image(rgba, x, y, screen, key=key, token=token)
        return img_shape[1], img_shape[0]

    def delete(self):
        for _, tex in self._cache.values():
            tex.delete()
        self._cache.clear()
        self.program.delete()
        if self.vao:
            GL.glDeleteVertexArrays(1, [self.vao])
            self.vao = 0
