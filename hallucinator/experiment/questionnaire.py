"""Questionnaires: item files, answers and dimension scores.

A questionnaire file is TOML::

    [questionnaire]
    name = "heq"                       # short name, used in the data
    title = "After the video"          # shown to the participant
    instructions = "..."               # shown before the first item
    scale = "vas"                      # default scale of the items: "vas" or "likert"
    anchors = ["not at all", "extremely"]
    points = 7                         # default number of Likert points

    [[item]]
    id = "vis"                         # unique within the file
    text = "The colours and shapes around me changed."
    dimension = "visual alteration"
    scale = "vas"                      # optional: overrides the default
    reverse = false                    # optional: score = max - answer

or a *scoring scheme* without texts (``[dimensions]`` maps each dimension to
item numbers; the items are then ``<prefix><number>`` with empty texts, to be
supplied by the lab with a ``texts`` file: a TSV with columns ``item`` and
``text``).  The shipped ``asc11d.toml`` is such a scheme.

Visual-analogue answers are 0..100.  Likert answers are 1..points; for
scoring they are mapped onto 0..100 so that dimensions mix freely.  A
dimension score is the mean of its items' 0..100 scores.
"""
from __future__ import annotations

import csv
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from ..errors import UserError

SCALES = ("vas", "likert")


@dataclass
class Item:
    id: str
    text: str
    dimension: str
    scale: str = "vas"
    points: int = 7
    anchors: Sequence[str] = ("not at all", "extremely")
    labels: Sequence[str] = ()
    reverse: bool = False

    @property
    def minimum(self) -> float:
        return 0.0 if self.scale == "vas" else 1.0

    @property
    def maximum(self) -> float:
        return 100.0 if self.scale == "vas" else float(self.points)

    def to_percent(self, answer: float) -> float:
        """The answer on 0..100, reversed where the item says so."""
        lo, hi = self.minimum, self.maximum
        pct = (float(answer) - lo) / (hi - lo) * 100.0
        return 100.0 - pct if self.reverse else pct


@dataclass
class Questionnaire:
    name: str
    title: str
    items: List[Item]
    instructions: str = ""
    path: Optional[Path] = None
    needs_texts: bool = False
    citation: str = ""
    dimension_order: List[str] = field(default_factory=list)

    @property
    def dimensions(self) -> List[str]:
        seen = list(self.dimension_order)
        for item in self.items:
            if item.dimension not in seen:
                seen.append(item.dimension)
        return seen

    def item(self, item_id: str) -> Item:
        for it in self.items:
            if it.id == item_id:
                return it
        raise KeyError(item_id)

    def with_texts(self, texts: Dict[str, str]) -> "Questionnaire":
        missing = [it.id for it in self.items if not texts.get(it.id, "").strip()]
        if missing:
            raise UserError(f"the texts file for {self.name} lacks items {', '.join(missing[:6])}"
                            f"{' ...' if len(missing) > 6 else ''}; add a row per item (columns: item, text)")
        items = [Item(**{**it.__dict__, "text": texts[it.id].strip()}) for it in self.items]
        return Questionnaire(self.name, self.title, items, self.instructions, self.path, False,
                             self.citation, self.dimension_order)

    def score(self, answers: Dict[str, float]) -> Dict[str, float]:
        """Dimension scores (0..100 means) from ``{item id: raw answer}``; dimensions without answers are left out."""
        sums: Dict[str, List[float]] = {}
        for it in self.items:
            if it.id in answers and answers[it.id] is not None:
                sums.setdefault(it.dimension, []).append(it.to_percent(answers[it.id]))
        return {d: sum(v) / len(v) for d, v in sums.items()}


def _fail(path, msg):
    raise UserError(f"{path}: {msg}")


def load_texts(path: Path) -> Dict[str, str]:
    """Item texts from a TSV with columns ``item`` and ``text``."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"questionnaire texts file not found: {path}; give a TSV with columns item and text")
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    if not rows or "item" not in rows[0] or "text" not in rows[0]:
        raise UserError(f"{path}: needs a header row with columns item and text (tab-separated)")
    return {r["item"].strip(): r["text"] for r in rows}


def load_questionnaire(path: Path, texts: Optional[Path] = None) -> Questionnaire:
    """Read and check a questionnaire file (and optional item texts)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"questionnaire file not found: {path}; check the path in the protocol")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: not valid TOML ({exc}); fix the file") from None
    head = data.get("questionnaire")
    if not isinstance(head, dict) or not head.get("name"):
        _fail(path, "needs a [questionnaire] table with a name")
    default_scale = head.get("scale", "vas")
    anchors = tuple(head.get("anchors", ("not at all", "extremely")))
    points = int(head.get("points", 7))
    items: List[Item] = []
    needs_texts = False
    order: List[str] = []
    if "dimensions" in data:
        prefix = head.get("item_prefix", "item")
        width = int(head.get("item_digits", 2))
        for dim, numbers in data["dimensions"].items():
            order.append(dim)
            for n in numbers:
                items.append(Item(f"{prefix}{int(n):0{width}d}", "", dim, default_scale, points, anchors))
        items.sort(key=lambda it: it.id)
        needs_texts = True
    for i, raw in enumerate(data.get("item", [])):
        unknown = set(raw) - {"id", "text", "dimension", "scale", "points", "anchors", "labels", "reverse"}
        if unknown:
            _fail(path, f"item {i + 1} has unknown keys {sorted(unknown)}; allowed: id, text, dimension, scale, "
                        "points, anchors, labels, reverse")
        for key in ("id", "text", "dimension"):
            if not str(raw.get(key, "")).strip():
                _fail(path, f"item {i + 1} needs a non-empty {key!r}")
        scale = raw.get("scale", default_scale)
        if scale not in SCALES:
            _fail(path, f"item {raw['id']}: scale {scale!r} unknown; use 'vas' or 'likert'")
        items.append(Item(str(raw["id"]), str(raw["text"]), str(raw["dimension"]), scale,
                          int(raw.get("points", points)), tuple(raw.get("anchors", anchors)),
                          tuple(raw.get("labels", ())), bool(raw.get("reverse", False))))
    if not items:
        _fail(path, "has no items ([[item]] entries or a [dimensions] table)")
    ids = [it.id for it in items]
    dups = sorted({x for x in ids if ids.count(x) > 1})
    if dups:
        _fail(path, f"item ids repeat: {', '.join(dups)}; make them unique")
    for it in items:
        if it.scale == "likert" and it.points < 2:
            _fail(path, f"item {it.id}: a Likert item needs points >= 2")
        if it.labels and len(it.labels) != it.points:
            _fail(path, f"item {it.id}: {len(it.labels)} labels for {it.points} points")
    q = Questionnaire(str(head["name"]), str(head.get("title", head["name"])), items,
                      str(head.get("instructions", "")), path, needs_texts, str(head.get("citation", "")), order)
    if texts is not None:
        q = q.with_texts(load_texts(texts))
    return q
