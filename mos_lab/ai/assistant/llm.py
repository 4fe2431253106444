"""A chat backend for OpenAI-compatible servers (llama.cpp, vLLM, Ollama, OpenAI).

``ChatCompletionsBackend(base_url, api_key=, model=)`` or ``.from_env()``
(``MOS_LAB_LLM_BASE_URL`` e.g. ``http://localhost:8080/v1``, ``MOS_LAB_LLM_API_KEY``,
``MOS_LAB_LLM_MODEL``) posts to ``{base_url}/chat/completions`` with ``stream: true`` and
the assistant's JSON-Schema tools, over the standard library (no new dependency):

- the answer arrives as server-sent events (``data: {chunk}`` ... ``data: [DONE]``);
  text deltas go to ``on_text`` as they come, ``tool_calls`` deltas are assembled per
  ``index`` across chunks (id and name once, ``arguments`` in pieces);
- arguments that are not JSON become :class:`~mos_lab.ai.assistant.tools.MalformedArguments`, which
  the assistant answers to the model with the error (never executed);
- 429 waits ``Retry-After`` (capped), 5xx and connection failures back off exponentially,
  up to ``max_retries``; other 4xx fail at once with the server's message;
- every read has ``stall_timeout`` seconds (a server that stops sending is dropped) and
  the whole call stops at the caller's cancel token; a server that is down gets a message
  saying where it was looked for and how to point elsewhere.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message as HeaderMap
from typing import Any

from mos_lab.ai.assistant.rules import ChatResponse, Message, ToolCall
from mos_lab.ai.assistant.tools import MalformedArguments
from mos_lab.ai.core.errors import BackendError, TransientBackendError
from mos_lab.ai.core.types import CancelToken

ENV_URL, ENV_KEY, ENV_MODEL = "MOS_LAB_LLM_BASE_URL", "MOS_LAB_LLM_API_KEY", "MOS_LAB_LLM_MODEL"


def to_wire(messages: list[Message]) -> list[dict[str, Any]]:
    """The chat-completions ``messages`` for the assistant's history."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "tool":
            out.append({"role": "tool", "tool_call_id": m.tool_call_id or m.name,
                        "content": m.content})
        elif m.role == "assistant" and m.tool_calls:
            out.append({"role": "assistant", "content": m.content or None, "tool_calls": [
                {"id": c.id, "type": "function", "function": {
                    "name": c.name,
                    "arguments": c.arguments.raw if isinstance(c.arguments, MalformedArguments)
                    else json.dumps(c.arguments)}} for c in m.tool_calls]})
        elif m.images:
            parts: list[dict[str, Any]] = [{"type": "text", "text": m.content}]
            for info, data in m.images:
                url = f"data:{info.mime};base64,{base64.b64encode(data).decode()}"
                parts.append({"type": "image_url", "image_url": {"url": url}})
            out.append({"role": m.role, "content": parts})
        else:
            out.append({"role": m.role, "content": m.content})
    return out


@dataclass
class _Assembly:
    """Text and tool calls put together from streamed deltas."""

    text: list[str] = field(default_factory=list)
    calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    finish: str | None = None

    def add(self, chunk: Any, on_text: Callable[[str], None] | None) -> None:
        if not isinstance(chunk, dict):
            raise BackendError(f"stream chunk is a {type(chunk).__name__}, not an object")
        if "error" in chunk:
            err = chunk["error"]
            raise BackendError(f"the LLM server reported: "
                               f"{err.get('message', err) if isinstance(err, dict) else err}")
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or choice.get("message") or {}
            piece = delta.get("content")
            if isinstance(piece, str) and piece:
                self.text.append(piece)
                if on_text is not None:
                    on_text(piece)
            for tc in delta.get("tool_calls") or []:
                slot = self.calls.setdefault(int(tc.get("index", len(self.calls))),
                                             {"id": "", "name": "", "arguments": ""})
                slot["id"] = tc.get("id") or slot["id"]
                fn = tc.get("function") or {}
                slot["name"] += fn.get("name") or ""
                args = fn.get("arguments")
                slot["arguments"] += args if isinstance(args, str) else (
                    json.dumps(args) if args is not None else "")
            self.finish = choice.get("finish_reason") or self.finish

    def response(self) -> ChatResponse:
        calls = []
        for i in sorted(self.calls):
            c = self.calls[i]
            raw = c["arguments"].strip() or "{}"
            try:
                args: Any = json.loads(raw)
            except ValueError as exc:
                args = MalformedArguments(raw, f"not valid JSON ({exc})")
            calls.append(ToolCall(c["name"], args, c["id"] or f"call_{i}"))
        return ChatResponse("".join(self.text), calls)


