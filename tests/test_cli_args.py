"""Options built from dataclass fields: names, types, defaults left to the dataclass, repeats, parsers."""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import List, Optional

import pytest

from hallucinator.cli.args import add_dataclass_arguments, values_from_args


def _csv_ints(text: str) -> List[int]:
    return [int(v) for v in text.split(",")]


@dataclass
class Options:
    crf: int = field(default=18, metadata={"help": "quality"})
    scale: Optional[float] = field(default=None, metadata={"help": "scale"})
    audio: bool = field(default=True, metadata={"help": "no audio", "flag": "--no-audio", "action": "store_false"})
    flat: bool = field(default=False, metadata={"help": "flat"})
    channels: List[int] = field(default_factory=list, metadata={"help": "channels", "repeat": True,
                                                                 "parse": _csv_ints})
    mode: str = field(default="a", metadata={"help": "mode", "choices": ("a", "b")})
    hidden: int = 3


def _parse(argv):
    parser = argparse.ArgumentParser()
    add_dataclass_arguments(parser, Options)
    return values_from_args(parser.parse_args(argv), Options)


def test_only_given_options_are_returned():
    assert _parse([]) == {}
    assert Options(**_parse([])) == Options()


def test_types_flags_repeats_and_choices():
    values = _parse(["--crf", "20", "--scale", "1.5", "--no-audio", "--flat", "--channels", "1,2",
                     "--channels", "7", "--mode", "b"])
    assert values == {"crf": 20, "scale": 1.5, "audio": False, "flat": True, "channels": [1, 2, 7], "mode": "b"}
    assert isinstance(values["crf"], int) and isinstance(values["scale"], float)


def test_undocumented_fields_get_no_option():
    with pytest.raises(SystemExit):
        _parse(["--hidden", "4"])


def test_bad_choice_is_refused():
    with pytest.raises(SystemExit):
        _parse(["--mode", "c"])
