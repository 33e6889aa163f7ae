"""``hallucinator dream --engine student``: stills with 360° metadata, a real clip, bad student files."""
from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest

from hallucinator.cli import main
from hallucinator.io.images import write_image
from hallucinator.student.export import write_random_student

from test_still_metadata import gpano_fields


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    return write_random_student(tmp_path_factory.mktemp("student") / "student-random.onnx", seed=2)


@pytest.fixture
def pano(tmp_path):
    path = tmp_path / "pano.png"
    rng = np.random.default_rng(5)
    write_image(str(path), rng.integers(0, 256, (96, 192, 3), dtype=np.uint8))
    return path


def test_student_still_is_equirect_png_with_sidecar(tmp_path, pano, student, capsys):
    out = tmp_path / "dream.png"
    assert main(["dream", str(pano), str(out), "--engine", "student", "--student", str(student),
                 "--device", "cpu", "--student-size", "128x64"]) == 0
    assert "CPUExecutionProvider" in capsys.readouterr().err
    assert gpano_fields(out)["ProjectionType"] == "equirectangular"
    if shutil.which("exiftool"):
        got = subprocess.run(["exiftool", "-s3", "-XMP-GPano:ProjectionType", str(out)], capture_output=True,
                             text=True, check=True).stdout.strip()
        assert got == "equirectangular"
    side = json.loads((tmp_path / "dream.png.json").read_text())
    assert side["engine"] == "student" and side["student"]["sha256"] and side["student"]["providers"]
    assert side["student"]["card"]["random_weights"] is True
    assert "seam_ratio" in side["quality"]


@pytest.mark.slow
def test_student_video_writes_dream_and_control(tmp_path, shared, student):
    clip = shared("videos/panolens-1941-battle-640x320.mp4")
    out, ctl = tmp_path / "dream.mp4", tmp_path / "control.mp4"
    assert main(["dream", str(clip), str(out), "--engine", "student", "--student", str(student), "--frames",
                 "0:6", "--size", "256x128", "--control", str(ctl), "--temporal", "0.5", "-q"]) == 0
    from hallucinator.io.reader import VideoReader

    for path in (out, ctl):
        with VideoReader(str(path)) as r:
            frames = [f.image for f in r]
            assert len(frames) == 6 and frames[0].shape == (128, 256, 3)
            assert r.info.projection == "equirectangular" and r.info.has_audio
    side = json.loads((tmp_path / "dream.mp4.json").read_text())
    assert side["frames_written"] == 6 and side["quality"]["warp_error"] is not None
    assert side["temporal_blend"] == 0.5


@pytest.mark.parametrize("content", [None, b"not an onnx model at all"])
def test_missing_or_corrupt_student_is_one_line_exit_2(tmp_path, pano, content, capsys):
    bad = tmp_path / "student.onnx"
    if content is not None:
        bad.write_bytes(content)
    out = tmp_path / "dream.png"
    assert main(["dream", str(pano), str(out), "--engine", "student", "--student", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hallucinator: error:") and "\n" not in err and str(bad) in err
    assert not out.exists() and not (tmp_path / "dream.png.json").exists()


@pytest.mark.parametrize("figure,needle", [("sheet.txt", "not an image name"),
                                           ("no/such/folder/sheet.jpg", "folder")])
def test_distill_refuses_a_bad_figure_name_before_it_starts(tmp_path, figure, needle, capsys):
    cache = tmp_path / "cache"
    assert main(["distill", "--figure", str(tmp_path / figure), "--cache", str(cache),
                 "--out", str(tmp_path / "s.onnx")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hallucinator: error:") and "\n" not in err and needle in err
    assert not cache.exists() and not (tmp_path / "s.onnx").exists()    # nothing planned, dreamed or written
