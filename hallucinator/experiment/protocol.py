"""Protocol files: what a session consists of, checked before anyone sits down.

A protocol is TOML (see ``experiments/*.toml`` and ``docs/experiments.md``)::

    [protocol]
    name = "demo"                 # task label in the BIDS file names (letters and digits)
    title = "..."                 # free text
    version = "1"

    [stimuli.campus]              # a control/dream pair (or `file = ...` for one 360 file, or `live = ...`
                                  # for a video dreamed as it plays: `engine`, `live_size`, `student`)
    control = "demo-out/control.mp4"
    dream = "demo-out/dream.mp4"

    [conditions.control]          # what the viewer shows: stimulus + dose (0 control .. 1 dream)
    stimulus = "campus"
    dose = 0.0
    [conditions.ramp]
    stimulus = "campus"
    dose_timeline = [[0, 0.0], [60, 1.0]]   # (seconds, dose) keyframes, linear in between

    [counterbalance]
    scheme = "latin"              # latin (Williams) | full | fixed
    conditions = ["control", "dream"]

    [[intro]]                     # steps before the blocks
    type = "instructions"
    text = "..."
    [[block]]                     # steps run once per condition, in the participant's order
    type = "stimulus"
    duration = 120
    [[block]]
    type = "questionnaire"
    file = "heq.toml"
    [[outro]]                     # steps after the blocks
    ...

Step types: ``instructions`` (text, wait, duration), ``stimulus`` (duration,
start, condition), ``questionnaire`` (file, texts), ``production`` and
``reproduction`` (durations, background = "blank" | "stimulus", iti),
``rest`` (duration, text).  ``shuffle = true`` on a questionnaire or timing
step presents its items / durations in an order drawn from the participant
number and the step (reproducible; the data keep item ids and targets).  Participant-facing texts may use ``{block}`` and
``{blocks}``; condition names are never shown.
"""
from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from ..config import parse_size
from ..errors import UserError
from ..live.options import LiveOptions
from ..resources import resource_dir
from . import counterbalance
from .questionnaire import Questionnaire, load_questionnaire

STEP_KEYS = {
    "instructions": {"text", "wait", "duration"},
    "stimulus": {"duration", "start", "condition"},
    "questionnaire": {"file", "texts", "shuffle"},
    "production": {"durations", "background", "iti", "text", "condition", "shuffle"},
    "reproduction": {"durations", "background", "iti", "text", "condition", "shuffle"},
    "rest": {"duration", "text"},
}
STIMULUS_FILES = ("control", "dream", "file", "live")   # the files a [stimuli.NAME] table names
LIVE_KEYS = ("engine", "live_size", "student")          # how a live stimulus is dreamed (LiveOptions)
TOP_KEYS = {"protocol", "stimuli", "conditions", "counterbalance", "intro", "block", "outro", "simulate"}
PARTS = ("intro", "block", "outro")


@dataclass
class Stimulus:
    """A matched ``control``/``dream`` pair, one ``file``, or a ``live`` source dreamed as it plays.

    A live source is its own control; ``live_options`` says how it is dreamed (engine, size, student)."""

    name: str
    control: Optional[Path] = None
    dream: Optional[Path] = None
    file: Optional[Path] = None
    live: Optional[Path] = None
    live_options: Optional[LiveOptions] = None

    def paths(self) -> List[Path]:
        student = self.live_options.student if self.live_options and self.live_options.student else None
        return [Path(p) for p in (self.control, self.dream, self.file, self.live, student) if p is not None]


@dataclass
class Condition:
    name: str
    stimulus: str
    dose: float = 1.0
    timeline: Optional[List[Tuple[float, float]]] = None

    def dose_at(self, t: float) -> float:
        """Dose at ``t`` seconds into the stimulus (timeline keyframes interpolate linearly)."""
        if not self.timeline:
            return self.dose
        pts = self.timeline
        if t <= pts[0][0]:
            return pts[0][1]
        for (t0, d0), (t1, d1) in zip(pts, pts[1:]):
            if t <= t1:
                return d0 + (d1 - d0) * (t - t0) / (t1 - t0) if t1 > t0 else d1
        return pts[-1][1]


