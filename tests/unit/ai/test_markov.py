"""The offline Markov generator: trained from real corpora, valid output under all keys."""

from __future__ import annotations

import numpy as np
import pytest

from mos_lab.ai.assistant.tools import chord_name
from mos_lab.ai.core.errors import GenerationCancelled, MissingAIDependencyError
from mos_lab.ai.core.types import CancelToken, GenerationRequest
from mos_lab.ai.core.validate import request_key, score_problems
from mos_lab.ai.models import make_backend
from mos_lab.ai.models.markov.backend import MarkovBackend, scale_of
from mos_lab.score import Score


def gen(b: MarkovBackend, **kw):
    req = GenerationRequest(**kw)
    return req, b.generate(req, lambda d, n: None, CancelToken()).score


def test_trains_on_bach_chorales_from_music21_and_caches(tmp_path):
    pytest.importorskip("music21")
    b = MarkovBackend(pieces=3, cache=tmp_path)
    b.load()
    assert b.path.exists() and len(b.info.checksum) == 64 and b.memory_bytes() > 0
    req, s = gen(b, key="D minor", bars=8, seed=1)
    assert score_problems(s, req) == []
    again = MarkovBackend(pieces=3, cache=tmp_path)
    again.load()
    assert again.notices == [] and again.info.checksum == b.info.checksum


@pytest.mark.parametrize("key, meter", [("C", (4, 4)), ("D minor", (4, 4)), ("Bb", (3, 4)),
                                        ("f#m", (6, 8)), ("Eb major", (2, 2))])
def test_generated_scores_are_valid_in_every_key_and_meter(markov, key, meter):
    for seed in range(5):
        req, s = gen(markov, key=key, meter=meter, bars=6, seed=seed, bpm=96)
        assert score_problems(s, req) == [], (key, meter, seed)
        k = request_key(key)
        assert s.notes["pitch"][-1] % 12 == k.tonic.pc  # ends on the tonic
        pcs = set((s.notes["pitch"] % 12).tolist())
        assert pcs <= {p.pc for p in scale_of(k)}
        assert len(s.chords) == 6 and s.key_signatures[0].minor == (k.mode == "minor")
        assert s.time_signatures[0].numerator == meter[0]
        assert s.tempo.bpm_at(0) == pytest.approx(96)


def test_seed_is_deterministic_and_conditioning_continues_a_melody(markov):
    _, a = gen(markov, key="G", bars=4, seed=9)
    _, b = gen(markov, key="G", bars=4, seed=9)
    _, c = gen(markov, key="G", bars=4, seed=10)
    assert np.array_equal(a.notes, b.notes) and not np.array_equal(a.notes, c.notes)
    cond = Score.from_notes([(0, 480, 71, 80), (480, 480, 72, 80)])
    _, d = gen(markov, key="G", bars=2, seed=1, condition=cond)
    assert abs(int(d.notes["pitch"][0]) - 72) <= 12


def test_trains_on_the_users_midi_files(tmp_path):
    from ai_fakes import tiny_corpus
    paths = []
    for i, s in enumerate(tiny_corpus()[:3]):
        paths.append(s.save(tmp_path / f"t{i}.mid"))
    b = MarkovBackend(paths, cache=tmp_path / "cache")
    req, s = gen(b, key="A", bars=4, seed=2)
    assert score_problems(s, req) == []


def test_generation_stops_when_cancelled(markov):
    tok = CancelToken()
    tok.cancel("stop")
    with pytest.raises(GenerationCancelled):
        markov.generate(GenerationRequest(bars=64), lambda d, n: None, tok)


def test_heavy_backends_say_what_to_install():
    try:
        import torch  # noqa: F401
    except ImportError:
        with pytest.raises(MissingAIDependencyError, match=r"pip install 'mos_lab\[ai\]'"):
            make_backend("musicgen")
    with pytest.raises(ValueError, match="not markov"):
        make_backend("gpt-17")


def test_chord_names_come_from_theory():
    assert chord_name([60, 64, 67]) == "C"
    assert chord_name([57, 60, 64]) == "Am"
    assert chord_name([55, 59, 62, 65]) == "G7"
    assert chord_name([64, 67, 72]) == "C/E"
    assert chord_name([]) == "N.C." and chord_name([60, 72]) == "N.C."


@pytest.mark.parametrize(("text", "name", "sharps"), [
    ("D minor", "D minor", -1), ("Dm", "D minor", -1), ("f#m", "F# minor", 3),
    ("Bb major", "Bb major", -2), ("eb-", "Eb minor", -6), ("f#", "F# major", 6),
    ("C", "C major", 0),
])
def test_request_keys_are_spelled_theory_keys(text, name, sharps):
    k = request_key(text)
    assert k.name == name and k.sharps == sharps


def test_diatonic_chord_symbols_are_spelled_in_the_key():
    from mos_lab.ai.models.markov.backend import chord_symbol
    d = request_key("D minor")
    assert [chord_symbol(d, i) for i in range(7)] == ["Dm", "Edim", "Faug", "Gm", "A", "Bb",
                                                       "C#dim"]
    fs = request_key("F#")
    assert chord_symbol(fs, 6) == "E#dim" and chord_symbol(fs, 1) == "G#m"
