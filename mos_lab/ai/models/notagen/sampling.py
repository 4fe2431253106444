"""Sampling NotaGen patch by patch, with key/value caches at both levels, streamed bar by bar.

The filters are NotaGen's (its ``samplings`` package): top-k, then top-p (the smallest
set of most likely characters whose mass passes p, the first always kept), then
temperature (``p ** (1/T)`` renormalised), each renormalising. The loop is NotaGen's
inference loop: a patch's characters are sampled until its EOS or its 16th character;
the pair BOS, EOS ends the piece; a first tune-body patch that starts ``[r:`` is
sampled again from the forced prefix ``[r:0/``; when the context is full, the text is
cut to the header and the last half of the tune-body lines and re-encoded. Two
departures, neither changing what is sampled in distribution: a patch stops at its
EOS (NotaGen samples the rest and throws it away), and a tune-body line that fails
its check is sampled again from the caches as they were at its start (a header line
that is not a field, or holds music, too). One that does:
with ``bars`` asked for, the forced prefix is ``[r:0/{bars-1}]`` (the stream prefix
counts the bars still to come, so a model trained with it aims at that length; NotaGen
lets the model choose), and until that many bars are made the end patch is not drawn (its
BOS masked, as a minimum length masks EOS), and every later line of a stream made from a
header is started with its own ``[r:i/j]`` (i the line, j the lines still to come), as
training writes them: a small model left to count drifts (``[r:6/6]`` after ``[r:2/9]``)
and then conditions on a count it never saw in training.

``Sampling.pitch_temperature`` is mos_lab's own option, off for NotaGen's checkpoints:
the characters that name a pitch (note letters and accidentals) are drawn
among themselves at their own temperature, while whether one of them comes next keeps
the mass NotaGen's filters give it, as Compound Word Transformer samples each token
family with its own temperature. A small model's pitch choices are its least sure (its
voices drift out of one chord), while its rhythm needs the flat distribution of T 1.2:
one temperature for both trades harmony against rhythm.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch

from mos_lab.ai.models.notagen import patchilizer as P
from mos_lab.ai.models.notagen.abc import bar_length
from mos_lab.ai.models.notagen.model import Cache, NotaGenNet, StepDecoder

#: NotaGen's own limit on the characters of one piece
MAX_CHARS = 102_400
_R_START = [ord(c) for c in "[r:"]
#: ABC characters that name a pitch: note letters and accidentals (the octave marks after
#: a letter stay with the temperature, as does every other character)
PITCH_CHARS = "ABCDEFGabcdefg^_="
_PITCH = np.zeros(P.VOCAB, bool)
_PITCH[[ord(c) for c in PITCH_CHARS]] = True


def _is_r_start(chars: list[int]) -> bool:
    return chars == _R_START


@dataclass(frozen=True)
class Sampling:
    """NotaGen's sampling settings (its inference defaults: top-k 9, top-p 0.9, T 1.2);
    ``pitch_temperature`` draws the pitch characters among themselves at their own
    temperature (None: ``temperature``, NotaGen's single temperature)."""

    top_k: int = 9
    top_p: float = 0.9
    temperature: float = 1.2
    pitch_temperature: float | None = None

    def __post_init__(self) -> None:
        if self.top_k < 0:
            raise ValueError(f"notagen: top_k {self.top_k} must be 0 (off) or more")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"notagen: top_p {self.top_p} must be in (0, 1]")
        if self.temperature < 0:
            raise ValueError(f"notagen: temperature {self.temperature} must be 0 (greedy) "
                             "or more")
        if self.pitch_temperature is not None and not self.pitch_temperature >= 0:
            raise ValueError(f"notagen: pitch_temperature {self.pitch_temperature} must be "
                             "0 (the likeliest pitch), more, or None (the temperature)")

    @property
    def by_family(self) -> bool:
        """Whether pitch characters get a temperature of their own."""
        return self.pitch_temperature is not None and \
            self.pitch_temperature != self.temperature


