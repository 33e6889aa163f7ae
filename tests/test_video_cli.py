"""The video commands end to end: `dream --stereo tb`, `bench video` (second-run step, temporary folder)."""
from __future__ import annotations

import json
import tempfile

import numpy as np
import pytest
import torch

from test_media import make_clip

from hallucinator.cli import main
from hallucinator.io.probe import probe
from hallucinator.io.reader import VideoReader

TINY = ["--model", "efficientnet-lite0", "--layer", "block5", "--octaves", "1", "--iterations", "2"]


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_bench_video_sets_the_views_against_the_independent_frames(tmp_path, one_thread, capsys):
    """With the --independent comparison, bench video also says per view what the carry keeps of the engine's
    own strength and how far the content alone swings it."""
    src = make_clip(tmp_path / "clip.mp4", frames=3, size=(256, 128))
    report = tmp_path / "bench.json"
    assert main(["bench", "video", str(src), "--frames", "0:3", "--size", "128x64", *TINY, "--step2", "3.0",
                 "--json", str(report)]) == 0
    out = capsys.readouterr().out
    assert "against the independent frames" in out and "content dip" in out
    r = json.loads(report.read_text())
    table = r["views_against_independent"]
    assert set(table) == {"up", "down", "yaw0", "yaw90", "yaw180", "yaw270"}
    assert r["independent"]["views"]["pairs"] == 2
    for row in table.values():
        assert row["kept"] > 0 and 0 < row["content_dip"] <= 1


@pytest.mark.slow
def test_dream_stereo_tb_dreams_each_eye(tmp_path, one_thread):
    """`dream --stereo tb` takes the word `view` takes: a square file without stereo metadata is two eyes."""
    src = make_clip(tmp_path / "square.mp4", frames=2, size=(256, 256))
    out, control = tmp_path / "out.mp4", tmp_path / "control.mp4"
    assert main(["dream", str(src), str(out), *TINY, "--device", "cpu", "--stereo", "tb", "--control", str(control),
                 "--cache-dir", str(tmp_path / "cache"), "-q"]) == 0
    info = probe(out)
    assert (info.width, info.height, info.frames) == (256, 256, 2) and info.stereo == "top-bottom"
    side = json.loads((tmp_path / "out.mp4.json").read_text())
    assert side["layout"]["eyes"] == 2 and side["video"]["stereo"] == "top-bottom"
    d = next(iter(VideoReader(out))).image.astype(int)
    c = next(iter(VideoReader(control))).image.astype(int)
    assert np.abs(d[:128] - c[:128]).mean() > 2 and np.abs(d[128:] - c[128:]).mean() > 2   # both eyes dreamed
    # without the word, the square picture is not a 2:1 panorama
    assert main(["dream", str(src), str(tmp_path / "o2.mp4"), *TINY, "--device", "cpu",
                 "--cache-dir", str(tmp_path / "cache"), "-q"]) == 2


@pytest.mark.slow
def test_bench_video_second_step_and_no_folder_left(tmp_path, monkeypatch, one_thread):
    """`--step2` is in 0-255 units like --step-size (it was divided by 255 twice); the temporary folder of
    the outputs goes away even when --cache-dir keeps the cache."""
    src = make_clip(tmp_path / "clip.mp4", frames=3, size=(256, 128))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    report = tmp_path / "bench.json"
    assert main(["bench", "video", str(src), "--frames", "0:3", "--size", "128x64", *TINY, "--step2", "3.0",
                 "--no-independent", "--cache-dir", str(tmp_path / "cache"), "--json", str(report)]) == 0
    assert list(scratch.iterdir()) == []
    assert any((tmp_path / "cache").iterdir())                     # the asked-for cache stays
    r = json.loads(report.read_text())
    assert r["config"]["step_size"] == 1.5 and r["run2"]["config"]["step_size"] == 3.0
    s1, s2 = r["run1"]["quality"]["strength"], r["run2"]["quality"]["strength"]
    assert 1.4 * s1 < s2 < 3 * s1, (s1, s2)                        # twice the step: a stronger dream
    views = r["run1"]["views"]                                     # the view-space temporal figure
    assert views["pairs"] == 2 and set(views["views"]) == {"up", "down", "yaw0", "yaw90", "yaw180", "yaw270"}


@pytest.mark.slow
def test_bench_video_seeds_reports_each_seeds_view_figures_and_how_many_meet_the_targets(tmp_path, one_thread, capsys):
    from hallucinator.video.view_figures import LIMITS, verdicts

    src = make_clip(tmp_path / "clip.mp4", frames=3, size=(256, 128))
    report = tmp_path / "bench.json"
    assert main(["bench", "video", str(src), "--frames", "0:3", "--size", "128x64", *TINY, "--seeds", "0,1",
                 "--cache-dir", str(tmp_path / "cache"), "--json", str(report)]) == 0
    r = json.loads(report.read_text())["seeds"]
    assert [run["seed"] for run in r["runs"]] == [0, 1]
    a, b = (run["views"]["views"]["yaw0"]["strength"] for run in r["runs"])
    assert a != b                                                  # two seeds, two dreams
    for key in LIMITS:
        values = [run["views"][key] for run in r["runs"]]
        assert r["medians"][key] == pytest.approx(float(np.median(values)))
        assert r["met"][key] == sum(verdicts(run["views"]).get(key, False) for run in r["runs"])
    assert r["met_all"] == sum(all(verdicts(run["views"]).get(k, False) for k in LIMITS) for run in r["runs"])
    out = capsys.readouterr().out
    assert "seed 0:" in out and "seed 1:" in out and f"both targets met by {r['met_all']} of 2 seeds" in out
    assert main(["bench", "video", str(src), "--seeds", "0,x"]) == 2     # one line naming the option
    assert main(["bench", "video", str(src), "--seeds", "0", "--ray-workers", "1,2"]) == 2
    assert "give one of them" in capsys.readouterr().err


def test_global_threads_and_the_video_threads_option_do_not_collide():
    """`hallucinator --threads N` (all commands) and `bench video --threads` (0: torch's default) are separate."""
    from hallucinator.cli import build_parser

    args = build_parser().parse_args(["--threads", "2", "bench", "video", "clip.mp4"])
    assert args.global_threads == 2 and args.threads == 0
    args = build_parser().parse_args(["bench", "video", "clip.mp4", "--threads", "1"])
    assert args.global_threads is None and args.threads == 1
