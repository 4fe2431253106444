"""The WebSocket stream: JPEG frames to real clients, backpressure, reconnects, hostile input.

Clients are websocket-client, a raw socket speaking RFC 6455 by hand (to send what a
well-behaved library never would), and the served ``/ws.html`` page itself run in
Node (its WebSocket) with a two-line canvas stand-in.
"""

from __future__ import annotations

import base64
import io
import json
import os
import queue
import re
import socket
import struct
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest
import websocket
from _theater_helpers import known_score

from mos_lab.theater import MJPEGStream, Theater, View
from mos_lab.theater.cpu import CPURenderer
from mos_lab.theater.scene import Scene
from mos_lab.theater.stream import accept_key

VIEW = View(320, 180)


@pytest.fixture
def theater() -> Iterator[Theater]:
    th = Theater(Scene(known_score(), span=4.0), CPURenderer())
    yield th
    th.close()


def wait_until(cond, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


def jpeg_size(data: bytes) -> tuple[int, int]:
    from PIL import Image

    img = Image.open(io.BytesIO(data))
    img.load()  # decodes the whole image: a truncated JPEG fails here
    assert img.format == "JPEG"
    return img.size


class RawWS:
    """A WebSocket client on a bare socket: sends any frame, even broken ones."""

    def __init__(self, port: int, headers: dict[str, str] | None = None,
                 expect: int = 101) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.key = base64.b64encode(os.urandom(16)).decode()
        h = {"Host": f"127.0.0.1:{port}", "Upgrade": "websocket", "Connection": "Upgrade",
             "Sec-WebSocket-Key": self.key, "Sec-WebSocket-Version": "13", **(headers or {})}
        lines = "".join(f"{k}: {v}\r\n" for k, v in h.items() if v is not None)
        self.sock.sendall(f"GET /ws HTTP/1.1\r\n{lines}\r\n".encode())
        self.fp = self.sock.makefile("rb")
        self.status = int(self.fp.readline().split()[1])
        self.headers: dict[str, str] = {}
        while (line := self.fp.readline().strip()):
            k, _, v = line.decode().partition(":")
            self.headers[k.strip().lower()] = v.strip()
        assert self.status == expect, (self.status, self.headers)

    def send(self, opcode: int, payload: bytes = b"", *, fin: bool = True, mask: bool = True,
             rsv: int = 0, length: int | None = None) -> None:
        n = len(payload) if length is None else length
        head = bytes([(0x80 if fin else 0) | rsv << 4 | opcode])
        m = 0x80 if mask else 0
        if n < 126:
            head += bytes([m | n])
        elif n < 1 << 16:
            head += bytes([m | 126]) + struct.pack("!H", n)
        else:
            head += bytes([m | 127]) + struct.pack("!Q", n)
        if mask:
            key = os.urandom(4)
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
            head += key
        self.sock.sendall(head + payload)

    def recv(self) -> tuple[int, bytes]:
        """One server frame: ``(opcode, payload)``; server frames are final and unmasked."""
        b0, b1 = self.fp.read(2)
        assert b0 & 0x80 and not b1 & 0x80, (b0, b1)
        n = b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", self.fp.read(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", self.fp.read(8))
        return b0 & 0x0F, self.fp.read(n)

    def frame(self) -> tuple[dict, bytes]:
        """The next meta + JPEG pair (pings are answered on the way)."""
        while True:
            op, data = self.recv()
            if op == 0x9:
                self.send(0xA, data)
                continue
            assert op == 0x1, (op, data[:40])
            meta = json.loads(data)
            op, jpg = self.recv()
            assert op == 0x2
            return meta, jpg

    def ack(self, seq: int) -> None:
        self.send(0x1, f"ack {seq}".encode())

    def closed_with(self) -> int:
        """The code of the server's close frame; then the server ends the connection."""
        while True:
            op, data = self.recv()
            if op == 0x8:
                code = struct.unpack("!H", data[:2])[0]
                assert self.fp.read(1) == b""  # and the socket is closed after it
                return code

    def silent_for(self, seconds: float) -> bool:
        self.sock.settimeout(seconds)
        try:
            return self.sock.recv(1, socket.MSG_PEEK) == b""
        except TimeoutError:
            return True
        finally:
            self.sock.settimeout(5)

    def close(self) -> None:
        self.fp.close()
        self.sock.close()


