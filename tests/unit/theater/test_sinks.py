"""Frame sinks (backpressure, close frees targets) and the MJPEG stream (reconnect, set-up)."""

from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pytest
from _theater_helpers import known_score

from mos_lab.theater import MJPEGStream, Theater, View
from mos_lab.theater.scene import Scene
from mos_lab.theater.sinks import CallbackSink, MemorySink


@pytest.fixture
def theater(gpu):
    th = Theater(Scene(known_score(), span=4.0), gpu)
    yield th
    th.close()


@pytest.mark.gpu
def test_at_most_two_unconfirmed_frames_and_no_rerender_when_unchanged(theater):
    sink = theater.attach(MemorySink(fmt="png"), View(320, 180))
    for i in range(6):
        theater.scene.set_playhead(i * 0.1)
        theater.publish()
    assert sink.sent == 2 and sink.pending == 2 and sink.dropped == 0
    frames = theater.renderer.stats.frames
    theater.publish()
    assert theater.renderer.stats.frames == frames  # full sink: nothing rendered
    sink.confirm()
    assert theater.publish() == 1 and sink.frames[-1].playhead == pytest.approx(0.5)
    assert sink.frames[-1].data[:8] == b"\x89PNG\r\n\x1a\n"
    sink.confirm()
    assert theater.publish() == 0  # scene unchanged since the last frame


@pytest.mark.gpu
@pytest.mark.seed("THR-02")
def test_closed_sink_stops_frames_and_frees_its_targets(theater):
    r = theater.renderer
    r.release()
    keep = theater.attach(MemorySink(auto_confirm=True), View(320, 180))
    gone = theater.attach(MemorySink(auto_confirm=True), View(352, 198))
    theater.publish()
    with_both = r.resources()
    assert with_both["targets"] == 2 and with_both["overlays"] == 2
    gone.close()
    assert gone not in theater.sinks and keep in theater.sinks
    now = r.resources()
    assert (now["targets"], now["overlays"]) == (1, 1)
    assert now["textures"] == with_both["textures"] - 1  # the target texture is destroyed
    assert now["buffers"] == with_both["buffers"] - 2  # its readback buffer and overlay
    theater.scene.set_playhead(1.0)
    theater.publish()
    assert gone.sent == 1 and keep.sent == 2
    keep.close()
    assert (r.resources()["targets"], r.resources()["overlays"]) == (0, 0)


@pytest.mark.gpu
def test_a_sink_whose_peer_fails_is_closed(theater):
    def broken(frame):
        raise ConnectionError("peer gone")

    sink = theater.attach(CallbackSink(broken), View(320, 180))
    assert theater.publish() == 0 and sink.closed and not theater.sinks


def read_parts(resp: Client, n: int) -> list[tuple[dict[str, str], bytes]]:
    """The next ``n`` parts of a multipart MJPEG response."""
    parts = []
    while len(parts) < n:
        line = resp.fp.readline()
        if not line.startswith(b"--"):
            continue
        headers = {}
        while (h := resp.fp.readline().strip()):
            k, _, v = h.decode().partition(":")
            headers[k.strip().lower()] = v.strip()
        parts.append((headers, resp.fp.read(int(headers["content-length"]))))
    return parts


class Client:
    """A bare HTTP client on a socket, so a test can kill it without a goodbye."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        self.fp = self.sock.makefile("rb")
        status = self.fp.readline()
        assert b" 200 " in status, status
        headers = b""
        while (line := self.fp.readline()).strip():
            headers += line
        assert b"multipart/x-mixed-replace" in headers

    def close(self) -> None:
        self.fp.close()
        self.sock.close()


def connect(port: int) -> tuple[Client, Client]:
    c = Client(port)
    return c, c


def wait_until(cond, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


@pytest.mark.gpu
@pytest.mark.seed("THR-07")
def test_stream_client_disconnects_and_reconnects(theater):
    with MJPEGStream(theater, View(320, 180), fps=50) as stream:
        conn, resp = connect(stream.port)
        ((_, jpg),) = read_parts(resp, 1)
        assert jpg[:2] == b"\xff\xd8"
        conn.close()  # the client dies without a goodbye
        wait_until(lambda: stream.clients == 0)
        theater.scene.set_playhead(2.0)
        conn, resp = connect(stream.port)  # the client restarts
        parts = read_parts(resp, 2)
        assert float(parts[-1][0]["x-playhead"]) == pytest.approx(2.0)
        assert stream.connections == 2
        conn.close()
        port = stream.port
    # the server side restarts on the same port: the client's retry finds it again
    with MJPEGStream(theater, View(320, 180), port=port) as again:
        conn, resp = connect(again.port)
        assert read_parts(resp, 1)[0][1][:2] == b"\xff\xd8"
        conn.close()


@pytest.mark.gpu
@pytest.mark.seed("THR-08")
def test_scene_change_during_stream_setup_is_applied_after_it_atomically(theater):
    scene = theater.scene
    scene.set_playhead(0.5)
    old = scene.snapshot()
    changer_done = threading.Event()

    def change_during_setup():
        def change():
            with scene.batch():
                scene.set_score(known_score().transpose(5))
                time.sleep(0.05)  # a slow batch: readers must never see half of it
                scene.set_playhead(3.0)
            changer_done.set()

        threading.Thread(target=change).start()
        assert changer_done.wait(5)

    with MJPEGStream(theater, View(320, 180), fps=50, on_setup=change_during_setup) as s:
        conn, resp = connect(s.port)
        parts = read_parts(resp, 2)
        conn.close()
    first, second = parts[0][0], parts[1][0]
    assert int(first["x-scene-revision"]) == old.revision  # set-up used one snapshot
    assert float(first["x-playhead"]) == pytest.approx(0.5)
    assert int(second["x-scene-revision"]) == scene.revision  # then the whole change
    assert float(second["x-playhead"]) == pytest.approx(3.0)
    new = theater.render(View(320, 180))
    assert not np.array_equal(new, theater.render(View(320, 180), old))
