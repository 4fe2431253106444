"""muspy's metrics agree with muspy itself (the oracle) on every corpus file both read.

Two checks per file: the definitions (our functions on the very notes muspy read) and the
whole path (our functions on the Score that mos_lab's reader made), every file included
(``empty.mid``: a track of controllers and no note, whose length muspy takes from the
controllers, so its empty-beat rate is 1.0, not undefined). The corpus's ABC files are not
compared: muspy 0.5 cannot read them with music21 10 (it calls the removed ``Stream.flat``).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mos_lab.ai.data import metrics as M
from mos_lab.ai.data.compare import compare, theory_metrics
from mos_lab.cli import main
from mos_lab.score import load
from tests.conftest import CORPUS

muspy = pytest.importorskip("muspy")

FILES = sorted(CORPUS.glob("midi/**/*.mid"))


def _read(path: Path) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return muspy.read_midi(path)
        except Exception:  # muspy/mido refuse the corrupted ones: nothing to compare
            return None


def _table(music: Any) -> M.NoteTable:
    """muspy's notes as our table (the same notes, resolution and song length)."""
    rows = [(n.time, n.end, n.pitch, t.is_drum) for t in music.tracks for n in t.notes]
    a = np.array(rows, dtype=np.int64).reshape(-1, 4)
    length = max((t.get_end_time() for t in music.tracks), default=None)
    return M.NoteTable(a[:, 0], a[:, 1], a[:, 2], a[:, 3].astype(bool), music.resolution,
                       length)


def _oracle(music: Any, mr: int) -> dict[str, Any]:
    def ref(fn: Any, *args: Any) -> Any:
        try:
            v = fn(music, *args)
        except ValueError:  # muspy's max() over no tracks: undefined
            return None
        return None if isinstance(v, float) and math.isnan(v) else v

    return {
        "pitch_range": ref(muspy.pitch_range),
        "n_pitches_used": ref(muspy.n_pitches_used),
        "n_pitch_classes_used": ref(muspy.n_pitch_classes_used),
        "polyphony": ref(muspy.polyphony),
        "polyphony_rate": ref(muspy.polyphony_rate),
        "scale_consistency": ref(muspy.scale_consistency),
        "pitch_entropy": ref(muspy.pitch_entropy),
        "pitch_class_entropy": ref(muspy.pitch_class_entropy),
        "empty_beat_rate": ref(muspy.empty_beat_rate),
        "empty_measure_rate": ref(muspy.empty_measure_rate, mr),
        "groove_consistency": ref(muspy.groove_consistency, mr),
        "drum_in_pattern_rate_duple": ref(muspy.drum_in_pattern_rate, "duple"),
        "drum_in_pattern_rate_triple": ref(muspy.drum_in_pattern_rate, "triple"),
        "drum_pattern_consistency": ref(muspy.drum_pattern_consistency),
    }


def _same(ours: dict[str, Any], ref: dict[str, Any]) -> list[str]:
    bad = []
    for k, v in ref.items():
        o = ours[k]
        if (o is None) != (v is None) or (v is not None and abs(o - v) > 1e-6):
            bad.append(f"{k}: ours {o} muspy {v}")
    return bad


def test_corpus_is_there() -> None:
    assert len(FILES) >= 20, f"corpus missing under {CORPUS}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_agrees_with_muspy(path: Path) -> None:
    music = _read(path)
    if music is None:
        pytest.skip("muspy cannot read this file")
    score = load(path)
    mr = M.measure_resolution(score)
    assert mr is not None
    ref = _oracle(music, mr)
    assert _same(M.muspy_metrics(_table(music), mr), ref) == []  # the definitions
    assert _same(M.muspy_metrics(score, mr), ref) == []  # the whole path from the file


def test_noteless_file_has_a_length() -> None:
    """A file of controllers and no note: muspy's song length, so rates of 1.0 and 0.0."""
    path = CORPUS / "midi" / "one_track" / "empty.mid"
    score = load(path)
    assert score.n_notes == 0 and len(score.tracks) == 1
    got = M.muspy_metrics(score)
    assert got["empty_beat_rate"] == 1.0 and got["empty_measure_rate"] == 1.0
    assert got["polyphony_rate"] == 0.0 and got["polyphony"] is None
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["metrics", str(path), "--json"]) == 0
    (row,) = json.loads(out.getvalue())  # the command line says the same
    assert row["empty_beat_rate"] == 1.0 and row["empty_measure_rate"] == 1.0
    assert row["polyphony_rate"] == 0.0 and row["groove_consistency"] is None


def test_controller_track_after_the_notes(tmp_path: Path) -> None:
    """A track of controllers alone, later than every note, sets the length as in muspy."""
    mido = pytest.importorskip("mido")
    mid = mido.MidiFile(type=1, ticks_per_beat=96)
    notes = mido.MidiTrack([mido.Message("note_on", note=60, velocity=90, time=0),
                            mido.Message("note_off", note=60, time=96)])
    ctl = mido.MidiTrack([mido.Message("control_change", channel=1, control=7, value=90,
                                       time=96 * 9)])
    mid.tracks += [notes, ctl]
    path = tmp_path / "ctl.mid"
    mid.save(path)
    ref = _oracle(_read(path), 4 * 96)
    got = M.muspy_metrics(load(path), 4 * 96)
    assert _same(got, ref) == []
    assert got["empty_beat_rate"] == pytest.approx(1 - 2 / 10)  # beats 0 and 1 of 10


def test_undefined_is_none_and_hand_values() -> None:
    t = M.NoteTable(np.array([0, 0, 4]), np.array([4, 8, 8]), np.array([60, 64, 67]),
                    np.zeros(3, bool), 4, 8)
    assert M.polyphony(t) == pytest.approx((4 + 8 + 4) / 8)
    assert M.polyphony_rate(t) == 0.0 and M.polyphony_rate(t, threshold=1) == 1.0
    assert M.n_pitches_used(t) == 3 and M.pitch_range(t) == 7
    assert M.scale_consistency(t) == 1.0
    assert M.empty_beat_rate(t) == 0.0  # beats 0, 1 and 2 (a note's end beat counts)
    empty = M.NoteTable(*(np.zeros(0, np.int64),) * 3, np.zeros(0, bool), 4, None)
    assert M.polyphony(empty) is None and M.pitch_entropy(empty) is None
    assert M.empty_beat_rate(empty) is None and M.groove_consistency(empty, 16) is None
    assert M.pitch_range(empty) == 0
    with pytest.raises(ValueError):
        M.groove_consistency(t, 0)


def test_theory_metrics_and_compare() -> None:
    a = load(CORPUS / "midi" / "one_track" / "POP909_008.mid")
    b = a.transpose(5)
    th = theory_metrics(a)
    assert 0 < th["key_clarity"] <= 1 and th["chord_vocabulary"] > 3
    c = compare(a, b, names=("orig", "up 4th"))
    rows = {r[0]: r for r in c.rows}
    assert rows["pitch_entropy"][3] == pytest.approx(0.0)  # transposing keeps the shape
    assert "pitch_class_entropy" in c.table() and "<table>" in c._repr_html_()
    import matplotlib

    matplotlib.use("Agg")
    fig = c.plot()
    assert len(fig.axes[0].patches) >= 2 * 10