def test_handshake_answer_is_rfc6455():
    # the example of RFC 6455, section 1.3
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_a_real_client_receives_jpeg_frames_that_follow_the_scene(theater):
    with MJPEGStream(theater, VIEW, fps=50) as stream:
        assert stream.ws_url.endswith("/ws") and stream.page_url.endswith("/ws.html")
        ws = websocket.create_connection(stream.ws_url, timeout=5)
        try:
            meta = json.loads(ws.recv())
            jpg = ws.recv()
            assert isinstance(jpg, bytes) and jpeg_size(jpg) == (320, 180)
            assert (meta["width"], meta["height"], meta["seq"]) == (320, 180, 1)
            for t in (1.0, 2.5):
                theater.scene.set_playhead(t)
                ws.send(f"ack {meta['seq']}")
                meta = json.loads(ws.recv())
                jpg = ws.recv()
                assert meta["playhead"] == pytest.approx(t) and jpeg_size(jpg) == (320, 180)
            assert meta["revision"] == theater.scene.revision
        finally:
            ws.close()
        wait_until(lambda: stream.clients == 0)


def test_at_most_two_unacknowledged_frames_and_a_slow_client_skips_frames(theater):
    with MJPEGStream(theater, VIEW, fps=100) as stream:
        slow, fast = RawWS(stream.port), RawWS(stream.port)
        first, _ = slow.frame()
        fast_meta, _ = fast.frame()
        for i in range(1, 11):
            theater.scene.set_playhead(i * 0.1)
            wait_until(lambda: stream._frame.revision == theater.scene.revision)
            fast.ack(fast_meta["seq"])
            fast_meta, _ = fast.frame()  # a client that keeps up sees every change
            assert fast_meta["playhead"] == pytest.approx(i * 0.1)
        second, _ = slow.frame()
        assert slow.silent_for(0.5)  # two unacknowledged frames: nothing more is sent
        assert stream.frames_rendered >= 11  # the others were not held up
        slow.ack(first["seq"])
        third, jpg = slow.frame()  # the newest frame, the ones between are skipped
        assert third["playhead"] == pytest.approx(1.0) and third["seq"] > second["seq"] + 1
        assert jpeg_size(jpg) == (320, 180)
        slow.close()
        fast.close()


@pytest.mark.seed("THR-07")
def test_client_disconnects_without_goodbye_and_reconnects(theater):
    with MJPEGStream(theater, VIEW, fps=50) as stream:
        c = RawWS(stream.port)
        c.frame()
        c.sock.shutdown(socket.SHUT_RDWR)  # the client dies mid-stream
        c.close()
        wait_until(lambda: stream.clients == 0)
        theater.scene.set_playhead(2.0)
        again = websocket.create_connection(stream.ws_url, timeout=5)
        meta = json.loads(again.recv())
        assert jpeg_size(again.recv()) == (320, 180)
        if meta["playhead"] != pytest.approx(2.0):  # the producer may still be on its way
            again.send(f"ack {meta['seq']}")
            meta = json.loads(again.recv())
            again.recv()
        assert meta["playhead"] == pytest.approx(2.0)
        assert stream.connections == 2 and stream.clients == 1
        again.close()


@pytest.mark.seed("THR-07")
def test_server_restart_says_going_away_and_the_client_reconnects(theater):
    stream = MJPEGStream(theater, VIEW, fps=50).start()
    port = stream.port
    c = RawWS(port)
    c.frame()
    stream.close()
    assert c.closed_with() == 1001  # "going away": the page retries
    c.close()
    with pytest.raises(OSError):
        RawWS(port)  # nobody listens meanwhile
    with MJPEGStream(theater, VIEW, port=port) as again:  # restarted on the same port
        ws = websocket.create_connection(again.ws_url, timeout=5)
        json.loads(ws.recv())
        assert jpeg_size(ws.recv()) == (320, 180)
        ws.close()


