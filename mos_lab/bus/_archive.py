"""On-disk archive of events evicted from the bus's memory: rotating JSON-lines files."""

from __future__ import annotations

import base64
import json
import os
import re
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from ._events import Event

__all__ = ["JsonlArchive"]


def _default(o: Any) -> Any:
    if isinstance(o, bytes | bytearray):
        return {"__bytes__": base64.b64encode(bytes(o)).decode("ascii")}
    if isinstance(o, set | frozenset):
        return sorted(o, key=repr)
    if hasattr(o, "tolist"):  # numpy arrays and scalars
        return o.tolist()
    return repr(o)


_encode = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, check_circular=False, default=_default
).encode


class JsonlArchive:
    """Appends events as JSON lines to ``directory/<prefix>-NNNNNN.jsonl``.

    A file is closed and a new one started when it reaches ``max_file_bytes``; when more
    than ``max_files`` files exist the oldest is deleted, so disk use stays below about
    ``max_file_bytes * max_files``. :meth:`read` gives the events back, oldest first.
    Thread-safe; the bus writes in chunks when it trims its in-memory history.
    """

    LINE_EVENTS = 256

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        max_file_bytes: int = 16 * 1024 * 1024,
        max_files: int = 8,
        prefix: str = "events",
    ) -> None:
        if max_file_bytes < 1 or max_files < 1:
            raise ValueError("max_file_bytes and max_files must be positive")
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", prefix):
            raise ValueError(f"bad archive prefix {prefix!r}")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_file_bytes = max_file_bytes
        self.max_files = max_files
        self.prefix = prefix
        self._pattern = re.compile(rf"^{re.escape(prefix)}-(\d{{6,}})\.jsonl$")
        self._lock = threading.Lock()
        self._fh: IO[str] | None = None
        self._size = 0
        existing = self._indices()
        self._index = existing[-1] if existing else 0
        self.written = 0  # events written by this object
        self.deleted_files = 0  # files removed by rotation (their events are gone)
        self.deleted_events = 0  # events in those files (only files this object wrote)
        self._file_events: dict[int, int] = {}

    def _indices(self) -> list[int]:
        out = []
        for p in self.directory.iterdir():
            m = self._pattern.match(p.name)
            if m:
                out.append(int(m.group(1)))
        return sorted(out)

    def _path(self, index: int) -> Path:
        return self.directory / f"{self.prefix}-{index:06d}.jsonl"

    def files(self) -> list[Path]:
        """Archive files, oldest first."""
        return [self._path(i) for i in self._indices()]

    def disk_bytes(self) -> int:
        """Bytes on disk across all archive files."""
        return sum(p.stat().st_size for p in self.files())

    def _open_next(self) -> IO[str]:
        if self._fh is not None:
            self._fh.close()
        self._index += 1
        self._fh = open(self._path(self._index), "a", encoding="utf-8")  # noqa: SIM115
        self._size = 0
        indices = self._indices()
        while len(indices) > self.max_files:
            idx = indices.pop(0)
            oldest = self._path(idx)
            self.deleted_events += self._file_events.pop(idx, 0)
            oldest.unlink()
            self.deleted_files += 1
        return self._fh

    def write(self, events: Iterable[Event]) -> None:
        """Append events (called by the bus with the ones it evicts from memory).

        Each line is a JSON array of up to ``LINE_EVENTS`` rows
        ``[seq, type, frame, time, critical, chain, data]`` (one encoder call per line is
        several times cheaper than one per event).
        """
        rows = [(e.seq, e.type, e.frame, e.time, e.critical, e.chain, e.data) for e in events]
        if not rows:
            return
        step = self.LINE_EVENTS
        with self._lock:
            fh = self._fh if self._fh is not None else self._open_next()
            for k in range(0, len(rows), step):
                part = rows[k : k + step]
                line = _encode(part) + "\n"
                n = len(line)  # characters; close enough to bytes for rotation
                if self._size > 0 and self._size + n > self.max_file_bytes:
                    fh = self._open_next()
                fh.write(line)
                self._size += n
                self.written += len(part)
                self._file_events[self._index] = self._file_events.get(self._index, 0) + len(part)
            fh.flush()

    def read(self, event_type: str | None = None) -> Iterator[Event]:
        """Events in the archive, oldest first (optionally only one type)."""
        with self._lock:
            if self._fh is not None:
                self._fh.flush()
            paths = self.files()
        for p in paths:
            try:
                f = open(p, encoding="utf-8")  # noqa: SIM115
            except FileNotFoundError:  # rotated away meanwhile
                continue
            with f:
                for line in f:
                    if not line.strip():
                        continue
                    for seq, typ, frame, t, crit, chain, data in json.loads(line):
                        if event_type is None or typ == event_type:
                            yield Event(typ, seq, frame, t, data, crit, tuple(chain))

    def close(self) -> None:
        """Close the current file (writing again opens a new one)."""
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None

    def __enter__(self) -> JsonlArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<JsonlArchive {self.directory} files={len(self.files())}>"
