"""Training data for NotaGen from music21's corpus: interleaved ABC with NotaGen-X prompts.

Each piece becomes one text: the prompt lines (``%period``, ``%composer``,
``%instrumentation``), then the interleaved header and one line per bar. Sources: Bach's
chorales (MusicXML, through mos_lab's ABC writer), the Essen folk songs and Ryan's Mammoth
collection (ABC, one voice). Pieces are split into train and held-out sets by a hash of
their name, so the split is the same on every machine and run.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from mos_lab.ai.models.notagen import patchilizer as P
from mos_lab.ai.models.notagen.keys import key_normalized

#: the prompt lines of each source: (period, composer, instrumentation)
PROMPTS = {
    "chorales": ("Baroque", "Bach, Johann Sebastian", "Choral"),
    "essen": ("Folk", "Traditional", "Voice"),
    "ryans": ("Folk", "Traditional", "Fiddle"),
}
SOURCES = tuple(PROMPTS)
_DROP = ("T:", "X:", "%%score")
_BAR_END = re.compile(r"(\|\]|\|\||:\||\||::)\s*$")


@dataclass(frozen=True)
class Piece:
    """One piece of training data: its name, source and interleaved ABC with prompts."""

    name: str
    source: str
    text: str

    @property
    def held_out(self) -> bool:
        """True for about one piece in ten (by a hash of the name): the evaluation set."""
        return int(hashlib.sha256(self.name.encode()).hexdigest(), 16) % 10 == 0


def _corpus_dir() -> Path:
    try:
        import music21
    except ImportError:
        raise ImportError("the NotaGen training corpus needs music21: "
                          "pip install 'mos_lab[notation]'") from None
    return Path(music21.__file__).parent / "corpus"


def _clean(text: str) -> str:
    """Interleaved ABC with the title, tune number and voice list dropped, ASCII only."""
    lines = [ln for ln in text.split("\n") if ln and not ln.startswith(_DROP)]
    out = "\n".join(lines) + "\n"
    P.check_text(out)
    return out


def abc_tunes(text: str) -> Iterator[str]:
    """The tunes of an ABC file (``X:`` each), every body line closed by a barline (the
    Essen files end a phrase line without one where the bar ends)."""
    for chunk in re.split(r"\n(?=X:)", text):
        lines = [ln.rstrip() for ln in chunk.splitlines()]
        k = next((i for i, ln in enumerate(lines) if ln.startswith("K:")), None)
        if k is None:
            continue
        body = []
        for ln in lines[k + 1:]:
            ln = ln.split("%", 1)[0].rstrip()
            if not ln or re.match(r"^[A-Za-z]:", ln):
                continue
            if ln.endswith("\\"):  # a continued line: the bar goes on
                body.append(ln[:-1].rstrip())
            else:
                body.append(ln if _BAR_END.search(ln) else ln + " |")
        if body:
            yield "\n".join(lines[: k + 1] + body) + "\n"


def _prompted(source: str, abc: str, normalize: bool = False) -> str:
    from mos_lab.ai.data.abc_tokens import interleave  # ai.data uses notagen's patchilizer

    period, composer, instr = PROMPTS[source]
    if normalize:
        from mos_lab.ai.data.abc_tokens import interleaved_abc
        from mos_lab.score import load

        body = interleaved_abc(key_normalized(load(abc.encode("latin-1"), format="abc")))
    else:
        body = interleave(abc)
    return _clean(f"%{period}\n%{composer}\n%{instr}\n" + body)


def _chorales(root: Path, held_out: bool | None = None, normalize: bool = False
              ) -> Iterator[tuple[str, Callable[[], str]]]:
    from mos_lab.ai.data.abc_tokens import interleaved_abc
    from mos_lab.score import load

    for path in sorted((root / "bach").glob("*.mxl")):
        if held_out is not None and Piece(f"chorales/{path.stem}", "", "").held_out != held_out:
            continue
        def make(path: Path = path) -> str:
            period, composer, instr = PROMPTS["chorales"]
            score = load(str(path))
            return _clean(f"%{period}\n%{composer}\n%{instr}\n" + interleaved_abc(
                key_normalized(score) if normalize else score))
        yield f"chorales/{path.stem}", make


def _abc_files(root: Path, folder: str, source: str, normalize: bool = False
               ) -> Iterator[tuple[str, Callable[[], str]]]:
    for path in sorted((root / folder).glob("*.abc")):
        text = path.read_text(encoding="latin-1")
        for i, tune in enumerate(abc_tunes(text)):
            yield f"{source}/{path.stem}/{i}", partial(_prompted, source, tune, normalize)


def music21_pieces(sources: tuple[str, ...] = SOURCES, limit: int | None = None,
                   on_error: Callable[[str, Exception], None] | None = None,
                   normalize: bool = False) -> Iterator[Piece]:
    """The pieces of music21's corpus as interleaved ABC (``limit`` per source), with
    ``normalize`` each moved to a key signature without sharps or flats
    (``key_normalized``); a piece that does not convert is skipped and reported to
    ``on_error``."""
    unknown = set(sources) - set(SOURCES)
    if unknown:
        raise ValueError(f"notagen data: unknown sources {sorted(unknown)}; "
                         f"known: {', '.join(SOURCES)}")
    root = _corpus_dir()
    makers = {"chorales": lambda: _chorales(root, normalize=normalize),
              "essen": lambda: _abc_files(root, "essenFolksong", "essen", normalize),
              "ryans": lambda: _abc_files(root, "ryansMammoth", "ryans", normalize)}
    for source in sources:
        n = 0
        for name, make in makers[source]():
            if limit is not None and n >= limit:
                break
            try:
                text = make()
            except Exception as exc:  # music21/ABC quirks in single corpus pieces
                if on_error is not None:
                    on_error(name, exc)
                continue
            if not any(P.is_body_line(ln) for ln in text.split("\n")):
                continue
            n += 1
            yield Piece(name, source, text)


def held_out_chorales(on_error: Callable[[str, Exception], None] | None = None
                      ) -> Iterator[Piece]:
    """The held-out Bach chorales only (about one in ten), converted without the rest."""
    for name, make in _chorales(_corpus_dir(), held_out=True):
        try:
            yield Piece(name, "chorales", make())
        except Exception as exc:  # music21 quirks in single corpus pieces
            if on_error is not None:
                on_error(name, exc)


def write_pieces(pieces: Iterator[Piece] | list[Piece], folder: str | os.PathLike[str]
                 ) -> int:
    """Write pieces as ``folder/train|heldout/<source>/<name>.abc``; how many were written."""
    n = 0
    for piece in pieces:
        part = "heldout" if piece.held_out else "train"
        path = Path(folder, part, piece.name + ".abc")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(piece.text, encoding="ascii")
        n += 1
    return n


def read_texts(paths: list[str | os.PathLike[str]]) -> list[str]:
    """The ABC texts of files and folders (``*.abc`` found recursively), in sorted order."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(p.rglob("*.abc"))
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(f"notagen data: {p} is neither an .abc file nor a folder")
    if not files:
        raise FileNotFoundError(f"notagen data: no .abc files in {', '.join(map(str, paths))}")
    return [f.read_text(encoding="ascii") for f in files]
