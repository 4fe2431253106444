"""Run a per-file task over a folder or a list of files on Dask and gather one table.

Local worker processes by default (one thread each: the analysis holds the GIL), or an
existing scheduler's address for a cluster. A file whose task raises, or whose worker
dies, becomes a row with ``error`` set; the job goes on and keeps every finished row.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from mos_lab.corpus import tasks
from mos_lab.corpus.errors import CorpusError, need
from mos_lab.corpus.pool import pool, quiet_cluster
from mos_lab.corpus.progress import notebook_bar
from mos_lab.score.io import SUPPORTED

Progress = Callable[[int, int], None]  # (files done, files in all)
Inputs = str | os.PathLike[str] | Iterable[str | os.PathLike[str]]


def files(inputs: Inputs) -> list[str]:
    """The score files of a folder (recursively, sorted) or the given list as it stands."""
    if isinstance(inputs, str | os.PathLike):
        p = Path(inputs)
        if p.is_dir():
            return sorted(str(f) for f in p.rglob("*")
                          if f.is_file() and f.suffix.lower() in SUPPORTED)
        return [str(p)]
    return [str(f) for f in inputs]


def _why(exc: BaseException) -> str:
    """One line naming the failure: its type and the first line of its message."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def one_row(path: str, task: Callable[..., dict[str, Any]], extra: tuple[Any, ...]
            ) -> dict[str, Any]:
    """The row of one file: ``task``'s columns, or ``error`` saying why it failed."""
    t0 = time.perf_counter()
    try:
        cols, error = task(path, *extra), ""
    except Exception as exc:  # a bad file is a row, never the end of the job
        cols, error = {}, _why(exc)
    return {"path": path, "error": error, "seconds": time.perf_counter() - t0, **cols}


def _died(path: str) -> dict[str, Any]:
    """The row of a file on which every worker that ran it died (a native crash, no memory)."""
    return {"path": path, "seconds": float("nan"),
            "error": "KilledWorker: the worker process died on this file "
                     "(a crash in native code or out of memory)"}


def some_rows(paths: list[str], task: Callable[..., dict[str, Any]], extra: tuple[Any, ...]
              ) -> list[dict[str, Any]]:
    """The rows of a batch of files, one :func:`one_row` each."""
    return [one_row(p, task, extra) for p in paths]


@contextmanager
def _client(workers: int | None, address: str | None, client: Any, timeout: float,
            reuse: bool = True) -> Iterator[Any]:
    """The Dask client to use: the caller's, one connected to ``address``, or a local one
    (the warm pool of that many workers, or with ``reuse=False`` one made for this job)."""
    if client is not None:
        yield client
        return
    distributed = need("distributed")
    if address is not None:
        try:
            c = distributed.Client(address, timeout=f"{timeout}s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise CorpusError(f"no Dask scheduler answers at {address} "
                              f"(waited {timeout:g} s: {_why(exc)})") from None
        try:
            yield c
        finally:
            c.close()
        return
    n = workers or os.cpu_count() or 1
    if not reuse:
        with quiet_cluster():
            cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=1,
                                               processes=True, dashboard_address=":0",
                                               silence_logs=logging.ERROR)
        c = distributed.Client(cluster, set_as_default=False)
        try:
            yield c
        finally:
            c.close()
            cluster.close()
        return
    yield pool(n)


