"""The chunk plan, the boundary figure and the command line of a scaled-out run (no Ray started here)."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from conftest import shared_file

from hallucinator.cli import main
from hallucinator.scale.chunks import Chunk, ChunkPlanner, contributions, fade_weight, plan_chunks
from hallucinator.io.reader import VideoReader
from hallucinator.scale.continuity import boundary_figures
from hallucinator.scale.driver import CUT_SIZE, cut_copy, cut_measure
from hallucinator.scale.options import ScaleOptions
from hallucinator.sphere import resize_equirect_image
from hallucinator.video.figures import FrameFigures
from hallucinator.video.options import BlendParams

BATTLE = "videos/panolens-1941-battle-640x320.mp4"
TESTROOM = "videos/gvr-testroom-synthetic-1920x960.mp4"


def test_chunks_start_every_n_frames_and_at_cuts_with_warm_up_never_across_a_cut():
    chunks = plan_chunks(10, 40, cuts=[23, 50], chunk_frames=8, overlap=3)
    assert [(c.warm_start, c.start, c.stop, c.cut) for c in chunks] == [
        (10, 10, 18, False), (15, 18, 23, False), (23, 23, 31, True), (28, 31, 39, False), (36, 39, 40, False)]
    # an overlap longer than the previous chunk stops at that chunk's start
    short = plan_chunks(0, 10, cuts=[], chunk_frames=3, overlap=5)
    assert [c.warm_start for c in short] == [0, 0, 3, 6]
    assert plan_chunks(0, 12, [], 4, 2) == plan_chunks(0, 12, [], 4, 2)     # depends on nothing else


def test_every_frame_is_made_once_and_fades_in_the_next_chunk():
    chunks = plan_chunks(0, 12, cuts=[], chunk_frames=4, overlap=2)
    parts = contributions(chunks, fade=True)
    assert sorted(parts) == list(range(12))
    for frame, mix in parts.items():
        assert abs(sum(w for _, w in mix) - 1.0) < 1e-12
    assert parts[1] == [(0, 1.0)] and parts[4] == [(1, 1.0)]
    # frames 2 and 3: the previous chunk's dream fading out, the next one's fading in, symmetrically
    (a2, w2), (b2, v2) = parts[2]
    (a3, w3), (b3, v3) = parts[3]
    assert (a2, b2, a3, b3) == (0, 1, 0, 1)
    assert 0 < v2 < 0.5 < v3 < 1 and v2 + v3 == pytest.approx(1.0)
    assert all(len(m) == 1 for m in contributions(chunks, fade=False).values())


def test_the_fade_ramp_rises_from_0_to_1_symmetrically():
    xs = [k / 20 for k in range(21)]
    ws = [fade_weight(x) for x in xs]
    assert ws[0] == 0 and ws[-1] == 1 and all(b > a for a, b in zip(ws, ws[1:]))
    assert all(fade_weight(x) + fade_weight(1 - x) == pytest.approx(1.0) for x in xs)


def test_cuts_are_frames_the_chain_would_start_afresh():
    blend = BlendParams(reset_fraction=0.5)
    assert [f for f in (0.1, 0.9, 0.5, 0.51) if blend.is_cut(f)] == [0.9, 0.51]


def test_the_scan_finds_cuts_on_small_copies_of_the_working_frames():
    """Real frames at 256x128: consecutive ones are no cut; a frame turned upside down, or one of another clip,
    is.  The copies are area averages at most CUT_SIZE; smaller frames are used as they are."""
    def working(clip, n):
        with VideoReader(shared_file(clip)) as reader:
            return [resize_equirect_image(f.image, width=256, height=128) for f in reader.frames(0, n)]

    frames, other = working(BATTLE, 4), working(TESTROOM, 1)[0]
    small = [cut_copy(f) for f in frames]
    assert small[0].shape == (CUT_SIZE[1], CUT_SIZE[0], 3) and cut_copy(small[0]) is small[0]
    assert abs(small[0].astype(float).mean() - frames[0].astype(float).mean()) < 0.5
    blend = BlendParams()
    assert not any(blend.is_cut(cut_measure(a, b, blend.flow)) for a, b in zip(small, small[1:]))
    assert blend.is_cut(cut_measure(small[0], cut_copy(np.ascontiguousarray(frames[1][::-1])), blend.flow))
    assert blend.is_cut(cut_measure(small[0], cut_copy(other), blend.flow))


def test_the_planner_closes_each_chunk_as_the_scan_passes_its_end():
    cuts = {23}
    planner = ChunkPlanner(10, chunk_frames=8, overlap=3)
    closed_at = {}
    for f in range(11, 40):
        for c in planner.feed(f, f in cuts):
            closed_at[c.index] = f
            assert c.stop == f                      # known once frame f is scanned, not later
    last = planner.finish(40)
    assert closed_at == {0: 18, 1: 23, 2: 31, 3: 39} and [c.index for c in last] == [4]
    assert planner.finish(40) == []                 # finished once
    assert list(closed_at) + [4] == [c.index for c in plan_chunks(10, 40, sorted(cuts), 8, 3)]
    with pytest.raises(ValueError):
        planner.feed(12, False)


def test_the_chunk_being_scanned_is_known_from_its_first_frame_at_its_longest():
    """What a run sends before the scan reaches a chunk's end: the final chunk's first frame, warm-up and
    (so) cache key, planned at its longest; a cut only ends it sooner."""
    cuts = {23}
    planner = ChunkPlanner(10, chunk_frames=8, overlap=3)
    final = plan_chunks(10, 40, sorted(cuts), 8, 3)
    sent = {0: planner.opened(40)}
    for f in range(11, 40):
        planner.feed(f, f in cuts)
        sent.setdefault(planner.opened(40).index, planner.opened(40))
    assert sorted(sent) == [c.index for c in final]
    for c in final:
        s = sent[c.index]
        assert (s.warm_start, s.start, s.cut) == (c.warm_start, c.start, c.cut) and s.stop >= c.stop
    assert [sent[k].stop for k in sorted(sent)] == [18, 26, 31, 39, 40]   # chunk 1 was cut short at 23
    assert ChunkPlanner(10, 8, 3).opened().stop == 18                     # range end unknown yet


def test_chunks_ahead_of_the_scan_are_the_plan_if_no_cut_comes_and_a_cut_moves_them():
    planner = ChunkPlanner(0, chunk_frames=4, overlap=2)
    ahead = planner.ahead(3, limit=10)
    assert ahead == plan_chunks(0, 10, [], 4, 2)[:2] + [Chunk(2, 6, 8, 10)]    # the last one stops at the end
    assert planner.ahead(5, limit=10) == planner.ahead(3, limit=10)             # none starts past the end
    for f in (1, 2, 3):
        planner.feed(f, False)
    planner.feed(4, False)                                                      # chunk 1 begins: as sent
    assert planner.ahead(2, limit=10)[0] == ahead[1]
    planner.feed(5, True)                                                       # a cut moves chunk 2
    assert planner.ahead(2, limit=10) == [Chunk(2, 5, 5, 9, cut=True), Chunk(3, 7, 9, 10)]
    assert ChunkPlanner(0, 4, 2).ahead(2) == [Chunk(0, 0, 0, 4), Chunk(1, 2, 4, 8)]   # end not known


def _figs(added):
    return [[FrameFigures(index=i, strength=0.1, brightness_dream=0.5, brightness_source=0.5,
                          warp_error_dream=0.01 + a, warp_error_source=0.01) for i, a in added.items()]]


def test_boundary_figure_is_the_worst_step_of_the_fade_over_the_median_inside():
    chunks = plan_chunks(0, 12, cuts=[], chunk_frames=6, overlap=2)   # fade zone of chunk 1: frames 4, 5, 6
    added = {i: 0.01 for i in range(1, 12)}
    added[5] = 0.02
    fig = boundary_figures(_figs(added), chunks, fade=True)
    assert fig["inside_median"] == pytest.approx(0.01)
    assert fig["boundaries"][0]["frames"] == [4, 6]
    assert fig["ratio_max"] == pytest.approx(2.0) and fig["ok"] is False
    added[5] = 0.012
    assert boundary_figures(_figs(added), chunks, fade=True)["ok"] is True
    # without a fade, only the step into the first kept frame is the boundary
    assert boundary_figures(_figs(added), chunks, fade=False)["boundaries"][0]["frames"] == [6, 6]


def test_bad_scale_options_are_one_line_each():
    from hallucinator.errors import UserError

    for bad in (dict(chunk_frames=0), dict(overlap_frames=-1), dict(workers=-2), dict(retries=-1)):
        with pytest.raises(UserError):
            ScaleOptions(ray="local", **bad).validate()


def test_without_ray_the_option_says_how_to_get_it(tmp_path, monkeypatch, capsys):
    clip = shared_file(BATTLE)
    monkeypatch.setitem(sys.modules, "ray", None)          # as if Ray were not installed: import fails
    assert main(["dream", str(clip), str(tmp_path / "o.mp4"), "--ray", "local"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        'hallucinator: error: --ray needs Ray, which is not installed; pip install "hallucinator[ray]"']
    assert list(tmp_path.iterdir()) == []


def test_scale_options_without_ray_are_refused(tmp_path, capsys):
    clip = shared_file(BATTLE)
    assert main(["dream", str(clip), str(tmp_path / "o.mp4"), "--workers", "2", "--chunk-frames", "8"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["hallucinator: error: --workers, --chunk-frames apply to a run on Ray; add --ray local "
                   "(or --ray ADDRESS of a cluster)"]
    assert list(tmp_path.iterdir()) == []
