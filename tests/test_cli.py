"""The command line for still images: outputs, sidecars, determinism, options, and a clear exit 2 for each bad input."""
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from hallucinator import quality
from hallucinator.cli import build_parser, main
from hallucinator.cli.dream import config_from_args
from hallucinator.config import DreamConfig, PRESETS
from hallucinator.demo import demo_panorama
from hallucinator.io.images import read_image
from hallucinator.models.loading import weights_path
from hallucinator.provenance import sha256_file

from test_still_metadata import gpano_fields

QUICK = ["--model", "efficientnet-lite0", "--layer", "block8", "--octaves", "2", "--iterations", "1", "-q"]


@pytest.fixture(scope="module")
def pano(tmp_path_factory):
    path = tmp_path_factory.mktemp("in") / "pano.png"
    cv2.imwrite(str(path), cv2.cvtColor(demo_panorama(256), cv2.COLOR_RGB2BGR))
    return path


@pytest.fixture(scope="module")
def dreamed(pano, tmp_path_factory):
    """One quick dream of the panorama with seed 7, shared by the tests that read it."""
    out = tmp_path_factory.mktemp("dream") / "dream.png"
    assert main([str(a) for a in ["dream", pano, out, *QUICK, "--seed", "7"]]) == 0
    return out


def run(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
def test_dream_writes_image_and_full_sidecar(pano, dreamed, tmp_path, capsys):
    out = dreamed
    img = cv2.imread(str(out))
    assert img.shape == (128, 256, 3)
    side = json.loads(out.with_name("dream.png.json").read_text())
    assert side["config"]["seed"] == 7 and side["config"]["model"] == "efficientnet-lite0"
    assert side["config"]["layers"] == ["block8"] and side["config"]["octaves"] == 2
    assert len(side["model"]["weights_sha256"]) == 64
    assert side["model"]["weights_sha256"] == sha256_file(weights_path("efficientnet-lite0"))
    assert len(side["input"]["sha256"]) == 64
    assert gpano_fields(out)["ProjectionType"] == "equirectangular", "photo viewers open it as a sphere"
    assert side["input"]["sha256"] == sha256_file(pano)
    for key in ("seam_ratio", "pole_horizon_coherence_ratio", "tangential_bias_excess", "pole_horizon_strength_ratio"):
        assert key in side["quality"]
    # the recorded figures are those of the written image against its source
    assert side["quality"] == json.loads(json.dumps(quality.inspect(read_image(str(pano)), read_image(str(out)))))
    assert {"torch", "hallucinator", "numpy"} <= set(side["versions"])
    assert side["timings_s"]["dream"] > 0
    # the sidecar reproduces the run
    again = tmp_path / "again.png"
    code, _, err = run(["dream", pano, again, "--config", out.with_name("dream.png.json"), "-q"], capsys)
    assert code == 0, err
    assert again.read_bytes() == out.read_bytes()


@pytest.mark.slow
def test_same_seed_twice_gives_identical_bytes(pano, dreamed, tmp_path, capsys):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    assert run(["dream", pano, a, *QUICK], capsys)[0] == 0
    assert run(["dream", pano, b, *QUICK, "--seed", "7"], capsys)[0] == 0
    assert b.read_bytes() == dreamed.read_bytes()
    assert a.read_bytes() != b.read_bytes(), "another seed, another dream"


@pytest.mark.slow
@pytest.mark.parametrize("kind,note", [("gray", "grayscale input expanded to RGB"),
                                       ("alpha", "alpha channel dropped (fully opaque)"),
                                       ("16bit", "16-bit input scaled to 8 bits")])
def test_grayscale_alpha_and_16bit_inputs_are_handled(pano, dreamed, tmp_path, capsys, kind, note):
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
    code, _, err = run(["dream", src, out, *QUICK, "--seed", "7"], capsys)
    assert code == 0, err
    side = json.loads((tmp_path / "out.png.json").read_text())
    assert side["input"]["conversions"], "the conversion is recorded"
    assert side["input"]["conversions"] == [note]
    assert f"hallucinator: note: {src}: {note}" in err.splitlines(), "the conversion is said out loud"
    assert f"input: {note}" in side["warnings"]
    if kind == "gray":
        dream = read_image(str(out))
        assert dream.shape == (128, 256, 3)
    else:  # opaque alpha and 16-bit x 257 convert back to the very same pixels, so to the same dream
        assert out.read_bytes() == dreamed.read_bytes()


def test_transparency_is_composited_onto_neutral_grey_and_noted(tmp_path):
    rgba = np.zeros((8, 16, 4), np.uint8)
    rgba[..., 2] = 200            # red in BGRA order
    rgba[:, :8, 3] = 255          # left half opaque, right half fully transparent
    rgba[:, 8:12, 3] = 0
    rgba[:, 12:, 3] = 128         # half transparent
    path = tmp_path / "rgba.png"
    cv2.imwrite(str(path), rgba)
    notes = []
    img = read_image(str(path), notes)
    assert img[0, 0].tolist() == [200, 0, 0]
    assert img[0, 9].tolist() == [128, 128, 128], "transparent areas become neutral grey, not black"
    assert img[0, 13].tolist() == [164, 64, 64]
    assert len(notes) == 1 and "50% of pixels" in notes[0] and "grey 128" in notes[0]
    gray_alpha = tmp_path / "ga.png"
    from PIL import Image
    Image.fromarray(np.dstack([np.full((8, 16), 40, np.uint8), np.zeros((8, 16), np.uint8)]), "LA").save(gray_alpha)
    notes = []
    assert read_image(str(gray_alpha), notes)[0, 0].tolist() == [128, 128, 128]
    assert "composited onto neutral grey" in notes[0]


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
    assert cv2.imread(str(out)).shape == (128, 200, 3)
    assert gpano_fields(out) == {}, "an ordinary picture is not marked as a panorama"


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


def test_bad_channels_is_one_line(pano, tmp_path, capsys):
    _assert_user_error(*run(["dream", pano, tmp_path / "o.png", "--objective", "channels", "--channels", "3,x"],
                            capsys)[::2], "--channels must be comma-separated integers", "'3,x'")


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


def _config(*argv):
    return config_from_args(build_parser().parse_args(["dream", "in.png", "out.png", *map(str, argv)]))


def test_option_precedence_flags_over_config_over_preset(tmp_path):
    assert _config() == DreamConfig()
    fast = _config("--preset", "fast")
    assert fast == DreamConfig(**PRESETS["fast"])
    toml = tmp_path / "c.toml"
    toml.write_text('[dream]\niterations = 3\nstep_size = 0.5\n')
    cfg = _config("--preset", "fast", "--config", toml, "--iterations", "5")
    assert (cfg.model, cfg.octaves, cfg.step_size, cfg.iterations) == ("efficientnet-lite0", 3, 0.5, 5)
    assert _config("--model", "efficientnet-lite0").layers == ["block8"], "a model alone brings its default layer"
    assert _config("--layer", "block5, block8", "--layer", "block10").layers == ["block5", "block8", "block10"]
    assert _config("--objective", "channels", "--channels", "3,17,42").channels == [3, 17, 42]
    assert _config("--flat").flat is True and _config().flat is False


def test_models_lists_availability(capsys):
    code, out, _ = run(["models", "--json"], capsys)
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["efficientnet-lite2"]["available"] and "block10" in rows["efficientnet-lite2"]["layers"]
    assert "inception4c" in rows["googlenet"]["layers"]
    assert rows["efficientnet-lite2"]["weights"] == str(weights_path("efficientnet-lite2"))
    assert len(rows["efficientnet-lite1"]["layers"]) == 1 + 21 + 2 and rows["vgg16"]["layers"][-1] == "pool5"


@pytest.mark.slow
def test_inspect_prints_the_figures(pano, dreamed, capsys):
    code, text, _ = run(["inspect", pano, dreamed, "--json"], capsys)
    figures = json.loads(text)
    assert code == 0 and figures["seam_ratio"] > 0 and "tangential_bias_excess" in figures
    assert figures == json.loads(json.dumps(quality.inspect(read_image(str(pano)), read_image(str(dreamed)))))
    assert figures == json.loads(dreamed.with_name("dream.png.json").read_text())["quality"]


def _bench(capsys, *extra):
    code, out, err = run(["bench", "dream", "--size", "128x64", "--model", "efficientnet-lite0", "--octaves", "1",
                          "--iterations", "1", "--repeat", "1", "--json", *extra], capsys)
    assert code == 0, err
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.slow
def test_bench_dream_records_what_it_measured(capsys):
    result = _bench(capsys)
    assert (result["size"], result["model"], result["layer"], result["octaves"]) == \
        ("128x64", "efficientnet-lite0", "block8", 1)
    assert result["weights_sha256"] == sha256_file(weights_path("efficientnet-lite0"))
    assert result["random_weights"] is False
    assert result["engine_s"] > 0 and result["reference_s"] > 0


def test_bench_dream_random_weights_are_random(capsys):
    """Bug: --random-weights still loaded the pretrained EfficientNet-Lite file."""
    result = _bench(capsys, "--random-weights")
    assert result["random_weights"] is True and result["weights_sha256"] == "random-init"


@pytest.mark.slow
def test_bench_dream_json_and_exit_code_of_the_real_command(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "hallucinator", "bench", "dream", "--size", "256x128", "--model",
                           "efficientnet-lite0", "--octaves", "1", "--iterations", "1", "--repeat", "1", "--json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["engine_s"] > 0 and result["reference_s"] > 0
    assert result["ratio"] == pytest.approx(result["reference_s"] / result["engine_s"], rel=1e-2)
    assert result["size"] == "256x128" and result["layer"] == "block8"
    bad = subprocess.run([sys.executable, "-m", "hallucinator", "dream", "nope.png", "out.png"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().splitlines() == [bad.stderr.strip()] and "does not exist" in bad.stderr


def test_bench_dream_unknown_model_is_one_line(capsys):
    """Bug: without --layer, an unknown --model was a KeyError traceback."""
    _assert_user_error(*run(["bench", "dream", "--model", "alexnet"], capsys)[::2], "unknown model",
                       "efficientnet-lite2")


@pytest.mark.parametrize("given, expected", [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_the_command_asks_openmp_to_wait_passively_unless_told(given, expected):
    """Before torch loads, the CLI sets OMP_WAIT_POLICY=PASSIVE (busy-waiting threads crawl on a shared machine);
    a policy the user set is kept."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if given:
        env["OMP_WAIT_POLICY"] = given
    code = ("import os, sys; from hallucinator.cli import main; main(['models', '--json']); "
            "print(os.environ.get('OMP_WAIT_POLICY'), 'torch' in sys.modules, file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == f"{expected} True"


def test_demo_command_dreams_its_panorama(tmp_path):
    """`make demo`'s command: the composed panorama and its dream with a sidecar (the still only, small)."""
    out = tmp_path / "demo"
    r = subprocess.run([sys.executable, "-m", "hallucinator", "demo", "--out", str(out), "--width", "256",
                        "--no-video"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    pano, dream = cv2.imread(str(out / "panorama.png")), cv2.imread(str(out / "dream.png"))
    assert pano.shape == dream.shape == (128, 256, 3)
    assert np.abs(pano.astype(int) - dream.astype(int)).mean() > 1.0
    assert json.loads((out / "dream.png.json").read_text())["config"]["layers"] == DreamConfig().layers
