"""What a video file holds: :class:`VideoInfo`, the stereo vocabulary, and which paths are videos.

* :class:`Stereo` is the one stereo vocabulary of Hallucinator (``mono`` and
  ``top-bottom``); :func:`parse_stereo` reads the words the command line takes
  (:data:`STEREO_CHOICES`: ``auto``, ``mono``, ``top-bottom``, ``tb``).
* :func:`read_side_data` is the one parser of a decoded frame's side data
  (display rotation, spherical projection, stereo layout).
* :func:`probe` opens a file and returns its :class:`VideoInfo`.
* :data:`VIDEO_SUFFIXES` and :func:`is_video` tell videos from still images.
"""
from __future__ import annotations

import os
import struct
from dataclasses import asdict, dataclass
from enum import Enum
from fractions import Fraction
from pathlib import Path
from typing import Optional, Tuple

from ..errors import UserError
from .images import IMAGE_SUFFIXES

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".m2ts", ".mts",
                  ".wmv", ".flv", ".3gp", ".ogv", ".y4m")
STEREO_CHOICES = ("auto", "mono", "top-bottom", "tb")
# AVSphericalProjection / AVStereo3DType values (libavutil/spherical.h, stereo3d.h)
_PROJECTIONS = {0: "equirectangular", 1: "cubemap", 2: "equirectangular-tile", 3: "half-equirectangular",
                4: "rectilinear", 5: "fisheye", 6: "parametric-immersive"}
_STEREO_TYPES = {0: "mono", 1: "left-right", 2: "top-bottom", 3: "frame-sequence", 4: "checkerboard",
                 5: "left-right-quincunx", 6: "lines", 7: "columns", 8: "unspecified"}


class Stereo(str, Enum):
    """How the eyes share a picture: one picture, or the left eye above the right."""

    MONO = "mono"
    TOP_BOTTOM = "top-bottom"

    def __str__(self) -> str:
        return self.value

    @property
    def eyes(self) -> int:
        return 2 if self is Stereo.TOP_BOTTOM else 1


def parse_stereo(word) -> Optional[Stereo]:
    """The :class:`Stereo` a command-line word names; ``None`` for ``auto`` (read it from the file)."""
    if isinstance(word, Stereo):
        return word
    key = str(word).strip().lower()
    if key == "auto":
        return None
    if key == "tb":
        return Stereo.TOP_BOTTOM
    try:
        return Stereo(key)
    except ValueError:
        raise UserError(f"unknown stereo layout {word!r}; choose one of {', '.join(STEREO_CHOICES)}") from None


def fraction(x) -> Optional[Fraction]:
    """A :class:`Fraction` from PyAV's rationals, ints or floats; ``None`` stays ``None``."""
    if x is None:
        return None
    return Fraction(x.numerator, x.denominator) if hasattr(x, "numerator") else Fraction(x)


@dataclass(frozen=True)
class SideData:
    """What a decoded frame's side data say about the picture."""

    projection: Optional[str]  # "equirectangular", ... or None when absent
    stereo: Optional[str]      # "top-bottom", "left-right", ... or None when absent
    rotation: int              # degrees counter-clockwise the picture must turn to display upright


def read_side_data(frame) -> SideData:
    """Rotation, spherical projection and stereo layout of a PyAV video frame."""
    import av

    projection = stereo = None
    kinds = av.sidedata.sidedata.Type
    for sd in frame.side_data:
        raw = bytes(sd)
        if sd.type == kinds.SPHERICAL and len(raw) >= 4:
            projection = _PROJECTIONS.get(struct.unpack_from("<i", raw)[0], "unknown")
        elif sd.type == kinds.STEREO3D and len(raw) >= 4:
            stereo = _STEREO_TYPES.get(struct.unpack_from("<i", raw)[0], "unknown")
    rotation = int(round(getattr(frame, "rotation", 0) or 0))
    return SideData(projection, stereo, rotation)


@dataclass
class VideoInfo:
    """What a video file holds, as far as the container says."""

    path: str
    width: int                 # of the decoded picture before rotation
    height: int
    fps: Optional[Fraction]    # average frame rate
    time_base: Fraction
    frames: int                # declared frame count, 0 when the container does not say
    duration: Optional[float]  # seconds
    codec: str
    pix_fmt: str
    bit_depth: int
    has_audio: bool
    audio_codec: Optional[str]
    rotation: int              # degrees counter-clockwise the picture must turn to display upright
    projection: Optional[str]  # from spherical side data ("equirectangular"), None when absent
    stereo: Optional[str]      # from stereo side data ("top-bottom", ...), None when absent
    start_pts: int

    @property
    def display_size(self) -> Tuple[int, int]:
        """(width, height) after the rotation is applied."""
        return (self.height, self.width) if self.rotation % 180 else (self.width, self.height)

    @property
    def layout(self) -> Optional[Stereo]:
        """The file's stereo layout as a :class:`Stereo`; ``None`` for a layout Hallucinator cannot show."""
        if self.stereo in (None, "mono", "unspecified"):
            return Stereo.MONO
        return Stereo.TOP_BOTTOM if self.stereo == "top-bottom" else None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["fps"] = str(self.fps) if self.fps else None
        d["time_base"] = str(self.time_base)
        return d


def bit_depth(pix_fmt: str) -> int:
    """Bits per sample of an FFmpeg pixel format name (8 unless the name says otherwise)."""
    for d in (16, 14, 12, 10, 9):
        if f"p{d}" in pix_fmt or pix_fmt.endswith(f"{d}le") or pix_fmt.endswith(f"{d}be"):
            return d
    return 8


def probe(path) -> VideoInfo:
    """Open a video, read its first frame's side data, and return :class:`VideoInfo`."""
    from .reader import Decoder   # the decoder builds the info from this module's parts

    with Decoder(path) as decoder:
        return decoder.info


def is_video(path) -> bool:
    """True when ``path`` names a video (by suffix; unknown suffixes are probed with FFmpeg)."""
    suffix = Path(str(path)).suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return True
    if suffix in IMAGE_SUFFIXES or not os.path.isfile(str(path)):
        return False
    try:
        import av

        with av.open(str(path)) as c:
            return bool(c.streams.video) and (c.streams.video[0].frames or 0) != 1 and \
                c.format.name not in ("image2", "png_pipe", "jpeg_pipe", "webp_pipe")
    except Exception:
        return False
