"""Checks on what goes into a backend and what comes out of one.

Input (NOT-03): every field of a :class:`GenerationRequest` is range-checked and a
conditioning score is validated (NVX1 documents with their field paths) before any job is
queued. Output (NOT-06, MGN-02, MGN-09): a generated Score must have notes, pitches in a
playable range, bars that add up to the length asked for and no degenerate repetition;
generated audio must be finite, not silent, not clipped and the shape and rate promised.
The service retries or falls back when these return problems.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from mos_lab.ai.core.errors import InvalidRequestError
from mos_lab.ai.core.types import GenerationRequest
from mos_lab.score import Score, nvx1
from mos_lab.theory import Key

MAX_PROMPT = 2000
MAX_BARS = 512
MAX_SECONDS = 600.0
MAX_BATCH = 16
_KEY_RE = re.compile(
    r"^\s*([A-Ga-g])\s*(#|b|♯|♭|sharp|flat)?\s*(m|min|minor|maj|major|-)?\s*$", re.I)


def request_key(text: str) -> Key:
    """A request's key as a spelled ``theory.Key``: "D minor", "Dm", "f#m", "Bb major",
    "eb-"; a letter alone is major whatever its case (requests are typed, not ABC)."""
    m = _KEY_RE.match(text) if isinstance(text, str) else None
    if not m:
        raise ValueError(f"key: {text!r} is not a key like 'D minor' or 'Bb'")
    letter, acc, mode = m.groups()
    sign = "" if not acc else "#" if acc.lower() in ("#", "♯", "sharp") else "b"
    minor = bool(mode) and mode.lower() in ("m", "min", "minor", "-")
    return Key(letter.upper() + sign, "minor" if minor else "major")


def request_problems(req: Any, *, max_seconds: float = MAX_SECONDS) -> list[str]:
    """Every problem with ``req`` as ``field: problem`` lines (empty when it is usable)."""
    if not isinstance(req, GenerationRequest):
        return [f"request: expected GenerationRequest, got {type(req).__name__}"]
    p: list[str] = []
    if not isinstance(req.prompt, str):
        p.append(f"prompt: expected text, got {type(req.prompt).__name__}")
    else:
        if len(req.prompt) > MAX_PROMPT:
            p.append(f"prompt: {len(req.prompt)} characters is more than {MAX_PROMPT}")
        bad = [c for c in req.prompt if ord(c) < 32 and c not in "\n\t"]
        if bad:
            p.append(f"prompt: contains control character {bad[0]!r}")
    try:
        request_key(req.key)
    except (ValueError, TypeError) as exc:
        p.append(str(exc))
    if not _num(req.bpm) or not 20 <= req.bpm <= 400:
        p.append(f"bpm: {req.bpm!r} is not a tempo in 20..400")
    if not _int(req.bars) or not 1 <= req.bars <= MAX_BARS:
        p.append(f"bars: {req.bars!r} is not a whole number in 1..{MAX_BARS}")
    num, den = req.meter if isinstance(req.meter, tuple) and len(req.meter) == 2 else (0, 0)
    if not (_int(num) and _int(den) and 1 <= num <= 32 and den in (1, 2, 4, 8, 16, 32)):
        p.append(f"meter: {req.meter!r} is not a meter like (4, 4)")
    if req.seed is not None and (not _int(req.seed) or not 0 <= req.seed < 2**32):
        p.append(f"seed: {req.seed!r} is not a whole number in 0..2**32-1")
    if req.duration_s is not None and (not _num(req.duration_s) or req.duration_s <= 0):
        p.append(f"duration_s: {req.duration_s!r} must be a positive number of seconds")
    if not p and req.seconds > max_seconds:
        p.append(f"duration: {req.seconds:.0f} s is longer than the limit of {max_seconds:.0f} s")
    if not _int(req.sample_rate) or not 8000 <= req.sample_rate <= 192_000:
        p.append(f"sample_rate: {req.sample_rate!r} is not in 8000..192000")
    if not _int(req.batch) or not 1 <= req.batch <= MAX_BATCH:
        p.append(f"batch: {req.batch!r} is not in 1..{MAX_BATCH}")
    p += _condition_problems(req.condition)
    if not isinstance(req.params, Mapping):
        p.append("params: expected a mapping")
    else:
        try:
            json.dumps(dict(req.params))
        except (TypeError, ValueError) as exc:
            p.append(f"params: not JSON-serialisable ({exc})")
    return p


def validate_request(req: Any, *, max_seconds: float = MAX_SECONDS) -> GenerationRequest:
    """``req`` unchanged, or InvalidRequestError listing every problem (NOT-03)."""
    problems = request_problems(req, max_seconds=max_seconds)
    if problems:
        raise InvalidRequestError(problems)
    return req


def _condition_problems(cond: Any) -> list[str]:
    if cond is None:
        return []
    if isinstance(cond, Score):
        return [] if cond.n_notes else ["condition: the score has no notes"]
    if isinstance(cond, Mapping):
        return ["condition." + q if not q.startswith("[") else "condition" + q
                for q in nvx1.validate(dict(cond))]
    return [f"condition: expected a Score or an NVX1 document, got {type(cond).__name__}"]


def condition_score(req: GenerationRequest) -> Score | None:
    """The conditioning score as a Score (NVX1 documents converted; validated already)."""
    if req.condition is None or isinstance(req.condition, Score):
        return req.condition
    return nvx1.from_nvx1(dict(req.condition))


def _num(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _int(x: Any) -> bool:
    return isinstance(x, int | np.integer) and not isinstance(x, bool)


def bar_ticks(tpq: int, meter: tuple[int, int]) -> int:
    return tpq * 4 * meter[0] // meter[1]


def score_problems(score: Any, req: GenerationRequest | None = None) -> list[str]:
    """Problems of a generated score; with ``req``: its length in bars must match."""
    if not isinstance(score, Score):
        return [f"score: expected a Score, got {type(score).__name__}"]
    if not score.n_notes:
        return ["score: no notes"]
    p: list[str] = []
    n = score.notes
    pitched = ~np.array([score.tracks[t].drums for t in n["track"]], dtype=bool)
    ps = n["pitch"][pitched]
    if len(ps) and (ps.min() < 21 or ps.max() > 108):
        p.append(f"pitch: range {ps.min()}..{ps.max()} leaves the piano range 21..108")
    if (n["duration"] <= 0).any():
        p.append(f"duration: {int((n['duration'] <= 0).sum())} notes have no length")
    if req is not None:
        bt = bar_ticks(score.tpq, req.meter)
        want = req.bars * bt
        if score.end_tick > want:
            p.append(f"length: ends at bar {score.end_tick / bt:.2f}, asked for {req.bars} bars")
        elif score.end_tick <= want - bt:
            p.append(f"length: {score.end_tick / bt:.2f} bars, asked for {req.bars}")
        else:
            used = np.zeros(req.bars, dtype=bool)
            used[np.minimum(n["start"] // bt, req.bars - 1)] = True
            if not used.all():
                p.append(f"bars: {int((~used).sum())} of {req.bars} bars are empty")
    mel = n["pitch"][n["track"] == 0]
    if len(mel) >= 8:
        top = np.bincount(mel).max()
        if top / len(mel) > 0.75:
            p.append(f"degenerate: one pitch is {100 * top / len(mel):.0f}% of the melody")
    return p


def audio_problems(audio: Any, sample_rate: Any, *, expected_rate: int | None = None,
                   max_seconds: float = MAX_SECONDS) -> list[str]:
    """Problems of generated audio (MGN-02, MGN-09): type, shape, rate, NaN, silence, clipping."""
    if not isinstance(audio, np.ndarray) or audio.dtype.kind != "f":
        return [f"audio: expected a float array, got {getattr(audio, 'dtype', type(audio))}"]
    if audio.ndim != 2 or not 1 <= audio.shape[1] <= 2 or not len(audio):
        return [f"audio: shape {audio.shape} is not (frames, 1 or 2 channels)"]
    p: list[str] = []
    if not _int(sample_rate) or (expected_rate and sample_rate != expected_rate):
        p.append(f"sample_rate: {sample_rate!r}, expected {expected_rate}")
    elif len(audio) / sample_rate > max_seconds:
        p.append(f"duration: {len(audio) / sample_rate:.0f} s is over {max_seconds:.0f} s")
    finite = np.isfinite(audio)
    if not finite.all():
        p.append(f"audio: {int((~finite).sum())} samples are NaN or infinite")
        return p
    if float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) < 1e-4:
        p.append("audio: silent (RMS below -80 dBFS)")
    clipped = float(np.mean(np.abs(audio) >= 0.999))
    if clipped > 0.001:
        p.append(f"audio: clipped ({100 * clipped:.2f}% of samples at full scale)")
    return p
