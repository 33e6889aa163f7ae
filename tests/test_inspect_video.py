"""`hallucinator inspect SOURCE.mp4 DREAM.mp4`: what the dream adds to frame-to-frame change, up, down and around.

The dreams here are real encoded videos made from the battle clip with a residual pattern added in a
known way, so the figure's answer is known: a pattern that holds still on the sphere adds little anywhere,
one that flickers only near the zenith makes the caps' added error large, and a pattern that drops out of
the cap for a frame shows as a strength dip.
"""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from conftest import shared_file

from hallucinator import sphere
from hallucinator.cli import main
from hallucinator.io.reader import VideoReader
from hallucinator.io.writer import VideoWriter
from hallucinator.video import view_figures

BATTLE = "videos/panolens-1941-battle-640x320.mp4"
W, H, FRAMES = 256, 128, 8


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """The battle clip's first frames at the working size, and a residual pattern (band-limited, ±40 levels)."""
    with VideoReader(str(shared_file(BATTLE))) as r:
        frames = [sphere.resize_equirect_image(f.image, width=W, height=H) for f in r.frames(0, FRAMES)]
    rng = np.random.default_rng(1)
    pattern = cv2.GaussianBlur(rng.normal(0, 1, (H, W)).astype(np.float32), (0, 0), 2.0)[..., None]
    pattern = pattern / np.abs(pattern).max() * 40.0
    return tmp_path_factory.mktemp("inspect"), frames, pattern


def write(path, frames):
    with VideoWriter(path, fps=25, width=frames[0].shape[1], height=frames[0].shape[0], crf=12) as w:
        for f in frames:
            w.write(f)
    return str(path)


def dreamed(frames, residuals):
    return [np.clip(f.astype(np.float32) + r, 0, 255).astype(np.uint8) for f, r in zip(frames, residuals)]


def zenith_rows(frac: float = 0.2) -> np.ndarray:
    """(H, 1, 1) mask of the rows within ``frac`` of the height from either pole."""
    rows = np.arange(H)
    return ((rows < frac * H) | (rows >= (1 - frac) * H)).astype(np.float32)[:, None, None]


def test_a_flicker_at_the_poles_shows_in_the_caps_not_at_the_horizon(clip, capsys):
    folder, frames, pattern = clip
    src = write(folder / "src.mp4", frames)
    steady = write(folder / "steady.mp4", dreamed(frames, [pattern] * FRAMES))
    rng = np.random.default_rng(2)
    flicker = [pattern * (1 - zenith_rows()) + zenith_rows() * np.roll(pattern, int(rng.integers(5, 60)), axis=1)
               for _ in range(FRAMES)]
    shimmer = write(folder / "shimmer.mp4", dreamed(frames, flicker))

    assert main(["inspect", src, steady, "--json"]) == 0
    calm = json.loads(capsys.readouterr().out)
    assert main(["inspect", src, shimmer, "--json"]) == 0
    shaky = json.loads(capsys.readouterr().out)
    assert calm["pairs"] == shaky["pairs"] == FRAMES - 1
    assert shaky["pole_horizon_added_error"] > 3 * max(calm["pole_horizon_added_error"], 0.5)
    assert shaky["up_horizon_added_error"] > 3 and shaky["down_horizon_added_error"] > 3
    for yaw in (0, 90, 180, 270):
        assert shaky["views"][f"yaw{yaw}"]["added_error"] == pytest.approx(calm["views"][f"yaw{yaw}"]["added_error"],
                                                                          abs=2e-3)
    assert view_figures.verdicts(shaky)["pole_horizon_added_error"] is False


def test_a_cap_that_loses_its_pattern_for_a_frame_shows_as_a_strength_dip(clip, capsys):
    folder, frames, pattern = clip
    src = write(folder / "src.mp4", frames)
    residuals = [pattern * (1 - 0.7 * zenith_rows() * (i == 4)) for i in range(FRAMES)]
    path = write(folder / "dip.mp4", dreamed(frames, residuals))
    assert main(["inspect", src, path]) == 0
    report = capsys.readouterr().out
    assert "cap_strength_dip" in report and "OUT OF RANGE" in report
    figure = view_figures.video_figure(src, path)
    assert figure["cap_strength_dip"] < 0.5
    per_frame = figure["views"]["up"]["strength_per_frame"]
    assert int(np.argmin(per_frame)) == 4
    assert figure["views"]["yaw90"]["strength_dip"] > 0.85


