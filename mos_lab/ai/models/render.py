"""The offline audio generator: prompt -> score -> audio through mos_lab's own engine.

A MusicGen-like interface (text prompt in, samples and a sample rate out) that needs no
weights: the score comes from the request's conditioning score or from a symbolic backend
(the Markov model by default); the prompt picks the instrument ("strings", "organ",
"flute"...) and the seed varies velocities. Rendering goes through
``mos_lab.engine.render`` (Timeline + Scheduler + Synth), the same code path as playback, so
the audio sits on the score's tempo map by construction (MGN-10), block by block, which is
also what makes it a stream: ``stream()`` yields chunks as they are rendered, checks the
cancel token between them and can start again at any frame (MGN-04).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from mos_lab.ai.core.audioio import collect_stream
from mos_lab.ai.core.backend import Backend, BaseBackend
from mos_lab.ai.core.types import (
    CancelToken,
    GenerationRequest,
    GenerationResult,
    ModelInfo,
    Progress,
)
from mos_lab.ai.core.validate import condition_score
from mos_lab.engine import render
from mos_lab.score import Score

VERSION = "render-1"
PROGRAMS = {"piano": 0, "keys": 4, "marimba": 12, "organ": 19, "guitar": 24, "bass": 33,
            "strings": 48, "choir": 52, "brass": 61, "sax": 65, "flute": 73, "synth": 81}


def program_for(prompt: str, default: int = 0) -> int:
    """The GM program named in a prompt ("lofi strings" -> 48), else ``default``."""
    for word in re.findall(r"[a-z]+", prompt.lower()):
        if word in PROGRAMS:
            return PROGRAMS[word]
        if word.rstrip("s") in PROGRAMS:
            return PROGRAMS[word.rstrip("s")]
    return default


def crop(score: Score, seconds: float) -> Score:
    """``score`` cut at ``seconds`` (later notes dropped, sounding ones shortened)."""
    end = int(score.tempo.seconds_to_ticks(seconds))
    n = score.notes[score.notes["start"] < end].copy()
    n["duration"] = np.minimum(n["duration"], end - n["start"])
    return score.replace(notes=n)


class RenderBackend(BaseBackend):
    """Offline text-to-audio: a symbolic backend's score rendered by the engine."""

    def __init__(self, symbolic: Backend | None = None, *, tail_s: float = 1.0,
                 chunk_s: float = 0.25, max_voices: int = 32) -> None:
        if symbolic is None:
            from mos_lab.ai.models.markov.backend import MarkovBackend
            symbolic = MarkovBackend()
        self.symbolic = symbolic
        self.tail_s = tail_s
        self.chunk_s = chunk_s
        self.max_voices = max_voices
        self.info = ModelInfo("render", VERSION, "", "audio")

    def load(self) -> None:
        self.symbolic.load()
        sub = self.symbolic.info
        digest = hashlib.sha256(f"{VERSION}:{sub.name}:{sub.checksum}".encode()).hexdigest()
        self.info = ModelInfo("render", VERSION, digest, "audio")

    def unload(self) -> None:
        self.symbolic.unload()

    def memory_bytes(self) -> int:
        return self.symbolic.memory_bytes()

    def score_for(self, req: GenerationRequest, progress: Progress,
                  cancel: CancelToken) -> Score:
        """The score to render: the conditioning one, or a new one from the symbolic model,
        with the prompt's instrument and seeded velocity variation."""
        score = condition_score(req)
        if score is None:
            score = self.symbolic.generate(req, progress, cancel).score
            assert score is not None
        program = program_for(req.prompt, score.tracks[0].program if score.tracks else 0)
        rng = np.random.default_rng(req.seed)
        notes = score.notes.copy()
        vel = notes["velocity"].astype(np.int64) + rng.integers(-8, 9, len(notes))
        notes["velocity"] = np.clip(vel, 1, 127)
        tracks = tuple(t if t.drums else type(t)(t.name, program, t.channel, False)
                       for t in score.tracks)
        score = score.replace(notes=notes, tracks=tracks)
        if req.duration_s is not None and score.duration > req.duration_s:
            score = crop(score, req.duration_s)
        return score

    def stream(self, score: Score, sample_rate: int, cancel: CancelToken | None = None,
               start_frame: int = 0) -> Iterator[np.ndarray]:
        """Yield (frames, 2) float32 chunks of ``score`` rendered from ``start_frame``."""
        block = 1024
        chunk = max(block, int(self.chunk_s * sample_rate) // block * block)
        job = render(score, sample_rate=sample_rate, tail_s=self.tail_s, block=chunk,
                     max_voices=self.max_voices, threads=1)
        pos = 0
        for buf in job:  # from frame 0 and skipped, so a restart continues the same audio
            if cancel is not None:
                cancel.check()
            n = len(buf)
            if pos + n > start_frame:
                yield buf[max(0, start_frame - pos):n]
            pos += n

    def generate(self, request: GenerationRequest, progress: Progress,
                 cancel: CancelToken) -> GenerationResult:
        t0 = time.monotonic()
        score = self.score_for(request, lambda d, n: progress(0.2 * d / max(n, 1), 1.0),
                               cancel)
        sr = request.sample_rate
        total = max(score.duration + self.tail_s, 1e-3)
        done = [0]

        def opened(start: int) -> Iterator[np.ndarray]:
            for c in self.stream(score, sr, cancel, start):
                done[0] += len(c)
                progress(0.2 + 0.8 * min(done[0] / sr / total, 1.0), 1.0)
                yield c

        t_stream = time.monotonic()
        res = collect_stream(opened, cancel=cancel, max_resumes=0)
        cancel.check()
        meta: dict[str, Any] = {
            "first_sound_s": t_stream - t0 + (res.first_chunk_s or 0.0),
            "render_s": time.monotonic() - t0}
        return GenerationResult(score=score, audio=res.audio, sample_rate=sr,
                                partial=res.partial, meta=meta)
