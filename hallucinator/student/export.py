"""The student to ONNX: the legacy (TorchScript) exporter with dynamic height and width, its card beside it.

The legacy exporter (``dynamo=False``) was measured here about 5x faster to export than the dynamo one and
runs the same.  The file carries a little metadata of its own (``train_size``, the architecture), so it says
what it is even without its card; the card (``student-*.json``, :func:`card_path`) holds the rest.
"""
from __future__ import annotations

import io
import json
import warnings
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import torch

from ..atomic import atomic_write_bytes
from ..provenance import write_sidecar
from .net import NetSpec, StudentNet

OPSET = 17
INPUT, OUTPUT = "frame", "residual"


def card_path(onnx_path) -> Path:
    """The card beside a student file: ``student-x.onnx`` -> ``student-x.json``."""
    return Path(onnx_path).with_suffix(".json")


def export_onnx(net: StudentNet, path, train_size: Tuple[int, int] = (512, 256),
                metadata: Optional[Dict[str, str]] = None) -> Path:
    """Write ``net`` as ONNX to ``path`` (atomically): input ``frame`` (N, 3, H, W) float in [0, 1], output
    ``residual`` (N, 3, H, W); N, H and W dynamic.  ``train_size`` is (w, h)."""
    import onnx

    net = net.eval().cpu()
    w, h = train_size
    dummy = torch.rand(1, 3, h, w)
    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the legacy exporter's notice, on purpose
        torch.onnx.export(net, (dummy,), buf, input_names=[INPUT], output_names=[OUTPUT], opset_version=OPSET,
                          dynamic_axes={INPUT: {0: "n", 2: "h", 3: "w"}, OUTPUT: {0: "n", 2: "h", 3: "w"}},
                          dynamo=False, do_constant_folding=True)
    model = onnx.load_from_string(buf.getvalue())
    meta = {"train_size": f"{w}x{h}", "net": json.dumps(net.spec.to_dict()), "producer": "hallucinator distill"}
    meta.update(metadata or {})
    for k, v in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, str(v)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, model.SerializeToString())
    return path


def write_card(onnx_path, card: Dict[str, Any]) -> Path:
    """Write the student's card (JSON) beside its ONNX file."""
    p = card_path(onnx_path)
    write_sidecar(p, card)
    return p


TINY = NetSpec(widths=(4, 8, 8), stem=4, blocks=1, out_scale=0.1)


def write_random_student(path, seed: int = 0, spec: NetSpec = TINY, train_size: Tuple[int, int] = (128, 64)) -> Path:
    """A tiny student with RANDOM weights, and its card: for tests, which must not need the shipped one."""
    torch.manual_seed(seed)
    net = StudentNet(spec)
    path = export_onnx(net, path, train_size=train_size)
    write_card(path, {"kind": "hallucinator student", "random_weights": True, "seed": seed,
                      "train_size": list(train_size), "net": spec.to_dict()})
    return path
