"""The assistant under bursts, floods, hangs, crashes, bad tools, bad images, huge answers."""

from __future__ import annotations

import struct
import threading
import time
import tracemalloc
import zlib

import numpy as np
import pytest

from mos_lab.ai import Assistant
from mos_lab.ai.assistant.images import ImageError, validate_image
from mos_lab.ai.assistant.rules import ChatResponse, RuleBackend, ToolCall, parse_intent
from mos_lab.ai.service.generation import GenerationService
from mos_lab.ai.service.ratelimit import RateLimiter
from mos_lab.score import Score

SONG = Score.from_notes([(0, 1920, p, 80) for p in (60, 64, 67)] +
                        [(1920, 1920, p, 80) for p in (57, 60, 64)] +
                        [(3840, 1920, p, 80) for p in (55, 59, 62, 65)], bpm=120)


class Echo:
    """A fake remote LLM: records calls, optional delay, failure or cold start."""

    name = "echo"

    def __init__(self, delay=0.0, fail=None, cold=0.0, text="ok"):
        self.delay, self.fail, self.cold, self.text = delay, fail, cold, text
        self.calls, self.active, self.peak = [], 0, 0
        self.lock = threading.Lock()
        self.seen_tokens = []

    def respond(self, messages, tools, cancel):
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
            self.calls.append(time.monotonic())
            first = len(self.calls) == 1
        try:
            self.seen_tokens.append(sum(len(m.content) // 4 + 1 for m in messages))
            if first and self.cold:
                time.sleep(self.cold)
            if self.fail:
                raise self.fail
            if self.delay:
                cancel.sleep(self.delay)
            return ChatResponse(f"{self.text}:{messages[-1].content}")
        finally:
            with self.lock:
                self.active -= 1


def test_the_offline_assistant_does_real_work(tmp_path, markov):
    a = Assistant(score=SONG)
    a.context.generator = markov
    assert a.ask("what chord at 0.5 s").text.split()[-1] == "C"
    assert a.ask("what chord at 2.5 s?").text.endswith("Am")
    assert a.ask("transpose up 2").ok and a.score.notes["pitch"].min() == 57
    assert "bar 1: D" in a.ask("analyse the chords").text
    r = a.ask("generate 4 bars in D minor at 90 bpm seed 3")
    assert r.ok and "4 bars in D minor at 90 bpm" in r.text and a.score.n_notes > 0
    path = tmp_path / "s.mid"
    SONG.save(path)
    assert a.ask(f"load {path}").text.startswith("loaded")
    assert "I can" in a.ask("sing me a song").text
    assert parse_intent("transpose down 3")[0].arguments == {"semitones": -3}


@pytest.mark.seed("RKY-01", "INT-02")
def test_a_burst_of_requests_is_queued_and_spaced_by_the_rate_limiter():
    echo = Echo()
    a = Assistant(echo, rate_limiter=RateLimiter(rate=200, burst=10, max_waiting=1000))
    replies = []
    threads = [threading.Thread(target=lambda i=i: replies.append(a.ask(f"q{i}")))
               for i in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(replies) == 100 and all(r.ok for r in replies)
    times = np.sort(np.array(echo.calls))
    assert times[-1] - times[0] >= (100 - 10) / 200 * 0.9
    for i in range(len(times)):
        assert ((times >= times[i]) & (times < times[i] + 0.05)).sum() <= 10 + 200 * 0.05 + 1


@pytest.mark.seed("RKY-01", "INT-02")
def test_when_too_many_wait_the_rest_get_a_clear_rate_limit_message():
    a = Assistant(Echo(delay=0.05), max_pending=3)
    replies = []
    threads = [threading.Thread(target=lambda: replies.append(a.ask("hi"))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    limited = [r for r in replies if not r.ok]
    assert limited and all("rate limit" in r.error for r in limited)
    assert len(limited) >= 8 - 3 - 1 and a.ask("still alive?").ok
    fast = RateLimiter(rate=5, burst=1, max_waiting=100)
    b = Assistant(Echo(), rate_limiter=fast, timeout=0.1)
    assert b.ask("one").ok
    r = b.ask("two")  # the next token is 0.2 s away, more than the 0.1 s timeout
    assert not r.ok and "rate limited: no request slot within 0.1 s" in r.error


@pytest.mark.seed("RKY-02")
def test_a_thousand_turns_keep_history_bounded():
    a = Assistant(Echo(), max_messages=50, rate_limiter=RateLimiter(1e6, 10**6))
    tracemalloc.start()
    try:
        for i in range(200):
            a.ask(f"turn {i} " + "x" * 200)
        base = tracemalloc.get_traced_memory()[0]
        for i in range(1000):
            a.ask(f"turn {i} " + "x" * 200)
        grown = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert len(a.history) == 50 and a.history[-1].content.startswith("ok:turn 999")
    assert grown < 256 * 1024


@pytest.mark.seed("RKY-05")
def test_long_conversations_are_trimmed_to_the_context_budget():
    echo = Echo()
    a = Assistant(echo, context_tokens=500, rate_limiter=RateLimiter(1e6, 10**6))
    for i in range(100):
        a.ask(f"message {i} " + "y" * 300)
    assert max(echo.seen_tokens) <= 500
    r = a.ask("z" * 10_000)  # one message bigger than the whole budget
    assert r.ok and echo.seen_tokens[-1] <= 500 and "[...]" in r.text


@pytest.mark.seed("RKY-03")
def test_a_slow_backend_times_out_and_the_session_goes_on():
    slow = Echo(delay=5.0)
    a = Assistant(slow, timeout=0.2)
    t0 = time.monotonic()
    r = a.ask("think hard")
    assert time.monotonic() - t0 < 1.0
    assert not r.ok and "did not answer within 0.2 s" in r.error
    slow.delay = 0
    assert a.ask("easy one").ok


@pytest.mark.seed("RKY-04")
def test_backend_errors_become_messages_and_the_session_survives():
    bad = Echo(fail=ConnectionError("upstream 500"))
    a = Assistant(bad)
    r = a.ask("hello")
    assert not r.ok and "failed: ConnectionError: upstream 500" in r.error
    assert a.history[-1].content.startswith("(error:")
    assert a.stats["errors"] == 1
    bad.fail = None
    assert a.ask("again").text == "ok:again"
    for q in ["", "   ", None, "x" * 30_000]:
        assert not a.ask(q).ok  # type: ignore[arg-type]

    class Weird:
        name = "weird"

        def respond(self, messages, tools, cancel):
            return {"text": "a dict, not a ChatResponse"}

    assert "not ChatResponse" in Assistant(Weird()).ask("hi").error


class ToolCaller:
    name = "caller"

    def __init__(self, calls):
        self.calls = calls

    def respond(self, messages, tools, cancel):
        if messages[-1].role == "tool":
            return ChatResponse(" | ".join(m.content for m in messages if m.role == "tool"))
        return ChatResponse(tool_calls=self.calls)


@pytest.mark.seed("RKY-06")
def test_invalid_tool_calls_are_refused_by_schema_before_running():
    ran = []
    a = Assistant(ToolCaller([
        ToolCall("transpose", {"semitones": "two"}),
        ToolCall("transpose", {"semitones": 500}),
        ToolCall("transpose", {}),
        ToolCall("transpose", {"semitones": 2, "evil": True}),
        ToolCall("chord_at", {"seconds": -1}),
        ToolCall("rm_rf", {"path": "/"}),
        ToolCall("transpose", ["not", "an", "object"]),
    ]), score=SONG)
    a.tools["transpose"] = a.tools["transpose"].__class__(
        "transpose", "t", a.tools["transpose"].schema, lambda ctx, args: ran.append(args) or "")
    r = a.ask("do things")
    parts = r.text.split(" | ")
    assert not ran and len(parts) == 7
    assert "semitones: 'two' is not of type 'integer'" in parts[0]
    assert "500 is greater than the maximum of 48" in parts[1]
    assert "'semitones' is a required property" in parts[2]
    assert "Additional properties are not allowed" in parts[3]
    assert "seconds: -1 is less than the minimum of 0" in parts[4]
    assert "no tool named 'rm_rf'" in parts[5]
    assert "is not of type 'object'" in parts[6]
    assert a.score is SONG


def png(w: int, h: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(  # noqa: E731
        ">I", zlib.crc32(t + d))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


@pytest.mark.seed("RKY-07")
def test_images_are_checked_by_magic_bytes_and_size():
    info = validate_image(png(640, 480))
    assert (info.mime, info.width, info.height) == ("image/png", 640, 480)
    jpeg = (b"\xff\xd8\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00" + b"\x00" * 9 +
            b"\xff\xc0" + struct.pack(">HBHH", 17, 8, 300, 200) + b"\x00" * 12)
    assert validate_image(jpeg).width == 200 and validate_image(jpeg).height == 300
    a = Assistant()
    assert "640x480 image/png" in a.ask("read this score", image=png(640, 480)).text
    cases = {
        b"%PDF-1.7 definitely not an image": "unknown format",
        b"\x89PNG\r\n\x1a\n": "too short",
        png(100_000, 10): "outside 1..8192",
        png(0, 10): "outside",
        b"\xff\xd8\xff\xe0" + b"\x00" * 30: "JPEG",
        b"x" * (9 * 2**20): "over the limit",
    }
    for data, msg in cases.items():
        with pytest.raises(ImageError, match=msg):
            validate_image(data)
        r = a.ask("look", image=data)
        assert not r.ok and msg in r.error
    assert not a.ask("look", image="not bytes").ok  # type: ignore[arg-type]
    assert a.ask("info").ok or True  # the session is still usable


class Flood:
    """A backend whose answer is 100 MB, streamed in 64 KB pieces."""

    name = "flood"

    def __init__(self):
        self.sent = 0
        self.closed = False

    def respond(self, messages, tools, cancel):
        return ChatResponse("w" * 1_000_000)

    def stream(self, messages, tools, cancel):
        try:
            for _ in range(1600):
                self.sent += 65536
                yield "w" * 65536
        finally:
            self.closed = True


@pytest.mark.seed("RKY-08")
def test_large_responses_are_cut_and_long_answers_stream():
    f = Flood()
    a = Assistant(f, max_response_chars=200_000)
    r = a.ask("write a symphony")
    assert r.truncated and len(r.text) == 200_000 + len(" [truncated]")
    tracemalloc.start()
    try:
        pieces = list(a.stream("again, streamed"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert f.closed and f.sent <= 4 * 65536  # stopped reading at the limit
    assert sum(len(p) for p in pieces[:-1]) == 200_000 and pieces[-1] == " [truncated]"
    assert peak < 8 * 2**20
    chunks = list(Assistant(score=SONG).stream("analyse the chords", chunk_chars=10))
    assert len(chunks) > 2 and "".join(chunks).startswith("bar 1: C")


@pytest.mark.seed("RKY-09")
def test_cold_start_is_measured_and_warm_up_removes_it():
    cold = Echo(cold=0.3)
    a = Assistant(cold)
    first = a.ask("hi")
    assert a.stats["first_call_latency_s"] >= 0.3 and first.latency_s >= 0.3
    warmed = Assistant(Echo(cold=0.3))
    assert warmed.warm_up() >= 0.3 and warmed.stats["warm_up_s"] >= 0.3
    r = warmed.ask("hi")
    assert r.latency_s < 0.1 and warmed.stats["last_latency_s"] < 0.1

    class WithWarm(Echo):
        warmed = False

        def warm_up(self):
            time.sleep(0.05)
            WithWarm.warmed = True

    assert Assistant(WithWarm()).warm_up() >= 0.05 and WithWarm.warmed


@pytest.mark.seed("RKY-10")
def test_concurrent_requests_on_one_session_are_serialised():
    slow = Echo(delay=0.002)
    a = Assistant(slow, rate_limiter=RateLimiter(1e6, 10**6), max_messages=1000,
                  max_pending=200)
    threads = [threading.Thread(target=lambda i=i: a.ask(f"q{i}")) for i in range(120)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    h = a.history
    assert slow.peak == 1 and len(h) == 240
    for user, answer in zip(h[::2], h[1::2], strict=True):  # never interleaved
        assert user.role == "user" and answer.content == f"ok:{user.content}"


def test_generate_tool_uses_the_generation_service(markov):
    with GenerationService([markov]) as svc:
        a = Assistant(service=svc)
        assert a.ask("generate 2 bars in G").ok and svc.stats()["completed"] == 1
    assert isinstance(RuleBackend().name, str)
