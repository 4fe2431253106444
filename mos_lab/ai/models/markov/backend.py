"""The offline symbolic generator: a variable-order Markov model over (interval, duration).

No downloaded weights: the model is trained at first use from a shipped corpus (Bach
chorale soprano lines from music21's corpus) or from the user's files, in a second or two,
and cached as a small ``.npz`` with a JSON sidecar holding its version and SHA-256. A
cache file whose version is old or whose checksum does not match is reported and
retrained (NOT-04); a model whose checksum differs from one the user pinned fails
``verify()`` (the service then reports it and falls back).

Generation is conditioned on key, meter, tempo, length in bars and seed: intervals are
sampled from the longest context seen at least twice (order 3, 2, 1, then 0), pitches are
snapped to the key's scale and kept in a singable range, durations respect barlines, and
the last note is the tonic. The result also carries one diatonic chord per bar.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mos_lab.ai.core.backend import BaseBackend
from mos_lab.ai.core.types import (
    CancelToken,
    GenerationRequest,
    GenerationResult,
    ModelInfo,
    Progress,
)
from mos_lab.ai.core.validate import condition_score, request_key
from mos_lab.ai.models.markov.corpus import Melody, bach_melodies, corpus_id, melodies_from_files
from mos_lab.score import Chord, KeySignature, Score, TimeSignature
from mos_lab.theory import Chord as TheoryChord
from mos_lab.theory import Key, Pitch, Scale

log = logging.getLogger(__name__)
MODEL_VERSION = "markov-2"
ORDER = 3
MAX_IV = 12
TPQ = 480
SIXTEENTH = TPQ // 4


def cache_dir() -> Path:
    """Where trained models are kept: ``$MOS_LAB_CACHE/ai`` or ``~/.cache/mos_lab/ai``."""
    root = os.environ.get("MOS_LAB_CACHE") or Path.home() / ".cache" / "mos_lab"
    return Path(root) / "ai"


def tokens_of(mel: Melody) -> np.ndarray:
    """Token ids of a melody: (interval + 12) * 16 + (duration - 1); first note interval 0."""
    ps, ds = mel
    iv = np.clip(np.diff(ps, prepend=ps[:1]), -MAX_IV, MAX_IV)
    return (iv + MAX_IV) * 16 + (np.clip(ds, 1, 16) - 1)


class MarkovModel:
    """Counts of next tokens after contexts of length 0..order (the trained model)."""

    def __init__(self, table: dict[tuple[int, ...], Counter[int]], order: int = ORDER) -> None:
        self.order = order
        self.table = table
        self._dist: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]] = {}

    @classmethod
    def train(cls, melodies: Sequence[Melody], order: int = ORDER) -> MarkovModel:
        table: dict[tuple[int, ...], Counter[int]] = defaultdict(Counter)
        for mel in melodies:
            toks = tokens_of(mel).tolist()
            for i, t in enumerate(toks):
                for k in range(order + 1):
                    if i - k >= 0:
                        table[tuple(toks[i - k:i])][t] += 1
        if () not in table:
            raise ValueError("training corpus: no melodies with at least 4 notes")
        return cls(dict(table), order)

    def to_arrays(self) -> dict[str, np.ndarray]:
        rows = [(ctx, t, c) for ctx, cnt in self.table.items() for t, c in cnt.items()]
        rows.sort(key=lambda r: (len(r[0]), r[0], r[1]))
        ctx = np.full((len(rows), self.order), -1, dtype=np.int16)
        for i, (c, _, _) in enumerate(rows):
            if c:
                ctx[i, -len(c):] = c
        return {"ctx": ctx, "next": np.array([r[1] for r in rows], np.int16),
                "count": np.array([r[2] for r in rows], np.int32),
                "order": np.array([self.order], np.int8)}

    @classmethod
    def from_arrays(cls, a: Any) -> MarkovModel:
        table: dict[tuple[int, ...], Counter[int]] = defaultdict(Counter)
        for row, t, c in zip(a["ctx"].tolist(), a["next"].tolist(), a["count"].tolist(),
                             strict=True):
            table[tuple(x for x in row if x >= 0)][t] += c
        return cls(dict(table), int(a["order"][0]))

    def nbytes(self) -> int:
        return 120 * sum(len(c) for c in self.table.values()) + 200 * len(self.table)

    def next_dist(self, history: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(tokens, probabilities) from the longest context seen at least twice."""
        for k in range(min(self.order, len(history)), -1, -1):
            ctx = tuple(history[len(history) - k:]) if k else ()
            cnt = self.table.get(ctx)
            if cnt is not None and (k == 0 or sum(cnt.values()) >= 2):
                d = self._dist.get(ctx)
                if d is None:
                    toks = np.fromiter(cnt.keys(), np.int64)
                    p = np.fromiter(cnt.values(), np.float64)
                    d = self._dist[ctx] = (toks, p / p.sum())
                return d
        raise AssertionError("order-0 context missing")


