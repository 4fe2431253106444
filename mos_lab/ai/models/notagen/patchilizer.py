"""Interleaved ABC text into NotaGen's patches, as NotaGen's Patchilizer does in generate mode.

Pure Python, no torch. Characters are ``ord(c)`` < 128; pad 0, BOS 1, EOS 2. The first
patch is ``[1]*15 + [2]``; header lines (before the first line starting ``[V:`` or
``[r:``) are cut into patches of ``patch_size`` characters with an EOS when a line's
length is not a multiple of it; the tune body is split into bars (each starts with its
barline) patched the same way, except the last bar: no EOS, its last chunk not padded,
because the character decoder continues it.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

PAD, BOS, EOS = 0, 1, 2
PATCH_SIZE = 16
VOCAB = 128
DELIMITERS = ("|:", "::", ":|", "[|", "||", "|]", "|")
_BAR_RE = re.compile("(" + "|".join(map(re.escape, DELIMITERS)) + ")")


def bos_patch(patch_size: int = PATCH_SIZE) -> list[int]:
    """The patch every piece starts with: BOS repeated, then EOS."""
    return [BOS] * (patch_size - 1) + [EOS]


def end_patch(patch_size: int = PATCH_SIZE) -> list[int]:
    """The patch that ends a piece: BOS, then EOS repeated."""
    return [BOS] + [EOS] * (patch_size - 1)


def is_body_line(line: str) -> bool:
    """True for a tune-body line (it starts with a voice ``[V:`` or a stream ``[r:`` field)."""
    return line.startswith(("[V:", "[r:"))


def split_bars(lines: list[str]) -> list[str]:
    """Tune-body lines into bars as NotaGen's ``split_bars``: each bar starts with its
    barline, and a last segment without a ``V`` (a closing barline and newline) joins the
    bar before. Where a line's pieces cannot be paired NotaGen stops, keeping the bars of
    the lines before it; so does this, with a warning naming the line dropped."""
    bars: list[str] = []
    for n, line in enumerate(lines):
        pieces = [p for p in _BAR_RE.split(line) if p]
        if len(pieces) == 1:
            bars += pieces
            continue
        start = 0 if pieces[0] in DELIMITERS else 1
        line_bars: list[str] = []
        if (len(pieces) - start) % 2 == 0:
            line_bars = pieces[:start] + [pieces[i] + pieces[i + 1]
                                          for i in range(start, len(pieces), 2)]
            if "V" not in line_bars[-1] and len(line_bars) > 1:
                tail = line_bars.pop()
                line_bars[-1] += tail
            elif "V" not in line_bars[-1]:
                line_bars = []
        if not line_bars:
            warnings.warn(f"notagen: cannot split tune-body line {line!r} into bars as NotaGen "
                          f"does; it and the {len(lines) - n - 1} line(s) after it are dropped, "
                          "as NotaGen drops them", stacklevel=3)
            break
        bars += line_bars
    return bars


def split_patches(text: str, patch_size: int = PATCH_SIZE, last: bool = False) -> list[str]:
    """A line or bar cut into patches; an EOS is added unless its length divides evenly
    or it is the ``last`` bar (which the character decoder continues)."""
    if not last and len(text) % patch_size:
        text += chr(EOS)
    return [text[i:i + patch_size] for i in range(0, len(text), patch_size)]


def to_ids(patch: str, patch_size: int = PATCH_SIZE) -> list[int]:
    """A patch's character codes, padded with 0 unless it is an open (unfinished) chunk."""
    ids = [ord(c) for c in patch]
    if len(ids) < patch_size and ids[-1] != EOS:
        return ids
    return ids + [PAD] * (patch_size - len(ids))


@dataclass(frozen=True)
class Split:
    """An ABC text in its two parts: header lines and tune-body lines, each with its newline."""

    header: list[str]
    body: list[str]


def split_text(text: str) -> Split:
    """Header and tune-body lines as NotaGen's ``encode_generate`` reads them: empty lines
    dropped; every line keeps its newline except the last body line when the text has none."""
    lines = [ln for ln in text.split("\n") if ln]
    index = next((i for i, ln in enumerate(lines) if is_body_line(ln)), len(lines))
    header = [ln + "\n" for ln in lines[:index]]
    body = [ln + "\n" for ln in lines[index:]]
    if body and not text.endswith("\n"):
        body[-1] = body[-1][:-1]
    return Split(header, body)


def check_text(text: str) -> None:
    """Raise ValueError naming the first character NotaGen cannot read (codes 128 and up)."""
    for i, c in enumerate(text):
        if ord(c) >= VOCAB:
            raise ValueError(f"notagen: character {c!r} at offset {i} is not ASCII; NotaGen "
                             "reads characters with codes 0-127 only")


def encode(text: str, patch_size: int = PATCH_SIZE,
           patch_length: int | None = None) -> list[list[int]]:
    """The patches (lists of codes) of ``text`` in NotaGen's generate mode, BOS patch first.

    A header-only text is the BOS patch and its header patches (as NotaGen's generation
    loop starts); otherwise the last patch may be open (shorter, unpadded).
    ``patch_length`` keeps the first that many patches, as ``encode_generate`` does.
    """
    check_text(text)
    parts = split_text(text)
    patches = [p for line in parts.header for p in split_patches(line, patch_size)]
    if parts.body:
        bars = split_bars(parts.body)
        if not bars:
            raise ValueError(f"notagen: the tune body {parts.body[0]!r} cannot be split into "
                             "bars as NotaGen does (end the text with a newline)")
        patches += [p for bar in bars[:-1] for p in split_patches(bar, patch_size)]
        patches += split_patches(bars[-1], patch_size, last=True)
    ids = [bos_patch(patch_size)] + [to_ids(p, patch_size) for p in patches]
    return ids if patch_length is None else ids[:patch_length]


def stream_cut(text: str, keep: int | None = None) -> tuple[str, int] | None:
    """The text NotaGen's inference continues from when its context is full: the header
    and the last half (or last ``keep``) of the tune-body lines, with that count.
    None when there is no line to cut at."""
    lines = text.split("\n")
    index = next((i for i, ln in enumerate(lines) if is_body_line(ln)), None)
    if index is None or index == len(lines) - 1:
        return None
    header = [ln + "\n" for ln in lines[:index]]
    body = [ln + "\n" for ln in lines[index:]]
    if not text.endswith("\n"):
        body[-1] = body[-1][:-1]
    if keep is None:
        keep = len(body) // 2
    return "".join(header + body[-keep:]), keep


def decode(patches: list[list[int]]) -> str:
    """The text of patches: each up to its EOS, pad and BOS codes left out."""
    out = []
    for patch in patches:
        for c in patch:
            if c == EOS:
                break
            if c > EOS:
                out.append(chr(c))
    return "".join(out)
