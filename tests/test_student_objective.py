"""The engine's objective as a distillation term: finite, reaching the student's weights, rewarding the dream."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from hallucinator.errors import UserError
from hallucinator.student.export import TINY
from hallucinator.student.net import StudentNet
from hallucinator.student.objective import DreamObjective
from hallucinator.student.train import TrainOptions, checkpoint_key, gaussian_kernel, load_init, loss_terms, train


@pytest.fixture(scope="module")
def dream_objective():
    return DreamObjective()          # the real EfficientNet-Lite2 weights, block12, l2


def _batch(h=64, w=128):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, h, w, generator=g)
    y = 0.05 * (torch.rand(2, 3, h, w, generator=g) - 0.5)
    return x, y


def test_objective_term_is_finite_and_reaches_every_weight(dream_objective):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    net = StudentNet(TINY)
    x, y = _batch()
    terms = loss_terms(net, x, y, TrainOptions(objective_weight=1.0), gaussian_kernel(2.0), dream_objective)
    assert set(terms) == {"teacher", "objective"}
    value = terms["objective"]
    assert torch.isfinite(value) and float(value.detach()) < 0
    value.backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert float(p.grad.abs().sum()) > 0, name
    # the backbone stays frozen
    assert all(p.grad is None for p in dream_objective.net.parameters())


def test_objective_sees_patterns_not_strength(dream_objective):
    torch.set_num_threads(1)
    x, y = _batch()
    r = 0.01 * torch.randn(2, 3, *x.shape[-2:], generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        # the residual is rescaled to the teacher's strength: its own scale does not count
        assert float(dream_objective(x, r, y)) == pytest.approx(float(dream_objective(x, 7 * r, y)), rel=1e-4)
        dreamed = dream_objective.dreamed(x, r, y)
        assert float((dreamed - x).abs().mean()) == pytest.approx(float(y.abs().mean()), rel=1e-4)
        # the ascent direction of the objective itself scores better than noise of the same strength
    img = x.clone().requires_grad_(True)
    (-dream_objective(img, torch.zeros_like(x), y)).backward()
    up = img.grad.detach()
    with torch.no_grad():
        assert float(dream_objective(x, up, y)) < float(dream_objective(x, r, y))


def test_checkpoint_key_and_warm_start(tmp_path):
    torch.set_num_threads(1)
    # a run without the objective keys its checkpoint as before the option existed
    plain = checkpoint_key(TrainOptions(objective_weight=0.0))
    assert "objective_weight" not in plain and "init" not in plain
    pics = (np.random.default_rng(0).random((4, 32, 64, 3)) * 255).astype(np.uint8)
    res = (0.02 * np.random.default_rng(1).standard_normal((4, 32, 64, 3))).astype(np.float16)
    ckpt = tmp_path / "first.pt"
    net, _ = train(pics, res, TINY, TrainOptions(steps=2, batch=2, objective_weight=0.0), checkpoint=ckpt, meta={})
    warm = StudentNet(TINY)
    assert load_init(warm, str(ckpt)) == 2
    for (k, a), b in zip(net.state_dict().items(), warm.state_dict().values()):
        assert torch.equal(a, b), k
    key = checkpoint_key(TrainOptions(objective_weight=2.0, init=str(ckpt)))
    assert key["objective_weight"] == 2.0 and len(key["init"]) == 64
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError):
        load_init(StudentNet(TINY), str(bad))
