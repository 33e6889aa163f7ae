"""The stereo vocabulary, the side-data layout, and which paths are videos or still images."""
from __future__ import annotations

import json

import pytest

from hallucinator.errors import UserError
from hallucinator.io.images import IMAGE_SUFFIXES, is_image_path
from hallucinator.io.probe import STEREO_CHOICES, VIDEO_SUFFIXES, Stereo, VideoInfo, is_video, parse_stereo


@pytest.mark.parametrize("word, expected", [("auto", None), ("mono", Stereo.MONO), ("top-bottom", Stereo.TOP_BOTTOM),
                                            ("tb", Stereo.TOP_BOTTOM), ("TB", Stereo.TOP_BOTTOM),
                                            (Stereo.MONO, Stereo.MONO)])
def test_parse_stereo_words(word, expected):
    assert parse_stereo(word) is expected


def test_every_choice_parses_and_unknown_words_name_the_choices():
    assert [parse_stereo(w) for w in STEREO_CHOICES] == [None, Stereo.MONO, Stereo.TOP_BOTTOM, Stereo.TOP_BOTTOM]
    with pytest.raises(UserError) as err:
        parse_stereo("left-right")
    assert "'left-right'" in str(err.value) and all(w in str(err.value) for w in STEREO_CHOICES)


def test_stereo_reads_as_its_word():
    assert str(Stereo.TOP_BOTTOM) == "top-bottom" and f"{Stereo.MONO}" == "mono"
    assert json.dumps({"stereo": Stereo.TOP_BOTTOM}) == '{"stereo": "top-bottom"}'
    assert (Stereo.MONO.eyes, Stereo.TOP_BOTTOM.eyes) == (1, 2)


@pytest.mark.parametrize("side_data, layout", [(None, Stereo.MONO), ("mono", Stereo.MONO),
                                               ("unspecified", Stereo.MONO), ("top-bottom", Stereo.TOP_BOTTOM),
                                               ("left-right", None), ("checkerboard", None)])
def test_layout_from_side_data(side_data, layout):
    info = VideoInfo(path="x.mp4", width=64, height=32, fps=None, time_base=1, frames=0, duration=None, codec="h264",
                     pix_fmt="yuv420p", bit_depth=8, has_audio=False, audio_codec=None, rotation=0,
                     projection=None, stereo=side_data, start_pts=0)
    assert info.layout is layout


def test_suffixes_have_one_home(tmp_path):
    assert not set(IMAGE_SUFFIXES) & set(VIDEO_SUFFIXES)
    for suffix in IMAGE_SUFFIXES:
        assert is_image_path(f"pano{suffix.upper()}") and not is_video(f"pano{suffix}")
    for suffix in VIDEO_SUFFIXES:
        assert is_video(f"clip{suffix.upper()}") and not is_image_path(f"clip{suffix}")
    unknown = tmp_path / "notes.xyz"
    unknown.write_text("not a video")
    assert not is_video(unknown) and not is_video(tmp_path / "missing.xyz")


def test_unknown_suffix_is_probed(tmp_path):
    from test_media import make_clip

    clip = make_clip(tmp_path / "clip.bin", frames=3, fmt="matroska")
    assert is_video(clip) and not is_image_path(clip)
