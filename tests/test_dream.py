"""The dream engine on real weights (the embedded EfficientNet-Lite): wrap, poles, tiling, determinism."""
import numpy as np
import pytest
import torch

from hallucinator import quality, sphere
from hallucinator.models import load_backbone
from hallucinator.config import DreamConfig
from hallucinator.demo import demo_panorama
from hallucinator.engine import Dreamer, reference_dream
from hallucinator.errors import UserError

FAST = dict(model="efficientnet-lite0", layers=["block8"], octaves=2, iterations=3)


def layer_energy(net, img, layer, padding="sphere"):
    """Mean squared activation of ``layer``: what the L2 objective raises."""
    net.set_padding(padding)
    with torch.no_grad():
        return float(net(img, [layer])[layer].pow(2).mean())


@pytest.fixture(scope="module")
def pano256():
    return demo_panorama(256)


@pytest.fixture(scope="module")
def dreamer():
    return Dreamer(DreamConfig(**FAST))


def test_network_padding_wraps_exactly(dreamer):
    """Rolling the input by a multiple of the total stride rolls the gradient: the network sees across ±180°."""
    torch.manual_seed(0)
    x = torch.rand(1, 3, 64, 128)
    for mode in ("wrap", "sphere"):
        g = dreamer.tiles.grad(x, mode)
        g2 = dreamer.tiles.grad(torch.roll(x, 48, dims=-1), mode)
        assert torch.allclose(torch.roll(g, 48, dims=-1), g2, atol=1e-4 * g.abs().max().item())
    # with zero padding (a flat picture) it does not
    g = dreamer.tiles.grad(x, "zeros")
    g2 = dreamer.tiles.grad(torch.roll(x, 48, dims=-1), "zeros")
    assert not torch.allclose(torch.roll(g, 48, dims=-1), g2, atol=1e-2 * g.abs().max().item())


def test_octave_widths_are_multiples_of_twice_the_stride(dreamer):
    sizes = dreamer.octave_sizes(500, 1000)
    assert len(sizes) == dreamer.cfg.octaves
    for h, w in sizes:
        assert w % (2 * dreamer.stride) == 0 and w == 2 * h
    # the last is the nearest aligned width to the source's; each octave is octave_scale smaller, to alignment
    assert abs(sizes[-1][1] - 1000) <= dreamer.stride
    for (_, small), (_, big) in zip(sizes, sizes[1:]):
        assert abs(small - big / dreamer.cfg.octave_scale) <= dreamer.stride


@pytest.mark.slow
def test_same_seed_same_bytes_and_seed_matters(dreamer, pano256):
    src = sphere.to_tensor(pano256)
    a = sphere.to_uint8(dreamer.dream(src, seed=3))
    b = sphere.to_uint8(dreamer.dream(src, seed=3))
    c = sphere.to_uint8(dreamer.dream(src, seed=4))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.abs(a.astype(int) - pano256).mean() > 2  # it dreamed something
    # and what it dreamed is what the objective asks for: the layer's energy rises (by about a fifth here)
    before = layer_energy(dreamer.net, src, "block8")
    assert layer_energy(dreamer.net, sphere.to_tensor(a), "block8") > 1.1 * before
    assert layer_energy(dreamer.net, sphere.to_tensor(c), "block8") > 1.1 * before


def test_zero_carried_detail_changes_nothing(dreamer, pano256):
    src = sphere.to_tensor(pano256)
    assert torch.equal(dreamer.dream(src, seed=1), dreamer.dream(src, seed=1, detail=torch.zeros_like(src)))


@pytest.mark.slow
def test_seam_is_like_any_other_column():
    """Residual continuity across ±180°, over six seeds: the engine's seam pair is like any other, the textbook's is not.

    One column pair's jump varies by several per cent with content and seed,
    so the figure is averaged over seeds; the textbook's random roll gives
    about 1.16 here, as it does on real panoramas.
    """
    pano = demo_panorama(512)
    src = sphere.to_tensor(pano)
    d = Dreamer(DreamConfig(**{**FAST, "iterations": 4}))
    ref_net = load_backbone("efficientnet-lite0", fold_bn=False)
    ours = np.mean([quality.seam_ratio(quality.residual(pano, sphere.to_uint8(d.dream(src, seed=s))))
                    for s in range(6)])
    textbook = np.mean([quality.seam_ratio(quality.residual(
        pano, sphere.to_uint8(reference_dream(ref_net, src, "block8", 2, 1.4, 4, seed=s)))) for s in range(6)])
    assert quality.verdicts({"seam_ratio": ours}) == {"seam_ratio": True}, ours  # the limit's one home
    assert textbook >= ours + 0.05, (textbook, ours)


