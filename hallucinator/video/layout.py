"""How source frames become the working frames that are dreamed: eyes, size, rotation.

:func:`plan_layout` decides from the source's :class:`~hallucinator.io.probe.VideoInfo`
and the run's options how many eyes a frame holds (mono or top-bottom stereo)
and the working size of one eye (2:1), refusing what cannot be dreamed as a
360° video.  :meth:`Layout.split` turns a decoded frame into one working
frame per eye, resampled wrap-aware (±180° are neighbours) by
:func:`hallucinator.sphere.resize_equirect_image` (every column keeps its longitude).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from math import gcd
from typing import List, Sequence, Tuple

import numpy as np

from ..errors import UserError
from ..io.probe import VideoInfo, split_eyes
from ..provenance import short_hash
from ..sphere import resize_equirect_image
from .options import VideoOptions


@dataclass(frozen=True)
class Layout:
    """How source frames become the working frames that are dreamed."""

    eyes: int                  # 1 mono, 2 top-bottom stereo
    width: int                 # working (and output) size of one eye
    height: int
    rotation: int
    to_2to1: bool

    def key(self) -> str:
        return short_hash(asdict(self))

    def split(self, image: np.ndarray) -> List[np.ndarray]:
        """Decoded frame (rotation applied) -> working frames, one per eye, uint8 (H, W, 3)."""
        parts = split_eyes(image, self.eyes)
        return [np.ascontiguousarray(resize_equirect_image(p, width=self.width, height=self.height)
                                     if p.shape[:2] != (self.height, self.width) else p) for p in parts]

    def join(self, eyes: Sequence[np.ndarray]) -> np.ndarray:
        return eyes[0] if len(eyes) == 1 else np.concatenate(list(eyes), axis=0)

    @property
    def out_size(self) -> Tuple[int, int]:
        return self.width, self.height * self.eyes


def plan_layout(info: VideoInfo, opts: VideoOptions) -> Layout:
    """Decide eyes and working size from the source and the options, refusing what cannot work."""
    w, h = info.display_size
    stereo = opts.stereo if opts.stereo is not None else info.layout
    if stereo is None:
        raise UserError(f"{info.path} is {info.stereo} stereo, which is not supported; "
                        "convert it to top-bottom, or pass --stereo mono to dream the frame as one picture")
    eyes = stereo.eyes
    aspect = w / (h // eyes)
    if opts.size:
        W, H = opts.size
        if W != 2 * H or W % 4:
            raise UserError(f"--size {W}x{H} must be 2:1 with a width divisible by 4 "
                            f"(e.g. {W - W % 4}x{(W - W % 4) // 2})")
        if abs(aspect - 2.0) > 0.02 and not opts.to_2to1 and eyes == 1:
            raise UserError(_aspect_message(info, w, h))
    else:
        if eyes == 1 and abs(aspect - 2.0) > 0.02 and not opts.to_2to1:
            raise UserError(_aspect_message(info, w, h))
        W = max(4, (w // 4) * 4)
        H = W // 2
    return Layout(eyes=eyes, width=W, height=H, rotation=info.rotation, to_2to1=bool(opts.to_2to1))


def _aspect_message(info: VideoInfo, w: int, h: int) -> str:
    g = gcd(w, h) or 1
    return (f"{info.path} is {w}x{h} ({w // g}:{h // g}), not a 2:1 equirectangular panorama; if it holds a full "
            f"360x180° view pass --to-2to1 to scale it to {w - w % 4}x{(w - w % 4) // 2}, if it is top-bottom "
            "stereo pass --stereo top-bottom, otherwise it cannot be dreamed as 360° video")
