"""A peer of a shared session: the room's two pycrdt documents kept in sync over websockets.

``SharedSession(url, room, token)`` connects to a :class:`~mos_lab.share.server.RoomServer`
and keeps ``control`` and ``content`` (see :mod:`mos_lab.share.doc`) in sync with the
y-websocket protocol (state vectors, so a late joiner or a peer back from a dropped link
gets exactly what it lacks, and what it changed while away goes up). A lost link is
retried with exponential back-off and jitter; a 503 refusal's Retry-After is honoured, so
a storm of peers spreads itself out; a refused token stops with that reason.

Presence (a peer's selected passage, its cursor) is not stored in the documents: it is
pycrdt awareness, as in jupyter-collaboration, sent on the content link. It is ephemeral:
a late joiner gets the peers' current presence from the server, a peer's presence is
renewed while it stays and goes from everyone when it leaves or its link drops (the
server removes it), and it comes back with the peer. A peer that never selects or places
a cursor sends no presence at all, so a class of idle peers costs no presence traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import Callable
from typing import Any

from mos_lab.share import doc as sdoc
from mos_lab.share.doc import Transport


class ShareError(RuntimeError):
    """A session that cannot go on: a refused token, or no sync within the timeout."""


def _field(token: str, i: int) -> str:
    """Field ``i`` of a token (1: user, 2: role), unverified (the server checks the token),
    or "" if unreadable."""
    from mos_lab.share.tokens import _unb64

    parts = token.split(".")
    try:
        return _unb64(parts[i]) if len(parts) == 5 else ""
    except (ValueError, UnicodeDecodeError):
        return ""


class SharedSession:
    """One peer's view of a room: read and change it; changes reach every other peer."""

    def __init__(self, url: str, room: str, token: str, *, user: str = "",
                 owner: bool | None = None, backoff: tuple[float, float] = (0.05, 5.0),
                 sync_clock: bool = True) -> None:
        self.url, self.room, self.token = url.rstrip("/"), room, token
        self.user = user or _field(token, 1)
        self.owner = _field(token, 2) == "owner" if owner is None else owner
        self.backoff = backoff
        self.sync_clock = sync_clock
        self.control = sdoc.control_doc()
        self.content = sdoc.content_doc()
        self.offset = 0.0  # server clock - our clock, seconds
        self.error: str | None = None
        self.connects = 0
        self.refusals = 0
        self.failures: dict[str, int] = {}  # failed link attempts other than refusals, by type
        self.messages_in = self.bytes_in = self.messages_out = self.bytes_out = 0
        self._synced = {p: asyncio.Event() for p in ("control", "content")}
        self._links: dict[str, Any] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self._watchers: list[Callable[[Transport], None]] = []
        self._presence_watchers: list[Callable[[dict[str, dict[str, Any]]], None]] = []
        self.presence_in = 0  # awareness messages received (also counted in messages_in)
        from pycrdt import Awareness, Map

        self._tsub = self.control.get("transport", type=Map).observe(self._transport_changed)
        # Presence: nothing is announced until this peer selects or places a cursor.
        self.awareness = Awareness(self.content)
        self.awareness.set_local_state(None)
        self.awareness.observe(self._presence_changed)
        self._aware_task: asyncio.Task[None] | None = None
        self._sent: list[Any] = []  # presence writes not yet known to be done

    # -- connection ---------------------------------------------------------------------
    async def connect(self, timeout: float = 30.0) -> SharedSession:
        """Join the room and wait until both documents are in sync (ShareError if not)."""
        if self.sync_clock:
            await self._clock()
        if self._aware_task is None:  # renews our presence, times out silent peers' (30 s)
            self._aware_task = asyncio.ensure_future(self.awareness.start())
        for part, d in (("control", self.control), ("content", self.content)):
            self._tasks.append(asyncio.ensure_future(self._keep(part, d)))
        try:
            await asyncio.wait_for(self.synced(), timeout)
        except TimeoutError:
            await self.close()
            raise ShareError(self.error or f"{self.room}: not in sync after {timeout:g} s"
                             ) from None
        if self.error:
            await self.close()
            raise ShareError(self.error)
        return self

    async def synced(self) -> None:
        """Return once both documents have had their first sync (or the token was refused)."""
        for e in self._synced.values():
            await e.wait()

    async def close(self) -> None:
        """Leave the room (no reconnect); our presence goes from the other peers."""
        if self.awareness.get_local_state() is not None and "content" in self._links:
            self.awareness.set_local_state(None)  # says goodbye (the server would anyway)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.gather(*self._sent), 1.0)
        self._closing = True
        for ws in list(self._links.values()):
            ws.close()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._aware_task is not None:
            with contextlib.suppress(RuntimeError):  # not started yet
                await self.awareness.stop()
            self._aware_task.cancel()
            await asyncio.gather(self._aware_task, return_exceptions=True)
            self._aware_task = None

    def drop(self) -> None:
        """Cut the links as a network failure would; they come back by themselves."""
        for ws in list(self._links.values()):
            ws.close()

    @property
    def connected(self) -> bool:
        return len(self._links) == 2

    async def _clock(self, samples: int = 3) -> None:
        """Estimate the server's clock offset from the fastest of a few round trips."""
        from tornado.httpclient import AsyncHTTPClient

        http = AsyncHTTPClient()
        best = None
        base = "http" + self.url[2:] if self.url.startswith("ws") else self.url
        for _ in range(samples):
            t0 = time.time()
            try:
                r = await http.fetch(f"{base}/share/time", request_timeout=5)
            except Exception:
                return  # no clock: offset 0, the transport still works on one machine
            t1 = time.time()
            if best is None or t1 - t0 < best[0]:
                best = (t1 - t0, json.loads(r.body)["time"] - (t0 + t1) / 2)
        if best is not None:
            self.offset = best[1]

    def server_time(self) -> float:
        """Now on the server's clock (our clock plus the estimated offset)."""
        return time.time() + self.offset

    async def _keep(self, part: str, d: Any) -> None:
        """Keep one document linked: connect, sync, and after a loss, back off and retry."""
        from tornado.httpclient import HTTPClientError, HTTPRequest
        from tornado.websocket import websocket_connect

        attempt = 0
        url = f"{self.url}/share/{self.room}/{part}?token={self.token}"
        while not self._closing:
            wait = None
            try:
                ws = await websocket_connect(HTTPRequest(url, connect_timeout=10,
                                                         request_timeout=10),
                                             max_message_size=64 * 1024 * 1024)
            except HTTPClientError as exc:
                if exc.code == 403:
                    body = exc.response.body.decode() if exc.response is not None else ""
                    self.error = f"{self.room}: refused: {body or exc}"
                    for e in self._synced.values():
                        e.set()
                    return
                self.refusals += 1
                if exc.code == 503 and exc.response is not None:
                    wait = float(exc.response.headers.get("Retry-After", "0") or 0)
            except Exception as exc:  # no answer, reset, handshake cut: back off and retry
                self.failures[type(exc).__name__] = self.failures.get(type(exc).__name__, 0) + 1
            else:
                attempt = 0
                self.connects += 1
                self._links[part] = ws
                try:
                    await self._sync(part, d, ws)
                finally:
                    self._links.pop(part, None)
                    ws.close()
                if self._closing:
                    return
            attempt += 1
            lo, hi = self.backoff
            delay = min(hi, lo * 2 ** min(attempt, 16))
            delay = max(delay, wait or 0.0) * random.uniform(0.5, 1.5)  # jitter spreads storms
            await asyncio.sleep(delay)

    async def _sync(self, part: str, d: Any, ws: Any) -> None:
        """The y-sync protocol on one open link until it closes."""
        from pycrdt import (
            YMessageType,
            YSyncMessageType,
            create_sync_message,
            create_update_message,
            handle_sync_message,
            merge_updates,
            read_message,
        )

        outbox: asyncio.Queue[bytes] = asyncio.Queue()
        applying = False

        def local(event: Any) -> None:
            if not applying:  # what came from the server is not sent back
                outbox.put_nowait(event.update)

        async def send(message: bytes) -> None:
            self.messages_out += 1
            self.bytes_out += len(message)
            await ws.write_message(message, binary=True)

        async def sender() -> None:
            while True:
                updates = [await outbox.get()]
                while not outbox.empty():
                    updates.append(outbox.get_nowait())
                u = updates[0] if len(updates) == 1 else merge_updates(*updates)
                await send(create_update_message(u))

        sub = d.observe(local)
        task = asyncio.ensure_future(sender())
        try:
            await send(create_sync_message(d))
            state = self.awareness.get_local_state()
            if part == "content" and state is not None:  # back on a new link: announced
                self.awareness.set_local_state(state)  # anew (a new clock: the server
                # removed us when the old link closed, and peers ignore an old clock)
            while True:
                message = await ws.read_message()
                if message is None:
                    return
                if isinstance(message, str) or not message:
                    continue
                self.messages_in += 1
                self.bytes_in += len(message)
                if message[0] == YMessageType.AWARENESS and part == "content":
                    self.presence_in += 1
                    self.awareness.apply_awareness_update(read_message(message[1:]), "remote")
                    continue
                if message[0] != YMessageType.SYNC:
                    continue
                applying = True
                try:
                    reply = handle_sync_message(message[1:], d)
                finally:
                    applying = False
                if message[1] == YSyncMessageType.SYNC_STEP2:
                    self._synced[part].set()
                if reply is not None:
                    await send(reply)
        except Exception:  # a closed link: _keep reconnects
            return
        finally:
            d.unobserve(sub)
            task.cancel()

    # -- transport ----------------------------------------------------------------------
    @property
    def transport(self) -> Transport:
        """The shared transport as the control document holds it now."""
        return sdoc.read_transport(self.control)

    def position(self) -> float:
        """The shared position (seconds) now, on the server's clock."""
        return self.transport.position_at(self.server_time())

    @property
    def may_move_transport(self) -> bool:
        """Whether this peer may change the transport: the owner, or granted by them."""
        from pycrdt import Map

        return self.owner or bool(self.control.get("grants", type=Map).get(self.user))

    def _move(self, **change: Any) -> Transport:
        if not self.may_move_transport:
            raise PermissionError(f"{self.user}: only the room's owner, or whom they "
                                  "grant, moves the shared transport")
        t = self.transport
        fields = {**t.as_dict(), **change, "seq": t.seq + 1, "by": self.user}
        new = Transport(**fields)
        sdoc.write_transport(self.control, new)
        return new

    def play(self, lead: float = 0.25) -> Transport:
        """Start everyone ``lead`` seconds from now (server time) from the shared position,
        so each peer's engine starts at the same moment whatever its link's delay."""
        return self._move(state="playing", position=self.position(),
                          at=self.server_time() + lead)

    def pause(self) -> Transport:
        """Stop everyone at the shared position of now."""
        return self._move(state="stopped", position=self.position(), at=self.server_time())

    def seek(self, seconds: float) -> Transport:
        """Move everyone to ``seconds`` (keeps playing if playing, after a short lead)."""
        if seconds < 0:
            raise ValueError(f"seek: {seconds} s is before the start")
        t = self.transport
        return self._move(position=float(seconds), at=self.server_time() + (
            0.25 if t.state == "playing" else 0.0))

    def grant(self, user: str, allow: bool = True) -> None:
        """Let ``user`` move the transport too (owner only; ``allow=False`` takes it back)."""
        if not self.owner:
            raise PermissionError(f"{self.user}: only the room's owner grants")
        from pycrdt import Map

        grants = self.control.get("grants", type=Map)
        if allow:
            grants[user] = True
        elif user in grants:
            del grants[user]

    def on_transport(self, callback: Callable[[Transport], None]) -> None:
        """Call ``callback(transport)`` whenever the shared transport changes."""
        self._watchers.append(callback)

    def _transport_changed(self, _event: Any) -> None:
        """Tell the watchers once the change's transaction is over (they may read or write)."""
        try:
            asyncio.get_running_loop().call_soon(self._notify)
        except RuntimeError:  # no loop (a change made outside asyncio): tell them now
            self._notify()

    def _notify(self) -> None:
        t = self.transport
        for cb in list(self._watchers):
            cb(t)

    # -- content ------------------------------------------------------------------------
    def set_note(self, note_id: str, onset: int, duration: int, pitch: int,
                 velocity: int = 80) -> None:
        """Add or change one note of the shared score (ticks; MIDI pitch and velocity)."""
        from pycrdt import Map

        self.content.get("notes", type=Map)[note_id] = sdoc.note_text(
            onset, duration, pitch, velocity)

    def delete_note(self, note_id: str) -> None:
        from pycrdt import Map

        notes = self.content.get("notes", type=Map)
        if note_id not in notes:
            raise KeyError(f"notes: no note {note_id!r}")
        del notes[note_id]

    def load_score(self, score: Any) -> int:
        """Share a mos_lab Score's notes and timing; returns the note count."""
        return sdoc.load_score(self.content, score)

    def label(self, tick: int, text: str) -> None:
        """An analysis label (e.g. a Roman numeral) at ``tick``."""
        from pycrdt import Map

        self.content.get("labels", type=Map)[str(int(tick))] = text

    def annotate(self, tick: int, text: str) -> None:
        """Add an annotation at ``tick``, signed with this peer's user."""
        from pycrdt import Array

        self.content.get("annotations", type=Array).append(
            {"by": self.user, "tick": int(tick), "text": text})

    def select(self, start: int, end: int) -> None:
        """This peer's selected passage (ticks), shown live to the others (presence: not
        stored in the document, gone when this peer leaves)."""
        if end < start:
            raise ValueError(f"select: end {end} is before start {start}")
        self._present(selection=[int(start), int(end)])

    def cursor(self, tick: int | None) -> None:
        """This peer's cursor (a tick, or None to hide it), shown live to the others."""
        self._present(cursor=None if tick is None else int(tick))

    def presence(self) -> dict[str, dict[str, Any]]:
        """Each present peer's presence, this one's included: user -> {selection, cursor}."""
        out: dict[str, dict[str, Any]] = {}
        for state in list(self.awareness.states.values()):
            if isinstance(state, dict) and isinstance(state.get("user"), str):
                out[state["user"]] = {k: v for k, v in state.items() if k != "user"}
        return out

    def on_presence(self, callback: Callable[[dict[str, dict[str, Any]]], None]) -> None:
        """Call ``callback(presence())`` whenever a peer's presence appears, changes or goes."""
        self._presence_watchers.append(callback)

    def _present(self, **fields: Any) -> None:
        state = dict(self.awareness.get_local_state() or {"user": self.user})
        state.update(fields)
        self.awareness.set_local_state(state)

    def _presence_changed(self, topic: str, change: tuple[dict[str, Any], Any]) -> None:
        """Send our own presence as it changes (and its renewals); tell the watchers of
        every real change."""
        changes, origin = change
        if topic == "update" and origin == "local":
            self._send_presence([c for ids in changes.values() for c in ids])
        if topic == "change" and self._presence_watchers:
            now = self.presence()
            for cb in list(self._presence_watchers):
                cb(now)

    def _send_presence(self, clients: list[int]) -> None:
        """One awareness message with ``clients``' states on the content link, if open."""
        ws = self._links.get("content")
        if ws is None or not clients:
            return
        from pycrdt import create_awareness_message

        message = create_awareness_message(self.awareness.encode_awareness_update(clients))
        self.messages_out += 1
        self.bytes_out += len(message)
        try:
            fut = ws.write_message(message, binary=True)
        except Exception:  # a closing link: the next link announces us again
            return
        self._sent = [f for f in self._sent if not f.done()] + [fut]

    def snapshot(self) -> dict[str, Any]:
        """Everything shared, as plain Python (for comparing peers and for display)."""
        out: dict[str, Any] = {"transport": self.transport.as_dict()}
        from pycrdt import Array, Map

        out["grants"] = dict(self.control.get("grants", type=Map).to_py() or {})
        for name in sdoc.CONTENT_ROOTS:
            kind = Array if name == "annotations" else Map
            out[name] = self.content.get(name, type=kind).to_py()
        out["selections"] = {user: p["selection"] for user, p in self.presence().items()
                             if p.get("selection") is not None}
        return out


def follow(session: SharedSession, player: Any,
           on_start: Callable[[float], None] | None = None) -> Callable[[Transport], None]:
    """Drive a local player (anything with ``seek(seconds)``, ``play()``, ``pause()``, as
    mos_lab's Engine) from the shared transport: at each change it seeks to the shared
    position and, for a start, plays at the start's server time. ``on_start`` gets the
    server time at which this peer actually started (to measure the spread between peers).
    """
    loop = asyncio.get_event_loop()
    pending: list[asyncio.TimerHandle] = []

    def start(t: Transport) -> None:
        player.seek(t.position_at(session.server_time()))
        player.play()
        if on_start is not None:
            on_start(session.server_time())

    def changed(t: Transport) -> None:
        for h in pending:
            h.cancel()
        pending.clear()
        if t.state == "playing":
            delay = t.at - session.server_time()
            if delay > 0:
                pending.append(loop.call_later(delay, start, t))
            else:
                start(t)
        else:
            player.pause()
            player.seek(t.position)

    session.on_transport(changed)
    return changed