def filter_probs(probs: np.ndarray, s: Sampling) -> np.ndarray:
    """``probs`` after top-k, top-p and temperature, as NotaGen's samplings apply them."""
    p = np.nan_to_num(np.asarray(probs, dtype=np.float64), nan=0.0).clip(0, None)
    p /= p.sum()
    order = np.argsort(p)[::-1]  # one order serves both cuts: renormalising keeps it
    if s.top_k > 0:
        p[order[s.top_k:]] = 0.0
        p /= p.sum()
    if s.top_p < 1:
        drop = np.cumsum(p[order]) > s.top_p
        drop[1:] = drop[:-1].copy()
        drop[0] = False
        p[order[drop]] = 0.0
        p /= p.sum()
    if s.temperature == 0:
        q = np.zeros_like(p)
        q[order[0]] = 1.0
        return q
    if s.temperature != 1:
        nz = p > 0
        p[nz] = np.exp(np.log(p[nz]) / s.temperature)
        p /= p.sum()
    return p


def draw(p: np.ndarray, rng: np.random.Generator) -> int:
    """One index drawn with probabilities ``p`` (which sum to 1)."""
    c = np.cumsum(p)
    return min(int(np.searchsorted(c, rng.random() * c[-1], side="right")), len(p) - 1)


def _filter_small(vals: list[float], s: Sampling) -> list[float]:
    """``filter_probs`` without top-k on a few probabilities sorted most likely first, in
    plain Python (numpy's per-call cost is most of the work here): the kept ones' new
    probabilities (top-p drops the tail, so the list may be shorter; temperature 0 is
    left to the caller, which takes the first)."""
    vals = [v if v > 0 else 0.0 for v in vals]  # NaN and negatives count as 0
    total = sum(vals)
    vals = [v / total for v in vals]
    if s.top_p < 1:
        kept: list[float] = []
        acc = 0.0
        for v in vals:  # keep the first, then each while the mass before it is <= top_p
            if kept and acc > s.top_p:
                break
            kept.append(v)
            acc += v
        total = sum(kept)
        vals = [v / total for v in kept]
    if s.temperature != 1 and s.temperature != 0:
        vals = _tempered(vals, s.temperature)
    return vals


def _tempered(vals: list[float], t: float) -> list[float]:
    """``vals ** (1/t)`` renormalised (t > 0)."""
    inv = 1.0 / t
    out = [math.exp(math.log(v) * inv) if v > 0 else 0.0 for v in vals]
    total = sum(out)
    return [v / total for v in out]


def _pick(vals: list[float], rng: np.random.Generator) -> int:
    x = rng.random() * sum(vals)
    acc = 0.0
    for i, v in enumerate(vals):
        acc += v
        if acc > x:
            return i
    return len(vals) - 1


def _draw_small(vals: list[float], s: Sampling, rng: np.random.Generator) -> int:
    """``_filter_small`` then a draw (greedy: the first)."""
    return 0 if s.temperature == 0 else _pick(_filter_small(vals, s), rng)


def _draw_family_small(codes: list[int], vals: list[float], s: Sampling,
                       rng: np.random.Generator) -> int:
    """``family_probs`` then a draw, on a few candidates sorted most likely first."""
    if s.temperature == 0:  # one survivor: no family to redraw
        return 0
    f = _filter_small(vals, s)
    fam = [i for i, c in enumerate(codes[: len(f)]) if _PITCH[c] and f[i] > 0]
    if len(fam) > 1:
        pt = s.pitch_temperature
        assert pt is not None
        mass = sum(f[i] for i in fam)
        raw = [vals[i] for i in fam]  # sorted: the first is the likeliest
        q = [1.0] + [0.0] * (len(raw) - 1) if pt == 0 else _tempered(raw, pt)
        for i, v in zip(fam, q, strict=True):
            f[i] = v * mass
    return _pick(f, rng)


def family_probs(probs: np.ndarray, s: Sampling) -> np.ndarray:
    """``filter_probs``, then the pitch characters that survive it redrawn among
    themselves at ``s.pitch_temperature`` (their total mass kept): which family comes
    next is NotaGen's sampling, which pitch is the pitch temperature's."""
    p = np.nan_to_num(np.asarray(probs, dtype=np.float64), nan=0.0).clip(0, None)
    f = filter_probs(p, s)
    pt = s.temperature if s.pitch_temperature is None else s.pitch_temperature
    m = _PITCH[: len(f)] & (f > 0)
    if m.sum() > 1:
        mass = f[m].sum()
        q = p[m] / p[m].max()
        q = (q == 1.0).astype(np.float64) if pt == 0 else np.exp(np.log(q) / pt)
        f[m] = q / q.sum() * mass
    return f


