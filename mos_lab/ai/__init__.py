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
    Assistant(backend=RuleBackend(), score=, service=, fallback=).ask(text, image=) -> Reply
      .stream(text)  .warm_up()  .history  .stats    tools: load, transpose, chord_at,
          analyse_chords, key, generate, info, engrave; with context.transport (the
          session's engine): play, pause, seek, loop, tempo
    ChatCompletionsBackend(base_url, api_key=, model=) / .from_env()   an OpenAI-compatible
          server (llama.cpp, vLLM, Ollama): SSE streaming, tool calls, retries, stall
          timeout; MOS_LAB_LLM_BASE_URL / MOS_LAB_LLM_API_KEY / MOS_LAB_LLM_MODEL
    listening: ABStore(path).trial(a, b) -> Trial(.left, .right).rate("left"|"right"|"same")
          .tally() (Wilson 95 %)  Generation.from_result(result); widget in widgets.listening
    audioio: conform_audio, decode_audio, export_audio (FLAC), align_to_score, collect_stream
    RateLimiter(rate, burst, max_waiting);  errors: AIError and subclasses

Example::

    from mos_lab.ai.models.markov.backend import MarkovBackend
    from mos_lab.ai.models.render import RenderBackend
    from mos_lab.ai.service.generation import GenerationService
    from mos_lab.ai.core.types import GenerationRequest
    markov = MarkovBackend()
    with GenerationService([markov, RenderBackend(markov)]) as svc:
        res = svc.generate(GenerationRequest(key="D minor", bars=8, seed=1))
        print(res.score, res.provenance.checksum[:12])
        job = svc.submit(GenerationRequest(prompt="strings", bars=4), backend="render")
        audio = job.result(timeout=30).audio          # (frames, 2) float32
"""

from mos_lab.ai.assistant.chat import Assistant
from mos_lab.ai.assistant.llm import ChatCompletionsBackend
from mos_lab.ai.assistant.rules import RuleBackend
from mos_lab.ai.assistant.tools import Tool, default_tools

__all__ = [
    "Assistant",
    "ChatCompletionsBackend",
    "RuleBackend",
    "Tool",
    "default_tools",
]
