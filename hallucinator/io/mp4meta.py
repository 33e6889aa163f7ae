"""360° metadata in ISO BMFF (MP4/MOV): box parsing and Spherical Video V1/V2 injection.

:func:`inject_spherical_metadata` marks a finished MP4/MOV file as
equirectangular 360° with both the Spherical Video V2 boxes (``sv3d`` +
``st3d`` inside the visual sample entry) and the V1 XML ``uuid`` box in the
video track, which FFmpeg/ffprobe, YouTube and common players recognise.
"""
from __future__ import annotations

import os
import struct
import uuid as _uuid
from pathlib import Path
from typing import List, Optional

import numpy as np

from ..atomic import atomic_write

SPHERICAL_V1_UUID = _uuid.UUID("ffcc8263-f855-4a93-8814-587a02521fdd").bytes
STEREO_MODES = ("mono", "top-bottom", "left-right")   # the st3d stereo_mode values, in order
_CONTAINER_BOXES = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf", b"udta", b"mvex"}
_VISUAL_ENTRIES = {b"avc1", b"avc3", b"hvc1", b"hev1", b"mp4v", b"av01", b"vp09", b"dvh1", b"dvhe"}


class _Box:
    __slots__ = ("type", "prefix", "children", "payload")

    def __init__(self, type_: bytes, payload: bytes = b"", prefix: bytes = b"", children=None):
        self.type, self.payload, self.prefix, self.children = type_, payload, prefix, children

    def body(self) -> bytes:
        if self.children is None:
            return self.payload
        return self.prefix + b"".join(c.serialize() for c in self.children)

    def serialize(self) -> bytes:
        body = self.body()
        if len(body) + 8 < 1 << 32:
            return struct.pack(">I4s", len(body) + 8, self.type) + body
        return struct.pack(">I4sQ", 1, self.type, len(body) + 16) + body

    def find(self, type_: bytes) -> List["_Box"]:
        return [c for c in (self.children or []) if c.type == type_]


def _parse_boxes(buf: bytes, parent: Optional[bytes] = None) -> List[_Box]:
    boxes, pos = [], 0
    while pos + 8 <= len(buf):
        size, type_ = struct.unpack_from(">I4s", buf, pos)
        header = 8
        if size == 1:
            size = struct.unpack_from(">Q", buf, pos + 8)[0]
            header = 16
        elif size == 0:
            size = len(buf) - pos
        if size < header or pos + size > len(buf):
            raise ValueError(f"bad box {type_!r} at {pos}")
        body = buf[pos + header:pos + size]
        if type_ in _CONTAINER_BOXES:
            boxes.append(_Box(type_, children=_parse_boxes(body, type_)))
        elif type_ == b"stsd":
            boxes.append(_Box(type_, prefix=body[:8], children=_parse_boxes(body[8:], type_)))
        elif parent == b"stsd" and type_ in _VISUAL_ENTRIES:
            boxes.append(_Box(type_, prefix=body[:78], children=_parse_boxes(body[78:], type_)))
        else:
            boxes.append(_Box(type_, payload=body))
        pos += size
    return boxes


def _full_box(type_: bytes, payload: bytes, version: int = 0, flags: int = 0) -> _Box:
    return _Box(type_, payload=struct.pack(">I", (version << 24) | flags) + payload)


def spherical_v2_boxes(stereo: str = "mono") -> List[_Box]:
    """``st3d`` and ``sv3d`` boxes (Spherical Video V2) for an equirectangular picture."""
    st3d = _full_box(b"st3d", struct.pack(">B", STEREO_MODES.index(stereo)))
    svhd = _full_box(b"svhd", b"Hallucinator\x00")
    prhd = _full_box(b"prhd", struct.pack(">iii", 0, 0, 0))
    equi = _full_box(b"equi", struct.pack(">IIII", 0, 0, 0, 0))
    sv3d = _Box(b"sv3d", children=[svhd, _Box(b"proj", children=[prhd, equi])])
    return [st3d, sv3d]


