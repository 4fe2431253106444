"""The Player's generate panel, driven by its page messages as a page sends them (stamped
``order: [view, n]``): generation runs on the GenerationService's worker, progress comes
back bar by bar in ``gen_status``, the result replaces or follows the score, Cancel
part-way leaves the score as it was, bad input gets a clear message."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mos_lab.ai.core.backend import BaseBackend
from mos_lab.ai.core.types import CancelToken, GenerationRequest, GenerationResult, ModelInfo
from mos_lab.ai.service.generation import GenerationService
from mos_lab.kernel.session import Session
from mos_lab.score import Score
from mos_lab.widgets.player import Player, append_score


class Bars(BaseBackend):
    """Makes one bar of quarter notes per step, reporting each; waits on ``gate`` before
    each bar after the first when one is set (so a test can cancel part-way)."""

    def __init__(self, name: str = "bars") -> None:
        self.info = ModelInfo(name, "1", "c0ffee", "symbolic")
        self.gate: threading.Event | None = None
        self.pause = 0.0  # seconds per bar (the service passes on 20 progress reports a s)
        self.threads: set[str] = set()
        self.requests: list[GenerationRequest] = []

    def generate(self, request: GenerationRequest, progress: Callable[[float, float], None],
                 cancel: CancelToken) -> GenerationResult:
        self.threads.add(threading.current_thread().name)
        self.requests.append(request)
        bar = 480 * 4 * request.meter[0] // request.meter[1]
        rows = []
        for b in range(request.bars):
            if b and self.gate is not None:
                while not self.gate.wait(0.01):
                    cancel.check()
            cancel.sleep(self.pause)
            rows += [(b * bar + i * 480, 480, 60 + (b + i) % 12, 80) for i in range(bar // 480)]
            progress(b + 1, request.bars)
        return GenerationResult(score=Score.from_notes(rows, title=f"made by {self.info.name}"))


@pytest.fixture
def backend() -> Bars:
    return Bars()


@pytest.fixture
def player(session: Session, backend: Bars) -> Iterator[Player]:
    svc = GenerationService([backend], bus=session.bus, concurrency=1)
    first = Score.from_notes([(0, 960, 48, 80), (960, 960, 55, 80)], title="first")
    p = Player(first, session=session, key=None, service=svc)
    yield p
    p.close()
    svc.close()


class Page:
    """Sends a widget's page messages stamped as common.js's sendInOrder stamps them."""

    def __init__(self, w: Any) -> None:
        self.w, self.n = w, 0

    def send(self, **msg: Any) -> None:
        self.w._handle_custom_msg({**msg, "order": ["view1", self.n]}, [])
        self.n += 1


def wait_for(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("timed out")
        time.sleep(0.01)


def test_generate_replaces_the_score_with_progress_and_provenance(player: Player,
                                                                  backend: Bars) -> None:
    assert [m["name"] for m in player.gen_models] == ["bars"]
    backend.pause = 0.07
    seen: list[dict[str, Any]] = []
    player.observe(lambda ch: seen.append(dict(ch["new"])), names="gen_status")
    Page(player).send(type="generate", model="bars", bars=3, seed=5)
    wait_for(lambda: player.gen_status["state"] == "done")
    running = [s["done"] for s in seen if s["state"] == "running"]
    assert sorted(set(running)) == running[:4] == [0, 1, 2, 3], running  # bar by bar
    assert seen[0]["state"] == "queued"
    new = player.current_score
    assert new is not None and new.title == "made by bars" and len(new.notes) == 12
    for w in player.parts:  # transport, roll, lane and keyboard show it too
        assert w.current_score is new
    assert player.transport.title == "made by bars"
    prov = player.gen_status["provenance"]
    assert prov["model"] == "bars" and prov["seed"] == 5 and prov["checksum"] == "c0ffee"
    assert backend.threads and threading.main_thread().name not in backend.threads
    assert backend.requests[0].bars == 3 and backend.requests[0].seed == 5


def test_append_puts_the_bars_after_the_last_bar(player: Player) -> None:
    Page(player).send(type="generate", model="bars", bars=2, mode="append")
    wait_for(lambda: player.gen_status["state"] == "done")
    sc = player.current_score
    assert sc is not None and sc.title == "first"
    starts = sc.notes["start"].tolist()
    assert starts[:2] == [0, 960] and min(starts[2:]) == 1920 and len(starts) == 2 + 8


def test_cancel_part_way_leaves_the_previous_score(player: Player, backend: Bars) -> None:
    before = player.current_score
    backend.gate = threading.Event()  # the backend stops after its first bar
    backend.pause = 0.07
    page = Page(player)
    page.send(type="generate", model="bars", bars=4)
    wait_for(lambda: player.gen_status.get("done") == 1, 3)
    assert player.gen_status["state"] == "running"
    page.send(type="generate", model="bars", bars=2)  # one at a time
    assert "a generation is running" in player.errors[-1]
    page.send(type="cancel_generate")
    wait_for(lambda: player.gen_status["state"] == "cancelled")
    assert "unchanged" in player.gen_status["message"]
    backend.gate.set()
    time.sleep(0.1)
    assert player.current_score is before
    assert all(w.current_score is before for w in player.parts)
    # and the panel works again afterwards
    page.send(type="generate", model="bars", bars=1)
    wait_for(lambda: player.gen_status["state"] == "done")
    assert player.current_score is not before


@pytest.mark.parametrize(("msg", "said"), [
    ({"model": "nope"}, "generate.model: 'nope' is not one of bars"),
    ({"model": "bars", "bars": 0}, "generate.bars: 0 is below 1"),
    ({"model": "bars", "bars": 500}, "generate.bars: 500 is above 64"),
    ({"model": "bars", "mode": "prepend"}, "generate.mode: 'prepend' is not one of replace"),
    ({"model": "bars", "period": "Baroque"}, "composer, instrumentation missing"),
    ({"model": "bars", "seed": "x"}, "generate.seed: expected a number"),
    ({"bars": 2}, "generate.model: missing"),
])
def test_bad_input_gets_a_clear_message_and_changes_nothing(player: Player, msg: dict,
                                                            said: str) -> None:
    before = player.current_score
    sent: list[dict[str, Any]] = []
    real = player.send
    player.send = lambda content, buffers=None: (sent.append(content), real(content, buffers))
    Page(player).send(type="generate", **msg)
    assert sent and sent[-1]["type"] == "error" and said in sent[-1]["message"], sent
    assert player.gen_status == {"state": "idle"} and player.job is None
    assert player.current_score is before


def test_a_failing_model_is_reported_and_the_score_kept(session: Session) -> None:
    class Broken(Bars):
        def generate(self, request: GenerationRequest, progress: Any,
                     cancel: CancelToken) -> GenerationResult:
            progress(1, request.bars)
            raise RuntimeError("the weights are corrupt")

    svc = GenerationService([Broken("broken")], bus=session.bus, fallback_timeout=None,
                            retry=None)
    with Player(session=session, key=None, service=svc) as p:
        Page(p).send(type="generate", model="broken", bars=2)
        wait_for(lambda: p.gen_status["state"] == "failed")
        assert "the weights are corrupt" in p.gen_status["message"]
        assert session.engine.score is None
    svc.close()


def test_the_default_panel_offers_the_installed_models(session: Session) -> None:
    p = Player(session=session, key=None)
    names = [m["name"] for m in p.gen_models]
    assert names[-1] == "markov" and ("notagen" in names) == _has_torch()
    notagen = [m for m in p.gen_models if m["name"] == "notagen"]
    assert not notagen or notagen[0]["fields"] == ["period", "composer", "instrumentation",
                                                   "key"]
    p.close()
    compact = Player(session=session, key=None, compact=True)
    assert compact.gen_models == []
    with pytest.raises(ValueError, match="no generate panel"):
        compact.generate("markov")
    compact.close()


def _has_torch() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def _workers() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("mos_lab-ai-worker")]


def test_markov_through_the_players_own_service(session: Session, trained: Any) -> None:
    """The real path: the Player's own service, a real backend, the session's engine; the
    service's worker goes with the Player."""
    before = _workers()
    with Player(session=session, key=None) as p:
        p._generation_service("markov").register(trained)  # the tiny corpus's chain
        Page(p).send(type="generate", model="markov", bars=4, seed=3, key="D minor")
        wait_for(lambda: p.gen_status["state"] in ("done", "failed"), 30)
        assert p.gen_status["state"] == "done", p.gen_status
        assert session.engine.score is not None and len(session.engine.score.notes)
        assert p.current_score is session.engine.score
        assert p.gen_status["provenance"]["model"] == "markov"
        assert len(_workers()) == len(before) + 1
    wait_for(lambda: _workers() == before, 5)


