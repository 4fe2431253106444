"""Bounded history archived to disk (SCL-02)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from mos_lab.bus import Event, EventBus, EventRegistry, JsonlArchive


@pytest.mark.seed("SCL-02")
@pytest.mark.parametrize(
    "rate", [10, pytest.param(20, marks=pytest.mark.soak)]  # 864,000 / 1,728,000 events
)
def test_24h_of_events_stay_bounded_in_memory_and_on_disk(tmp_path: Path, rate: int) -> None:
    # the full-rate day is marked soak: deselected by default, run with -m soak
    seconds = 24 * 3600  # a simulated day of events at `rate` per second (simulated clock)
    total = rate * seconds
    clock = itertools.count(0.0, 1.0 / rate).__next__  # simulated monotonic time
    archive = JsonlArchive(tmp_path, max_file_bytes=2 << 20, max_files=4)
    bus = EventBus(EventRegistry.with_builtins(), history_size=5000, archive=archive,
                   clock=clock)
    seen = 0

    def count(ev: Event) -> None:
        nonlocal seen
        seen += 1

    bus.subscribe("note_on", count)
    emit = bus.emit
    max_hist = 0
    for i in range(total // 2):
        emit("note_on", pitch=i % 128, velocity=100, channel=0, frame=i * 1102)
        emit("note_off", pitch=i % 128, channel=0, frame=i * 1102 + 1000)
        if i % 100_000 == 0:
            max_hist = max(max_hist, len(bus._history))
    assert seen == total // 2
    hist = bus.history
    assert max(max_hist, len(hist)) <= 5000 + 5000 // 8  # memory stays bounded
    assert hist[-1].seq == total and hist[-1].time == pytest.approx(seconds - 1 / rate)
    # everything evicted from memory went to the archive...
    assert archive.written + len(hist) == total
    assert bus.metrics().archived == archive.written
    # ...which rotates and stays under its size limit (oldest files removed)
    files = archive.files()
    assert len(files) == 4 and archive.deleted_files > 0
    assert archive.disk_bytes() <= 4 * (2 << 20) + 64 * 1024
    # what is on disk reads back as the contiguous run of events just before the memory
    on_disk = list(archive.read())
    assert archive.deleted_events + len(on_disk) == archive.written
    seqs = [e.seq for e in on_disk]
    assert seqs == list(range(seqs[0], hist[0].seq))
    last = on_disk[-1]
    assert last.type == "note_off" and last.frame is not None and last.data["channel"] == 0
    bus.close()  # archives the in-memory rest
    assert archive.written == total


def test_archive_round_trip_rotation_and_reopen(tmp_path: Path) -> None:
    reg = EventRegistry.with_builtins()
    reg.register("blob", ("raw", object))
    with EventBus(reg, history_size=10, archive=JsonlArchive(tmp_path / "a", max_file_bytes=400,
                                                                 max_files=1000)) as bus:
        bus.subscribe("chord", lambda ev: bus.emit("progress", task="t", done=0, total=1))
        all_events: list[Event] = []
        bus.subscribe("*", all_events.append)
        sent = [bus.emit("chord", symbol=f"C{i}", roman="I") for i in range(20)]
        sent.append(bus.emit("blob", raw=b"\x00\x01"))
        in_memory = len(bus.history)
        assert 10 <= in_memory < len(all_events)
        assert bus.archive_history() == in_memory and bus.history == []
        archive = bus.archive
        assert isinstance(archive, JsonlArchive)
        back = list(archive.read())
        assert len(back) == len(all_events) == 41
        assert back[:-1] == all_events[:-1]
        assert back[-1].data == {"raw": {"__bytes__": "AAE="}}
        assert next(e.chain for e in back if e.type == "progress") == ("chord",)
        assert len(archive.files()) > 1  # rotated by size
        assert [e.seq for e in archive.read("chord")] == [e.seq for e in sent[:-1]]
    again = JsonlArchive(tmp_path / "a")
    n_files = len(again.files())
    again.write([Event("chord", 999, None, 1.0, {"symbol": "X"}, True)])
    assert len(again.files()) == n_files + 1  # continues numbering, never overwrites
    assert list(again.read())[-1].seq == 999
    again.close()


def test_event_dict_round_trip() -> None:
    ev = Event("note_on", 3, 480, 1.5, {"pitch": 60}, False, ("chord",))
    assert Event.from_dict(ev.to_dict()) == ev
    assert ev["pitch"] == 60 and ev.get("velocity", 7) == 7
    assert "note_on" in repr(ev) and "#3" in repr(ev)
