"""360° photo metadata: an XMP GPano packet, embedded in encoded PNG and JPEG bytes.

Photo viewers and sites (Google Photos, Facebook, Kuula, Photo Sphere Viewer)
open a still as a sphere when its XMP says ``GPano:ProjectionType`` is
``equirectangular`` and ``GPano:UsePanoramaViewer`` is true; the full-panorama
and cropped-area sizes say the picture covers the whole sphere.

* :func:`gpano_xmp` is the packet for a full ``width`` × ``height`` panorama.
* :func:`embed_xmp` puts a packet into encoded PNG bytes (an ``iTXt`` chunk
  with keyword ``XML:com.adobe.xmp``, right after ``IHDR``) or JPEG bytes (an
  ``APP1`` segment with the XMP namespace, after the ``APP0``/JFIF segment).
"""
from __future__ import annotations

import struct
import zlib

GPANO_SUFFIXES = (".png", ".jpg", ".jpeg")   # the outputs that carry the packet
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_XMP_NAMESPACE = b"http://ns.adobe.com/xap/1.0/\x00"


def gpano_xmp(width: int, height: int) -> bytes:
    """The XMP packet (UTF-8) that marks a ``width`` × ``height`` picture as a full equirectangular panorama."""
    fields = {
        "ProjectionType": "equirectangular",
        "UsePanoramaViewer": "True",
        "CroppedAreaImageWidthPixels": width,
        "CroppedAreaImageHeightPixels": height,
        "FullPanoWidthPixels": width,
        "FullPanoHeightPixels": height,
        "CroppedAreaLeftPixels": 0,
        "CroppedAreaTopPixels": 0,
    }
    attrs = "".join(f'\n    GPano:{k}="{v}"' for k, v in fields.items())
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about=""\n'
        '    xmlns:GPano="http://ns.google.com/photos/1.0/panorama/"'
        f'{attrs}/>\n'
        ' </rdf:RDF>\n'
        '</x:xmpmeta>\n'
        '<?xpacket end="w"?>').encode("utf-8")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _embed_png(data: bytes, packet: bytes) -> bytes:
    if not data.startswith(_PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise ValueError("not a PNG stream")
    end_of_ihdr = 8 + 12 + struct.unpack(">I", data[8:12])[0]
    # iTXt: keyword, NUL, compression flag 0, method 0, empty language tag, NUL, empty translated keyword, NUL
    chunk = _png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + packet)
    return data[:end_of_ihdr] + chunk + data[end_of_ihdr:]


def _embed_jpeg(data: bytes, packet: bytes) -> bytes:
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("not a JPEG stream")
    body = _JPEG_XMP_NAMESPACE + packet
    if len(body) + 2 > 0xFFFF:
        raise ValueError("XMP packet too large for one APP1 segment")
    at = 2
    if data[2:4] == b"\xff\xe0":   # keep the JFIF APP0 segment first, as readers expect
        at = 4 + struct.unpack(">H", data[4:6])[0]
    return data[:at] + b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body + data[at:]


def embed_xmp(data: bytes, suffix: str, packet: bytes) -> bytes:
    """Encoded image ``data`` (PNG or JPEG, by ``suffix``) with the XMP ``packet`` added."""
    suffix = suffix.lower()
    if suffix == ".png":
        return _embed_png(data, packet)
    if suffix in (".jpg", ".jpeg"):
        return _embed_jpeg(data, packet)
    raise ValueError(f"no XMP embedding for {suffix}")
