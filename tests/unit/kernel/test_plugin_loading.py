"""A new Session discovers plugins (entry points and plugins folders), checks their
manifests, starts them in dependency order and wires their widgets, bus subscribers and
assistant tools; closing the session stops them."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from mos_lab.ai.assistant.tools import ToolContext, check_arguments
from mos_lab.kernel.session import Session

EXTENSIONS = Path(__file__).resolve().parents[3] / "extensions"

HANDLER = '''
def handle(event):
    return [{"type": "progress", "task": "%s saw " + event["symbol"], "done": 1.0,
             "total": 1.0}]
'''


@pytest.fixture
def no_user_plugins(monkeypatch, tmp_path) -> Iterator[None]:
    monkeypatch.setenv("MOS_LAB_PLUGIN_PATH", "")
    monkeypatch.delenv("MOS_LAB_NO_PLUGINS", raising=False)
    yield
    sys.modules.pop("mos_lab_chord_log", None)


class Scripted:
    """A chat backend that calls the plugin's tool once, then answers with its result."""

    name = "scripted"

    def respond(self, messages, tools, cancel=None):
        from mos_lab.ai.assistant.rules import ChatResponse, ToolCall

        assert any(t["name"] == "chord_log_counts" for t in tools)
        if messages[-1].role == "tool":
            return ChatResponse(text=messages[-1].content)
        return ChatResponse(tool_calls=[ToolCall("chord_log_counts", {})])


def install_chord_log(tmp_path: Path, monkeypatch) -> None:
    """chord_log as an installed distribution: a dist-info with its entry point."""
    dist = tmp_path / "site" / "mos_lab_chord_log-0.1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mos_lab_chord_log\n"
                                   "Version: 0.1.0\n")
    (dist / "entry_points.txt").write_text(
        "[mos_lab.plugins]\nchord_log = mos_lab_chord_log:ChordLog\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.syspath_prepend(str(EXTENSIONS / "mos_lab_chord_log"))


def drop_in(folder: Path, name: str, extra: str = "", handler: str | None = None) -> None:
    d = folder / name
    d.mkdir(parents=True)
    (d / "plugin.toml").write_text(textwrap.dedent(f'''
        name = "{name}"
        version = "0.1.0"
        module = "{name}_main"
        subscribes = ["chord"]
        emits = ["progress"]
        ''') + extra)
    (d / f"{name}_main.py").write_text(handler if handler is not None else HANDLER % name)


def test_a_new_session_starts_installed_plugins_and_wires_what_they_offer(
        tmp_path, monkeypatch, no_user_plugins):
    install_chord_log(tmp_path, monkeypatch)
    s = Session(output="null")
    try:
        assert s.plugins.started == ["chord_log"]
        [row] = s.plugins.status()
        assert (row.state, row.version, row.source) == (
            "started", "0.1.0", "entry point chord_log (mos_lab_chord_log)")
        view = s.plugins.widget("chord_log.table")
        for symbol in ("G7", "C", "G7"):
            s.bus.emit("chord", symbol=symbol)
        assert s.plugins.state.get("chord_log.counts") == {"G7": 2, "C": 1}
        assert "<td>G7</td><td>2</td>" in view.value  # the widget follows the bus
        tools = s.assistant_tools()
        assert {"load", "chord_at", "chord_log_counts"} <= set(tools)
        tool = tools["chord_log_counts"]
        assert tool.fn(ToolContext(), {"top": 1}) == "G7 x2"
        assert check_arguments(tool, {"top": 0}) and not check_arguments(tool, {"top": 2})
        reply = s.assistant(Scripted()).ask("which chords did I play?")
        assert reply.ok and reply.text == "G7 x2, C x1", reply
        assert any(kind == "plugins" and name == "chord_log 0.1.0"
                   for kind, name, _ in s.inventory())
    finally:
        s.close()
    assert s.plugins.status()[0].state == "stopped"
    assert s.plugins.tools == {} and s.plugins.widgets == {}


@pytest.mark.seed("WID-03", "WID-06")
def test_a_session_loads_a_plugins_folder_checking_manifests_and_order(
        tmp_path, monkeypatch, no_user_plugins):
    folder = tmp_path / "plugins"
    drop_in(folder, "top", 'requires = {base = ">=0.1"}\n')
    drop_in(folder, "base")
    drop_in(folder, "future", 'api = ">=2"\n')
    drop_in(folder, "orphan", 'requires = {ghost = ">=1"}\n')
    (folder / "broken").mkdir()
    (folder / "broken" / "plugin.toml").write_text("name = [unclosed\n")
    os.symlink(EXTENSIONS / "mos_lab_chord_log", folder / "chord_log_source")
    monkeypatch.setenv("MOS_LAB_PLUGIN_PATH", str(folder))
    s = Session(output="null")
    try:
        states = {r.name: (r.state, r.trusted) for r in s.plugins.status()}
        assert states == {"base": ("started", False), "top": ("started", False),
                          "chord_log": ("started", True), "orphan": ("failed", False),
                          "future": ("refused", False), "broken": ("error", True)}
        started = s.plugins.started
        assert started.index("base") < started.index("top")
        reasons = {r.name: r.reason for r in s.plugins.status()}
        assert "needs plugin API >=2" in reasons["future"]
        assert "requires 'ghost', which is not installed" in reasons["orphan"]
        assert "plugin.toml" in reasons["broken"]
        s.bus.emit("chord", symbol="D")
        heard = sorted(e["task"] for e in s.bus.history if e.type == "progress")
        assert heard == ["base saw D", "top saw D"]
        assert s.plugins.state.get("chord_log.last") == "D"
        assert "future" in repr(s.plugins) and "refused" in repr(s.plugins)
        n_errors = sum(e.type == "error" for e in s.bus.history)
        assert s.plugins.discover(folders=[folder]) == []  # again: nothing new, no noise
        assert sum(e.type == "error" for e in s.bus.history) == n_errors
    finally:
        s.close()
    assert {r.state for r in s.plugins.status() if r.name in ("base", "top")} == {"stopped"}
    assert all(not getattr(p, "alive", False) for p in s.plugins._plugins.values())


def test_untrusted_plugins_without_a_sandbox_fail_with_what_to_install(
        tmp_path, monkeypatch, no_user_plugins):
    folder = tmp_path / "plugins"
    drop_in(folder, "shady")
    monkeypatch.setenv("MOS_LAB_PLUGIN_PATH", str(folder))
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap
    s = Session(output="null")
    try:
        [row] = s.plugins.status()
        assert row.state == "failed" and "apt-get install bubblewrap" in row.reason
        assert s.plugins.started == []
        assert any(e.type == "error" and "bubblewrap" in e["message"] for e in s.bus.history)
    finally:
        s.close()


def test_plugins_can_be_turned_off(tmp_path, monkeypatch, no_user_plugins):
    install_chord_log(tmp_path, monkeypatch)
    s = Session(output="null", plugins=False)
    assert s.plugins.status() == []
    s.close()
    monkeypatch.setenv("MOS_LAB_NO_PLUGINS", "1")
    s = Session(output="null")
    assert s.plugins.status() == []
    s.close()
    s = Session(output="null", plugins=[EXTENSIONS])  # explicit folders still load
    assert s.plugins.started == ["chord_log"]
    s.close()
    s = Session(output="null", plugins=str(EXTENSIONS))  # one folder as a string
    assert s.plugins.started == ["chord_log"]
    s.close()
