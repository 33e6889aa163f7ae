"""Steps and respondents without a window: a person's keys on a scripted display and clock; the dose log."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from hallucinator.experiment import bids
from hallucinator.experiment.display import Display, Input
from hallucinator.experiment.protocol import STEP_KEYS
from hallucinator.experiment.questionnaire import Item
from hallucinator.experiment.respondents.base import SessionAborted
from hallucinator.experiment.respondents.human import HumanRespondent
from hallucinator.experiment.runner import RunOptions, run_session
from hallucinator.experiment.screens import Screen, Slider, slider_value_at
from hallucinator.experiment.steps import STEP_KINDS
from hallucinator.experiment.steps.stimulus import DOSE_LOG_RESOLUTION
from hallucinator.experiment.steps.timing_task import TimingTask
from hallucinator.experiment.timing import TimingTrial

PACKAGE = Path(__file__).resolve().parents[1] / "hallucinator"


class ScriptedClock:
    """A session clock that moves only when the display waits."""
    virtual = False

    def __init__(self):
        self.t = 0.0

    def now(self):
        return self.t

    def sleep(self, seconds):
        self.t += max(0.0, seconds)

    def lsl(self, t):
        return t


class ScriptedDisplay(Display):
    """Input given in advance, each event delivered at the first poll on or after its time."""
    size = (1000, 500)

    def __init__(self, clock, inputs):
        self.clock = clock
        self.pending = sorted(inputs, key=lambda ev: ev.t)
        self.shown = []

    def show(self, screen):
        self.shown.append(screen)

    def poll(self):
        due = [ev for ev in self.pending if ev.t <= self.clock.now()]
        self.pending = self.pending[len(due):]
        return due

    def wait(self, seconds):
        self.clock.sleep(seconds)


def _person(*inputs, start=0.0):
    clock = ScriptedClock()
    clock.t = start
    return HumanRespondent(ScriptedDisplay(clock, list(inputs)), clock)


def _keys(*pairs):
    return [Input(t, "key", k) for t, k in pairs]


def _screen_for(item):
    return lambda value: Screen(slider=Slider(value, item.minimum, item.maximum, points=item.points
                                              if item.scale == "likert" else 0))


VAS = Item("v", "text", "dim", "vas")
LIKERT = Item("l", "text", "dim", "likert", points=7)


def test_rating_with_arrow_keys_starts_in_the_middle():
    person = _person(*_keys((0.1, "enter"), (0.2, "right"), (0.3, "right"), (0.4, "right"), (0.5, "enter")))
    r = person.rate(_screen_for(VAS), VAS, 0.0)
    assert r.value == 54.0 and r.t == 0.5 and r.time == 0.5     # Enter before any answer is not an answer
    person = _person(*_keys((0.2, "left"), (0.3, "left"), (0.4, "left"), (0.5, "space")))
    assert person.rate(_screen_for(LIKERT), LIKERT, 0.0).value == 2.0
    person = _person(*_keys((0.2, "right"), *[(0.3 + 0.01 * i, "right") for i in range(10)], (0.5, "enter")))
    assert person.rate(_screen_for(LIKERT), LIKERT, 0.0).value == 7.0          # held at the end of the scale


def test_rating_with_digits_and_the_mouse():
    person = _person(*_keys((0.2, "9"), (0.3, "3"), (0.4, "enter")))
    assert person.rate(_screen_for(LIKERT), LIKERT, 0.0).value == 3.0          # 9 is not a point of a 7-point item
    x = 700.0
    person = _person(Input(0.2, "click", "", x, 340.0), _keys((0.3, "enter"))[0])
    assert person.rate(_screen_for(VAS), VAS, 0.0).value == 78.6     # track from 15 % to 85 % of the width
    assert slider_value_at(x, 1000, 500, Slider(None, points=7)) == 6.0


def test_keys_before_the_screen_or_before_min_time_do_not_close_it():
    person = _person(*_keys((4.9, "space"), (5.5, "space"), (5.8, "x"), (6.2, "enter")), start=5.0)
    r = person.acknowledge(Screen(body="read me"), min_time=1.0)
    assert (r.onset, r.t, r.key) == (5.0, 6.2, "enter")
    held = _person(*_keys((0.5, "space")))
    r = held.hold(Screen(body="rest"), 2.0)
    assert r.onset == 0.0 and r.time == pytest.approx(2.0, abs=0.01)       # keys do not end a fixed screen


@pytest.mark.parametrize("action", ["acknowledge", "rate", "hold", "timing"])
def test_escape_stops_every_kind_of_wait(action):
    person = _person(*_keys((0.3, "escape")))
    with pytest.raises(SessionAborted):
        if action == "acknowledge":
            person.acknowledge(Screen(body="x"))
        elif action == "rate":
            person.rate(_screen_for(VAS), VAS, 0.0)
        elif action == "hold":
            person.hold(Screen(body="x"), 5.0)
        else:
            person.perform_timing(TimingTask([TimingTrial("production", 1.0)], 0.5, None, lambda tr: None))


def test_timing_trials_take_the_key_times_and_wait_out_the_interval():
    done = []
    trials = [TimingTrial("production", 2.0, 1), TimingTrial("reproduction", 1.0, 2)]
    task = TimingTask(trials, 0.5, None, done.append)
    person = _person(*_keys((1.0, "space"), (3.25, "space"),                   # production: 2.25 s
                            (3.5, "space"),                                    # in the pause: ignored
                            (4.0, "space"),                                    # reproduction: target on for 1 s
                            (5.5, "space"), (6.4, "space")))                   # reproduced: 0.9 s
    person.perform_timing(task)
    assert [tr.number for tr in done] == [1, 2]
    assert done[0].t_start == 1.0 and done[0].interval == pytest.approx(2.25)
    assert done[1].t_target_on == 4.0 and done[1].t_target_off == pytest.approx(5.0)
    assert done[1].interval == pytest.approx(0.9)
    assert task.done


def test_every_step_type_of_the_protocol_schema_has_a_step_module():
    assert set(STEP_KINDS) == set(STEP_KEYS)


def _dose_step_definitions():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            targets = node.targets if isinstance(node, ast.Assign) else \
                [node.target] if isinstance(node, ast.AnnAssign) else []
            if any(isinstance(t, ast.Name) and t.id == "DOSE_STEP" for t in targets):
                found.append(path.relative_to(PACKAGE).as_posix())
    return found


def test_the_dose_dial_step_has_one_home_in_the_viewer():
    # the experiment once defined its own DOSE_STEP = 0.05 next to the viewer's 0.1
    assert _dose_step_definitions() == ["viewer/dose.py"]


RAMP = """
[protocol]
name = "ramp"
[stimuli.s]
control = "c.mp4"
dream = "d.mp4"
[conditions.up]
stimulus = "s"
dose_timeline = [[0, 0.0], [10, 1.0]]
[counterbalance]
scheme = "fixed"
[[block]]
type = "stimulus"
duration = 12
"""


def test_a_dose_ramp_is_logged_at_the_log_resolution(tmp_path):
    """Dose changes are logged every DOSE_LOG_RESOLUTION of dose: finer than the viewer's dial step."""
    from hallucinator.viewer.dose import DOSE_STEP
    assert DOSE_LOG_RESOLUTION == 0.05 and DOSE_STEP > DOSE_LOG_RESOLUTION
    proto = tmp_path / "ramp.toml"
    proto.write_text(RAMP)
    paths = run_session(RunOptions(str(proto), "1", data=tmp_path / "data", simulate=1, console=None))
    doses = [float(r["dose"]) for r in bids.read_tsv(paths.events) if r["trial_type"] == "dose_change"]
    steps = [b - a for a, b in zip([0.0] + doses, doses)]
    assert doses[-1] == 1.0 and 18 <= len(doses) <= 20, doses
    # at 10 frames/s the ramp moves 0.01 a frame: a row each time it has moved 0.05 (one frame late at most),
    # and one when it reaches 1
    assert all(DOSE_LOG_RESOLUTION - 1e-6 <= s <= DOSE_LOG_RESOLUTION + 0.01 + 1e-6 for s in steps[:-1]), steps
    assert 0 < steps[-1] <= DOSE_LOG_RESOLUTION + 0.01 + 1e-6


def test_hints_in_the_headset_name_the_controller_not_the_keys():
    """Every hint a step shows reads, in the headset, with the controller's words (trigger, thumbstick)."""
    from hallucinator.experiment.screens import CONTINUE_HINT
    from hallucinator.experiment.steps.questionnaire import item_screen
    from hallucinator.viewer.xr_actions import headset_hint

    class Q:
        title, items = "Q", [None]

    def item(scale, points):
        return type("I", (), dict(points=points, scale=scale, minimum=0, maximum=100, anchors=(), labels=(),
                                  text="t", id="a"))()

    hints = [CONTINUE_HINT, item_screen(Q, item("vas", 0), 0, None).hint,
             item_screen(Q, item("likert", 5), 0, None).hint]
    for hint in hints:
        said = headset_hint(hint)
        assert "trigger" in said and not any(k in said for k in ("SPACE", "Enter", "arrow", "mouse")), said
    assert "thumbstick" in headset_hint(hints[1]) and "thumbstick" in headset_hint(hints[2])
