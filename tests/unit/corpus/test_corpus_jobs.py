"""Corpus jobs on a real local Dask cluster: good and broken files, and no scheduler."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("distributed")
pd = pytest.importorskip("pandas")

from mos_lab.corpus.errors import CorpusError  # noqa: E402
from mos_lab.corpus.jobs import analyze, convert, files, run, write_parquet  # noqa: E402
from mos_lab.corpus.pool import close_pools, pool  # noqa: E402
from mos_lab.corpus.tasks import analyze_file  # noqa: E402
from mos_lab.score import Score, load  # noqa: E402


def cadence_score() -> Score:
    """I IV V I in C, four voices, one bar each."""
    chords = [(48, 64, 67, 72), (53, 65, 69, 72), (55, 62, 67, 71), (48, 64, 67, 72)]
    return Score.from_notes([(i * 1920, 1920, p, 80) for i, ch in enumerate(chords)
                             for p in ch])


@pytest.fixture(scope="module")
def client():
    """One local cluster of two worker processes for the whole module."""
    distributed = pytest.importorskip("distributed")
    import logging

    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=logging.ERROR)
    c = distributed.Client(cluster, set_as_default=False)
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module", autouse=True)
def _no_pool_left():
    """Close the warm pools the module's jobs made, so no worker outlives these tests."""
    yield
    close_pools()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Two good scores, a truncated MIDI, a text file named .mid and an empty ABC."""
    s = cadence_score()
    s.save(tmp_path / "good.mid")
    (tmp_path / "sub").mkdir()
    s.save(tmp_path / "sub" / "good.json")
    (tmp_path / "truncated.mid").write_bytes((tmp_path / "good.mid").read_bytes()[:30])
    (tmp_path / "text.mid").write_text("not a midi file")
    (tmp_path / "empty.abc").write_text("")
    (tmp_path / "notes.txt").write_text("not a score: skipped when a folder is read")
    return tmp_path


def test_folder_gives_one_row_per_file_and_errors_for_bad_ones(folder, client) -> None:
    table = analyze(folder, client=client, progress=False)
    names = sorted(Path(p).relative_to(folder).as_posix() for p in table["path"])
    assert names == ["empty.abc", "good.mid", "sub/good.json", "text.mid", "truncated.mid"]
    by = {Path(p).name: row for p, row in zip(table["path"], table.itertuples(), strict=True)}
    for good in ("good.mid", "good.json"):
        assert by[good].error == ""
        assert by[good].notes == 16
        assert by[good].key.startswith("C")
        assert by[good].segments >= 2
    for bad in ("truncated.mid", "text.mid", "empty.abc"):
        assert by[bad].error, bad  # says what is wrong
        assert ":" in by[bad].error
    assert list(table.columns[:3]) == ["path", "error", "seconds"]


def test_a_list_of_files_keeps_its_order_and_a_missing_one_is_an_error_row(folder, client
                                                                            ) -> None:
    paths = [folder / "truncated.mid", folder / "missing.mid", folder / "good.mid"]
    seen: list[tuple[int, int]] = []
    table = analyze(paths, client=client, progress=lambda d, n: seen.append((d, n)))
    assert list(table["path"]) == [str(p) for p in paths]
    assert [e == "" for e in table["error"]] == [False, False, True]
    assert "not found" in table["error"][1] or "No such file" in table["error"][1]
    assert seen[-1] == (3, 3) and len(seen) == 3


def test_convert_writes_each_file_and_the_table_reads_back_from_parquet(folder, client,
                                                                         tmp_path) -> None:
    out = tmp_path / "out"
    table = convert([folder / "good.mid", folder / "text.mid"], out, ".json", client=client,
                    progress=False)
    assert list(table["error"] == "") == [True, False]
    assert load(out / "good.json").n_notes == 16
    back = pd.read_parquet(write_parquet(table, tmp_path / "t.parquet"))
    assert list(back["path"]) == list(table["path"])
    assert list(back["error"]) == list(table["error"])


def _crash(path: str) -> dict[str, int]:
    """Kill the worker process on one file, as a segfaulting reader would."""
    import os

    if path.endswith("crash.mid"):
        os._exit(1)
    return {"ok": 1}


def test_a_file_that_kills_its_worker_is_an_error_row(folder, tmp_path) -> None:
    (folder / "crash.mid").write_bytes(b"")
    paths = [folder / "good.mid", folder / "crash.mid", folder / "text.mid"]
    table = run(_crash, paths, workers=1, progress=False, reuse=False)
    assert list(table["path"]) == [str(p) for p in paths]
    # a file queued on the same worker may be blamed with it (Dask cannot tell them apart)
    assert table["error"][1].startswith("KilledWorker: the worker process died on this file")


def test_a_scheduler_that_does_not_answer_is_a_clear_error_quickly(folder) -> None:
    t0 = time.monotonic()
    with pytest.raises(CorpusError, match=r"no Dask scheduler answers at tcp://127\.0\.0\.1:9"):
        analyze(folder, address="tcp://127.0.0.1:9", timeout=2.0, progress=False)
    assert time.monotonic() - t0 < 10


def test_an_empty_folder_says_so(tmp_path) -> None:
    with pytest.raises(CorpusError, match="no score files"):
        analyze(tmp_path, progress=False)


def test_files_lists_scores_of_a_folder_sorted(folder) -> None:
    assert [Path(f).name for f in files(folder)] == [
        "empty.abc", "good.mid", "good.json", "text.mid", "truncated.mid"]


def _state() -> tuple[int, bool, bool]:
    """A worker's process id, whether theory was imported there before any task, and
    whether Dask's statistical profiler samples its tasks."""
    import os
    import sys

    import dask

    return (os.getpid(), "mos_lab.theory" in sys.modules,
            bool(dask.config.get("distributed.worker.profile.enabled")),
            dask.config.get("distributed.admin.tick.interval"),
            dask.config.get("distributed.worker.memory.monitor-interval"))


