"""The room server: pycrdt-websocket rooms served over real websockets by tornado.

Each shared session is a room with two pycrdt documents (``/share/<room>/control`` and
``/share/<room>/content``, see :mod:`mos_lab.share.doc`); pycrdt-websocket's
``WebsocketServer`` keeps the server's copy and relays updates, as under
jupyter-collaboration. Around it this server adds what a class needs:

- a room token (:mod:`mos_lab.share.tokens`) decides who joins, as owner or member
  (403 with the reason otherwise);
- only the owner, or a user the owner put in ``grants``, changes the control document
  (the transport); anyone else's control updates are dropped and counted;
- admission control for connection storms: at most ``max_peers`` users (each with its two
  document links), ``joins_per_second`` new links (a burst of ``join_burst``) and
  ``max_handshakes`` joins in progress at once (a safeguard set high: measured with 1000
  peers on 2 loaded cores, a limit of 128 made the storm 3x slower, as every refusal costs
  both sides CPU, while the peers, not the server, were the bottleneck);
  excess attempts get HTTP 503 with a Retry-After, so clients back off, not hammer;
- a malformed message closes only its sender's connection (1007), the room goes on;
- each connection's unsent messages are bounded (``outbox_limit``): a peer that does not
  read is disconnected rather than slowing the others or growing memory;
- presence (pycrdt awareness on the content link: selections, cursors) is relayed by the
  room as in jupyter-collaboration, never stored; the server checks that a peer speaks
  only for its own user (else 1007), gives a joiner the present peers' states at once,
  and removes a peer's presence from everyone when its link closes (left or dropped).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from mos_lab.share.tokens import Grant, TokenError, issue, verify

log = logging.getLogger(__name__)
PARTS = ("control", "content")


def _need() -> tuple[Any, Any, Any]:
    """(tornado.web, tornado.websocket, pycrdt.websocket), or ImportError naming the extra."""
    try:
        import tornado.web
        import tornado.websocket
        from pycrdt import websocket
    except ImportError:
        raise ImportError("shared sessions need pycrdt-websocket and tornado: "
                          "pip install 'mos_lab[share]'") from None
    return tornado.web, tornado.websocket, websocket


@dataclass
class Stats:
    """What the server has seen since it started (counters only grow)."""

    joined: int = 0
    refused_full: int = 0
    refused_rate: int = 0
    refused_busy: int = 0
    refused_token: int = 0
    refused_writes: int = 0
    malformed: int = 0
    evicted: int = 0
    messages_in: int = 0
    bytes_in: int = 0
    messages_out: int = 0
    bytes_out: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)


class _Channel:
    """One websocket as a pycrdt Channel: messages the handler received, sends it makes."""

    def __init__(self, handler: Any, path: str, limit: int) -> None:
        self.handler = handler
        self._path = path
        self._limit = limit
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._pending = 0
        self.closed = False

    @property
    def path(self) -> str:
        return self._path

    def __aiter__(self) -> _Channel:
        return self

    async def __anext__(self) -> bytes:
        message = await self._queue.get()
        if message is None:
            raise StopAsyncIteration
        return message

    async def recv(self) -> bytes:
        """The next message from the peer (StopAsyncIteration once it has gone)."""
        return await self.__anext__()

    def feed(self, message: bytes | None) -> None:
        self._queue.put_nowait(message)

    async def send(self, message: bytes) -> None:
        """Send to the peer; never raises (a room's broadcast must not fail for one peer)."""
        if self.closed:
            return
        if self._pending >= self._limit:
            self.handler.evict()
            return
        self._pending += 1
        try:
            await self.handler.write_message(message, binary=True)
            self.handler.server.stats.messages_out += 1
            self.handler.server.stats.bytes_out += len(message)
        except Exception:  # closed under us: the peer's own close handles the rest
            self.closed = True
        finally:
            self._pending -= 1


class RoomServer:
    """Shared-session rooms on a websocket server (localhost by default, port 0: any)."""

    def __init__(self, secret: bytes | None = None, *, host: str = "127.0.0.1",
                 port: int = 0, max_peers: int = 1200,
                 joins_per_second: float = 500.0, join_burst: int = 250,
                 max_handshakes: int = 1024,
                 outbox_limit: int = 1024, backlog: int = 4096) -> None:
        if max_peers < 1 or joins_per_second <= 0 or join_burst < 1:
            raise ValueError(f"max_peers ({max_peers}), joins_per_second "
                             f"({joins_per_second}) and join_burst ({join_burst}) must be "
                             "positive")
        self.secret = secret or secrets.token_bytes(32)
        self.host, self.port, self.backlog = host, port, backlog
        self.max_peers = max_peers
        self.max_handshakes = max_handshakes
        self.handshakes = 0  # links admitted whose peer has not yet sent its first message
        self._links: dict[tuple[str, str], int] = {}
        self.rate, self.burst = joins_per_second, join_burst
        self.outbox_limit = outbox_limit
        self.stats = Stats()
        self.connections = 0
        self._tokens = float(join_burst)
        self._last = time.monotonic()
        self._http: Any = None
        self._ws: Any = None
        self._task: asyncio.Task[Any] | None = None
        # (room, awareness client id) -> the content link that announced it last: a link
        # that closes removes only the presence it still speaks for (not a reconnect's)
        self._aware: dict[tuple[str, int], Any] = {}
        self._sends: set[asyncio.Future[Any]] = set()  # presence removals being sent

    # -- tokens and admission -------------------------------------------------------
    def token(self, room: str, user: str, role: str = "member", ttl_s: float = 12 * 3600
              ) -> str:
        """A token for ``user`` in ``room`` as ``role`` ("owner" or "member")."""
        return issue(self.secret, room, user, role, ttl_s)

    def admit(self, grant: Grant) -> tuple[str, float] | None:
        """Reserve a link for ``grant``'s user, or (reason, retry-after seconds) when the
        server has ``max_peers`` users already or joins come too fast. A user's further
        links (its second document, a reconnect) do not count against the peer limit."""
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        key = (grant.room, grant.user)
        links = self._links.get(key, 0)
        if links >= 2 * len(PARTS):
            self.stats.refused_full += 1
            return f"{grant.user} already has {links} links to {grant.room}", 1.0
        if links == 0 and len(self._links) >= self.max_peers:
            self.stats.refused_full += 1
            return f"room server full: {self.max_peers} peers", 5.0
        if self._tokens < 1:
            self.stats.refused_rate += 1
            return "too many joins at once", (1 - self._tokens) / self.rate
        if self.handshakes >= self.max_handshakes:  # a loaded server admits at its own pace
            self.stats.refused_busy += 1
            return "busy with other joins", 0.5  # about one round of handshakes
        self.handshakes += 1
        self._tokens -= 1
        self._links[key] = links + 1
        self.connections += 1
        return None

    def release(self, grant: Grant) -> None:
        """Give back a link that :meth:`admit` reserved."""
        key = (grant.room, grant.user)
        left = self._links.get(key, 1) - 1
        if left > 0:
            self._links[key] = left
        else:
            self._links.pop(key, None)
        self.connections -= 1

    @property
    def peers(self) -> int:
        """Users with at least one open (or opening) link."""
        return len(self._links)

    # -- rooms ----------------------------------------------------------------------
    def doc(self, room: str, part: str) -> Any:
        """The server's copy of a room's document (None before anyone joined it)."""
        r = self._ws.rooms.get(f"{room}/{part}") if self._ws is not None else None
        return r.ydoc if r is not None else None

    def may_move_transport(self, grant: Grant) -> bool:
        """Whether ``grant``'s user may change the control document: the owner, or granted."""
        if grant.owner:
            return True
        control = self.doc(grant.room, "control")
        if control is None:
            return False
        from pycrdt import Map

        return bool(control.get("grants", type=Map).get(grant.user, False))

    def _grants_kept(self, grant: Grant, update: bytes) -> bool:
        """Whether a grantee's control update leaves ``grants`` as it is (only the owner
        grants): checked on a scratch copy of the small control document."""
        from pycrdt import Doc, Map

        control = self.doc(grant.room, "control")
        scratch: Any = Doc()
        scratch.apply_update(control.get_update())
        before = dict(scratch.get("grants", type=Map))
        scratch.apply_update(update)
        return dict(scratch.get("grants", type=Map)) == before

    def presence_ids(self, grant: Grant, message: bytes) -> dict[int, bool]:
        """The awareness client ids a presence message from ``grant``'s user speaks for
        (id -> whether it is present, not leaving); ValueError if it is malformed or speaks
        for another user."""
        import json

        from pycrdt import Decoder, read_message

        if len(message) > 64 * 1024:
            raise ValueError(f"presence of {len(message)} bytes (at most 65536)")
        dec = Decoder(read_message(message[1:]))
        out: dict[int, bool] = {}
        for _ in range(dec.read_var_uint()):
            cid = dec.read_var_uint()
            dec.read_var_uint()  # clock
            text = dec.read_var_string()
            state = json.loads(text) if text else None
            if state is not None and (not isinstance(state, dict)
                                      or state.get("user") != grant.user):
                who = state.get("user") if isinstance(state, dict) else state
                raise ValueError(f"presence for {who!r} from {grant.user}")
            out[cid] = state is not None
        return out

    def _presence_snapshot(self, room: str) -> bytes | None:
        """One awareness message with every present peer's state in ``room`` (or None)."""
        r = self._ws.rooms.get(f"{room}/content") if self._ws is not None else None
        if r is None:
            return None
        ids = [c for c, st in list(r.awareness.states.items())
               if isinstance(st, dict) and "user" in st]
        if not ids:
            return None
        from pycrdt import create_awareness_message

        return bytes(create_awareness_message(r.awareness.encode_awareness_update(ids)))

    def _presence_gone(self, room: str, link: Any, ids: set[int]) -> None:
        """A content link closed: remove the presence it still speaks for from the room's
        awareness, which tells the remaining peers (their states go at once)."""
        mine = [c for c in ids if self._aware.get((room, c)) is link]
        for c in mine:
            del self._aware[(room, c)]
        r = self._ws.rooms.get(f"{room}/content") if self._ws is not None else None
        if not mine or r is None:
            return
        from pycrdt import create_awareness_message

        r.awareness.remove_awareness_states(mine, "server")
        # their states are null now, at the clock the peers know: they drop them
        gone = bytes(create_awareness_message(r.awareness.encode_awareness_update(mine)))
        for ch in list(r.clients):
            if ch is not link.channel:
                self._sends.add(task := asyncio.ensure_future(ch.send(gone)))
                task.add_done_callback(self._sends.discard)

    def _bad_message(self, exc: Exception, message: bytes, channel: Any) -> bool:
        """A message the room could not apply: close its sender, keep the room going."""
        self.stats.malformed += 1
        channel.handler.refuse(1007, f"malformed update: {type(exc).__name__}: {exc}"[:120])
        return True

    # -- life -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """ws://host:port of the running server."""
        return f"ws://{self.host}:{self.port}"

    async def start(self) -> RoomServer:
        """Listen and start the rooms; returns self (``url`` is then known)."""
        web, _websocket, pws = _need()
        import tornado.httpserver
        import tornado.netutil

        server = self

        class Rooms(pws.WebsocketServer):  # type: ignore[name-defined]
            async def get_room(self, name: str) -> Any:
                room = await super().get_room(name)
                room.on_message_error = server._bad_message
                return room

        self._ws = Rooms(rooms_ready=True, auto_clean_rooms=False, log=log)
        self._task = asyncio.ensure_future(self._ws.start())
        await self._ws.started.wait()
        app = web.Application([
            (r"/share/time", _time_handler()),
            (r"/share/([A-Za-z0-9_.-]{1,100})/(control|content)", _handler_class(),
             {"server": self}),
        ], websocket_max_message_size=64 * 1024 * 1024, log_function=_log_request)
        sockets = tornado.netutil.bind_sockets(self.port, self.host, backlog=self.backlog)
        self.port = sockets[0].getsockname()[1]
        self._http = tornado.httpserver.HTTPServer(app)
        self._http.add_sockets(sockets)
        return self

    async def stop(self) -> None:
        """Stop listening, close every connection and the rooms."""
        if self._http is not None:
            self._http.stop()
            await self._http.close_all_connections()
            self._http = None
        if self._ws is not None and self._ws.running:
            await self._ws.stop()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def __aenter__(self) -> RoomServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def _log_request(handler: Any) -> None:
    """Tornado's access log, with refusals (403, 503 in a storm) at debug level only."""
    status = handler.get_status()
    level = logging.DEBUG if status in (101, 200, 403, 503) else logging.WARNING
    log.log(level, "%d %s %.1f ms", status, handler.request.uri.split("?")[0],
            1000 * handler.request.request_time())


def _handler_class() -> Any:
    """The websocket handler class (made on first use: tornado is imported lazily)."""
    global _Handler
    if _Handler is not None:
        return _Handler
    from pycrdt import read_message
    from tornado.websocket import WebSocketHandler

    class Handler(WebSocketHandler):
        """One peer's connection to one document of one room."""

        server: RoomServer
        grant: Grant | None = None
        channel: _Channel | None = None
        counted = False
        handshaking = False
        aware_ids: set[int]

        def initialize(self, server: RoomServer) -> None:
            self.server = server

        def check_origin(self, origin: str) -> bool:
            return True  # the room token, not the page's origin, decides who joins

        async def get(self, room: str, part: str) -> None:
            s = self.server
            try:
                self.grant = verify(s.secret, self.get_argument("token", ""), room)
            except TokenError as exc:
                s.stats.refused_token += 1
                self.set_status(403)
                self.finish(str(exc))
                return
            refused = s.admit(self.grant)
            if refused is not None:
                reason, wait = refused
                self.set_status(503)
                self.set_header("Retry-After", f"{wait:.3f}")
                self.finish(reason)
                return
            self.counted = self.handshaking = True
            await super().get(room, part)

        def open(self, room: str, part: str) -> None:
            s = self.server
            s.stats.joined += 1
            self.part = part
            self.room = room
            self.aware_ids = set()
            self.channel = _Channel(self, f"{room}/{part}", s.outbox_limit)
            self.serving = asyncio.ensure_future(s._ws.serve(self.channel))
            if part == "content":  # who is here now: at once, not at their next renewal
                present = s._presence_snapshot(room)
                if present is not None:
                    self.greeting = asyncio.ensure_future(self.channel.send(present))

        def on_message(self, message: str | bytes) -> None:
            s, ch, grant = self.server, self.channel, self.grant
            if ch is None or grant is None or ch.closed:
                return
            if isinstance(message, str):
                self.refuse(1003, "binary y-protocol messages only")
                return
            s.stats.messages_in += 1
            if self.handshaking:  # the first message: this join is done
                self.handshaking = False
                s.handshakes -= 1
            s.stats.bytes_in += len(message)
            if len(message) < 2 or message[0] not in (0, 1):
                s.stats.malformed += 1
                self.refuse(1007, f"malformed message (type byte {message[:1]!r})")
                return
            if message[0] == 1:  # presence: only on the content link, only one's own
                if self.part != "content":
                    return
                try:
                    ids = s.presence_ids(grant, message)
                except Exception as exc:
                    s.stats.malformed += 1
                    self.refuse(1007, f"malformed presence: {type(exc).__name__}: {exc}"[:120])
                    return
                for cid, present in ids.items():
                    if present:
                        self.aware_ids.add(cid)
                        s._aware[(self.room, cid)] = self
                    else:
                        self.aware_ids.discard(cid)
                        if s._aware.get((self.room, cid)) is self:
                            del s._aware[(self.room, cid)]
            if self.part == "control" and message[0] == 0 and message[1] in (1, 2):
                try:
                    update = read_message(message[2:])
                except Exception as exc:
                    s._bad_message(exc, message, ch)
                    return
                if update != b"\x00\x00" and not self._may_write(update):
                    s.stats.refused_writes += 1
                    return
            ch.feed(message)

        def _may_write(self, update: bytes) -> bool:
            grant = self.grant
            assert grant is not None
            if grant.owner:
                return True
            if not self.server.may_move_transport(grant):
                return False
            try:
                return self.server._grants_kept(grant, update)
            except Exception:
                return False

        def refuse(self, code: int, reason: str) -> None:
            """Close this peer's connection with a reason; the room goes on."""
            self.server.stats.by_reason[reason.split(":")[0]] = (
                self.server.stats.by_reason.get(reason.split(":")[0], 0) + 1)
            if self.channel is not None:
                self.channel.closed = True
            self.close(code, reason)

        def evict(self) -> None:
            self.server.stats.evicted += 1
            self.refuse(1008, "too slow: outbox full")

        def on_close(self) -> None:
            self._release()

        def on_connection_close(self) -> None:
            super().on_connection_close()
            self._release()

        def _release(self) -> None:
            if self.channel is not None:
                self.channel.closed = True
                self.channel.feed(None)
            if getattr(self, "aware_ids", None):
                ids, self.aware_ids = self.aware_ids, set()
                self.server._presence_gone(self.room, self, ids)
            if self.handshaking:
                self.handshaking = False
                self.server.handshakes -= 1
            if self.counted and self.grant is not None:
                self.counted = False
                self.server.release(self.grant)

    _Handler = Handler
    return Handler


_Handler: Any = None


def _time_handler() -> Any:
    import tornado.web

    class TimeHandler(tornado.web.RequestHandler):
        """GET /share/time: the server's clock, so peers can estimate their offset."""

        def get(self) -> None:
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"time": time.time()}))

    return TimeHandler