@pytest.mark.seed("THR-07")
def test_the_served_page_shows_frames_and_reconnects_after_a_server_restart(theater):
    """Runs /ws.html's own script in Node against the server, restarted under it."""
    stream = MJPEGStream(theater, VIEW, fps=50).start()
    port = stream.port
    page = urllib.request.urlopen(stream.page_url, timeout=5).read().decode()
    (script,) = re.findall(r"<script>(.*?)</script>", page, re.S)
    shim = """
const WS = globalThis.WebSocket;
globalThis.WebSocket = class extends WS {
  constructor(url) { super(url); console.log("connect " + url);
                     this.addEventListener("open", () => console.log("open")); }
};
globalThis.location = {protocol: "http:", host: "127.0.0.1:PORT"};
const ctx = {drawImage: (bmp) => console.log("drawn " + bmp.bytes)};
const el = {textContent: "", width: 0, height: 0, getContext: () => ctx};
globalThis.document = {getElementById: () => el};
globalThis.createImageBitmap = async (blob) => {
  const b = Buffer.from(await blob.arrayBuffer());
  if (b[0] !== 0xff || b[1] !== 0xd8 || b[b.length - 2] !== 0xff || b[b.length - 1] !== 0xd9)
    throw new Error("not a JPEG");
  return {width: 320, height: 180, bytes: b.length, close() {}};
};
""".replace("PORT", str(port))
    proc = subprocess.Popen(["node", "--experimental-websocket", "-e", shim + script],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(ln.strip()) for ln in proc.stdout],
                              daemon=True)
    reader.start()

    seen: list[str] = []

    def expect(prefix: str, timeout: float = 10.0) -> str:
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            try:
                line = lines.get(timeout=left)
            except queue.Empty:
                break
            seen.append(line)
            if line.startswith(prefix):
                return line
        raise AssertionError(f"no {prefix!r} from the page; it said {seen}")

    try:
        expect("open")
        expect("drawn")
        for i in range(1, 6):  # acks flow: far more than two frames are shown
            theater.scene.set_playhead(i * 0.5)
            expect("drawn")
        assert stream.clients == 1
        stream.close()
        expect("connect")  # retried while nobody listens
        with MJPEGStream(theater, VIEW, port=port) as again:
            expect("open")
            expect("drawn")
            assert again.clients == 1 and again.connections == 1
    finally:
        stream.close()
        proc.kill()
        proc.wait()
        reader.join(5)
        proc.stdout.close()


@pytest.mark.seed("THR-08")
def test_scene_change_during_setup_reaches_websocket_clients_after_it_whole(theater):
    scene = theater.scene
    scene.set_playhead(0.5)
    old = scene.snapshot()

    def change_during_setup():
        done = threading.Event()

        def change():
            with scene.batch():
                scene.set_score(known_score().transpose(5))
                time.sleep(0.05)  # a slow batch: readers must never see half of it
                scene.set_playhead(3.0)
            done.set()

        threading.Thread(target=change).start()
        assert done.wait(5)

    with MJPEGStream(theater, VIEW, fps=50, on_setup=change_during_setup) as s:
        c = RawWS(s.port)
        first, _ = c.frame()
        c.ack(first["seq"])
        second, jpg = c.frame()
        c.close()
    assert first["revision"] == old.revision and first["playhead"] == pytest.approx(0.5)
    assert second["revision"] == scene.revision and second["playhead"] == pytest.approx(3.0)
    assert jpeg_size(jpg) == (320, 180)


@pytest.mark.parametrize(("headers", "status"), [
    ({"Upgrade": None}, 400),
    ({"Connection": "keep-alive"}, 400),
    ({"Sec-WebSocket-Version": "8"}, 426),
    ({"Sec-WebSocket-Key": "not base64!"}, 400),
    ({"Sec-WebSocket-Key": base64.b64encode(b"short").decode()}, 400),
    ({"Origin": "http://evil.example"}, 403),
    ({"Origin": "http://localhost:8888", "Connection": "keep-alive, Upgrade"}, 101),
])
def test_bad_handshakes_get_an_http_error_and_the_server_lives_on(theater, headers, status):
    with MJPEGStream(theater, VIEW, fps=50) as stream:
        c = RawWS(stream.port, headers, expect=status)
        if status == 101:
            assert c.headers["sec-websocket-accept"] == accept_key(c.key)
            assert jpeg_size(c.frame()[1]) == (320, 180)
        else:
            assert c.fp.read() is not None and stream.clients == 0
        c.close()
        garbage = socket.create_connection(("127.0.0.1", stream.port), timeout=5)
        garbage.sendall(b"\x16\x03\x01 not http at all\r\n\r\n")
        assert b"400" in garbage.recv(200)  # bad request (HTTP/0.9 style: no status line)
        garbage.close()
        ok = RawWS(stream.port)  # still serving
        assert jpeg_size(ok.frame()[1]) == (320, 180)
        ok.close()


