"""The sphere padding's own backward gives autograd's gradient, in both memory formats and every vertical mode."""
import pytest
import torch

from hallucinator.models.padding import Pad, SpherePad
from hallucinator.sphere import pad_sphere


@pytest.mark.parametrize("vertical", ["reflect", "pole"])
@pytest.mark.parametrize("amount", [(1, 1, 1, 1), (0, 1, 0, 1), (2, 2, 2, 2), (3, 1, 2, 3), (1, 2, 0, 0)])
@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("rows", [8, 2])
def test_sphere_pad_backward_is_autograds(vertical, amount, channels_last, rows):
    if vertical == "pole" and max(amount[2:]) > rows:
        pytest.skip("over the pole a margin is at most the image's height")
    gen = torch.Generator().manual_seed(sum(amount) + rows)
    x = torch.randn(2, 3, rows, 10, generator=gen, dtype=torch.float64)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    a, b = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    out_ref = pad_sphere(a, *amount, vertical=vertical)
    out = SpherePad.apply(b, amount, vertical)
    assert torch.equal(out, out_ref)
    w = torch.randn(out.shape, generator=gen, dtype=torch.float64)
    (g_ref,) = torch.autograd.grad((out_ref * w).sum(), a)
    (g,) = torch.autograd.grad((out * w).sum(), b)
    assert torch.allclose(g, g_ref, rtol=0, atol=1e-12)


def test_pad_module_keeps_channels_last():
    x = torch.randn(1, 8, 6, 12).contiguous(memory_format=torch.channels_last)
    for mode in ("zeros", "wrap", "sphere"):
        pad = Pad(1, 2, 1, 2)
        pad.mode = mode
        assert pad(x).is_contiguous(memory_format=torch.channels_last), mode


@pytest.mark.parametrize("layer,fill", [(torch.nn.Conv2d(4, 6, 3, bias=True), 0.0),
                                        (torch.nn.Conv2d(4, 4, 5, groups=4, bias=False), 0.0),
                                        (torch.nn.MaxPool2d(3, 1), float("-inf")),
                                        (torch.nn.AvgPool2d(3, 1), 0.0)])
def test_zero_padding_inside_the_layer_is_the_padded_copy(layer, fill):
    """Symmetric zero (or -inf) padding goes into the conv's or pool's own padding: same values and gradient."""
    from hallucinator.models.padding import padded_call

    k = layer.kernel_size if isinstance(layer.kernel_size, int) else layer.kernel_size[0]
    pad = Pad(k // 2, k // 2, k // 2, k // 2, fill=fill)
    x = torch.randn(1, 4, 9, 12, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    layer = layer.double()
    a, b = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    ref, out = layer(pad(a)), padded_call(pad, layer, b)
    assert out.shape == ref.shape and torch.allclose(out, ref, atol=1e-12)
    (ga,) = torch.autograd.grad(ref.pow(2).sum(), a)
    (gb,) = torch.autograd.grad(out.pow(2).sum(), b)
    assert torch.allclose(ga, gb, atol=1e-10)
