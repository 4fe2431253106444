"""The note cache: built-in notes rendered once, then played back by a contiguous copy.

Why: a built-in note's source (wavetables with crossfade, vibrato and noise, or FM) is a
fixed function of its program, pitch and velocity layer, and rendering it costs several
times more per sample than reading it back. The first voice of a note (the recorder)
renders live and the kernel appends its output, at native pitch and before envelope
and gain, to the note's entry; later voices of that note read the entry and only apply
envelope, gain and pan. A voice that outlives the recorded part, or is pitch-bent,
goes live from its exact state at that frame (``kernels._goto``), and may extend the
entry when no other voice records it.

Storage is one int16 arena of ``CHUNK``-frame chunks under a byte limit (samples kept at
16 bits, scaled by ``kernels.CACHE_Q``: a cached note's noise floor is ~90 dB below a
full-scale source, as with a SoundFont's 16-bit samples; a dense render reads the cache
from memory, and half the bytes make it ~1.6x faster there): an entry owns
a list of chunks (a row of ``etab``), ``E[e] = (recorded frames, capacity, wants a chunk)``. When no
chunk is free, least-recently-used entries that no voice plays are evicted; entries in
use are never evicted, and when nothing can be freed a note simply plays live.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Hashable

import numpy as np

from mos_lab.audio import kernels as K

CHUNK_BYTES = K.CHUNK * 2  # int16 frames


class NoteCache:
    """Arena of int16 chunks holding rendered notes, bounded by ``max_bytes``."""

    def __init__(self, max_bytes: int, sample_rate: float, max_seconds: float = 12.0) -> None:
        self.max_bytes = int(max_bytes)
        self.nchunks = max(0, self.max_bytes // CHUNK_BYTES)
        self.per_entry = max(1, math.ceil(max_seconds * sample_rate / K.CHUNK))
        nent = max(1, self.nchunks)
        self.arena = np.zeros(max(1, self.nchunks * K.CHUNK), np.int16)
        self._committed = 0  # chunks [0, _committed) have their pages touched
        self.etab = np.zeros((nent, self.per_entry), np.int32)
        self.E = np.zeros((nent, 3), np.int64)  # recorded, capacity, recorder wants more
        self._free_chunks = list(range(self.nchunks - 1, -1, -1))
        self._free_entries = list(range(nent - 1, -1, -1)) if self.nchunks else []
        self._lru: OrderedDict[Hashable, int] = OrderedDict()
        self._key: list[Hashable | None] = [None] * nent
        self._chunks: list[list[int]] = [[] for _ in range(nent)]
        self.users = [0] * nent  # voices playing each entry (pinned while > 0)
        self.recording: dict[int, int] = {}  # entry -> slot of the voice that may write it
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._lru)

    @property
    def nbytes(self) -> int:
        """Bytes of arena held by entries (never above ``max_bytes``)."""
        return (self.nchunks - len(self._free_chunks)) * CHUNK_BYTES

    def commit(self, chunk: int | None = None) -> None:
        """Touch the arena's pages up to ``chunk`` (all with None), so the kernel never
        records into a page that faults.

        Why: ``np.zeros`` memory is mapped lazily and the first write to each page costs
        a fault (several ns per sample recorded). Chunks are handed out in order, so
        :meth:`grow` touches each one as it is first granted (two pages, in Python
        before the kernel writes it): memory grows with the notes played instead of the
        whole limit (64 MB) being resident in every idle kernel.
        """
        end = self.nchunks if chunk is None else min(self.nchunks, chunk + 1)
        if end > self._committed:
            self.arena[self._committed * K.CHUNK : end * K.CHUNK] = 0
            self._committed = end

    def lookup(self, key: Hashable) -> int:
        """The entry for ``key`` (marked recently used), or -1."""
        e = self._lru.get(key)
        if e is None:
            return -1
        self._lru.move_to_end(key)
        return e

    def create(self, key: Hashable) -> int:
        """A new empty entry for ``key`` with one chunk, or -1 when nothing can be freed."""
        if not self._free_entries and not self._evict_one():
            return -1
        if not self._free_entries:
            return -1
        e = self._free_entries.pop()
        self._key[e] = key
        self._lru[key] = e
        self.E[e] = 0
        if not self.grow(e):
            self._release(e)
            return -1
        return e

    def grow(self, e: int) -> bool:
        """Give entry ``e`` one more chunk (evicting unused entries if needed)."""
        got = self._chunks[e]
        if len(got) >= self.per_entry:
            return False
        if not self._free_chunks and not self._evict_one(keep=e):
            return False
        c = self._free_chunks.pop()
        if c >= self._committed:
            self.commit(c)
        self.etab[e, len(got)] = c
        got.append(c)
        self.E[e, 1] = len(got) * K.CHUNK
        return True

    def room(self, e: int, frames: int) -> None:
        """Make sure entry ``e`` can take ``frames`` more frames past what it holds."""
        while self.E[e, 1] - self.E[e, 0] < frames:
            if not self.grow(e):  # at its longest, or no chunk free: the rest plays live
                break

    def grow_recorders(self, entries: list[int] | None = None) -> None:
        """One more chunk for each entry whose recorder asked (``E[e, 2]``, set by the kernel).

        ``entries`` is the kernel's list of them (None: found by one numpy pass).
        """
        if entries is None:
            entries = np.flatnonzero(self.E[:, 2]).tolist()
        for e in entries:
            self.E[e, 2] = 0
            if e in self.recording:
                self.grow(e)

    def _evict_one(self, keep: int = -1) -> bool:
        """Drop the least recently used entry that no voice plays; False if none."""
        for key, e in self._lru.items():
            if e != keep and self.users[e] == 0 and e not in self.recording:
                del self._lru[key]
                self._release(e)
                self.evictions += 1
                return True
        return False

    def _release(self, e: int) -> None:
        key = self._key[e]
        if key is not None and self._lru.get(key) == e:
            del self._lru[key]
        self._key[e] = None
        self._free_chunks.extend(self._chunks[e])
        self._chunks[e] = []
        self.E[e] = 0
        self._free_entries.append(e)

    def clear(self) -> None:
        """Forget every entry no voice uses."""
        for key, e in list(self._lru.items()):
            if self.users[e] == 0 and e not in self.recording:
                del self._lru[key]
                self._release(e)
