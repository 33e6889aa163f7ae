"""360° stills: PNG and JPEG outputs carry XMP GPano, read back by real readers (exiftool, Pillow)."""
import shutil
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from hallucinator.io.images import read_image, write_image

GPANO = "{http://ns.google.com/photos/1.0/panorama/}"


def gpano_fields(path) -> dict:
    """The GPano attributes of a file's XMP, as Pillow extracts the packet (empty when there is none)."""
    with Image.open(path) as im:
        packet = im.info.get("xmp")
    if not packet:
        return {}
    root = ET.fromstring(packet)
    return {k[len(GPANO):]: v for d in root.iter("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}Description")
            for k, v in d.attrib.items() if k.startswith(GPANO)}


@pytest.fixture
def picture():
    rng = np.random.default_rng(3)
    return rng.integers(0, 256, (64, 128, 3), dtype=np.uint8)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".jpeg"])
def test_spherical_stills_carry_gpano_read_by_pillow(tmp_path, picture, suffix):
    path = tmp_path / f"pano{suffix}"
    write_image(str(path), picture, spherical=True)
    fields = gpano_fields(path)
    assert fields["ProjectionType"] == "equirectangular"
    assert fields["UsePanoramaViewer"] == "True"
    assert (fields["FullPanoWidthPixels"], fields["FullPanoHeightPixels"]) == ("128", "64")
    assert (fields["CroppedAreaImageWidthPixels"], fields["CroppedAreaImageHeightPixels"]) == ("128", "64")
    assert (fields["CroppedAreaLeftPixels"], fields["CroppedAreaTopPixels"]) == ("0", "0")
    plain = tmp_path / f"plain{suffix}"
    write_image(str(plain), picture)
    assert gpano_fields(plain) == {}
    if suffix == ".png":   # the packet is metadata only: the pixels are the very same
        assert np.array_equal(read_image(str(path)), picture)
    else:
        assert np.array_equal(read_image(str(path)), read_image(str(plain)))


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool not installed (Debian: libimage-exiftool-perl)")
def test_exiftool_reads_the_projection_and_finds_no_errors(tmp_path, picture):
    files = []
    for suffix in (".png", ".jpg"):
        files.append(tmp_path / f"dream{suffix}")
        write_image(str(files[-1]), picture, spherical=True)
    for f in files:
        out = subprocess.run(["exiftool", "-s3", "-XMP-GPano:ProjectionType", str(f)], capture_output=True,
                             text=True, check=True).stdout.strip()
        assert out == "equirectangular", f
        check = subprocess.run(["exiftool", "-s3", "-validate", "-warning", "-error", str(f)], capture_output=True,
                               text=True, check=True).stdout.strip()
        assert check.splitlines()[0] == "OK", check
    flat = tmp_path / "flat.png"
    write_image(str(flat), picture)
    assert subprocess.run(["exiftool", "-s3", "-XMP-GPano:ProjectionType", str(flat)], capture_output=True,
                          text=True).stdout.strip() == ""
