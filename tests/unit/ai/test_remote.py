"""RemoteBackend against fakes: an in-process transport and a real server on 127.0.0.1."""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import numpy as np
import pytest

from mos_lab.ai.core.errors import (
    BackendError,
    GenerationTimeout,
    InvalidOutputError,
    InvalidResponseError,
    TransientBackendError,
)
from mos_lab.ai.core.types import GenerationRequest
from mos_lab.ai.models.remote import HttpResponse, RemoteBackend
from mos_lab.ai.service.generation import GenerationService, RetryPolicy
from mos_lab.ai.service.ratelimit import RateLimiter
from mos_lab.score import Score

REQ = GenerationRequest(key="C", bars=2, seed=5, sample_rate=16_000)
FAST = RetryPolicy(attempts=4, base=0.02, factor=2.0, jitter=0.0, quality_retries=1)


def score_doc(req=REQ) -> bytes:
    rows = [(i * 480, 480, 60 + (i % 5) * 2, 80) for i in range(req.bars * 4)]
    return json.dumps({"score": Score.from_notes(rows).to_nvx1(), "model": "notagen",
                       "version": "2024.1", "checksum": "f" * 64}).encode()


class Script:
    """A transport that plays back a list of answers (exceptions are raised)."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.times: list[float] = []
        self.requests = []

    def __call__(self, req):
        self.times.append(time.monotonic())
        self.requests.append(req)
        a = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(a, BaseException):
            raise a
        return a


@pytest.mark.seed("NOT-08", "MGN-08")
def test_network_failures_are_retried_with_exponential_backoff():
    t = Script(ConnectionRefusedError("refused"), HttpResponse(502), OSError("reset"),
               HttpResponse(200, score_doc()))
    with GenerationService([RemoteBackend("http://x/gen", transport=t)], retry=FAST) as svc:
        res = svc.generate(REQ)
    gaps = np.diff(t.times)
    assert len(t.times) == 4
    assert gaps[0] >= 0.018 and gaps[1] >= 0.036 and gaps[2] >= 0.075  # 0.02, 0.04, 0.08
    assert res.provenance.model == "notagen" and res.provenance.version == "2024.1"
    assert res.provenance.attempts == 4 and len(res.provenance.notes) == 3
    assert json.loads(t.requests[0].body)["key"] == "C"


@pytest.mark.seed("NOT-08", "MGN-08")
def test_an_api_that_stays_down_falls_back_to_the_offline_backend(markov, bus):
    down = Script(ConnectionRefusedError("connection refused"))
    remote = RemoteBackend("http://x/gen", name="notagen", transport=down)
    with GenerationService([remote, markov], retry=FAST, bus=bus,
                           fallbacks={"notagen": "markov"}) as svc:
        res = svc.generate(REQ)
    assert len(down.times) == FAST.attempts
    assert res.provenance.model == "markov" and res.provenance.fallback_from == "notagen"
    assert "connection refused" in res.provenance.notes[-1]


@pytest.mark.seed("NOT-08")
def test_rate_limited_server_retry_after_is_honoured_and_4xx_is_not_retried():
    t = Script(HttpResponse(429, b"slow down", {"Retry-After": "0.1"}),
               HttpResponse(200, score_doc()))
    with GenerationService([RemoteBackend("http://x", transport=t)], retry=FAST) as svc:
        svc.generate(REQ)
        assert t.times[1] - t.times[0] >= 0.095
        bad = Script(HttpResponse(400, b"bad key"))
        svc.register(RemoteBackend("http://y", name="strict", transport=bad))
        with pytest.raises(BackendError, match="HTTP 400"):
            svc.generate(REQ, backend="strict")
    assert len(bad.times) == 1


@pytest.mark.seed("NOT-09")
@pytest.mark.parametrize("body, expect", [
    (b"<html>502 Bad Gateway</html>", "not JSON"),
    (b'{"score": {"tracks": "oops"', "not JSON"),
    (b"[1, 2, 3]", "expected a JSON object"),
    (b'{"notes": []}', "score: missing"),
    (json.dumps({"score": {"format": "nvx1", "version": 1, "tracks": [
        {"notes": [{"start": 0, "duration": 1, "pitch": 999, "velocity": 90}]}]}}).encode(),
     "bad score in response"),
])
def test_invalid_json_is_caught_retried_then_reported(body, expect):
    t = Script(HttpResponse(200, body))
    with (GenerationService([RemoteBackend("http://x", transport=t)], retry=FAST) as svc,
          pytest.raises(InvalidResponseError, match=expect)):
        svc.generate(REQ)
    assert len(t.times) == 1 + FAST.quality_retries


@pytest.mark.seed("NOT-09")
def test_one_invalid_response_then_a_good_one_recovers():
    t = Script(HttpResponse(200, b"garbage"), HttpResponse(200, score_doc()))
    with GenerationService([RemoteBackend("http://x", transport=t)], retry=FAST) as svc:
        res = svc.generate(REQ)
    assert res.score.n_notes == 8 and "not JSON" in res.provenance.notes[0]


def wav_bytes(x: np.ndarray, sr: int) -> bytes:
    import soundfile as sf
    buf = io.BytesIO()
    sf.write(buf, x, sr, format="WAV")
    return buf.getvalue()


def audio_doc(**fields) -> bytes:
    return json.dumps(fields).encode()


@pytest.mark.seed("MGN-09", "MGN-05")
def test_remote_audio_is_decoded_validated_and_converted():
    sr = 22_050
    tone = (0.3 * np.sin(np.arange(sr) * 2 * np.pi * 440 / sr)).astype(np.float32)
    good = audio_doc(audio=base64.b64encode(wav_bytes(tone, sr)).decode(), format="wav")
    remote = RemoteBackend("http://x", kind="audio", transport=Script(HttpResponse(200, good)))
    with GenerationService([remote], retry=FAST) as svc:
        res = svc.generate(REQ)
    assert res.audio.shape == (16_000, 2) and res.audio.dtype == np.float32
    assert res.sample_rate == 16_000 and res.meta["source_rate"] == sr

    nan = np.full((1000, 1), np.nan, np.float32).tobytes()
    cases = {
        "not base64": audio_doc(audio="@@@", format="wav"),
        "could not be decoded": audio_doc(audio=base64.b64encode(b"RIFFnope").decode(),
                                          format="wav"),
        "whole frames": audio_doc(audio=base64.b64encode(b"abc").decode(),
                                  format="pcm_f32le", sample_rate=16000),
        "NaN": audio_doc(audio=base64.b64encode(nan).decode(), format="pcm_f32le",
                         sample_rate=16000),
        "mp3": audio_doc(audio=base64.b64encode(b"ID3....").decode(), format="mp3"),
    }
    for expect, body in cases.items():
        b = RemoteBackend("http://x", kind="audio", transport=Script(HttpResponse(200, body)))
        with GenerationService([b], retry=FAST) as svc, pytest.raises(
                (InvalidResponseError, InvalidOutputError), match=expect):
            svc.generate(REQ)


class _Handler(BaseHTTPRequestHandler):
    calls: ClassVar[list[float]] = []
    mode = "ok"

    def log_message(self, *a):  # keep test output clean
        pass

    def do_POST(self):
        _Handler.calls.append(time.monotonic())
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if _Handler.mode == "slow":
            time.sleep(0.5)
        if _Handler.mode == "flaky" and len(_Handler.calls) < 3:
            self.send_response(503)
            self.send_header("Retry-After", "0")
            self.end_headers()
            return
        out = score_doc(GenerationRequest(bars=body["bars"]))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    th = threading.Thread(target=srv.serve_forever, name="test-http", daemon=True)
    th.start()
    _Handler.calls = []
    yield f"http://127.0.0.1:{srv.server_address[1]}/generate"
    srv.shutdown()
    srv.server_close()
    th.join(5)


@pytest.mark.seed("NOT-08", "MGN-01")
def test_a_real_local_server_flaky_then_slow(server):
    _Handler.mode = "flaky"
    remote = RemoteBackend(server, request_timeout=5)
    with GenerationService([remote], retry=FAST) as svc:
        assert svc.generate(REQ).score.n_notes == 8
        assert len(_Handler.calls) == 3
        _Handler.mode = "slow"  # answers after 0.5 s; the job may take 0.2 s
        t0 = time.monotonic()
        with pytest.raises((GenerationTimeout, TransientBackendError)):
            svc.generate(REQ, timeout=0.2)
        assert time.monotonic() - t0 < 1.0
    _Handler.mode = "ok"
    time.sleep(0.4)  # let the slow handler finish before the server shuts down


@pytest.mark.seed("RKY-01", "INT-02")
def test_client_side_rate_limiter_spaces_a_burst_of_remote_calls():
    t = Script(HttpResponse(200, score_doc()))
    limiter = RateLimiter(rate=100, burst=5)
    remote = RemoteBackend("http://x", transport=t, rate_limiter=limiter)
    with GenerationService([remote], concurrency=8, max_queue=64, retry=FAST) as svc:
        jobs = [svc.submit(REQ) for _ in range(40)]
        for j in jobs:
            j.result(timeout=10)
    times = np.sort(np.array(t.times))
    span = times[-1] - times[0]
    assert span >= (40 - 5) / 100 * 0.9
    for i in range(len(times)):  # in any window, at most burst + rate * window calls
        window = times[(times >= times[i]) & (times < times[i] + 0.1)]
        assert len(window) <= 5 + 100 * 0.1 + 1


def test_transient_error_keeps_retry_after():
    e = TransientBackendError("x", retry_after=2.0)
    assert e.retry_after == 2.0 and isinstance(e, BackendError)