@pytest.mark.skipif(not _has_torch(), reason="NotaGen needs torch (the ai extra)")
def test_notagen_shipped_model_through_the_panel(session: Session) -> None:
    with Player(session=session, key=None) as p:
        Page(p).send(type="generate", model="notagen", bars=2, seed=1, period="Baroque",
                     composer="Bach, Johann Sebastian", instrumentation="Choral")
        wait_for(lambda: p.gen_status["state"] in ("done", "failed"), 60)
        assert p.gen_status["state"] == "done", p.gen_status
        sc = session.engine.score
        assert sc is not None and len(sc.notes) and p.current_score is sc
        assert p.gen_status["provenance"]["version"] == "notagen_small.pth"
        assert p.generated.meta["abc"].startswith("%Baroque\n%Bach, Johann Sebastian\n")


def test_append_score_uses_the_first_scores_bars_and_ticks() -> None:
    a = Score.from_notes([(0, 500, 60, 80)], tpq=480)  # ends inside bar 1
    b = Score.from_notes([(0, 96, 62, 80), (96, 96, 64, 80)], tpq=96)
    c = append_score(a, b)
    assert c.tpq == 480 and c.notes["start"].tolist() == [0, 1920, 2400]
    assert c.notes["duration"].tolist() == [500, 480, 480]