def choose(probs: np.ndarray, s: Sampling, rng: np.random.Generator) -> int:
    """A character drawn as ``filter_probs`` then a draw would, working on the top-k
    candidates only (the per-character cost that caches leave); with a pitch
    temperature of its own, as ``family_probs`` then a draw."""
    p = np.asarray(probs, dtype=np.float64)
    if 0 < s.top_k <= 32 and s.top_k < len(p):
        cand = np.argpartition(-p, s.top_k - 1)[: s.top_k]
        q = p[cand]
        order = np.argsort(q)[::-1]
        if s.by_family:
            codes = cand[order].tolist()
            return int(codes[_draw_family_small(codes, q[order].tolist(), s, rng)])
        return int(cand[order[_draw_small(q[order].tolist(), s, rng)]])
    if s.by_family:
        return draw(family_probs(probs, s), rng)
    if 0 < s.top_k < len(p):
        cand = np.argpartition(-p, s.top_k - 1)[: s.top_k]
        q = p[cand]
        order = np.argsort(q)[::-1]
        cand, q = cand[order], q[order]
        q = filter_probs(q, Sampling(0, s.top_p, s.temperature))
        return int(cand[draw(q, rng)])
    return draw(filter_probs(p, s), rng)


def _on_cpu(net: NotaGenNet) -> bool:
    return net.patch_level_decoder.patch_embedding.weight.device.type == "cpu"


class PatchContext:
    """The patch level: full patches in context, their hidden states and (cached) keys.

    On CPU the cache lives in a numpy ``StepDecoder`` (one patch a step); elsewhere it is
    the torch cache of ``GPT2.forward``. Without caches every push encodes all patches.
    """

    def __init__(self, net: NotaGenNet, use_cache: bool = True) -> None:
        self.net = net
        self.use_cache = use_cache
        self.patches: list[list[int]] = []
        self.hidden: torch.Tensor | None = None  # (n, hidden)
        self.cache: Cache | None = None
        self.stepper: StepDecoder | None = None
        if use_cache and _on_cpu(net):
            pe = net.patch_level_decoder.patch_embedding
            size = net.config.patch_size
            self.columns = pe.weight.detach().t().reshape(size, P.VOCAB, -1).numpy()
            self.bias = pe.bias.detach().numpy()
            self.rows = np.arange(size)
            self.stepper = StepDecoder(net.patch_level_decoder.base, net.config.patch_length)

    def __len__(self) -> int:
        return len(self.patches)

    def reset(self, patches: list[list[int]]) -> None:
        """Encode ``patches`` from scratch."""
        self.patches = [list(p) for p in patches]
        h, cache = self.net.patch_level_decoder(self.net.ids([self.patches]))
        self.hidden = h[0]
        self.cache = cache if self.use_cache and self.stepper is None else None
        if self.stepper is not None:
            self.stepper.load(cache)

    def push(self, patch: list[int]) -> None:
        """Add one full patch (with the cache one step; without, all patches again)."""
        if not self.use_cache or self.hidden is None:
            self.reset([*self.patches, patch])
            return
        if self.stepper is not None:
            x = self.columns[self.rows, patch].sum(axis=0) + self.bias
            h = torch.from_numpy(self.stepper.step(x))[None]
        else:
            assert self.cache is not None
            h, self.cache = self.net.patch_level_decoder(self.net.ids([[patch]]), self.cache)
            h = h[0]
        self.patches.append(list(patch))
        self.hidden = torch.cat((self.hidden, h), dim=0)

    def truncate(self, n: int) -> None:
        """Forget every patch after the first ``n`` (the caches cut back, nothing recomputed)."""
        assert self.hidden is not None
        self.patches = self.patches[:n]
        self.hidden = self.hidden[:n]
        if self.stepper is not None:
            self.stepper.n = min(self.stepper.n, n)
        if self.cache is not None:
            self.cache = [(k[:, :, :n], v[:, :, :n]) for k, v in self.cache]

    def last(self) -> torch.Tensor:
        """The hidden state of the last patch: the character decoder's first position."""
        assert self.hidden is not None
        return self.hidden[-1:]


def _char_stepper(net: NotaGenNet) -> StepDecoder:
    """The character level's StepDecoder, kept on the network while its weights stay where
    they are (numpy views share their memory, so trained or loaded weights show through)."""
    gpt = net.char_level_decoder.base.transformer
    ptr = gpt.wte.weight.data_ptr()
    st: StepDecoder | None = getattr(net, "_char_stepper", None)
    if st is None or st.source != ptr:
        st = StepDecoder(gpt, net.config.patch_size + 1)
        st.source = ptr
        object.__setattr__(net, "_char_stepper", st)
    st.n = 0
    return st


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max())
    return e / e.sum()


