"""A local MJPEG stream of the theater for streaming software (OBS media/browser source).

``http://127.0.0.1:PORT/stream.mjpg`` serves multipart JPEG frames; ``/frame.jpg`` one
frame; ``/`` a page showing the stream. One producer thread renders (only while
clients watch, only when the scene changed); every client waits on the latest frame, so
a slow client drops frames instead of queueing them. A client that goes away is simply
forgotten and may reconnect at any time (THR-07). Set-up (bind, first frame) is done
from one snapshot; scene changes made meanwhile show in the next frame, whole (THR-08).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from mos_lab.theater.encode import encode_jpeg
from mos_lab.theater.scene import View
from mos_lab.theater.stage import Theater

BOUNDARY = "mos-lab-frame"
KEEPALIVE = 0.5  # seconds without a new frame before the last one is sent again
_PAGE = (b"<!doctype html><title>mos_lab theater</title><body style='margin:0;background:#000'>"
         b"<img src='stream.mjpg' style='width:100vw;height:100vh;object-fit:contain'>")


class _Frame:
    __slots__ = ("data", "playhead", "revision", "seq")

    def __init__(self, data: bytes, revision: int, playhead: float, seq: int) -> None:
        self.data, self.revision, self.playhead, self.seq = data, revision, playhead, seq


class MJPEGStream:
    """Serve a theater view as MJPEG on 127.0.0.1.

    Examples
    --------
    >>> stream = MJPEGStream(theater, View(1280, 720), fps=30).start()  # doctest: +SKIP
    >>> stream.url  # doctest: +SKIP
    'http://127.0.0.1:49231/stream.mjpg'
    """

    def __init__(self, theater: Theater, view: View, *, host: str = "127.0.0.1", port: int = 0,
                 fps: float = 30.0, quality: int = 80,
                 on_setup: Callable[[], None] | None = None) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"host: {host!r}; the stream only listens on this machine")
        self.theater, self.view, self.fps, self.quality = theater, view, fps, quality
        self._addr = (host, port)
        self._on_setup = on_setup  # runs inside set-up (tests slow set-up down with it)
        self._cond = threading.Condition()
        self._frame: _Frame | None = None
        self._clients = 0
        self._stop = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self.connections = 0  # clients served so far (reconnects count again)
        self.frames_rendered = 0

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> MJPEGStream:
        """Bind, render the first frame from one snapshot, then serve."""
        stream = self

        class Handler(_Handler):
            owner = stream

        server = ThreadingHTTPServer(self._addr, Handler)
        server.daemon_threads = True
        self._server = server
        state = self.theater.scene.snapshot()  # the whole set-up uses this one state
        if self._on_setup is not None:
            self._on_setup()
        img = self.theater.render(self.view, state)
        self._publish(encode_jpeg(img, self.quality), state.revision, state.playhead)
        for target, name in ((server.serve_forever, "serve"), (self._produce, "produce")):
            t = threading.Thread(target=target, name=f"mos-lab-mjpeg-{name}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the stream first"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/stream.mjpg"

    @property
    def clients(self) -> int:
        return self._clients

    def close(self) -> None:
        """Stop serving; clients see the stream end (and OBS retries on its own)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
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
            self._frame = _Frame(data, revision, playhead, seq)
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


class _Handler(BaseHTTPRequestHandler):
    owner: Any = None
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: no stderr per request
        pass

    def do_GET(self) -> None:
        s: MJPEGStream = self.owner
        path = self.path.split("?")[0]
        if path in ("/", "/index.html"):
            self._reply(200, "text/html", _PAGE)
        elif path == "/frame.jpg":
            f = s.wait_frame(0, 5.0)
            self._reply(200 if f else 503, "image/jpeg", f.data if f else b"")
        elif path == "/stream.mjpg":
            self._stream(s)
        else:
            self._reply(404, "text/plain", b"not found")

    def _reply(self, code: int, ctype: str, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

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
