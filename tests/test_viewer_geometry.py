"""Real OpenGL (Xvfb + Mesa): the shader's view geometry matches hallucinator.sphere to the pixel."""
from __future__ import annotations

import math

import numpy as np
import pytest

from hallucinator import sphere
from hallucinator.viewer.pose import Pose

pytestmark = pytest.mark.gl

W, H = 320, 240


@pytest.fixture(scope="module")
def viewer(xdisplay):
    from hallucinator.viewer.app import Viewer

    with Viewer(size=(W, H), visible=False) as v:
        yield v


def equirect_dirs(width, height):
    u, v = np.meshgrid(np.arange(width), np.arange(height))
    lon, lat = sphere.lonlat_from_pixel(u, v, width, height)
    return sphere.dir_from_lonlat(lon, lat)


MARKERS = {  # name: (lon, lat) degrees, colour
    "red": ((0.0, 0.0), (255, 0, 0)),
    "green": ((30.0, 12.0), (0, 255, 0)),
    "blue": ((-35.0, -20.0), (0, 0, 255)),
    "yellow": ((178.0, 4.0), (255, 255, 0)),
    "cyan": ((-176.0, -6.0), (0, 255, 255)),
    "magenta": ((60.0, 75.0), (255, 0, 255)),
    "white": ((-120.0, 88.0), (255, 255, 255)),
}


@pytest.fixture(scope="module")
def marker_pano():
    """A 2048x1024 grey equirect with small coloured caps (1.2° radius) at known directions."""
    d = equirect_dirs(2048, 1024)
    img = np.full(d.shape[:2] + (3,), 96, np.uint8)
    for (lon, lat), colour in MARKERS.values():
        c = sphere.dir_from_lonlat(math.radians(lon), math.radians(lat))
        img[(d @ c) > math.cos(math.radians(1.2))] = colour
    return img


def blob_centroid(img, colour, tol=60):
    m = np.all(np.abs(img.astype(int) - np.array(colour)) < tol, axis=-1)
    # only the pure marker colour (background grey is far from all of them)
    if m.sum() < 3:
        return None
    y, x = np.nonzero(m)
    return x.mean(), y.mean()


VIEWS = [  # yaw, pitch, roll, fov
    (0, 0, 0, 90),
    (20, 5, 0, 100),
    (-25, -10, 15, 90),
    (180, 0, 0, 90),
    (177, 2, -20, 60),
    (60, 70, 0, 100),
    (0, 90, 0, 120),
]


@pytest.mark.parametrize("view", VIEWS, ids=[f"y{v[0]}p{v[1]}r{v[2]}f{v[3]}" for v in VIEWS])
def test_markers_land_on_predicted_pixels(viewer, marker_pano, view):
    yaw, pitch, roll, fov = view
    viewer.set_frames(marker_pano)
    img = viewer.render_view(Pose.from_euler(yaw, pitch, roll, fov))
    seen = 0
    for name, ((lon, lat), colour) in MARKERS.items():
        c = sphere.dir_from_lonlat(math.radians(lon), math.radians(lat))
        x, y, front = sphere.project_to_view(c, W, H, fov, yaw, pitch, roll)
        inside = bool(front) and 6 <= x <= W - 7 and 6 <= y <= H - 7
        got = blob_centroid(img, colour)
        if not inside:
            continue
        assert got is not None, f"{name} marker missing at predicted ({x:.1f}, {y:.1f})"
        err = math.hypot(got[0] - x, got[1] - y)
        assert err <= 2.0, f"{name}: predicted ({x:.1f}, {y:.1f}), rendered ({got[0]:.1f}, {got[1]:.1f})"
        seen += 1
    assert seen >= 1