def test_the_dream_is_matched_to_its_source_frames(clip, capsys, tmp_path):
    """A dream of frames 2..7 is compared with source frames 2..7 (from --start, or from its sidecar)."""
    _, still, pattern = clip
    frames = [np.roll(f, 12 * i, axis=1) for i, f in enumerate(still)]   # the camera pans
    src = write(tmp_path / "pan.mp4", frames)
    later = write(tmp_path / "later.mp4", dreamed(frames[2:], [pattern] * (FRAMES - 2)))
    aligned = view_figures.video_figure(src, later, start=2)
    wrong = view_figures.video_figure(src, later, start=0)
    assert aligned["frames"] == FRAMES - 2
    assert aligned["views"]["yaw0"]["strength"] < 0.7 * wrong["views"]["yaw0"]["strength"]
    (tmp_path / "later.mp4.json").write_text(json.dumps({"video": {"frames": [2, 8]}}))   # as a run records it
    assert view_figures.video_figure(src, later)["views"]["yaw0"]["strength"] == aligned["views"]["yaw0"]["strength"]


def test_a_png_dir_is_the_dream_before_the_codec(clip, tmp_path):
    """The --png-dir frames give the figure of the dream as dreamed; the same frames encoded give nearly the same."""
    from hallucinator.io.writer import PngSequenceWriter

    _, frames, pattern = clip
    src = write(tmp_path / "src.mp4", frames)
    rng = np.random.default_rng(3)
    dream = dreamed(frames, [pattern + rng.normal(0, 3, pattern.shape) for _ in range(FRAMES)])
    with PngSequenceWriter(tmp_path / "frames") as w:
        for f in dream:
            w.write(f)
    lossless = view_figures.video_figure(src, tmp_path / "frames")
    encoded = view_figures.video_figure(src, write(tmp_path / "dream.mp4", dream))
    assert lossless["frames"] == encoded["frames"] == FRAMES
    for name in ("up", "yaw0"):
        a, b = lossless["views"][name], encoded["views"][name]
        assert abs(a["strength"] - b["strength"]) < 0.1 * a["strength"]
    assert main(["inspect", src, str(tmp_path / "frames"), "--json"]) == 0


def test_bad_pairs_are_refused_in_one_line(clip, capsys, tmp_path):
    folder, frames, pattern = clip
    src = write(folder / "src.mp4", frames)
    still = tmp_path / "still.png"
    cv2.imwrite(str(still), frames[0][..., ::-1])
    for args, needle in (([src, str(still)], "video with a video"),
                         ([src, str(tmp_path / "missing.mp4")], "not found"),
                         ([src, src, "--start", str(FRAMES - 1)], "needs two or more")):
        assert main(["inspect", *args]) == 2
        err = capsys.readouterr().err.strip()
        assert needle in err and "\n" not in err


def test_against_independent_says_what_the_carry_keeps_of_the_engines_strength_per_view(clip):
    """A 'carried' dream that keeps half the pattern in the caps, against 'independent frames' whose cap pattern
    fades to 0.6 in one frame: the caps keep about half, the horizon all of it, and the content's own dip is
    the independent frames' (0.6), not the carried dream's."""
    folder, frames, pattern = clip
    src = write(folder / "src-ind.mp4", frames)
    caps = zenith_rows(0.25)
    alone = [pattern * (1 - 0.4 * caps * (i == 5)) for i in range(FRAMES)]
    carried = [pattern * (1 - 0.5 * caps) for _ in range(FRAMES)]
    ind = view_figures.video_figure(src, write(folder / "alone.mp4", dreamed(frames, alone)))
    coh = view_figures.video_figure(src, write(folder / "carried.mp4", dreamed(frames, carried)))
    table = view_figures.against_independent(coh, ind)
    assert set(table) == {name for name, _, _ in view_figures.VIEWS}
    for cap in ("up", "down"):
        assert table[cap]["kept"] == pytest.approx(0.5, abs=0.1)
        assert table[cap]["content_dip"] == pytest.approx(0.6, abs=0.1)
    for yaw in (0, 90, 180, 270):
        assert table[f"yaw{yaw}"]["kept"] == pytest.approx(1.0, abs=0.1)
        assert table[f"yaw{yaw}"]["content_dip"] > 0.9
    text = view_figures.format_against_independent(table)
    assert len(text.splitlines()) == 1 + len(table) and "content dip" in text
