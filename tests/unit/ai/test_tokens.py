"""miditok tokenizations from a Score and back: exact on the grid, honest off it."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest

from mos_lab.score import MissingDependencyError, Score, Track, load
from mos_lab.score._types import NOTE_DTYPE
from mos_lab.score.tempo import TempoChange, TempoMap
from tests.conftest import CORPUS

pytest.importorskip("miditok")
from mos_lab.ai.data.tokens import TOKENIZATIONS, Tokenizer

warnings.filterwarnings("ignore", module="miditok")


def _rows(s: Score) -> list[tuple[int, ...]]:
    prog = [-1 if t.drums else t.program for t in s.tracks]
    return sorted((prog[n["track"]], int(n["start"]), int(n["duration"]), int(n["pitch"]),
                   int(n["velocity"])) for n in s.notes)


@pytest.fixture(scope="module")
def on_grid() -> Score:
    """Piano, bass and drums on a sixteenth grid, every velocity distinct, pitches 0-127."""
    rng = np.random.default_rng(3)
    tracks = (Track("piano", 0, 0), Track("bass", 33, 1), Track("drums", 0, 9, True))
    rows = []
    for i in range(96):
        tr = i % 3
        start = 120 * int(rng.integers(0, 64))
        dur = 120 * int(rng.integers(1, 8))
        pitch = int(rng.integers(0, 128)) if tr < 2 else int(rng.integers(35, 60))
        rows.append((start, dur, pitch, 1 + i, tr, tracks[tr].channel))
    kept, busy = [], {}  # same-pitch notes of a part must not overlap (MIDI cannot say it)
    for r in sorted(rows):
        if busy.get((r[2], r[4]), -1) <= r[0]:
            kept.append(r)
            busy[(r[2], r[4])] = r[0] + r[1]
    rows = kept
    notes = np.array(sorted(rows), dtype=NOTE_DTYPE)
    return Score(notes, tracks, TempoMap(480, [TempoChange(0, 500_000)]))


@pytest.mark.parametrize("kind", TOKENIZATIONS)
def test_on_grid_round_trip_is_exact(kind: str, on_grid: Score) -> None:
    tk = Tokenizer(kind)
    enc = tk.encode(on_grid)
    assert enc.exact, enc.dropped
    assert enc.ids.dtype == np.int64 and enc.ids.max() < tk.vocab_size
    back = tk.decode(enc.ids, tpq=480)
    assert _rows(back) == _rows(on_grid)
    assert tk.ids_to_tokens(enc.ids[:3]) == list(enc.tokens[:3])


@pytest.mark.parametrize("kind", TOKENIZATIONS)
@pytest.mark.parametrize("name", ["multitrack/Funkytown.mid", "one_track/Maestro_1.mid"])
def test_corpus_reports_what_moved_and_its_result_is_exact(kind: str, name: str) -> None:
    s = load(CORPUS / "midi" / name)
    tk = Tokenizer(kind)
    enc = tk.encode(s)
    assert not enc.exact and any("durations" in d or "onsets" in d for d in enc.dropped)
    once = tk.decode(enc.ids, tpq=s.tpq)
    assert len(once.notes) == len(s.notes)  # nothing lost, only moved onto the grid
    again = tk.encode(once)  # what the tokenization kept, it keeps exactly
    assert [d for d in again.dropped if "controller" not in d and "tempo" not in d] == []
    assert _rows(tk.decode(again.ids, tpq=s.tpq)) == _rows(once)


def test_performed_piano_says_how_far_onsets_moved() -> None:
    s = load(CORPUS / "midi" / "one_track" / "Maestro_1.mid")
    enc = Tokenizer("REMI").encode(s)
    moved = [d for d in enc.dropped if "onsets moved" in d]
    assert moved and "ticks" in moved[0]
    assert any("controller" in d for d in enc.dropped)  # its sustain pedal is not encoded


def test_unknown_kind_and_missing_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="REMI"):
        Tokenizer("CPWord?")
    monkeypatch.setitem(sys.modules, "miditok", None)
    with pytest.raises(MissingDependencyError, match=r"mos_lab\[ai\]"):
        Tokenizer("REMI")


# -- NotaGen's interleaved ABC (its patchilizer from mos_lab.ai.models.notagen) ---------


def _two_voices() -> Score:
    tracks = (Track("melody", 0, 0), Track("bass", 32, 1))
    rows = [(i * 240, 240, 72 + (i * 5) % 12, 80, 0, 0) for i in range(32)]
    rows += [(i * 960, 960, 40 + (i * 7) % 12, 70, 1, 1) for i in range(6)]  # rests at the end
    return Score(np.array(sorted(rows), dtype=NOTE_DTYPE), tracks,
                 TempoMap(480, [TempoChange(0, 500_000)]))


@pytest.mark.parametrize("name", ["midi/issue78_dump_abc.mid", "abc/rising_sun.abc", "two"])
def test_notagen_patches_round_trip_the_abc_export(name: str) -> None:
    from mos_lab.ai.data.abc_tokens import abc_patches, interleaved_abc, score_from_patches
    from mos_lab.ai.models.notagen import patchilizer
    from mos_lab.score.notation import write_abc

    s = _two_voices() if name == "two" else load(CORPUS / name)
    text = interleaved_abc(s)
    body = [ln for ln in text.splitlines() if ln.startswith("[V:")]
    assert body and all(ln.endswith("|") or ln.endswith("]") for ln in body)  # a bar a line
    patches = abc_patches(s)
    assert patches[0] == patchilizer.bos_patch()
    assert all(len(p) <= patchilizer.PATCH_SIZE and max(p) < 128 for p in patches)
    back = score_from_patches(patches)
    ref = load(write_abc(s).encode(), format="abc")  # what any ABC export keeps
    assert len(back.tracks) == len(ref.tracks) == len(s.tracks)
    assert sorted(r[1:] for r in _rows(back)) == sorted(r[1:] for r in _rows(ref))  # no programs
    if name == "two":
        assert "[V:1]" in body[-1] and "[V:2]" not in body[-1]  # a resting voice is left out