def sample_patch(net: NotaGenNet, first: torch.Tensor, prefix: list[int], s: Sampling,
                 rng: np.random.Generator, use_cache: bool = True,
                 stop: Callable[[list[int]], bool] | None = None,
                 no_end: bool = False) -> list[int]:
    """One patch's characters: ``prefix`` then sampled ones, up to EOS or the patch size
    (or until ``stop`` says so); ``no_end`` keeps BOS (the start of the end patch) from
    being drawn first, as a minimum length masks EOS. With the cache each character costs
    one position (on CPU a numpy ``StepDecoder`` step); without, the character decoder
    runs over the patch so far, as NotaGen's own inference does."""
    size = net.config.patch_size
    chars = list(prefix)
    dec = net.char_level_decoder

    def take(probs: np.ndarray) -> bool:
        """Sample the next character into ``chars``; whether the patch is complete."""
        if no_end and not chars:
            probs[P.BOS] = 0.0
        c = choose(probs, s, rng)
        chars.append(c)
        return c == P.EOS or len(chars) >= size or (stop is not None and stop(chars))

    if use_cache and _on_cpu(net):
        stepper = _char_stepper(net)
        wte = stepper.wte
        h = stepper.step(first.detach().reshape(-1).numpy())
        for c in chars:
            h = stepper.step(wte[c])
        while not take(_softmax(wte @ h)):
            h = stepper.step(wte[chars[-1]])
        return chars
    logits, cache = dec(first, net.ids([chars]))
    while not take(torch.softmax(logits[0], dim=-1).detach().cpu().numpy()):
        if use_cache:
            logits, cache = dec(None, net.ids([[chars[-1]]]), cache)
        else:
            logits, cache = dec(first, net.ids([chars]))
    return chars


def _pad(chars: list[int], size: int) -> list[int]:
    """A sampled patch as NotaGen feeds it back: pad after its EOS, to the patch size."""
    out = list(chars)
    if P.EOS in out:
        out = out[: out.index(P.EOS) + 1]
    return out + [P.PAD] * (size - len(out))


def _header_voices(header: str) -> set[str]:
    return {ln.split()[0][2:] for ln in header.split("\n")
            if ln.startswith("V:") and ln[2:].strip()}


def check_line(header: str, line: str, *, every_voice: bool = False,
               same_length: bool = False) -> list[str]:
    """Problems that keep a generated tune-body line from parsing or its voices together:
    characters outside printable ASCII, unbalanced brackets or quotes, no ``[V:n]`` voice
    segment, a voice the header does not declare or twice in one line, no barline, voices
    of different lengths (each voice is read on its own, so a short bar shifts that voice
    against the others from there on), and with ``every_voice`` a declared voice left
    out (for models whose training data writes whole-bar rests). [] when it is fine."""
    problems: list[str] = []
    lengths: dict[str, Fraction] = {}
    body = line.rstrip("\n")
    if any(not 32 <= ord(c) < 127 for c in body):
        problems.append("a character outside printable ASCII")
    if body.startswith("[r:"):
        body = body[body.find("]") + 1:] if "]" in body else ""
    if not body.startswith("[V:"):
        return [*problems, "no [V:n] voice segment at the start"]
    declared = _header_voices(header)
    seen: set[str] = set()
    for seg in body.split("[V:")[1:]:
        voice, _, music = seg.partition("]")
        if not _:
            problems.append("an unclosed [V: field")
            continue
        if declared and voice not in declared:
            problems.append(f"voice {voice} is not in the header")
        if voice in seen:
            problems.append(f"voice {voice} twice in one bar")
        seen.add(voice)
        if not any(d in music for d in P.DELIMITERS):
            problems.append(f"voice {voice} has no barline")
        depth = {"[": 0, "(": 0, "{": 0}
        pairs = {"]": "[", ")": "(", "}": "{"}
        for c in music.replace("[|", "|").replace("|]", "|"):  # barlines are no brackets
            if c in depth:
                depth[c] += 1
            elif c in pairs:
                depth[pairs[c]] -= 1
                if depth[pairs[c]] < 0:
                    problems.append(f"voice {voice}: {c!r} closes nothing")
                    break
        if any(v > 0 for v in depth.values()):
            problems.append(f"voice {voice}: a bracket is left open")
        if music.count('"') % 2:
            problems.append(f"voice {voice}: a quote is left open")
        length = bar_length(music)
        if length is not None:
            lengths[voice] = length
    if same_length and len(set(lengths.values())) > 1:
        problems.append("voices of different lengths (" + ", ".join(
            f"{v}: {n}" for v, n in lengths.items()) + " units of L)")
    if every_voice and declared and (left := sorted(declared - seen)):
        problems.append(f"voice {', '.join(left)} left out")
    return problems


