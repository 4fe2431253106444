"""The default phases of Instant Jam and their simpler fallbacks.

A phase is ``fn(ctx, token)``: it reads what earlier phases made from ``ctx``, polls
``token`` between steps (so a timeout or cancel stops it within one step), reports
through ``ctx.progress`` and returns its product. Each main phase has a fallback that
needs less (no model, fewer parts, a lower sample rate), used when it fails (JAM-01..03).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from mos_lab.ai.core.types import CancelToken, GenerationRequest
from mos_lab.ai.core.validate import bar_ticks, request_key
from mos_lab.engine import SAMPLE_RATE
from mos_lab.score import Chord, Score
from mos_lab.theory import SymbolError, parse_symbol

Phase = Callable[["JamContext", CancelToken], Any]


@dataclass
class JamContext:
    request: GenerationRequest
    progress: Callable[[float, float], None]
    skeleton: Score | None = None
    score: Score | None = None
    sample_rate: int = SAMPLE_RATE
    first_sound: Callable[[], None] = lambda: None
    symbolic: Any = None  # the Backend of the skeleton phase (default: a MarkovBackend)


def markov_skeleton(ctx: JamContext, token: CancelToken) -> Score:
    """Melody and chords from the (shared, lazily trained) Markov model."""
    res = (ctx.symbolic or _markov()).generate(ctx.request, ctx.progress, token)
    assert res.score is not None
    return res.score


_MARKOV: list[Any] = []


def _markov() -> Any:
    if not _MARKOV:
        from mos_lab.ai.models.markov.backend import MarkovBackend
        _MARKOV.append(MarkovBackend())
    return _MARKOV[0]


def simple_skeleton(ctx: JamContext, token: CancelToken) -> Score:
    """Arpeggios of I-IV-V-I (repeated) in the key: no model, cannot really fail."""
    req = ctx.request
    key = request_key(req.key)
    tpq, bar = 480, bar_ticks(480, req.meter)
    degrees = [0, 3, 4, 0]
    tonic = key.tonic.pc
    from mos_lab.ai.models.markov.backend import chord_symbol, triad
    rows, chords = [], []
    step = bar // 4
    for b in range(req.bars):
        deg = degrees[b % 4] if b < req.bars - 1 else 0
        tones = [p.pc for p in triad(key, deg)]
        for i in range(4):
            pc = tones[[0, 1, 2, 1][i]]
            rows.append((b * bar + i * step, step, 60 + (pc - tonic) % 12 + tonic, 80))
        chords.append(Chord(b * bar, bar, ""))
    s = Score.from_notes(rows, tpq=tpq, bpm=req.bpm, title="simple skeleton")
    return s.replace(chords=tuple(Chord(c.tick, c.duration, chord_symbol(
        key, degrees[i % 4] if i < req.bars - 1 else 0)) for i, c in enumerate(chords)))


def _chord_pcs(symbol: str) -> list[int]:
    """Root, third and fifth pitch classes of a chord symbol (C major if unreadable)."""
    try:
        sym = parse_symbol(symbol)
    except (SymbolError, ValueError):
        return [0, 4, 7]
    root = sym.root.pc
    rest = sorted({(p.pc - root) % 12 for p in sym.pitches()})
    third = next((iv for iv in rest if iv in (3, 4)), 4)
    fifth = next((iv for iv in rest if iv in (6, 7, 8)), 7)
    return [root, (root + third) % 12, (root + fifth) % 12]


def band_orchestration(ctx: JamContext, token: CancelToken) -> list[Score]:
    """Melody (piano), a walking root-fifth bass and a pad holding each bar's triad."""
    sk = ctx.skeleton
    assert sk is not None
    bass, pad = [], []
    for i, ch in enumerate(sk.chords):
        token.check()
        ctx.progress(i, len(sk.chords))
        r, t, f = _chord_pcs(ch.symbol)
        half = ch.duration // 2
        bass += [(ch.tick, half, 36 + r, 90), (ch.tick + half, half, 36 + f, 80)]
        pad += [(ch.tick, ch.duration, 48 + (p - r) % 12 + r, 60) for p in (r, t, f)]
    mk = lambda rows, prog: Score.from_notes(rows, tpq=sk.tpq, bpm=sk.tempo.bpm_at(0),  # noqa: E731
                                             program=prog)
    return [sk, mk(bass, 33), mk(pad, 48)]


def bass_only(ctx: JamContext, token: CancelToken) -> list[Score]:
    sk = ctx.skeleton
    assert sk is not None
    rows = [(c.tick, c.duration, 36 + _chord_pcs(c.symbol)[0], 85) for c in sk.chords]
    return [sk, Score.from_notes(rows, tpq=sk.tpq, bpm=sk.tempo.bpm_at(0), program=33)]


def engine_audio(ctx: JamContext, token: CancelToken) -> np.ndarray:
    """The merged score rendered by the engine, streamed (first chunk = first sound)."""
    from mos_lab.ai.models.render import RenderBackend

    score = ctx.score
    assert score is not None
    r = RenderBackend(symbolic=ctx.symbolic or _markov(), tail_s=0.5)
    chunks: list[np.ndarray] = []
    total = score.duration + 0.5
    for c in r.stream(score, ctx.sample_rate, token):
        if not chunks:
            ctx.first_sound()
        chunks.append(c)
        ctx.progress(sum(len(x) for x in chunks) / ctx.sample_rate, total)
    return np.concatenate(chunks)


def melody_audio(ctx: JamContext, token: CancelToken) -> np.ndarray:
    """Fallback: the skeleton alone at a quarter of the rate, then resampled up."""
    from mos_lab.ai.core.audioio import conform_audio

    low = max(8000, ctx.sample_rate // 4)
    sub = replace(ctx, score=ctx.skeleton, sample_rate=low)
    return conform_audio(engine_audio(sub, token), low, target_rate=ctx.sample_rate)
