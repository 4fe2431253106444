"""The harmony lane (ChordDisplay, the Player's chord lane): mos_lab.theory's analysis,
made once per score off the comm and audio threads, its label following the heard
position (the audio clock of a ManualOutput), clicks that seek, live chords from theory."""

from __future__ import annotations

import threading
import time

import pytest

import mos_lab.widgets.chord_display as cdmod
from mos_lab.score import Score
from mos_lab.theory import analyze
from mos_lab.widgets import ChordDisplay, Player, live_chord
from mos_lab.widgets.chord_display import lane_rows, segment_index
from tests.unit.widgets.conftest import Sent


def modulating() -> Score:
    """C: I IV V7 I, then G: I IV V7 I (F# heard), one chord per beat, twice."""
    c = [(48, 60, 64, 67), (53, 60, 65, 69), (43, 59, 62, 65, 67), (48, 60, 64, 67)]
    g = [(43, 59, 62, 67), (48, 60, 64, 67), (50, 57, 60, 66), (43, 59, 62, 67)]
    rows = [(i * 480, 480, p, 90) for i, ch in enumerate((c + g) * 2) for p in ch]
    return Score.from_notes(rows, title="modulating")


@pytest.mark.parametrize(("pitches", "symbol", "rn"), [
    ([60, 64, 67], "C", "I"), ([57, 60, 64], "Am", "vi"), ([55, 59, 62, 65], "G7", "V7"),
    ([64, 67, 72], "C/E", "I6"), ([59, 62, 65, 67], "G7/B", "V6/5"),
    ([62, 65, 69, 72], "Dm7", "ii7"),
])
def test_live_chords_are_named_by_theory(pitches, symbol, rn):
    assert live_chord(pitches) == (symbol, rn)


def test_a_single_pitch_class_is_no_chord():
    assert live_chord([60]) == ("", "") and live_chord([48, 60, 72]) == ("", "")


def test_the_lane_carries_theorys_segments_and_key_bands(session):
    score = session.load(modulating())
    cd = ChordDisplay()
    cd.visible = True
    a = cd.wait_analysed()
    assert a is not None and cd.analysis is a
    expected = analyze(score)
    assert [r[2] for r in cd.segments] == [s.numeral for s in expected]
    assert [r[3] for r in cd.segments] == [s.chord for s in expected]
    assert [r[4] for r in cd.segments] == [s.key for s in expected]
    assert [r[0] for r in cd.segments] == [pytest.approx(s.onset, abs=1e-4) for s in expected]
    for r, nxt in zip(cd.segments, cd.segments[1:], strict=False):
        assert r[0] < r[1] <= nxt[0] + 1e-6  # ends in seconds, in order
    keys = [b[2] for b in cd.bands]
    assert keys[0] == "C" and "G" in keys  # the modulation is a second band
    assert all(b[4].startswith("hsl(") for b in cd.bands)
    assert cd.status == ""
    cd.close()


def test_the_label_follows_the_heard_position(session):
    """Played through the ManualOutput: at every block the lane's label is the segment
    under engine.position (the audio clock), and it changes exactly at the onsets."""
    session.load(modulating())
    cd = ChordDisplay()
    cd.visible = True
    cd.wait_analysed()
    rows = cd.segments
    eng, out = session.engine, session.engine.output
    eng.play()
    seen: list[tuple[float, str]] = []
    for _ in range(400):  # 512-frame blocks at 48 kHz: ~4.3 s
        out.tick(1)
        pos = eng.position
        seg = cd.current()
        i = segment_index(rows, pos)
        assert (seg is None) == (i < 0)
        if seg is not None:
            assert rows[i][0] <= pos < rows[i][1] and seg.numeral == rows[i][2]
            if not seen or seen[-1][1] != seg.numeral:
                seen.append((pos, seg.numeral))
    eng.pause()
    assert len(seen) >= 6  # a new label at each heard chord change
    for pos, numeral in seen[1:]:
        i = segment_index(rows, pos)
        assert rows[i][2] == numeral and pos - rows[i][0] < 512 / 48_000 + 1e-9  # within a block
    cd.close()


