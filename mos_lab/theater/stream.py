"""A local live stream of the theater for streaming software (OBS media or browser source).

One HTTP server on 127.0.0.1 serves:

- ``/stream.mjpg``: multipart JPEG frames (OBS media source, ``<img>``);
- ``/ws``: a WebSocket (RFC 6455, standard library only) sending each frame as a text
  message ``{"seq", "revision", "playhead", "width", "height"}`` then a binary JPEG;
  the client answers ``ack <seq>`` once it has shown the frame;
- ``/ws.html``: a page for OBS's browser source that shows ``/ws`` on a canvas and
  reconnects by itself (0.25 s doubling to 5 s) when the server restarts or the link drops;
- ``/frame.jpg``: one frame; ``/``: a page showing the MJPEG stream.

One producer thread renders (only while clients watch, only when the scene changed)
and publishes the latest frame; every client waits on it, so a slow client skips
frames instead of queueing them. A WebSocket client has at most ``max_pending`` (2)
frames sent and not yet acknowledged; frames are never queued per client. A client
that goes away is forgotten and may reconnect at any time (THR-07). Set-up (bind, first
frame) is done from one snapshot; scene changes made meanwhile show in the next frame,
whole (THR-08). A malformed or hostile request or WebSocket frame ends that connection
with an HTTP error or a close code, never the server. ``close()`` says "going away" to
WebSocket clients, shuts every connection down and joins every thread it started.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import io
import json
import socket
import struct
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from mos_lab.theater.encode import encode_jpeg
from mos_lab.theater.scene import View
from mos_lab.theater.stage import Theater

BOUNDARY = "mos-lab-frame"
KEEPALIVE = 0.5  # seconds without a new frame before MJPEG sends the last one again
PING_EVERY = 5.0  # seconds without a frame before a WebSocket client is pinged
MAX_MESSAGE = 1024  # bytes a client's WebSocket message may hold (an ack is ~10)
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, section 1.3
LOOPBACK = ("127.0.0.1", "localhost", "::1")
# opcodes (RFC 6455, section 5.2)
CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

_PAGE = (b"<!doctype html><title>mos_lab theater</title><body style='margin:0;background:#000'>"
         b"<img src='stream.mjpg' style='width:100vw;height:100vh;object-fit:contain'>")
_WS_PAGE = b"""<!doctype html><meta charset="utf-8"><title>mos_lab theater (live)</title>
<style>html,body{margin:0;height:100%;background:#000;overflow:hidden}
canvas{width:100vw;height:100vh;object-fit:contain;display:block}
#status{position:fixed;left:8px;bottom:6px;color:#777;font:12px sans-serif}</style>
<canvas id="view"></canvas><div id="status">connecting</div>
<script>
(() => {
  const canvas = document.getElementById("view"), status = document.getElementById("status");
  const ctx = canvas.getContext("2d");
  let delay = 250, shown = 0;
  function connect() {
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://")
                             + location.host + "/ws");
    const metas = [];
    let retried = false, heard = Date.now();
    const retry = () => {  // server restarted, link dropped or never came: back off, retry
      if (retried) return;
      retried = true;
      clearInterval(watchdog);
      try { ws.close(); } catch (err) {}
      status.textContent = "reconnecting";
      shown = 0;
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 5000);
    };
    // the server sends a frame or a ping at least every 5 s: silence means a dead link
    const watchdog = setInterval(() => { if (Date.now() - heard > 12000) retry(); }, 1000);
    ws.binaryType = "blob";
    ws.onopen = () => { delay = 250; status.textContent = ""; heard = Date.now(); };
    ws.onerror = retry;
    ws.onclose = retry;
    ws.onmessage = async (ev) => {
      heard = Date.now();
      if (typeof ev.data === "string") { metas.push(JSON.parse(ev.data)); return; }
      const meta = metas.shift() || {seq: 0};
      try {
        const bmp = await createImageBitmap(ev.data);
        if (meta.seq >= shown) {  // frames may decode out of order: keep the newest
          shown = meta.seq;
          if (canvas.width !== bmp.width || canvas.height !== bmp.height) {
            canvas.width = bmp.width; canvas.height = bmp.height;
          }
          ctx.drawImage(bmp, 0, 0);
        }
        bmp.close();
      } catch (err) { status.textContent = "bad frame: " + err; }
      if (ws.readyState === WebSocket.OPEN) ws.send("ack " + meta.seq);  // always: no leak
    };
  }
  connect();
})();
</script>
"""


class _Frame:
    __slots__ = ("data", "height", "playhead", "revision", "seq", "width")

    def __init__(self, data: bytes, revision: int, playhead: float, seq: int, width: int,
                 height: int) -> None:
        self.data, self.revision, self.playhead, self.seq = data, revision, playhead, seq
        self.width, self.height = width, height


class WebSocketError(Exception):
    """A client broke the protocol; the connection is closed with ``code`` (RFC 6455 7.4)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code, self.reason = code, reason