@dataclass
class Step:
    index: int
    kind: str
    params: dict
    phase: str                    # intro | block | outro
    block: int = 0                # 1-based block number; 0 outside blocks
    condition: Optional[str] = None


@dataclass
class Protocol:
    name: str
    title: str
    path: Path
    text: str
    stimuli: Dict[str, Stimulus]
    conditions: Dict[str, Condition]
    scheme: str
    order_conditions: List[str]
    intro: List[dict]
    block: List[dict]
    outro: List[dict]
    simulate: dict = field(default_factory=dict)
    version: str = ""
    warnings: List[str] = field(default_factory=list)
    questionnaires: Dict[str, Questionnaire] = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def order_for(self, participant_number: int):
        return counterbalance.order_for(participant_number, self.order_conditions, self.scheme)

    def schedule(self, order: List[str]) -> List[Step]:
        steps: List[Step] = []
        for raw in self.intro:
            steps.append(Step(len(steps), raw["type"], raw, "intro"))
        for b, cond in enumerate(order, start=1):
            for raw in self.block:
                steps.append(Step(len(steps), raw["type"], raw, "block", b, raw.get("condition", cond)))
        for raw in self.outro:
            steps.append(Step(len(steps), raw["type"], raw, "outro", 0, raw.get("condition")))
        return steps

    def questionnaire(self, step_params: dict) -> Questionnaire:
        return self.questionnaires[step_params["file"]]

    def stimulus_for(self, condition: str) -> Stimulus:
        return self.stimuli[self.conditions[condition].stimulus]

    def override_stimulus(self, key: str, value: str) -> None:
        """Apply ``--stim NAME.KIND=PATH`` (KIND: control, dream, file or live)."""
        name, _, kind = key.partition(".")
        if name not in self.stimuli or kind not in STIMULUS_FILES:
            raise UserError(f"--stim {key}=...: use STIMULUS.control, STIMULUS.dream, STIMULUS.file or "
                            f"STIMULUS.live with a stimulus of the protocol ({', '.join(self.stimuli)})")
        setattr(self.stimuli[name], kind, Path(value).expanduser().resolve())

    def check_files(self, conditions: Optional[List[str]] = None) -> None:
        """Raise a UserError naming every stimulus file that is missing."""
        names = {self.conditions[c].stimulus for c in (conditions or self.conditions)}
        missing = [str(p) for n in sorted(names) for p in self.stimuli[n].paths() if not p.is_file()]
        if missing:
            raise UserError(f"stimulus files missing: {', '.join(missing)}; make them (e.g. `hallucinator demo "
                            "--out demo-out`) or point at others with --stim NAME.dream=PATH --stim NAME.control=PATH")


def participant_number(participant: str) -> int:
    """The number that picks a participant's order: the digits at the end of the ID (``07`` -> 7)."""
    if not re.fullmatch(r"[A-Za-z0-9]+", participant or ""):
        raise UserError(f"participant ID {participant!r} must be letters and digits only (BIDS label), e.g. 07")
    m = re.search(r"(\d+)$", participant)
    if not m or int(m.group(1)) < 1:
        raise UserError(f"participant ID {participant!r} must end in a number >= 1 (it picks the condition order), "
                        "e.g. 07 or P07")
    return int(m.group(1))


def participant_label(participant: str, data: Optional[Path] = None) -> str:
    """The BIDS label of a participant ID: a single digit gets a leading zero (``1`` -> ``01``, as in
    ``sub-01``); other IDs are kept as given.  A ``sub-1`` folder already in ``data`` (written before labels
    were padded) keeps its label, so ``--resume`` finds it."""
    participant_number(participant)
    if participant.isdigit() and len(participant) == 1:
        if data is not None and (Path(data) / f"sub-{participant}").is_dir():
            return participant
        return "0" + participant
    return participant


