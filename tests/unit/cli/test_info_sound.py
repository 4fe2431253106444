"""`mos-lab info --sound` says which instrument set plays, and why."""

from __future__ import annotations

import os

import pytest

from mos_lab.cli import main

TIMGM = "/usr/share/sounds/sf2/TimGM6mb.sf2"


def test_builtin_chosen_by_the_environment_says_so(monkeypatch, capsys):
    monkeypatch.setenv("MOS_LAB_SOUNDFONT", "builtin")
    assert main(["info", "--sound"]) == 0
    assert capsys.readouterr().out.strip() == (
        "instruments: built-in (chosen by MOS_LAB_SOUNDFONT=builtin)")


@pytest.mark.skipif(not os.path.isfile(TIMGM), reason="apt-get install timgm6mb-soundfont")
def test_a_chosen_soundfont_is_named_with_its_kind_and_size(monkeypatch, capsys):
    monkeypatch.setenv("MOS_LAB_SOUNDFONT", TIMGM)
    assert main(["info", "--sound"]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("instruments: TimGM6mb.sf2 (SF2, ") and out.endswith(f"at {TIMGM}")
