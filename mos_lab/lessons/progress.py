"""Progress: every attempt in one SQLite file (WAL), shared by kernels and processes.

Each ``record`` is one short ``BEGIN IMMEDIATE`` transaction, so several kernels writing
into the course folder at once lose nothing (SQLite serialises the writers; a writer
waits up to ``timeout`` seconds). The file is never rewritten or deleted here: a
corrupt file or one locked past the timeout raises ProgressError naming the path, and an
attempt that could not be written stays in ``pending`` and is written by the next
``record`` or ``flush``.

One Progress may be used from any thread (a widget's answers arrive on the kernel's comm
thread, not the one that made it): its connection is shared under a lock.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import astuple, dataclass, fields
from pathlib import Path

from mos_lab.lessons.exercise import Exercise, Feedback

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    student TEXT NOT NULL,
    kind TEXT NOT NULL,
    skill TEXT NOT NULL,
    seed INTEGER NOT NULL,
    level INTEGER NOT NULL,
    params TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    response TEXT NOT NULL,
    correct INTEGER NOT NULL,
    score REAL NOT NULL,
    message TEXT NOT NULL,
    time_taken REAL,
    timestamp REAL NOT NULL,
    pid INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_student ON attempts (student, timestamp);
"""
_COLUMNS = ("student", "kind", "skill", "seed", "level", "params", "question", "answer",
            "response", "correct", "score", "message", "time_taken", "timestamp", "pid")
#: Longest response text kept (untrusted input is clipped, never refused).
MAX_RESPONSE = 2000


class ProgressError(RuntimeError):
    """The progress file cannot be read or written; the message names it and what to do."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """One recorded attempt (a row of the attempts table)."""

    student: str
    kind: str
    skill: str
    seed: int
    level: int
    params: str
    question: str
    answer: str
    response: str
    correct: bool
    score: float
    message: str
    time_taken: float | None
    timestamp: float
    pid: int


def _text(response: object) -> str:
    text = response if isinstance(response, str) else repr(response)
    return text[:MAX_RESPONSE]


class Progress:
    """Attempts of every student in one SQLite file (WAL mode), safe across processes."""

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self.pending: list[Attempt] = []
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()
        with self._errors("open"):
            self._connect()

    # -- connection ------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None,
                                   check_same_thread=False)  # used under self._lock
            try:
                conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if mode.lower() != "wal":
                    raise ProgressError(f"{self.path}: could not switch to WAL (got {mode})")
                conn.execute("PRAGMA synchronous = NORMAL")
                conn.executescript(_SCHEMA)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Hold the connection's lock; turn SQLite's errors into ProgressError."""
        with self._lock:
            yield from self._named_errors(doing)

    def _named_errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as exc:
            text = str(exc)
            if "locked" in text or "busy" in text:
                raise ProgressError(
                    f"{self.path} is locked by another program (waited {self.timeout:g} s "
                    f"to {doing}); {len(self.pending)} attempt(s) are kept in memory and "
                    "written by the next record() or flush()") from None
            raise ProgressError(f"{self.path}: cannot {doing}: {text}") from None
        except sqlite3.DatabaseError as exc:
            self.close()
            raise ProgressError(
                f"{self.path} is not a readable progress database ({exc}); it was left "
                "as it is: copy it aside for repair and give Progress a new path"
                + (f"; {len(self.pending)} attempt(s) are kept in memory" if self.pending
                   else "")) from None

    # -- writing ---------------------------------------------------------------------
    def record(self, student: str, exercise: Exercise, response: object, feedback: Feedback,
               *, time_taken: float | None = None) -> Attempt:
        """Store one attempt (unparsable responses too) and return it as stored."""
        attempt = Attempt(
            str(student), exercise.kind, exercise.skill or exercise.kind, int(exercise.seed),
            int(exercise.level), json.dumps(exercise.params, sort_keys=True, default=str),
            exercise.question, exercise.answer, _text(response), bool(feedback.correct),
            float(feedback.score), feedback.message,
            None if time_taken is None else float(time_taken), time.time(), os.getpid())
        with self._lock:
            self.pending.append(attempt)
            self.flush()
        return attempt

    def flush(self) -> int:
        """Write the attempts kept in memory; how many were written."""
        with self._lock:
            return self._flush()

    def _flush(self) -> int:
        if not self.pending:
            return 0
        rows = [astuple(a) for a in self.pending]
        with self._errors("record an attempt"):
            conn = self._connect()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(
                    f"INSERT INTO attempts ({', '.join(_COLUMNS)}) "
                    f"VALUES ({', '.join('?' * len(_COLUMNS))})", rows)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        n = len(self.pending)
        self.pending.clear()
        return n

    # -- reading ---------------------------------------------------------------------
    def attempts(self, student: str | None = None) -> list[Attempt]:
        """Every attempt of ``student`` (all students for None), oldest first."""
        sql = f"SELECT {', '.join(_COLUMNS)} FROM attempts"
        args: tuple[str, ...] = ()
        if student is not None:
            sql += " WHERE student = ?"
            args = (str(student),)
        with self._errors("read attempts"):
            rows = self._connect().execute(sql + " ORDER BY id", args).fetchall()
        out = [Attempt(*r[:9], bool(r[9]), *r[10:]) for r in rows]  # type: ignore[call-arg]
        return out + [a for a in self.pending if student is None or a.student == student]

    def students(self) -> list[str]:
        """Every student with an attempt."""
        with self._errors("read students"):
            rows = self._connect().execute(
                "SELECT DISTINCT student FROM attempts ORDER BY student").fetchall()
        return [r[0] for r in rows]

    def to_csv(self, path: str | os.PathLike[str] | None = None,
               student: str | None = None) -> str:
        """Attempts as CSV (one row each, a header first); written to ``path`` if given."""
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow([f.name for f in fields(Attempt)])
        for a in self.attempts(student):
            w.writerow(astuple(a))
        text = buf.getvalue()
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def close(self) -> None:
        """Close the connection (attempts are already on disk)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Progress({str(self.path)!r})"