def _err(path, msg):
    raise UserError(f"{path}: {msg}")


def _resolve(path_str: str, base: Path) -> Path:
    p = Path(path_str).expanduser()
    if p.is_absolute():
        return p
    for root in (Path.cwd(), base):
        if (root / p).exists():
            return (root / p).resolve()
    return (Path.cwd() / p).resolve()


def _find_questionnaire(name: str, base: Path) -> Path:
    p = Path(name).expanduser()
    if p.is_absolute():
        return p
    for root in (base, Path.cwd()):
        if (root / p).is_file():
            return (root / p).resolve()
    try:
        shipped = resource_dir("experiments") / p
        if shipped.is_file():
            return shipped
    except FileNotFoundError:
        pass
    return (base / p)


def find_protocol(name: str) -> Path:
    """A protocol path, or the name of a shipped one (``demo`` -> experiments/demo.toml)."""
    p = Path(name).expanduser()
    if p.is_file():
        return p.resolve()
    try:
        shipped = resource_dir("experiments")
        for cand in (shipped / name, shipped / f"{name}.toml"):
            if cand.is_file():
                return cand
        names = sorted(x.stem for x in shipped.glob("*.toml") if _is_protocol(x))
    except FileNotFoundError:
        names = []
    raise UserError(f"protocol not found: {name}; give a path to a .toml file or one of: {', '.join(names)}")


def _is_protocol(path: Path) -> bool:
    try:
        return "protocol" in tomllib.loads(path.read_text(encoding="utf-8"))
    except Exception:
        return False


def _check_step(path, where, raw, conditions):
    if not isinstance(raw, dict) or "type" not in raw:
        _err(path, f"{where}: each step needs a type ({', '.join(STEP_KEYS)})")
    kind = raw["type"]
    if kind not in STEP_KEYS:
        _err(path, f"{where}: unknown step type {kind!r}; use one of {', '.join(STEP_KEYS)}")
    unknown = set(raw) - STEP_KEYS[kind] - {"type"}
    if unknown:
        _err(path, f"{where} ({kind}): unknown keys {sorted(unknown)}; allowed: {sorted(STEP_KEYS[kind])}")
    for key in ("duration", "start", "iti"):
        if key in raw and (not isinstance(raw[key], (int, float)) or raw[key] < 0):
            _err(path, f"{where} ({kind}): {key} must be a number of seconds >= 0")
    if kind in ("stimulus", "rest") and "duration" not in raw:
        _err(path, f"{where} ({kind}): needs a duration in seconds")
    if kind == "stimulus" and raw["duration"] <= 0:
        _err(path, f"{where} (stimulus): duration must be > 0 seconds")
    if kind == "instructions" and not str(raw.get("text", "")).strip():
        _err(path, f"{where} (instructions): needs a text")
    if kind == "instructions" and not raw.get("wait", True) and not raw.get("duration"):
        _err(path, f"{where} (instructions): wait = false needs a duration")
    if kind == "questionnaire" and not raw.get("file"):
        _err(path, f"{where} (questionnaire): needs file = \"...toml\"")
    if kind in ("production", "reproduction"):
        d = raw.get("durations")
        if not isinstance(d, list) or not d or not all(isinstance(x, (int, float)) and x > 0 for x in d):
            _err(path, f"{where} ({kind}): durations must be a non-empty list of seconds > 0")
        if raw.get("background", "blank") not in ("blank", "stimulus"):
            _err(path, f"{where} ({kind}): background must be \"blank\" or \"stimulus\"")
    if "shuffle" in raw and not isinstance(raw["shuffle"], bool):
        _err(path, f"{where} ({kind}): shuffle must be true or false")
    if "condition" in raw and raw["condition"] not in conditions:
        _err(path, f"{where}: condition {raw['condition']!r} is not defined under [conditions]")
    return kind


