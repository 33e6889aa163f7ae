"""Configuration of the dream engine: one dataclass, presets, and settings read from TOML or a sidecar.

Every field is recorded in the output's JSON sidecar, so a result can be
reproduced from its sidecar alone (``--config OUTPUT.json`` reads it back).
"""
from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from .errors import UserError

OBJECTIVES = ("l2", "channels", "class", "guide")
POLE_METHODS = ("faces", "none")
PRECISIONS = ("fp32", "bf16")


def comma_names(text: str) -> List[str]:
    """'block8, block10' -> ['block8', 'block10']."""
    return [item.strip() for item in text.split(",") if item.strip()]


def comma_ints(text: str) -> List[int]:
    """'3,17,42' -> [3, 17, 42], or a one-line UserError."""
    try:
        return [int(item) for item in comma_names(text)]
    except ValueError:
        raise UserError(f"--channels must be comma-separated integers, not {text!r}") from None


@dataclass
class DreamConfig:
    """Everything that decides what the engine dreams.

    Step size is in 0-255 pixel units per iteration, applied to the gradient
    divided by its mean absolute value (the google/deepdream rule and value).
    """

    # fields with a "help" become `hallucinator dream` options (hallucinator.cli.args); the rest are set in a
    # --config file
    model: str = field(default="efficientnet-lite2", metadata={"help": "backbone (see `hallucinator models`)"})
    layers: List[str] = field(default_factory=lambda: ["block12"], metadata={
        "help": "layer to dream (repeat or comma-separate for several)", "flag": "--layer", "metavar": "NAME",
        "repeat": True, "parse": comma_names})
    objective: str = field(default="l2", metadata={
        "help": "what to maximise: the layers' energy (l2), --channels, a --class-index or a --guide's features",
        "choices": OBJECTIVES})
    channels: List[int] = field(default_factory=list, metadata={
        "help": "channel numbers for --objective channels, e.g. 3,17,42", "parse": comma_ints})
    class_index: Optional[int] = field(default=None, metadata={"help": "ImageNet class for --objective class"})
    guide: Optional[str] = field(default=None, metadata={"help": "guide image for --objective guide",
                                                         "metavar": "IMAGE"})
    octaves: int = field(default=4, metadata={"help": "image scales dreamed, smallest first"})
    octave_scale: float = field(default=1.4, metadata={"help": "size ratio between octaves (above 1)"})
    iterations: int = field(default=10, metadata={"help": "gradient steps per octave"})
    step_size: float = field(default=1.5, metadata={
        "help": "step in 0-255 pixel units on the mean-normalised gradient"})
    jitter: int = field(default=32, metadata={"help": "random shift in pixels (wraps in longitude only)"})
    seed: int = field(default=0, metadata={"help": "random seed of the jitter (same seed, same output)"})
    device: str = field(default="auto", metadata={"help": "auto, cpu, cuda or cuda:N"})
    precision: str = field(default="fp32", metadata={
        "help": "the network's arithmetic: fp32, or bf16 autocast (for GPUs with bfloat16; slow on most CPUs)",
        "choices": PRECISIONS})
    flat: bool = field(default=False, metadata={"help": "an ordinary picture, not a 360° panorama"})
    poles: str = field(default="faces", metadata={"help": "how the polar caps are dreamed", "choices": POLE_METHODS})
    pole_fov: float = 100.0               # field of view of the polar faces, degrees
    pole_blend: List[float] = field(default_factory=lambda: [42.0, 50.0])  # latitudes of the blend ramp
    tile_max_pixels: int = field(default=0, metadata={
        "help": "tile passes larger than this many pixels (0: automatic)"})
    tile_overlap: int = 0                 # margin of each tile in pixels (0: the layer's receptive radius)
    weights: Optional[str] = field(default=None, metadata={"help": "weights file for a torchvision backbone",
                                                           "metavar": "PATH"})

    def validate(self) -> "DreamConfig":
        if self.objective not in OBJECTIVES:
            raise UserError(f"unknown objective {self.objective!r}; choose one of {', '.join(OBJECTIVES)}")
        if self.precision not in PRECISIONS:
            raise UserError(f"unknown precision {self.precision!r}; choose one of {', '.join(PRECISIONS)}")
        if self.poles not in POLE_METHODS:
            raise UserError(f"unknown pole method {self.poles!r}; choose one of {', '.join(POLE_METHODS)}")
        if self.octaves < 1:
            raise UserError("--octaves must be at least 1")
        if self.octave_scale <= 1.0:
            raise UserError("--octave-scale must be greater than 1")
        if self.iterations < 0:
            raise UserError("--iterations must not be negative")
        if self.objective == "channels" and not self.channels:
            raise UserError("objective 'channels' needs --channels, e.g. --channels 3,17,42")
        if self.objective == "class" and self.class_index is None:
            raise UserError("objective 'class' needs --class-index N (an ImageNet class, 0-999)")
        if self.objective == "guide" and not self.guide:
            raise UserError("objective 'guide' needs --guide IMAGE")
        if self.step_size <= 0:
            raise UserError("--step-size must be positive (0-255 pixel units; 1.5 is the classic value)")
        if self.jitter < 0:
            raise UserError("--jitter must not be negative")
        if not self.layers:
            raise UserError("name at least one layer with --layer")
        if not 10.0 < self.pole_fov < 170.0:
            raise UserError("pole_fov must lie between 10 and 170 degrees")
        self._check_poles()
        return self

    def _check_poles(self) -> None:
        """The blend ramp is two rising latitudes, and the polar views reach where it starts."""
        blend = list(self.pole_blend)
        if len(blend) != 2 or not 0.0 < blend[0] < blend[1] < 90.0:
            raise UserError(f"pole_blend {blend} must be two latitudes in degrees with 0 < first < second < 90, "
                            "e.g. [42, 50]")
        need = 2 * (90.0 - blend[0])
        if self.poles == "faces" and self.pole_fov < need:
            raise UserError(f"pole_fov {self.pole_fov:g} is too narrow: the polar views must reach latitude "
                            f"{blend[0]:g} where pole_blend starts, or the sphere between is never dreamed; "
                            f"set pole_fov to at least {need:g} or pole_blend's first latitude to at least "
                            f"{90 - self.pole_fov / 2:g}")

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes) -> "DreamConfig":
        return dataclasses.replace(self, **changes)


