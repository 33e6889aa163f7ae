"""The layer contact sheet: real dreams of one layer per column, laid out in a grid; the CLI's bad input."""
import subprocess
import sys

import numpy as np
import pytest

from hallucinator.models.contact_sheet import SheetSpec, compose, dream_cells
from hallucinator.video.run import shared_data_dir


def test_shared_data_is_found_beside_the_checkout(monkeypatch):
    from conftest import SHARED_DATA

    monkeypatch.delenv("HALLUCINATOR_SHARED_DATA", raising=False)
    assert shared_data_dir().resolve() == SHARED_DATA.resolve()


def test_compose_places_every_cell_in_its_row_and_column():
    side, gap, label = 8, 2, 5
    rows = [[np.full((side, side, 3), 10 * (r * 3 + c), np.uint8) for c in range(3)] for r in range(2)]
    sheet = compose(rows, ["source", "a", "b"], ["one", "two"], gap=gap, label=label)
    assert sheet.shape == (2 * (side + label) + 3 * gap, 3 * side + 4 * gap, 3)
    for r in range(2):
        for c in range(3):
            y = gap + r * (side + label + gap) + label
            x = gap + c * (side + gap)
            assert (sheet[y:y + side, x:x + side] == 10 * (r * 3 + c)).all()


@pytest.mark.slow
def test_each_column_is_its_own_layers_dream(tmp_path, shared):
    pano = str(shared("panoramas/panolens-forest-tree.jpg"))
    spec = SheetSpec(model="efficientnet-lite0", layers=["block5", "block8"], images=[pano], size=(256, 128),
                     cell=48, overrides=dict(octaves=2, iterations=2))
    (row,) = dream_cells(spec)
    source, first, second = (c.astype(np.int16) for c in row)
    assert all(c.shape == (48, 48, 3) for c in row)
    assert np.abs(first - source).mean() > 1.0 and np.abs(second - source).mean() > 1.0   # both dreamed
    assert np.abs(first - second).mean() > 1.0                                              # and differently


def test_unknown_layer_and_missing_panorama_are_one_line_errors(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "hallucinator", "models", "--contact-sheet",
                               str(tmp_path / "s.jpg"), *args], capture_output=True, text=True)

    bad_layer = run("--sheet-layers", "block99")
    assert bad_layer.returncode == 2 and "block99" in bad_layer.stderr
    missing = run("--images", str(tmp_path / "nope.jpg"))
    assert missing.returncode == 2 and "nope.jpg" in missing.stderr and "--images" in missing.stderr
    assert not (tmp_path / "s.jpg").exists()
    no_folder = subprocess.run([sys.executable, "-m", "hallucinator", "models", "--contact-sheet",
                                str(tmp_path / "nowhere" / "s.jpg")], capture_output=True, text=True)
    assert no_folder.returncode == 2 and "does not exist" in no_folder.stderr