@pytest.mark.slow
def test_poles_look_like_the_horizon(shared):
    """In 90° views straight up/down the dream is no more streaked than at the horizon (textbook: it is)."""
    import cv2
    from hallucinator.io.images import read_image

    real = read_image(str(shared("panoramas/panolens-forest-tree.jpg")))
    pano = cv2.resize(real, (512, 256), interpolation=cv2.INTER_AREA)
    cfg = DreamConfig(model="efficientnet-lite0", layers=["block8"], octaves=3, iterations=5)
    dream = sphere.to_uint8(Dreamer(cfg).dream(sphere.to_tensor(pano)))
    f = quality.inspect(pano, dream)
    ref_net = load_backbone("efficientnet-lite0", fold_bn=False)
    ref = sphere.to_uint8(reference_dream(ref_net, sphere.to_tensor(pano), "block8", 3, 1.4, 5))
    r = quality.inspect(pano, ref)
    pole_keys = ("pole_horizon_coherence_ratio", "tangential_bias_excess", "pole_horizon_strength_ratio")
    assert quality.verdicts({k: f[k] for k in pole_keys}) == dict.fromkeys(pole_keys, True), quality.format_report(f)
    assert r["tangential_bias_excess"] > f["tangential_bias_excess"] + 0.1, (r, f)


@pytest.mark.parametrize("mode,crop", [("wrap", (slice(48, 208), slice(None))),     # a band: wraps in longitude
                                       ("zeros", (slice(0, 256), slice(100, 356))),  # a polar view / flat picture
                                       ("sphere", (slice(None), slice(None)))])     # the whole sphere
def test_tiles_give_the_whole_pass_gradient(dreamer, mode, crop):
    """With margins of the layer's receptive radius, tiled gradients equal the whole pass's: no tile seams."""
    x = sphere.to_tensor(demo_panorama(512))[(..., *crop)]
    tiles = dreamer.tiles
    whole = tiles.grad(x, mode)
    radius = tiles.tile_overlap()
    assert radius >= 64 and radius % dreamer.stride == 0
    kept = tiles.max_pixels
    tiles.max_pixels = (128 + 2 * radius) ** 2  # cores of 128 px: the input is cut in several tiles each way
    try:
        tiled = tiles.grad(x, mode)
    finally:
        tiles.max_pixels = kept
    err = (tiled - whole).abs().max() / whole.abs().max()
    assert err < 1e-3, err.item()


@pytest.mark.slow
def test_a_dream_in_tiles_is_the_dream_in_one_piece():
    cfg = DreamConfig(**{**FAST, "iterations": 2})
    src = sphere.to_tensor(demo_panorama(512))
    whole = Dreamer(cfg).dream(src)
    tiled = Dreamer(cfg.replace(tile_max_pixels=(128 + 2 * 128) ** 2)).dream(src)
    assert (tiled - whole).abs().max() < 2e-3


def test_flat_pictures_and_aspect_check(dreamer):
    img = sphere.to_tensor(demo_panorama(256)[:, :200])  # 200x128: not 2:1
    with pytest.raises(UserError, match="not a 2:1"):
        dreamer.dream(img)
    flat = Dreamer(DreamConfig(**FAST, flat=True))
    out = flat.dream(img)
    assert out.shape == img.shape
    assert layer_energy(flat.net, out, "block8", "zeros") > 1.1 * layer_energy(flat.net, img, "block8", "zeros")


def test_a_flat_step_is_the_textbook_step():
    """One octave, one step, no jitter: img + step/255 * g / mean|g|, with g the L2 gradient under zero padding."""
    d = Dreamer(DreamConfig(**{**FAST, "octaves": 1, "iterations": 1, "jitter": 0}, flat=True))
    img = sphere.to_tensor(demo_panorama(256)[:, :200])
    x = img.clone().requires_grad_(True)
    d.net.set_padding("zeros")
    a = d.net(x, ["block8"])["block8"]
    (g,) = torch.autograd.grad(a.pow(2).sum() / a.shape[1], x)
    expected = (img + 1.5 / 255 * g / g.abs().mean()).clamp(0, 1)
    assert torch.allclose(d.dream(img), expected, atol=1e-6)


