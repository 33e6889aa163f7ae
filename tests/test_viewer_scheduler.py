"""Playback logic without OpenGL, threads or real time: the frame scheduler on a fake clock, the dose dial,
the key table, the control lockstep, the redraw policy and the playback request."""
from __future__ import annotations

import pytest

from hallucinator.errors import UserError
from hallucinator.io.probe import Stereo
from hallucinator.viewer.dose import DOSE_STEP, DoseDial, DoseTimeline
from hallucinator.viewer.frames import EOF, Frame
from hallucinator.viewer.request import PlaybackRequest, resolve_stereo
from hallucinator.viewer.scheduler import ControlLockstep, FrameScheduler, RedrawPolicy

FPS = 25
PERIOD = 1 / FPS
CLIP = 500          # frames in the fake clip (20 s, like the battle clip)


class FakeDecoder:
    """Frames of a CLIP-frame clip at FPS from ``start_s``, handed out in order as the decode thread would.

    ``times``: the frames' times (variable frame rate); ``loop``: wrap around at the end instead of EOF.
    """

    def __init__(self, start_s=0.0, loop=False, times=None):
        self.times = times or [k / FPS for k in range(CLIP)]
        self.index = next(k for k, t in enumerate(self.times) if t >= start_s - 0.5 / FPS)
        self.loop_count = 0
        self.loop = loop

    def get(self):
        if self.index >= len(self.times):
            if not self.loop:
                return EOF
            self.index, self.loop_count = 0, self.loop_count + 1
        f = Frame(self.index, self.times[self.index], None, self.loop_count)
        self.index += 1
        return f


def play(sched, decoder, t0=0.0, render_s=0.005, max_frames=None, until=None):
    """The realtime loop as the player runs it, on a fake clock: (shown records, clock at the end, why it ended).

    Drawing and presenting a frame takes ``render_s`` of clock time; with nothing to draw the loop sleeps
    until the next frame is due (at most 20 ms).
    """
    t, shown = t0, []
    sched.prime(decoder.get())
    while True:
        new = sched.take_due(t, decoder.get)
        if sched.ended(t, new is not None):
            return shown, t, "end"
        if until is not None and t >= until:
            return shown, t, "duration"
        if new is None:
            t += max(1e-4, min(sched.wait_s(t), 0.02))
            continue
        shown.append(sched.presented(new, t))
        t += render_s
        if max_frames is not None and len(shown) >= max_frames:
            return shown, t, "frames"


def scheduler(loop=False, realtime=True, duration=CLIP / FPS, frame_count=CLIP):
    return FrameScheduler(FPS, duration, frame_count, realtime=realtime, loop=loop)


# -- realtime ------------------------------------------------------------------------------------

def test_every_frame_shown_on_time_when_drawing_keeps_up():
    shown, _, why = play(scheduler(), FakeDecoder(), max_frames=40)
    assert why == "frames"
    assert [s.index for s in shown] == list(range(40))
    assert sum(s.dropped for s in shown) == 0 and not any(s.late for s in shown)
    # the clock and the shown frame agree within one frame, and no frame is shown before its time
    assert all(-1e-4 <= s.offset_s < PERIOD for s in shown)
    assert [s.frame_time for s in shown] == pytest.approx([k * PERIOD for k in range(40)])


def test_slow_drawing_drops_frames_and_stays_with_the_clock():
    """Drawing takes 90 ms (longer than two frames): frames are dropped, counted, and the picture keeps up."""
    shown, t, _ = play(scheduler(), FakeDecoder(), render_s=0.09, until=1.5)
    dropped = sum(s.dropped for s in shown)
    assert dropped > 10
    assert dropped == shown[-1].index + 1 - len(shown)      # every frame was shown or counted as dropped
    assert not any(s.late for s in shown) and max(abs(s.offset_s) for s in shown) < PERIOD
    indices = [s.index for s in shown]
    assert indices == sorted(set(indices))


