"""The sub-commands of ``mos-lab``; each takes parsed arguments and returns an exit code."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mos_lab.score import ScoreError, load, nvx1


def info(args: argparse.Namespace) -> int:
    """Print a summary of a score (``--json`` for one machine-readable object)."""
    score = load(args.file)
    data = score.info()
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    print(f"{Path(args.file).name}: {score.n_notes} notes, {len(score.tracks)} tracks, "
          f"{score.duration:.2f} s")
    for i, t in enumerate(data["tracks"]):
        kind = "drums" if t["drums"] else f"program {t['program']}"
        print(f"  track {i}: {t['name'] or '(unnamed)'} ({kind}, channel {t['channel'] + 1}), "
              f"{t['notes']} notes")
    tempos = ", ".join(
        f"{c['bpm']:g} BPM at {c['seconds']:.2f} s" for c in data["tempo_changes"][:8]
    )
    more = len(data["tempo_changes"]) - 8
    print(f"  tempo: {tempos}" + (f" (+{more} more)" if more > 0 else ""))
    meters = ", ".join(f"{t['numerator']}/{t['denominator']}" for t in data["time_signatures"][:8])
    print(f"  time signatures: {meters}")
    for w in data["warnings"]:
        print(f"  warning: {w}")
    return 0


def validate(args: argparse.Namespace) -> int:
    """Exit 0 when the file is a valid score, else 1 with one line per problem."""
    path = Path(args.file)
    try:
        if path.suffix.lower() in (".json", ".nvx1"):
            problems = nvx1.validate(nvx1.parse_json(path.read_bytes(), str(path)))
            if problems:
                raise ScoreError(problems, str(path))
        score = load(path)
    except ScoreError as exc:
        for p in exc.problems:
            print(f"{path}: {p}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"{path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    for w in score.warnings:
        print(f"{path}: warning: {w}", file=sys.stderr)
    if score.warnings and args.strict:
        return 1
    state = "valid after repairs" if score.warnings else "valid"
    print(f"{path}: {state} ({score.n_notes} notes, {len(score.tracks)} tracks)")
    return 0


def convert(args: argparse.Namespace) -> int:
    """Convert between formats, chosen by the two file extensions."""
    score = load(args.input)
    out = score.save(args.output)
    for w in score.warnings:
        print(f"warning: {w}", file=sys.stderr)
    print(f"wrote {out} ({score.n_notes} notes)")
    return 0
