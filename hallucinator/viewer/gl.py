"""Small OpenGL 3.3 core helpers: shaders, textures with PBO uploads, framebuffers, readback.

Everything here needs a current OpenGL context (see :class:`hallucinator.viewer.app.Viewer`).
Images cross this boundary as uint8 HWC arrays with row 0 at the top; GL's
bottom-up convention is handled here and in the shaders, nowhere else.
"""
from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np
from OpenGL import GL

from ..resources import resource_dir


def shader_source(name: str) -> str:
    """Text of ``shaders/<name>``."""
    return (Path(resource_dir("shaders")) / name).read_text()


def _compile(kind, source: str, name: str) -> int:
    shader = GL.glCreateShader(kind)
    GL.glShaderSource(shader, source)
    GL.glCompileShader(shader)
    if not GL.glGetShaderiv(shader, GL.GL_COMPILE_STATUS):
        log = GL.glGetShaderInfoLog(shader)
        raise RuntimeError(f"shader {name} failed to compile: {log.decode(errors='replace') if isinstance(log, bytes) else log}")
    return shader


class Program:
    """A linked GLSL program with cached uniform locations."""

    def __init__(self, vertex: str, fragment: str):
        vs = _compile(GL.GL_VERTEX_SHADER, shader_source(vertex), vertex)
        fs = _compile(GL.GL_FRAGMENT_SHADER, shader_source(fragment), fragment)
        self.id = GL.glCreateProgram()
        GL.glAttachShader(self.id, vs)
        GL.glAttachShader(self.id, fs)
        GL.glLinkProgram(self.id)
        GL.glDeleteShader(vs)
        GL.glDeleteShader(fs)
        if not GL.glGetProgramiv(self.id, GL.GL_LINK_STATUS):
            raise RuntimeError(f"program {vertex}+{fragment} failed to link: {GL.glGetProgramInfoLog(self.id)}")
        self._loc = {}

    def loc(self, name: str) -> int:
        if name not in self._loc:
            self._loc[name] = GL.glGetUniformLocation(self.id, name)
        return self._loc[name]

    def use(self):
        GL.glUseProgram(self.id)

    def set1i(self, name, v):
        GL.glUniform1i(self.loc(name), int(v))

    def set1f(self, name, v):
        GL.glUniform1f(self.loc(name), float(v))

    def set2f(self, name, a, b):
        GL.glUniform2f(self.loc(name), float(a), float(b))

    def set4f(self, name, a, b, c, d):
        GL.glUniform4f(self.loc(name), float(a), float(b), float(c), float(d))

    def set3f(self, name, a, b, c):
        GL.glUniform3f(self.loc(name), float(a), float(b), float(c))

    def set_mat3(self, name, m):
        # numpy is row-major; ask GL to transpose so the shader sees the same matrix
        GL.glUniformMatrix3fv(self.loc(name), 1, GL.GL_TRUE, np.ascontiguousarray(m, dtype=np.float32))

    def delete(self):
        if self.id:
            GL.glDeleteProgram(self.id)
            self.id = 0


_FORMATS = {3: (GL.GL_RGB8, GL.GL_RGB), 4: (GL.GL_RGBA8, GL.GL_RGBA), 1: (GL.GL_R8, GL.GL_RED),
            2: (GL.GL_RG8, GL.GL_RG)}


