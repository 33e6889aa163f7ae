"""DreamConfig.validate: settings that cannot work are refused with one line naming the fix."""
import subprocess
import sys

import cv2
import numpy as np
import pytest

from hallucinator import sphere
from hallucinator.config import DreamConfig
from hallucinator.demo import demo_panorama
from hallucinator.errors import UserError


def test_pole_fov_too_narrow_for_the_blend_is_refused_by_the_cli(tmp_path):
    """A TOML config with pole_fov = 60 (default blend 42°-50°) leaves latitudes 42°-60° undreamed: exit 2, one line."""
    src, out = tmp_path / "in.png", tmp_path / "out.png"
    cv2.imwrite(str(src), cv2.cvtColor(demo_panorama(256), cv2.COLOR_RGB2BGR))
    cfg = tmp_path / "f.toml"
    # a quick model, so that without the check the dream would run and write out.png
    cfg.write_text('[dream]\nmodel = "efficientnet-lite0"\nlayers = ["block8"]\noctaves = 1\niterations = 1\n'
                   "pole_fov = 60\n")
    proc = subprocess.run([sys.executable, "-m", "hallucinator", "dream", str(src), str(out), "--config", str(cfg)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "pole_fov" in lines[0] and "96" in lines[0], lines[0]  # names the setting and the value that works
    assert not out.exists()


@pytest.mark.parametrize("fov,blend", [(96.0, [42.0, 50.0]), (100.0, [42.0, 50.0]), (60.0, [60.0, 70.0])])
def test_polar_views_reaching_the_blend_are_accepted(fov, blend):
    assert DreamConfig(pole_fov=fov, pole_blend=blend).validate().pole_fov == fov


def test_the_edge_of_a_polar_view_is_the_latitude_the_rule_names():
    """pole_fov >= 2 (90 - pole_blend[0]) is the geometry: a view of that fov straight up reaches pole_blend[0]."""
    fov, lo = 96.0, 42.0
    rays = sphere.perspective_rays(201, 201, fov, 0.0, 90.0, 0.0)
    _, lat = sphere.lonlat_from_dir(rays[100, -1])  # middle of the right edge: the nearest edge point to the horizon
    assert np.degrees(lat) == pytest.approx(lo, abs=0.3)


@pytest.mark.parametrize("fov,blend", [(95.0, [42.0, 50.0]), (60.0, [42.0, 50.0])])
def test_polar_views_short_of_the_blend_are_refused(fov, blend):
    with pytest.raises(UserError, match="pole_fov") as exc:
        DreamConfig(pole_fov=fov, pole_blend=blend).validate()
    assert "\n" not in str(exc.value)


def test_short_polar_views_are_fine_without_faces():
    assert DreamConfig(poles="none", pole_fov=60.0).validate().poles == "none"


@pytest.mark.parametrize("blend", [[0.0, 50.0], [50.0, 42.0], [42.0, 42.0], [42.0, 90.0], [-10.0, 50.0],
                                   [42.0], [42.0, 50.0, 60.0]])
def test_pole_blend_must_be_two_rising_latitudes_inside_the_hemisphere(blend):
    with pytest.raises(UserError, match="pole_blend") as exc:
        DreamConfig(pole_blend=blend).validate()
    assert "\n" not in str(exc.value)
