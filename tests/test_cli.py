"""The command line for still images: outputs, sidecars, determinism, and a clear exit 2 for each bad input."""
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from hallucinator.cli import main
from hallucinator.demo import demo_panorama

QUICK = ["--model", "efficientnet-lite0", "--layer", "block8", "--octaves", "2", "--iterations", "1", "-q"]


@pytest.fixture(scope="module")
def pano(tmp_path_factory):
    path = tmp_path_factory.mktemp("in") / "pano.png"
    cv2.imwrite(str(path), cv2.cvtColor(demo_panorama(256), cv2.COLOR_RGB2BGR))
    return path


def run(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_dream_writes_image_and_full_sidecar(pano, tmp_path, capsys):
    out = tmp_path / "dream.png"
    code, _, err = run(["dream", pano, out, *QUICK, "--seed", "7"], capsys)
    assert code == 0, err
    img = cv2.imread(str(out))
    assert img.shape == (128, 256, 3)
    side = json.loads((tmp_path / "dream.png.json").read_text())
    assert side["config"]["seed"] == 7 and side["config"]["model"] == "efficientnet-lite0"
    assert len(side["model"]["weights_sha256"]) == 64
    assert len(side["input"]["sha256"]) == 64
    for key in ("seam_ratio", "pole_horizon_coherence_ratio", "tangential_bias_excess", "pole_horizon_strength_ratio"):
        assert key in side["quality"]
    assert {"torch", "hallucinator", "numpy"} <= set(side["versions"])
    assert side["timings_s"]["dream"] > 0
    # the sidecar reproduces the run
    again = tmp_path / "again.png"
    code, _, err = run(["dream", pano, again, "--config", tmp_path / "dream.png.json", "-q"], capsys)
    assert code == 0, err
    assert again.read_bytes() == out.read_bytes()


def test_same_seed_twice_gives_identical_bytes(pano, tmp_path, capsys):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    assert run(["dream", pano, a, *QUICK], capsys)[0] == 0
    assert run(["dream", pano, b, *QUICK], capsys)[0] == 0
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize("kind", ["gray", "alpha", "16bit"])
def test_grayscale_alpha_and_16bit_inputs_are_handled(pano, tmp_path, capsys, kind):
    img = cv2.imread(str(pano))
    if kind == "gray":
        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    elif kind == "alpha":
        img = np.dstack([img, np.full(img.shape[:2], 255, np.uint8)])
    else:
        img = img.astype(np.uint16) * 257
    src = tmp_path / f"{kind}.png"
    cv2.imwrite(str(src), img)
    out = tmp_path / "out.png"
    code, _, err = run(["dream", src, out, *QUICK], capsys)
    assert code == 0, err
    side = json.loads((tmp_path / "out.png.json").read_text())
    assert side["input"]["conversions"], "the conversion is recorded"


def _assert_user_error(code, err, *needles):
    assert code == 2
    lines = [l for l in err.strip().splitlines() if l]
    assert len(lines) == 1, err
    assert lines[0].startswith("hallucinator: error:")
    for n in needles:
        assert n in lines[0], lines[0]


def test_unreadable_input(tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_text("this is not an image")
    out = tmp_path / "out.png"
    _assert_user_error(*run(["dream", bad, out, *QUICK], capsys)[::2], "cannot read")
    assert not out.exists() and not (tmp_path / "out.png.json").exists()
    _assert_user_error(*run(["dream", tmp_path / "missing.png", out, *QUICK], capsys)[::2], "does not exist")


def test_not_two_to_one_without_flat(pano, tmp_path, capsys):
    src = tmp_path / "wide.png"
    cv2.imwrite(str(src), cv2.imread(str(pano))[:, :200])
    out = tmp_path / "out.png"
    _assert_user_error(*run(["dream", src, out, *QUICK], capsys)[::2], "not a 2:1", "--flat")
    assert not out.exists()
    assert run(["dream", src, out, *QUICK, "--flat"], capsys)[0] == 0
    assert out.exists()


def test_too_small(tmp_path, capsys):
    src = tmp_path / "tiny.png"
    cv2.imwrite(str(src), np.zeros((16, 32, 3), np.uint8))
    _assert_user_error(*run(["dream", src, tmp_path / "o.png", *QUICK], capsys)[::2], "needs at least")


def test_unknown_model_and_layer_list_the_valid_names(pano, tmp_path, capsys):
    _assert_user_error(*run(["dream", pano, tmp_path / "o.png", "--model", "alexnet"], capsys)[::2],
                       "unknown model", "efficientnet-lite2")
    _assert_user_error(*run(["dream", pano, tmp_path / "o.png", "--model", "efficientnet-lite0",
                             "--layer", "block99"], capsys)[::2], "unknown layer", "block8")
    _assert_user_error(*run(["dream", pano, tmp_path / "o.png", "--preset", "nope"], capsys)[::2], "unknown preset")


def test_missing_weights_offline_say_how_to_get_them(pano, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))
    _assert_user_error(*run(["dream", pano, tmp_path / "o.png", "--preset", "hallucination-machine"], capsys)[::2],
                       "googlenet", "not available offline", "--weights")
    assert not (tmp_path / "o.png").exists()


def test_unwritable_output(pano, tmp_path, capsys):
    _assert_user_error(*run(["dream", pano, tmp_path / "no" / "such" / "dir.png", *QUICK], capsys)[::2],
                       "does not exist")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as a user who can write to read-only folders (root); the missing-folder case ran")
        _assert_user_error(*run(["dream", pano, ro / "o.png", *QUICK], capsys)[::2], "not writable")
    finally:
        ro.chmod(0o700)


def test_models_lists_availability(capsys):
    code, out, _ = run(["models", "--json"], capsys)
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["efficientnet-lite2"]["available"] and "block10" in rows["efficientnet-lite2"]["layers"]
    assert "inception4c" in rows["googlenet"]["layers"]


def test_inspect_prints_the_figures(pano, tmp_path, capsys):
    out = tmp_path / "d.png"
    assert run(["dream", pano, out, *QUICK], capsys)[0] == 0
    code, text, _ = run(["inspect", pano, out, "--json"], capsys)
    figures = json.loads(text)
    assert code == 0 and figures["seam_ratio"] > 0 and "tangential_bias_excess" in figures


def test_bench_dream_json_and_exit_code_of_the_real_command(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "hallucinator", "bench", "dream", "--size", "256x128", "--model",
                           "efficientnet-lite0", "--octaves", "1", "--iterations", "1", "--repeat", "1", "--json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["engine_s"] > 0 and result["reference_s"] > 0
    assert result["ratio"] == pytest.approx(result["reference_s"] / result["engine_s"], rel=1e-2)
    bad = subprocess.run([sys.executable, "-m", "hallucinator", "dream", "nope.png", "out.png"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