HOSTILE = {
    "unmasked frame": (dict(opcode=0x1, payload=b"ack 1", mask=False), 1002),
    "reserved bits": (dict(opcode=0x1, payload=b"ack 1", rsv=4), 1002),
    "unknown opcode": (dict(opcode=0x3, payload=b""), 1002),
    "2**62 byte length": (dict(opcode=0x1, payload=b"", length=1 << 62), 1009),
    "too long message": (dict(opcode=0x1, payload=b"a" * 5000), 1009),
    "binary message": (dict(opcode=0x2, payload=b"\xff\xd8"), 1003),
    "invalid utf-8": (dict(opcode=0x1, payload=b"ack \xff\xfe"), 1007),
    "unknown command": (dict(opcode=0x1, payload=b"rm -rf /"), 1008),
    "fragmented ping": (dict(opcode=0x9, payload=b"x", fin=False), 1002),
    "long ping": (dict(opcode=0x9, payload=b"x" * 126), 1002),
    "stray continuation": (dict(opcode=0x0, payload=b"ack"), 1002),
    "1-byte close": (dict(opcode=0x8, payload=b"\x03"), 1002),
    "reserved close code": (dict(opcode=0x8, payload=struct.pack("!H", 1005)), 1002),
}


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_hostile_frames_get_a_close_code_and_never_kill_the_server(theater, case):
    frame, code = HOSTILE[case]
    with MJPEGStream(theater, VIEW, fps=50) as stream:
        c = RawWS(stream.port)
        c.frame()
        c.send(**frame)
        assert c.closed_with() == code
        c.close()
        wait_until(lambda: stream.clients == 0)
        ok = websocket.create_connection(stream.ws_url, timeout=5)  # still serving
        json.loads(ok.recv())
        assert jpeg_size(ok.recv()) == (320, 180)
        ok.close()


def test_ping_close_and_fragmented_ack_follow_the_protocol(theater):
    with MJPEGStream(theater, VIEW, fps=50) as stream:
        c = RawWS(stream.port)
        c.frame()
        c.send(0x9, b"hello")
        assert c.recv() == (0xA, b"hello")
        theater.scene.set_playhead(1.0)
        meta, _ = c.frame()  # two frames unacknowledged: the client is full
        theater.scene.set_playhead(2.0)
        c.send(0x1, b"ac", fin=False)  # an ack in two fragments, a ping between them
        c.send(0x9, b"")
        c.send(0x0, f"k {meta['seq']}".encode())
        assert c.recv() == (0xA, b"")
        nxt, _ = c.frame()  # the ack made room
        assert nxt["playhead"] == pytest.approx(2.0)
        c.send(0x8, struct.pack("!H", 1000) + b"bye")
        assert c.closed_with() == 1000  # the close is echoed, then the socket closed
        c.close()
        wait_until(lambda: stream.clients == 0)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_close_ends_every_connection_thread_and_socket(theater):
    threads, fds = set(threading.enumerate()), open_fds()
    stream = MJPEGStream(theater, VIEW, fps=50).start()
    ws = [RawWS(stream.port) for _ in range(3)]
    for c in ws:
        c.frame()
    stalled = RawWS(stream.port)  # takes two frames, never acks, never reads again
    mjpeg = socket.create_connection(("127.0.0.1", stream.port), timeout=5)
    mjpeg.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: x\r\n\r\n")
    idle = socket.create_connection(("127.0.0.1", stream.port), timeout=5)  # keep-alive
    idle.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"200 OK" in idle.recv(100)
    wait_until(lambda: stream.clients == 5)
    for i in range(20):
        theater.scene.set_playhead(i * 0.1)
    t0 = time.monotonic()
    stream.close()
    assert time.monotonic() - t0 < 3
    for c in ws:
        assert c.closed_with() == 1001
        c.close()
    assert stream.clients == 0
    for s in (mjpeg, idle):
        s.settimeout(5)
        while s.recv(65536):  # the server ended these connections
            pass
        s.close()
    stalled.close()
    assert set(threading.enumerate()) <= threads  # reader, sender and handler threads joined
    assert open_fds() <= fds  # the listening socket and every connection closed
