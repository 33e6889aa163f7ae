"""Head poses and where they come from.

A :class:`Pose` is an orientation (unit quaternion ``w, x, y, z``, camera to
world, in the view space of :mod:`hallucinator.sphere`: x right, y up, -z
forward) plus a horizontal field of view.  Yaw/pitch/roll in degrees follow
sphere.py: ``R = Ry(-yaw) @ Rx(pitch) @ Rz(-roll)``.

A *pose source* is anything with ``pose(t) -> Pose`` (``t`` is the playback
clock in seconds) and a ``name``; optional ``handle_event(event)`` receives
window input.  Sources here: :class:`FixedPose`, :class:`FunctionPose`,
:class:`MouseKeyboardPose`, :class:`ReplayPose`.  The OpenXR source lives in
:mod:`hallucinator.viewer.xr` so nothing else depends on pyopenxr.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np

from ..sphere import rotation_matrix  # numpy only: the viewer starts without torch



def quat_from_matrix(m) -> np.ndarray:
    """Rotation matrix (3, 3) -> unit quaternion (w, x, y, z) with w >= 0."""
    m = np.asarray(m, dtype=np.float64)
    tr = m[0, 0] + m[1, 1] + m[2, 2]
    if tr > 0:
        s = math.sqrt(tr + 1.0) * 2
        q = [0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = math.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2]) * 2
        q = [(m[2, 1] - m[1, 2]) / s, 0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s]
    elif m[1, 1] > m[2, 2]:
        s = math.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2]) * 2
        q = [(m[0, 2] - m[2, 0]) / s, (m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s]
    else:
        s = math.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1]) * 2
        q = [(m[1, 0] - m[0, 1]) / s, (m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s]
    q = np.array(q)
    q /= np.linalg.norm(q)
    return -q if q[0] < 0 else q


def matrix_from_quat(q) -> np.ndarray:
    """Unit quaternion (w, x, y, z) -> rotation matrix (3, 3)."""
    w, x, y, z = (float(v) for v in q)
    n = w * w + x * x + y * y + z * z
    s = 2.0 / n if n else 0.0
    return np.array([
        [1 - s * (y * y + z * z), s * (x * y - z * w), s * (x * z + y * w)],
        [s * (x * y + z * w), 1 - s * (x * x + z * z), s * (y * z - x * w)],
        [s * (x * z - y * w), s * (y * z + x * w), 1 - s * (x * x + y * y)],
    ])


def euler_from_matrix(m):
    """Rotation matrix -> (yaw, pitch, roll) in degrees, the inverse of :func:`sphere.rotation_matrix`."""
    m = np.asarray(m, dtype=np.float64)
    f = m @ np.array([0.0, 0.0, -1.0])
    yaw = math.degrees(math.atan2(f[0], -f[2]))
    pitch = math.degrees(math.asin(max(-1.0, min(1.0, f[1]))))
    if abs(pitch) > 89.999:  # gimbal lock: fold the remaining turn into roll around the forward axis
        yaw = 0.0 if abs(f[0]) + abs(f[2]) < 1e-9 else yaw
    m0 = rotation_matrix(yaw, pitch, 0.0).T @ m  # = Rz(-roll)
    roll = -math.degrees(math.atan2(m0[1, 0], m0[0, 0]))
    return yaw, pitch, roll


@dataclass(frozen=True)
class Pose:
    """An orientation and a horizontal field of view (degrees)."""

    quat: tuple = (1.0, 0.0, 0.0, 0.0)
    fov: float = 90.0

    @classmethod
    def from_euler(cls, yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0, fov: float = 90.0) -> "Pose":
        return cls(tuple(float(v) for v in quat_from_matrix(rotation_matrix(yaw, pitch, roll))), float(fov))

    @property
    def matrix(self) -> np.ndarray:
        return matrix_from_quat(self.quat)

    @property
    def euler(self):
        """(yaw, pitch, roll) in degrees."""
        return euler_from_matrix(self.matrix)


def symmetric_tangents(fov_deg: float, width: int, height: int):
    """Frustum tangents (left, right, bottom, top) of a pinhole view with horizontal FOV ``fov_deg``.

    Matches :func:`hallucinator.sphere.perspective_rays` pixel for pixel.
    """
    tx = math.tan(math.radians(fov_deg) / 2)
    ty = tx * height / width
    return (-tx, tx, -ty, ty)


class FixedPose:
    """Always the same pose."""

    name = "fixed"

    def __init__(self, pose: Pose = Pose()):
        self._pose = pose

    def pose(self, t: float) -> Pose:
        return self._pose


class FunctionPose:
    """A pose computed from the playback time: ``fn(t) -> Pose`` (scripted camera paths, tests)."""

    name = "script"

    def __init__(self, fn: Callable[[float], Pose], continuous: bool = False):
        """``continuous=False``: sampled once per new video frame (and on input); True: every display refresh."""
        self.fn = fn
        self.continuous = continuous

    def pose(self, t: float) -> Pose:
        return self.fn(t)


@dataclass
class MouseKeyboardPose:
    """Desktop look: drag with the left mouse button, arrow keys turn, +/- or the wheel zoom.

    Dragging moves the picture with the pointer (grab-and-drag), ``degrees_per_pixel``
    scales it to the current field of view.  ``handle_event`` takes the window's
    events (see :class:`hallucinator.viewer.app.Event`).
    """

    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    fov: float = 90.0
    min_fov: float = 20.0
    max_fov: float = 140.0
    key_step: float = 5.0
    width: int = 1280
    name: str = "mouse"
    _drag: Optional[tuple] = field(default=None, repr=False)

    def pose(self, t: float) -> Pose:
        return Pose.from_euler(self.yaw, self.pitch, self.roll, self.fov)

    def set(self, yaw=None, pitch=None, roll=None, fov=None):
        if yaw is not None:
            self.yaw = (float(yaw) + 180.0) % 360.0 - 180.0
        if pitch is not None:
            self.pitch = max(-90.0, min(90.0, float(pitch)))
        if roll is not None:
            self.roll = float(roll)
        if fov is not None:
            self.fov = max(self.min_fov, min(self.max_fov, float(fov)))

    def handle_event(self, ev) -> bool:
        """Update from a window event; True when the pose changed."""
        import glfw

        if ev.kind == "mouse_button" and ev.button == glfw.MOUSE_BUTTON_LEFT:
            self._drag = (ev.x, ev.y, self.yaw, self.pitch) if ev.action == glfw.PRESS else None
            return False
        if ev.kind == "cursor" and self._drag is not None:
            x0, y0, yaw0, pitch0 = self._drag
            k = self.fov / max(1, self.width)
            self.set(yaw=yaw0 - (ev.x - x0) * k, pitch=pitch0 + (ev.y - y0) * k)
            return True
        if ev.kind == "window_size" and ev.x > 0:
            self.width = int(ev.x)
            return True
        if ev.kind == "scroll":
            self.set(fov=self.fov * (0.9 ** ev.y))
            return True
        if ev.kind == "key" and ev.action in (glfw.PRESS, glfw.REPEAT):
            step = {glfw.KEY_LEFT: (-1, 0), glfw.KEY_RIGHT: (1, 0), glfw.KEY_UP: (0, 1), glfw.KEY_DOWN: (0, -1)}
            if ev.key in step and not ev.mods & glfw.MOD_SHIFT:   # shift+arrows seek
                dy, dp = step[ev.key]
                self.set(yaw=self.yaw + dy * self.key_step, pitch=self.pitch + dp * self.key_step)
                return True
            if ev.key in (glfw.KEY_EQUAL, glfw.KEY_KP_ADD):
                self.set(fov=self.fov - 5)
                return True
            if ev.key in (glfw.KEY_MINUS, glfw.KEY_KP_SUBTRACT):
                self.set(fov=self.fov + 5)
                return True
            if ev.key == glfw.KEY_0:
                self.set(yaw=0, pitch=0, roll=0)
                return True
        return False


class ReplayPose:
    """Poses read back from a pose log (:func:`hallucinator.viewer.poselog.read_pose_log`).

    ``pose(t)`` gives the last row whose onset is at or before ``t``;
    ``rows`` keeps every row for frame-exact export.
    """

    name = "replay"

    def __init__(self, rows: Sequence[dict]):
        if not rows:
            raise ValueError("empty pose log")
        self.rows = list(rows)
        self._onsets = np.array([r["onset"] for r in self.rows], dtype=np.float64)

    @classmethod
    def from_file(cls, path) -> "ReplayPose":
        from .poselog import read_pose_log

        return cls(read_pose_log(path))

    @staticmethod
    def row_pose(row) -> Pose:
        return Pose((row["quat_w"], row["quat_x"], row["quat_y"], row["quat_z"]), row["fov"])

    def pose(self, t: float) -> Pose:
        i = int(np.searchsorted(self._onsets, t, side="right")) - 1
        return self.row_pose(self.rows[max(0, i)])