def test_the_label_is_the_heard_not_the_rendered_position(session):
    """Audio rendered ahead (the lookahead) does not move the label: only what was played."""
    session.load(modulating())
    cd = ChordDisplay()
    cd.visible = True
    cd.wait_analysed()
    eng, out = session.engine, session.engine.output
    eng.play()
    out.tick(1)
    out._fill()  # render ahead without consuming
    assert eng.position == pytest.approx(512 / 48_000, abs=1e-6)
    seg = cd.current()
    assert seg is not None and seg.onset == 0.0 and seg.numeral == "I"
    eng.pause()
    cd.close()


def test_clicking_a_label_seeks_to_its_onset(session):
    session.load(modulating())
    cd = ChordDisplay()
    cd.visible = True
    cd.wait_analysed()
    target = cd.segments[5]
    cd._handle_custom_msg({"type": "seek", "seconds": target[0]}, [])
    assert session.engine.position == pytest.approx(target[0], abs=1e-6)
    seg = cd.current()
    assert seg is not None and seg.numeral == target[2] and list(cd.seeks) == [target[0]]
    sent = Sent(cd)
    cd._handle_custom_msg({"type": "seek", "seconds": -3}, [])
    assert cd.errors and any(m.get("type") == "error" for m in sent.custom())
    assert session.engine.position == pytest.approx(target[0], abs=1e-6)  # refused, not moved
    cd.close()


def test_clicking_a_label_of_a_bound_score_loads_it_and_seeks(session):
    session.load(modulating())
    other = modulating().replace(title="other")
    cd = ChordDisplay(other)
    cd.visible = True
    cd.wait_analysed()
    assert cd.current() is not None and cd.current().onset == 0.0  # not playing: at 0
    cd._handle_custom_msg({"type": "seek", "seconds": cd.segments[3][0]}, [])
    assert session.engine.score is other
    assert session.engine.position == pytest.approx(cd.segments[3][0], abs=1e-6)
    cd.close()


def test_the_analysis_runs_once_per_score_on_the_widgets_own_thread(session, monkeypatch):
    calls: list[str] = []
    gate = threading.Event()
    real = cdmod.analyze

    def slow(score):
        calls.append(threading.current_thread().name)
        gate.wait(5)
        return real(score)

    monkeypatch.setattr(cdmod, "analyze", slow)
    session.load(modulating().replace(title="fresh"))
    cd = ChordDisplay()
    t0 = time.perf_counter()
    cd.visible = True  # the page shows it: the kernel must not wait for the analysis
    assert time.perf_counter() - t0 < 0.5
    assert cd.status == "analysing…" and cd.segments == []
    gate.set()
    cd.wait_analysed()
    assert cd.segments and cd.status == ""
    assert len(calls) == 1 and "ChordDisplay" in calls[0] and "analysis" in calls[0]
    again = ChordDisplay()
    again.visible = True  # cached: sent at once, no second analysis
    assert again.segments == cd.segments and len(calls) == 1
    again.close()
    cd.close()
    alive = [t.name for t in threading.enumerate() if t.name.endswith("-analysis") and t.is_alive()]
    assert not alive, alive


def test_a_failing_analysis_is_said_not_raised(session, monkeypatch):
    def broken(score):
        raise ValueError("no luck")

    monkeypatch.setattr(cdmod, "analyze", broken)
    session.load(modulating().replace(title="broken"))
    cd = ChordDisplay()
    cd.visible = True
    job = cd._job
    assert job is not None
    job.join(5)
    assert "no luck" in cd.status and cd.errors and cd.segments == []
    cd.close()


def test_a_new_score_replaces_the_lane(session):
    session.load(modulating())
    cd = ChordDisplay()
    cd.visible = True
    cd.wait_analysed()
    first = list(cd.segments)
    rows = [(i * 960, 960, p, 90) for i, ch in enumerate([(57, 60, 64), (52, 56, 59, 62)] * 4)
            for p in ch]
    session.load(Score.from_notes(rows, title="a minor"))
    deadline = time.monotonic() + 20
    while cd.segments == first or not cd.segments:
        assert time.monotonic() < deadline, "the lane kept the old score"
        time.sleep(0.02)
    cd.wait_analysed()
    assert cd.segments == lane_rows(session.engine.score, cd.analysis)
    assert cd.segments[0][4] == "a"
    cd.close()


def test_the_players_lane_follows_the_rolls_zoom(session):
    session.load(modulating())
    p = Player()
    assert p.chords is not None and p.chords.window == p.roll.window
    p.roll.window = 30.0
    assert p.chords.window == 30.0
    p.close()
    assert p.chords.closed and p._links == []
