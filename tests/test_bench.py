"""`bench dream`'s record: where the time goes, FLOPs per frame, memory; the global --threads; the part timer."""
import json

import pytest
import torch

from hallucinator.cli import main
from hallucinator.config import DreamConfig
from hallucinator.engine import Dreamer
from hallucinator.engine.timing import PARTS, count_flops
from hallucinator.demo import demo_panorama
from hallucinator import sphere

TINY = ["--size", "128x64", "--model", "efficientnet-lite0", "--octaves", "1", "--iterations", "1", "--repeat", "1",
        "--device", "cpu", "--json"]


def _bench(capsys, *extra):
    code = main(["bench", "dream", *TINY, *extra])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.slow
def test_bench_dream_breaks_the_time_down_and_counts_flops(capsys):
    r = _bench(capsys)
    parts = r["engine_parts_s"]
    assert set(PARTS) <= set(parts) and "other" in parts
    assert all(v >= 0 for v in parts.values())
    assert sum(parts.values()) == pytest.approx(r["engine_s"], rel=0.02, abs=2e-3)
    assert parts["band"] > 0 and parts["polar views"] > 0  # the network passes were timed
    assert set(r["reference_parts_s"]) == {"network", "octave resize", "other"}
    # the band and the two polar views see more pixels than one plain pass (about 1.3-1.5x)
    assert 1.1 < r["engine_gflop_per_frame"] / r["reference_gflop_per_frame"] < 2.0
    assert r["engine_tflops"] == pytest.approx(r["engine_gflop_per_frame"] / 1e3 / r["engine_s"], rel=0.01)
    assert r["peak_rss_gb"] > 0 and r["precision"] == "fp32"


@pytest.mark.slow
def test_bench_dream_bf16_autocast_runs_and_is_recorded(capsys):
    r = _bench(capsys, "--precision", "bf16", "--random-weights")
    assert r["precision"] == "bf16" and r["engine_s"] > 0


def test_count_flops_is_the_convolution_formula():
    conv = torch.nn.Conv2d(3, 8, 3, padding=1, bias=False)
    for p in conv.parameters():
        p.requires_grad_(False)
    x = torch.rand(1, 3, 10, 12, requires_grad=True)

    def step():
        (g,) = torch.autograd.grad(conv(x).pow(2).sum(), x)
        return g
    per_pass = 2 * 8 * 3 * 3 * 3 * 10 * 12  # multiply-adds x2, per output pixel and channel
    assert count_flops(step) == 2 * per_pass  # forward, and the input gradient (no weight gradient: frozen)


def test_part_timer_is_off_unless_asked_and_counts_each_part_when_on():
    d = Dreamer(DreamConfig(model="efficientnet-lite0", layers=["block8"], octaves=2, iterations=1, device="cpu"))
    src = sphere.to_tensor(demo_panorama(256))
    d.dream(src)
    assert d.timer.seconds == {}
    d.timer.enabled = True
    d.dream(src)
    assert set(d.timer.seconds) == set(PARTS) and all(v > 0 for v in d.timer.seconds.values())


def test_threads_option(capsys):
    import cv2

    before, cv_before = torch.get_num_threads(), cv2.getNumThreads()
    try:
        assert main(["--threads", "1", "models"]) == 0
        assert torch.get_num_threads() == 1 and cv2.getNumThreads() == 1     # OpenCV's pool too
    finally:
        torch.set_num_threads(before)
        cv2.setNumThreads(cv_before)
    capsys.readouterr()
    assert main(["--threads", "0", "models"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err] and "--threads must be at least 1" in err
