"""Analysis on simulated groups with known effects: directions recovered, tables and figures written."""
from __future__ import annotations

import csv

import numpy as np
import pytest

from hallucinator.cli import main
from hallucinator.experiment.analysis import paired_stats
from hallucinator.experiment.runner import RunOptions, run_session


def _csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


CONDITION_COLOURS = {"control": (76, 114, 176), "dream": (221, 132, 82)}     # figures.COLORS


def assert_figure(path, size, min_pixels):
    """The PNG has the figure's size in pixels (height, width) and both conditions drawn in their colours."""
    from PIL import Image
    img = np.asarray(Image.open(path).convert("RGB")).astype(int)
    assert img.shape[:2] == size, (path.name, img.shape)
    for cond, rgb in CONDITION_COLOURS.items():
        n = int((np.abs(img - np.array(rgb)).sum(-1) <= 12).sum())
        assert n >= min_pixels, f"{path.name}: {n} pixels of {cond}"


def test_paired_stats_against_scipy():
    from scipy import stats
    rng = np.random.default_rng(0)
    a = rng.normal(10, 3, 12)
    b = a + rng.normal(2, 1, 12)
    st = paired_stats(a, b)
    ref = stats.ttest_rel(b, a)
    assert st["t"] == pytest.approx(ref.statistic) and st["p"] == pytest.approx(ref.pvalue)
    assert st["dz"] == pytest.approx(np.mean(b - a) / np.std(b - a, ddof=1))
    assert st["ci_low"] < st["mean_diff"] < st["ci_high"]


@pytest.mark.slow
def test_exp1_simulated_group_recovers_the_effect(tmp_path):
    data = tmp_path / "data"
    for n in range(1, 13):
        run_session(RunOptions("hm2017-exp1", f"{n:02d}", data=data, simulate=11, console=None))
    out = tmp_path / "out"
    assert main(["experiment", "analyze", str(data), "--out", str(out)]) == 0
    stats_rows = {r["dimension"]: r for r in _csv(out / "questionnaire_stats.csv")}
    assert len(stats_rows) == 11
    for dim in ("Elementary imagery", "Complex imagery", "Changed meaning of percepts"):
        r = stats_rows[dim]
        assert r["reference"] == "control" and r["condition"] == "dream"
        assert float(r["mean_diff"]) > 10 and float(r["dz"]) > 0.6 and float(r["p"]) < 0.05
        assert int(r["n"]) == 12
    # a dimension without a simulated effect stays small
    assert abs(float(stats_rows["Anxiety"]["dz"])) < 1.2
    scores = _csv(out / "questionnaire_scores.csv")
    assert len(scores) == 12 * 2 * 11 and {r["simulated"] for r in scores} == {"1"}
    motion = _csv(out / "motion_stats.csv")[0]
    assert float(motion["mean_diff"]) > 0          # simulated dream viewers look around faster
    assert_figure(out / "questionnaire_asc11d_radar.png", (880, 935), 500)       # 11 dimensions, 2 lines
    assert_figure(out / "questionnaire_asc11d_paired.png", (840, 1200), 500)     # 11 panels of 12 pairs
    assert_figure(out / "motion_speed.png", (400, 550), 50)
    assert "SIMULATED" in (out / "report.md").read_text()


TIMING = """
[protocol]
name = "timing"
[stimuli.s]
control = "c.mp4"
dream = "d.mp4"
[conditions.control]
stimulus = "s"
dose = 0.0
[conditions.dream]
stimulus = "s"
dose = 1.0
[[block]]
type = "stimulus"
duration = 20
[[block]]
type = "production"
durations = [1, 2, 4, 8]
[[block]]
type = "reproduction"
durations = [1, 2, 4, 8]
background = "stimulus"
[simulate]
timing_ratio = { control = 1.0, dream = 1.3 }
head_speed = { control = 30, dream = 15 }
"""


@pytest.mark.slow
def test_timing_and_motion_effects_recovered(tmp_path):
    proto = tmp_path / "timing.toml"
    proto.write_text(TIMING)
    data = tmp_path / "data"
    for n in range(1, 13):
        run_session(RunOptions(str(proto), str(n), data=data, simulate=3, console=None))
    out = tmp_path / "out"
    assert main(["experiment", "analyze", str(data), "--out", str(out)]) == 0
    t = {r["task"]: r for r in _csv(out / "timing_stats.csv")}
    for task in ("production", "reproduction"):
        assert float(t[task]["mean_ref"]) == pytest.approx(1.0, abs=0.06)
        assert float(t[task]["mean_cond"]) == pytest.approx(1.3, abs=0.08)
        assert float(t[task]["p"]) < 0.01
    m = _csv(out / "motion_stats.csv")[0]
    assert float(m["mean_diff"]) < 0 and float(m["p"]) < 0.01
    assert_figure(out / "timing_ratios.png", (420, 1040), 500)                   # 2 tasks, 4 targets
    assert len(_csv(out / "timing_trials.csv")) == 12 * 2 * 8


def test_small_samples_are_flagged_in_the_report():
    from hallucinator.experiment.analysis import SMALL_SAMPLE, small_sample_caveat
    two = " ".join(small_sample_caveat(2))
    assert "N = 2" in two and "1 degree of freedom" in two and "p below 0.5" in two
    assert small_sample_caveat(SMALL_SAMPLE) == []


def test_radar_legend_inside_the_figure():
    import matplotlib.pyplot as plt

    from hallucinator.experiment.figures import radar_figure
    dims = ["Visual patterns", "Complex imagery", "Changed meaning", "Unity", "Anxiety"]
    names = ["control condition", "dream at full dose", "ramp"]
    fig = radar_figure("heq", dims, {c: [30.0] * 5 for c in names}, {c: [5.0] * 5 for c in names})
    fig.canvas.draw()
    box = fig.legends[0].get_window_extent()
    page = fig.bbox
    assert page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0 and box.y1 <= page.y1
    assert [t.get_text() for t in fig.legends[0].get_texts()] == names
    plt.close(fig)
