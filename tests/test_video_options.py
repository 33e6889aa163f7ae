"""Video options from the command line: presets, blend overrides, frame ranges, sizes, stereo words."""
from __future__ import annotations

from fractions import Fraction

import pytest

from hallucinator.cli import build_parser
from hallucinator.cli.video import options_from_args
from hallucinator.errors import UserError
from hallucinator.io.probe import Stereo, VideoInfo
from hallucinator.video.layout import plan_layout
from hallucinator.video.options import BLEND_PRESETS, BlendParams, VideoOptions


def options(*words) -> VideoOptions:
    return options_from_args(build_parser().parse_args(["dream", "in.mp4", "out.mp4", *words]))


def info(width=512, height=256, stereo=None) -> VideoInfo:
    return VideoInfo("x.mp4", width, height, Fraction(25), Fraction(1, 25), 1, 1.0, "h264", "yuv420p", 8, False,
                     None, 0, None, stereo, 0)


def test_hallucination_machine_preset_selects_the_2017_blend():
    o = options("--preset", "hallucination-machine")
    assert o.blend == BLEND_PRESETS["hallucination-machine"]
    assert o.blend.name == "hallucination-machine" and o.blend.flow.method == "farneback"
    assert (o.blend.moving, o.blend.static, o.blend.motion_threshold, o.blend.motion_normalised) == (0.9, 0.1, 6.0, True)
    # --blend says otherwise
    assert options("--preset", "hallucination-machine", "--blend", "coherent").blend == BlendParams()


def test_blend_overrides_frames_and_size():
    o = options("--blend-moving", "0.8", "--frames", "5:9", "--size", "512x256", "--flow", "farneback")
    assert o.blend.name == "coherent" and o.blend.moving == 0.8 and o.blend.warm_iters(10) == 2
    assert o.blend.static == 0.9 and o.blend.normalise_strength
    assert o.frames == (5, 9) and o.size == (512, 256) and o.blend.flow.method == "farneback"
    o = options("--blend-static", "0.3", "--motion-threshold", "2", "--warm-iterations", "4",
                "--no-normalise-strength", "--frames", "7:")
    assert (o.blend.static, o.blend.motion_threshold, o.blend.warm_iterations) == (0.3, 2.0, 4)
    assert o.blend.normalise_strength is False and o.blend.warm_iters(10) == 4
    assert o.frames == (7, None)


def test_defaults_when_nothing_is_given():
    o = options()
    assert o == VideoOptions()
    assert o.stereo is None and o.audio and not o.independent and o.frames is None and o.size is None


def test_encoder_and_output_options():
    o = options("--codec", "libx265", "--crf", "23", "--x264-preset", "fast", "--png-dir", "p", "--control", "c.mp4",
                "--cache-dir", "cache", "--independent", "--to-2to1", "--no-audio", "--threads", "3")
    assert (o.codec, o.crf, o.x264_preset, o.png_dir, o.control, o.cache_dir) == \
        ("libx265", 23, "fast", "p", "c.mp4", "cache")
    assert o.independent and o.to_2to1 and not o.audio and o.threads == 3


@pytest.mark.parametrize("words, message", [
    (["--blend-moving", "1.5"], "--blend-moving must lie between 0 and 1"),
    (["--blend-static", "-0.1"], "--blend-static must lie between 0 and 1"),
    (["--frames", "9:5"], "empty or negative"),
    (["--frames", "a:b"], "must be A:B"),
    (["--size", "big"], "not WIDTHxHEIGHT"),
])
def test_bad_options_are_refused_with_the_reason(words, message):
    with pytest.raises(UserError, match=message):
        options(*words)


def test_a_size_that_is_not_2_to_1_is_refused_by_the_layout():
    o = options("--size", "512x300")
    assert o.size == (512, 300)
    with pytest.raises(UserError, match=r"--size 512x300 must be 2:1"):
        plan_layout(info(), o)
    assert plan_layout(info(), options("--size", "256x128")).width == 256


@pytest.mark.parametrize("word, stereo", [("auto", None), ("mono", Stereo.MONO), ("top-bottom", Stereo.TOP_BOTTOM),
                                          ("tb", Stereo.TOP_BOTTOM)])
def test_stereo_takes_the_agreed_words(word, stereo):
    assert options("--stereo", word).stereo is stereo


def test_stereo_decides_the_eyes():
    square = info(256, 256)
    assert plan_layout(square, options("--stereo", "tb")).eyes == 2
    assert plan_layout(info(256, 256, stereo="top-bottom"), options()).eyes == 2      # auto: from the file
    assert plan_layout(info(512, 256, stereo="mono"), options()).eyes == 1
    with pytest.raises(UserError, match="not a 2:1"):
        plan_layout(square, options("--stereo", "mono"))
    with pytest.raises(UserError, match="left-right stereo, which is not supported"):
        plan_layout(info(512, 256, stereo="left-right"), options())


def test_sidecar_records_stereo_as_a_word():
    assert options().to_dict()["stereo"] == "auto"
    assert options("--stereo", "tb").to_dict()["stereo"] == "top-bottom"
    assert options("--blend-moving", "0.7").to_dict()["blend"]["moving"] == 0.7
