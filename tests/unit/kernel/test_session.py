"""The kernel's Session: one per kernel, %mos, the Score display, output switching."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from IPython.core.interactiveshell import InteractiveShell

import mos_lab
from mos_lab.kernel import _singleton, session
from mos_lab.kernel._singleton import current, shutdown
from mos_lab.kernel.session import Session
from mos_lab.score import Score

_before: set[threading.Thread] = set()


def _threads() -> list[str]:
    """Names of the mos/apollo threads started since this test's ``fresh`` began (a thread
    another test's fixture has not stopped yet is its business, not this test's)."""
    return [t.name for t in threading.enumerate()
            if t.name.startswith(("mos", "apollo")) and t not in _before]


@pytest.fixture
def fresh() -> Iterator[None]:
    shutdown()
    _before.clear()
    _before.update(threading.enumerate())
    yield
    shutdown()


@pytest.fixture
def ip(fresh: None) -> Iterator[InteractiveShell]:
    shell = InteractiveShell.instance()
    shell.cache_size = 0
    yield shell
    shell.run_line_magic("unload_ext", "mos_lab")
    InteractiveShell.clear_instance()


def test_one_session_from_every_thread(fresh):
    got: list[Session] = []
    threads = [threading.Thread(target=lambda: got.append(mos_lab.session()))
               for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(s) for s in got}) == 1 and got[0] is session() is current()
    assert sum(n.startswith("apollo-render") for n in _threads()) <= 1


def test_rerunning_cells_never_makes_a_second_engine(ip):
    ip.run_line_magic("load_ext", "mos_lab")
    eng = session().engine
    for _ in range(5):
        assert ip.run_cell("import mos_lab\ns = mos_lab.session()\n%reload_ext mos_lab").success
    # reload_ext closes and reopens the session: still exactly one engine alive
    assert session().engine is not eng and eng.output.closed
    e2 = session().engine
    for _ in range(5):
        assert ip.run_cell("import mos_lab\ns = mos_lab.session()\ns.engine").success
    assert session().engine is e2
    assert sum(n.startswith("mos-lab-engine-boot") for n in _threads()) <= 1


def test_mos_magic(ip, capsys):
    ip.run_line_magic("load_ext", "mos_lab")
    session().load(Score.from_notes([(0, 480, 60, 90), (480, 480, 64, 90)], title="two"))
    ip.run_line_magic("mos", "status")
    out = capsys.readouterr().out
    assert "state     ready" in out and "two" in out and "output    null" in out
    ip.run_cell("from mos_lab.widgets import Transport; t = Transport()")
    ip.run_line_magic("mos", "doctor")
    out = capsys.readouterr().out
    assert out.startswith("widgets 1  subscriptions") and "Transport#" in out
    ip.run_line_magic("mos", "stop")
    ip.run_line_magic("mos", "nonsense")
    assert "usage" in capsys.readouterr().out


def test_a_score_displays_engraved_with_a_player_and_static_fallbacks(ip):
    ip.run_line_magic("load_ext", "mos_lab")
    score = Score.from_notes([(0, 480, 60, 90), (480, 480, 67, 90)], title="shown")
    data, _ = ip.display_formatter.format(score)
    assert "application/vnd.jupyter.widget-view+json" in data
    assert "image/png" in data and "shown" in data["text/plain"]
    # the engraved page (Notation) with its compact Player: itself, transport, roll
    assert session().doctor()["widgets"] == 4


def test_switching_the_output_keeps_score_and_widgets(fresh):
    s = session(output="null")
    score = s.load(Score.from_notes([(0, 480, 60, 90)]))
    from mos_lab.widgets import Transport

    w = Transport()
    old = s.engine
    s.output = "browser"
    assert old.output.closed and s.engine is not old and s.engine.score is score
    assert s.browser_output is not None and w.clock["output"] == "browser"
    assert w.clock["audio"] == "locked"
    with pytest.raises(ValueError, match="not one of"):
        s.output = "speakers"
    w.close()


def test_shutdown_stops_streams_and_threads(fresh):
    s = session(output="null")
    s.load(Score.from_notes([(0, 480, 60, 90)]))
    s.engine.play()
    assert s.doctor()["streams"] == 1
    shutdown()
    assert s.closed and s.engine.output.closed
    assert not [n for n in _threads() if n.startswith("apollo")]
    assert _singleton.current() is None


def test_doctor_reports_owners(fresh):
    s = session(output="null")
    from mos_lab.widgets import Keyboard

    kb = Keyboard()
    rows = s.inventory()
    assert ("widgets", "Keyboard", kb.life.owner) in rows
    assert any(kind == "threads" for kind, _, _ in rows)
    assert set(s.doctor()) == {"widgets", "subscriptions", "threads", "timers", "streams"}
    kb.close()
