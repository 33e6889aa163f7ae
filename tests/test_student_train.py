"""Distillation: a tiny student learns, checkpoints resume, the plan keeps its held-out split."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from hallucinator.errors import UserError
from hallucinator.student import evaluate, teacher
from hallucinator.student.export import TINY
from hallucinator.student.train import TrainOptions, fit_gain, predict, train, with_gain


def _data(n=6, h=32, w=64):
    rng = np.random.default_rng(0)
    pics = (rng.random((n, h, w, 3)) * 255).astype(np.uint8)
    # a target the net can learn: the picture's contrast, stronger near the poles
    x = pics.astype(np.float32) / 255
    lat = np.abs(np.linspace(-1, 1, h, dtype=np.float32))[None, :, None, None]
    res = (0.2 * (x - 0.5) * (0.5 + lat)).astype(np.float16)
    return pics, res


def test_tiny_student_learns_and_resumes(tmp_path):
    torch.set_num_threads(1)
    pics, res = _data()
    ckpt = tmp_path / "ckpt.pt"
    opts = TrainOptions(steps=40, batch=2, lr=5e-3, checkpoint_every=20)
    net, state = train(pics, res, TINY, opts, checkpoint=ckpt, meta={"k": 1})
    assert state.step == 40 and ckpt.is_file()
    first, last = state.losses[0][1], state.losses[-1][1]
    assert last < 0.7 * first, state.losses
    # the same command with more steps continues from step 40
    more = TrainOptions(steps=60, batch=2, lr=5e-3, checkpoint_every=20)
    net2, state2 = train(pics, res, TINY, more, checkpoint=ckpt, meta={"k": 1})
    assert state2.step == 60 and state2.losses[:4] == state.losses[:4]
    # other data: starts afresh
    _, state3 = train(pics, res, TINY, TrainOptions(steps=10, batch=2), checkpoint=ckpt, meta={"k": 2})
    assert state3.step == 10 and len(state3.losses) == 1
    gain = fit_gain(net2, pics, res)
    scaled = with_gain(net2, gain)
    g = np.array([0.299, 0.587, 0.114], np.float32)
    assert np.abs(predict(scaled, pics) @ g).mean() == pytest.approx(np.abs(res.astype(np.float32) @ g).mean(),
                                                                       rel=1e-3)


def test_spread_frames_keep_their_prefix():
    assert teacher.spread_frames(100, 3) == teacher.spread_frames(100, 8)[:3]
    assert len(set(teacher.spread_frames(5, 10))) == 5


def test_plan_holds_out_whole_sources(tmp_path):
    from PIL import Image

    files = []
    for name in ("a.png", "b.png", "grid-synthetic.png"):
        p = tmp_path / name
        Image.fromarray(np.zeros((32, 64, 3), np.uint8)).save(p)
        files.append(str(p))
    plan = teacher.plan_samples(files, ["b.png"], per_panorama=3)
    assert {s.picture.name for s in plan.split("train")} == {"a.png"}
    assert [s.seed for s in plan.split("heldout")] == [0, 1]
    assert "grid-synthetic.png" not in plan.sources
    assert plan_keys(plan) == plan_keys(teacher.plan_samples(files, ["b.png"], per_panorama=3))
    with pytest.raises(UserError, match="not among the inputs"):
        teacher.plan_samples(files, ["c.png"])


def test_augmentations_recolour_and_tilt_and_keep_old_cache_keys(tmp_path):
    from PIL import Image

    from hallucinator.provenance import short_hash

    # a sample with only the first three fields keeps the key it had before hue, saturation and tilt existed
    pic = teacher.Picture("a.png", "abc")
    old = teacher.Aug(roll=0.25, mirror=True, gain=1.1)
    assert teacher.Sample(pic, old, 3, "train").key((64, 32), "f") == short_hash(
        {"source": "abc", "frame": -1, "eye": 0, "aug": {"roll": 0.25, "mirror": True, "gain": 1.1}, "seed": 3,
         "size": [64, 32], "engine": "f"})
    turned = teacher.Aug(roll=0.25, mirror=True, gain=1.1, hue=30.0)
    assert teacher.Sample(pic, turned, 3, "train").key((64, 32), "f") != teacher.Sample(pic, old, 3, "train").key(
        (64, 32), "f")

    rng = np.random.default_rng(1)
    img = (rng.random((32, 64, 3)) * 255).astype(np.uint8)
    assert np.array_equal(teacher.Aug().apply(img), img)
    grey = teacher.Aug(saturation=0.0).apply(img).astype(int)
    assert (grey.max(-1) - grey.min(-1)).max() <= 1
    red = np.zeros((4, 8, 3), np.uint8)
    red[..., 0] = 200
    green = teacher.Aug(hue=120.0).apply(red).astype(int)   # red turned a third of the way round is green
    assert np.abs(green[..., 1] - 200).max() <= 3 and green[..., [0, 2]].max() <= 6
    assert teacher.Aug(tilt=20.0).apply(img).shape == img.shape

    # the plan's draws: about half the pictures hue-turned, about half tilted, all within their ranges
    p = tmp_path / "a.png"
    Image.fromarray(img).save(p)
    augs = [s.aug for s in teacher.plan_samples([str(p)], [], per_panorama=60).split("train")]
    assert 0.3 < np.mean([a.hue != 0 for a in augs]) < 0.7 and 0.3 < np.mean([a.tilt != 0 for a in augs]) < 0.7
    assert all(abs(a.hue) <= 180 and abs(a.tilt) <= 25 and 0.5 <= a.saturation <= 1.6 for a in augs)


def plan_keys(plan):
    return [s.key((64, 32), "f") for s in plan.samples]


def test_correlation_and_figures():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(32, 64, 3))
    assert evaluate.correlation(evaluate.blurred_gray(a), evaluate.blurred_gray(a)) == pytest.approx(1.0)
    assert abs(evaluate.correlation(evaluate.blurred_gray(a), evaluate.blurred_gray(rng.normal(size=a.shape)))) < 0.2


@pytest.mark.slow
def test_distill_end_to_end_and_rerun_from_the_cache(tmp_path, shared, capsys):
    from hallucinator.cli import main
    from hallucinator.student import Student

    panos = [str(shared(f"panoramas/{n}")) for n in ("panolens-cabin-1024.jpg", "panolens-forest-tree.jpg")]
    out = tmp_path / "student-test.onnx"
    args = ["distill", *panos, "--heldout", "panolens-forest-tree.jpg", "--size", "128x64", "--steps", "4",
            "--per-panorama", "2", "--widths", "4,8,8", "--blocks", "1", "--cache", str(tmp_path / "cache"),
            "--out", str(out), "--figure", str(tmp_path / "fig.jpg")]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "4 to dream" in err and "correlation_ratio" in err
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["data"]["heldout"] == ["panolens-forest-tree.jpg"]
    assert card["data"]["train_sources"] == ["panolens-cabin-1024.jpg"]
    assert card["training"]["steps_done"] == 4 and card["teacher"]["settings"]["layers"] == ["block12"]
    assert set(card["figures"]["heldout_panoramas"]["verdicts"]) == set(
        ["correlation_ratio", "strength_ratio", "seam_ratio", "pole_horizon_coherence_ratio",
         "tangential_bias_excess"])
    assert (tmp_path / "fig.jpg").stat().st_size > 1000
    with Student(out) as s:
        assert s.train_size == (128, 64) and s.card["sha256"] == s.sha256
    # the same command again: every dream from the cache, training resumed at its end
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "4 cached, 0 to dream" in err and "resuming at step 4" in err
