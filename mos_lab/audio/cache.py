"""Sample cache: an LRU in memory plus a checksummed LRU on disk, both under byte limits.

Disk entries are written atomically (temp file + ``os.replace``) with a sha256 of the
payload in the header; a corrupt or unreadable entry is detected on read, deleted and
rebuilt from its source (APO-09). Both levels evict least-recently-used entries so any
number of loads stays under the limits (ENG-09).
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

MAGIC = b"APOC1\n"
_HEADER = len(MAGIC) + 65  # magic + 64 hex digits + newline
Emit = Callable[[str, Mapping[str, object]], None]


class MemoryCache:
    """Thread-safe LRU of read-only numpy arrays, bounded by total ``nbytes``."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = int(max_bytes)
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.nbytes = 0
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: str) -> np.ndarray | None:
        with self._lock:
            arr = self._items.get(key)
            if arr is not None:
                self._items.move_to_end(key)
            return arr

    def put(self, key: str, arr: np.ndarray) -> None:
        """Store ``arr`` (made read-only); entries larger than the limit are not kept."""
        arr.flags.writeable = False
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.nbytes -= old.nbytes
            if arr.nbytes > self.max_bytes:
                return
            self._items[key] = arr
            self.nbytes += arr.nbytes
            while self.nbytes > self.max_bytes:
                _, gone = self._items.popitem(last=False)
                self.nbytes -= gone.nbytes
                self.evictions += 1

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.nbytes = 0


class DiskCache:
    """Directory of checksummed ``.apc`` entries with an LRU byte limit."""

    def __init__(self, directory: str | os.PathLike[str], max_bytes: int) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = int(max_bytes)
        self._lock = threading.Lock()
        self._index: OrderedDict[str, int] = OrderedDict()  # file name -> size, LRU order
        self.corrupt = 0
        self.evictions = 0
        found = []
        for entry in os.scandir(self.directory):
            if entry.name.endswith(".apc") and entry.is_file():
                st = entry.stat()
                found.append((st.st_mtime, entry.name, st.st_size))
        for _, name, size in sorted(found):
            self._index[name] = size
        self.nbytes = sum(self._index.values())
        self._evict()

    @staticmethod
    def filename(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()[:40] + ".apc"

    def __len__(self) -> int:
        return len(self._index)

    def get(self, key: str) -> np.ndarray | None:
        """Return the entry, or None when absent or corrupt (a corrupt file is deleted).

        The array is a copy-on-write memory map of the file, not a copy: kernels reading
        the same cached samples (a class on one machine) share the page cache, and a
        431 MB SoundFont costs no private memory nor a 3x peak while it is read.
        """
        name = self.filename(key)
        path = self.directory / name
        try:
            arr = _mapped(path)
        except OSError:
            with self._lock:
                self._drop(name)
            return None
        with self._lock:
            if arr is None:
                self.corrupt += 1
                self._drop(name)
                path.unlink(missing_ok=True)
                return None
            if name in self._index:
                self._index.move_to_end(name)
        return arr

    def put(self, key: str, arr: np.ndarray) -> None:
        """Write atomically, then evict least-recently-used entries over the limit."""
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(arr), allow_pickle=False)
        payload = buf.getvalue()
        blob = MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload
        if len(blob) > self.max_bytes:
            return
        name = self.filename(key)
        fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
            os.replace(tmp, self.directory / name)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        with self._lock:
            self._drop(name)
            self._index[name] = len(blob)
            self.nbytes += len(blob)
            self._evict()

    def _drop(self, name: str) -> None:
        size = self._index.pop(name, None)
        if size is not None:
            self.nbytes -= size

    def _evict(self) -> None:
        while self.nbytes > self.max_bytes and self._index:
            name, size = self._index.popitem(last=False)
            self.nbytes -= size
            self.evictions += 1
            (self.directory / name).unlink(missing_ok=True)


def _mapped(path: Path) -> np.ndarray | None:
    """The ``.npy`` payload of an entry as a copy-on-write memory map (writeable, shared
    until written), or None when its checksum or format is wrong. OSError: unreadable.

    The checksum reads the file (through the page cache), not the map: hashing the map
    would make every page of it resident in this process (a 431 MB SoundFont in the RSS
    of a kernel that plays a few instruments); only the pages played are mapped in.
    """
    import mmap

    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size <= _HEADER:
            return None
        first = f.read(_HEADER)
        digest = hashlib.file_digest(f, "sha256").hexdigest().encode()
        if first[:len(MAGIC)] != MAGIC or first[len(MAGIC):_HEADER - 1] != digest:
            return None
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    view = memoryview(mm)
    try:
        head = io.BytesIO(bytes(view[_HEADER:_HEADER + 65536]))
        try:
            version = np.lib.format.read_magic(head)
            reader = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                      else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = reader(head)
        except (ValueError, OSError, EOFError):
            return None
        offset = _HEADER + head.tell()
        count = int(np.prod(shape, dtype=np.int64))
        if dtype.hasobject or offset + count * dtype.itemsize > size:
            return None
        arr = np.frombuffer(mm, dtype=dtype, count=count, offset=offset)
        return arr.reshape(shape, order="F" if fortran else "C")
    finally:
        view.release()


def release_mapped(arr: np.ndarray) -> bool:
    """Drop the resident pages of the disk-cache map under ``arr`` (True if it had one).

    Why: a kernel that played a few pieces keeps every sample page it read (~30 MB for
    three songs of MuseScore_General_Lite); an idle engine lets them go. The data does not
    change: the map is of the file and its pages come back from the page cache on the next
    read. Only for arrays that nobody writes (the ones :class:`SampleCache` hands out are
    read-only): a written copy-on-write page would be reset to the file's.
    """
    import mmap

    base: object = arr
    while isinstance(base, np.ndarray):
        base = base.base
    if isinstance(base, memoryview):
        base = base.obj
    if not isinstance(base, mmap.mmap) or base.closed:
        return False
    base.madvise(mmap.MADV_DONTNEED)
    return True


class SampleCache:
    """Memory LRU in front of an optional disk cache; ``get_or_build`` fills both."""

    def __init__(self, memory_bytes: int = 256 << 20, directory: str | os.PathLike[str] |
                 None = None, disk_bytes: int = 1 << 30, emit: Emit | None = None) -> None:
        self.memory = MemoryCache(memory_bytes)
        self.disk = DiskCache(directory, disk_bytes) if directory is not None else None
        self.emit = emit
        self.hits = self.misses = self.rebuilt = 0

    def get_or_build(self, key: str, build: Callable[[], np.ndarray]) -> np.ndarray:
        """Return the cached array for ``key``, building (and storing) it on a miss."""
        arr = self.memory.get(key)
        if arr is not None:
            self.hits += 1
            return arr
        if self.disk is not None:
            corrupt_before = self.disk.corrupt
            arr = self.disk.get(key)
            if self.disk.corrupt != corrupt_before:
                self.rebuilt += 1
                if self.emit is not None:
                    self.emit("audio.cache.corrupt", {"key": key})
            if arr is not None:
                self.hits += 1
                self.memory.put(key, arr)
                return arr
        self.misses += 1
        arr = np.asarray(build())
        if self.disk is not None:
            self.disk.put(key, arr)
            mapped = self.disk.get(key)  # the built copy is freed: kernels share the map
            if mapped is not None:
                arr = mapped
        self.memory.put(key, arr)
        return arr
