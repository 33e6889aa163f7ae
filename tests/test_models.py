"""The model registry: its cards, its layers and strides against the real networks, weights, random init."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import torch

from hallucinator.errors import UserError
from hallucinator.models import MODELS, ModelSpec, get_spec, load_backbone
from hallucinator.models.cards import card_toml, write_cards
from hallucinator.models.loading import weights_path

CARDS_DIR = Path(__file__).resolve().parents[1] / "models"
LITES = [name for name, spec in MODELS.items() if spec.family == "efficientnet-lite"]
TORCHVISION = [name for name, spec in MODELS.items() if spec.family == "torchvision"]


def test_committed_cards_are_written_from_the_registry(tmp_path):
    """Fails when a card or the registry is edited alone: run `hallucinator models --write-cards models`."""
    assert sorted(p.stem for p in CARDS_DIR.glob("*.toml")) == sorted(MODELS)
    for name, spec in MODELS.items():
        committed = (CARDS_DIR / f"{name}.toml").read_text(encoding="utf-8")
        assert committed == card_toml(spec), f"models/{name}.toml differs from the registry"
        card = tomllib.loads(committed)
        assert card["layers"] == spec.layers and card["default_layer"] == spec.default_layer
        assert card["normalisation"]["mean_rgb01"] == list(spec.mean)
    written = write_cards(str(tmp_path))
    assert [p.read_text(encoding="utf-8") for p in written] == \
        [(CARDS_DIR / p.name).read_text(encoding="utf-8") for p in written]


@pytest.mark.parametrize("name", list(MODELS))
def test_default_and_recommended_layers_are_layers(name):
    spec = MODELS[name]
    assert isinstance(spec, ModelSpec) and spec.name == name
    assert spec.default_layer in spec.recommended_layers
    assert set(spec.recommended_layers) <= set(spec.layers)


def test_unknown_model_names_the_choices():
    with pytest.raises(UserError, match="unknown model 'alexnet'.*efficientnet-lite2"):
        get_spec("alexnet")
    with pytest.raises(UserError, match="unknown layer 'block99'.*block8"):
        get_spec("efficientnet-lite0").check_layers(["block99"])


def _assert_strides(net, spec, height=64, width=128):
    """Every registry layer's activation is exactly input / stride on a side."""
    x = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(0))
    net.set_padding("wrap")
    layers = [layer for layer in spec.layers if layer != "logits"]
    acts = net(x, layers)
    assert set(acts) == set(layers)
    for layer in layers:
        stride = spec.layers[layer]
        assert acts[layer].shape[-2:] == (height // stride, width // stride), (spec.name, layer, stride)
    if "logits" in spec.layers:
        assert net(x, ["logits"])["logits"].shape[-3:] == (1000, height // spec.layers["logits"],
                                                            width // spec.layers["logits"])


@pytest.mark.parametrize("name", LITES)
def test_lite_architecture_fits_the_installed_weights_and_strides(name):
    spec = MODELS[name]
    net = load_backbone(name)  # the registry's block shapes load the package's state dict strictly
    assert net.weights_file == weights_path(name) and len(net.weights_sha256) == 64
    assert len(net.net.blocks) == len(spec.blocks) == sum(l.startswith("block") for l in spec.layers)
    _assert_strides(net, spec)


@pytest.mark.slow
@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision_layers_and_strides_exist_in_the_network(name):
    spec = MODELS[name]
    size = max(spec.min_size, 64)
    _assert_strides(load_backbone(name, random_init=True), spec, size, 2 * size)


def test_torchvision_weights_source_is_torchvisions():
    import torchvision.models as tvm

    for name in TORCHVISION:
        w = MODELS[name].weights
        enum, member = w.torchvision.split(".")
        assert getattr(getattr(tvm, enum), member).url == w.url


def test_weights_of_another_lite_do_not_fit():
    with pytest.raises(UserError, match="does not fit efficientnet-lite0"):
        load_backbone("efficientnet-lite0", weights=str(weights_path("efficientnet-lite2")))


def test_random_init_loads_no_weights_and_follows_the_seed():
    """Bug: random_init=True still loaded the pretrained EfficientNet-Lite weights."""
    state = torch.random.get_rng_state()
    pretrained = torch.load(weights_path("efficientnet-lite0"), map_location="cpu", weights_only=True)
    a = load_backbone("efficientnet-lite0", fold_bn=False, random_init=True, seed=1)
    b = load_backbone("efficientnet-lite0", fold_bn=False, random_init=True, seed=2)
    a_again = load_backbone("efficientnet-lite0", fold_bn=False, random_init=True, seed=1)
    assert a.weights_file is None and a.weights_sha256 == "random-init"
    stem = a.net.stem.conv.weight
    assert stem.shape == pretrained["_conv_stem.weight"].shape
    assert not torch.allclose(stem, pretrained["_conv_stem.weight"])
    assert not torch.equal(stem, b.net.stem.conv.weight)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), a_again.state_dict().values()))
    assert torch.equal(torch.random.get_rng_state(), state), "the global random state is left alone"


def test_the_embedded_default_layer_is_the_registrys():
    """DreamConfig's default, the 'default' preset and the model's registered default layer are one choice."""
    from hallucinator.config import PRESETS, DreamConfig

    cfg = DreamConfig()
    spec = get_spec(cfg.model)
    assert cfg.layers == [spec.default_layer]
    assert PRESETS["default"]["model"] == cfg.model and PRESETS["default"]["layers"] == cfg.layers
    assert spec.default_layer in spec.looks and spec.contact_sheet
    assert (Path(__file__).resolve().parents[1] / spec.contact_sheet).is_file()