def test_late_frame_counted_when_the_decoder_falls_behind():
    """A frame that reaches the loop more than a period after its time is shown (nothing newer) but late."""
    sched = scheduler()
    dec = FakeDecoder()
    sched.prime(dec.get())
    assert sched.presented(sched.take_due(0.0, dec.get), 0.0).late is False
    # frame 1 only arrives at 0.2 s (decoder stalled); frames 2.. are not decoded yet
    arriving = iter([Frame(1, 0.04, None)])
    f1 = sched.take_due(0.2, lambda: next(arriving, None))
    shown = sched.presented(f1, 0.2)
    assert shown.late and shown.dropped == 0 and shown.offset_s == pytest.approx(0.16)


def test_playback_ends_after_the_last_frame_had_its_period():
    shown, t, why = play(scheduler(), FakeDecoder(start_s=19.4), t0=19.4)
    assert why == "end" and [s.index for s in shown] == list(range(485, 500))
    assert sum(s.dropped for s in shown) == 0
    assert 20.0 <= t < 20.0 + 0.021     # the clock ran on past the sound until frame 499's period was over


def test_loop_wraps_to_frame_zero_on_one_timeline():
    shown, _, _ = play(scheduler(loop=True), FakeDecoder(start_s=19.6, loop=True), t0=19.6, max_frames=15)
    assert [s.index for s in shown] == list(range(490, 500)) + list(range(0, 5))
    assert sum(s.dropped for s in shown) == 0 and max(abs(s.offset_s) for s in shown) < PERIOD
    assert shown[10].frame_time == pytest.approx(20.0)       # frame 0 of the second pass


def test_drops_counted_across_the_loop_point():
    sched = scheduler(loop=True)
    sched.presented(Frame(497, 497 * PERIOD, None, 0), 497 * PERIOD)
    assert sched.presented(Frame(2, 2 * PERIOD, None, 1), 20.08).dropped == 4      # 498, 499, 0, 1


def test_drops_counted_by_index_on_a_variable_frame_rate():
    """Uneven frame times (VFR): frames between two shown ones are counted by index, not by time x fps."""
    times = [0.0, 0.04, 0.05, 0.2, 0.21, 0.5]
    sched = FrameScheduler(FPS, 0.54, len(times))
    dec = FakeDecoder(times=times)
    sched.prime(dec.get())
    sched.presented(sched.take_due(0.0, dec.get), 0.0)
    f = sched.take_due(0.205, dec.get)           # 1, 2 and 3 are due; 3 is the newest
    assert f.index == 3 and sched.presented(f, 0.205).dropped == 2


def test_first_frame_shown_before_the_clock_reaches_it():
    """After a seek to 3.0 s the decoder's first frame may be at 3.02 s: it is shown at once, not waited for."""
    sched = scheduler()
    sched.prime(Frame(76, 3.04, None))
    assert sched.take_due(3.0, lambda: None).index == 76


def test_seek_forgets_pending_frames_and_drops_nothing_across_it():
    sched = scheduler()
    dec = FakeDecoder()
    sched.prime(dec.get())
    sched.presented(sched.take_due(0.0, dec.get), 0.0)
    assert sched.take_due(0.0, dec.get) is None and sched.pending.index == 1
    sched.seek()
    assert sched.pending is None
    dec.index = 125
    f = sched.take_due(5.0, dec.get)
    assert f.index == 125 and sched.presented(f, 5.0).dropped == 0


def test_wait_until_the_next_frame():
    sched = scheduler()
    dec = FakeDecoder()
    sched.prime(dec.get())
    sched.take_due(0.0, dec.get)
    assert sched.take_due(0.01, dec.get) is None
    assert sched.wait_s(0.01) == pytest.approx(0.03)
    assert scheduler().wait_s(0.0) == 0.002          # nothing decoded yet: look again soon


# -- every frame once, stills ---------------------------------------------------------------------

