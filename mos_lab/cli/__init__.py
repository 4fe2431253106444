"""The mos-lab command line: inspect, validate, convert, render, play and draw scores.

Every failure exits non-zero with one clear line on stderr, never a traceback; the exit
codes are the same for every command (see ``errors``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from mos_lab.cli import (
    analyze_cmds,
    audio_cmds,
    commands,
    corpus_cmds,
    engrave_cmds,
    metrics_cmds,
    model_cmds,
    plugin_cmds,
    theater_cmds,
)
from mos_lab.cli.errors import (
    EXIT_CODES_HELP,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    describe,
)

DESCRIPTION = "Inspect, validate, convert, render, play and draw scores."


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one sub-command per verb."""
    p = argparse.ArgumentParser(prog="mos-lab", description=DESCRIPTION, epilog=EXIT_CODES_HELP,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.register(sub)
    audio_cmds.register(sub)
    theater_cmds.register(sub)
    plugin_cmds.register(sub)
    analyze_cmds.register(sub)
    engrave_cmds.register(sub)
    metrics_cmds.register(sub)
    corpus_cmds.register(sub)
    model_cmds.register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mos-lab`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)  # a usage error exits 2 with argparse's message
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except KeyboardInterrupt:
        print("mos-lab: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except CliError as exc:
        print(f"mos-lab {args.command}: {exc}", file=sys.stderr)
        return exc.code
    except Exception as exc:  # the CLI's promise: one line, never a traceback
        print(f"mos-lab {args.command}: {describe(exc)}", file=sys.stderr)
        return EXIT_USAGE


__all__ = [
    "main",
]
