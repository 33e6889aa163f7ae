"""Quantiser offsets by latitude for equirectangular video: fewer bits where the rows are oversampled.

An equirectangular row at latitude φ holds as many pixels as the equator's, over a circle
``cos φ`` as long, so near the poles each pixel covers a sliver of what a viewer sees, and an
encoder that quantises every block alike spends the most bits per degree of view where the least
is seen (and flickers there, as its quantisation changes from frame to frame).  360° video coding
weighs each row's error by ``cos φ`` (WS-PSNR, JVET's 360Lib) and raises the quantiser there to
match: ``3·log2(1/cos φ)`` QP (6 QP double the step), so the error per degree of view is about
even.  This module gives those offsets per macroblock row (:func:`latitude_offsets`) and attaches
them to frames as FFmpeg regions of interest (:class:`LatitudeRoi`), which libx264 and libx265
read (with adaptive quantisation on, their default).
"""
from __future__ import annotations

import math
from fractions import Fraction
from typing import List, Tuple

BLOCK = 16            # rows per offset: the encoders' macroblock / quantisation group
MAX_OFFSET = 12       # QP; the rows at the very pole would otherwise get +20 and more
QP_RANGE = 51         # what FFmpeg scales a region's qoffset (a fraction of +-1) by for 8-bit video (yuv420p)


def row_offset(latitude_deg: float) -> float:
    """The QP offset for a row at ``latitude_deg``: 3·log2(1/cos φ), at most :data:`MAX_OFFSET`."""
    w = math.cos(math.radians(min(abs(latitude_deg), 90.0)))
    return min(3.0 * math.log2(1.0 / w), MAX_OFFSET) if w > 0 else MAX_OFFSET


def latitude_offsets(height: int, eyes: int = 1, block: int = BLOCK) -> List[Tuple[int, int, int]]:
    """(first row, rows, QP offset) runs covering a frame of ``height`` rows that stacks ``eyes``
    equirectangular pictures top to bottom; each block of rows gets the offset of its middle
    latitude, rounded; neighbouring blocks with the same offset are merged; zero runs are left out."""
    eye_h = max(1, height // eyes)
    runs: List[Tuple[int, int, int]] = []
    for y in range(0, height, block):
        rows = min(block, height - y)
        mid = (y % eye_h) + rows / 2
        q = int(round(row_offset(90.0 - 180.0 * mid / eye_h)))
        if runs and runs[-1][2] == q and runs[-1][0] + runs[-1][1] == y:
            runs[-1] = (runs[-1][0], runs[-1][1] + rows, q)
        else:
            runs.append((y, rows, q))
    return [r for r in runs if r[2] != 0]


class LatitudeRoi:
    """A filter graph that tags each frame with the latitude offsets of its size (``apply(frame)``)."""

    def __init__(self, width: int, height: int, pix_fmt: str, time_base, eyes: int = 1):
        import av

        self.pix_fmt = pix_fmt
        self.graph = av.filter.Graph()
        nodes = [self.graph.add_buffer(width=width, height=height, format=pix_fmt,
                                       time_base=Fraction(time_base))]
        for y, rows, q in latitude_offsets(height, eyes):
            nodes.append(self.graph.add("addroi", f"x=0:y={y}:w=iw:h={rows}:qoffset={q}/{QP_RANGE}"))
        nodes.append(self.graph.add("buffersink"))
        self.graph.link_nodes(*nodes).configure()

    def apply(self, frame):
        """``frame`` (any format) in the encoder's pixel format, with the regions attached."""
        frame = frame.reformat(format=self.pix_fmt)
        self.graph.vpush(frame)
        return self.graph.vpull()