def sse_data(lines: Iterator[bytes]) -> Iterator[str]:
    """The ``data`` of each server-sent event (multi-line data joined by newlines)."""
    buf: list[str] = []
    for raw in lines:
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line:
            if buf:
                yield "\n".join(buf)
                buf = []
            continue
        if line.startswith(":"):
            continue  # a comment (keep-alive)
        name, _, value = line.partition(":")
        if name == "data":
            buf.append(value[1:] if value.startswith(" ") else value)
    if buf:
        yield "\n".join(buf)


def _retry_after(headers: HeaderMap | None) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class ChatCompletionsBackend:
    """An OpenAI-compatible chat-completions server as the assistant's model."""

    streams_text = True  # respond() takes on_text: Assistant.stream shows text as it comes

    def __init__(self, base_url: str, *, api_key: str = "", model: str = "default",
                 name: str = "", stall_timeout: float = 30.0,
                 max_retries: int = 3, backoff: float = 0.5, max_retry_after: float = 30.0,
                 temperature: float | None = None, extra: dict[str, Any] | None = None,
                 max_response_bytes: int = 8 * 2**20) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url: {base_url!r} is not an http(s) URL")
        self.base_url = base_url.rstrip("/")
        self.url = self.base_url + "/chat/completions"
        self.api_key = api_key
        self.model = model
        self.name = name or f"llm:{model}"
        self.stall_timeout = stall_timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_retry_after = max_retry_after
        self.temperature = temperature
        self.extra = dict(extra or {})
        self.max_response_bytes = max_response_bytes
        self.stats: dict[str, int] = {"requests": 0, "retries": 0}

    @classmethod
    def from_env(cls, **options: Any) -> ChatCompletionsBackend:
        """The server ``MOS_LAB_LLM_BASE_URL`` names (key and model from the environment)."""
        url = os.environ.get(ENV_URL, "")
        if not url:
            raise BackendError(f"no LLM server configured: set {ENV_URL} (e.g. "
                               "http://localhost:8080/v1) and, if needed, "
                               f"{ENV_KEY} and {ENV_MODEL}")
        return cls(url, api_key=os.environ.get(ENV_KEY, ""),
                   model=os.environ.get(ENV_MODEL, "default"), **options)

    def payload(self, messages: list[Message], tools: list[dict[str, Any]]) -> dict[str, Any]:
        """The request body: model, messages, tools (as functions), ``stream: true``."""
        body: dict[str, Any] = {"model": self.model, "messages": to_wire(messages),
                                "stream": True, **self.extra}
        if tools:
            body["tools"] = [{"type": "function", "function": t} for t in tools]
        if self.temperature is not None:
            body["temperature"] = self.temperature
        return body

    def respond(self, messages: list[Message], tools: list[dict[str, Any]],
                cancel: CancelToken, on_text: Callable[[str], None] | None = None
                ) -> ChatResponse:
        """One model turn (text and/or tool calls), with retries; text goes to on_text."""
        body = json.dumps(self.payload(messages, tools)).encode()
        attempt = 0
        while True:
            cancel.check()
            try:
                return self._once(body, cancel, on_text)
            except TransientBackendError as exc:
                if attempt >= self.max_retries:
                    raise BackendError(f"{exc} (gave up after {attempt + 1} tries)") from None
                wait = exc.retry_after if exc.retry_after is not None else (
                    self.backoff * 2 ** attempt * (1 + 0.1 * random.random()))
                if wait > self.max_retry_after:
                    raise BackendError(f"{exc}; the server asks to wait {wait:g} s, over "
                                       f"the limit of {self.max_retry_after:g} s") from None
                left = cancel.remaining()
                if left is not None and wait >= left:
                    raise BackendError(f"{exc}; no time left to retry after {wait:g} s"
                                       ) from None
                attempt += 1
                self.stats["retries"] += 1
                deadline = time.monotonic() + wait
                while (rest := deadline - time.monotonic()) > 0:
                    cancel.check()
                    time.sleep(min(rest, 0.05))

    def _open(self, body: bytes) -> Any:
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(self.url, data=body, method="POST", headers=headers)
        self.stats["requests"] += 1
        try:
            return urllib.request.urlopen(req, timeout=self.stall_timeout)  # each wait
        except urllib.error.HTTPError as exc:
            detail = (exc.read() or b"")[:300].decode("utf-8", "replace")
            if exc.code == 429 or exc.code >= 500:
                raise TransientBackendError(f"the LLM server at {self.url} answered HTTP "
                                            f"{exc.code}: {detail}",
                                            retry_after=_retry_after(exc.headers)) from None
            hint = f" (check {ENV_KEY})" if exc.code in (401, 403) else ""
            raise BackendError(f"the LLM server at {self.url} refused the request: HTTP "
                               f"{exc.code}{hint}: {detail}") from None
        except TimeoutError as exc:
            raise TransientBackendError(f"the LLM server at {self.url} did not answer within "
                                        f"{self.stall_timeout:g} s ({exc})") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise TransientBackendError(
                f"the LLM server at {self.url} is not reachable ({reason}); is it running? "
                f"Point {ENV_URL} at a running llama.cpp, vLLM or Ollama server") from None

    def _once(self, body: bytes, cancel: CancelToken,
              on_text: Callable[[str], None] | None) -> ChatResponse:
        resp = self._open(body)
        got = _Assembly()
        try:
            ctype = resp.headers.get("Content-Type", "")
            if "text/event-stream" not in ctype:  # a server that ignored stream: true
                data = resp.read(self.max_response_bytes + 1)
                if len(data) > self.max_response_bytes:
                    raise BackendError(f"answer over {self.max_response_bytes} bytes")
                try:
                    got.add(json.loads(data), on_text)
                except ValueError:
                    raise BackendError(f"the LLM server at {self.url} answered {ctype or 'no'} "
                                       f"content, not JSON: {data[:80]!r}") from None
                return got.response()
            try:
                return self._read(resp, cancel, got, on_text)
            except TransientBackendError as exc:
                if got.text or got.calls:  # part of the answer is out: do not repeat it
                    raise BackendError(str(exc)) from None
                raise
        finally:
            resp.close()

    def _read(self, resp: Any, cancel: CancelToken, got: _Assembly,
              on_text: Callable[[str], None] | None) -> ChatResponse:
        """Read the event stream into ``got`` up to ``[DONE]`` (or the end of the body)."""
        size = 0
        for data in sse_data(self._lines(resp, cancel)):
            if data.strip() == "[DONE]":
                return got.response()
            size += len(data)
            if size > self.max_response_bytes:
                raise BackendError(f"answer over {self.max_response_bytes} bytes")
            try:
                chunk = json.loads(data)
            except ValueError:
                raise BackendError(f"the LLM server sent a chunk that is not JSON: "
                                   f"{data[:80]!r}") from None
            got.add(chunk, on_text)
        if got.finish is None:  # closed mid-answer
            raise TransientBackendError(f"the LLM server at {self.url} closed the "
                                        "stream before the answer ended")
        return got.response()

    def _lines(self, resp: Any, cancel: CancelToken) -> Iterator[bytes]:
        """Lines of the body; a read that waits over ``stall_timeout`` ends the call."""
        while True:
            cancel.check()
            try:
                line = resp.readline(1 << 20)
            except TimeoutError:
                raise TransientBackendError(
                    f"the LLM server at {self.url} stalled: nothing for "
                    f"{self.stall_timeout:g} s") from None
            except (http.client.HTTPException, OSError) as exc:
                raise TransientBackendError(f"the LLM server at {self.url} broke the "
                                            f"stream: {exc}") from None
            if not line:
                return
            yield line
