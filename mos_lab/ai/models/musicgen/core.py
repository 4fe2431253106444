"""MusicGen (and MusicGen-Melody) through transformers, from a local folder.

``load(folder)`` reads a folder written by ``save_pretrained`` (``facebook/musicgen-*``
downloaded once, or a model of your own) onto the CPU or a CUDA device;
``MusicGen.generate`` returns every batch item with all of its channels. Lengths past
the model's window (30 s) are made window by window: each new window is prompted with
the codes of the last ``context_s`` seconds made (an audio prompt, as audiocraft's
``extend_stride``), so the model never runs past the positions it was trained on. A
cancel token, a deadline (``timeout_s``) or a memory limit stops generation at the next
step and keeps every complete frame made so far (``partial``, ``stopped`` say why).

How the codes are read: MusicGen predicts its codebooks with a delay (codebook ``k`` of
frame ``j`` is generated at step ``j + 1 + k``); a stopping criterion sees the sequence
after every step, so this module reads the frames from it directly (the same delay
pattern transformers undoes), which is what lets a stopped run keep its frames.
"""

from __future__ import annotations

import functools
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mos_lab.ai.core.audioio import conform_audio
from mos_lab.ai.core.errors import MissingAIDependencyError
from mos_lab.ai.core.types import CancelToken
from mos_lab.ai.models.musicgen.files import KINDS, check_folder
from mos_lab.ai.models.musicgen.melody import Chroma, render_score
from mos_lab.score import Score

WINDOW_S = 30.0  # MusicGen was trained on 30 s pieces: its positions stop there
CONTEXT_S = 12.0  # audiocraft's extend_stride of 18 s in a 30 s window keeps 12 s
_RNG_LOCK = threading.Lock()  # torch.manual_seed is process-wide: one seeded run at a time

Melody = Score | np.ndarray


def _torch() -> Any:
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError as exc:
        raise MissingAIDependencyError(exc.name or "torch", "MusicGen") from None
    return torch


@dataclass
class MusicGenOutput:
    """Audio of every batch item: ``audio`` (batch, frames, channels) float32 at
    ``sample_rate``; ``codes`` (batch, codebooks, frames) the EnCodec codes it decodes."""

    audio: np.ndarray
    sample_rate: int
    codes: np.ndarray
    frame_rate: float
    requested_frames: int
    windows: int = 0
    stopped: str = ""  # "", "cancelled", "timeout", "out of memory", "memory limit",
    # "model ended" (transformers stopped before the length asked for)
    elapsed_s: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def partial(self) -> bool:
        """True when fewer frames were made than asked for (stopped early)."""
        return self.codes.shape[-1] < self.requested_frames

    @property
    def seconds(self) -> float:
        return self.audio.shape[1] / self.sample_rate


