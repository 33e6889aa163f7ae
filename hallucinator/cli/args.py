"""Command-line options built from dataclass fields, so each option has one home: its field.

A field takes part when its ``metadata`` has a ``"help"`` entry.  Other keys:

``flag``     the option's name (default ``--`` + the field name with ``_`` as ``-``)
``dest``     the argparse destination (default the field name)
``metavar``, ``choices``, ``type``, ``action``
            as for ``argparse.add_argument``; ``type`` defaults to the field's own scalar type
``parse``    a function from the option's text to the field's value (for lists, sizes, ranges)
``repeat``   ``True``: the option may be given several times; values are collected in a list

Options default to ``None`` (flags too), so :func:`values_from_args` returns only what the user gave and
presets, config files and the dataclass defaults fill the rest.

Example::

    @dataclass
    class Options:
        crf: int = field(default=18, metadata={"help": "encoder quality, 0 lossless .. 51 worst"})
        audio: bool = field(default=True, metadata={"help": "drop the audio", "flag": "--no-audio",
                                                    "action": "store_false"})

    add_dataclass_arguments(parser, Options)
    Options(**values_from_args(parser.parse_args(), Options))
"""
from __future__ import annotations

import argparse
import dataclasses
import typing
from typing import Any, Dict

_SCALARS = {int: int, float: float, str: str}


def _options(cls):
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if "help" in f.metadata:
            yield f, hints.get(f.name)


def _scalar_type(hint):
    """int, float or str for a field typed ``int``, ``Optional[float]`` ...; None otherwise."""
    if hint in _SCALARS:
        return hint
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if len(args) == 1 and args[0] in _SCALARS and typing.get_origin(hint) is typing.Union:
        return args[0]
    return None


def _dest(f) -> str:
    return f.metadata.get("dest", f.name)


def add_dataclass_arguments(parser, cls) -> None:
    """Add one option per documented field of dataclass ``cls`` to ``parser`` (a parser or an argument group)."""
    for f, hint in _options(cls):
        meta = f.metadata
        flag = meta.get("flag", "--" + f.name.replace("_", "-"))
        kwargs: Dict[str, Any] = {"dest": _dest(f), "default": None, "help": meta["help"]}
        for key in ("metavar", "choices"):
            if key in meta:
                kwargs[key] = meta[key]
        if "action" in meta:
            kwargs["action"] = meta["action"]
        elif hint is bool:
            kwargs["action"] = "store_true"
        elif meta.get("repeat"):
            kwargs["action"] = "append"
        if kwargs.get("action") not in ("store_true", "store_false"):
            if "parse" in meta and not meta.get("repeat"):
                kwargs["type"] = meta["parse"]
            elif "type" in meta:
                kwargs["type"] = meta["type"]
            elif _scalar_type(hint) is not None and not meta.get("repeat"):
                kwargs["type"] = _scalar_type(hint)
        parser.add_argument(flag, **kwargs)


def values_from_args(args: argparse.Namespace, cls) -> Dict[str, Any]:
    """The fields of ``cls`` that were given on the command line, as ``{field name: value}``.

    Repeated options are passed through ``parse`` item by item (when given) and returned as one list.
    """
    values: Dict[str, Any] = {}
    for f, _ in _options(cls):
        value = getattr(args, _dest(f), None)
        if value is None:
            continue
        if f.metadata.get("repeat"):
            parse = f.metadata.get("parse")
            items = []
            for item in value:
                parsed = parse(item) if parse else item
                items.extend(parsed if isinstance(parsed, (list, tuple)) else [parsed])
            value = items
        values[f.name] = value
    return values