class MarkovBackend(BaseBackend):
    """Offline melody generator (with chords per bar) trained on first use.

    ``corpus`` is ``"bach"`` (music21's chorales, ``pieces`` of them) or a list of score
    files / Scores; ``expected_checksum`` pins the model (NOT-04).
    """

    def __init__(self, corpus: str | Sequence[Any] = "bach", *, pieces: int = 40,
                 cache: str | os.PathLike[str] | None = None,
                 expected_checksum: str | None = None, low: int = 57, high: int = 81) -> None:
        if isinstance(corpus, str) and corpus != "bach":
            raise ValueError(f"corpus: {corpus!r} is not 'bach' or a list of files/scores")
        self.corpus = corpus
        self.pieces = pieces
        self.cache = Path(cache) if cache is not None else cache_dir()
        self.expected_checksum = expected_checksum
        self.low, self.high = low, high
        self.model: MarkovModel | None = None
        self.notices: list[str] = []
        self.info = ModelInfo("markov", MODEL_VERSION, "", "symbolic")

    # -- model lifecycle ---------------------------------------------------------------
    @property
    def path(self) -> Path:
        return self.cache / f"{MODEL_VERSION}-{corpus_id(self.corpus, self.pieces)}.npz"

    def load(self) -> None:
        if self.model is not None:
            return
        path, meta = self.path, self.path.with_suffix(".json")
        if path.exists() and meta.exists():
            problem = _cache_problem(path, meta)
            if problem is None:
                with np.load(path) as a:
                    self.model = MarkovModel.from_arrays(a)
                self._set_checksum(json.loads(meta.read_text())["checksum"])
                return
            self.notices.append(f"{path.name}: {problem}; retrained")
            log.warning("markov model cache %s: %s; retraining", path, problem)
        self.train_and_save()

    def train_and_save(self) -> None:
        """Train from the corpus and write the cache atomically (npz, then its sidecar)."""
        if isinstance(self.corpus, str):
            mels = bach_melodies(self.pieces)
        else:
            scores = [c for c in self.corpus if isinstance(c, Score)]
            files = [c for c in self.corpus if not isinstance(c, Score)]
            from mos_lab.ai.models.markov.corpus import melody_of
            mels = [melody_of(s) for s in scores] + melodies_from_files(files)
        self.model = MarkovModel.train(mels)
        self.cache.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.cache, suffix=".npz")
        with os.fdopen(fd, "wb") as f:
            arrays: dict[str, Any] = self.model.to_arrays()
            np.savez_compressed(f, **arrays)
        digest = _sha256(Path(tmp))
        os.replace(tmp, self.path)
        self.path.with_suffix(".json").write_text(json.dumps({
            "version": MODEL_VERSION, "checksum": digest, "melodies": len(mels),
            "corpus": corpus_id(self.corpus, self.pieces)}))
        self._set_checksum(digest)

    def _set_checksum(self, digest: str) -> None:
        self.info = ModelInfo("markov", MODEL_VERSION, digest, "symbolic")

    def unload(self) -> None:
        self.model = None

    def memory_bytes(self) -> int:
        return self.model.nbytes() if self.model is not None else 0

    def verify(self) -> list[str]:
        if self.expected_checksum and self.info.checksum != self.expected_checksum:
            return [f"checksum {self.info.checksum[:12]}… is not the pinned "
                    f"{self.expected_checksum[:12]}…"]
        return []

    # -- generation --------------------------------------------------------------------
    def generate(self, request: GenerationRequest, progress: Progress,
                 cancel: CancelToken) -> GenerationResult:
        if self.model is None:
            self.load()
        assert self.model is not None
        rng = np.random.default_rng(request.seed)
        temp = float(request.params.get("temperature", 1.0))
        cands = []
        for _ in range(request.batch):
            cands.append(self._melody(self.model, request, rng, temp, progress, cancel))
        pitches, durs = max(cands, key=lambda c: len(set(c[0])))
        return GenerationResult(score=self.to_score(pitches, durs, request))

    def _melody(self, model: MarkovModel, req: GenerationRequest, rng: np.random.Generator,
                temp: float, progress: Progress, cancel: CancelToken,
                ) -> tuple[list[int], list[int]]:
        key = request_key(req.key)
        bar16 = 16 * req.meter[0] // req.meter[1]
        total = bar16 * req.bars
        cond = condition_score(req)
        tonic = key.tonic.pc
        pitch = 60 + tonic + (12 if tonic < 2 else 0)
        hist: list[int] = []
        if cond is not None:  # continue the conditioning melody: its last notes are context
            from mos_lab.ai.models.markov.corpus import melody_of
            cps, cds = melody_of(cond)
            hist = tokens_of((cps, cds)).tolist()[-model.order:]
            if len(cps):
                pitch = snap(key, int(cps[-1]))
        pitches: list[int] = []
        durs: list[int] = []
        pos = 0
        while pos < total:
            if pos % bar16 == 0:
                cancel.check()
                progress(pos / bar16, req.bars)
            toks, p = model.next_dist(hist)
            if temp != 1.0:
                p = p ** (1 / max(temp, 0.05))
                p /= p.sum()
            tok = int(rng.choice(toks, p=p))
            iv, dur = tok // 16 - MAX_IV, tok % 16 + 1
            if not pitches:
                iv = 0
            nxt = snap(key, pitch + iv)
            while nxt > self.high:
                nxt = snap(key, nxt - 12)
            while nxt < self.low:
                nxt = snap(key, nxt + 12)
            if len(pitches) >= 3 and pitches[-3:] == [nxt] * 3:
                nxt = snap(key, nxt + (2 if nxt < (self.low + self.high) // 2 else -2))
            dur = min(dur, bar16 - pos % bar16)
            pitches.append(nxt)
            durs.append(dur)
            hist = [*hist[-(model.order - 1):], tok] if model.order > 1 else [tok]
            pitch, pos = nxt, pos + dur
        # end on the tonic: drop notes after the last beat, hold the last one to the end
        beat = 16 // req.meter[1]
        while len(durs) > 1 and pos - durs[-1] > total - beat:
            pos -= durs.pop()
            pitches.pop()
        durs[-1] += total - pos
        pitches[-1] = min((p for p in range(self.low, self.high + 1) if p % 12 == key.tonic.pc),
                          key=lambda p: abs(p - pitches[-1]))
        progress(req.bars, req.bars)
        return pitches, durs

    def to_score(self, pitches: list[int], durs: list[int], req: GenerationRequest) -> Score:
        """The melody as a Score with key, meter, tempo and one chord symbol per bar."""
        key = request_key(req.key)
        starts = np.concatenate([[0], np.cumsum(durs)[:-1]]) * SIXTEENTH
        bar = TPQ * 4 * req.meter[0] // req.meter[1]
        vel = np.where(starts % bar == 0, 92, 78)
        rows = np.stack([starts, np.array(durs) * SIXTEENTH, pitches, vel], axis=1)
        program = int(req.params.get("program", 0))
        title = req.prompt[:80] or f"Markov melody in {key.name}"
        s = Score.from_notes(rows, tpq=TPQ, bpm=req.bpm, program=program, title=title)
        return s.replace(
            time_signatures=(TimeSignature(0, *req.meter),),
            key_signatures=(KeySignature(0, key.sharps, key.mode == "minor"),),
            chords=tuple(Chord(i * bar, bar, chord_symbol(key, d))
                         for i, d in enumerate(bar_degrees(s, key, req.bars, bar))))


def scale_of(key: Key) -> list[Pitch]:
    """The generator's scale of a key: major, or harmonic minor (a leading tone for cadences)."""
    return Scale(key.tonic, "harmonic minor" if key.mode == "minor" else "major").pitches()


def snap(key: Key, pitch: int) -> int:
    """The nearest pitch of the key's scale to ``pitch`` (ties go down)."""
    pcs = {p.pc for p in scale_of(key)}
    for d in (0, -1, 1, -2, 2):
        if (pitch + d) % 12 in pcs:
            return pitch + d
    return pitch


def triad(key: Key, degree: int) -> list[Pitch]:
    """The spelled diatonic triad on ``degree`` (0 = tonic) of the generator's scale."""
    s = scale_of(key)
    return [s[(degree + k) % 7] for k in (0, 2, 4)]


def harmonise(key: Key, bar_pitches: list[list[int]]) -> list[int]:
    """One diatonic degree per bar for a melody: most melody notes in the triad, I/IV/V
    preferred, the last bar on the tonic, the one before it on V when it fits."""
    prefs = {0: 0.6, 3: 0.4, 4: 0.5, 5: 0.2, 1: 0.1, 2: 0.0, 6: -0.5}
    triads = [{p.pc for p in triad(key, d)} for d in range(7)]
    out = []
    for i, ps in enumerate(bar_pitches):
        pcs = [p % 12 for p in ps]
        scores = {d: sum(pc in triads[d] for pc in pcs) + prefs[d] for d in range(7)}
        if i == len(bar_pitches) - 1:
            scores[0] += 10
        elif i == len(bar_pitches) - 2:
            scores[4] += 1.0
        out.append(max(scores, key=lambda d: scores[d]))
    return out


def bar_degrees(score: Score, key: Key, bars: int, bar: int) -> list[int]:
    """Harmonise a melody score: one diatonic degree per bar."""
    n = score.notes
    per_bar: list[list[int]] = [[] for _ in range(bars)]
    for st, p in zip(n["start"].tolist(), n["pitch"].tolist(), strict=True):
        per_bar[min(st // bar, bars - 1)].append(p)
    return harmonise(key, per_bar)


def chord_symbol(key: Key, degree: int) -> str:
    """Symbol of the diatonic triad on ``degree``, spelled in the key ("Dm", "A", "C#dim")."""
    return TheoryChord.from_pitches(triad(key, degree)).symbol


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cache_problem(path: Path, meta: Path) -> str | None:
    try:
        info = json.loads(meta.read_text())
    except (OSError, ValueError) as exc:
        return f"sidecar unreadable ({exc})"
    if info.get("version") != MODEL_VERSION:
        return f"model version {info.get('version')!r} is stale (expected {MODEL_VERSION})"
    digest = _sha256(path)
    if digest != info.get("checksum"):
        recorded = str(info.get("checksum"))[:12]
        return f"checksum mismatch (file {digest[:12]}…, recorded {recorded}…)"
    return None