class _Stop(Exception):
    """Raised inside transformers' loop to leave it; ``reason`` empty when complete."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Watch:
    """A transformers stopping criterion that watches every step: keeps the sequence,
    reports progress, and leaves the loop on cancel, deadline, memory limit or when done."""

    def __init__(self, length: int, cancel: CancelToken, on_step: Callable[[int], None],
                 memory: Callable[[], int] | None, max_memory: int | None,
                 reserve: Callable[[int], float] | None = None) -> None:
        self.length, self.cancel, self.on_step = length, cancel, on_step
        self.memory, self.max_memory = memory, max_memory
        self.reserve = reserve  # seconds needed after stopping (decoding), by step
        self.sequence: Any = None
        self.steps = 0

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        self.sequence = input_ids
        self.steps += 1
        self.on_step(self.steps)
        if input_ids.shape[-1] >= self.length:
            raise _Stop("")
        if self.cancel.cancelled:
            raise _Stop("cancelled")
        if self.cancel.expired:
            raise _Stop("timeout")
        rem = self.cancel.remaining()
        if rem is not None and self.reserve is not None and rem <= self.reserve(self.steps):
            raise _Stop("timeout")  # the time left is what decoding what was made needs
        if (self.max_memory is not None and self.memory is not None
                and self.memory() > self.max_memory):
            raise _Stop("memory limit")
        return input_ids.new_zeros(input_ids.shape[0], dtype=bool)


def _rss() -> int:
    """Resident memory of this process in bytes (Linux; 0 where unknown)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class MusicGen:
    """A loaded MusicGen or MusicGen-Melody model with its tokenizer (see :func:`load`)."""

    def __init__(self, model: Any, tokenizer: Any, *, kind: str = "musicgen",
                 path: Path | None = None, chroma: Chroma | None = None) -> None:
        self.model, self.tokenizer, self.kind, self.path = model, tokenizer, kind, path
        self.chroma = chroma
        cfg = model.config
        self.sample_rate = int(cfg.audio_encoder.sampling_rate)
        self.hop = int(math.prod(cfg.audio_encoder.upsampling_ratios))
        self.frame_rate = self.sample_rate / self.hop
        self.channels = int(cfg.decoder.audio_channels)
        self.num_codebooks = int(model.decoder.num_codebooks)
        self.delay = self.num_codebooks // self.channels  # codebooks per channel
        self._cost: float | None = None

    @property
    def device(self) -> Any:
        return self.model.device

    @property
    def melody(self) -> bool:
        """True for MusicGen-Melody (conditioned on a chromagram)."""
        return self.kind == "musicgen_melody"

    def memory_bytes(self) -> int:
        """Bytes of the weights."""
        return int(sum(p.numel() * p.element_size() for p in self.model.parameters()))

    # -- audio <-> codes -------------------------------------------------------------------
    def encode(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """Codes (batch, codebooks, frames) of ``audio``: (frames, channels), (frames,) or
        (batch, frames, channels), at ``sample_rate``; made this model's rate and layout."""
        torch = _torch()
        a = np.asarray(audio)
        items = list(a) if a.ndim == 3 else [a]
        x = np.stack([conform_audio(i, int(sample_rate), target_rate=self.sample_rate,
                                    channels=self.channels) for i in items])
        wav = torch.as_tensor(x.transpose(0, 2, 1), device=self.device,
                              dtype=self.model.audio_encoder.dtype)
        enc = self.model.audio_encoder
        with torch.no_grad():
            per_channel = [enc.encode(wav[:, c : c + 1], return_dict=True)
                           .audio_codes[0][:, : self.delay] for c in range(self.channels)]
        codes = torch.stack(per_channel, dim=2).flatten(1, 2)  # interleaved L, R, L, R...
        return codes.cpu().numpy().astype(np.int64)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Audio (batch, frames, channels) float32 of ``codes`` (batch, codebooks, frames)."""
        torch = _torch()
        c = torch.as_tensor(np.asarray(codes), device=self.device)
        if c.shape[-1] == 0:
            return np.zeros((c.shape[0], 0, self.channels), np.float32)
        scales = [None] * c.shape[0]
        with torch.no_grad():
            parts = [self.model.audio_encoder.decode(c[None, :, ch :: self.channels],
                                                     audio_scales=scales).audio_values
                     for ch in range(self.channels)]
        audio = torch.cat(parts, dim=1).float().cpu().numpy()  # (batch, channels, samples)
        return np.ascontiguousarray(audio.transpose(0, 2, 1), dtype=np.float32)

    # -- generation ------------------------------------------------------------------------
    def generate(self, prompt: str | Sequence[str] = "", *, seconds: float = 8.0,
                 batch: int | None = None, seed: int | None = None,
                 melody: Melody | Sequence[Melody] | None = None,
                 melody_rate: int | None = None, audio_prompt: np.ndarray | None = None,
                 prompt_rate: int | None = None, window_s: float = WINDOW_S,
                 context_s: float = CONTEXT_S, progress: Callable[[float, float], None]
                 | None = None, cancel: CancelToken | None = None,
                 timeout_s: float | None = None, max_memory_bytes: int | None = None,
                 do_sample: bool = True, guidance_scale: float | None = None,
                 top_k: int | None = None, top_p: float | None = None,
                 temperature: float | None = None) -> MusicGenOutput:
        """``seconds`` of audio for each text prompt (a list is a batch; a string is
        repeated ``batch`` times), optionally conditioned on a ``melody`` (a Score rendered
        by Apollo, or audio at ``melody_rate``; melody model only) and continuing an
        ``audio_prompt`` (at ``prompt_rate``; the result is what follows it).

        ``seed`` makes it repeatable; ``progress(done, total)`` is called with frames;
        ``cancel``/``timeout_s``/``max_memory_bytes`` stop it early, keeping what was made.
        """
        torch = _torch()
        prompts = [prompt] if isinstance(prompt, str) else [str(p) for p in prompt]
        if batch is not None and not isinstance(prompt, str) and batch != len(prompts):
            raise ValueError(f"batch: {batch} differs from the {len(prompts)} prompts given")
        if isinstance(prompt, str):
            prompts = prompts * (batch or 1)
        n_batch = len(prompts)
        if not 1 <= n_batch <= 64:
            raise ValueError(f"batch: {n_batch} is not in 1..64")
        if not (math.isfinite(seconds) and seconds > 0):
            raise ValueError(f"seconds: {seconds!r} must be a length above 0")
        window = int(window_s * self.frame_rate)
        context = min(int(context_s * self.frame_rate), window - 1)
        if window < 2 * self.delay or context < 0:
            raise ValueError(f"window_s: {window_s} s is under {2 * self.delay} frames "
                             f"of {self.frame_rate:g} per second")
        if melody is not None and not self.melody:
            raise ValueError("melody: this is a text-only MusicGen; load a musicgen_melody "
                             "folder to condition on a melody")
        total = max(1, round(seconds * self.frame_rate))
        token = CancelToken.with_timeout(timeout_s, parent=cancel)
        mel = None if melody is None else self._melody_audio(melody, melody_rate, n_batch,
                                                               total / self.frame_rate)
        head = (np.zeros((n_batch, self.num_codebooks, 0), np.int64) if audio_prompt is None
                else self._prompt_codes(audio_prompt, prompt_rate, n_batch))
        text = self.tokenizer(prompts, padding=True, return_tensors="pt")
        text = {k: v.to(self.device) for k, v in text.items()
                if k in ("input_ids", "attention_mask")}
        if text["input_ids"].shape[-1] == 0:  # no tokens at all: unconditional, as
            pad = int(self.tokenizer.pad_token_id or 0)  # transformers' null inputs (mask 0)
            text = {"input_ids": torch.full((n_batch, 1), pad, device=self.device),
                    "attention_mask": torch.zeros((n_batch, 1), dtype=torch.long,
                                                  device=self.device)}
        options: dict[str, Any] = {"do_sample": do_sample}
        for name, value in (("guidance_scale", guidance_scale), ("top_k", top_k),
                            ("top_p", top_p), ("temperature", temperature)):
            if value is not None:
                options[name] = value
        memory = ((lambda: int(torch.cuda.memory_allocated(self.device)))
                  if self.device.type == "cuda" else _rss)
        cost = self._decode_cost() * n_batch if token.deadline is not None else 0.0

        def reserve(before: int, steps: int) -> float:  # a deadline covers the decode too
            return 0.05 + cost * (before + steps + min(head.shape[-1], self.frame_rate))

        started = time.monotonic()
        made: list[np.ndarray] = []
        done, windows, stopped = 0, 0, ""
        last_report = [0.0]

        def report(frames: int, force: bool = False) -> None:
            now = time.monotonic()
            if progress is not None and (force or now - last_report[0] >= 0.05):
                last_report[0] = now
                progress(float(min(frames, total)), float(total))

        cuda = [self.device] if self.device.type == "cuda" else []
        with _RNG_LOCK, torch.random.fork_rng(devices=cuda), torch.no_grad():
            if seed is not None:
                torch.manual_seed(int(seed))
            while done < total and not stopped:
                if token.cancelled or token.expired:
                    stopped = "cancelled" if token.cancelled else "timeout"
                    break
                past = np.concatenate([head, *made], axis=-1)
                past = past[..., past.shape[-1] - min(context, past.shape[-1]):]
                n = min(total - done, window - past.shape[-1])
                features = None
                if mel is not None and self.chroma is not None:
                    a = max(0, (done - past.shape[-1]) * self.hop)
                    b = (done + n) * self.hop
                    rate = self.chroma.sampling_rate / self.sample_rate
                    seg = mel[:, int(a * rate) : max(int(b * rate), int(a * rate) + 1)]
                    features = self.chroma(seg).to(self.device, self.model.dtype)
                new, stopped = self._window(text, past, n, features, options, token,
                                            functools.partial(self._offset, report, done),
                                            memory, max_memory_bytes,
                                            functools.partial(reserve, done))
                made.append(new)
                done += new.shape[-1]
                windows += 1
        report(done, force=True)
        new_codes = (np.concatenate(made, axis=-1) if made
                     else np.zeros((n_batch, self.num_codebooks, 0), np.int64))
        audio = self._decode_after(head, new_codes)
        return MusicGenOutput(audio=audio, sample_rate=self.sample_rate, codes=new_codes,
                              frame_rate=self.frame_rate, requested_frames=total,
                              windows=windows, stopped=stopped,
                              elapsed_s=time.monotonic() - started,
                              meta={"prompts": prompts, "seed": seed, "kind": self.kind})

    @staticmethod
    def _offset(report: Callable[[int], None], done: int, frames: int) -> None:
        report(done + frames)

    def _window(self, text: dict[str, Any], past: np.ndarray, n: int, features: Any,
                options: dict[str, Any], token: CancelToken, step: Callable[[int], None],
                memory: Callable[[], int], max_memory: int | None,
                reserve: Callable[[int], float] | None = None) -> tuple[np.ndarray, str]:
        """Up to ``n`` new frames after the codes ``past``: (codes, why it stopped)."""
        torch = _torch()
        from transformers import StoppingCriteriaList

        b, k, p = past.shape
        start = 1 + p  # the start token, then the prompt frames
        length = start + n + self.delay - 1  # the last codebook lags delay - 1 steps
        watch = _Watch(length, token, lambda s: step(max(0, s - self.delay + 1)), memory,
                       max_memory, reserve)
        kwargs = dict(text, max_new_tokens=length - start,
                      stopping_criteria=StoppingCriteriaList([watch]), **options)
        if p:
            kwargs["decoder_input_ids"] = torch.as_tensor(past.reshape(b * k, p),
                                                          device=self.device)
        if features is not None:
            kwargs["input_features"] = features
        stopped = "complete"
        try:
            self.model.generate(**kwargs)
        except _Stop as stop:
            stopped = stop.reason
        except (MemoryError, torch.OutOfMemoryError):
            stopped = "out of memory"
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
        if stopped == "complete":  # transformers stopped short of the length (an EOS,
            stopped = "model ended"  # a max_length in its generation config): keep it
        seq = watch.sequence
        if seq is None:
            return past[..., :0], stopped
        seq = seq.reshape(b, k, -1).cpu().numpy().astype(np.int64)
        frames = max(0, min(seq.shape[-1] - start - (self.delay - 1), n))
        out = np.empty((b, k, frames), np.int64)
        for c in range(k):
            lag = c // self.channels  # stereo interleaves L, R codebooks of one delay
            out[:, c] = seq[:, c, start + lag : start + lag + frames]
        return out, stopped

    def _decode_cost(self) -> float:
        """Seconds to decode one frame of one item, times 3 for safety (long decodes cost
        more per frame; measured once on 2 s of codes, after a call that warms it up)."""
        if self._cost is None:
            n = max(16, round(2 * self.frame_rate))
            codes = np.zeros((1, self.num_codebooks, n), np.int64)
            self.decode(codes[..., :2])
            t0 = time.monotonic()
            self.decode(codes)
            self._cost = 3.0 * (time.monotonic() - t0) / n
        return float(self._cost)

    def _decode_after(self, head: np.ndarray, new: np.ndarray) -> np.ndarray:
        """Audio of ``new`` decoded after the end of the prompt ``head`` (smooth join)."""
        ctx = head[..., -min(head.shape[-1], max(1, int(self.frame_rate))):] \
            if head.shape[-1] else head
        audio = self.decode(np.concatenate([ctx, new], axis=-1))
        return np.ascontiguousarray(audio[:, ctx.shape[-1] * self.hop :])

    def _prompt_codes(self, audio: np.ndarray, rate: int | None, batch: int) -> np.ndarray:
        if rate is None:
            raise ValueError("prompt_rate: give the sample rate of audio_prompt")
        codes = self.encode(audio, rate)
        if codes.shape[0] == 1 and batch > 1:
            codes = np.repeat(codes, batch, axis=0)
        if codes.shape[0] != batch:
            raise ValueError(f"audio_prompt: {codes.shape[0]} items for a batch of {batch}")
        return codes

    def _melody_audio(self, melody: Melody | Sequence[Melody], rate: int | None,
                      batch: int, seconds: float) -> np.ndarray:
        """Mono melody audio (batch, samples) at the chroma rate."""
        assert self.chroma is not None
        sr = self.chroma.sampling_rate
        items = list(melody) if isinstance(melody, list | tuple) else [melody]
        out = []
        for m in items:
            if isinstance(m, Score):
                out.append(render_score(m, sr, seconds=seconds))
                continue
            if rate is None:
                raise ValueError("melody_rate: give the sample rate of the melody audio")
            out.append(conform_audio(np.asarray(m), int(rate), target_rate=sr,
                                     channels=1)[:, 0])
        if len(out) == 1:
            out *= batch
        if len(out) != batch:
            raise ValueError(f"melody: {len(out)} melodies for a batch of {batch}")
        longest = max(len(a) for a in out)
        return np.stack([np.pad(a, (0, longest - len(a))) for a in out])


def load(path: str | os.PathLike[str], *, device: str = "auto",
         dtype: str | None = None) -> MusicGen:
    """A MusicGen or MusicGen-Melody folder (``save_pretrained``) on ``device``
    ("auto": CUDA when there is one, else CPU). A missing or incomplete folder raises
    :class:`~mos_lab.ai.models.musicgen.files.MusicGenFilesError` naming the files."""
    import json

    folder, kind, _ = check_folder(path)
    torch = _torch()
    import transformers as tf

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    cls = getattr(tf, KINDS[kind])
    kwargs: dict[str, Any] = {}
    if dtype is not None:
        kwargs["dtype"] = getattr(torch, dtype)
    model = cls.from_pretrained(folder, local_files_only=True, **kwargs).to(device).eval()
    tokenizer = tf.AutoTokenizer.from_pretrained(folder, local_files_only=True)
    chroma = None
    if kind == "musicgen_melody":
        chroma = Chroma.from_config(json.loads((folder / "preprocessor_config.json")
                                               .read_text()))
    return MusicGen(model, tokenizer, kind=kind, path=folder, chroma=chroma)
