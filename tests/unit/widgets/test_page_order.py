"""Page messages are handled in the order the page sent them, whatever order they arrive in.

ipykernel 7 may run a burst of comm messages out of order (a comm message is dispatched
without the shell lock while another holds it), so five Web MIDI notes sent in one tick
once reached a dictation answer as F4 A4 G4. Each view stamps ``order: [view, n]``.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from mos_lab import lessons
from mos_lab.lessons.widget import ExerciseWidget
from mos_lab.theory.pitch import Pitch
from mos_lab.widgets import Keyboard, Transport
from mos_lab.widgets._order import InOrder


def _collect() -> tuple[list[Any], InOrder]:
    got: list[Any] = []
    return got, InOrder(got.append, wait=0.2)


def test_a_burst_that_arrives_shuffled_is_handled_in_sent_order():
    got, order = _collect()
    for n in (2, 0, 4, 1, 3):
        order.feed({"type": "x", "i": n, "order": ["v1", n]})
    assert [m["i"] for m in got] == [0, 1, 2, 3, 4]
    assert all("order" not in m for m in got)  # the stamp is not part of the command
    assert order.reordered == 2 and order.gaps == 0
    order.close()


def test_views_are_ordered_separately_and_unstamped_messages_pass_at_once():
    got, order = _collect()
    order.feed({"i": "a1", "order": ["a", 1]})  # waits for a0
    order.feed({"i": "b0", "order": ["b", 0]})  # another view: not held up by a
    order.feed({"i": "plain"})  # no stamp (a kernel-side caller, an old page)
    order.feed({"i": "bad", "order": ["a", "one"]})  # malformed stamp: handled as unstamped
    assert [m["i"] for m in got] == ["b0", "plain", "bad"]
    order.feed({"i": "a0", "order": ["a", 0]})
    assert [m["i"] for m in got][-2:] == ["a0", "a1"]
    order.close()


def test_a_message_that_never_comes_holds_the_rest_only_briefly():
    got, order = _collect()
    order.feed({"i": 0, "order": ["v", 0]})
    order.feed({"i": 2, "order": ["v", 2]})  # 1 was lost (a reload, a page error)
    order.feed({"i": 3, "order": ["v", 3]})
    assert [m["i"] for m in got] == [0]
    deadline = time.monotonic() + 5
    while len(got) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [m["i"] for m in got] == [0, 2, 3] and order.gaps == 1
    order.feed({"i": 1, "order": ["v", 1]})  # late after all: still the user's act
    order.feed({"i": 4, "order": ["v", 4]})
    assert [m["i"] for m in got] == [0, 2, 3, 1, 4]
    order.close()


def test_closing_drops_what_is_held_and_stops_the_timer():
    got, order = _collect()
    order.feed({"i": 5, "order": ["v", 5]})
    order.close()
    time.sleep(0.3)
    order.feed({"i": 0, "order": ["v", 0]})
    assert got == [] and not [t for t in threading.enumerate()
                              if t.name == "mos-lab-page-order" and t.is_alive()]


def test_a_keys_note_off_that_arrives_first_does_not_leave_the_note_sounding(session):
    kb = Keyboard()
    view = ["page", 0]
    msgs = [{"type": "note_on", "pitch": 60, "velocity": 90, "order": [view[0], 0]},
            {"type": "note_off", "pitch": 60, "order": [view[0], 1]}]
    kb._handle_custom_msg(msgs[1], [])  # the kernel ran the later message first
    assert kb.live == []
    kb._handle_custom_msg(msgs[0], [])
    assert list(kb.played)[-2:] == [("note_on", 60), ("note_off", 60)] and kb.live == []
    assert not kb.errors
    kb.close()


def test_the_last_seek_sent_is_the_last_one_the_engine_takes(session, score, monkeypatch):
    session.load(score)
    tr = Transport()
    seeks: list[float] = []
    monkeypatch.setattr(session.engine, "seek", seeks.append)
    for n in (1, 2, 0):  # seeks to 1 s, 2 s, then 3 s were sent; they arrived shuffled
        tr._handle_custom_msg({"type": "seek", "seconds": float(n + 1), "order": ["t", n]},
                              [])
    assert seeks == [1.0, 2.0, 3.0] and not tr.errors
    tr.close()


def test_web_midi_notes_that_arrive_shuffled_fill_the_answer_in_played_order(session):
    ex = lessons.dictation(seed=3)
    w = ExerciseWidget(ex, session=session)
    midis = [Pitch.parse(n).midi for n in ex.answer.split()]
    sent = [{"type": "note", "pitch": m, "order": ["tab", i]} for i, m in enumerate(midis)]
    for msg in [sent[0], *reversed(sent[1:])]:
        w._on_msg(w, msg, [])
    assert " ".join(w.entered) == ex.answer
    w.close()
