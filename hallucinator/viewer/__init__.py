"""The 360° viewer: window or OpenXR headset, head tracking, dose dial, pose logs, export.

Start with :class:`hallucinator.viewer.app.Viewer` (Python API) or ``hallucinator view`` (CLI);
docs/viewer.md describes both.
"""
