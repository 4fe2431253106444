"""Widgets: construction, keys, validated messages, transactions, visibility, chords."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
import traitlets
from hypothesis import given, settings
from hypothesis import strategies as st

from mos_lab.kernel.session import Session
from mos_lab.widgets import ChordDisplay, Keyboard, PianoRoll, Player, Transport, _base
from mos_lab.widgets._base import MosWidget
from tests.unit.widgets.conftest import Sent, progression

ALL = [Transport, Keyboard, ChordDisplay, PianoRoll, Player]


@pytest.mark.parametrize("cls", ALL)
def test_every_widget_is_made_with_no_arguments_bound_to_the_session(session, score, cls):
    session.load(score)
    base = session.doctor()
    w = cls()
    assert w.session is session and w.current_score is score
    assert w.clock["duration"] == pytest.approx(score.duration)
    assert session.doctor()["widgets"] > base["widgets"]
    w.close()
    w.close()  # idempotent
    assert session.doctor() == base


def test_widgets_follow_the_engine_state(session, score):
    w = Transport()
    session.load(score)
    assert w.clock["state"] == "ready" and w.title == "progression"
    session.engine.play()
    assert w.clock["state"] == "playing" and w.clock["rate"] == 1.0
    session.engine.pause()
    assert w.clock["state"] == "paused" and w.clock["rate"] == 0.0
    w.set_tempo(1.5)
    assert w.clock["tempo"] == 1.5
    w.close()


def test_a_widget_bound_to_another_score_shows_it_stopped(session, score):
    session.load(score)
    other = progression().transpose(2)
    w = PianoRoll(other)
    assert w.clock["engine"] is False and w.clock["pos"] == 0.0
    w.visible = True
    assert len(w.notes) == other.n_notes * 16
    w.close()


def test_rerunning_a_cell_closes_the_widget_with_the_same_key(session, monkeypatch):
    a = Transport(key="cell-1:Transport:0")
    b = Transport(key="cell-1:Transport:0")
    assert a.closed and not b.closed
    parent = {"metadata": {"cellId": "abc"}, "header": {"msg_id": "run-1"}}

    class Kernel:
        def get_parent(self, channel: str = "shell") -> dict[str, Any]:
            return parent

    class Shell:
        kernel = Kernel()

    import IPython

    monkeypatch.setattr(IPython, "get_ipython", lambda: Shell())
    first = [Keyboard(), Keyboard()]
    assert [w.key for w in first] == ["abc:Keyboard:0", "abc:Keyboard:1"]
    parent["header"] = {"msg_id": "run-2"}  # the same cell, run again
    second = [Keyboard(), Keyboard()]
    assert all(w.closed for w in first) and not any(w.closed for w in second)
    for w in (b, *second):
        w.close()


HOSTILE: list[Any] = [
    None, [], "play", 42, {"type": 5}, {"no": "type"}, {"type": "seek"},
    {"type": "seek", "seconds": "1"}, {"type": "seek", "seconds": float("nan")},
    {"type": "seek", "seconds": float("inf")}, {"type": "seek", "seconds": -1},
    {"type": "seek", "seconds": True}, {"type": "tempo", "factor": 0.0},
    {"type": "tempo", "factor": 1e9}, {"type": "loop", "start": 3.0, "end": 1.0},
    {"type": "output", "kind": "x" * 10_000}, {"type": "output", "kind": "/dev/dsp"},
    {"type": "__init__"}, {"type": "_cmd_play"}, {"type": "close"},
    {"type": "play", "evil": {"nested": ["x"] * 100}},
    {"type": "unlocked", "view": "v", "sample_rate": 10},
    {"type": "ack", "view": "v", "played": -5},
]


@pytest.mark.parametrize("content", HOSTILE, ids=lambda c: repr(c)[:40])
def test_malformed_messages_get_an_error_reply_and_never_raise(session, score, content):
    session.load(score)
    w = Transport()
    sent = Sent(w)
    state = session.engine.state
    w._handle_custom_msg(content, [])
    w._handle_msg({"content": {"data": {"method": "custom", "content": content}},
                   "buffers": []})
    errors = [m for m in sent.custom() if m["type"] == "error"]
    assert len(errors) == 2 and errors[0]["message"]
    assert session.engine.state == state and session.engine.loop is None
    assert session.engine.tempo == 1.0
    w.close()


@settings(max_examples=150, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
                    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c,
                                                                        max_size=4),
                    max_leaves=12),
       st.sampled_from(["seek", "note_on", "note_off", "view", "tempo", "loop", "play", None]))
def test_fuzzed_messages_never_raise(value: Any, kind: str | None) -> None:
    s = Session(output="null")
    try:
        for cls in (Keyboard, PianoRoll):
            w = cls(session=s, key=None)
            content = {"type": kind, "pitch": value, "seconds": value, "t0": value} \
                if kind else value
            w._handle_custom_msg(content, [])  # must not raise
            w.close()
    finally:
        s.close()


def test_valid_commands_drive_the_engine(session, score):
    w = Transport(score)
    w._handle_custom_msg({"type": "play"}, [])
    assert session.engine.score is score and session.engine.state == "playing"
    w._handle_custom_msg({"type": "seek", "seconds": 1.0}, [])
    w._handle_custom_msg({"type": "loop", "start": 0.5, "end": 1.5}, [])
    w._handle_custom_msg({"type": "tempo", "factor": 1.25}, [])
    assert session.engine.loop == pytest.approx((0.5, 1.5))
    assert session.engine.tempo == 1.25 and w.clock["loop"] == pytest.approx([0.5, 1.5])
    w._handle_custom_msg({"type": "pause"}, [])
    assert session.engine.state == "paused" and not w.errors
    w.close()


@pytest.mark.seed("WID-10")
def test_multi_field_updates_are_all_or_nothing(session):
    kb = Keyboard()
    sent = Sent(kb)
    with pytest.raises(traitlets.TraitError):
        kb.update(low=60, high=64)  # high must be >= low + 12: the pair is refused whole
    assert (kb.low, kb.high) == (36, 96) and sent.updates() == []
    kb.update(low=48, high=72)
    assert (kb.low, kb.high) == (48, 72)
    assert sent.updates() == [{"low": 48, "high": 72}]  # one message, both fields
    roll = PianoRoll()
    with pytest.raises(traitlets.TraitError):
        roll.update(window=5.0, height="tall")
    assert roll.window == 12.0
    with pytest.raises(traitlets.TraitError):
        kb.update(low=40, nonsense=1)
    assert kb.low == 48
    kb.close()
    roll.close()


@pytest.mark.seed("WID-10")
def test_a_page_message_with_one_bad_field_changes_nothing(session, score):
    session.load(score)
    w = Transport()
    w._handle_custom_msg({"type": "loop", "start": 1.0, "end": "later"}, [])
    assert session.engine.loop is None and w.errors
    w.close()


@pytest.mark.seed("WID-05")
def test_concurrent_updates_are_serialised(session):
    kb = Keyboard()

    def writer(base: int) -> None:
        for i in range(200):
            lo = 24 + (base + i) % 24
            kb.update(low=lo, high=lo + 24)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert kb.high == kb.low + 24  # never a low from one update with a high from another
    kb.close()


@pytest.mark.seed("WID-07")
def test_only_visible_widgets_get_data(session, score):
    rolls = [PianoRoll(key=None) for _ in range(120)]
    session.load(score)
    for r in rolls[:10]:
        r.visible = True
    assert [r.pushes for r in rolls[:10]] == [1] * 10
    assert all(r.pushes == 0 and r.notes == b"" for r in rolls[10:])
    session.load(progression().transpose(3))  # a new score: only the visible ones get it
    assert [r.pushes for r in rolls[:10]] == [2] * 10
    assert all(r.pushes == 0 for r in rolls[10:])
    rolls[50].visible = True  # scrolled into view: gets the current data once
    assert rolls[50].pushes == 1 and len(rolls[50].notes) == score.n_notes * 16
    for r in rolls:
        r.close()


@pytest.mark.seed("WID-07")
def test_frames_from_a_kernel_renderer_only_while_visible(session, score):
    calls: list[tuple[float, float, int, int]] = []

    def renderer(t0: float, t1: float, w: int, h: int) -> bytes:
        calls.append((t0, t1, w, h))
        return b"\x89PNG fake"

    session.load(score)
    roll = PianoRoll(renderer=renderer)
    assert roll.mode == "frames"
    view = {"type": "view", "t0": 0.0, "t1": 8.0, "width": 800, "height": 200}
    roll._handle_custom_msg(view, [])
    assert calls == [] and roll.frames_sent == 0  # not on screen: no frame
    roll.visible = True
    roll._handle_custom_msg(view, [])
    assert calls == [(0.0, 8.0, 800, 200)] and roll.frame == b"\x89PNG fake"
    assert roll.frame_window == [0.0, 8.0] and roll.notes == b""  # frames replace notes
    roll._handle_custom_msg({**view, "t1": -1.0}, [])
    assert roll.errors and roll.frames_sent == 1
    roll.close()


@pytest.mark.seed("ENG-07")
def test_fast_chord_changes_reach_the_widget_none_lost(session):
    cd = ChordDisplay()
    sent = Sent(cd)
    symbols = [f"C{i}" for i in range(60)]

    def engine() -> None:  # 60 chords in ~2 s from another thread: 30 per second
        for s in symbols:
            session.bus.emit("chord", symbol=s, roman="I", key="C", critical=False)
            threading.Event().wait(0.03)

    t = threading.Thread(target=engine)
    t.start()
    t.join()
    assert list(cd.received) == symbols
    live = [u["live"]["symbol"] for u in sent.updates() if "live" in u]
    assert live == symbols  # every one sent to the page, in order
    cd.close()


def test_keyboard_plays_through_the_engine_and_lights_live_notes(session):
    kb = Keyboard()
    heard: list[tuple[str, int]] = []
    session.bus.subscribe("note_on", lambda e: heard.append(("on", e["pitch"])), owner=kb)
    kb._handle_custom_msg({"type": "note_on", "pitch": 60, "velocity": 100}, [])
    kb._handle_custom_msg({"type": "note_on", "pitch": 64}, [])
    assert kb.live == [60, 64] and heard == [("on", 60), ("on", 64)]
    session.bus.emit("note_on", pitch=67, velocity=90, channel=0, frame=1000)  # playback
    assert kb.live == [60, 64]  # the page lights playback notes itself
    kb._handle_custom_msg({"type": "note_off", "pitch": 60}, [])
    assert kb.live == [64] and list(kb.played)[-1] == ("note_off", 60)
    kb._handle_custom_msg({"type": "note_on", "pitch": 128}, [])
    assert kb.errors and "127" in kb.errors[-1]
    kb.close()


def test_live_notes_become_chord_events(session):
    cd = ChordDisplay()
    kb = Keyboard()
    for p in (60, 64, 67):
        kb._handle_custom_msg({"type": "note_on", "pitch": p}, [])
    assert cd.live["symbol"] == "C" and cd.live["roman"] == "I"
    kb._handle_custom_msg({"type": "note_on", "pitch": 70}, [])
    assert cd.live["symbol"] == "C7"
    kb.close()
    cd.close()


def test_chord_display_sends_the_analysed_segments(session, score):
    session.load(score)
    cd = ChordDisplay()
    cd.visible = True
    cd.wait_analysed()
    assert [c[3] for c in cd.segments[:4]] == ["C", "F", "G7", "C"]
    assert [c[2] for c in cd.segments[:4]] == ["I", "IV", "V7", "I"]
    cd.close()


def test_player_shows_a_png_and_text_where_widgets_cannot_run(session, score):
    p = Player(score, compact=True)
    data, _ = p._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data
    assert data["image/png"].startswith("iVBORw0KGgo")  # base64 of the PNG signature
    assert "progression" in data["text/plain"]
    assert len(p.parts) == 2  # compact: transport + roll
    p.close()
    assert all(w.closed for w in p.parts)


def test_esm_is_a_string_with_everything_inlined():
    for cls in (Transport, Keyboard, ChordDisplay, PianoRoll, Player):
        esm = cls._esm
        assert isinstance(esm, str) and "export default" in esm and "http" not in esm
    assert "registerProcessor" in Transport._esm  # the worklet ships inside the module
    assert issubclass(Player, MosWidget) and _base.AUTO == "auto"


def test_pack_notes_layout(score):
    from mos_lab.widgets._notes import pack_notes

    rows = np.frombuffer(pack_notes(score), dtype="<f4").reshape(-1, 4)
    assert rows.shape == (score.n_notes, 4)
    assert rows[0, 0] == 0.0 and rows[0, 1] == pytest.approx(0.5) and rows[0, 2] == 48


@pytest.mark.parametrize("cls", ["Transport", "Keyboard", "ChordDisplay", "PianoRoll",
                                 "TheaterView", "Player"])
def test_public_widgets_show_their_options(cls) -> None:
    """``Player?`` showed ``**kwargs``: every option is a typed, documented parameter."""
    import inspect

    import mos_lab.widgets as widgets

    w = getattr(widgets, cls)
    sig = inspect.signature(w)
    params = list(sig.parameters.values())
    assert not [p for p in params if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL)], sig
    assert all(p.annotation is not p.empty for p in params), sig
    assert {"score", "session", "key"} <= set(sig.parameters)
    doc = inspect.getdoc(w.__init__) or ""
    assert all(p.name in doc for p in params), (cls, doc)
    assert w.__doc__ and w.__doc__.strip()


def test_widget_options_are_applied_and_validated(session) -> None:
    from mos_lab.widgets import Keyboard, PianoRoll, TheaterView

    kb = Keyboard(low=48, high=72, channel=9, key=None)
    kb.visible = True
    assert (kb.low, kb.high, kb.channel) == (48, 72, 9)  # kept, not re-fitted to the score
    roll = PianoRoll(mode="canvas", window=6.0, height=180, key=None)
    assert (roll.mode, roll.window, roll.height) == ("canvas", 6.0, 180)
    tv = TheaterView(orientation="portrait", span=4.0, color_by="velocity", key=None)
    assert (tv.orientation, tv.span, tv.color_by) == ("portrait", 4.0, "velocity")
    with pytest.raises(ValueError, match="channel"):
        Keyboard(channel=16, key=None)
    with pytest.raises(Exception, match="span"):
        TheaterView(span=0.1, key=None)
    for w in (kb, roll, tv):
        w.close()