# The 2017 Hallucination Machine ran on Caffe's GoogLeNet; torchvision's
# GoogLeNet has the same layer names with underscores dropped.
PRESETS: Dict[str, Dict[str, Any]] = {
    # the embedded default: works offline on a fresh machine
    "default": dict(model="efficientnet-lite2", layers=["block12"], octaves=4, octave_scale=1.4,
                    iterations=10, step_size=1.5, jitter=32),
    # google/deepdream notebook defaults
    "classic": dict(model="googlenet", layers=["inception4c"], octaves=4, octave_scale=1.4,
                    iterations=10, step_size=1.5, jitter=32),
    # Suzuki et al. 2017 preprocessor (DeepDreamVideoOpticalFlow example run)
    "hallucination-machine": dict(model="googlenet", layers=["inception4d.pool"], octaves=3,
                                  octave_scale=1.8, iterations=16, step_size=1.5, jitter=32),
    # quick look on the CPU
    "fast": dict(model="efficientnet-lite0", layers=["block8"], octaves=3, octave_scale=1.4,
                 iterations=6, step_size=2.0, jitter=32),
}


def preset(name: str) -> Dict[str, Any]:
    try:
        return dict(PRESETS[name])
    except KeyError:
        raise UserError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None


def load_config_file(path: str) -> Dict[str, Any]:
    """Read dream settings from a TOML file (a ``[dream]`` table or top level) or an output's JSON sidecar."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise UserError(f"cannot read config file {path}: {exc.strerror}; check the path") from None
    try:
        data = json.loads(text) if p.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"config file {path} is not valid {'JSON' if p.suffix == '.json' else 'TOML'}: {exc}") from None
    if "config" in data and isinstance(data["config"], dict):   # a sidecar
        data = data["config"]
    if "dream" in data and isinstance(data["dream"], dict):
        data = data["dream"]
    known = {f.name for f in dataclasses.fields(DreamConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise UserError(f"config file {path} has unknown keys {', '.join(unknown)}; valid keys: {', '.join(sorted(known))}")
    return data


def parse_size(text: str, option: str = "--size") -> "tuple[int, int]":
    """'1024x512' -> (1024, 512), or a one-line UserError naming the option."""
    try:
        w, h = (int(v) for v in str(text).lower().split("x"))
    except ValueError:
        raise UserError(f"{option} {text!r} is not WIDTHxHEIGHT; write e.g. 1024x512") from None
    if not (1 <= w <= 16384 and 1 <= h <= 16384):
        raise UserError(f"{option} {w}x{h} is out of range; use 1..16384 on each side")
    return w, h
