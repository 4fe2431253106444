"""Plugins: discovery, API versions, dependency order and cycles, state ownership, isolation."""

from __future__ import annotations

import sys
import textwrap
import time
import typing
from pathlib import Path

import pytest

from mos_lab.bus import EventBus
from mos_lab.plugins.isolation import IsolatedPlugin
from mos_lab.plugins.manifest import Manifest, PluginError
from mos_lab.plugins.registry import PluginContext, PluginRegistry
from mos_lab.plugins.state import SharedState

EXTENSIONS = Path(__file__).resolve().parents[3] / "extensions"


class Recorder:
    """A plugin that records when it starts, what it saw of its requirements, and stops."""

    log: typing.ClassVar[list[str]] = []

    def __init__(self, name: str, requires: dict[str, str] | None = None, version: str = "1.0",
                 api: str = ">=1,<2", fail: bool = False) -> None:
        self.manifest = Manifest(name, version, api=api, requires=requires or {})
        self.fail = fail
        self.ready = False
        self.saw_ready: dict[str, bool] = {}

    def start(self, context: PluginContext) -> None:
        self.saw_ready = {n: p.ready for n, p in context.requirements.items()}
        context.subscribe("chord", lambda ev: None)
        if self.fail:
            raise RuntimeError("cannot start")
        context.state.set("ready", True)
        self.ready = True
        Recorder.log.append(f"start {self.manifest.name}")

    def stop(self) -> None:
        self.ready = False
        Recorder.log.append(f"stop {self.manifest.name}")


@pytest.fixture
def bus():
    with EventBus() as b:
        yield b


@pytest.mark.seed("WID-06")
def test_incompatible_api_version_is_refused_clearly(bus):
    reg = PluginRegistry(bus)
    with pytest.raises(PluginError, match=r"needs plugin API >=2.*provides 1\.0.*upgrade"):
        reg.register(Recorder("future", api=">=2"))
    assert reg.names == []
    with pytest.raises(PluginError, match="version: 'x' is not a version"):
        Manifest("bad", "x")


@pytest.mark.seed("WID-09")
def test_dependency_cycle_is_detected_at_registration_and_named(bus):
    reg = PluginRegistry(bus)
    reg.register(Recorder("a", {"b": ">=1"}))
    reg.register(Recorder("b", {"c": ">=1"}))
    with pytest.raises(PluginError, match=r"cycle \(-> means requires\): "
                                          r"(c -> a -> b -> c|a -> b -> c -> a|b -> c -> a -> b)"):
        reg.register(Recorder("c", {"a": ">=1"}))
    assert reg.names == ["a", "b"]


@pytest.mark.seed("WID-03")
def test_requirements_start_first_and_are_ready(bus):
    Recorder.log = []
    reg = PluginRegistry(bus)
    top = Recorder("top", {"mid": ">=1"})
    reg.register(top)  # registered before its requirements exist
    reg.register(Recorder("mid", {"base": ">=1"}))
    reg.register(Recorder("base"))
    assert reg.start() == ["base", "mid", "top"]
    assert top.saw_ready == {"mid": True}
    reg.stop()
    assert Recorder.log[-3:] == ["stop top", "stop mid", "stop base"]


def test_missing_or_wrong_version_requirement_blocks_only_its_dependants(bus):
    reg = PluginRegistry(bus)
    reg.register(Recorder("needs_new", {"base": ">=2"}))
    reg.register(Recorder("base", version="1.5"))
    reg.register(Recorder("broken", fail=True))
    reg.register(Recorder("on_broken", {"broken": ">=1"}))
    assert reg.start() == ["base"]
    errors = [e["message"] for e in bus.history if e.type == "error"]
    assert any("requires base >=2, but base 1.5 is installed" in m for m in errors)
    assert any("cannot start" in m for m in errors)
    assert bus.subscriber_count("chord") == 1  # the failed plugin's subscription is gone
    with pytest.raises(PluginError, match=r"plugin 'broken' failed to start: cannot start"):
        reg.start("on_broken")


@pytest.mark.seed("WID-01", "INT-01")
def test_plugins_write_only_their_own_namespace(bus):
    state = SharedState()
    a, b = state.view("a"), state.view("b")
    a.set("tempo", 120)
    with pytest.raises(PluginError, match=r"'b' may not write \[.a\.tempo.\]"):
        b.set("a.tempo", 60)
    assert b.get("a.tempo") == 120  # reading others is fine
    with pytest.raises(PluginError), b.transaction() as tx:
        tx.set("mine", 1)
        tx.set("a.tempo", 1)
    assert state.get("b.mine") is None and state.get("a.tempo") == 120
    value = a.get("tempo")
    assert value == 120
    with a.transaction() as tx:
        tx.set("x", [1])
        tx.set("y", 2)
    assert state.snapshot() == {"a.tempo": 120, "a.x": [1], "a.y": 2}


def test_transaction_is_all_or_nothing_when_the_block_raises():
    state = SharedState()
    v = state.view("p")
    with pytest.raises(RuntimeError), v.transaction() as tx:
        tx.set("a", 1)
        raise RuntimeError("half way")
    assert state.snapshot() == {}


