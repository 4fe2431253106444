"""The loaded NotaGen model: next-character probabilities and bar-by-bar generation."""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import torch

from mos_lab.ai.models.notagen import patchilizer as P
from mos_lab.ai.models.notagen.abc import playable, to_score
from mos_lab.ai.models.notagen.checkpoint import (
    build,
    find_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from mos_lab.ai.models.notagen.model import NotaGenConfig, NotaGenNet
from mos_lab.ai.models.notagen.sampling import (
    MAX_CHARS,
    BarStream,
    Sampling,
    check_header,
    check_line,
    mode_check,
)
from mos_lab.score import Score


def prompt_lines(period: str | None = None, composer: str | None = None,
                 instrumentation: str | None = None) -> str:
    """NotaGen-X's prompt: ``%period``, ``%composer``, ``%instrumentation`` lines."""
    return "".join(f"%{v}\n" for v in (period, composer, instrumentation) if v)


@dataclass
class Generated:
    """A finished generation: the ABC text, its bars, the Score and why it stopped."""

    text: str
    bars: list[str]
    stopped: str
    seconds: float
    chars: int
    rejected: int
    score: Score | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def abc(self) -> str:
        """The text as plain ABC (``X:1``, no ``[r:]`` prefixes, rests for left-out voices)."""
        return playable(self.text)


class NotaGen:
    """NotaGen's network with its inference: ``next_char_probs`` and ``stream``/``generate``."""

    def __init__(self, net: NotaGenNet, source: str | None = None, *,
                 every_voice: bool = False, key_normalized: bool = False,
                 sampling: Sampling | None = None) -> None:
        self.net = net.eval()
        self.config: NotaGenConfig = net.config
        self.source = source
        #: resample a bar that leaves out a declared voice: True for models whose training
        #: data writes every voice in every bar (the shipped one: whole-bar rests as
        #: ``z8``); False for NotaGen's releases, whose data leaves such voices out
        self.every_voice = every_voice
        #: trained on pieces written without sharps or flats (``keys.key_normalized``): it
        #: writes in C, A minor or a white-note mode, and a key asked for moves the piece
        self.key_normalized = key_normalized
        #: the sampling ``stream`` uses where it is not given: NotaGen's (top-k 9, top-p
        #: 0.9, T 1.2, one temperature); the shipped model draws pitches at its own
        self.sampling = sampling or Sampling()

    def __repr__(self) -> str:
        c = self.config
        n = sum(p.numel() for p in self.net.parameters())
        return (f"NotaGen({n / 1e6:.1f}M parameters, hidden {c.hidden}, "
                f"{c.patch_layers}+{c.char_layers} layers, patches {c.patch_size}x"
                f"{c.patch_length}{', ' + self.source if self.source else ''})")

    def to(self, device: str | torch.device) -> NotaGen:
        """Move the network to ``device`` ("cuda", "cpu"); sampling follows it."""
        self.net.to(device)
        return self

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the weights as NotaGen's checkpoints are written (``{"model": state}``),
        with this model's traits beside them (``{"mos_lab": {...}}``)."""
        save_checkpoint(self.net, path, mos_lab={"sampling": asdict(self.sampling),
                                                 "every_voice": self.every_voice,
                                                 "key_normalized": self.key_normalized})

    def header_check(self, minor: bool | None, continuing: bool = False
                     ) -> Callable[[str], list[str]]:
        """The header check for a piece asked in a mode (``minor``; None: any): a
        key-normalised model writes in C or A minor, so its ``K:`` line is held to the mode
        asked for before the piece is moved to the key; ABC being continued keeps its own."""
        if minor is None or continuing or not self.key_normalized:
            return check_header
        return mode_check(minor)

    def patches(self, text: str) -> tuple[list[list[int]], list[int]]:
        """The full patches and the open characters NotaGen's code feeds for ``text``;
        a text of patch_length or more full patches is cut as its inference cuts (warned)."""
        size, length = self.config.patch_size, self.config.patch_length
        patches = P.encode(text, size)
        if sum(len(p) == size for p in patches) >= length:
            cut = P.stream_cut(text)
            if cut is None:
                raise ValueError(f"notagen: the text is {len(patches)} patches, more than the "
                                 f"model's {length}, with no tune-body line to cut at")
            patches = P.encode(cut[0], size)
            more = len(patches) > length
            patches = patches[:length]
            warnings.warn(
                f"notagen: the text is longer than the model's {length} patches; cut to its "
                "header and the last half of its tune-body lines, as NotaGen's streaming "
                "inference cuts" + (f", and that is still too long: its first {length} "
                                    "patches are kept, as NotaGen's encode_generate keeps them"
                                    if more else ""), stacklevel=3)
        full = [p for p in patches if len(p) == size]
        return full, (patches[-1] if len(patches[-1]) < size else [])

    @torch.inference_mode()
    def next_char_probs(self, text: str) -> np.ndarray:
        """The 128 probabilities of the character after ABC ``text`` (softmax, before
        top-k, top-p and temperature), as NotaGen's own code computes them."""
        full, chars = self.patches(text)
        h, _ = self.net.patch_level_decoder(self.net.ids([full]))
        logits, _ = self.net.char_level_decoder(h[:, -1], self.net.ids([chars]))
        return torch.softmax(logits[0], dim=-1).cpu().numpy()

    def stream(self, prompt: str = "", *, period: str | None = None,
               composer: str | None = None, instrumentation: str | None = None,
               bars: int | None = None, seed: int | None = None,
               top_k: int | None = None, top_p: float | None = None,
               temperature: float | None = None, pitch_temperature: float | None = None,
               use_cache: bool = True,
               time_limit: float | None = None, cancel: Callable[[], bool] | None = None,
               check: Callable[[str, str], list[str]] | None = None,
               check_head: Callable[[str], list[str]] | None = check_header,
               max_chars: int = MAX_CHARS) -> BarStream:
        """Generation as an iterator of bars (tune-body lines), each yielded once sampled
        and checked; ``prompt`` is ABC to continue (after the period/composer/
        instrumentation lines when given). Sampling settings left None are the model's
        (``self.sampling``); ``pitch_temperature`` equal to ``temperature`` is NotaGen's
        single temperature."""
        d = self.sampling
        sampling = Sampling(
            d.top_k if top_k is None else top_k, d.top_p if top_p is None else top_p,
            d.temperature if temperature is None else temperature,
            d.pitch_temperature if pitch_temperature is None else pitch_temperature)
        with torch.inference_mode():
            return _InferenceStream(
                self.net, prompt_lines(period, composer, instrumentation) + prompt,
                sampling=sampling, seed=seed, bars=bars,
                use_cache=use_cache, time_limit=time_limit, cancel=cancel,
                check=check or partial(check_line, every_voice=self.every_voice),
                check_head=check_head,
                max_chars=max_chars)

    def generate(self, prompt: str = "", *, score: bool = True, **options: object) -> Generated:
        """Generate to the end (or ``bars=``, ``time_limit=``); the result keeps what was
        made however it stopped, with the Score when ``score`` and the text parses."""
        t0 = time.perf_counter()
        st = self.stream(prompt, **options)  # type: ignore[arg-type]
        for _ in st:
            pass
        out = Generated(st.text, list(st.bars), st.stopped or "end", time.perf_counter() - t0,
                        st.chars, st.rejected)
        if score and st.bars:
            try:
                out.score = to_score(st.text)
            except ValueError as exc:
                out.problems.append(str(exc))
        return out


class _InferenceStream(BarStream):
    """A BarStream whose every step runs under ``torch.inference_mode``."""

    def __next__(self) -> str:
        with torch.inference_mode():
            return super().__next__()

    def __iter__(self) -> Iterator[str]:
        return self


def load(path: str | os.PathLike[str]) -> NotaGen:
    """Load a NotaGen checkpoint (``.pth``, or a folder holding one) at any published size,
    the sizes read from its shapes; a wrong shape names the first key that differs."""
    file = find_checkpoint(path)
    return _from_checkpoint(file, str(path))


def _from_checkpoint(file: Path, source: str) -> NotaGen:
    state, traits, sampling = read_checkpoint(file)
    return NotaGen(build(state), source, every_voice=traits["every_voice"],
                   key_normalized=traits["key_normalized"], sampling=sampling)


#: the small model that ships with mos_lab (trained by ``mos-lab train --music21``)
SHIPPED = Path(__file__).parent / "weights" / "notagen_small.pth"


def shipped() -> NotaGen:
    """The small NotaGen that ships in the package: the default NotaGen backend's model."""
    return _from_checkpoint(SHIPPED, "shipped")


def random(config: NotaGenConfig | None = None, seed: int = 0) -> NotaGen:
    """An untrained NotaGen of the given sizes (GPT-2's initialisation): tests, benches."""
    torch.manual_seed(seed)
    return NotaGen(NotaGenNet(config or NotaGenConfig()).eval())
