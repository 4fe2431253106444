"""The chat-completions client against a local HTTP server speaking the real wire format."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from mos_lab.ai import Assistant
from mos_lab.ai.assistant.llm import ChatCompletionsBackend, sse_data
from mos_lab.ai.assistant.rules import Message, RuleBackend
from mos_lab.ai.core.errors import BackendError
from mos_lab.ai.core.types import CancelToken
from mos_lab.score import Score

SONG = Score.from_notes([(bar * 1920, 1920, p, 80) for bar, chord in enumerate(
    [(48, 60, 64, 67), (53, 57, 60, 65), (43, 59, 62, 67), (48, 60, 64, 67)] * 2)
    for p in chord], bpm=120)  # C F G C, twice: 8 bars of 4/4 in C major


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "c1", "object": "chat.completion.chunk", "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def text_reply(*pieces: str) -> list[dict[str, Any]]:
    return ([chunk({"role": "assistant", "content": ""})] +
            [chunk({"content": p}) for p in pieces] + [chunk({}, "stop")])


def tool_reply(name: str, args: str, call_id: str = "call_1") -> list[dict[str, Any]]:
    """A tool call split the way servers split it: id and name first, arguments in bits."""
    cut = max(1, len(args) // 3)
    parts = [args[:cut], args[cut:2 * cut], args[2 * cut:]]
    return ([chunk({"role": "assistant", "tool_calls": [
        {"index": 0, "id": call_id, "type": "function",
         "function": {"name": name, "arguments": ""}}]})] +
        [chunk({"tool_calls": [{"index": 0, "function": {"arguments": p}}]}) for p in parts] +
        [chunk({}, "tool_calls")])


class Server:
    """A scripted chat-completions server: each request takes the next step of ``script``.

    Steps: ``("sse", chunks)``; ``("status", code, headers, body)``; ``("stall", s)``
    (headers sent, then nothing for s seconds); ``("cut", chunks)`` (closes mid-stream).
    """

    def __init__(self, script: list[tuple[Any, ...]]) -> None:
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.times: list[float] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: Any) -> None:
                pass

            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length", 0))
                outer.requests.append(json.loads(self.rfile.read(n)))
                outer.headers.append(dict(self.headers))
                outer.times.append(time.monotonic())
                step = outer.script.pop(0) if outer.script else ("status", 500, {}, b"none")
                kind = step[0]
                if kind == "status":
                    body = step[3] if isinstance(step[3], bytes) else json.dumps(step[3]).encode()
                    self.send_response(step[1])
                    for k, v in step[2].items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                if kind == "stall":
                    self.wfile.write(b": keep-alive\n\n")
                    self.wfile.flush()
                    time.sleep(step[1])
                    return
                for c in step[1]:
                    self.wfile.write(f"data: {json.dumps(c)}\n\n".encode())
                    self.wfile.flush()
                if kind == "sse":
                    self.wfile.write(b"data: [DONE]\n\n")
                self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[Server] = []

    def make(*script: tuple[Any, ...]) -> Server:
        servers.append(Server(list(script)))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


def backend(url: str, **kw: Any) -> ChatCompletionsBackend:
    opts: dict[str, Any] = {"api_key": "sk-test", "model": "tiny", "stall_timeout": 0.5,
                            "max_retries": 2, "backoff": 0.02}
    return ChatCompletionsBackend(url, **{**opts, **kw})


def test_text_streams_in_sse_chunks_and_the_request_is_the_real_wire_format(serve):
    srv = serve(("sse", text_reply("The key ", "is C ", "major.")))
    seen: list[str] = []
    resp = backend(srv.url).respond([Message("system", "sys"), Message("user", "hi")],
                                    [{"name": "info", "description": "d", "parameters": {}}],
                                    CancelToken.with_timeout(5), on_text=seen.append)
    assert resp.text == "The key is C major." and seen == ["The key ", "is C ", "major."]
    body = srv.requests[0]
    assert body["stream"] is True and body["model"] == "tiny"
    assert body["messages"] == [{"role": "system", "content": "sys"},
                                {"role": "user", "content": "hi"}]
    assert body["tools"][0] == {"type": "function", "function": {
        "name": "info", "description": "d", "parameters": {}}}
    assert srv.headers[0]["Authorization"] == "Bearer sk-test"


def test_sse_events_join_multi_line_data_and_skip_comments():
    lines = [b": ping\n", b"data: {\"a\":\n", b"data: 1}\n", b"\n", b"data: [DONE]\n", b"\n"]
    assert list(sse_data(iter(lines))) == ['{"a":\n1}', "[DONE]"]


def test_tool_call_deltas_are_assembled_and_the_tool_reaches_the_session(serve):
    srv = serve(("sse", tool_reply("seek", '{"bar": 5}')),
                ("sse", text_reply("Now at bar 5.")))

    class Transport:
        score = SONG
        at: float | None = None

        def seek(self, s: float) -> None:
            self.at = s

    a = Assistant(backend(srv.url), score=SONG)
    eng = Transport()
    a.context.transport = eng
    reply = a.ask("go to bar 5")
    assert reply.ok, reply.error
    assert reply.text == "Now at bar 5."
    assert [(c.name, c.arguments) for c in reply.tool_calls] == [("seek", {"bar": 5})]
    assert eng.at == pytest.approx(8.0)  # 4 bars of 4/4 at 120 bpm
    second = srv.requests[1]["messages"]  # the tool result goes back with its call's id
    assert second[-2]["tool_calls"][0] == {"id": "call_1", "type": "function", "function": {
        "name": "seek", "arguments": '{"bar": 5}'}}
    assert second[-1] == {"role": "tool", "tool_call_id": "call_1", "content": "at bar 5"}


@pytest.mark.parametrize(("args", "expect"), [
    ('{"bar": 5', "not valid JSON"),              # broken JSON
    ('{"bar": "five"}', "'five' is not of type 'integer'"),  # wrong type
    ('{"bar": 5, "volume": 11}', "Additional properties"),   # invented parameter
])
def test_bad_tool_arguments_are_answered_with_the_schema_error_never_run(serve, args, expect):
    srv = serve(("sse", tool_reply("seek", args)), ("sse", text_reply("Sorry.")))
    ran: list[float] = []

    class Transport:
        score = SONG

        def seek(self, s: float) -> None:
            ran.append(s)

    a = Assistant(backend(srv.url), score=SONG)
    a.context.transport = Transport()
    reply = a.ask("go to bar 5")
    assert reply.ok and ran == []
    answer = srv.requests[1]["messages"][-1]
    assert answer["role"] == "tool" and answer["tool_call_id"] == "call_1"
    assert answer["content"].startswith("error: invalid arguments for seek")
    assert expect in answer["content"] and '"minimum": 1' in answer["content"]  # the schema


def test_429_waits_for_retry_after_then_succeeds(serve):
    srv = serve(("status", 429, {"Retry-After": "0.3"}, {"error": {"message": "slow down"}}),
                ("sse", text_reply("ok")))
    b = backend(srv.url)
    resp = b.respond([Message("user", "hi")], [], CancelToken.with_timeout(5))
    assert resp.text == "ok" and b.stats["retries"] == 1
    assert srv.times[1] - srv.times[0] >= 0.28


def test_5xx_backs_off_and_gives_up_with_a_clear_message(serve):
    srv = serve(*[("status", 503, {}, b"overloaded")] * 3)
    t0 = time.monotonic()
    with pytest.raises(BackendError, match=r"HTTP 503: overloaded \(gave up after 3 tries\)"):
        backend(srv.url).respond([Message("user", "hi")], [], CancelToken.with_timeout(5))
    assert len(srv.requests) == 3 and time.monotonic() - t0 < 2
    assert srv.times[1] - srv.times[0] >= 0.02 and srv.times[2] - srv.times[1] >= 0.04


def test_a_retry_after_longer_than_allowed_is_not_waited_for(serve):
    srv = serve(("status", 429, {"Retry-After": "3600"}, b"come back in an hour"))
    t0 = time.monotonic()
    with pytest.raises(BackendError, match="asks to wait 3600 s"):
        backend(srv.url).respond([Message("user", "hi")], [], CancelToken.with_timeout(5))
    assert time.monotonic() - t0 < 1


def test_a_stalled_server_is_dropped_after_the_stall_timeout(serve):
    srv = serve(("stall", 3), ("stall", 3))
    a = Assistant(backend(srv.url, max_retries=1, stall_timeout=0.3), timeout=5)
    t0 = time.monotonic()
    reply = a.ask("hello")
    assert time.monotonic() - t0 < 2.5
    assert not reply.ok and "stalled: nothing for 0.3 s" in (reply.error or "")
    assert a.ask("still there?").error  # the session goes on


def test_a_stream_cut_mid_answer_is_not_retried_after_text_was_shown(serve):
    srv = serve(("cut", [chunk({"content": "Half an ans"})]))
    with pytest.raises(BackendError, match="closed the stream before the answer ended"):
        backend(srv.url).respond([Message("user", "hi")], [], CancelToken.with_timeout(5))
    assert len(srv.requests) == 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_server_that_is_down_gets_a_clear_message():
    url = f"http://127.0.0.1:{free_port()}/v1"
    a = Assistant(backend(url, max_retries=1), timeout=5)
    t0 = time.monotonic()
    reply = a.ask("what key is this in?")
    assert time.monotonic() - t0 < 2
    assert not reply.ok
    assert f"LLM server at {url}/chat/completions is not reachable" in (reply.error or "")
    assert "MOS_LAB_LLM_BASE_URL" in (reply.error or "")


def test_when_the_server_is_down_the_offline_interpreter_answers_and_says_so():
    url = f"http://127.0.0.1:{free_port()}/v1"
    a = Assistant(backend(url, max_retries=0), score=SONG, fallback=RuleBackend())
    reply = a.ask("what key is this in?")
    assert reply.ok, reply.error
    assert [c.name for c in reply.tool_calls] == ["key"]
    assert "unavailable" in reply.text and "answered offline by rules" in reply.text
    assert "the key is C" in reply.text


def test_auth_errors_are_not_retried_and_name_the_key_variable(serve):
    srv = serve(("status", 401, {}, {"error": {"message": "bad key"}}))
    with pytest.raises(BackendError, match="HTTP 401 \\(check MOS_LAB_LLM_API_KEY\\)"):
        backend(srv.url).respond([Message("user", "hi")], [], CancelToken.with_timeout(5))
    assert len(srv.requests) == 1


def test_assistant_stream_yields_text_as_it_arrives_across_tool_rounds(serve):
    srv = serve(("sse", tool_reply("key", "")), ("sse", text_reply("It is ", "in C.")))
    a = Assistant(backend(srv.url), score=SONG)
    assert list(a.stream("what key?")) == ["It is ", "in C."]
    assert srv.requests[1]["messages"][-1]["content"].startswith("the key is C")


def test_from_env_reads_url_key_and_model(monkeypatch):
    monkeypatch.setenv("MOS_LAB_LLM_BASE_URL", "http://localhost:8080/v1/")
    monkeypatch.setenv("MOS_LAB_LLM_API_KEY", "k")
    monkeypatch.setenv("MOS_LAB_LLM_MODEL", "qwen")
    b = ChatCompletionsBackend.from_env()
    assert (b.url, b.api_key, b.model) == ("http://localhost:8080/v1/chat/completions", "k",
                                          "qwen")
    monkeypatch.delenv("MOS_LAB_LLM_BASE_URL")
    with pytest.raises(BackendError, match="set MOS_LAB_LLM_BASE_URL"):
        ChatCompletionsBackend.from_env()


def test_a_session_assistant_uses_the_configured_server_and_its_calls_play(serve,
                                                                           monkeypatch):
    from mos_lab.kernel.session import Session

    srv = serve(("sse", tool_reply("play", '{"bar": 2}')), ("sse", text_reply("Playing.")))
    monkeypatch.setenv("MOS_LAB_LLM_BASE_URL", srv.url)
    monkeypatch.setenv("MOS_LAB_LLM_MODEL", "tiny")
    s = Session("null", plugins=False)
    try:
        s.load(SONG)
        s.engine.wait_ready()  # play() before the audio side is up is queued, not run
        a = s.assistant()
        assert isinstance(a.backend, ChatCompletionsBackend)
        reply = a.ask("start from the second bar")
        assert reply.ok and reply.text == "Playing.", reply.error
        assert srv.requests[1]["messages"][-1]["content"] == "playing from bar 2"
        assert s.engine.state in ("playing", "waiting_for_audio"), s.engine.status()
        assert 2.0 <= s.engine.position < 3.0
        assert srv.requests[0]["model"] == "tiny"
        assert {"play", "seek", "loop", "tempo", "key", "engrave"} <= {
            t["function"]["name"] for t in srv.requests[0]["tools"]}
    finally:
        s.close()


def test_two_tool_calls_interleaved_by_index_are_kept_apart(serve):
    deltas = [
        {"tool_calls": [{"index": 0, "id": "a", "type": "function",
                         "function": {"name": "loop", "arguments": '{"from_'}}]},
        {"tool_calls": [{"index": 1, "id": "b", "type": "function",
                         "function": {"name": "tempo", "arguments": '{"sca'}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": 'bar": 4, "to_bar": 8}'}}]},
        {"tool_calls": [{"index": 1, "function": {"arguments": 'le": 0.9}'}}]},
    ]
    srv = serve(("sse", [chunk(d) for d in deltas] + [chunk({}, "tool_calls")]))
    resp = backend(srv.url).respond([Message("user", "x")], [], CancelToken.with_timeout(5))
    assert [(c.id, c.name, c.arguments) for c in resp.tool_calls] == [
        ("a", "loop", {"from_bar": 4, "to_bar": 8}), ("b", "tempo", {"scale": 0.9})]


def test_a_server_that_ignores_stream_and_answers_json_is_understood(serve):
    srv = serve(("status", 200, {"Content-Type": "application/json"}, {
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": None, "tool_calls": [
                {"id": "x", "type": "function",
                 "function": {"name": "key", "arguments": "{}"}}]}}]}))
    resp = backend(srv.url).respond([Message("user", "x")], [], CancelToken.with_timeout(5))
    assert [(c.id, c.name, c.arguments) for c in resp.tool_calls] == [("x", "key", {})]
