"""Backends behind HTTP: one request per generation, through a swappable transport.

Like httpx, the network is a transport: a function ``HttpRequest -> HttpResponse``. The
default uses urllib (stdlib); tests pass an in-process function or point at a local
server. :class:`RemoteBackend` maps what can go wrong to the service's error kinds:

- connection refused/reset, timeouts, HTTP 5xx -> TransientBackendError (retried with
  backoff, then the fallback runs; NOT-08, MGN-08); HTTP 429/503 carry Retry-After;
- HTTP 4xx -> BackendError (not retried: the request is wrong);
- a body that is not JSON, too large, or JSON of the wrong shape -> InvalidResponseError
  (NOT-09); audio that does not decode or is not audio -> InvalidResponseError (MGN-09).

A client-side :class:`RateLimiter` spaces requests out before they leave (RKY-01).
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mos_lab.ai.core.audioio import conform_audio, decode_audio
from mos_lab.ai.core.backend import BaseBackend
from mos_lab.ai.core.errors import (
    BackendError,
    InvalidResponseError,
    RateLimitedError,
    TransientBackendError,
)
from mos_lab.ai.core.types import (
    CancelToken,
    GenerationRequest,
    GenerationResult,
    ModelInfo,
    Progress,
    Provenance,
)
from mos_lab.ai.core.validate import condition_score
from mos_lab.ai.service.ratelimit import RateLimiter
from mos_lab.score import Score, nvx1


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 30.0


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


Transport = Callable[[HttpRequest], HttpResponse]


def urllib_transport(req: HttpRequest) -> HttpResponse:
    """The default transport (stdlib urllib); network failures become TransientBackendError."""
    r = urllib.request.Request(req.url, data=req.body or None, method=req.method,
                               headers=dict(req.headers))
    try:
        with urllib.request.urlopen(r, timeout=req.timeout) as resp:
            return HttpResponse(resp.status, resp.read(), dict(resp.headers))
    except urllib.error.HTTPError as exc:
        return HttpResponse(exc.code, exc.read() or b"", dict(exc.headers or {}))
    except (urllib.error.URLError, OSError) as exc:  # refused, reset, timeout
        raise TransientBackendError(f"{req.url}: {exc}") from exc


def _retry_after(headers: Mapping[str, str]) -> float | None:
    for k, v in headers.items():
        if k.lower() == "retry-after":
            try:
                return float(v)
            except ValueError:
                return None
    return None


class RemoteBackend(BaseBackend):
    """A generation API at ``url`` taking JSON and answering JSON.

    Request body: the request's fields (``prompt``, ``key``, ``bpm``, ``bars``, ``meter``,
    ``seed``, ``duration_s``, ``sample_rate``, ``params``, ``condition`` as NVX1).
    Symbolic answer: ``{"score": <NVX1>}``; audio answer: ``{"audio": <base64>, "format":
    "wav"|"flac"|"pcm_f32le"|"pcm_s16le", "sample_rate": int, "channels": int}``; both may
    add ``model``, ``version``, ``checksum`` for provenance.
    """

    def __init__(self, url: str, *, name: str = "remote", kind: str = "symbolic",
                 version: str = "", transport: Transport | None = None,
                 headers: Mapping[str, str] | None = None,
                 rate_limiter: RateLimiter | None = None, request_timeout: float = 60.0,
                 max_response_bytes: int = 64 * 2**20) -> None:
        if kind not in ("symbolic", "audio"):
            raise ValueError(f"kind: {kind!r} is not 'symbolic' or 'audio'")
        self.url = url
        self.info = ModelInfo(name, version, "", kind, remote=True)
        self.transport = transport or urllib_transport
        self.headers = {"Content-Type": "application/json", "Accept": "application/json",
                        **(headers or {})}
        self.rate_limiter = rate_limiter
        self.request_timeout = request_timeout
        self.max_response_bytes = max_response_bytes
        self.calls = 0

    def payload(self, req: GenerationRequest) -> dict[str, Any]:
        cond = condition_score(req)
        return {"prompt": req.prompt, "key": req.key, "bpm": req.bpm, "bars": req.bars,
                "meter": list(req.meter), "seed": req.seed, "duration_s": req.duration_s,
                "sample_rate": req.sample_rate, "batch": req.batch, "params": dict(req.params),
                "condition": None if cond is None else nvx1.to_nvx1(cond)}

    def generate(self, request: GenerationRequest, progress: Progress,
                 cancel: CancelToken) -> GenerationResult:
        if self.rate_limiter is not None:
            try:
                self.rate_limiter.acquire(timeout=cancel.remaining())
            except RateLimitedError as exc:
                raise TransientBackendError(f"{self.info.name}: {exc}") from exc
        cancel.check()
        left = cancel.remaining()
        timeout = self.request_timeout if left is None else min(self.request_timeout, left)
        body = json.dumps(self.payload(request)).encode()
        self.calls += 1
        try:
            resp = self.transport(HttpRequest("POST", self.url, body, self.headers, timeout))
        except (OSError, TimeoutError) as exc:
            raise TransientBackendError(f"{self.info.name}: {exc}") from exc
        cancel.check()
        return self.parse_response(resp, request)

    def parse_response(self, resp: HttpResponse, req: GenerationRequest) -> GenerationResult:
        name = self.info.name
        if resp.status in (429, 503) or resp.status >= 500:
            raise TransientBackendError(f"{name}: HTTP {resp.status}",
                                        retry_after=_retry_after(resp.headers))
        if resp.status >= 400:
            raise BackendError(f"{name}: HTTP {resp.status}: {resp.body[:200]!r}")
        if len(resp.body) > self.max_response_bytes:
            raise InvalidResponseError(f"{name}: response of {len(resp.body)} bytes is over "
                                       f"the limit of {self.max_response_bytes}")
        try:
            doc = json.loads(resp.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidResponseError(
                f"{name}: response is not JSON ({exc}): {resp.body[:80]!r}") from None
        if not isinstance(doc, dict):
            raise InvalidResponseError(f"{name}: response is a {type(doc).__name__}, "
                                       "expected a JSON object")
        prov = Provenance(str(doc.get("model", "") or name), str(doc.get("version", "") or ""),
                          str(doc.get("checksum", "") or ""), req.seed, req.prompt, 0.0)
        if self.info.kind == "audio":
            return self._audio(doc, req, prov)
        sc = doc.get("score")
        problems = nvx1.validate(sc) if isinstance(sc, dict) else ["score: missing or not "
                                                                   "an object"]
        if problems:
            raise InvalidResponseError(f"{name}: bad score in response: " +
                                       "; ".join(problems[:5]))
        score: Score = nvx1.from_nvx1(sc)
        return GenerationResult(score=score, provenance=prov)

    def _audio(self, doc: dict[str, Any], req: GenerationRequest,
               prov: Provenance) -> GenerationResult:
        name = self.info.name
        try:
            payload = base64.b64decode(doc["audio"], validate=True)
            fmt = str(doc.get("format", "wav"))
            rate = doc.get("sample_rate")
            channels = int(doc.get("channels", 1))
            if rate is not None and (not isinstance(rate, int) or isinstance(rate, bool)):
                raise ValueError(f"sample_rate {rate!r} is not a whole number")
        except (KeyError, ValueError, TypeError) as exc:
            raise InvalidResponseError(f"{name}: audio field missing or not base64 ({exc})"
                                       ) from None
        data, sr = decode_audio(payload, fmt, sample_rate=rate, channels=channels)
        audio = conform_audio(data, sr, target_rate=req.sample_rate)
        return GenerationResult(audio=audio, sample_rate=req.sample_rate, provenance=prov,
                                meta={"source_rate": sr, "source_format": fmt})
