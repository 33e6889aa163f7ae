"""Live dreaming: each frame of a file or a camera dreamed as the viewer plays it.

``options`` (what to dream with), ``engines`` (the student net or the gradient engine warm-started along
the flow), ``camera`` (``camera:N`` sources), ``pipeline`` (the dream thread between the decoder and the
player, and the matching control) and ``bench`` (``hallucinator bench live``).
"""