def _load_stimuli(path: Path, data: dict) -> Dict[str, Stimulus]:
    stimuli: Dict[str, Stimulus] = {}
    for sname, s in (data.get("stimuli") or {}).items():
        extra = set(s) - set(STIMULUS_FILES) - set(LIVE_KEYS)
        if extra:
            _err(path, f"[stimuli.{sname}]: unknown keys {sorted(extra)}; use control, dream (a pair), file or "
                       f"live (with {', '.join(LIVE_KEYS)})")
        kinds = [("control" in s and "dream" in s), "file" in s, "live" in s]
        if sum(kinds) != 1 or ("control" in s) != ("dream" in s):
            _err(path, f"[stimuli.{sname}]: give control and dream (a matched pair), file (one 360 video) or live "
                       "(a video dreamed as it plays)")
        if set(s) & set(LIVE_KEYS) and "live" not in s:
            _err(path, f"[stimuli.{sname}]: {', '.join(sorted(set(s) & set(LIVE_KEYS)))} apply to a live stimulus")
        stimuli[sname] = Stimulus(sname, *(_resolve(s[k], path.parent) if k in s else None for k in STIMULUS_FILES),
                                  live_options=_live_options(path, sname, s) if "live" in s else None)
    if not stimuli:
        _err(path, "needs at least one [stimuli.NAME] table")
    return stimuli


def _live_options(path: Path, sname: str, s: dict) -> LiveOptions:
    """How a live stimulus is dreamed: ``engine``, ``live_size`` ("WxH") and ``student`` (a file)."""
    try:
        return LiveOptions(engine=str(s.get("engine", "student")),
                           size=parse_size(str(s["live_size"]), "live_size") if "live_size" in s else None,
                           student=str(_resolve(s["student"], path.parent)) if "student" in s else None)
    except UserError as exc:
        _err(path, f"[stimuli.{sname}]: {exc.message}")


def _load_timeline(path: Path, cname: str, raw) -> List[Tuple[float, float]]:
    try:
        timeline = [(float(t), float(d)) for t, d in raw]
    except (TypeError, ValueError):
        _err(path, f"[conditions.{cname}]: dose_timeline must be [[seconds, dose], ...]")
    if not timeline or any(b[0] < a[0] for a, b in zip(timeline, timeline[1:])) or \
            any(not 0 <= d <= 1 for _, d in timeline):
        _err(path, f"[conditions.{cname}]: dose_timeline needs increasing times and doses in 0..1")
    return timeline


def _load_conditions(path: Path, data: dict, stimuli: Dict[str, Stimulus]) -> Dict[str, Condition]:
    conditions: Dict[str, Condition] = {}
    for cname, c in (data.get("conditions") or {}).items():
        extra = set(c) - {"stimulus", "dose", "dose_timeline"}
        if extra:
            _err(path, f"[conditions.{cname}]: unknown keys {sorted(extra)}; use stimulus, dose, dose_timeline")
        if c.get("stimulus") not in stimuli:
            _err(path, f"[conditions.{cname}]: stimulus must be one of {sorted(stimuli)}")
        dose = float(c.get("dose", 1.0))
        if not 0.0 <= dose <= 1.0:
            _err(path, f"[conditions.{cname}]: dose must be between 0 (control) and 1 (dream)")
        timeline = _load_timeline(path, cname, c["dose_timeline"]) if "dose_timeline" in c else None
        if timeline:
            dose = timeline[0][1]
        if stimuli[c["stimulus"]].file is not None and (dose not in (0.0, 1.0) or timeline):
            _err(path, f"[conditions.{cname}]: dose mixing needs a control/dream pair, not a single file")
        conditions[cname] = Condition(cname, c["stimulus"], dose, timeline)
    if not conditions:
        _err(path, "needs at least one [conditions.NAME] table")
    return conditions