def run(task: Callable[..., dict[str, Any]], inputs: Inputs, *extra: Any,
        workers: int | None = None, address: str | None = None, client: Any = None,
        progress: Progress | bool | None = None, timeout: float = 5.0,
        batch: int | None = None, reuse: bool = True) -> Any:
    """``task(path, *extra)`` on every file on Dask; a pandas DataFrame, one row per file.

    ``workers`` local processes (default: one per core), or the scheduler at ``address``
    (CorpusError after ``timeout`` seconds if none answers), or an open ``client``.
    ``progress`` is called with (done, total); None draws a bar in a notebook. Files go
    in tasks of ``batch`` (default: about eight tasks per worker); a worker that dies
    marks its task's files. Local workers stay up for the next job (``reuse=False``: a
    cluster started and closed for this job only; ``close_pools()`` ends them).
    """
    pd = need("pandas")
    distributed = need("distributed")
    paths = files(inputs)
    if not paths:
        raise CorpusError(f"no score files in {inputs} (looked for {', '.join(SUPPORTED)})")
    report: Progress | None
    if progress is None or progress is True:
        report = notebook_bar(len(paths), getattr(task, "__name__", "corpus"))
    else:
        report = progress or None
    rows: dict[str, list[dict[str, Any]]] = {}
    fn = partial(some_rows, task=task, extra=extra)
    with _client(workers, address, client, timeout, reuse) as c:
        size = batch or _batch(len(paths), len(c.scheduler_info().get("workers", {})))
        order = _largest_first(paths)
        chunks = [[paths[j] for j in order[i:i + size]] for i in range(0, len(paths), size)]
        futures = c.map(fn, chunks, pure=False)
        where = {f.key: ch for f, ch in zip(futures, chunks, strict=True)}
        done = 0
        ended: set[str] = set()
        try:
            # Completion notices come with the scheduler's stream (no data moves); rows are
            # fetched once at the end, one request per worker, not one per task (each fetch
            # also interrupts the worker's event loop, which shares the GIL with its task).
            for f in distributed.as_completed(futures, loop=c.loop):
                ended.add(f.key)
                done += len(where[f.key])
                if report:
                    report(done, len(paths))
            good = [f for f in futures if f.status == "finished"]
            try:
                rows.update(zip([f.key for f in good], c.gather(good), strict=True))
            except Exception:  # a result lost after its task ended (its worker died): one
                for f in good:  # by one, so the others' rows are kept
                    with contextlib.suppress(Exception):
                        rows[f.key] = f.result()
            for f in futures:
                if f.key not in rows:
                    rows[f.key] = _failed(f, where[f.key], distributed)
        finally:
            c.cancel([f for f in futures if f.key not in ended])
    got = [r for f in futures if f.key in rows for r in rows[f.key]]
    # back in the order given: row k of the chunks is input file order[k]
    table = pd.DataFrame([got[k] for k in sorted(range(len(got)), key=order.__getitem__)])
    if "error" in table:
        table["error"] = table["error"].fillna("").astype(str)
    return table


def _failed(future: Any, paths: list[str], distributed: Any) -> list[dict[str, Any]]:
    """The rows of a batch whose task failed as a whole: its worker died, or Dask could not
    run it (a file's own error is caught inside the task and is never this)."""
    try:
        exc = future.exception()
    except Exception as got:  # the future was lost (cancelled, its data gone)
        exc = got
    if isinstance(exc, distributed.KilledWorker):
        return [_died(p) for p in paths]
    return [{"path": p, "error": _why(exc) if exc else "lost: the task's result is gone",
             "seconds": float("nan")} for p in paths]


def _largest_first(paths: list[str]) -> list[int]:
    """Indices of ``paths`` by file size, largest first (an unreadable file counts as 0).

    Why: the big files' batches start first and the small ones fill in at the end, so the
    workers finish together instead of one waiting on the last big file.
    """
    def size(i: int) -> int:
        try:
            return os.stat(paths[i]).st_size
        except OSError:
            return 0
    return sorted(range(len(paths)), key=lambda i: (-size(i), i))


def _batch(files: int, workers: int) -> int:
    """Files per task: about eight tasks per worker, so a task's ~10 ms of Dask overhead
    stays small beside short analyses and the load still evens out."""
    return max(1, min(64, -(-files // (8 * max(workers, 1)))))


def write_parquet(table: Any, path: str | os.PathLike[str]) -> Path:
    """Write a job's table as Parquet with pyarrow; returns the path."""
    need("pyarrow")
    table.to_parquet(path, engine="pyarrow", index=False)
    return Path(path)


def analyze(inputs: Inputs, **kw: Any) -> Any:
    """Harmonic analysis of every file: key, confidence, segments, cadences (one row each)."""
    return run(tasks.analyze_file, inputs, **kw)


def convert(inputs: Inputs, out_dir: str | os.PathLike[str], fmt: str = ".json",
            **kw: Any) -> Any:
    """Save every file under ``out_dir`` in the ``fmt`` format (.json, .mid, .musicxml, .abc)."""
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    return run(tasks.convert_file, inputs, str(Path(out_dir).resolve()), fmt, **kw)


def render(inputs: Inputs, out_dir: str | os.PathLike[str], **kw: Any) -> Any:
    """Render every file to ``out_dir/<stem>.wav`` offline with mos_lab's engine."""
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    return run(tasks.render_file, inputs, str(Path(out_dir).resolve()), **kw)


def tokenize(inputs: Inputs, kind: str = "REMI", **kw: Any) -> Any:
    """Token count of every file with a miditok tokenizer (needs the ``ai`` extra)."""
    return run(tasks.tokenize_file, inputs, kind, **kw)
