"""What a video file holds: :class:`VideoInfo`, the stereo vocabulary, and which paths are videos.

* :class:`Stereo` is the one stereo vocabulary of Hallucinator (``mono`` and
  ``top-bottom``); :func:`parse_stereo` reads the words the command line takes
  (:data:`STEREO_CHOICES`: ``auto``, ``mono``, ``top-bottom``, ``tb``).
* :func:`read_side_data` is the one parser of a decoded frame's side data
  (display rotation, spherical projection, stereo layout).
* :func:`probe` opens a file and returns its :class:`VideoInfo`.
* :func:`scan_packets` reads a file's video packets to its end (demuxed, not
  decoded: seconds for a long clip) and says how many frames are whole, so a
  truncated or damaged file is refused before any work starts.
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


def split_eyes(image, eyes: int) -> list:
    """One picture per eye: the frame itself (mono), or its top half (left eye) and bottom half (top-bottom)."""
    if eyes == 1:
        return [image]
    h = image.shape[0] // 2
    return [image[:h], image[h:2 * h]]


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


def has_alpha(pix_fmt: str) -> bool:
    """True when an FFmpeg pixel format name carries an alpha channel (yuva420p, rgba, ya8, gbrap, ...)."""
    fmt = pix_fmt.lower()
    return fmt.startswith(("yuva", "rgba", "bgra", "argb", "abgr", "ya8", "ya16", "gbrap"))


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


@dataclass(frozen=True)
class PacketScan:
    """What reading a file's video packets to the end found."""

    packets: int              # whole video packets before the first damaged one (or the end)
    declared: int             # frames the container declares, 0 when it does not say
    whole_frames: int         # frames 0 … whole_frames−1 have every packet they need
    problem: Optional[str]    # why the file is incomplete ("is truncated: ..."), None when it is whole

    def require(self, path, stop: Optional[int]) -> None:
        """Refuse, on one line naming the fix, a range that reaches past the whole frames (``stop`` None: all)."""
        if self.problem is None or (stop is not None and stop <= self.whole_frames):
            return
        if self.whole_frames == 0:
            raise UserError(f"{path} {self.problem}; no frame can be read whole — repair or re-export the file")
        raise UserError(f"{path} {self.problem}; frames 0-{self.whole_frames - 1} are whole — dream them with "
                        f"--frames 0:{self.whole_frames}, or repair the file")


def scan_packets(path) -> PacketScan:
    """Demux every packet of ``path`` and find where its video stops being whole (see :class:`PacketScan`).

    A frame is whole when no packet after the last whole one can be needed to show it: a missing
    packet's presentation time is at or after its decode time, which is after the last whole
    packet's, so every whole frame shown at or before that decode time is complete.  Without a
    declared frame count, a file whose packets (of any stream) end well before the duration its
    header states is truncated.
    """
    import av

    try:
        with av.open(str(path)) as c:
            video = c.streams.video[0]
            pts, last_dts, held, problem = _demux(c, video)
            declared = int(video.frames or 0)
            stated = c.duration / 1_000_000 if c.duration else None
            start = (c.start_time or 0) / 1_000_000
    except (av.error.FFmpegError, IndexError):
        return PacketScan(0, 0, 0, None)      # unreadable or no video: the decoder says so on its own terms
    if problem is None and declared and len(pts) < declared:
        problem = f"is truncated: it declares {declared} frames but holds {len(pts)}"
    if problem is None and stated and held is not None and held - start < stated - 0.5:
        problem = f"is truncated: it lasts {stated:.2f} s but its packets end at {held - start:.2f} s"
    whole = len(pts)
    if problem is not None and last_dts is not None and None not in pts:
        whole = sum(1 for p in pts if p <= last_dts)
    return PacketScan(len(pts), declared, whole, problem)


def _demux(container, video):
    """Video pts and last decode time up to the first damaged packet, the end (s) of all packets, the problem."""
    import av

    pts: list = []
    last_dts, held, problem = None, None, None
    try:
        for packet in container.demux():
            if not packet.size:
                continue
            if packet.is_corrupt:
                problem = f"is damaged or truncated at video packet {len(pts)}"
                break
            if packet.pts is not None and packet.time_base:
                end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
                held = end if held is None else max(held, end)
            if packet.stream.index == video.index:
                pts.append(packet.pts)
                last_dts = packet.dts if packet.dts is not None else packet.pts
    except av.error.FFmpegError as exc:
        problem = f"cannot be read past video packet {len(pts)} ({str(exc).strip()[:120]})"
    return pts, last_dts, held, problem


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