def test_every_frame_mode_shows_all_frames_whatever_the_clock():
    sched = scheduler(realtime=False)
    dec = FakeDecoder(start_s=19.0)
    sched.prime(dec.get())
    got = []
    while (f := sched.take_next(dec.get)) is not None:
        got.append(f.index)
        assert sched.presented(f, 0.0).dropped == 0
    assert got == list(range(475, 500)) and sched.ended(0.0, False)


def test_every_frame_mode_reports_a_stalled_decoder():
    sched = scheduler(realtime=False)
    with pytest.raises(UserError, match="stalled"):
        sched.take_next(lambda: None)


def test_a_still_is_shown_once_and_never_ends():
    sched = FrameScheduler(0.0, 0.0, 1, realtime=True, still=True)
    sched.prime(Frame(0, 0.0, None))
    assert sched.take_due(0.0, lambda: pytest.fail("a still has no decoder")).index == 0
    assert sched.take_due(100.0, lambda: None) is None
    assert not sched.ended(100.0, False) and sched.presented(sched.current, 5.0).dropped == 0


# -- redraws without a new video frame -----------------------------------------------------------------

def redraws(policy, still, dose_at, seconds=0.3, step=0.001):
    n, t = 0, 0.0
    while t < seconds:
        dose = dose_at(t)
        if policy.due(t, new=False, changed=False, still=still, dose=dose):
            policy.drawn(t, dose)
            n += 1
        t += step
    return n


def test_continuous_pose_sources_redraw_at_the_display_rate():
    # the loop looks every 1 ms, so a redraw comes every 12 ms (the first pass after 1/90 s): 0, 12, ... 288 ms
    assert redraws(RedrawPolicy(1 / 90, continuous=True), still=True, dose_at=lambda t: 1.0) == 25


def test_dose_ramp_over_a_still_redraws_and_a_constant_one_does_not():
    ramp = DoseTimeline.parse("0s:0 -> 0.3s:1")
    assert redraws(RedrawPolicy(1 / 90), still=True, dose_at=ramp.value) == 25
    assert redraws(RedrawPolicy(1 / 90), still=True, dose_at=lambda t: 1.0) == 1    # the first draw only
    assert redraws(RedrawPolicy(1 / 90), still=False, dose_at=ramp.value) == 1      # videos: on new frames


def test_input_and_new_frames_always_redraw():
    p = RedrawPolicy(1 / 90)
    p.drawn(0.0, 1.0)
    assert p.due(0.001, new=True, changed=False, still=False, dose=1.0)
    assert p.due(0.001, new=False, changed=True, still=False, dose=1.0)
    assert not p.due(0.001, new=False, changed=False, still=False, dose=1.0)


# -- dream/control lockstep -------------------------------------------------------------------------------

def control_feed(indices):
    frames = iter([Frame(i, i * PERIOD, None) for i in indices] + [EOF])
    return lambda timeout: next(frames)


def test_control_follows_the_dream_frame_by_frame():
    lock = ControlLockstep(control_feed(range(20)))
    for i in (0, 1, 4, 5, 9):   # the dream dropped 2, 3, 6, 7, 8
        assert lock.frame_for(Frame(i, i * PERIOD, None)).index == i


def test_control_ahead_or_ended_keeps_its_last_frame():
    lock = ControlLockstep(control_feed([0, 1, 3]))
    assert lock.frame_for(Frame(0, 0, None)).index == 0
    assert lock.frame_for(Frame(2, 0, None)).index == 1     # the control has no frame 2
    assert lock.frame_for(Frame(3, 0, None)).index == 3
    assert lock.frame_for(Frame(4, 0, None)).index == 3     # the control ended


def test_stalled_control_is_a_user_error():
    lock = ControlLockstep(lambda timeout: None, "the control video c.mp4")
    with pytest.raises(UserError, match="c.mp4 stalled"):
        lock.frame_for(Frame(0, 0, None))


# -- dose dial ---------------------------------------------------------------------------------------------

