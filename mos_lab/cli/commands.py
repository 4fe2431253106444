"""``info``, ``validate`` and ``convert``; each takes parsed arguments and returns an exit code.

Channels are numbered 0-15 in every output (text, ``--json``, ``Score.notes``), as in the
MIDI data; General MIDI drums are channel 9.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mos_lab.cli.errors import EXIT_INVALID, EXIT_OK, CliError, describe, input_file, writing
from mos_lab.score import Score, ScoreError, load, nvx1


def register(sub: Any) -> None:
    """Add ``info``, ``validate`` and ``convert`` to the ``mos-lab`` parser."""
    info_p = sub.add_parser(
        "info", help="summarise a score (notes, tracks, duration, tempo, meter, key)",
        description="Summarise a score: notes, tracks, duration, tempo changes, time and key "
                    "signatures, and what the loader repaired. Channels are numbered 0-15 "
                    "as in the file and in --json (General MIDI drums: channel 9).")
    info_p.add_argument("file", nargs="?")
    info_p.add_argument("--json", action="store_true", help="print one JSON object")
    info_p.add_argument("--sound", action="store_true",
                        help="say which instrument set (SoundFont) plays")
    info_p.set_defaults(run=info)
    val = sub.add_parser(
        "validate", help="check a score; exit 1 listing every problem",
        description="Check a score. Exit 0 when it is valid, 1 with one line per problem "
                    "(each naming its field path), 2 when the file cannot be read.")
    val.add_argument("file")
    val.add_argument("--strict", action="store_true",
                     help="also fail (exit 1) when the file loaded only after repairs")
    val.set_defaults(run=validate)
    conv = sub.add_parser("convert", help="convert between .mid, .json (NVX1), .musicxml, .abc",
                          description="Convert a score; both formats follow the extensions.")
    conv.add_argument("input")
    conv.add_argument("output")
    conv.set_defaults(run=convert)


def load_input(path: str) -> Score:
    """Load ``path``; a missing or unreadable file or content is a CliError (exit 2)."""
    input_file(path)
    try:
        return load(path)
    except ScoreError as exc:
        raise CliError(describe(exc)) from None


def _key_name(name: str) -> str:
    """``KeySignature.name`` ("Bb", "f#" for minor) as "Bb major" / "F# minor"."""
    return f"{name} major" if name[:1].isupper() else f"{name[:1].upper()}{name[1:]} minor"


def info(args: argparse.Namespace) -> int:
    """Print a summary of a score (``--json`` for one machine-readable object)."""
    if getattr(args, "sound", False):
        from mos_lab.audio.instruments.defaults import describe

        print(describe())
        if not args.file:
            return EXIT_OK
    if not args.file:
        raise CliError("info: give a score file (or --sound)")
    score = load_input(args.file)
    data = score.info()
    if args.json:
        print(json.dumps(data, indent=2))
        return EXIT_OK
    print(f"{Path(args.file).name}: {score.n_notes} notes, {len(score.tracks)} tracks, "
          f"{score.duration:.2f} s")
    for i, t in enumerate(data["tracks"]):
        kind = "drums" if t["drums"] else f"program {t['program']}"
        print(f"  track {i}: {t['name'] or '(unnamed)'} ({kind}, channel {t['channel']}), "
              f"{t['notes']} notes")
    tempos = ", ".join(
        f"{c['bpm']:g} BPM at {c['seconds']:.2f} s" for c in data["tempo_changes"][:8]
    )
    more = len(data["tempo_changes"]) - 8
    print(f"  tempo: {tempos}" + (f" (+{more} more)" if more > 0 else ""))
    meters = ", ".join(f"{t['numerator']}/{t['denominator']}" for t in data["time_signatures"][:8])
    print(f"  time signatures: {meters or 'none in the file'}")
    unique = list(dict.fromkeys((k["tick"], k["key"]) for k in data["key_signatures"]))
    keys = [f"{_key_name(key)} at {float(score.tempo.ticks_to_seconds(tick)):.2f} s"
            for tick, key in unique[:8]]
    more = len(unique) - 8
    print(f"  key signatures: {', '.join(keys) or 'none in the file'}"
          + (f" (+{more} more)" if more > 0 else ""))
    for w in data["warnings"]:
        print(f"  warning: {w}")
    return EXIT_OK


def validate(args: argparse.Namespace) -> int:
    """Exit 0 when the file is a valid score, 1 with one line per problem, 2 if unreadable."""
    path = input_file(args.file)
    try:
        if path.suffix.lower() in (".json", ".nvx1"):
            problems = nvx1.validate(nvx1.parse_json(path.read_bytes(), str(path)))
            if problems:
                raise ScoreError(problems, str(path))
        score = load(path)
    except ScoreError as exc:
        for p in exc.problems:
            print(f"{path}: {p}", file=sys.stderr)
        return EXIT_INVALID
    for w in score.warnings:
        print(f"{path}: warning: {w}", file=sys.stderr)
    if score.warnings and args.strict:
        return EXIT_INVALID
    state = "valid after repairs" if score.warnings else "valid"
    print(f"{path}: {state} ({score.n_notes} notes, {len(score.tracks)} tracks)")
    return EXIT_OK


def convert(args: argparse.Namespace) -> int:
    """Convert between formats, chosen by the two file extensions."""
    score = load_input(args.input)
    target = Path(args.output)
    if not target.parent.is_dir():
        raise CliError(f"output: folder {target.parent} does not exist")
    if score.spelling is None and target.suffix.lower() in (".musicxml", ".mxl", ".xml"):
        from mos_lab.theory import spell  # notation needs spelled notes: infer them (MIDI)

        score = score.replace(spelling=spell(score))
    with writing(target):
        out = score.save(target)
    for w in score.warnings:
        print(f"warning: {w}", file=sys.stderr)
    print(f"wrote {out} ({score.n_notes} notes)")
    return EXIT_OK