def test_too_small_for_the_network_says_the_size_needed():
    d = Dreamer(DreamConfig(model="efficientnet-lite0", layers=["block8"], octaves=1, iterations=1))
    with pytest.raises(UserError, match="needs at least"):
        d.dream(torch.rand(1, 3, 16, 32))


def test_too_many_octaves_for_the_size_dream_fewer_and_say_so():
    d = Dreamer(DreamConfig(model="efficientnet-lite0", layers=["block8"], octaves=6, iterations=1))
    n = len(d.octave_sizes(128, 256))
    assert 1 <= n < 6
    assert d.dream(torch.rand(1, 3, 128, 256)).shape == (1, 3, 128, 256)
    assert d.warnings == [f"image 256x128 is too small for 6 octaves at scale 1.4; dreaming {n} octave(s)"]


def _channel_share(net, img, channels):
    """Energy of ``channels`` at block8 over the mean channel's energy."""
    net.set_padding("sphere")
    with torch.no_grad():
        e = net(img, ["block8"])["block8"].pow(2).mean(dim=(0, 2, 3))
    return float(e[channels].mean() / e.mean())


def _class_margin(net, img, index):
    """The class's mean logit above the mean of all logits."""
    net.set_padding("sphere")
    with torch.no_grad():
        logits = net(img, ["logits"])["logits"].mean(dim=(-2, -1))[0]
    return float(logits[index] - logits.mean())


def test_channels_objective_raises_those_channels():
    d = Dreamer(DreamConfig(model="efficientnet-lite0", layers=["block8"], octaves=1, iterations=2,
                            objective="channels", channels=[1, 5]))
    src = sphere.to_tensor(demo_panorama(256))
    before, after = (_channel_share(d.net, x, [1, 5]) for x in (src, d.dream(src)))
    assert after > 1.15 * before, (before, after)


def test_class_objective_raises_that_class():
    d = Dreamer(DreamConfig(model="efficientnet-lite0", layers=["block8"], octaves=1, iterations=2,
                            objective="class", class_index=281))
    src = sphere.to_tensor(demo_panorama(256))
    before, after = (_class_margin(d.net, x, 281) for x in (src, d.dream(src)))
    assert after > before + 0.3, (before, after)


def test_guide_objective(tmp_path):
    from hallucinator.io.images import write_image
    import skimage.data

    guide = tmp_path / "guide.png"
    write_image(str(guide), skimage.data.chelsea())
    d = Dreamer(DreamConfig(model="efficientnet-lite0", layers=["block8"], octaves=1, iterations=2,
                            objective="guide", guide=str(guide)))
    src = sphere.to_tensor(demo_panorama(256))
    out = d.dream(src)
    assert (out - src).abs().mean() > 1e-3

    def matched(img):  # the objective: how well each position matches its best guide feature
        d.net.set_padding("sphere")
        with torch.no_grad():
            return float(d.objective(d.net(img, d.objective.layers)))
    assert matched(out) > 1.1 * matched(src)


@pytest.mark.parametrize("changes", [{}, {"flat": True, "layers": ["block6"]}, {"objective": "class", "class_index": 3},
                                     {"model": "efficientnet-lite0", "layers": ["block9"], "iterations": 3}])
def test_an_engine_is_named_from_its_configuration_as_when_it_is_built(changes):
    from hallucinator.engine.identity import engine_identity

    cfg = DreamConfig(device="cpu", **changes)
    named, built = engine_identity(cfg), Dreamer(cfg)
    assert named == built.identity
    assert (named.fingerprint(), named.pyramid_key()) == (built.fingerprint(), built.pyramid_key())
    warm = Dreamer(cfg.replace(iterations=2), net=built.net)
    assert named.with_iterations(2).fingerprint() == warm.fingerprint()
    assert engine_identity(cfg.replace(seed=cfg.seed + 1)).fingerprint() != named.fingerprint()
