"""The student: a small feed-forward network distilled from the dream engine, run in ONNX Runtime.

``net`` is the network (PyTorch, for training), ``export`` writes it as ONNX with its card, ``runtime`` runs
it (:class:`Student`, the providers' choice), ``resize`` holds the run time's fast wrap-aware resizes,
``teacher`` makes and caches the engine's dreams to learn from, ``train`` the distillation loop and
``evaluate`` the held-out figures.
"""
from .runtime import PROVIDER_ORDER, Student, choose_providers, default_student_path, load_student

__all__ = ["PROVIDER_ORDER", "Student", "choose_providers", "default_student_path", "load_student"]
