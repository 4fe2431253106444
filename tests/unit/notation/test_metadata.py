"""Composers, modes and lyrics kept in the Score through ABC, MusicXML, MIDI and NVX1
(issue 14, Fidelity), music21 as the oracle where it reads the format."""

from __future__ import annotations

import pytest

import mos_lab
from mos_lab.score import KeySignature, ScoreError, nvx1
from mos_lab.score.model import Lyric
from mos_lab.score.notation import abc_key, abc_mode, read_abc, write_abc

TUNE = ("X:1\nT:Morning\nC:{composer}\nM:4/4\nL:1/4\nK:{key}\nDEFG|A2 A2|\n"
        "w:Hel-lo my dear friend, yes\nB- B c d|e4|]\nw:o-ver the sea\nw:sec-ond verse here\n")


def tune(key: str = "D dor", composer: str = "J. S. Bach") -> str:
    return TUNE.format(key=key, composer=composer)


@pytest.mark.parametrize(("field", "mode"), [("D dor", "dorian"), ("G Mix", "mixolydian"),
                                             ("E phrygian", "phrygian"), ("Am", "minor"),
                                             ("Bbmaj", "major"), ("C", ""), ("F#loc", "locrian")])
def test_abc_mode_names(field, mode):
    assert abc_mode(field) == mode


@pytest.mark.parametrize(("sharps", "minor", "mode", "name"), [
    (0, False, "dorian", "D dor"), (1, False, "mixolydian", "D mix"), (-1, False, "", "F"),
    (0, True, "", "Am"), (-3, False, "lydian", "Ab lyd"), (7, False, "locrian", "B# loc")])
def test_abc_key_names_modes(sharps, minor, mode, name):
    assert abc_key(sharps, minor, mode) == name


def test_abc_composer_and_modal_key_survive_a_round_trip():
    score = read_abc(tune())
    assert score.composer == "J. S. Bach"
    assert [(k.key, k.minor, k.mode) for k in score.key_signatures] == [(0, False, "dorian")]
    text = write_abc(score)
    back = read_abc(text)
    assert back.composer == "J. S. Bach" and back.key_signatures[0].mode == "dorian"
    m21 = pytest.importorskip("music21")
    parsed = m21.converter.parseData(text, format="abc")
    assert parsed.metadata.composer == "J. S. Bach"
    key = parsed.recurse().getElementsByClass("Key")[0]
    assert (key.tonic.name, key.mode) == ("D", "dorian")