class Texture:
    """A 2D uint8 texture, updated through a ring of pixel buffer objects.

    ``upload(image)`` copies the frame into a mapped PBO and starts an
    asynchronous ``glTexSubImage2D`` from it, so the render loop does not wait
    for the driver to copy from client memory.  ``wrap_s`` is ``GL_REPEAT`` for
    equirect images (longitude wraps), ``t`` clamps (poles).
    """

    def __init__(self, width: int, height: int, channels: int = 3, wrap_s=GL.GL_REPEAT,
                 filter=GL.GL_LINEAR, pbo_count: int = 2):
        """``pbo_count`` 0 uploads straight from client memory (faster on software renderers)."""
        self.width, self.height, self.channels = int(width), int(height), int(channels)
        self.internal, self.format = _FORMATS[channels]
        self.id = GL.glGenTextures(1)
        GL.glBindTexture(GL.GL_TEXTURE_2D, self.id)
        GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_WRAP_S, wrap_s)
        GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_WRAP_T, GL.GL_CLAMP_TO_EDGE)
        GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MIN_FILTER, filter)
        GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MAG_FILTER, filter)
        GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MAX_LEVEL, 0)
        GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 1)
        GL.glTexImage2D(GL.GL_TEXTURE_2D, 0, self.internal, self.width, self.height, 0, self.format,
                        GL.GL_UNSIGNED_BYTE, None)
        self.pbos = list(np.atleast_1d(GL.glGenBuffers(pbo_count))) if pbo_count else []
        self._next = 0
        self.uploads = 0

    def matches(self, image: np.ndarray) -> bool:
        return image.shape[:2] == (self.height, self.width) and (image.shape[2] if image.ndim == 3 else 1) == self.channels

    def upload(self, image: np.ndarray):
        """Replace the texture's pixels with ``image`` (uint8 (H, W[, C]), row 0 at the top).

        Rows may be padded (a view of a decoder's plane with ``line_size`` > width):
        the padding is skipped with ``GL_UNPACK_ROW_LENGTH``, without a copy.
        """
        if not self.matches(image):
            raise ValueError(f"frame {image.shape} does not fit texture {self.height}x{self.width}x{self.channels}")
        if image.dtype != np.uint8:
            image = image.astype(np.uint8)
        ch = self.channels
        row_bytes = self.width * ch
        # accept padded rows (positive row stride, packed pixels); anything else is made contiguous
        if not (image.strides[-1] == 1 and (image.ndim == 2 or image.strides[1] == ch)
                and image.strides[0] >= row_bytes and image.strides[0] % ch == 0):
            image = np.ascontiguousarray(image)
        stride = image.strides[0]
        nbytes = stride * (self.height - 1) + row_bytes
        GL.glBindTexture(GL.GL_TEXTURE_2D, self.id)
        GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 1)
        GL.glPixelStorei(GL.GL_UNPACK_ROW_LENGTH, stride // ch if stride != row_bytes else 0)
        try:
            if self.pbos:
                pbo = int(self.pbos[self._next])
                self._next = (self._next + 1) % len(self.pbos)
                GL.glBindBuffer(GL.GL_PIXEL_UNPACK_BUFFER, pbo)
                # orphan the old storage so the driver never makes us wait for a pending transfer
                GL.glBufferData(GL.GL_PIXEL_UNPACK_BUFFER, nbytes, None, GL.GL_STREAM_DRAW)
                ptr = GL.glMapBufferRange(GL.GL_PIXEL_UNPACK_BUFFER, 0, nbytes,
                                          GL.GL_MAP_WRITE_BIT | GL.GL_MAP_INVALIDATE_BUFFER_BIT)
                if ptr:
                    ctypes.memmove(int(ptr), image.ctypes.data, nbytes)
                    GL.glUnmapBuffer(GL.GL_PIXEL_UNPACK_BUFFER)
                    GL.glTexSubImage2D(GL.GL_TEXTURE_2D, 0, 0, 0, self.width, self.height, self.format,
                                       GL.GL_UNSIGNED_BYTE, ctypes.c_void_p(0))
                    GL.glBindBuffer(GL.GL_PIXEL_UNPACK_BUFFER, 0)
                    self.uploads += 1
                    return
                GL.glBindBuffer(GL.GL_PIXEL_UNPACK_BUFFER, 0)
            GL.glTexSubImage2D(GL.GL_TEXTURE_2D, 0, 0, 0, self.width, self.height, self.format,
                               GL.GL_UNSIGNED_BYTE, ctypes.c_void_p(image.ctypes.data))
            self.uploads += 1
        finally:
            GL.glPixelStorei(GL.GL_UNPACK_ROW_LENGTH, 0)

    def bind(self, unit: int):
        GL.glActiveTexture(GL.GL_TEXTURE0 + unit)
        GL.glBindTexture(GL.GL_TEXTURE_2D, self.id)

    def delete(self):
        if self.pbos:
            GL.glDeleteBuffers(len(self.pbos), self.pbos)
            self.pbos = []
        if self.id:
            GL.glDeleteTextures([self.id])
            self.id = 0


class Framebuffer:
    """An offscreen RGBA8 render target of a fixed size (for headless rendering and readback)."""

    def __init__(self, width: int, height: int):
        self.width, self.height = int(width), int(height)
        self.color = GL.glGenTextures(1)
        GL.glBindTexture(GL.GL_TEXTURE_2D, self.color)
        GL.glTexImage2D(GL.GL_TEXTURE_2D, 0, GL.GL_RGBA8, self.width, self.height, 0, GL.GL_RGBA,
                        GL.GL_UNSIGNED_BYTE, None)
        GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MIN_FILTER, GL.GL_LINEAR)
        GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MAG_FILTER, GL.GL_LINEAR)
        self.id = GL.glGenFramebuffers(1)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self.id)
        GL.glFramebufferTexture2D(GL.GL_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0, GL.GL_TEXTURE_2D, self.color, 0)
        status = GL.glCheckFramebufferStatus(GL.GL_FRAMEBUFFER)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)
        if status != GL.GL_FRAMEBUFFER_COMPLETE:
            raise RuntimeError(f"framebuffer incomplete: 0x{status:x}")

    def bind(self):
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self.id)
        GL.glViewport(0, 0, self.width, self.height)

    def delete(self):
        if self.id:
            GL.glDeleteFramebuffers(1, [self.id])
            GL.glDeleteTextures([self.color])
            self.id = 0


def read_pixels(x: int, y: int, width: int, height: int, framebuffer: int = 0) -> np.ndarray:
    """uint8 RGB (height, width, 3), row 0 at the top, from the given framebuffer (0 = window)."""
    GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, framebuffer)
    GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 1)
    data = GL.glReadPixels(x, y, width, height, GL.GL_RGB, GL.GL_UNSIGNED_BYTE)
    GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, 0)
    arr = np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3)
    return arr[::-1].copy()