def test_dose_keys_step_and_give_back_the_dial():
    dial = DoseDial(DoseTimeline.parse("0s:0 -> 10s:0"))
    events = [dial.start(0.0)] + [dial.nudge(0.1, +1) for _ in range(3)] + [dial.release(0.2)]
    assert [v for _, v, _ in events] == [0, 0.1, 0.2, 0.3, 0]
    assert [why for _, _, why in events] == ["start", "key", "key", "key", "timeline"]
    assert DOSE_STEP == 0.1
    dial.nudge(0.3, -5)
    assert dial.value(0.3) == 0.0 and not dial.animated
    for _ in range(30):
        dial.nudge(0.3, +1)
    assert dial.value(0.3) == 2.0


def test_dose_keyframes_reached_are_reported_once_after_the_start():
    dial = DoseDial(DoseTimeline.parse("0s:0 -> 0.2s:1 -> 0.4s:1 -> 0.6s:0"))
    assert dial.start(0.0) == (0.0, 0.0, "start") and dial.animated
    reached = dial.keyframes_reached(0.0) + dial.keyframes_reached(0.45) + dial.keyframes_reached(0.45)
    reached += dial.keyframes_reached(1.0)
    assert reached == [(0.2, 1.0, "timeline"), (0.4, 1.0, "timeline"), (0.6, 0.0, "timeline")]


# -- keys -----------------------------------------------------------------------------------------------

def test_key_table():
    glfw = pytest.importorskip("glfw")
    from hallucinator.viewer.app import Event
    from hallucinator.viewer.keys import BINDINGS, Action, action_for

    def key(k, action=glfw.PRESS, mods=0):
        return action_for(Event("key", key=k, action=action, mods=mods))

    assert key(glfw.KEY_RIGHT, mods=glfw.MOD_SHIFT) is Action.SEEK_FORWARD
    assert key(glfw.KEY_RIGHT) is None                       # plain arrows look around (the pose source's)
    assert key(glfw.KEY_PAGE_UP) is Action.SEEK_BACK and key(glfw.KEY_HOME) is Action.RESTART
    assert key(glfw.KEY_SPACE) is Action.PAUSE and key(glfw.KEY_SPACE, glfw.REPEAT) is None
    assert key(glfw.KEY_Q, mods=glfw.MOD_SHIFT) is Action.STOP and key(glfw.KEY_ESCAPE) is Action.STOP
    assert key(glfw.KEY_RIGHT_BRACKET, glfw.REPEAT) is Action.DOSE_UP
    assert key(glfw.KEY_H, glfw.RELEASE) is None and action_for(Event("char", char="h")) is None
    assert len({(name, shift) for name, shift, _, _ in BINDINGS}) == len(BINDINGS)
    assert {a for *_, a in BINDINGS} == set(Action)


# -- the request ------------------------------------------------------------------------------------------

def test_request_checks_eye_and_stereo_words():
    with pytest.raises(UserError, match="right"):
        PlaybackRequest(dream="x.mp4", eye=2)
    with pytest.raises(UserError, match="top-bottom"):
        PlaybackRequest(dream="x.mp4", stereo="sbs")
    assert PlaybackRequest(dream="x.mp4", stereo="tb", start_s=3).start_s == 3.0


class _Src:
    def __init__(self, stereo):
        self.stereo = stereo


@pytest.mark.parametrize("word, found, want", [
    ("auto", "tb", Stereo.TOP_BOTTOM), ("auto", "top-bottom", Stereo.TOP_BOTTOM),
    ("auto", Stereo.TOP_BOTTOM, Stereo.TOP_BOTTOM), ("auto", "mono", Stereo.MONO),
    ("auto", "sbs", Stereo.MONO), ("auto", None, Stereo.MONO),
    ("tb", "mono", Stereo.TOP_BOTTOM), ("top-bottom", "mono", Stereo.TOP_BOTTOM), ("mono", "tb", Stereo.MONO)])
def test_stereo_resolution(word, found, want):
    assert resolve_stereo(word, _Src(found)) is want
