"""The demo says which targets its outputs meet, and for each miss which figure and by how much."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from conftest import shared_file

from hallucinator import quality, sphere
from hallucinator.cli import main
from hallucinator.demo import target_lines
from hallucinator.io.images import read_image
from hallucinator.video import view_figures


def test_a_seam_in_the_dream_is_named_with_its_margin():
    pano = sphere.resize_equirect_image(read_image(str(shared_file("panoramas/panolens-cabin-1024.jpg"))),
                                        width=256, height=128)
    rng = np.random.default_rng(0)
    dream = np.clip(pano + rng.normal(0, 6, pano.shape), 0, 255)
    dream[:, : 128] += 25.0                    # a step at ±180° (and at the centre): a visible seam
    figures = quality.inspect(pano, np.clip(dream, 0, 255).astype(np.uint8))
    lines, misses = target_lines("still", figures, quality.LIMITS)
    assert len(lines) == len(quality.LIMITS)
    seam = [m for m in misses if "seam_ratio" in m]
    assert len(seam) == 1
    margin = float(re.search(r"by ([0-9.]+)$", seam[0]).group(1))
    assert margin == pytest.approx(figures["seam_ratio"] - 1.10, abs=1e-3)
    assert all(("MISSED" in line) == any(line.split()[1] in m for m in misses) for line in lines)


def test_a_figure_that_was_not_measured_is_not_claimed():
    lines, misses = target_lines("clip", {"cap_strength_dip": 0.8}, view_figures.LIMITS)
    assert len(lines) == 1 and "0.800 (target >= 0.85) MISSED" in lines[0]
    assert misses == ["clip: cap_strength_dip is 0.800, missing its target >= 0.85 by 0.050"]


@pytest.mark.slow
def test_the_demo_command_reports_every_target_of_its_still(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--width", "256", "--no-video"]) == 0
    out = capsys.readouterr().out
    side = json.loads((tmp_path / "dream.png.json").read_text())
    ok = quality.verdicts(side["quality"])
    for key, passed in ok.items():
        assert re.search(rf"still {key} [-0-9.]+ \(target .*\) {'ok' if passed else 'MISSED'}", out)
        assert (f"still: {key} is" in out) is (not passed)
    assert ("every target met" in out) is all(ok.values())