def test_stopping_a_plugin_releases_its_subscriptions_and_state(bus):
    reg = PluginRegistry(bus)
    reg.register(Recorder("solo"))
    reg.start()
    assert bus.subscriber_count("chord") == 1 and reg.state.get("solo.ready")
    reg.stop("solo")
    assert bus.subscriber_count("chord") == 0 and reg.state.snapshot() == {}


def test_entry_point_discovery_of_the_example_extension(bus, tmp_path, monkeypatch):
    """A real installed distribution (a dist-info on sys.path) found by entry point."""
    dist = tmp_path / "mos_lab_chord_log-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mos_lab_chord_log\n"
                                   "Version: 0.1.0\n")
    (dist / "entry_points.txt").write_text(
        "[mos_lab.plugins]\nchord_log = mos_lab_chord_log:ChordLog\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(EXTENSIONS / "mos_lab_chord_log"))
    reg = PluginRegistry(bus)
    assert "chord_log" in reg.discover()
    reg.start()
    for symbol in ("C", "G", "C"):
        bus.emit("chord", symbol=symbol)
    assert reg.state.get("chord_log.counts") == {"C": 2, "G": 1}
    assert reg.state.get("chord_log.last") == "C"
    reg.stop()
    sys.modules.pop("mos_lab_chord_log", None)


CHILD_PLUGIN = """
import time
def handle(event):
    kind = event["type"]
    sym = event.get("symbol", "")
    if sym == "hang":
        time.sleep(60)
    if sym == "hog":
        x = bytearray(2 * 1024 ** 3)  # beyond the memory limit
    if sym == "engine":
        import mos_lab.engine  # not importable: the child has no access to the kernel
    return [{"type": "progress", "task": "analyse " + sym, "done": 1.0, "total": 1.0},
            {"type": "transport", "state": "playing"},          # not an allowed type
            {"type": "progress", "task": "x", "done": "lots", "total": 1.0}]  # invalid
"""


@pytest.mark.seed("WID-08")
def test_untrusted_plugin_runs_isolated_with_limits(bus, tmp_path):
    (tmp_path / "shady.py").write_text(textwrap.dedent(CHILD_PLUGIN))
    reg = PluginRegistry(bus)
    plug = IsolatedPlugin(Manifest("shady", "0.1", trusted=False), "shady",
                          subscribes=["chord"], emits=["progress"], path=str(tmp_path),
                          timeout=1.0, memory_bytes=256 * 1024 * 1024)
    reg.register(plug)
    reg.start()
    bus.emit("chord", symbol="C")
    progress = [e for e in bus.history if e.type == "progress"]
    assert [e["task"] for e in progress] == ["analyse C"]
    assert plug.rejected == 2  # the disallowed type and the invalid field
    assert not any(e.type == "transport" for e in bus.history)
    bus.emit("chord", symbol="hog")  # MemoryError inside the child: an error answer
    bus.emit("chord", symbol="engine")  # ImportError inside the child
    assert plug.failed is None and plug.proc.poll() is None
    t0 = time.monotonic()
    bus.emit("chord", symbol="hang")
    assert time.monotonic() - t0 < 4
    assert plug.failed and "no valid answer" in plug.failed
    assert any(e.type == "error" and "shady" in e["source"] for e in bus.history)
    reg.stop()
    assert plug.proc is None


class Offering:
    """A plugin that offers a widget and a tool while it runs."""

    def __init__(self) -> None:
        self.manifest = Manifest("offers", "1.0")

    def start(self, context: PluginContext) -> None:
        context.add_widget("meter", lambda level=0: {"level": level}, "a level meter")
        context.add_tool("echo", "Echo the text back.",
                         {"type": "object", "properties": {"text": {"type": "string"}}},
                         lambda args: args.get("text", ""))
        for bad in (lambda: context.add_widget("Bad Name", dict),
                    lambda: context.add_tool("t", "doc", {"type": "array"}, str),
                    lambda: context.add_tool("t", " ", {"type": "object"}, str),
                    lambda: context.add_widget("meter", dict)):
            with pytest.raises(PluginError):
                bad()

    def stop(self) -> None:
        pass


def test_started_plugins_offer_widgets_and_tools_until_they_stop(bus):
    reg = PluginRegistry(bus)
    reg.register(Offering())
    assert reg.widgets == {} and reg.tools == {}
    reg.start()
    assert reg.widget("offers.meter", level=3) == {"level": 3}
    assert reg.tools["offers_echo"].fn({"text": "hi"}) == "hi"
    with pytest.raises(PluginError, match=r"no plugin widget 'meter'; offered: offers\.meter"):
        reg.widget("meter")
    reg.stop()
    assert reg.widgets == {} and reg.tools == {}
    assert [(r.name, r.state) for r in reg.status()] == [("offers", "stopped")]


@pytest.mark.seed("WID-08")
def test_an_in_process_plugin_marked_untrusted_is_refused(bus):
    reg = PluginRegistry(bus)
    sly = Recorder("sly")
    sly.manifest = Manifest("sly", "1.0", trusted=False)
    with pytest.raises(PluginError, match="marked untrusted but is an object in this process"):
        reg.register(sly)
    assert reg.names == [] and [(r.name, r.state) for r in reg.status()] == [("sly", "refused")]