def test_abc_lyrics_go_to_the_notes_in_order_verse_by_verse():
    score = read_abc(tune())
    q = score.tpq
    verse1 = [(ly.tick // q, ly.text) for ly in score.lyrics if ly.verse == 1]
    # the tied B is one note (one syllable), the half notes take one each
    assert verse1 == [(0, "Hel-"), (1, "lo"), (2, "my"), (3, "dear"), (4, "friend,"), (6, "yes"),
                      (8, "o-"), (10, "ver"), (11, "the"), (12, "sea")]
    assert [(ly.tick // q, ly.text) for ly in score.lyrics if ly.verse == 2] == \
        [(8, "sec-"), (10, "ond"), (11, "verse"), (12, "here")]


@pytest.mark.parametrize("ext", ["musicxml", "mid", "json"])
def test_composer_and_lyrics_survive_musicxml_midi_and_nvx1(tmp_path, ext):
    pytest.importorskip("music21")
    score = read_abc(tune())
    back = mos_lab.load(score.save(tmp_path / f"t.{ext}"))
    assert back.title == "Morning" and back.composer == "J. S. Bach"
    scale = back.tpq / score.tpq
    want = [(round(ly.tick * scale), ly.text, ly.verse) for ly in score.lyrics
            if ext != "mid" or ly.verse == 1]  # MIDI holds one lyric line
    assert sorted((ly.tick, ly.text, ly.verse) for ly in back.lyrics) == sorted(want)
    # MIDI key signatures hold major/minor only; MusicXML and NVX1 keep the mode
    assert back.key_signatures[0].mode == ("" if ext == "mid" else "dorian")


def test_exact_musicxml_keeps_lyrics_and_mode_for_performed_timing(tmp_path):
    m21 = pytest.importorskip("music21")
    score = read_abc(tune())
    notes = score.notes.copy()
    notes["start"][1:] += 7  # off any notation grid: written by exact_musicxml
    shift = {int(t): int(t) + (7 if t else 0) for t in score.notes["start"]}
    played = score.replace(notes=notes, lyrics=tuple(
        Lyric(shift[ly.tick], ly.text, ly.track, ly.verse) for ly in score.lyrics))
    path = played.save(tmp_path / "p.musicxml")
    assert b"<lyric" in path.read_bytes()
    parsed = m21.converter.parse(path)
    first = [n for n in parsed.recurse().notes][:2]
    assert [(ly.text, ly.syllabic) for ly in first[0].lyrics] == [("Hel", "begin")]
    assert [(ly.text, ly.syllabic) for ly in first[1].lyrics] == [("lo", "end")]
    assert parsed.metadata.composer == "J. S. Bach"
    assert parsed.recurse().getElementsByClass("Key")[0].mode == "dorian"
    back = mos_lab.load(path)
    assert [ly.text for ly in back.lyrics if ly.verse == 1][:3] == ["Hel-", "lo", "my"]


def test_a_chorale_s_composer_is_read_from_musicxml():
    m21 = pytest.importorskip("music21")
    from mos_lab.score import interop

    score = interop.from_music21(m21.corpus.parse("bach/bwv112.5"))
    assert score.composer == "J.S. Bach"


def test_bad_modes_and_lyric_tracks_are_named():
    s = mos_lab.Score.from_notes([(0, 480, 60, 80)])
    with pytest.raises(ScoreError, match=r"key_signatures\[0\]\.mode: 'doric'"):
        s.replace(key_signatures=(KeySignature(0, 0, False, "doric"),))
    with pytest.raises(ScoreError, match=r"lyrics\[0\]\.track: 3"):
        s.replace(lyrics=(Lyric(0, "la", 3),))
    doc = s.to_nvx1()
    doc["key_signatures"] = [{"tick": 0, "key": 0, "mode": "doric"}]
    assert any("key_signatures[0].mode" in p for p in nvx1.validate(doc))
    assert "composer" not in doc and "lyrics" not in doc  # optional: written when there


def test_lyrics_and_composer_are_engraved_under_their_notes():
    from mos_lab.notation import engrave
    from mos_lab.notation.build import notate
    from mos_lab.notation.musicxml import write
    from tests.unit.notation.conftest import parse

    score = read_abc(tune())
    root = parse(write(notate(score)))
    assert root.findtext(".//creator[@type='composer']") == "J. S. Bach"
    first = [(ly.get("number"), ly.findtext("syllabic"), ly.findtext("text"))
             for ly in root.iter("lyric")][:3]
    assert first == [("1", "begin", "Hel"), ("1", "end", "lo"), ("1", "single", "my")]
    verse2 = [ly.findtext("text") for ly in root.iter("lyric") if ly.get("number") == "2"]
    assert verse2 == ["sec", "ond", "verse", "here"]
    svg = engrave(score).svg(1)
    assert 'class="syl"' in svg and "friend," in svg and "J. S. Bach" in svg


def test_chord_labels_go_under_the_verses():
    from mos_lab.notation.build import notate
    from mos_lab.theory import analyze

    score = read_abc(tune())
    notated = notate(score, analysis=analyze(score), harmony="symbols")
    lines = {n for m in notated.parts[0].measures for v in m.voices for ev in v.events
             for n in ev.lyrics}
    assert lines == {1, 2, 3}  # two verses, then the chord symbols


def test_plain_abc_keys_keep_no_mode_name():
    score = read_abc(tune(key="Em"))
    assert [(k.key, k.minor, k.mode) for k in score.key_signatures] == [(1, True, "")]
    assert read_abc(tune(key="E aeo")).key_signatures[0].mode == "aeolian"


def test_abc_lyrics_follow_the_first_voice_only():
    text = ("X:1\nT:Two\nM:4/4\nL:1/4\nK:C\nV:1\nc d e f|\nw:one two three four\n"
            "V:2\nC,2 E,2|\nw:un deux\nV:1\ng a b c'|\nw:five six sev-en\nV:2\nG,4|\n")
    score = read_abc(text)
    q = score.tpq
    got = [(ly.tick // q, ly.text) for ly in score.lyrics]
    assert got == [(0, "one"), (1, "two"), (2, "three"), (3, "four"), (4, "five"), (5, "six"),
                   (6, "sev-"), (7, "en")]
    assert {ly.track for ly in score.lyrics} == {0}