def accept_key(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` answer to a client's ``Sec-WebSocket-Key``."""
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


def ws_frame(opcode: int, payload: bytes = b"") -> bytes:
    """One final, unmasked server frame (servers never mask, RFC 6455 5.1)."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


def _exactly(read: Callable[[int], bytes], n: int) -> bytes:
    data = read(n) if n else b""
    if len(data) != n:
        raise ConnectionError("the client went away")
    return data


def read_ws_frame(read: Callable[[int], bytes], limit: int = MAX_MESSAGE,
                  ) -> tuple[bool, int, bytes]:
    """``(fin, opcode, payload)`` of one client frame, unmasked and checked."""
    b0, b1 = _exactly(read, 2)
    fin, opcode, masked, n = bool(b0 & 0x80), b0 & 0x0F, bool(b1 & 0x80), b1 & 0x7F
    if b0 & 0x70:
        raise WebSocketError(1002, "reserved bits set without an extension")
    if opcode not in (CONT, TEXT, BINARY, CLOSE, PING, PONG):
        raise WebSocketError(1002, f"unknown opcode {opcode:#x}")
    if not masked:
        raise WebSocketError(1002, "client frames must be masked")
    if opcode >= CLOSE and (not fin or n > 125):
        raise WebSocketError(1002, "control frames must be final and at most 125 bytes")
    if n == 126:
        (n,) = struct.unpack("!H", _exactly(read, 2))
    elif n == 127:
        (n,) = struct.unpack("!Q", _exactly(read, 8))
    if n > limit:
        raise WebSocketError(1009, f"message of {n} bytes; at most {limit}")
    mask = _exactly(read, 4)
    data = _exactly(read, n)
    if n:  # unmask: XOR with the 4-byte key repeated
        key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
        data = (int.from_bytes(data, "big") ^ key).to_bytes(n, "big")
    return fin, opcode, data


def _close_code(payload: bytes) -> tuple[int, str]:
    """The code to echo for a client's close frame (RFC 6455 5.5.1, 7.4)."""
    if not payload:
        return 1000, ""
    if len(payload) < 2:
        raise WebSocketError(1002, "close frame with a 1-byte payload")
    (code,) = struct.unpack("!H", payload[:2])
    if not (code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011)
            or 3000 <= code <= 4999):
        raise WebSocketError(1002, f"close code {code} is not allowed")
    try:
        payload[2:].decode()
    except UnicodeDecodeError:
        raise WebSocketError(1007, "close reason is not UTF-8") from None
    return code, ""


class _WSClient:
    """One WebSocket peer: sends frames (handler thread), reads its messages (own thread)."""

    def __init__(self, stream: MJPEGStream, sock: socket.socket,
                 rfile: io.BufferedIOBase) -> None:
        self.stream, self.sock, self.rfile = stream, sock, rfile
        self.pending = 0  # frames sent, not yet acknowledged (guarded by stream._cond)
        self.closed = False
        self.close_code: int | None = None  # what we sent
        self._send_lock = threading.Lock()
        self._close_sent = False

    def send(self, opcode: int, payload: bytes = b"") -> None:
        with self._send_lock:
            if self._close_sent:
                raise ConnectionError("closing")
            self.sock.sendall(ws_frame(opcode, payload))

    def close(self, code: int, reason: str = "") -> None:
        """Send one close frame (best effort, never blocking) and stop the sender; idempotent.

        A sender stuck writing to a peer that stopped reading holds the send lock; then
        no close frame is sent and the socket shutdown that follows ends the write.
        """
        if self._send_lock.acquire(timeout=0.2):
            try:
                if not self._close_sent:
                    self._close_sent, self.close_code = True, code
                    frame = ws_frame(CLOSE, struct.pack("!H", code) + reason.encode()[:120])
                    self.sock.send(frame, getattr(socket, "MSG_DONTWAIT", 0))
            except OSError:
                pass
            finally:
                self._send_lock.release()
        self._close_sent = True
        self._gone()

    def _gone(self) -> None:
        with self.stream._cond:
            self.closed = True
            self.stream._cond.notify_all()

    def read_loop(self) -> None:
        """Read acks, pings and close until the peer leaves or breaks the protocol."""
        parts: list[bytes] | None = None  # a fragmented message being assembled
        kind = TEXT
        try:
            while not self.closed:
                fin, op, data = read_ws_frame(self.rfile.read)
                if op == PONG:  # unsolicited (we send no pings): nothing to answer
                    continue
                if op == PING:
                    self.send(PONG, data)
                elif op == CLOSE:
                    self.close(*_close_code(data))
                elif op == CONT and parts is None:
                    raise WebSocketError(1002, "continuation without a message")
                elif op != CONT and parts is not None:
                    raise WebSocketError(1002, "new message inside a fragmented one")
                else:
                    kind = op if op != CONT else kind
                    parts = [*(parts or []), data]
                    if sum(map(len, parts)) > MAX_MESSAGE:
                        raise WebSocketError(1009, f"message over {MAX_MESSAGE} bytes")
                    if fin:
                        self._message(kind, b"".join(parts))
                        parts = None
        except WebSocketError as exc:
            self.close(exc.code, exc.reason)
        except (OSError, ValueError):  # the peer vanished, or the socket was shut down
            pass
        finally:
            self._gone()

    def _message(self, kind: int, data: bytes) -> None:
        if kind == BINARY:
            raise WebSocketError(1003, "binary messages are not accepted")
        try:
            text = data.decode()
        except UnicodeDecodeError:
            raise WebSocketError(1007, "text message is not UTF-8") from None
        word, _, arg = text.strip().partition(" ")
        if word != "ack" or (arg and not arg.isdigit()):
            raise WebSocketError(1008, "expected 'ack <seq>'")
        with self.stream._cond:
            self.pending = max(0, self.pending - 1)
            self.stream._cond.notify_all()


class MJPEGStream:
    """Serve a theater view as MJPEG and WebSocket JPEG frames on 127.0.0.1.

    Examples
    --------
    >>> stream = MJPEGStream(theater, View(1280, 720), fps=30).start()  # doctest: +SKIP
    >>> stream.url, stream.page_url  # doctest: +SKIP
    ('http://127.0.0.1:49231/stream.mjpg', 'http://127.0.0.1:49231/ws.html')
    >>> stream.close()  # doctest: +SKIP
    """

    def __init__(self, theater: Theater, view: View, *, host: str = "127.0.0.1", port: int = 0,
                 fps: float = 30.0, quality: int = 80, max_pending: int = 2,
                 on_setup: Callable[[], None] | None = None) -> None:
        if host not in LOOPBACK:
            raise ValueError(f"host: {host!r}; the stream only listens on this machine")
        if max_pending < 1:
            raise ValueError(f"max_pending: {max_pending} must be at least 1")
        self.theater, self.view, self.fps, self.quality = theater, view, fps, quality
        self.max_pending = max_pending
        self._addr = (host, port)
        self._on_setup = on_setup  # runs inside set-up (tests slow set-up down with it)
        self._cond = threading.Condition()
        self._frame: _Frame | None = None
        self._clients = 0
        self._stop = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        # open connections and the handler thread of each (guarded by _cond)
        self._conns: dict[socket.socket, threading.Thread] = {}
        self._ws: set[_WSClient] = set()
        self.connections = 0  # clients served so far (reconnects count again)
        self.frames_rendered = 0

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> MJPEGStream:
        """Bind, render the first frame from one snapshot, then serve."""
        stream = self

        class Handler(_Handler):
            owner = stream

        server = ThreadingHTTPServer(self._addr, Handler)
        server.daemon_threads = True  # never holds the interpreter; close() joins them
        self._server = server
        try:
            state = self.theater.scene.snapshot()  # the whole set-up uses this one state
            if self._on_setup is not None:
                self._on_setup()
            img = self.theater.render(self.view, state)
            self._publish(encode_jpeg(img, self.quality), state.revision, state.playhead)
        except BaseException:
            server.server_close()
            self._server = None
            raise
        def serve() -> None:
            server.serve_forever(poll_interval=0.1)  # close() waits at most one poll

        for target, name in ((serve, "serve"), (self._produce, "produce")):
            t = threading.Thread(target=target, name=f"mos-lab-stream-{name}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the stream first"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The MJPEG stream (OBS media source)."""
        return f"http://127.0.0.1:{self.port}/stream.mjpg"

    @property
    def ws_url(self) -> str:
        """The WebSocket endpoint (JPEG frames, acknowledged)."""
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def page_url(self) -> str:
        """The page for OBS's browser source: shows ``/ws`` and reconnects by itself."""
        return f"http://127.0.0.1:{self.port}/ws.html"

    @property
    def clients(self) -> int:
        return self._clients

    def close(self) -> None:
        """Stop serving: WebSocket clients get "going away" (1001) and retry on their own."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
            ws, conns = list(self._ws), dict(self._conns)
        for c in ws:
            c.close(1001, "server closing")
        if self._server is not None:
            self._server.shutdown()
        for sock in conns:  # wakes handlers blocked on a read or a write
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if self._server is not None:
            self._server.server_close()
        for t in conns.values():
            t.join(timeout=5)
        for t in self._threads:
            t.join(timeout=5)
        self._threads = []

    def __enter__(self) -> MJPEGStream:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- frames ------------------------------------------------------------------------------
    def _publish(self, data: bytes, revision: int, playhead: float) -> None:
        with self._cond:
            seq = self._frame.seq + 1 if self._frame else 1
            self._frame = _Frame(data, revision, playhead, seq, self.view.width,
                                 self.view.height)
            self.frames_rendered += 1
            self._cond.notify_all()

    def _produce(self) -> None:
        period = 1.0 / max(self.fps, 0.1)
        while not self._stop.is_set():
            t0 = time.monotonic()
            frame = self._frame
            if self._clients and frame is not None:
                state = self.theater.scene.snapshot()
                if state.revision != frame.revision:
                    img = self.theater.render(self.view, state)
                    self._publish(encode_jpeg(img, self.quality), state.revision, state.playhead)
            self._stop.wait(max(0.0, period - (time.monotonic() - t0)))

    def wait_frame(self, after: int, timeout: float) -> _Frame | None:
        """The first frame newer than sequence ``after`` (None on timeout or close)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._stop.is_set():
                f = self._frame
                if f is not None and f.seq > after:
                    return f
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)
        return None

    def _client(self, delta: int) -> None:
        with self._cond:
            self._clients += delta
            self.connections += max(delta, 0)

    def _track(self, sock: socket.socket, on: bool) -> bool:
        """Register an open connection and its thread (False once closing: drop it)."""
        with self._cond:
            if on and self._stop.is_set():
                return False
            if on:
                self._conns[sock] = threading.current_thread()
            else:
                self._conns.pop(sock, None)
            return True

    # -- WebSocket ---------------------------------------------------------------------------
    def _serve_ws(self, client: _WSClient) -> None:
        """Send the newest frame whenever the client has room; ping when idle."""
        with self._cond:
            if self._stop.is_set():
                return
            self._ws.add(client)
        reader = threading.Thread(target=client.read_loop, name="mos-lab-stream-ws-read",
                                  daemon=True)
        reader.start()
        self._client(+1)
        seq = 0

        def ready() -> bool:
            f = self._frame
            return (self._stop.is_set() or client.closed or (
                client.pending < self.max_pending and f is not None and f.seq > seq))

        try:
            while True:
                with self._cond:
                    woke = self._cond.wait_for(ready, PING_EVERY)
                    if self._stop.is_set() or client.closed:
                        break
                    f = self._frame if woke else None
                    if f is not None:
                        client.pending += 1
                        seq = f.seq
                if f is None:
                    client.send(PING)
                    continue
                meta = {"seq": f.seq, "revision": f.revision, "playhead": round(f.playhead, 6),
                        "width": f.width, "height": f.height}
                client.send(TEXT, json.dumps(meta).encode())
                client.send(BINARY, f.data)
        except OSError:
            pass  # the client went away (or close() shut the socket)
        finally:
            client.close(1001 if self._stop.is_set() else 1000)
            with contextlib.suppress(OSError):  # ends the reader's blocking read
                client.sock.shutdown(socket.SHUT_RDWR)
            reader.join(timeout=5)
            with self._cond:
                self._ws.discard(client)
            self._client(-1)


class _Handler(BaseHTTPRequestHandler):
    owner: Any = None
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: no stderr per request
        pass

    def setup(self) -> None:
        super().setup()
        if not self.owner._track(self.connection, True):
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)

    def finish(self) -> None:
        self.owner._track(self.connection, False)
        with contextlib.suppress(OSError):
            super().finish()

    def do_GET(self) -> None:
        s: MJPEGStream = self.owner
        path = self.path.split("?")[0]
        if path in ("/", "/index.html"):
            self._reply(200, "text/html", _PAGE)
        elif path == "/ws.html":
            self._reply(200, "text/html; charset=utf-8", _WS_PAGE)
        elif path == "/frame.jpg":
            f = s.wait_frame(0, 5.0)
            self._reply(200 if f else 503, "image/jpeg", f.data if f else b"")
        elif path == "/stream.mjpg":
            self._stream(s)
        elif path == "/ws":
            self._websocket(s)
        elif path == "/favicon.ico":  # browsers ask; an empty answer keeps consoles clean
            self._reply(204, "image/x-icon", b"")
        else:
            self._reply(404, "text/plain", b"not found")

    def _reply(self, code: int, ctype: str, body: bytes,
               headers: tuple[tuple[str, str], ...] = ()) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _websocket(self, s: MJPEGStream) -> None:
        """RFC 6455 handshake (4.2), then frames until either side closes."""
        h = self.headers
        tokens = {t.strip().lower() for t in h.get("Connection", "").split(",")}
        key = h.get("Sec-WebSocket-Key", "").strip()
        try:
            key_ok = len(base64.b64decode(key, validate=True)) == 16
        except (binascii.Error, ValueError):
            key_ok = False
        origin = h.get("Origin")
        self.close_connection = True
        if h.get("Upgrade", "").strip().lower() != "websocket" or "upgrade" not in tokens:
            self._reply(400, "text/plain", b"expected a WebSocket upgrade")
        elif h.get("Sec-WebSocket-Version", "").strip() != "13":
            self._reply(426, "text/plain", b"WebSocket version 13 only",
                        (("Sec-WebSocket-Version", "13"),))
        elif not key_ok:
            self._reply(400, "text/plain", b"bad Sec-WebSocket-Key")
        elif origin is not None and urlsplit(origin).hostname not in LOOPBACK:
            self._reply(403, "text/plain", b"origin not allowed")  # another site's page
        else:
            self._upgrade(s, key)

    def _upgrade(self, s: MJPEGStream, key: str) -> None:
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept_key(key))
        self.end_headers()
        self.wfile.flush()
        s._serve_ws(_WSClient(s, self.connection, self.rfile))

    def _stream(self, s: MJPEGStream) -> None:
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        s._client(+1)
        seq = 0
        try:
            while not s._stop.is_set():
                # no new frame for a while: repeat the last one, which keeps OBS's source
                # alive and shows a vanished client at the next write
                f = s.wait_frame(seq, KEEPALIVE) or s.wait_frame(0, 0.0)
                if f is None:
                    continue
                seq = f.seq
                head = (f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                        f"Content-Length: {len(f.data)}\r\nX-Scene-Revision: {f.revision}\r\n"
                        f"X-Playhead: {f.playhead:.6f}\r\n\r\n").encode()
                self.wfile.write(head + f.data + b"\r\n")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, OSError):
            pass  # the client went away; it may come back with a new request
        finally:
            s._client(-1)
