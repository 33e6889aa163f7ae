"""Run a student in ONNX Runtime: the providers' choice, the session, a frame's residual and its dream.

>>> with Student() as s:                                   # doctest: +SKIP
...     out = s.dream(frame, size=(512, 256))              # uint8 HxWx3 -> uint8 HxWx3, same size

The session is made once; :meth:`Student.residual` and :meth:`Student.dream` may be called from one thread
(the live viewer's dreaming thread) while another thread draws.
"""
from __future__ import annotations

import json
import pathlib
import threading
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from ..errors import UserError
from ..provenance import sha256_file
from ..resources import resource_dir
from . import resize
from .net import aligned_size

PROVIDER_ORDER = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")
DEVICES = ("auto", "cpu", "cuda")
DEFAULT_STUDENT = "student-lite2-block12.onnx"


def _available() -> List[str]:
    import onnxruntime as ort

    return list(ort.get_available_providers())


def choose_providers(device: str = "auto") -> List[str]:
    """The providers to ask for, best first, among what the installed onnxruntime offers.

    ``auto``: TensorRT, CUDA, CPU, whichever are there; ``cpu``: the CPU only; ``cuda``: TensorRT and/or CUDA
    (then the CPU for any node they cannot run), a :class:`UserError` when the build has neither.
    """
    if device not in DEVICES:
        raise UserError(f"--device must be one of {', '.join(DEVICES)}, not {device!r}")
    available = _available()
    ordered = [p for p in PROVIDER_ORDER if p in available]
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device == "cuda":
        gpu = [p for p in ordered if p != "CPUExecutionProvider"]
        if not gpu:
            raise UserError("--device cuda: the installed onnxruntime has no CUDA or TensorRT provider; install "
                            "onnxruntime-gpu in place of onnxruntime (docs/student.md), or use --device cpu")
        return gpu + ["CPUExecutionProvider"]
    return ordered or ["CPUExecutionProvider"]


def default_student_path() -> pathlib.Path:
    """The shipped student (``models/student-lite2-block12.onnx``)."""
    return resource_dir("models") / DEFAULT_STUDENT


def _read_card(path: pathlib.Path, meta: Dict[str, str]) -> Dict[str, Any]:
    from .export import card_path

    cp = card_path(path)
    if cp.is_file():
        try:
            return json.loads(cp.read_text())
        except (OSError, ValueError) as e:
            raise UserError(f"student card {cp} is unreadable ({e}); restore it or delete it") from None
    card: Dict[str, Any] = {}
    if "train_size" in meta:
        card["train_size"] = [int(v) for v in meta["train_size"].split("x")]
    if "net" in meta:
        card["net"] = json.loads(meta["net"])
    return card


class Student:
    """A student network held in an ONNX Runtime session (a context manager; :meth:`close` frees it)."""

    def __init__(self, path=None, device: str = "auto", threads: Optional[int] = None):
        import onnxruntime as ort

        self.path = pathlib.Path(path) if path is not None else default_student_path()
        if not self.path.is_file():
            raise UserError(f"student file {self.path} not found; give an existing .onnx with --student, or "
                            f"make one with 'hallucinator distill'")
        requested = choose_providers(device)
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        if threads is not None:
            if threads < 1:
                raise UserError(f"threads must be at least 1, not {threads}")
            opts.intra_op_num_threads = int(threads)
            opts.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(str(self.path), sess_options=opts, providers=requested)
        except Exception as e:  # onnxruntime raises its own exception types for a bad file
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise UserError(f"student file {self.path} is not a usable ONNX model ({first[:160]}); "
                            f"give another with --student or rebuild it with 'hallucinator distill'") from None
        self.sha256: str = sha256_file(self.path)
        self.providers: List[str] = list(self._session.get_providers())
        meta = dict(self._session.get_modelmeta().custom_metadata_map)
        self.card: Dict[str, Any] = _read_card(self.path, meta)
        w, h = self.card.get("train_size", [512, 256])
        self.train_size: Tuple[int, int] = (int(w), int(h))
        self._input = self._session.get_inputs()[0].name
        self._lock = threading.Lock()

    # -- lifetime

    def close(self) -> None:
        self._session = None

    def __enter__(self) -> "Student":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def describe(self) -> Dict[str, Any]:
        """What a sidecar records about the student that made an output."""
        return {"path": str(self.path), "sha256": self.sha256, "providers": self.providers, "card": self.card}

    # -- inference

    def _run(self, frame: np.ndarray) -> np.ndarray:
        """Residual (h, w, 3) float32 of a uint8 frame whose sides are multiples of the net's alignment."""
        if self._session is None:
            raise RuntimeError("the student is closed")
        x = np.ascontiguousarray(frame.transpose(2, 0, 1)[None], dtype=np.float32)
        x *= np.float32(1.0 / 255.0)
        with self._lock:
            (out,) = self._session.run(None, {self._input: x})
        return np.ascontiguousarray(out[0].transpose(1, 2, 0))

    def residual(self, frame: np.ndarray) -> np.ndarray:
        """uint8 HxWx3 RGB equirect -> float32 HxWx3 residual at the frame's own size (1.0 = full scale).

        A frame whose sides are not multiples of the net's alignment is resized wrap-aware to the nearest
        size that is, and the residual resized back."""
        frame = _check_frame(frame)
        h, w = frame.shape[:2]
        wa, ha = aligned_size(w, h)
        if (wa, ha) == (w, h):
            return self._run(frame)
        return resize.enlarge(self._run(resize.shrink(frame, wa, ha)), w, h)

    def dream(self, frame: np.ndarray, size: Optional[Tuple[int, int]] = None, strength: float = 1.0) -> np.ndarray:
        """uint8 HxWx3 -> uint8 HxWx3 (same size): the frame plus ``strength`` times its residual.

        ``size=(w, h)`` dreams at that size: the frame is resized wrap-aware to it, and the residual enlarged
        wrap-aware onto the full frame."""
        return dream_at(self.residual, frame, size, strength)


def dream_at(residual_fn: Callable[[np.ndarray], np.ndarray], frame: np.ndarray,
             size: Optional[Tuple[int, int]] = None, strength: float = 1.0) -> np.ndarray:
    """``frame`` plus ``strength`` times ``residual_fn`` of it, dreamed at ``size`` (w, h; None: its own):
    the frame resized wrap-aware to that size, the residual enlarged wrap-aware onto the full frame."""
    frame = _check_frame(frame)
    h, w = frame.shape[:2]
    if size is None:
        return add_residual(frame, residual_fn(frame), strength)
    sw, sh = int(size[0]), int(size[1])
    if sw < 1 or sh < 1:
        raise UserError(f"dream size must be positive, not {sw}x{sh}")
    return add_residual(frame, resize.enlarge(residual_fn(resize.shrink(frame, sw, sh)), w, h), strength)


def add_residual(picture: np.ndarray, residual: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """uint8 ``picture`` plus ``strength`` times a residual (1.0 = full scale), rounded and clipped to uint8."""
    out = picture.astype(np.float32)
    out += residual * np.float32(255.0 * strength)
    np.rint(out, out=out)
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)


def _check_frame(frame: np.ndarray) -> np.ndarray:
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"a frame is uint8 HxWx3 RGB, not {frame.dtype} {frame.shape}")
    return frame


def load_student(path=None, device: str = "auto") -> Student:
    """:class:`Student` at ``path`` (default: the shipped one) on ``device``."""
    return Student(path, device=device)
