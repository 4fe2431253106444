"""``mos-lab metrics FILE...``: muspy's evaluation metrics (and optionally theory ones).

``--json`` prints a JSON list, one object per file: ``file`` and the metrics under muspy's
function names, ``null`` where a metric is undefined (muspy's NaN). A file that cannot be
read gives an object with an ``error`` field instead; the others are still measured, and
the exit status is then 2 (unreadable input), as for every mos-lab command.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from mos_lab.cli.errors import EXIT_OK, EXIT_USAGE, CliError, describe, input_file


def register(sub: Any) -> None:
    """Add the ``metrics`` sub-command."""
    p = sub.add_parser("metrics", help="evaluation metrics (muspy's definitions) per file",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+", metavar="FILE", help="scores (.mid, .musicxml, .abc, .json)")
    p.add_argument("--json", action="store_true", help="a JSON list, one object per file")
    p.add_argument("--theory", action="store_true",
                   help="add key_clarity, chord_vocabulary, cadence_rate (harmonic analysis)")
    p.add_argument("--measure-ticks", type=int, default=None, metavar="N",
                   help="ticks per measure for the measure-based metrics "
                        "(default: the first time signature's)")
    p.set_defaults(run=run_metrics)


def _measure(path: str, theory: bool, measure_ticks: int | None) -> dict[str, Any]:
    from mos_lab.ai.data.compare import all_metrics
    from mos_lab.ai.data.metrics import muspy_metrics
    from mos_lab.score import load

    try:
        score = load(input_file(path))
    except CliError as exc:
        return {"file": path, "error": str(exc)}
    except Exception as exc:  # an unreadable score is reported, the other files go on
        return {"file": path, "error": describe(exc)}
    if measure_ticks is None:
        values = all_metrics(score, theory=theory)
    else:
        values = muspy_metrics(score, measure_ticks)
        if theory:
            from mos_lab.ai.data.compare import theory_metrics

            values.update(theory_metrics(score))
    out: dict[str, Any] = {"file": path}
    out.update({k: None if isinstance(v, float) and math.isnan(v) else v
                for k, v in values.items()})
    if score.warnings:
        out["warnings"] = list(score.warnings)
    return out


def run_metrics(args: argparse.Namespace) -> int:
    """Measure each file; print JSON or a table; 2 when any file could not be read."""
    if args.measure_ticks is not None and args.measure_ticks < 1:
        raise CliError("--measure-ticks must be a positive number of ticks")
    results = [_measure(f, args.theory, args.measure_ticks) for f in args.files]
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        for r in results:
            print(r["file"])
            if "error" in r:
                print(f"  error: {r['error']}")
                continue
            for k, v in r.items():
                if k not in ("file", "warnings"):
                    shown = "-" if v is None else f"{v:.6g}" if isinstance(v, float) else v
                    print(f"  {k:<28}{shown}")
    return EXIT_USAGE if any("error" in r for r in results) else EXIT_OK