def _load_counterbalance(path: Path, data: dict, conditions: Dict[str, Condition]) -> Tuple[str, List[str]]:
    """(scheme, conditions in the order the scheme permutes)."""
    cb = data.get("counterbalance") or {}
    scheme = cb.get("scheme", "latin")
    if scheme not in counterbalance.SCHEMES:
        _err(path, f"[counterbalance] scheme {scheme!r} unknown; use one of {', '.join(counterbalance.SCHEMES)}")
    order_conditions = list(cb.get("conditions", list(conditions)))
    for c in order_conditions:
        if c not in conditions:
            _err(path, f"[counterbalance] condition {c!r} is not defined under [conditions]")
    if len(set(order_conditions)) != len(order_conditions):
        _err(path, "[counterbalance] conditions repeat; list each once")
    if scheme == "full" and len(order_conditions) > 6:
        _err(path, "[counterbalance] full counterbalancing of more than 6 conditions needs > 720 participants; "
                   "use scheme = \"latin\"")
    return scheme, order_conditions


def _load_steps(path: Path, data: dict, conditions: Dict[str, Condition]) -> Dict[str, List[dict]]:
    """The checked steps of each part: intro, block, outro."""
    steps = {}
    for part in PARTS:
        seq = data.get(part, [])
        if not isinstance(seq, list):
            _err(path, f"{part} must be an array of tables: [[{part}]]")
        for i, raw in enumerate(seq):
            _check_step(path, f"[[{part}]] #{i + 1}", raw, conditions)
        steps[part] = seq
    if not steps["block"]:
        _err(path, "needs [[block]] steps (run once per condition in the participant's order)")
    if not any(s["type"] == "stimulus" or s.get("background") == "stimulus" for s in steps["block"]):
        _err(path, "the [[block]] steps never show the condition's stimulus; add a stimulus step")
    for part in ("intro", "outro"):
        for s in steps[part]:
            if s["type"] == "stimulus" and "condition" not in s:
                _err(path, f"a stimulus step in [[{part}]] needs condition = \"...\" (it is outside the blocks)")
    return steps


def _blinding_warnings(steps: Dict[str, List[dict]], conditions: Dict[str, Condition]) -> List[str]:
    """Participant-facing texts that name a condition."""
    warnings = []
    for part in PARTS:
        for s in steps[part]:
            for cname in conditions:
                if re.search(rf"\b{re.escape(cname)}\b", str(s.get("text", "")), re.IGNORECASE):
                    warnings.append(f"[[{part}]] {s['type']} text contains the condition name {cname!r}; "
                                    "participants should not see condition names")
    return warnings


def _load_questionnaires(steps: Dict[str, List[dict]], base: Path) -> Dict[str, Questionnaire]:
    out: Dict[str, Questionnaire] = {}
    for part in PARTS:
        for s in steps[part]:
            if s["type"] == "questionnaire" and s["file"] not in out:
                texts = _resolve(s["texts"], base) if s.get("texts") else None
                out[s["file"]] = load_questionnaire(_find_questionnaire(s["file"], base), texts)
    return out


def load_protocol(path, load_questionnaires: bool = True) -> Protocol:
    """Read and validate a protocol file; every problem is a one-line UserError."""
    path = find_protocol(str(path))
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: not valid TOML ({exc}); fix the file") from None
    unknown = set(data) - TOP_KEYS
    if unknown:
        _err(path, f"unknown top-level tables {sorted(unknown)}; allowed: {sorted(TOP_KEYS)}")
    head = data.get("protocol") or {}
    name = str(head.get("name", ""))
    if not re.fullmatch(r"[A-Za-z0-9]+", name):
        _err(path, "[protocol] name must be letters and digits only (it is the BIDS task label), e.g. name = \"demo\"")
    stimuli = _load_stimuli(path, data)
    conditions = _load_conditions(path, data, stimuli)
    scheme, order_conditions = _load_counterbalance(path, data, conditions)
    steps = _load_steps(path, data, conditions)
    proto = Protocol(name, str(head.get("title", name)), path, text, stimuli, conditions, scheme,
                     order_conditions, steps["intro"], steps["block"], steps["outro"],
                     dict(data.get("simulate") or {}), str(head.get("version", "")),
                     _blinding_warnings(steps, conditions))
    if load_questionnaires:
        proto.questionnaires = _load_questionnaires(steps, path.parent)
    return proto
