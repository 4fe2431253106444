"""Progress: attempts in SQLite (WAL) survive restarts, concurrent writers and bad files."""

from __future__ import annotations

import itertools
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from mos_lab import lessons
from mos_lab.lessons import Progress, ProgressError


def test_record_and_read_back_after_a_restart(tmp_path):
    path = tmp_path / "course" / "progress.sqlite"
    ex = lessons.interval_id(seed=3, level=2)
    with Progress(path) as p:
        for response in (ex.answer, "m2", "not an interval", None):
            p.record("ada", ex, response, ex.check(response), time_taken=1.5)
        p.record("bob", ex, ex.answer, ex.check(ex.answer))
    again = Progress(path)  # a new kernel
    rows = again.attempts("ada")
    assert [a.response for a in rows] == [ex.answer, "m2", "not an interval", "None"]
    assert [a.correct for a in rows] == [True, False, False, False]
    assert rows[0].kind == "interval_id" and rows[0].seed == 3 and rows[0].level == 2
    assert rows[0].time_taken == 1.5 and rows[0].answer == ex.answer
    assert "expected" in rows[2].message
    assert len(again.attempts()) == 5 and again.students() == ["ada", "bob"]
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    csv = again.to_csv(tmp_path / "out.csv")
    assert csv.count("\n") == 6 and csv.startswith("student,kind,skill,seed")


WRITER = textwrap.dedent("""
    import sys, time
    from mos_lab import lessons
    p = lessons.Progress(sys.argv[1])
    time.sleep(max(0.0, float(sys.argv[3]) - time.time()))  # both start together
    for i in range(500):
        ex = lessons.chord_id(seed=i, level=2) if i % 2 else lessons.interval_id(seed=i)
        r = ex.answer if i % 3 else "??"
        p.record(sys.argv[2], ex, r, ex.check(r))
""")


def test_two_processes_recording_500_attempts_each_leave_1000_rows(tmp_path):
    path = tmp_path / "progress.sqlite"
    Progress(path).close()
    start = str(time.time() + 4)
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), name, start])
             for name in ("ada", "bob")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    p = Progress(path)
    assert len(p.attempts("ada")) == 500 and len(p.attempts("bob")) == 500
    rows = p.attempts()
    assert len(rows) == 1000
    switches = sum(a.pid != b.pid for a, b in itertools.pairwise(rows))
    assert switches >= 2  # the two really wrote at the same time: their rows interleave
    spans = [(min(t), max(t)) for t in ([a.timestamp for a in rows if a.pid == pid]
                                        for pid in {a.pid for a in rows})]
    assert max(a for a, _ in spans) < min(b for _, b in spans)  # and their writing overlapped


def test_a_corrupt_file_is_named_and_left_untouched(tmp_path):
    path = tmp_path / "progress.sqlite"
    junk = b"this is not sqlite" * 100
    path.write_bytes(junk)
    with pytest.raises(ProgressError, match="not a readable progress database"):
        Progress(path)
    assert path.read_bytes() == junk


def test_a_locked_database_keeps_the_attempt_and_writes_it_later(tmp_path):
    path = tmp_path / "progress.sqlite"
    ex = lessons.chord_id(seed=1)
    p = Progress(path, timeout=0.2)
    p.record("ada", ex, ex.answer, ex.check(ex.answer))
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    with pytest.raises(ProgressError, match=r"locked .* 1 attempt"):
        p.record("ada", ex, "Cm", ex.check("Cm"))
    assert len(p.pending) == 1
    other.execute("ROLLBACK")
    other.close()
    p.record("ada", ex, "C", ex.check("C"))
    assert [a.response for a in Progress(path).attempts("ada")] == [ex.answer, "Cm", "C"]
    assert p.pending == []


def test_huge_responses_are_clipped_not_refused(tmp_path):
    ex = lessons.interval_id(seed=1)
    p = Progress(tmp_path / "p.sqlite")
    fb = ex.check("M" * 100_000)
    p.record("ada", ex, "M" * 100_000, fb)
    assert len(p.attempts("ada")[0].response) == 2000


def test_one_progress_records_from_several_threads(tmp_path):
    """A widget's answers arrive on the kernel's comm thread, not the one that opened the
    file (Chromium found it: sqlite3 refused with 'created in a thread')."""
    import threading

    from mos_lab import lessons

    p = lessons.Progress(tmp_path / "threads.sqlite")
    ex = lessons.interval_id(seed=1)
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            for i in range(100):
                p.record(name, ex, "M3" if i % 2 else ex.answer, ex.check(ex.answer))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"s{k}",)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(p.attempts()) == 300 and sorted(p.students()) == ["s0", "s1", "s2"]
    p.close()