_FIELD = re.compile(r"^[A-Za-z]:")


def check_header(text: str) -> list[str]:
    """Problems of the complete header lines in ``text`` (the part after its last newline
    is still open): each must be a ``%`` line or an ABC field (``M:4/4``) holding no bar
    music (no barline, no ``[V:`` segment). [] when they are fine."""
    problems = []
    for ln in text.split("\n")[:-1]:
        if any(not 32 <= ord(c) < 127 for c in ln):
            problems.append(f"header line {ln[:20]!r}: a character outside printable ASCII")
        elif ln.startswith("%"):
            continue
        elif not _FIELD.match(ln):
            problems.append(f"header line {ln[:20]!r} is not a field")
        elif "|" in ln or "[V:" in ln:
            problems.append(f"header line {ln[:20]!r} holds music")
    return problems


_K_MODE = re.compile(r"^K:\s*[A-Ga-g][#b]?\s*([A-Za-z]*)")
_MINOR = ("m", "min", "minor", "aeo", "aeolian")
_MAJOR = ("", "maj", "major", "ion", "ionian")


def mode_check(minor: bool) -> Callable[[str], list[str]]:
    """A header check (``stream(check_head=...)``) that also wants the ``K:`` line in the
    mode asked for, so that a key-normalised model's piece, moved to a minor key's
    signature, is in that key and not in its relative major (and the other way round)."""
    want = _MINOR if minor else _MAJOR

    def check(text: str) -> list[str]:
        problems = check_header(text)
        for ln in text.split("\n")[:-1]:
            m = _K_MODE.match(ln)
            if ln.startswith("K:") and (m is None or m.group(1).lower() not in want):
                problems.append(f"key line {ln!r} is not {'minor' if minor else 'major'}")
        return problems

    return check


