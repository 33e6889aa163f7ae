"""The viewer's playback keys: one table from a key press to what it does.

Looking around (drag, arrows, +/-, wheel, 0) belongs to the pose source
(:class:`.pose.MouseKeyboardPose`); these keys drive playback itself.
"""
from __future__ import annotations

from enum import Enum
from functools import lru_cache
from typing import Dict, Optional, Tuple

SEEK_STEP_S = 5.0     # PgUp/PgDn and shift+left/right jump this far


class Action(Enum):
    STOP = "stop"
    PAUSE = "pause"
    SEEK_FORWARD = "seek forward"
    SEEK_BACK = "seek back"
    RESTART = "restart"
    DOSE_UP = "dose up"
    DOSE_DOWN = "dose down"
    DOSE_TIMELINE = "dose back to the timeline"
    STATUS = "status line"
    FULLSCREEN = "fullscreen"
    LOOP = "loop"


# (GLFW key name, shift held, taken on key repeat too, action)
BINDINGS = (
    ("KEY_ESCAPE", False, True, Action.STOP),
    ("KEY_Q", False, True, Action.STOP),
    ("KEY_SPACE", False, False, Action.PAUSE),
    ("KEY_PAGE_DOWN", False, True, Action.SEEK_FORWARD),
    ("KEY_RIGHT", True, True, Action.SEEK_FORWARD),
    ("KEY_PAGE_UP", False, True, Action.SEEK_BACK),
    ("KEY_LEFT", True, True, Action.SEEK_BACK),
    ("KEY_HOME", False, True, Action.RESTART),
    ("KEY_RIGHT_BRACKET", False, True, Action.DOSE_UP),
    ("KEY_LEFT_BRACKET", False, True, Action.DOSE_DOWN),
    ("KEY_BACKSLASH", False, True, Action.DOSE_TIMELINE),
    ("KEY_H", False, True, Action.STATUS),
    ("KEY_F", False, True, Action.FULLSCREEN),
    ("KEY_L", False, True, Action.LOOP),
)


@lru_cache(maxsize=1)
def _table() -> Dict[Tuple[int, bool], Tuple[bool, Action]]:
    import glfw

    return {(getattr(glfw, name), shift): (repeat, action) for name, shift, repeat, action in BINDINGS}


def action_for(event) -> Optional[Action]:
    """The playback action of a window event (:class:`.app.Event`), or None."""
    import glfw

    if event.kind != "key" or event.action not in (glfw.PRESS, glfw.REPEAT):
        return None
    shift = bool(event.mods & glfw.MOD_SHIFT)
    hit = _table().get((event.key, shift)) or _table().get((event.key, False))
    if hit is None:
        return None
    repeat, action = hit
    return action if repeat or event.action == glfw.PRESS else None
