"""The Notation widget sends a long score's notes a chunk at a time: each batch holds only
the notes new since the last (not the grown list again), and a view that missed batches
gets the whole list once when it asks."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mos_lab.score import Score
from mos_lab.widgets.notation import Notation

pytest.importorskip("verovio")


def test_each_chunk_sends_only_its_new_notes_and_a_late_view_gets_them_all(session):
    rows = [(i * 480, 480, 60 + (i * 5) % 19, 90) for i in range(4 * 400)]
    sc = session.load(Score.from_notes(rows, title="line"))
    w = Notation()
    updates: list[dict[str, Any]] = []
    custom: list[tuple[dict[str, Any], list[bytes]]] = []
    real_send = w._send

    def record(msg: dict[str, Any], buffers: Any = None) -> None:
        if msg.get("method") == "update":
            updates.append(msg["state"])
        elif msg.get("method") == "custom":
            custom.append((msg["content"], [bytes(b) for b in buffers or []]))
        real_send(msg, buffers)

    w._send = record  # type: ignore[method-assign]
    try:
        w.wait_engraved(complete=False)
        first = len(w.note_ids.split(" "))
        assert 0 < first < sc.n_notes and w.note_count == first
        assert w.note_batch_ids == w.note_ids  # a new layout: its notes all at once
        updates.clear()
        while not w.complete:
            w._work()
        batches = [u["note_batch_ids"].split(" ") for u in updates if "note_batch_ids" in u]
        assert batches and max(len(b) for b in batches) < sc.n_notes - first + 1
        sent = [i for b in batches for i in b]
        assert len(sent) == len(set(sent)) == sc.n_notes - first  # each new note once
        assert w.note_count == sc.n_notes == len(w.note_ids.split(" "))
        assert sorted(sent) == sorted(w.note_ids.split(" ")[first:])
        # a view made now holds only the last batch: it asks, and gets every note once
        w._handle_custom_msg({"type": "notes", "layout": w.layout_id}, [])
        (content, bufs), = [(c, b) for c, b in custom if c.get("type") == "notes"]
        assert content["count"] == sc.n_notes
        assert bufs[0].decode().split(" ") == w.note_ids.split(" ")
        times = np.frombuffer(bufs[1], dtype="<f8").reshape(-1, 2)
        assert np.array_equal(times, np.frombuffer(w.note_times, dtype="<f8").reshape(-1, 2))
        w._handle_custom_msg({"type": "notes", "layout": w.layout_id - 1}, [])  # stale
        assert len([c for c, _ in custom if c.get("type") == "notes"]) == 1
    finally:
        w.close()