def test_yaw_grows_right_and_pitch_up(viewer, marker_pano):
    viewer.set_frames(marker_pano)
    img = viewer.render_view(Pose.from_euler(0, 0, 0, 120))
    gx, gy = blob_centroid(img, (0, 255, 0))      # lon +30, lat +12: right of and above the centre
    bx, by = blob_centroid(img, (0, 0, 255))      # lon -35, lat -20: left of and below
    assert gx > W / 2 and gy < H / 2 and bx < W / 2 and by > H / 2


# -- the real synthetic test room (its coloured objects mark the axes) ---------------------------

ROOM_COLOURS = {  # object: (predicate on RGB int arrays)
    "red ball (+x)": lambda r, g, b: (r > 200) & (g < 70) & (b < 70),
    "dark red cube (-x)": lambda r, g, b: (r > 90) & (r < 170) & (g < 50) & (b < 50),
    "blue ball (-z, forward)": lambda r, g, b: (b > 200) & (r < 70) & (g < 70),
    "dark blue cube (+z, behind)": lambda r, g, b: (b > 90) & (b < 170) & (r < 50) & (g < 50),
}


def _mask(img, pred):
    i = img.astype(int)
    return pred(i[..., 0], i[..., 1], i[..., 2])


def cpu_reference(pano, yaw, pitch, roll, fov, w=W, h=H):
    """The view sphere.py predicts (nearest texel), for comparing object positions."""
    d = sphere.perspective_rays(w, h, fov, yaw, pitch, roll)
    lon, lat = sphere.lonlat_from_dir(d)
    u, v = sphere.pixel_from_lonlat(lon, lat, pano.shape[1], pano.shape[0])
    ui = np.mod(np.round(u).astype(int), pano.shape[1])
    vi = np.clip(np.round(v).astype(int), 0, pano.shape[0] - 1)
    return pano[vi, ui]


@pytest.fixture(scope="module")
def room(shared_room):
    return shared_room


@pytest.fixture(scope="module")
def shared_room():
    from PIL import Image

    from conftest import shared_file

    return np.asarray(Image.open(shared_file("panoramas/gvr-testroom-grid-synthetic.jpg")).convert("RGB"))


@pytest.mark.parametrize("view", [(90, 0, 0, 90), (60, 10, 0, 100), (-90, -5, 10, 90), (0, 0, 0, 70),
                                  (180, 0, 0, 90), (150, -10, -15, 110)])
def test_room_objects_where_geometry_predicts(viewer, room, view):
    yaw, pitch, roll, fov = view
    viewer.set_frames(room)
    img = viewer.render_view(Pose.from_euler(yaw, pitch, roll, fov))
    ref = cpu_reference(room, yaw, pitch, roll, fov)
    checked = 0
    for name, pred in ROOM_COLOURS.items():
        want, got = _mask(ref, pred), _mask(img, pred)
        if want.sum() < 50:
            continue
        wy, wx = np.nonzero(want)
        gy, gx = np.nonzero(got)
        assert got.sum() > 0.9 * want.sum(), name
        err = math.hypot(gx.mean() - wx.mean(), gy.mean() - wy.mean())
        assert err <= 2.0, f"{name}: predicted centroid ({wx.mean():.1f}, {wy.mean():.1f}), rendered ({gx.mean():.1f}, {gy.mean():.1f})"
        checked += 1
    assert checked >= 1


def test_axes_of_the_room(viewer, room):
    """Yaw 90 looks at the red ball (+x), yaw 0 at the blue ball, yaw 180 at the dark blue cube."""
    viewer.set_frames(room)
    for yaw, name in [(90, "red ball (+x)"), (0, "blue ball (-z, forward)"), (180, "dark blue cube (+z, behind)"),
                      (-90, "dark red cube (-x)")]:
        img = viewer.render_view(Pose.from_euler(yaw, 0, 0, 90))
        m = _mask(img, ROOM_COLOURS[name])
        y, x = np.nonzero(m)
        assert m.sum() > 500 and abs(x.mean() - W / 2) < 3, (yaw, name)


# -- seam and poles -------------------------------------------------------------------------------

