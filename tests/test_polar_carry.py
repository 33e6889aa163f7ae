"""The caps are carried in polar views: a motion across the zenith carries the dream along, cuts still reset."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from conftest import shared_file

from hallucinator import sphere
from hallucinator.config import DreamConfig
from hallucinator.io.images import read_image
from hallucinator.io.reader import VideoReader
from hallucinator.video import polar_carry
from hallucinator.video.chain import carry
from hallucinator.video.flow import flow_pair, occlusion_mask, pad_wrap
from hallucinator.video.options import BlendParams

W, H = 512, 256


def rotated(image: np.ndarray, pitch: float, yaw: float = 0.0) -> np.ndarray:
    """The panorama seen by a camera turned by ``pitch`` (and ``yaw``) degrees: a rigid rotation of the sphere."""
    h, w = image.shape[:2]
    uu, vv = np.meshgrid(np.arange(w), np.arange(h))
    d = sphere.dir_from_lonlat(*sphere.lonlat_from_pixel(uu, vv, w, h)) @ sphere.rotation_matrix(yaw, pitch, 0.0)
    u, v = sphere.pixel_from_lonlat(*sphere.lonlat_from_dir(d), w, h)
    out = cv2.remap(np.ascontiguousarray(pad_wrap(image, 2)), (u + 2).astype(np.float32), v.astype(np.float32),
                    cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(image.shape)


@pytest.fixture(scope="module")
def forest():
    return sphere.resize_equirect_image(read_image(str(shared_file("panoramas/panolens-forest-tree.jpg"))),
                                        width=W, height=H)


@pytest.fixture(scope="module")
def texture():
    """A residual-like pattern resolved as a real panorama is (nothing finer than the sphere holds near the
    poles): the detail of another photo, mean |R| 0.04."""
    photo = sphere.resize_equirect_image(read_image(str(shared_file("panoramas/aframe-puy-de-sancy.jpg"))),
                                         width=W, height=H).astype(np.float32) / 255.0
    t = photo - cv2.GaussianBlur(photo, (0, 0), 2.0)
    return (t / np.abs(t).mean() * 0.04).astype(np.float32)


def view_error(carried: np.ndarray, truth: np.ndarray, pitch: float) -> float:
    """Mean |carried - truth| in a 50° view straight up (pitch 90) or down (-90)."""
    d = torch.from_numpy(carried - truth).permute(2, 0, 1)[None]
    return float(sphere.perspective_view(d, (96, 96), 50.0, 0.0, pitch).abs().mean())


def carries(prev_src, cur_src, prev_res, cfg, blend=BlendParams()):
    fwd, bwd = flow_pair(prev_src, cur_src, blend.flow)
    occ = occlusion_mask(fwd, bwd)
    motion = polar_carry.sphere_motion(cfg, blend, prev_src, cur_src, occ, bwd)
    plain = carry(blend, prev_res, fwd, bwd, motion.equirect)      # as the chain carries
    return plain, polar_carry.sphere_carry(motion, prev_res, plain, blend), motion, occ


@pytest.mark.parametrize("degrees", [2.0, 5.0])
def test_a_tilt_across_the_zenith_carries_the_cap_along(forest, texture, degrees):
    """The camera tilts: the caps' content moves across the poles, a few pixels in a view but whole rows of
    the equirectangular frame.  The polar carry follows it at least twice as closely, up and down."""
    cur = rotated(forest, degrees)
    truth = BlendParams().moving * rotated(texture, degrees)
    plain, polar, _, _ = carries(forest, cur, texture, DreamConfig())
    for pitch in (90.0, -90.0):
        assert view_error(polar, truth, pitch) < 0.5 * view_error(plain, truth, pitch)


def test_only_the_engines_blend_latitudes_change(forest, texture):
    cfg = DreamConfig()
    cur = rotated(forest, 3.0)
    plain, polar, motion, occ = carries(forest, cur, texture, cfg)
    lat = np.degrees(np.abs(sphere.latitude_of_rows(H)))
    below = lat <= cfg.pole_blend[0]
    assert np.array_equal(plain[below], polar[below])
    assert np.array_equal(occ[below].astype(np.float32), motion.occluded[below])
    assert not np.allclose(plain[lat > cfg.pole_blend[1]], polar[lat > cfg.pole_blend[1]])
    # the latitudes are the configuration's: move the blend and the untouched rows follow
    wide = cfg.replace(pole_blend=[30.0, 40.0])
    _, polar_wide, _, _ = carries(forest, cur, texture, wide)
    rows = (lat > 30.5) & (lat < 42.0)
    assert not np.allclose(plain[rows], polar_wide[rows])


def test_no_polar_carry_when_the_engine_dreams_no_polar_views(forest, texture):
    cur = rotated(forest, 3.0)
    for cfg in (DreamConfig(poles="none"), DreamConfig(flat=True)):
        plain, polar, motion, occ = carries(forest, cur, texture, cfg)
        assert np.array_equal(plain, polar)
        assert motion.caps == () and motion.fraction == pytest.approx(float(motion.equirect.mean()))
        assert not (motion.equirect & ~occ).any()          # the confirmed occlusion lies within the check's


def test_a_cut_still_resets_and_a_jolt_does_not(forest, texture):
    other = sphere.resize_equirect_image(read_image(str(shared_file("panoramas/aframe-lakeshore-sunset.jpg"))),
                                         width=W, height=H)
    reset = BlendParams().reset_fraction
    _, _, cut, _ = carries(forest, other, texture, DreamConfig())
    assert cut.fraction > reset
    _, _, jolt, occ = carries(forest, rotated(forest, 4.0, yaw=3.0), texture, DreamConfig())
    assert jolt.fraction < 0.1
    # the equirectangular check alone sees the jolt's caps as occluded; the views do not
    caps = np.degrees(np.abs(sphere.latitude_of_rows(H))) > 60
    assert jolt.occluded[caps].mean() < 0.5 * occ[caps].mean()


def test_cap_geometry_round_trips():
    """A cap's view coordinates of its rows' pixels lead back to those pixels."""
    for cap in polar_carry.caps(H, W, 100.0, (42.0, 50.0)):
        x, y = cap.at_view
        inside = cap.weight > 0
        u, v = cap.equirect_of(x, y)
        uu, vv = np.meshgrid(np.arange(W), np.arange(cap.rows.start, cap.rows.stop))
        du = np.abs((u - uu + W / 2) % W - W / 2)
        assert du[inside].max() < 1e-3 and np.abs(v - vv)[inside].max() < 1e-3


def test_a_cut_restarts_the_chain_and_a_tilt_does_not(tmp_path, forest):
    """End to end: a camera tilting across the zenith, then a cut to another place, then a tilt again; the
    chain starts cold at frame 0 and at the cut only."""
    from hallucinator.io.writer import VideoWriter
    from hallucinator.video.run import dream_video

    small = sphere.resize_equirect_image(forest, width=256, height=128)
    other = sphere.resize_equirect_image(read_image(str(shared_file("panoramas/aframe-lakeshore-sunset.jpg"))),
                                         width=256, height=128)
    frames = [rotated(small, 1.5 * i) for i in range(4)] + [rotated(other, 1.5 * i) for i in range(4)]
    src = tmp_path / "tilt-cut.mp4"
    with VideoWriter(src, fps=25, width=256, height=128, crf=10) as w:
        for f in frames:
            w.write(f)
    cfg = DreamConfig(model="efficientnet-lite0", layers=["block5"], octaves=2, iterations=3, device="cpu", seed=0)
    r = dream_video(str(src), str(tmp_path / "d.mp4"), cfg, cache_dir=str(tmp_path / "cache"), progress=False,
                    quality_frames=0)
    assert [f.index for f in r.figures[0] if f.cold] == [0, 4]
    assert r.quality["cold_frames"] == 2
    # the polar views' flows of every frame pair (the cut is found with them) were cached
    assert len(list((tmp_path / "cache").rglob("*-cap+90-fov100.npz"))) == 7


def test_occlusion_levels_drop_less_than_the_check_alone_on_a_real_pair():
    """Two real consecutive frames: the check confirmed by grey levels drops a subset of what the check alone
    drops, in the frame and in each cap, and strictly less here."""
    clip = [f.image for _, f in zip(range(8), VideoReader(shared_file("videos/threejs-pano.webm")))]
    prev, cur = (sphere.resize_equirect_image(f, width=W, height=H) for f in clip[5:7])
    fwd, bwd = flow_pair(prev, cur)
    occ = occlusion_mask(fwd, bwd)
    alone = polar_carry.sphere_motion(DreamConfig(), BlendParams(), prev, cur, occ, bwd)
    confirmed = polar_carry.sphere_motion(DreamConfig(), BlendParams(occlusion_levels=4.0), prev, cur, occ, bwd)
    assert np.array_equal(alone.equirect, occ)
    assert not (confirmed.equirect & ~occ).any() and confirmed.fraction < alone.fraction
    for a, c in zip(alone.caps, confirmed.caps):
        assert np.all(c.occluded <= a.occluded + 1e-6)
    assert sum(c.occluded.sum() for c in confirmed.caps) < sum(a.occluded.sum() for a in alone.caps)
