"""``mos-lab analyze``: keys, Roman numerals and cadences of a score, or its part-writing.

``--romantext`` prints RomanText (the default), ``--json`` one JSON record per segment,
``--voice-leading --json`` the part-writing findings as a JSON list. A RomanText file
(``.rntxt``, ``.txt``) is read as a human analysis and printed the same ways.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from mos_lab.cli.commands import load_input
from mos_lab.cli.errors import EXIT_OK, CliError

_ROMANTEXT_SUFFIXES = (".rntxt", ".txt")


def register(sub: Any) -> None:
    """Add ``analyze`` to the ``mos-lab`` parser."""
    a = sub.add_parser(
        "analyze", help="harmonic analysis: keys, Roman numerals, cadences (or part-writing)",
        description="Analyse a score's harmony: local keys, Roman numerals with inversions "
                    "and applied chords, chord symbols, non-chord tones and cadences.")
    a.add_argument("file", help="a score (.mid, .musicxml, .abc, .json) or RomanText (.rntxt)")
    out = a.add_mutually_exclusive_group()
    out.add_argument("--romantext", action="store_true", help="print RomanText (default)")
    out.add_argument("--json", action="store_true",
                     help="print a JSON list: one record per segment (or per finding)")
    a.add_argument("--voice-leading", action="store_true",
                   help="check part-writing (parallel fifths, spacing, ...) instead")
    a.set_defaults(run=analyze)


def _finding(f: Any) -> dict[str, Any]:
    """A part-writing finding as a JSON-ready dict, whatever form the checker returns."""
    for name in ("record", "to_dict", "as_dict"):
        if callable(getattr(f, name, None)):
            return dict(getattr(f, name)())
    if dataclasses.is_dataclass(f) and not isinstance(f, type):
        return dataclasses.asdict(f)
    return dict(f)


def analyze(args: argparse.Namespace) -> int:
    """Print the analysis of a score (or a RomanText file) in the format asked for."""
    from mos_lab import theory

    path = Path(args.file)
    if args.voice_leading:
        findings = [_finding(f) for f in theory.check_voice_leading(load_input(args.file))]
        if args.json:
            print(json.dumps(findings, indent=1))
        else:
            for f in findings:
                voices = ", ".join(str(v) for v in f.get("voices", []))
                beat = f.get("beat")
                beat = f"{beat:g}" if isinstance(beat, float) else beat
                print(f"m{f.get('measure')} b{beat}: {f.get('rule')} ({voices})")
        return EXIT_OK
    if path.suffix.lower() in _ROMANTEXT_SUFFIXES:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise CliError(f"{path}: {exc.strerror or exc}") from None
        try:
            result = theory.read_romantext(text)
        except theory.RomanTextError as exc:
            raise CliError(f"{path}: {exc}") from None
    else:
        result = theory.analyze(load_input(args.file))
    if args.json:  # a JSON list, one segment per line
        rows = [json.dumps(r) for r in result.records()]
        print("[\n" + ",\n".join(rows) + "\n]" if rows else "[]")
        return EXIT_OK
    if result.message:
        print(f"Note: {result.message}")
    print(result.to_romantext(), end="")
    return EXIT_OK
