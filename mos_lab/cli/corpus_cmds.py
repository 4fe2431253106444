"""``mos-lab corpus analyze DIR -o OUT.parquet``: a Dask job over many files, one row each.

A bad file is a row whose ``error`` says why (the job goes on); exit 0 when the table is
written, 2 when the job cannot start (no scheduler at --scheduler, a missing extra).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mos_lab.cli.errors import EXIT_OK, CliError, output_file, writing
from mos_lab.cli.progress import ProgressBar


def register(sub: Any) -> None:
    """Add ``corpus analyze`` to the ``mos-lab`` parser."""
    c = sub.add_parser("corpus", help="jobs over many files on Dask (one table row per file)",
                       description="Run a job over a folder or a list of score files on "
                                   "Dask and write one row per file as Parquet.")
    verbs = c.add_subparsers(dest="verb", required=True, metavar="VERB")
    a = verbs.add_parser("analyze", help="key, segments and cadences of every file",
                         description="Analyse every score (mos_lab.theory.analyze); a file "
                                     "that cannot be read is a row with its error.")
    a.add_argument("inputs", nargs="+", help="a folder (read recursively) or score files")
    a.add_argument("-o", "--output", required=True, help="the table to write (.parquet)")
    a.add_argument("--workers", type=int, default=None,
                   help="local worker processes (default: one per core)")
    a.add_argument("--scheduler", default=None,
                   help="address of a running Dask scheduler (tcp://host:8786) instead")
    a.set_defaults(run=analyze)


def analyze(args: argparse.Namespace) -> int:
    """Analyse the files on Dask, write the Parquet table, print a one-line summary."""
    from mos_lab.corpus import CorpusError, write_parquet
    from mos_lab.corpus import analyze as corpus_analyze

    out = output_file(args.output, (".parquet",), "a table")
    if args.workers is not None and args.workers < 1:
        raise CliError("--workers must be at least 1")
    inputs = args.inputs[0] if len(args.inputs) == 1 else args.inputs
    bar = ProgressBar("analyze")
    try:
        table = corpus_analyze(inputs, workers=args.workers, address=args.scheduler,
                               progress=lambda done, n: bar(done / n, f"{done}/{n} files"))
    except CorpusError as exc:
        raise CliError(str(exc)) from None
    finally:
        bar.close()
    with writing(out):
        write_parquet(table, out)
    bad = int((table["error"] != "").sum())
    print(f"{len(table)} files, {bad} with errors -> {out}", file=sys.stderr)
    return EXIT_OK
