"""The student's run time: providers, the ONNX file against PyTorch, the sphere padding, bad files."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from hallucinator import sphere
from hallucinator.errors import UserError
from hallucinator.student import PROVIDER_ORDER, Student, choose_providers, runtime
from hallucinator.student import resize
from hallucinator.student.export import TINY, export_onnx, write_random_student
from hallucinator.student.net import NetSpec, StudentNet, sphere_pad1


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_random_student(tmp_path_factory.mktemp("student") / "student-tiny.onnx", seed=1)


def test_providers_cpu_and_order(monkeypatch):
    assert choose_providers("cpu") == ["CPUExecutionProvider"]
    auto = choose_providers("auto")
    assert auto[-1] == "CPUExecutionProvider"
    assert auto == [p for p in PROVIDER_ORDER if p in auto]
    monkeypatch.setattr(runtime, "_available", lambda: ["CPUExecutionProvider", "CUDAExecutionProvider",
                                                       "TensorrtExecutionProvider", "AzureExecutionProvider"])
    assert choose_providers("auto") == list(PROVIDER_ORDER)
    assert choose_providers("cuda") == list(PROVIDER_ORDER)


def test_cuda_without_cuda_is_a_user_error(monkeypatch):
    monkeypatch.setattr(runtime, "_available", lambda: ["AzureExecutionProvider", "CPUExecutionProvider"])
    with pytest.raises(UserError, match="onnxruntime-gpu"):
        choose_providers("cuda")
    with pytest.raises(UserError):
        choose_providers("gpu")


def test_sphere_pad_equals_the_engines():
    x = torch.rand(2, 3, 6, 10)
    assert torch.equal(sphere_pad1(x), sphere.pad_sphere(x, 1, 1, 1, 1, vertical="pole"))


def test_rolled_input_gives_rolled_output():
    torch.manual_seed(0)
    net = StudentNet(NetSpec(widths=(4, 8, 8), stem=4, blocks=1)).eval()
    for p in net.parameters():  # random weights large enough that the output is far from constant
        p.data.normal_(0, 0.3)
    x = torch.rand(1, 3, 32, 64)
    with torch.no_grad():
        y = net(x)
        y_rolled = net(torch.roll(x, 24, dims=-1))
    assert y.abs().mean() > 1e-3
    torch.testing.assert_close(y_rolled, torch.roll(y, 24, dims=-1), atol=1e-5, rtol=1e-4)


def test_onnx_equals_pytorch(tmp_path):
    torch.manual_seed(3)
    net = StudentNet(TINY).eval()
    path = export_onnx(net, tmp_path / "s.onnx", train_size=(64, 32))
    frame = (np.random.default_rng(0).random((48, 96, 3)) * 255).astype(np.uint8)
    with Student(path, device="cpu") as s:
        got = s.residual(frame)
        assert s.train_size == (64, 32) and s.providers == ["CPUExecutionProvider"] and len(s.sha256) == 64
    with torch.no_grad():
        want = net(torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255)[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_dream_keeps_size_and_strength_zero_is_identity(tiny):
    frame = (np.random.default_rng(1).random((50, 100, 3)) * 255).astype(np.uint8)
    with Student(tiny) as s:
        assert s.card["random_weights"] is True
        res = s.residual(frame)
        assert res.shape == (50, 100, 3) and res.dtype == np.float32
        assert s.dream(frame).shape == frame.shape
        assert np.array_equal(s.dream(frame, strength=0.0), frame)
        small = s.dream(frame, size=(64, 32))
        assert small.shape == frame.shape and small.dtype == np.uint8
        assert not np.array_equal(small, frame)


def test_enlarge_equals_the_sphere_resize():
    img = np.random.default_rng(2).random((24, 48, 3)).astype(np.float32)
    want = sphere.resize_equirect_image(img, width=100, height=50)
    np.testing.assert_allclose(resize.enlarge(img, 100, 50), want, atol=1e-5)
    # shrinking never reaches across the seam: a rolled input by a whole output column rolls the output
    big = np.random.default_rng(3).random((64, 128, 3)).astype(np.float32)
    np.testing.assert_allclose(resize.shrink(np.roll(big, 4, axis=1), 32, 16),
                               np.roll(resize.shrink(big, 32, 16), 1, axis=1), atol=1e-6)


def test_missing_and_corrupt_files_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="not found"):
        Student(tmp_path / "nope.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"this is not an onnx model")
    with pytest.raises(UserError, match="not a usable ONNX model") as e:
        Student(bad)
    assert "\n" not in str(e.value)
