"""The assistant: a chat session whose model calls mos_lab tools, made robust.

``Assistant(backend)`` talks to any :class:`ChatBackend` (``respond(messages, tools,
cancel) -> ChatResponse``; optional ``stream`` and ``warm_up``); the offline
:class:`RuleBackend` is the default. What the session guarantees:

- requests pass a client-side token-bucket rate limiter with a bounded waiting line
  (RKY-01, INT-02) and run one at a time per session, in order (RKY-10);
- history is bounded to ``max_messages`` (RKY-02) and what is sent is trimmed to
  ``context_tokens`` (RKY-05);
- every backend call has a timeout (RKY-03); backend and tool errors become a clear
  ``Reply.error`` and the session goes on (RKY-04);
- tool calls are checked against each tool's JSON Schema before they run (RKY-06);
- images are checked by magic bytes and size (RKY-07);
- answers are cut at ``max_response_chars``; ``stream()`` yields long answers in pieces
  and stops reading at the limit (RKY-08);
- ``warm_up()`` primes the backend; first-call latency is measured (RKY-09);
- with ``fallback=`` (e.g. the RuleBackend behind an LLM server), a backend that fails
  (down, refusing, out of retries) hands the turn to the fallback and the reply says so;
- a backend with ``streams_text`` (``mos_lab.ai.assistant.llm``) streams text through ``stream()``
  while tool calls still run, round after round.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from mos_lab.ai.assistant.images import ImageError, validate_image
from mos_lab.ai.assistant.rules import ChatResponse, Message, RuleBackend, ToolCall
from mos_lab.ai.assistant.tools import Tool, ToolContext, check_arguments, default_tools, validator
from mos_lab.ai.core.errors import BackendError, GenerationTimeout, RateLimitedError
from mos_lab.ai.core.types import CancelToken
from mos_lab.ai.service._runner import run_with_deadline
from mos_lab.ai.service.ratelimit import RateLimiter
from mos_lab.score import Score

SYSTEM = "You are mos_lab's music assistant. Use the tools to work on the user's score."


class ChatBackend(Protocol):
    name: str

    def respond(self, messages: list[Message], tools: list[dict[str, Any]],
                cancel: CancelToken) -> ChatResponse: ...


def count_tokens(text: str) -> int:
    """A model-agnostic estimate: about four characters per token."""
    return len(text) // 4 + 1


@dataclass
class Reply:
    """An answer: ``text``, or ``error`` saying what went wrong (the session survives)."""

    text: str = ""
    error: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    truncated: bool = False
    latency_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


class Assistant:
    """One chat session with tools; thread-safe (requests are serialised)."""

    def __init__(self, backend: ChatBackend | None = None, *, score: Score | None = None,
                 service: Any = None, tools: dict[str, Tool] | None = None,
                 rate_limiter: RateLimiter | None = None, timeout: float = 30.0,
                 max_messages: int = 200, context_tokens: int = 4000,
                 max_response_chars: int = 20_000, max_input_chars: int = 20_000,
                 max_tool_rounds: int = 4, max_pending: int = 100,
                 system: str = SYSTEM, fallback: ChatBackend | None = None) -> None:
        self.backend: ChatBackend = backend or RuleBackend()
        self.fallback = fallback
        self._notice = ""
        self.context = ToolContext(score=score, service=service)
        self.tools = tools if tools is not None else default_tools()
        self.rate_limiter = rate_limiter or RateLimiter(rate=10, burst=10, max_waiting=100)
        self.timeout = timeout
        self.max_messages = max_messages
        self.context_tokens = context_tokens
        self.max_response_chars = max_response_chars
        self.max_input_chars = max_input_chars
        self.max_tool_rounds = max_tool_rounds
        self.system = Message("system", system)
        self._history: list[Message] = []
        self._lock = threading.Lock()
        self.max_pending = max_pending
        self._pending = 0
        self._pending_lock = threading.Lock()
        self.stats: dict[str, Any] = {"calls": 0, "errors": 0, "first_call_latency_s": None,
                                      "warm_up_s": None, "last_latency_s": None}

    @property
    def score(self) -> Score | None:
        return self.context.score

    @property
    def history(self) -> list[Message]:
        with self._lock:
            return list(self._history)

    def reset(self) -> None:
        with self._lock:
            self._history.clear()

    # -- the model call ------------------------------------------------------------------
    def _call(self, messages: list[Message],
              on_text: Callable[[str], None] | None = None) -> ChatResponse:
        self.rate_limiter.acquire(timeout=self.timeout)
        specs = [t.spec() for t in self.tools.values()]
        t0 = time.monotonic()
        backend = self.backend
        streams = on_text is not None and getattr(backend, "streams_text", False)

        def call(tok: CancelToken) -> ChatResponse:
            if streams:
                return backend.respond(messages, specs, tok, on_text=on_text)  # type: ignore[call-arg]
            return backend.respond(messages, specs, tok)

        try:
            resp = run_with_deadline(call, CancelToken.with_timeout(self.timeout), grace=0.2,
                                     name=f"assistant:{backend.name}")
        except BackendError as exc:
            if self.fallback is None:
                raise
            fb = self.fallback
            self._notice = f"({backend.name} unavailable: {exc}; answered offline by {fb.name})"
            resp = run_with_deadline(lambda tok: fb.respond(messages, specs, tok),
                                     CancelToken.with_timeout(self.timeout), grace=0.2,
                                     name=f"assistant:{fb.name}")
        dt = time.monotonic() - t0
        self.stats["calls"] += 1
        self.stats["last_latency_s"] = dt
        if self.stats["first_call_latency_s"] is None:
            self.stats["first_call_latency_s"] = dt
        if not isinstance(resp, ChatResponse):
            raise TypeError(f"backend returned {type(resp).__name__}, not ChatResponse")
        return resp

    def warm_up(self) -> float:
        """Prime the backend (its ``warm_up()`` or one tiny request) and the tool schema
        validators; the seconds it took."""
        t0 = time.monotonic()
        for tool in self.tools.values():
            validator(tool)
        warm = getattr(self.backend, "warm_up", None)
        if callable(warm):
            run_with_deadline(lambda tok: warm(), CancelToken.with_timeout(self.timeout))
        else:
            self._call([self.system, Message("user", "ping")])
        self.stats["warm_up_s"] = time.monotonic() - t0
        return float(self.stats["warm_up_s"])

    def _window(self) -> list[Message]:
        """System prompt plus the newest history that fits the context budget (RKY-05)."""
        budget = self.context_tokens - count_tokens(self.system.content)
        out: list[Message] = []
        for m in reversed(self._history):
            cost = count_tokens(m.content) + 4
            if cost > budget:
                if not out:  # the newest message alone is too long: keep its head and tail
                    keep = max(0, budget - 8) * 4
                    out.append(Message(m.role, m.content[: keep // 2] + "\n[...]\n" +
                                       m.content[-keep // 2:], m.name, m.tool_calls, m.images,
                                       m.tool_call_id))
                break
            out.append(m)
            budget -= cost
        while out and out[-1].role == "tool":  # never start on an orphan tool result
            out.pop()
        return [self.system, *reversed(out)]

    def _append(self, *msgs: Message) -> None:
        self._history.extend(msgs)
        if len(self._history) > self.max_messages:  # RKY-02: bounded
            del self._history[: len(self._history) - self.max_messages]

    # -- asking --------------------------------------------------------------------------
    def ask(self, text: str, *, image: bytes | None = None,
            on_text: Callable[[str], None] | None = None) -> Reply:
        """Answer ``text`` (with an optional image); never raises for backend trouble."""
        t0 = time.monotonic()
        with self._pending_lock:
            if self._pending >= self.max_pending:
                return Reply(error=f"rate limited: {self._pending} requests are already "
                                   "waiting for this session; wait for them or slow down")
            self._pending += 1
        try:
            with self._lock:
                self._notice = ""
                reply = self._ask(text, image, on_text)
                if self._notice and reply.ok:
                    reply.text = f"{self._notice} {reply.text}".strip()
        finally:
            with self._pending_lock:
                self._pending -= 1
        reply.latency_s = time.monotonic() - t0
        return reply

    def _ask(self, text: str, image: bytes | None,
             on_text: Callable[[str], None] | None = None) -> Reply:
        if not isinstance(text, str) or not text.strip():
            return Reply(error="empty question: ask something, e.g. 'transpose up 2'")
        if len(text) > self.max_input_chars:
            return Reply(error=f"question of {len(text)} characters is over the limit of "
                               f"{self.max_input_chars}")
        images = []
        if image is not None:
            try:
                images.append((validate_image(image), bytes(image)))
            except ImageError as exc:
                return Reply(error=str(exc))
        self.context.sync()  # a score the session loaded since the last question is current
        self._append(Message("user", text, images=images))
        calls: list[ToolCall] = []
        try:
            for _ in range(self.max_tool_rounds):
                resp = self._call(self._window(), on_text)
                if not resp.tool_calls:
                    return self._answer(resp.text, calls)
                self._append(Message("assistant", resp.text, tool_calls=resp.tool_calls))
                for call in resp.tool_calls:
                    calls.append(call)
                    self._append(Message("tool", self._run_tool(call), name=call.name,
                                         tool_call_id=call.id))
            return self._answer("stopped after too many tool rounds", calls)
        except RateLimitedError as exc:
            return self._fail(f"rate limited: {exc}", calls)
        except GenerationTimeout:
            return self._fail(f"the assistant backend ({self.backend.name}) did not answer "
                              f"within {self.timeout:g} s; try again or ask something shorter",
                              calls)
        except Exception as exc:
            return self._fail(f"the assistant backend ({self.backend.name}) failed: "
                              f"{type(exc).__name__}: {exc}", calls)

    def _run_tool(self, call: ToolCall) -> str:
        tool = self.tools.get(call.name)
        if tool is None:
            return f"error: no tool named {call.name!r}; tools: {', '.join(self.tools)}"
        problems = check_arguments(tool, call.arguments)
        if problems:  # RKY-06: never run a tool with arguments its schema rejects
            return f"error: invalid arguments for {call.name}: " + "; ".join(problems)
        try:
            return tool.fn(self.context, dict(call.arguments))[: self.max_response_chars]
        except Exception as exc:
            return f"error: {call.name} failed: {type(exc).__name__}: {exc}"

    def _answer(self, text: str, calls: list[ToolCall]) -> Reply:
        truncated = len(text) > self.max_response_chars
        if truncated:
            text = text[: self.max_response_chars] + " [truncated]"
        self._append(Message("assistant", text))
        return Reply(text, None, calls, truncated)

    def _fail(self, message: str, calls: list[ToolCall]) -> Reply:
        self.stats["errors"] += 1
        self._append(Message("assistant", f"(error: {message})"))
        return Reply(error=message, tool_calls=calls)

    def stream(self, text: str, *, chunk_chars: int = 200) -> Iterator[str]:
        """Yield the answer in pieces; with a streaming backend, as it arrives, reading no
        more than ``max_response_chars`` (then the backend's stream is closed)."""
        if getattr(self.backend, "streams_text", False):
            yield from self._stream_turns(text)
            return
        stream = getattr(self.backend, "stream", None)
        if not callable(stream):
            reply = self.ask(text)
            body = reply.text if reply.ok else f"(error: {reply.error})"
            for i in range(0, len(body), chunk_chars):
                yield body[i:i + chunk_chars]
            return
        with self._lock:
            self.rate_limiter.acquire(timeout=self.timeout)
            self._append(Message("user", text))
            token = CancelToken.with_timeout(self.timeout)
            got: list[str] = []
            n = 0
            it = stream(self._window(), [t.spec() for t in self.tools.values()], token)
            try:
                for piece in it:
                    token.check()
                    piece = piece[: self.max_response_chars - n]
                    n += len(piece)
                    got.append(piece)
                    yield piece
                    if n >= self.max_response_chars:
                        yield " [truncated]"
                        break
            except Exception as exc:  # RKY-04: the stream ends with a message, not a crash
                self.stats["errors"] += 1
                yield f" (error: the assistant backend failed: {type(exc).__name__}: {exc})"
            finally:
                close = getattr(it, "close", None)
                if callable(close):
                    close()
                self._append(Message("assistant", "".join(got)))

    def _stream_turns(self, text: str) -> Iterator[str]:
        """``ask`` in a worker with text passed on as it arrives (tool rounds included);
        at most ``max_response_chars`` are yielded, then the rest is left unread."""
        pieces: queue.Queue[str | None] = queue.Queue()
        box: dict[str, Reply] = {}

        def work() -> None:
            try:
                box["reply"] = self.ask(text, on_text=pieces.put)
            finally:
                pieces.put(None)

        threading.Thread(target=work, name="mos-assistant-stream", daemon=True).start()
        n = 0
        while (piece := pieces.get()) is not None:
            piece = piece[: self.max_response_chars - n]
            n += len(piece)
            yield piece
            if n >= self.max_response_chars:
                yield " [truncated]"
                return
        reply = box.get("reply")
        if reply is None:
            yield " (error: the assistant stopped without an answer)"
        elif not reply.ok:
            yield f" (error: {reply.error})"
        elif n == 0 and reply.text:  # answered by a fallback that does not stream
            yield reply.text[: self.max_response_chars]
        elif self._notice:
            yield f" {self._notice}"
