"""The ``mos-lab`` command line: inspect, validate and convert scores.

Every failure exits non-zero with one clear line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from mos_lab.cli import audio_cmds, commands, theater_cmds

EXIT_OK, EXIT_INVALID, EXIT_ERROR, EXIT_USAGE = 0, 1, 2, 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one sub-command per verb."""
    p = argparse.ArgumentParser(prog="mos-lab", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    info = sub.add_parser("info", help="summarise a score (notes, tracks, duration, tempo)")
    info.add_argument("file")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(run=commands.info)
    val = sub.add_parser("validate", help="check a score; exit 1 listing every problem")
    val.add_argument("file")
    val.add_argument("--strict", action="store_true",
                     help="also fail (exit 1) when the file loaded only after repairs")
    val.set_defaults(run=commands.validate)
    conv = sub.add_parser("convert", help="convert between .mid, .json (NVX1), .musicxml, .abc")
    conv.add_argument("input")
    conv.add_argument("output")
    conv.set_defaults(run=commands.convert)
    audio_cmds.register(sub)
    theater_cmds.register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mos-lab`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except KeyboardInterrupt:
        print("mos-lab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # the CLI's promise: one line, never a traceback
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"mos-lab {args.command}: {msg}", file=sys.stderr)
        return EXIT_ERROR


__all__ = ["build_parser", "main"]
