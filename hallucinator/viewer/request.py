"""What to play: :class:`PlaybackRequest`, the one description of a playback that ``Viewer.play`` takes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

from ..errors import UserError
from ..io.probe import Stereo, parse_stereo
from .dose import DoseTimeline

EYES = ("left", "right")
XR_LAYERS = ("auto", "equirect", "projection")   # how a headset gets the scene (viewer/xr_layers.py)


@dataclass
class PlaybackRequest:
    """A playback: the sources, how they mix, how long, what drives the view, and what is recorded.

    ``dream``/``control``: paths (video or image), RGB arrays or already opened
    sources (:mod:`.frames`; those stay open afterwards).  ``dose``: a number,
    a timeline text or file, or a :class:`.dose.DoseTimeline`.  ``pose``: a pose
    source (:mod:`.pose`) or a :class:`.pose.Pose`; None is mouse/keyboard (the
    headset's pose with ``xr``).  ``pose_log``: a TSV written one row per
    presented frame (``log_metadata`` goes into its sidecar).  ``on_frame(info)``
    is called after the scene is drawn and before the swap (return False to
    stop); ``on_events(events, t)`` on every pass of the loop (return False to
    stop).  ``realtime=False`` shows every frame once, as fast as it renders (the
    clock steps by one frame; no audio).  ``stereo``: ``auto`` (the file's
    metadata), ``mono``, ``top-bottom`` or ``tb``; ``eye`` (0 left, 1 right) is the
    eye a desktop window shows.  ``audio_device=False`` plays sound into a virtual
    output (the clock still follows the audio).  ``keys``: the playback keys
    (:mod:`.keys`) act.  ``xr_layer``: in a headset, ``equirect`` (the runtime's
    compositor samples the mixed sphere), ``projection`` (the viewer renders each
    eye) or ``auto`` (equirect when the runtime offers it).
    """

    dream: Any
    control: Any = None
    dose: Union[float, str, DoseTimeline] = 1.0
    duration_s: Optional[float] = None
    max_frames: Optional[int] = None
    pose: Any = None
    pose_log: Any = None
    on_frame: Optional[Callable[[Any], Any]] = None
    start_s: float = 0.0
    loop: bool = False
    audio: bool = True
    audio_device: Any = None
    realtime: bool = True
    stereo: Union[str, Stereo] = "auto"
    eye: int = 0
    keys: bool = True
    hwaccel: bool = False
    log_metadata: Optional[dict] = None
    on_events: Optional[Callable[[list, float], Any]] = None
    xr_layer: str = "auto"

    def __post_init__(self):
        if self.eye not in (0, 1):
            raise UserError(f"eye {self.eye!r} is not 0 (left) or 1 (right)")
        parse_stereo(self.stereo)   # an unknown word fails here, before anything opens
        if self.xr_layer not in XR_LAYERS:
            raise UserError(f"xr_layer {self.xr_layer!r} is not one of {', '.join(XR_LAYERS)}")
        self.start_s = float(self.start_s)


def resolve_stereo(word, source) -> Stereo:
    """The layout to show: ``word`` when it names one, else the source's own (``auto``).

    A layout the viewer cannot split into eyes (side by side) is shown as one picture.
    """
    chosen = parse_stereo(word)
    if chosen is not None:
        return chosen
    try:
        return parse_stereo(getattr(source, "stereo", Stereo.MONO)) or Stereo.MONO
    except UserError:
        return Stereo.MONO
