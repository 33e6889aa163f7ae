"""torchvision backbones through `--weights PATH`, with random weights saved to a file (nothing is downloaded).

The ImageNet weights are not on this machine; these tests exercise the same
code path (state dict loading, explicit padding, layer hooks, wrap) with a
state dict of the right shapes.
"""
import pytest
import torch
import torchvision

from hallucinator.config import DreamConfig
from hallucinator.engine import Dreamer
from hallucinator.errors import UserError
from hallucinator.models import load_backbone
from hallucinator.models.loading import weights_path
from hallucinator.provenance import sha256_file


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    folder = tmp_path_factory.mktemp("weights")
    out = {}
    torch.manual_seed(0)
    # googlenet's own init (std 0.01) leaves its random activations constant; torch's default init does not
    for name, build in (("googlenet", lambda: torchvision.models.googlenet(weights=None, aux_logits=False,
                                                                             init_weights=False)),
                        ("vgg16", lambda: torchvision.models.vgg16(weights=None)),
                        ("inception_v3", lambda: torchvision.models.inception_v3(weights=None, aux_logits=False,
                                                                                   init_weights=True))):
        path = folder / f"{name}.pth"
        torch.save(build().state_dict(), path)
        out[name] = str(path)
    return out


def _energy(net, img, layers):
    net.set_padding("sphere")
    return sum(float(a.pow(2).mean()) for a in net(img, layers).values())


@pytest.mark.slow
@pytest.mark.parametrize("model,layers", [("googlenet", ["inception4c"]), ("googlenet", ["inception4d.pool"]),
                                          ("vgg16", ["relu3_3"]), ("inception_v3", ["mixed_5d"]),
                                          ("inception_v3", ["mixed_6e"])])
def test_dreams_with_a_weights_file_and_wraps_exactly(weights, model, layers):
    d = Dreamer(DreamConfig(model=model, layers=layers, weights=weights[model], octaves=1, iterations=1))
    assert d.net.weights_sha256 == sha256_file(weights[model]), "the given file is the one loaded"
    x = torch.rand(1, 3, 64, 128, generator=torch.Generator().manual_seed(0))
    shift = 2 * d.stride
    g = d.tiles.grad(x, "wrap")
    g2 = d.tiles.grad(torch.roll(x, shift, dims=-1), "wrap")
    assert g.abs().sum() > 0
    assert torch.allclose(torch.roll(g, shift, dims=-1), g2, atol=1e-4 * g.abs().max().item())
    src = torch.rand(1, 3, 128, 256, generator=torch.Generator().manual_seed(1))
    out = d.dream(src)
    assert out.shape == (1, 3, 128, 256)
    assert _energy(d.net, out, layers) > _energy(d.net, src, layers), "the dream raises the layer's energy"


@pytest.mark.slow
def test_logits_objective_on_googlenet(weights):
    def dream(class_index):
        d = Dreamer(DreamConfig(model="googlenet", weights=weights["googlenet"], objective="class",
                                class_index=class_index, layers=["inception4c"], octaves=1, iterations=1))
        return d.dream(src)

    src = torch.rand(1, 3, 128, 256, generator=torch.Generator().manual_seed(2))
    out = dream(1)
    assert (out - src).abs().mean() > 1e-4
    assert (out - dream(2)).abs().mean() > 1e-4, "another class, another dream"


@pytest.mark.slow
def test_wrong_weights_file_is_a_clear_error(weights):
    with pytest.raises(UserError, match="does not fit googlenet"):
        load_backbone("googlenet", weights=weights["vgg16"])
    with pytest.raises(UserError, match="does not exist"):
        load_backbone("googlenet", weights="/nonexistent/googlenet.pth")


def test_another_networks_weights_are_a_clear_error():
    with pytest.raises(UserError, match="does not fit googlenet"):
        load_backbone("googlenet", weights=str(weights_path("efficientnet-lite0")))
    with pytest.raises(UserError, match="does not exist"):
        load_backbone("vgg16", weights="/nonexistent/vgg16.pth")
