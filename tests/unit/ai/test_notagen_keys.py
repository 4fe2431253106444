"""Key-normalised NotaGen: training pieces written without sharps or flats, checkpoints that
say so, and generated pieces moved to the key asked for (service, CLI)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from mos_lab.ai.models.notagen.keys import key_normalized, to_signature
from mos_lab.score import KeySignature, Score, load

ABC = "X:1\nT:t\nM:4/4\nL:1/4\nK:{key}\n{notes} |]\n"


def piece(key: str, notes: str) -> Score:
    return load(ABC.format(key=key, notes=notes).encode(), format="abc")


@pytest.mark.parametrize(("key", "notes", "sharps", "want"), [
    ("D", "D F A d", 2, [60, 64, 67, 72]),       # D major -> C major, down a tone
    ("Dm", "D F A ^c", -1, [57, 60, 64, 68]),    # D minor -> A minor, down a fourth
    ("Bb", "B, D F B", -2, [60, 64, 67, 72]),    # B flat major -> C major, up a tone
    ("F#", "F A c f", 6, [60, 64, 67, 72]),      # F sharp major: a tritone, downwards
    ("C", "C E G c", 0, [60, 64, 67, 72]),       # already without: unchanged
])
def test_key_normalized_writes_the_piece_without_sharps_or_flats(
        key: str, notes: str, sharps: int, want: list[int]) -> None:
    s = piece(key, notes)
    assert s.key_signatures[0].key == sharps
    n = key_normalized(s)
    assert n.key_signatures[0].key == 0 and n.key_signatures[0].minor == s.key_signatures[0].minor
    assert n.notes["pitch"].tolist() == want
    back = to_signature(n, sharps)  # and exactly back (the tritone too)
    assert back.notes["pitch"].tolist() == s.notes["pitch"].tolist()
    assert back.key_signatures[0].key == sharps


def test_to_signature_moves_later_signatures_and_refuses_impossible_ones() -> None:
    s = piece("G", "G B d g").replace(key_signatures=[KeySignature(0, 1), KeySignature(960, 5)])
    moved = to_signature(s, 4)  # three sharps more: the later B major becomes A flat major
    assert [k.key for k in moved.key_signatures] == [4, -4]
    assert (moved.notes["pitch"].astype(int) - s.notes["pitch"]).tolist() == [-3] * 4  # G -> E
    with pytest.raises(ValueError, match=r"outside -7\.\.7"):
        to_signature(s, 8)
    bare = s.replace(key_signatures=[])
    assert to_signature(bare, -3).key_signatures[0].key == -3


def test_music21_chorales_convert_key_normalized() -> None:
    pytest.importorskip("music21")
    from mos_lab.ai.models.notagen import data
    from mos_lab.ai.models.notagen.abc import to_score

    plain = list(data.music21_pieces(("chorales",), limit=3))
    normal = list(data.music21_pieces(("chorales",), limit=3, normalize=True))
    assert [p.name for p in plain] == [p.name for p in normal]
    signatures = []
    for a, b in zip(plain, normal, strict=True):
        sa, sb = to_score(a.text), to_score(b.text)
        signatures.append(sa.key_signatures[0].key)
        assert sb.key_signatures[0].key == 0
        assert re.search(r"^K:(C|Am|[A-G]\w+)$", b.text, re.M)
        shift = (sb.notes["pitch"].astype(int) - sa.notes["pitch"].astype(int))
        assert len(set(shift.tolist())) == 1 and abs(int(shift[0])) <= 6  # one move, all notes
        assert np.array_equal(sa.notes["start"], sb.notes["start"])
    assert any(signatures)  # at least one piece really moved



def test_checkpoints_record_their_traits_and_nota_gens_own_have_none(tmp_path: Path,
                                                                    one_thread: None) -> None:
    import torch

    from mos_lab.ai.models import notagen
    from mos_lab.ai.models.notagen.model import NotaGenConfig

    m = notagen.random(NotaGenConfig(hidden=64, patch_layers=1, char_layers=1, patch_length=16))
    assert not m.key_normalized and not m.every_voice
    m.key_normalized = m.every_voice = True
    m.save(tmp_path / "mine.pth")
    loaded = notagen.load(tmp_path / "mine.pth")
    assert loaded.key_normalized and loaded.every_voice
    torch.save({"model": m.net.state_dict()}, tmp_path / "theirs.pth")  # NotaGen's format
    theirs = notagen.load(tmp_path / "theirs.pth")
    assert not theirs.key_normalized and not theirs.every_voice


def test_the_shipped_model_writes_in_c_and_the_service_moves_it_to_the_key(
        one_thread: None) -> None:
    from mos_lab.ai.core.types import CancelToken, GenerationRequest
    from mos_lab.ai.models import notagen
    from mos_lab.ai.models.notagen.backend import NotaGenBackend

    m = notagen.shipped()
    assert m.key_normalized and m.every_voice
    backend = NotaGenBackend(model=m)
    prompt = "Baroque_Bach, Johann Sebastian_Choral"
    scores = {}
    for key in ("C major", "Eb major", "E minor"):
        r = backend.generate(GenerationRequest(prompt=prompt, key=key, bars=3, seed=5),
                             lambda *a: None, CancelToken())
        assert r.score is not None
        scores[key] = r.score
    base = scores["C major"]
    assert base.key_signatures[0].key == 0 and not base.key_signatures[0].minor
    assert scores["Eb major"].key_signatures[0].key == -3
    # the key line is held to the mode asked for: E minor, not G major
    e_minor = scores["E minor"].key_signatures[0]
    assert e_minor.key == 1 and e_minor.minor
    # the same piece (same seed, same mode), moved: every note by one interval (a tritone
    # at most) that takes C to E flat
    d = scores["Eb major"].notes["pitch"].astype(int) - base.notes["pitch"].astype(int)
    assert len(set(d.tolist())) == 1 and int(d[0]) == 3


def test_mode_check_holds_the_key_line_to_the_mode() -> None:
    pytest.importorskip("torch")
    from mos_lab.ai.models.notagen.sampling import mode_check

    minor, major = mode_check(True), mode_check(False)
    assert minor("K:Am\n") == [] and major("K:C\n") == [] and major("K:C major\n") == []
    assert minor("K:C\n") == ["key line 'K:C' is not minor"]
    assert major("K:Am\n") == ["key line 'K:Am' is not major"]
    assert major("K:Ddor\n") and minor("K:Ddor\n")  # a church mode is neither
    assert minor("M:4/4\n") == [] and minor("M:4/4 |\n")  # the header's own checks stay


def test_cli_generate_key_and_train_normalize_keys(tmp_path: Path, one_thread: None,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from mos_lab.cli import main

    out = tmp_path / "a.mid"
    base = ["generate", "--prompt", "Baroque_Bach, Johann Sebastian_Choral", "--bars", "2",
            "--seed", "2"]
    assert main([*base, "--key", "A major", "-o", str(out)]) == 0
    assert load(out).key_signatures[0].key == 3
    assert main([*base, "--key", "F minor", "-o", str(out)]) == 0
    assert load(out).key_signatures[0].key == -4 and load(out).key_signatures[0].minor
    assert main([*base, "--key", "A major", "-o", str(tmp_path / "a.abc")]) == 0
    assert re.search(r"^K:A$", (tmp_path / "a.abc").read_text(), re.M)
    assert main([*base, "--key", "H major", "-o", str(out)]) == 2
    assert "--key" in capsys.readouterr().err
    assert main(["train", str(tmp_path), "--normalize-keys", "-o", str(tmp_path / "r")]) == 2
    assert "--music21" in capsys.readouterr().err
