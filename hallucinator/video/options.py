"""What a video run is asked to do: how the dream is carried from frame to frame, and everything else.

* :class:`BlendParams` decides how the previous dream is carried into the
  next frame (part of the dream cache key); :data:`BLEND_PRESETS` names the
  two schedules.
* :class:`VideoOptions` holds the rest of a run that is not the dream
  configuration: frame range, size, encoder, outputs, cache, stereo.

Fields whose metadata has a ``"help"`` are command-line options of
``hallucinator dream`` (built by :mod:`hallucinator.cli.args`); the command
line gives ``--frames``, ``--size``, ``--blend`` and ``--stereo`` as words,
which :func:`parse_frames`, :func:`~hallucinator.config.parse_size`,
:data:`BLEND_PRESETS` and :func:`~hallucinator.io.probe.parse_stereo` turn
into the fields' values.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Dict, Optional, Tuple

from ..errors import UserError
from ..io.probe import STEREO_CHOICES, Stereo
from .flow import FlowParams


@dataclass(frozen=True)
class BlendParams:
    """How the previous dream is carried into the next frame (part of the dream cache key)."""

    name: str = "coherent"
    moving: float = field(default=0.9, metadata={    # kept fraction of the warped residual where things move
        "help": "kept fraction of the warped dream where things move (0.9)", "flag": "--blend-moving",
        "dest": "blend_moving", "metavar": "F"})
    static: float = field(default=0.9, metadata={    # kept fraction of the unwarped residual where nothing moves
        "help": "kept fraction of the dream where nothing moves", "flag": "--blend-static", "dest": "blend_static",
        "metavar": "F"})
    motion_threshold: float = field(default=0.5, metadata={   # a 0-255 level when motion_normalised
        "help": "flow magnitude (pixels) above which a pixel moves", "metavar": "PX"})
    motion_normalised: bool = False  # the 2017 rule: magnitude scaled per frame to 0-255
    occlusion: bool = True           # drop the residual where the forward-backward check fails
    occlusion_levels: float = field(default=0.0, metadata={   # 0: the forward-backward check alone
        "help": "drop the carried dream only where the forward-backward check fails and the warped previous "
                "frame also misses by more than L grey levels (default 0: the check alone; see docs/video.md)",
        "flag": "--occlusion-levels", "metavar": "L"})
    warm_iterations: Optional[int] = field(default=None, metadata={
        "help": "iterations per octave on carried frames (default (1 - moving) x iterations, at least 1)",
        "metavar": "N"})
    normalise_strength: bool = field(default=True, metadata={   # keep the residual's strength at the cold frame's
        "help": "do not hold the carried dream's strength at the first frame's", "flag": "--no-normalise-strength",
        "action": "store_false"})
    reset_fraction: float = 0.5      # start a new chain when more than this fraction is occluded (a cut)
    interpolation: str = "cubic"     # warping the residual: cubic keeps its detail (linear blurs it frame by frame)
    flow: FlowParams = FlowParams()

    def to_dict(self) -> dict:
        return asdict(self)

    def is_cut(self, occluded: float) -> bool:
        """A frame more than ``reset_fraction`` occluded from its previous one: the chain starts afresh there."""
        return occluded > self.reset_fraction

    def validate(self) -> "BlendParams":
        """Refuse kept fractions outside [0, 1]; returns ``self``."""
        for name in ("moving", "static"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise UserError(f"--blend-{name} must lie between 0 and 1")
        if self.occlusion_levels < 0:
            raise UserError(f"--occlusion-levels {self.occlusion_levels:g} is negative; give 0 (the check alone) "
                            "or a number of grey levels, e.g. 4")
        return self

    def warm_iters(self, iterations: int) -> int:
        if self.warm_iterations is not None:
            return max(0, int(self.warm_iterations))
        return max(1, int(round((1.0 - self.moving) * iterations)))


BLEND_PRESETS: Dict[str, BlendParams] = {
    "coherent": BlendParams(),
    # Suzuki et al. 2017 preprocessor ratios and flow (see REFERENCE.md), with the two things it lacked:
    # occlusion handling and a schedule that keeps the strength stable.
    "hallucination-machine": BlendParams(
        name="hallucination-machine", moving=0.9, static=0.1, motion_threshold=6.0, motion_normalised=True,
        flow=FlowParams(method="farneback")),
}


def blend_preset(name: str, **overrides) -> BlendParams:
    """The named preset with some fields changed, checked."""
    if name not in BLEND_PRESETS:
        raise UserError(f"unknown --blend {name!r}; choose one of {', '.join(BLEND_PRESETS)}")
    blend = BLEND_PRESETS[name]
    return (replace(blend, **overrides) if overrides else blend).validate()


def parse_frames(text: Optional[str]) -> Optional[Tuple[int, Optional[int]]]:
    """``"A:B"`` -> ``(A, B)`` (B excluded; ``"A:"`` runs to the end); empty -> ``None`` (every frame)."""
    if not text:
        return None
    try:
        a, _, b = text.partition(":")
        start = int(a) if a.strip() else 0
        stop = int(b) if b.strip() else None
    except ValueError:
        raise UserError(f"--frames {text!r} must be A:B (frame numbers, B excluded), e.g. 0:100 or 50:") from None
    if start < 0 or (stop is not None and stop <= start):
        raise UserError(f"--frames {text!r} is empty or negative; give A:B with 0 <= A < B")
    return start, stop


@dataclass
class VideoOptions:
    """Everything about a video run that is not the dream configuration."""

    frames: Optional[Tuple[int, Optional[int]]] = field(default=None, metadata={   # [A, B)
        "help": "dream frames A (included) to B (excluded), e.g. 0:250", "metavar": "A:B", "type": str})
    size: Optional[Tuple[int, int]] = field(default=None, metadata={                # (W, H) per eye, 2:1
        "help": "working and output size per eye, 2:1 (default: the source's)", "metavar": "WxH", "type": str})
    codec: str = field(default="libx264", metadata={
        "help": "video codec (H.264/H.265; default libx264)", "choices": ("libx264", "libx265")})
    crf: int = field(default=18, metadata={"help": "encoder quality, 0 lossless .. 51 worst (default 18)"})
    latitude_qp: bool = field(default=True, metadata={
        "help": "quantise every row alike (default: coarser toward the poles, where equirectangular rows are "
                "oversampled; see docs/video.md)", "flag": "--uniform-qp", "action": "store_false"})
    x264_preset: str = field(default="medium", metadata={
        "help": "encoder speed preset (default medium)", "metavar": "PRESET"})
    png_dir: Optional[str] = field(default=None, metadata={
        "help": "also (or only) write the dream as a PNG sequence", "metavar": "DIR"})
    control: Optional[str] = field(default=None, metadata={
        "help": "also write the source through the same decode/scale/encode chain, dream off",
        "metavar": "CONTROL.mp4"})
    cache_dir: Optional[str] = field(default=None, metadata={
        "help": "where pyramids, flows and dreamed frames are cached (default ~/.cache/hallucinator, "
                "or $HALLUCINATOR_CACHE)", "metavar": "DIR"})
    independent: bool = field(default=False, metadata={"help": "dream every frame alone (no temporal carry)"})
    blend: BlendParams = field(default=BlendParams(), metadata={
        "help": "temporal blend preset (default coherent; hallucination-machine: the 2017 ratios)",
        "choices": tuple(sorted(BLEND_PRESETS))})
    stereo: Optional[Stereo] = field(default=None, metadata={    # None: read the layout from the file
        "help": "input layout: auto reads the file's stereo metadata; top-bottom (tb) dreams each eye",
        "choices": STEREO_CHOICES})
    to_2to1: bool = field(default=False, metadata={
        "help": "scale a full panorama stored at another aspect (e.g. 16:9) to 2:1", "flag": "--to-2to1"})
    audio: bool = field(default=True, metadata={
        "help": "do not copy the audio stream", "flag": "--no-audio", "action": "store_false"})
    threads: int = field(default=0, metadata={
        "help": "CPU threads for the engine (default: torch's)", "metavar": "N"})
    quality_frames: int = 3       # frames on which the seam/pole figures are computed
    progress: bool = True

    def to_dict(self) -> dict:
        """The options as recorded in sidecars (stereo as its word, ``auto`` when read from the file)."""
        d = asdict(self)
        d["blend"] = self.blend.to_dict()
        d["stereo"] = self.stereo.value if self.stereo else "auto"
        return d
