"""``mos-lab plugins`` lists what a session would load, with states and reasons; plugins
folders are checked strictly."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import pytest

from mos_lab.cli import main
from mos_lab.plugins.folders import candidates, drop_in
from mos_lab.plugins.manifest import PluginError

EXTENSIONS = Path(__file__).resolve().parents[3] / "extensions"


def make(folder: Path, name: str, toml: str, handler: bool = True) -> Path:
    d = folder / name
    d.mkdir(parents=True)
    (d / "plugin.toml").write_text(textwrap.dedent(toml))
    if handler:
        (d / f"{name}.py").write_text("def handle(event):\n    return []\n")
    return d


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("MOS_LAB_PLUGIN_PATH", "")
    f = tmp_path / "plugins"
    make(f, "base", 'name = "base"\nversion = "1.0"\nmodule = "base"\n')
    make(f, "old", 'name = "old"\nversion = "1.0"\nmodule = "old"\nrequires = {base = ">=2"}\n')
    make(f, "future", 'name = "future"\nversion = "1.0"\nmodule = "future"\napi = ">=2"\n')
    os.symlink(EXTENSIONS / "mos_lab_chord_log", f / "chord_log")
    yield f
    sys.modules.pop("mos_lab_chord_log", None)


def test_lists_plugins_with_their_state_and_why(folder, capsys):
    assert main(["plugins", "--folder", str(folder)]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line.split() for line in out.splitlines()[1:]
             if not line.startswith(" ")}
    assert lines["base"][1:4] == ["1.0", "ready", "sandboxed"]
    assert lines["chord_log"][1:4] == ["0.1.0", "ready", "yes"]
    assert lines["old"][2] == "blocked" and lines["future"][2] == "refused"
    assert "old: requires base >=2, but base 1.0 is installed" in out
    assert "needs plugin API >=2" in out


def test_start_reports_started_and_json(folder, capsys):
    assert main(["plugins", "--folder", str(folder), "--start", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["base"]["state"] == "started" and rows["chord_log"]["state"] == "started"
    assert rows["old"]["state"] == "failed" and rows["future"]["state"] == "refused"


def test_without_bubblewrap_sandboxed_plugins_are_blocked_saying_what_to_install(
        folder, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["plugins", "--folder", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "base: untrusted plugins run only inside the bubblewrap sandbox" in out
    assert "apt-get install bubblewrap" in out


def test_a_missing_folder_is_a_usage_error(tmp_path, capsys):
    assert main(["plugins", "--folder", str(tmp_path / "nope")]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_no_plugins_says_where_it_looked(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MOS_LAB_PLUGIN_PATH", "")
    assert main(["plugins"]) == 0
    assert "no plugins" in capsys.readouterr().out


@pytest.mark.parametrize(("toml", "problem"), [
    ('name = "x"\nversion = "1"\nmodule = "x"\ncolour = 1\n', r"unknown keys \['colour'\]"),
    ('name = "x"\nversion = "1"\nmodule = "x"\ntrusted = true\n', "always run in the sandbox"),
    ('name = "x"\nversion = "1"\n', "'module'.*is required"),
    ('name = "x"\nversion = "1"\nmodule = "x"\nemits = "progress"\n', "list of event types"),
    ('name = "X y"\nversion = "1"\nmodule = "x"\n', "must be lower-case"),
    ('name = "x"\nversion = "1"\nmodule = "../x"\n', "not a module name"),
])
def test_drop_in_manifests_are_checked(tmp_path, toml, problem):
    d = make(tmp_path, "x", toml, handler=False)
    with pytest.raises(PluginError, match=problem):
        drop_in(d)


def test_a_plugin_folder_can_be_given_directly(tmp_path):
    d = make(tmp_path, "solo", 'name = "solo"\nversion = "1"\nmodule = "solo"\n')
    [(label, source, load)] = candidates(d)
    assert label == "solo" and str(d) in source and load().manifest.trusted is False
    with pytest.raises(PluginError, match="is not a folder"):
        candidates(tmp_path / "missing")
