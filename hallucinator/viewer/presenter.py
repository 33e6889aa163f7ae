"""Getting a dream/control frame pair on screen: upload, draw for one eye (window) or both (headset), swap.

:class:`Presenter` is the player's only way to the GPU.  A desktop window
shows the requested eye of a stereo source; a headset
(:class:`.xr.XRSession`) gets both eyes, each with its own pose and field of
view.  It also keeps the upload/render timings the summary reports and
draws the status line.
"""
from __future__ import annotations

import time
from typing import Callable, Optional

from ..io.probe import Stereo
from .pose import Pose

STATUS_EVERY_S = 0.25     # the status line's text changes at most this often (it is re-drawn every frame)


class Presenter:
    """Draws frames for ``viewer`` (:class:`.app.Viewer`) in ``layout``; a window shows eye ``eye``."""

    def __init__(self, viewer, layout: Stereo, eye: int = 0, xr_layer: str = "auto"):
        self.viewer = viewer
        self.layout = layout
        self.eye = eye
        self.xr_layer = xr_layer
        self.upload_s = self.render_s = 0.0
        self.uploads = self.renders = 0
        self._render_t0 = 0.0
        self._status_text = ""
        self._status_at = float("-inf")

    def upload(self, dream, control=None):
        """Make ``dream`` (and ``control``, or no control) the pictures drawn next (Frames or RGB arrays)."""
        t0 = time.perf_counter()
        r = self.viewer.renderer
        r.set_frame("dream", dream)
        if control is not None:
            r.set_frame("control", control)
        else:
            r.clear_control()
        r.layout = self.layout
        self.upload_s += time.perf_counter() - t0
        self.uploads += 1

    def draw(self, pose: Pose, dose: float) -> Optional[Pose]:
        """Draw the uploaded pair at ``pose`` (a headset: at its own pose, both eyes, in ``xr_layer``).

        Returns the pose shown, or None when a headset's runtime asked for no frame (nothing was shown).
        """
        v = self.viewer
        self._render_t0 = time.perf_counter()
        if v.xr is None:
            v.draw_view(pose, dose, self.eye)
            return pose
        return v.xr.render_scene(v.renderer, dose, self.layout, self.xr_layer)

    def present(self):
        """Swap: what was drawn (and any overlay on it) is shown."""
        self.viewer.present()
        self.render_s += time.perf_counter() - self._render_t0
        self.renders += 1

    def status(self, text: Callable[[], str]):
        """The status line in the top-left corner (``text()`` asked again every :data:`STATUS_EVERY_S`)."""
        now = time.monotonic()
        if now - self._status_at > STATUS_EVERY_S or not self._status_text:
            self._status_text, self._status_at = text(), now
        self.viewer.draw_text(self._status_text, 8, 8, scale=0.45, key="status")

    @property
    def mean_upload_ms(self) -> float:
        return 1000 * self.upload_s / max(1, self.uploads)

    @property
    def mean_render_ms(self) -> float:
        return 1000 * self.render_s / max(1, self.renders)