class BarStream:
    """NotaGen's generation as an iterator of tune-body lines (one bar of every voice each).

    ``text`` holds the prompt and everything accepted so far; ``stopped`` says why it
    ended ("end", "bars", "chars", "time", "cancelled", "out of memory", "failed: …").
    """

    def __init__(self, net: NotaGenNet, prompt: str, *, sampling: Sampling,
                 seed: int | None = None, bars: int | None = None, use_cache: bool = True,
                 max_chars: int = MAX_CHARS, time_limit: float | None = None,
                 cancel: Callable[[], bool] | None = None,
                 check: Callable[[str, str], list[str]] = check_line, tries: int = 32,
                 check_head: Callable[[str], list[str]] | None = check_header) -> None:
        P.check_text(prompt)
        self.net = net
        self.sampling = sampling
        self.rng = np.random.default_rng(seed)
        self.max_bars = bars
        self.use_cache = use_cache
        self.max_chars = max_chars
        self.deadline = None if time_limit is None else time.monotonic() + time_limit
        self.cancel = cancel
        self.check = check
        self.check_head = check_head
        self.tries = tries
        self.size = net.config.patch_size
        self.length = net.config.patch_length
        self.ctx = PatchContext(net, use_cache)
        parts = P.split_text(prompt)
        self.text = prompt if parts.body else "".join(parts.header)
        self.header = "".join(parts.header)
        self.in_body = bool(parts.body)
        self._numbered = not parts.body  # made from a header: lines i = 0.. are ours
        self.bars: list[str] = []
        self.rejected = 0
        self.chars = 0  # characters sampled, rejected lines included
        self.stopped: str | None = None
        self.cuts = 0
        self._keep: int | None = None
        self._prefix: list[int] = []
        self._rebuild(self.text)
        self._mark()

    # -- context ---------------------------------------------------------------------
    def _rebuild(self, text: str) -> None:
        """Encode ``text`` from scratch (cut as NotaGen's stream cut when it is too long)."""
        patches = P.encode(text, self.size)
        while sum(len(p) == self.size for p in patches) >= self.length:
            cut = P.stream_cut(text, self._keep)
            if cut is None or cut[0] == text:
                raise ValueError("notagen: the text fills the model's context and has no "
                                 "tune-body line to cut at")
            text, self._keep = cut
            self.cuts += 1
            patches = P.encode(text, self.size, self.length)
            if sum(len(p) == self.size for p in patches) >= self.length:
                self._keep = max(1, self._keep // 2)
        full = [p for p in patches if len(p) == self.size]
        self._prefix = patches[-1] if len(patches[-1]) < self.size else []
        self.ctx.reset(full)
        self._epoch = self.cuts

    def _mark(self) -> None:
        self._line = (len(self.text), len(self.ctx), self._epoch, list(self._prefix))

    def _rollback(self) -> None:
        n_text, n_patches, epoch, prefix = self._line
        self.text = self.text[:n_text]
        if epoch == self._epoch:
            self.ctx.truncate(n_patches)
            self._prefix = prefix
        else:
            self._rebuild(self.text)
            self._mark()

    # -- iteration -------------------------------------------------------------------
    def __iter__(self) -> Iterator[str]:
        return self

    def _stop(self) -> str | None:
        if self.max_bars is not None and len(self.bars) >= self.max_bars:
            return "bars"
        if self.cancel is not None and self.cancel():
            return "cancelled"
        if self.deadline is not None and time.monotonic() > self.deadline:
            return "time"
        if len(self.text) > self.max_chars:
            return "chars"
        return None

    def __next__(self) -> str:
        if self.stopped:
            raise StopIteration
        try:
            line = self._next_line()
        except torch.OutOfMemoryError:
            line, self.stopped = None, "out of memory"
        if line is None:
            raise StopIteration
        return line

    def _stream_prefix(self) -> list[int]:
        """The ``[r:i/j]`` that starts tune-body line i of ``bars`` (j still to come), as
        training writes it on every line, when this stream numbers its lines: made from a
        header, ``bars`` asked for and the first line begun with ``[r:``; else []."""
        if not (self._numbered and self.max_bars is not None and self.bars
                and self.bars[0].startswith("[r:")):
            return []
        i = len(self.bars)
        forced = [ord(c) for c in f"[r:{i}/{max(0, self.max_bars - 1 - i)}]"]
        return forced if len(forced) < self.size else []

    def _next_line(self) -> str | None:
        """Sample patches until a tune-body line is complete and passes its check."""
        tries = 0
        while True:
            why = self._stop()
            if why:
                self.stopped = why
                return None
            if len(self.ctx) >= self.length:
                try:
                    self._rebuild(self.text)
                except ValueError:  # NotaGen's loop gives up here too
                    self.stopped = "failed: the header fills the model's context"
                    return None
            prefix = self._prefix
            self._prefix = []
            at_line_start = not prefix and (not self.text or self.text.endswith("\n"))
            watch = (not self.in_body and at_line_start)
            no_end = (self.in_body and self.max_bars is not None
                      and len(self.bars) < self.max_bars)
            forced = self._stream_prefix() if self.in_body and at_line_start else []
            chars = sample_patch(self.net, self.ctx.last(), prefix or forced, self.sampling,
                                 self.rng, self.use_cache, _is_r_start if watch else None,
                                 no_end)
            if watch and chars == _R_START:
                start = "[r:0/" + (f"{self.max_bars - 1}]" if self.max_bars else "")
                chars = sample_patch(self.net, self.ctx.last(), [ord(c) for c in start],
                                     self.sampling, self.rng, self.use_cache)
                prefix = []
            self.chars += len(chars) - len(prefix) - len(forced)
            if not prefix and len(chars) > 1 and chars[0] == P.BOS and chars[1] == P.EOS:
                self.stopped = "end"
                return None
            piece = P.decode([chars[len(prefix):]])
            if not self.in_body and at_line_start and P.is_body_line(piece):
                self.in_body = True
                self.header = self.text
                self._mark()
            self.text += piece
            self.ctx.push(_pad(chars, self.size))
            if "\n" not in piece:
                continue
            line = self.text[self._line[0]:]
            if not self.in_body:
                problems = self.check_head(line) if self.check_head is not None else []
                if not problems:
                    self._mark()
                    continue
                what = "the header"
            else:
                problems = self.check(self.header, line)
                if not piece.endswith("\n") or line.count("\n") != 1:
                    problems.append("a line ends inside a patch")
                if not problems:
                    self.bars.append(line)
                    self._mark()
                    return line
                what = f"bar {len(self.bars) + 1}"
            self.rejected += 1
            tries += 1
            if tries >= self.tries:
                self._rollback()
                self.stopped = f"failed: {what} {problems[0]} ({tries} tries)"
                return None
            self._rollback()
