"""Controller input through an OpenXR action set, turned into the window's key events.

Two actions: ``select`` (a button: the trigger or A/X, or the simple
controller's select) becomes SPACE, and ``thumbstick`` (x, y) becomes the
left/right (up/down) arrow keys, pressed when the stick passes half way and
repeated every :data:`REPEAT_S` while it is held.  So a participant answers
every screen (continue, slider, Likert, timing key) with a controller exactly
as with the keyboard, and the viewer's input path stays one.

Bindings are suggested for ``/interaction_profiles/khr/simple_controller``,
``oculus/touch_controller`` and ``valve/index_controller``; a profile the
runtime does not know is skipped.  Input times are the time of the frame in
which the actions were synced (at most one display frame late).
"""
from __future__ import annotations

import time
from typing import Callable, List, Optional

REPEAT_S = 0.15         # held thumbstick: one more arrow press this often
STICK_THRESHOLD = 0.5   # how far the stick must move to press an arrow

HANDS = ("/user/hand/left", "/user/hand/right")
BINDINGS = {
    "/interaction_profiles/khr/simple_controller": {
        "select": [f"{h}/input/select/click" for h in HANDS]},
    "/interaction_profiles/oculus/touch_controller": {
        "select": [f"{h}/input/trigger/value" for h in HANDS] + ["/user/hand/right/input/a/click",
                                                                  "/user/hand/left/input/x/click"],
        "thumbstick": [f"{h}/input/thumbstick" for h in HANDS]},
    "/interaction_profiles/valve/index_controller": {
        "select": [f"{h}/input/trigger/click" for h in HANDS] + [f"{h}/input/a/click" for h in HANDS],
        "thumbstick": [f"{h}/input/thumbstick" for h in HANDS]},
}

# how a screen's keyboard hint reads in the headset: the keys it names, as the controller gives them (in order)
HEADSET_WORDS = (
    ("the left/right arrow keys or the mouse", "the thumbstick"),
    ("the arrow keys / mouse", "the thumbstick"),
    ("SPACE", "the trigger"),
    ("Enter", "the trigger"),
)


def headset_hint(hint: str) -> str:
    """A screen's hint for the participant in the headset: the controller's words for the keys it names."""
    for keys, controller in HEADSET_WORDS:
        hint = hint.replace(keys, controller)
    return hint


class XRActions:
    """The action set, attached to ``session``; :meth:`sync` returns the key presses since the last sync."""

    def __init__(self, xr, instance, session, stack):
        self.xr = xr
        self.instance, self.session = instance, session
        self.action_set = xr.create_action_set(instance, xr.ActionSetCreateInfo(
            action_set_name="hallucinator", localized_action_set_name="Hallucinator", priority=0))
        stack.callback(self._destroy)
        self.select = xr.create_action(self.action_set, xr.ActionCreateInfo(
            action_name="select", action_type=xr.ActionType.BOOLEAN_INPUT, localized_action_name="Select"))
        self.stick = xr.create_action(self.action_set, xr.ActionCreateInfo(
            action_name="thumbstick", action_type=xr.ActionType.VECTOR2F_INPUT, localized_action_name="Thumbstick"))
        self.profiles = self._suggest()
        xr.attach_session_action_sets(session, xr.SessionActionSetsAttachInfo(action_sets=[self.action_set]))
        self.stick_keys = StickKeys()

    def _destroy(self):
        try:
            self.xr.destroy_action_set(self.action_set)
        except self.xr.exception.XrException:
            pass

    def _suggest(self) -> List[str]:
        """Suggest each profile's bindings; returns the profiles the runtime accepted."""
        xr = self.xr
        actions = {"select": self.select, "thumbstick": self.stick}
        accepted = []
        for profile, table in BINDINGS.items():
            try:
                bindings = [xr.ActionSuggestedBinding(actions[name], xr.string_to_path(self.instance, path))
                            for name, paths in table.items() for path in paths]
                xr.suggest_interaction_profile_bindings(self.instance, xr.InteractionProfileSuggestedBinding(
                    interaction_profile=xr.string_to_path(self.instance, profile), suggested_bindings=bindings))
            except xr.exception.XrException:
                continue
            accepted.append(profile)
        return accepted

    def current_profiles(self) -> List[str]:
        """The interaction profiles of the controllers the runtime bound (empty: no controllers)."""
        xr = self.xr
        out = []
        for hand in HANDS:
            try:
                state = xr.get_current_interaction_profile(self.session, xr.string_to_path(self.instance, hand))
            except xr.exception.XrException:
                continue
            if state.interaction_profile:
                out.append(xr.path_to_string(self.instance, state.interaction_profile))
        return out

    def sync(self, emit: Callable[[str, bool], None], now: Optional[float] = None):
        """Sync the actions (call once per frame while the session is focused); ``emit(key, repeat)`` for
        each key press: ``space`` for select, ``left``/``right``/``up``/``down`` for the thumbstick."""
        xr = self.xr
        now = time.monotonic() if now is None else now
        xr.sync_actions(self.session, xr.ActionsSyncInfo(active_action_sets=[xr.ActiveActionSet(self.action_set,
                                                                                               xr.NULL_PATH)]))
        sel = xr.get_action_state_boolean(self.session, xr.ActionStateGetInfo(action=self.select))
        if sel.is_active and sel.changed_since_last_sync and sel.current_state:
            emit("space", False)
        stick = xr.get_action_state_vector2f(self.session, xr.ActionStateGetInfo(action=self.stick))
        x, y = (stick.current_state.x, stick.current_state.y) if stick.is_active else (0.0, 0.0)
        self.stick_keys.update(x, y, now, emit)


class StickKeys:
    """A thumbstick as arrow keys: a press when it passes :data:`STICK_THRESHOLD`, a repeat every
    :data:`REPEAT_S` while it is held there, nothing once it is released."""

    def __init__(self):
        self._held: dict = {}     # arrow name -> time of its last press

    def update(self, x: float, y: float, now: float, emit: Callable[[str, bool], None]):
        """The stick is at (x, y) at time ``now``: ``emit(key, repeat)`` the presses that makes."""
        pressed = set()
        if abs(x) >= STICK_THRESHOLD:
            pressed.add("right" if x > 0 else "left")
        if abs(y) >= STICK_THRESHOLD:
            pressed.add("up" if y > 0 else "down")
        for key in list(self._held):
            if key not in pressed:
                del self._held[key]
        for key in sorted(pressed):
            last = self._held.get(key)
            if last is None:
                self._held[key] = now
                emit(key, False)
            elif now - last >= REPEAT_S:
                self._held[key] = now
                emit(key, True)
