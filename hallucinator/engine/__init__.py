"""The dream engine: gradient ascent on a frozen CNN's layer, octave by octave, correct on the sphere.

``dream`` holds the octave loop (:class:`Dreamer`), ``passes`` the band and
polar views of each step and their blend, ``tiles`` the tiled gradient,
``objectives`` what is maximised, ``identity`` what names an engine's output
(known without loading it), ``reference`` the plain textbook algorithm
and ``device`` the choice of torch device.  All geometry lives in
:mod:`hallucinator.sphere`.
"""
from .device import resolve_device
from .dream import Dreamer
from .reference import reference_dream

__all__ = ["Dreamer", "reference_dream", "resolve_device"]
