"""Protocols, counterbalancing, questionnaires and the simulated participant's conventions."""
from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from hallucinator.errors import UserError
from hallucinator.experiment import counterbalance as cb
from hallucinator.experiment.protocol import load_protocol, participant_number
from hallucinator.experiment.questionnaire import load_questionnaire
from hallucinator.experiment.timing import TimingTrial
from hallucinator.resources import resource_dir

SHIPPED = ["demo", "hm2017-exp1", "hm2017-exp2"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_protocols_load_and_are_blind(name):
    p = load_protocol(name)
    assert p.warnings == []
    assert set(p.order_conditions) == {"control", "dream"}
    for n in (1, 2):
        steps = p.schedule(p.order_for(n)[1])
        blocks = [s for s in steps if s.kind == "stimulus" or s.params.get("background") == "stimulus"]
        assert {s.condition for s in blocks} == {"control", "dream"}
        for s in steps:   # participant-facing text never names a condition
            text = str(s.params.get("text", ""))
            assert not re.search(r"\b(control|dream)\b", text, re.I), text


def test_demo_is_about_two_minutes():
    p = load_protocol("demo")
    steps = p.schedule(p.order_for(1)[1])
    video = sum(s.params["duration"] for s in steps if s.kind == "stimulus")
    assert 20 <= video <= 60
    assert [s.kind for s in steps].count("questionnaire") == 2


def test_exp1_replication_design():
    p = load_protocol("hm2017-exp1")
    kinds = [s["type"] for s in p.block]
    assert kinds.index("stimulus") < kinds.index("questionnaire")
    q = p.questionnaires["asc11d.toml"]
    assert q.needs_texts and len(q.dimensions) == 11


@pytest.mark.parametrize("k,scheme", [(2, "latin"), (3, "latin"), (4, "latin"), (5, "latin"), (3, "full")])
def test_counterbalancing_balanced_and_reproducible(k, scheme):
    conds = [f"c{i}" for i in range(k)]
    rows = len(cb.order_rows(conds, scheme))
    n = rows * 3
    orders = [cb.order_for(i, conds, scheme)[1] for i in range(1, n + 1)]
    again = [cb.order_for(i, conds, scheme)[1] for i in range(1, n + 1)]
    assert orders == again
    for order in orders:
        assert sorted(order) == sorted(conds)
    counts = cb.position_counts(orders)
    for c in conds:
        assert counts[c] == [n // k] * k, counts
    if scheme == "latin":   # Williams: every ordered pair follows equally often
        carry = cb.carryover_counts(orders)
        pairs = [(a, b) for a, b in itertools.permutations(conds, 2)]
        assert len({carry.get(pq, 0) for pq in pairs}) == 1, carry


def test_participant_numbers():
    assert participant_number("07") == 7
    assert participant_number("P12") == 12
    for bad in ("", "ab", "0", "sub-01", "a b"):
        with pytest.raises(UserError):
            participant_number(bad)


def _write(tmp_path, text):
    path = tmp_path / "p.toml"
    path.write_text(text)
    return path


BASE = """
[protocol]
name = "t"
[stimuli.s]
control = "c.mp4"
dream = "d.mp4"
[conditions.control]
stimulus = "s"
dose = 0.0
[conditions.dream]
stimulus = "s"
dose = 1.0
[[block]]
type = "stimulus"
duration = 1
"""


@pytest.mark.parametrize("extra,needle", [
    ("[[block]]\ntype = \"dance\"\n", "unknown step type"),
    ("[[block]]\ntype = \"production\"\ndurations = []\n", "durations"),
    ("[[block]]\ntype = \"questionnaire\"\nfile = \"nope.toml\"\n", "not found"),
    ("[[block]]\ntype = \"rest\"\n", "needs a duration"),
    ("[counterbalance]\nconditions = [\"control\", \"placebo\"]\n", "placebo"),
    ("[[intro]]\ntype = \"instructions\"\ntext = \"The dream video comes first\"\n", None),
])
def test_protocol_errors_are_one_line(tmp_path, extra, needle):
    path = _write(tmp_path, BASE + extra)
    if needle is None:    # a warning, not an error: condition name in participant text
        p = load_protocol(path)
        assert p.warnings and "dream" in p.warnings[0]
        return
    with pytest.raises(UserError) as exc:
        load_protocol(path)
    assert needle in str(exc.value) and "\n" not in str(exc.value)


@pytest.mark.parametrize("stim,needle", [
    ('live = "clip.mp4"\ncontrol = "c.mp4"\ndream = "d.mp4"', "give control and dream"),
    ('control = "c.mp4"\ndream = "d.mp4"\nlive_size = "64x32"', "apply to a live stimulus"),
    ('live = "clip.mp4"\nengine = "magic"', "magic"),
    ('live = "clip.mp4"\nlive_size = "huge"', "live_size"),
    ('live = "clip.mp4"\nengine = "gradient"\nstudent = "s.onnx"', "student"),
    ('control = "c.mp4"', "give control and dream"),
])
def test_stimulus_tables_are_checked(tmp_path, stim, needle):
    path = _write(tmp_path, BASE.replace('control = "c.mp4"\ndream = "d.mp4"', stim))
    with pytest.raises(UserError) as exc:
        load_protocol(path)
    assert needle in str(exc.value) and "\n" not in str(exc.value)


def test_a_live_stimulus_names_its_source_and_how_it_is_dreamed(tmp_path):
    for name in ("clip.mp4", "s.onnx"):      # found beside the protocol
        (tmp_path / name).write_bytes(b"")
    path = _write(tmp_path, BASE.replace('control = "c.mp4"\ndream = "d.mp4"',
                                         'live = "clip.mp4"\nlive_size = "384x192"\nstudent = "s.onnx"'))
    p = load_protocol(path)
    s = p.stimuli["s"]
    assert s.live == tmp_path / "clip.mp4" and s.control is None and s.dream is None
    assert s.live_options.engine == "student" and s.live_options.size == (384, 192)
    assert s.paths() == [tmp_path / "clip.mp4", tmp_path / "s.onnx"]
    p.override_stimulus("s.live", str(tmp_path / "other.mp4"))
    assert p.stimuli["s"].live == tmp_path / "other.mp4"


def test_dose_timeline(tmp_path):
    path = _write(tmp_path, BASE.replace("dose = 1.0", "dose_timeline = [[0, 0.0], [10, 1.0], [20, 1.0]]"))
    c = load_protocol(path).conditions["dream"]
    assert c.dose_at(0) == 0.0 and c.dose_at(5) == pytest.approx(0.5) and c.dose_at(30) == 1.0


def test_asc11d_scheme_matches_studerus_2010():
    q = load_questionnaire(resource_dir("experiments") / "asc11d.toml")
    assert len(q.items) == 42 and len({i.id for i in q.items}) == 42
    assert q.dimensions[0] == "Experience of unity" and len(q.dimensions) == 11
    sizes = {d: sum(i.dimension == d for i in q.items) for d in q.dimensions}
    assert sizes["Impaired control and cognition"] == 7 and sizes["Anxiety"] == 6
    assert sizes["Experience of unity"] == 5
    # scoring: mean of the dimension's items (0..100)
    answers = {i.id: (80.0 if i.dimension == "Elementary imagery" else 10.0) for i in q.items}
    scores = q.score(answers)
    assert scores["Elementary imagery"] == 80.0 and scores["Anxiety"] == 10.0


def test_questionnaire_texts_and_scoring(tmp_path):
    q = load_questionnaire(resource_dir("experiments") / "heq.toml")
    real = q.item("real")
    assert real.scale == "likert" and real.to_percent(7) == 100.0 and real.to_percent(1) == 0.0
    scores = q.score({"there": 50.0, "real": 4.0, "sick": 1.0})
    assert scores["Presence"] == pytest.approx(50.0) and scores["Discomfort"] == 0.0
    asc = load_questionnaire(resource_dir("experiments") / "asc11d.toml")
    texts = tmp_path / "t.tsv"
    texts.write_text("item\ttext\n" + "".join(f"{i.id}\tstatement {i.id}\n" for i in asc.items[:-1]))
    with pytest.raises(UserError, match="lacks items"):
        load_questionnaire(resource_dir("experiments") / "asc11d.toml", texts)
    texts.write_text("item\ttext\n" + "".join(f"{i.id}\tstatement {i.id}\n" for i in asc.items))
    full = load_questionnaire(resource_dir("experiments") / "asc11d.toml", texts)
    assert not full.needs_texts and full.items[0].text.startswith("statement")


def test_timing_trials_on_given_times():
    t = TimingTrial("production", 3.0)
    t.start(10.0)
    assert not t.key(10.5, "x")
    t.key(11.0, "space")
    t.key(14.2, "space")
    assert t.done and t.interval == pytest.approx(3.2)
    r = TimingTrial("reproduction", 2.0)
    r.start(0.0)
    r.key(0.5, "space")                # target on
    r.tick(1.0)
    assert r.phase == "target"
    r.tick(2.6)
    assert r.phase == "respond" and r.t_target_off == pytest.approx(2.5)
    r.key(3.0, "space")
    r.key(4.9, "space")
    assert r.done and r.interval == pytest.approx(1.9)
    assert "control" not in " ".join(r.screen()).lower()


def test_simulated_head_quaternions_follow_sphere_convention():
    from scipy.spatial.transform import Rotation
    from hallucinator.experiment.simulate import angular_speeds, quat_from_yaw_pitch
    yaw, pitch = np.array([30.0, -120.0, 5.0]), np.array([10.0, -40.0, 80.0])
    q = quat_from_yaw_pitch(yaw, pitch)
    # R = Ry(-yaw) @ Rx(pitch) (sphere.rotation_matrix with roll 0)
    ref = Rotation.from_euler("YX", np.stack([-yaw, pitch], 1), degrees=True).as_quat()  # x, y, z, w
    ref = ref[:, [3, 0, 1, 2]]
    assert np.allclose(np.abs(np.sum(q * ref, 1)), 1.0)
    # 90 degrees of yaw in one second
    sp = angular_speeds([0.0, 1.0], quat_from_yaw_pitch(np.array([0.0, 90.0]), np.array([0.0, 0.0])))
    assert sp[0] == pytest.approx(90.0)


def test_cli_validate_and_orders(capsys):
    from hallucinator.cli import main
    assert main(["experiment", "validate", "hm2017-exp2", "--no-files"]) == 0
    assert "ok" in capsys.readouterr().out
    assert main(["experiment", "orders", "demo", "6"]) == 0
    out = capsys.readouterr().out
    assert "control: [3, 3]" in out and "dream: [3, 3]" in out
    assert main(["experiment", "validate", "no-such-protocol"]) == 2


def test_shuffled_steps_are_reproducible(tmp_path):
    from hallucinator.experiment import bids
    from hallucinator.experiment.runner import RunOptions, run_session
    orders = []
    for ses in ("01", "02"):
        paths = run_session(RunOptions("hm2017-exp2", "04", session=ses, data=tmp_path, simulate=1, console=None))
        rows = [r for r in bids.read_tsv(paths.beh) if r["task"] == "production" and r["condition"] != "n/a"]
        orders.append([r["target"] for r in rows])
    assert orders[0] == orders[1]
    first_block = orders[0][:12]
    assert sorted(first_block) == sorted(["4", "1", "8", "2", "6", "3", "8", "1", "4", "6", "2", "3"])
    assert first_block != ["4", "1", "8", "2", "6", "3", "8", "1", "4", "6", "2", "3"]
