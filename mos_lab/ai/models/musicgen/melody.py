"""Melody conditioning: a Score rendered by Apollo, then its chromagram as MusicGen-Melody's.

Why here and not transformers' feature extractor: that one needs torchaudio (a second
multi-GB wheel pinned to torch) only for a spectrogram; ``chroma`` computes the same
thing with ``torch.stft`` (Hann window, centred, reflect padding) and the same filter
bank, then keeps the loudest pitch class per frame as a one-hot vector, as it does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mos_lab.score import Score


def render_score(score: Score, sample_rate: int, *, seconds: float | None = None,
                 ) -> np.ndarray:
    """``score`` rendered offline by Apollo (the engine's render) as mono float32."""
    from mos_lab.engine import render

    frames = None if seconds is None else max(1, round(seconds * sample_rate))
    audio = render(score, sample_rate=sample_rate, frames=frames, tail_s=0.5).array()
    return np.ascontiguousarray(audio.mean(axis=1), dtype=np.float32)


class Chroma:
    """MusicGen-Melody's chroma features: ``chroma(audio) -> (batch, frames, n_chroma)``."""

    def __init__(self, *, sampling_rate: int = 32000, n_fft: int = 16384,
                 hop_length: int = 4096, chunk_length: int = 30, num_chroma: int = 12,
                 **_: Any) -> None:
        import torch
        from transformers.audio_utils import chroma_filter_bank

        self.sampling_rate, self.n_fft, self.hop_length = sampling_rate, n_fft, hop_length
        self.n_samples = chunk_length * sampling_rate
        self.num_chroma = num_chroma
        self.filters = torch.from_numpy(chroma_filter_bank(
            sampling_rate=sampling_rate, num_frequency_bins=n_fft, tuning=0,
            num_chroma=num_chroma)).float()
        self.window = torch.hann_window(n_fft)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Chroma:
        """From a ``preprocessor_config.json`` dict (unknown keys ignored)."""
        keys = ("sampling_rate", "n_fft", "hop_length", "chunk_length", "num_chroma")
        return cls(**{k: config[k] for k in keys if k in config})

    def __call__(self, audio: np.ndarray) -> Any:
        """One-hot chroma (batch, frames, n_chroma) of mono ``audio`` (batch, samples)."""
        import torch

        wav = torch.as_tensor(np.atleast_2d(audio), dtype=torch.float32)[:, : self.n_samples]
        if wav.shape[-1] < self.n_fft:  # as the feature extractor pads a short clip
            pad = self.n_fft - wav.shape[-1]
            wav = torch.nn.functional.pad(wav, (pad // 2, pad - pad // 2))
        spec = torch.stft(wav, self.n_fft, self.hop_length, self.n_fft, self.window,
                          center=True, pad_mode="reflect", normalized=False,
                          onesided=True, return_complex=True).abs().pow(2)
        raw = torch.einsum("cf,...ft->...ct", self.filters, spec)
        norm = torch.nn.functional.normalize(raw, p=float("inf"), dim=-2, eps=1e-6)
        norm = norm.transpose(1, 2)
        onehot = torch.zeros_like(norm)
        onehot.scatter_(-1, norm.argmax(-1, keepdim=True), 1.0)
        return onehot