def spherical_v1_box(stereo: str = "mono") -> _Box:
    """The V1 ``uuid`` box with the GSpherical XML (read by YouTube and older players)."""
    stereo_xml = {"mono": "", "top-bottom": "<GSpherical:StereoMode>top-bottom</GSpherical:StereoMode>",
                  "left-right": "<GSpherical:StereoMode>left-right</GSpherical:StereoMode>"}[stereo]
    xml = ('<?xml version="1.0"?><rdf:SphericalVideo xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
           'xmlns:GSpherical="http://ns.google.com/videos/1.0/spherical/">'
           "<GSpherical:Spherical>true</GSpherical:Spherical><GSpherical:Stitched>true</GSpherical:Stitched>"
           "<GSpherical:StitchingSoftware>Hallucinator</GSpherical:StitchingSoftware>"
           "<GSpherical:ProjectionType>equirectangular</GSpherical:ProjectionType>"
           f"{stereo_xml}</rdf:SphericalVideo>")
    return _Box(b"uuid", payload=SPHERICAL_V1_UUID + xml.encode())


def _is_video_trak(trak: _Box) -> bool:
    for mdia in trak.find(b"mdia"):
        for hdlr in mdia.find(b"hdlr"):
            if hdlr.payload[8:12] == b"vide":
                return True
    return False


def _shift_chunk_offsets(box: _Box, delta: int) -> None:
    if box.type == b"stco":
        n = struct.unpack_from(">I", box.payload, 4)[0]
        offs = np.frombuffer(box.payload, ">u4", n, 8).astype(np.int64) + delta
        box.payload = box.payload[:8] + offs.astype(">u4").tobytes()
    elif box.type == b"co64":
        n = struct.unpack_from(">I", box.payload, 4)[0]
        offs = np.frombuffer(box.payload, ">u8", n, 8).astype(np.int64) + delta
        box.payload = box.payload[:8] + offs.astype(">u8").tobytes()
    for c in box.children or []:
        _shift_chunk_offsets(c, delta)


def inject_spherical_metadata(path, stereo: str = "mono", v1: bool = True, v2: bool = True) -> None:
    """Mark an MP4/MOV file as equirectangular 360°, in place (through a temporary copy).

    Adds ``st3d`` + ``sv3d`` to the video sample entry and the V1 ``uuid`` box
    to the video track; fixes chunk offsets when ``moov`` precedes ``mdat``.
    """
    path = Path(path)
    with open(path, "rb") as f:
        top = []   # (type, offset, size)
        size_total = os.fstat(f.fileno()).st_size
        pos = 0
        while pos + 8 <= size_total:
            f.seek(pos)
            size, type_ = struct.unpack(">I4s", f.read(8))
            if size == 1:
                size = struct.unpack(">Q", f.read(8))[0]
            elif size == 0:
                size = size_total - pos
            top.append((type_, pos, size))
            pos += size
        moovs = [t for t in top if t[0] == b"moov"]
        if not moovs:
            raise ValueError(f"{path} has no moov box")
        _, moov_off, moov_size = moovs[0]
        f.seek(moov_off)
        moov = _parse_boxes(f.read(moov_size))[0]
    for trak in moov.find(b"trak"):
        if not _is_video_trak(trak):
            continue
        if v1:
            trak.children = [c for c in trak.children if not (c.type == b"uuid" and c.payload[:16] == SPHERICAL_V1_UUID)]
            idx = next((i + 1 for i, c in enumerate(trak.children) if c.type == b"tkhd"), 0)
            # FFmpeg refuses a file that states the stereo layout twice: with V2 present, st3d carries it
            trak.children.insert(idx, spherical_v1_box("mono" if v2 else stereo))
        if v2:
            for stsd in (b for mdia in trak.find(b"mdia") for minf in mdia.find(b"minf")
                         for stbl in minf.find(b"stbl") for b in stbl.find(b"stsd")):
                for entry in stsd.children:
                    if entry.children is not None:
                        entry.children = [c for c in entry.children if c.type not in (b"st3d", b"sv3d")]
                        entry.children.extend(spherical_v2_boxes(stereo))
    new_moov = moov.serialize()
    delta = len(new_moov) - moov_size
    if delta and any(t[0] == b"mdat" and t[1] > moov_off for t in top):
        _shift_chunk_offsets(moov, delta)
        new_moov = moov.serialize()

    def rewrite(tmp):
        with open(path, "rb") as src, open(tmp, "wb") as dst:
            for type_, off, size in top:
                if off == moov_off:
                    dst.write(new_moov)
                else:
                    src.seek(off)
                    remaining = size
                    while remaining:
                        chunk = src.read(min(remaining, 1 << 22))
                        if not chunk:
                            break
                        dst.write(chunk)
                        remaining -= len(chunk)

    atomic_write(path, rewrite, "meta")

