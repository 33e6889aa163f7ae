"""What the runner needs from a screen, behind one small interface.

:class:`Display` is the interface:

* ``show(screen)``       draw a participant-facing :class:`~.screens.Screen` now
* ``poll()``             input since the last call: a list of :class:`Input` (time on the session clock)
* ``wait(seconds)``      sleep until input may have arrived or ``seconds`` pass (the input stays for ``poll``)
* ``play(request, on_frame)`` play a stimulus for ``request.duration`` seconds; ``on_frame(t, quat, dose)``
                         is called per displayed frame (return False to stop early); returns a :class:`PlayResult`
* ``size``, ``close()``; a display is a context manager that closes it

Implementations: :class:`NullDisplay` (no window: simulated sessions that do
not wait, and piloting without a GPU) and
:class:`~.viewer_bridge.ViewerDisplay` (the viewer's window: screens are
images blended over the whole window, stimuli play through ``Viewer.play``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence, Tuple

from .screens import Screen


@dataclass
class Input:
    t: float                 # session clock
    kind: str                # "key" | "click" | "move"
    key: str = ""            # key name: space, enter, left, right, escape, 1..9, a..z
    x: float = 0.0           # pixels (mouse)
    y: float = 0.0


@dataclass
class PlayRequest:
    dream: Optional[str]
    control: Optional[str]
    file: Optional[str]
    duration: float
    dose: Callable[[float], float]            # seconds into the stimulus -> dose
    dose_keys: Sequence[Tuple[float, float]] = ((0.0, 1.0),)  # the same as (seconds, dose) keyframes
    start: float = 0.0                        # seconds into the video file
    pose: Optional[Callable[[float], Sequence[float]]] = None   # scripted head pose (simulation); None: live
    overlay: Optional[Callable[[float], Optional[Screen]]] = None  # drawn over the video (timing tasks)
    on_input: Optional[Callable[[Input], None]] = None           # keys during playback
    live: Optional[object] = None             # LiveOptions: ``file`` is dreamed as it plays (its own control)


@dataclass
class PlayResult:
    onset: float             # session time of the first displayed frame
    duration: float          # seconds until the last frame
    frames: int = 0
    dropped: int = 0
    aborted: bool = False    # Escape pressed or the window closed: the operator stops the session
    clock_pairs: List[Tuple[float, float]] = field(default_factory=list)  # (lsl time, playback time)
    dreamed: Optional[int] = None   # a live stimulus: frames the live engine dreamed


class Display:
    size: Tuple[int, int] = (1280, 720)
    frame_rate: Optional[float] = None      # nominal frames per second of ``play`` (None: not known)
    tracking_system: Optional[str] = None   # where the head poses come from, when not the viewer's own

    def __enter__(self) -> "Display":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def show(self, screen: Screen) -> None:
        raise NotImplementedError

    def poll(self) -> List[Input]:
        raise NotImplementedError

    def wait(self, seconds: float) -> None:
        raise NotImplementedError

    def play(self, request: PlayRequest, on_frame) -> PlayResult:
        raise NotImplementedError

    def close(self) -> None:
        pass


class NullDisplay(Display):
    """No window.  ``play`` steps through the stimulus at ``rate`` Hz on the session clock
    (a virtual clock makes that instant), calling ``on_frame`` with the scripted pose."""

    def __init__(self, clock, rate: float = 10.0):
        self.clock = clock
        self.rate = self.frame_rate = rate
        self.shown: List[Screen] = []

    def show(self, screen: Screen) -> None:
        self.shown.append(screen)
        if len(self.shown) > 50:
            del self.shown[:25]

    def poll(self) -> List[Input]:
        return []

    def wait(self, seconds: float) -> None:
        time.sleep(seconds)

    def play(self, request: PlayRequest, on_frame) -> PlayResult:
        onset = self.clock.now()
        dt = 1.0 / self.rate
        n = int(round(request.duration * self.rate))
        frames = 0
        for i in range(n + 1):
            t = i * dt
            target = onset + t
            wait = target - self.clock.now()
            if wait > 0:
                self.clock.sleep(wait)
            quat = request.pose(t) if request.pose else (1.0, 0.0, 0.0, 0.0)
            frames += 1
            if on_frame(self.clock.now(), quat, request.dose(t)) is False:
                break
        return PlayResult(onset, self.clock.now() - onset, frames, 0)


# ---------------------------------------------------------------------------
# key names (GLFW codes -> the names the runner uses)

KEY_NAMES = {}


def key_names():
    import glfw
    if not KEY_NAMES:
        for name, code in (("space", glfw.KEY_SPACE), ("enter", glfw.KEY_ENTER), ("enter", glfw.KEY_KP_ENTER),
                           ("left", glfw.KEY_LEFT), ("right", glfw.KEY_RIGHT), ("up", glfw.KEY_UP),
                           ("down", glfw.KEY_DOWN), ("escape", glfw.KEY_ESCAPE), ("backspace", glfw.KEY_BACKSPACE),
                           ("pageup", glfw.KEY_PAGE_UP), ("pagedown", glfw.KEY_PAGE_DOWN)):
            KEY_NAMES[code] = name
        for k in range(10):
            KEY_NAMES[glfw.KEY_0 + k] = str(k)
            KEY_NAMES[glfw.KEY_KP_0 + k] = str(k)
        for k in range(26):
            KEY_NAMES[glfw.KEY_A + k] = chr(ord("a") + k)
    return KEY_NAMES