def _direction_field(width=1024, height=512):
    """An equirect whose colour encodes the direction smoothly: (d + 1) / 2."""
    d = equirect_dirs(width, height)
    return np.round((d + 1) / 2 * 255).astype(np.uint8)


@pytest.mark.parametrize("view", [(180, 0, 0, 90), (0, 90, 0, 90), (37, -90, 0, 90), (180, 80, 30, 100)],
                         ids=["seam", "up", "down", "seam-near-pole"])
def test_no_seam_no_pinch_on_a_smooth_field(viewer, view):
    """Rendered colour = encoded ray direction everywhere, including the ±180° column and the poles."""
    yaw, pitch, roll, fov = view
    viewer.set_frames(_direction_field())
    img = viewer.render_view(Pose.from_euler(yaw, pitch, roll, fov)).astype(float)
    d = sphere.perspective_rays(W, H, fov, yaw, pitch, roll)
    expect = (d + 1) / 2 * 255
    err = np.abs(img - expect)
    # texel quantisation: a 1024-wide field changes by < 1 level per texel
    assert err.max() <= 3.0, f"max error {err.max():.1f} at {np.unravel_index(err.argmax(), err.shape)}"
    # no line anywhere: the largest step between neighbouring pixels is what the smooth field predicts
    step = np.abs(np.diff(img, axis=1)).max()
    step_expect = np.abs(np.diff(expect, axis=1)).max()
    assert step <= step_expect + 3.0


@pytest.mark.slow
def test_seam_on_real_room_matches_the_bilinear_reference(viewer, room):
    """Across the ±180° column the picture is what sphere.perspective_view (bilinear, wrapping) gives."""
    viewer.set_frames(room)
    for yaw, pitch in [(180, 20), (-179.7, -35), (180.4, 70)]:
        img = viewer.render_view(Pose.from_euler(yaw, pitch, 0, 60)).astype(float)
        ref = sphere.to_uint8(sphere.perspective_view(sphere.to_tensor(room.copy()), (W, H), 60, yaw, pitch, 0))
        ref = ref.astype(float)
        assert np.abs(img - ref).mean() < 0.5
        # column-to-column change around the seam (between the centre columns) as in the reference
        cols = np.abs(np.diff(img, axis=1)).mean(axis=(0, 2))
        ref_cols = np.abs(np.diff(ref, axis=1)).mean(axis=(0, 2))
        near = slice(W // 2 - 6, W // 2 + 5)
        assert np.abs(cols[near] - ref_cols[near]).max() < 1.0, (yaw, pitch, cols[near], ref_cols[near])


def test_pole_view_of_room_is_a_circle(viewer, room):
    """Looking straight up, the green cap (a circle of latitude) renders as a centred circle: no pinch."""
    viewer.set_frames(room)
    img = viewer.render_view(Pose.from_euler(0, 90, 0, 90))
    green = _mask(img, lambda r, g, b: (g > 200) & (r < 80) & (b < 80))
    assert green.sum() > 1000
    y, x = np.nonzero(green)
    cx, cy = x.mean(), y.mean()
    assert abs(cx - (W - 1) / 2) < 1.0 and abs(cy - (H - 1) / 2) < 1.0
    # boundary radius: the same in every direction
    edge = green & ~np.roll(green, 1, 0) | green & ~np.roll(green, -1, 0) | green & ~np.roll(green, 1, 1) \
        | green & ~np.roll(green, -1, 1)
    ey, ex = np.nonzero(edge)
    r = np.hypot(ex - (W - 1) / 2, ey - (H - 1) / 2)
    assert r.std() / r.mean() < 0.02, (r.mean(), r.std())
    # and it matches the CPU reference view pixel for pixel (up to filtering)
    ref = cpu_reference(room, 0, 90, 0, 90)
    assert np.abs(img.astype(int) - ref.astype(int)).mean() < 6.0
