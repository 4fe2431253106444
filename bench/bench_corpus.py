"""Corpus jobs on Dask: the 371 chorales analysed with 1 and 2 worker processes against a
plain loop in the same run (the anchor), then /work/shared/corpus/midi with its broken files.

The chorales come from bench_theory's cache (music21's corpus converted once under
~/.cache/mos_lab/bench/chorales); each is written once as NVX1 JSON into a temporary folder
(not timed) so the job reads files as a user's would. "job" times exclude the cluster's
start, "with start" include it. Run: .venv/bin/python bench/bench_corpus.py [--limit N]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_theory import load_chorales

from mos_lab.corpus.jobs import analyze, one_row
from mos_lab.corpus.tasks import analyze_file

MIDI = Path("/work/shared/corpus/midi")


def timed_job(paths: list[str], workers: int) -> tuple[float, float, int]:
    """(job seconds, seconds with the cluster's start, error rows) with ``workers`` processes."""
    import distributed

    t0 = time.perf_counter()
    cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                       dashboard_address=":0", silence_logs=logging.ERROR)
    client = distributed.Client(cluster, set_as_default=False)
    client.run(one_row, paths[0], analyze_file, ())  # each worker compiles and loads once
    t1 = time.perf_counter()
    table = analyze(paths, client=client, progress=False)
    t2 = time.perf_counter()
    client.close()
    cluster.close()
    return t2 - t1, t2 - t0, int((table["error"] != "").sum())


def main() -> None:
    """Print loop vs 1 and 2 workers on the chorales, then the MIDI folder's rows."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=None, help="only the first N chorales")
    args = ap.parse_args()
    chorales = load_chorales(args.limit)
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for c in chorales:
            p = Path(tmp) / f"{c.number}.json"
            c.score.save(p)
            paths.append(str(p))
        one_row(paths[0], analyze_file, ())  # compile and load once in this process
        t0 = time.perf_counter()
        loop_errors = sum(bool(one_row(p, analyze_file, ())["error"]) for p in paths)
        loop = time.perf_counter() - t0
        print(f"{len(paths)} chorales, plain loop: {loop:.2f} s ({loop_errors} errors)")
        for w in (1, 2):
            job, total, errors = timed_job(paths, w)
            print(f"  {w} worker(s): job {job:.2f} s (with start {total:.2f} s), "
                  f"{errors} errors; loop/job = {loop / job:.2f}x")
    midi = sorted(str(p) for p in MIDI.rglob("*.mid"))
    t0 = time.perf_counter()
    table = analyze(midi, workers=2, progress=False)
    bad = table[table["error"] != ""]
    print(f"{MIDI}: {len(table)} rows in {time.perf_counter() - t0:.1f} s "
          f"(2 workers, with start), {len(bad)} error rows:")
    for path, err in zip(bad["path"], bad["error"], strict=True):
        print(f"  {Path(path).name}: {err[:100]}")


if __name__ == "__main__":
    main()
