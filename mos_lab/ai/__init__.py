"""mos_lab.ai — generation as a service: backends, Instant Jam and the assistant.

Map::

    GenerationService(backends, bus=, concurrency=2, max_queue=32, timeout=60,
                      fallbacks={"remote": "markov"}, memory_limit=, idle_unload_s=300)
      .submit(GenerationRequest) -> Job    .future .cancel() .progress   (bounded queue)
      .generate(request) -> GenerationResult(score|audio, provenance, partial, missing)
      .stats()  .close()
    GenerationRequest(prompt, key="D minor", bpm, bars, meter, seed, condition, duration_s,
                      sample_rate, batch, params)       checked by validate_request
    Backend protocol: info: ModelInfo; generate(request, progress, cancel) -> result;
                      load() unload() memory_bytes() verify()        (BaseBackend: defaults)
      MarkovBackend(corpus="bach"|files)   offline melodies+chords, trained on first use,
                                           cached .npz with version + sha256
      RenderBackend(symbolic)              offline prompt -> audio through the engine
      RemoteBackend(url, kind=, transport=, rate_limiter=)   JSON over HTTP
      make_backend("musicgen")             needs pip install 'mos_lab[ai]' (torch)
    InstantJam(bus=, timeouts=, max_queue=0).start(request) -> JamJob .result() .cancel()
      JamResult(score, audio, phases, partial, time_to_first_sound_s, total_s)
    Assistant(backend=RuleBackend(), score=, service=).ask(text, image=) -> Reply
      .stream(text)  .warm_up()  .history  .stats           tools: load, transpose,
                                                            chord_at, analyse_chords, generate
    audioio: conform_audio, decode_audio, export_audio (FLAC), align_to_score, collect_stream
    RateLimiter(rate, burst, max_waiting);  errors: AIError and subclasses

Example::

    from mos_lab.ai import GenerationService, GenerationRequest, MarkovBackend, RenderBackend
    markov = MarkovBackend()
    with GenerationService([markov, RenderBackend(markov)]) as svc:
        res = svc.generate(GenerationRequest(key="D minor", bars=8, seed=1))
        print(res.score, res.provenance.checksum[:12])
        job = svc.submit(GenerationRequest(prompt="strings", bars=4), backend="render")
        audio = job.result(timeout=30).audio          # (frames, 2) float32
"""

from mos_lab.ai._runner import abandoned
from mos_lab.ai.assistant import Assistant, ChatBackend, Reply, count_tokens
from mos_lab.ai.audioio import (
    StreamResult,
    align_to_score,
    collect_stream,
    conform_audio,
    decode_audio,
    export_audio,
    onset_offsets,
)
from mos_lab.ai.backends import (
    Backend,
    BaseBackend,
    FunctionBackend,
    HttpRequest,
    HttpResponse,
    MarkovBackend,
    RemoteBackend,
    RenderBackend,
    make_backend,
)
from mos_lab.ai.errors import (
    AIError,
    BackendError,
    GenerationCancelled,
    GenerationTimeout,
    InvalidOutputError,
    InvalidRequestError,
    InvalidResponseError,
    MissingAIDependencyError,
    ModelMismatchError,
    OutOfMemoryError,
    QueueFullError,
    RateLimitedError,
    TransientBackendError,
)
from mos_lab.ai.images import ImageError, validate_image
from mos_lab.ai.jam import InstantJam, JamBusyError, JamJob, JamResult
from mos_lab.ai.merge import MergeError, merge_parts, merge_problems
from mos_lab.ai.pool import ModelPool
from mos_lab.ai.ratelimit import RateLimiter
from mos_lab.ai.rules import ChatResponse, Message, RuleBackend, ToolCall
from mos_lab.ai.service import GenerationService, Job, RetryPolicy
from mos_lab.ai.tools import Tool, ToolContext, default_tools
from mos_lab.ai.types import (
    CancelToken,
    GenerationRequest,
    GenerationResult,
    ModelInfo,
    Provenance,
)
from mos_lab.ai.validate import audio_problems, score_problems, validate_request

__all__ = [
    "AIError", "Assistant", "Backend", "BackendError", "BaseBackend", "CancelToken",
    "ChatBackend", "ChatResponse", "FunctionBackend", "GenerationCancelled",
    "GenerationRequest", "GenerationResult", "GenerationService", "GenerationTimeout",
    "HttpRequest", "HttpResponse", "ImageError", "InstantJam", "InvalidOutputError",
    "InvalidRequestError", "InvalidResponseError", "JamBusyError", "JamJob", "JamResult",
    "Job", "MarkovBackend", "MergeError", "Message", "MissingAIDependencyError", "ModelInfo",
    "ModelMismatchError", "ModelPool", "OutOfMemoryError", "Provenance", "QueueFullError",
    "RateLimitedError", "RateLimiter", "RemoteBackend", "RenderBackend", "Reply",
    "RetryPolicy", "RuleBackend", "StreamResult", "Tool", "ToolCall", "ToolContext",
    "TransientBackendError", "abandoned", "align_to_score", "audio_problems",
    "collect_stream", "conform_audio", "count_tokens", "decode_audio", "default_tools",
    "export_audio", "make_backend", "merge_parts", "merge_problems", "onset_offsets",
    "score_problems", "validate_image", "validate_request",
]