def test_local_jobs_share_one_warm_pool_that_close_pools_ends(folder) -> None:
    close_pools()
    c = pool(1)
    (before,) = c.run(_state).values()
    assert before[1]  # warmed when it started, not by the first file
    assert not before[2]  # no profiler sampling the tasks
    assert before[3:] == ("500ms", "500ms")  # the cluster's own timers slowed (QUIET)
    first = analyze(folder, workers=1, progress=False)
    second = analyze(folder, workers=1, progress=False)
    assert pool(1) is c and list(c.run(_state).values()) == [before]  # same process
    assert list(first["error"] == "") == list(second["error"] == "")
    assert close_pools() == 1 and c.status == "closed"
    with pytest.raises(ValueError, match="workers: 0"):
        pool(0)


def _fetches(dask_worker: Any) -> int:  # runs in each worker (client.run)
    return int(dask_worker.transfer_outgoing_count_total)


def test_rows_are_fetched_once_per_worker_not_once_per_task(folder, client) -> None:
    """Twelve one-file tasks: progress counts each as it ends, and the rows come back in
    at most one fetch per worker (a fetch per task cost ~1 ms of each worker's time)."""
    paths = [str(folder / "good.mid")] * 10 + [str(folder / "text.mid"), "/no/such.mid"]
    seen: list[int] = []
    before = sum(client.run(_fetches).values())
    table = run(analyze_file, paths, client=client, batch=1,
                progress=lambda done, total: seen.append(done))
    fetches = sum(client.run(_fetches).values()) - before
    assert list(table["path"]) == paths
    assert (table["error"] == "").sum() == 10
    assert all(table["error"].iloc[-2:] != "")
    assert seen == list(range(1, 13))
    assert 1 <= fetches <= len(client.scheduler_info()["workers"]), fetches


def test_big_files_go_first_and_rows_keep_the_given_order(tmp_path: Path, client) -> None:
    """Batches are cut from the files by size, largest first (the workers then finish
    together); the table still lists the files in the order given."""
    from mos_lab.corpus.jobs import _largest_first

    paths = []
    for i, n in enumerate([4, 64, 16, 1, 32]):  # notes per file: sizes differ
        s = Score.from_notes([(k * 480, 480, 60 + k % 12, 80) for k in range(n)])
        paths.append(str(tmp_path / f"{i}.mid"))
        s.save(paths[-1])
    paths.append(str(tmp_path / "missing.mid"))
    assert _largest_first(paths) == [1, 4, 2, 0, 3, 5]
    table = run(analyze_file, paths, client=client, batch=2, progress=False)
    assert list(table["path"]) == paths
    assert list(table["notes"].iloc[:5]) == [4, 64, 16, 1, 32]
    assert table["error"].iloc[5] != ""
