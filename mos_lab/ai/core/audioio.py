"""Audio that comes out of a generator: decode, check, convert, align, stream, export.

- ``decode_audio`` turns a backend's bytes (WAV/FLAC/OGG via soundfile, or raw PCM) into
  samples and rejects what is not audio (MGN-09).
- ``conform_audio`` converts any sample format, layout, channel count and rate into the
  float32 (frames, channels) at the rate the caller wants, or says why it cannot (MGN-05).
- ``onset_offsets``/``align_to_score`` measure how far the audio's notes are from where the
  score's tempo map puts them and shift the audio when the offset is over a tolerance
  (MGN-10).
- ``collect_stream`` reads a chunked stream, resumes it where it broke, and returns what
  arrived, marked partial, when it cannot go on or is cancelled (MGN-04).
- ``export_audio`` writes FLAC (or WAV/OGG) under a duration and size limit (MGN-03).
- ``normalize_loudness`` brings generated audio to the level of the engine's renders.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mos_lab.ai.core.errors import (
    GenerationCancelled,
    InvalidResponseError,
    MissingAIDependencyError,
)
from mos_lab.ai.core.types import CancelToken
from mos_lab.score import Score

MAX_CHANNELS = 8


def _soundfile() -> Any:
    try:
        import soundfile
    except (ImportError, OSError):
        raise MissingAIDependencyError("soundfile", "Reading or writing audio files") from None
    return soundfile


def conform_audio(data: Any, sample_rate: int, *, target_rate: int,
                  channels: int = 2) -> np.ndarray:
    """``data`` as float32 (frames, ``channels``) at ``target_rate``.

    Accepts int8/16/32, uint8 and float arrays, mono 1-D, (frames, ch) or channel-first
    (ch, frames) layouts with up to 8 channels, any rate in 8000..192000 (resampled by
    linear interpolation). Anything else raises InvalidResponseError saying what it was.
    """
    a = np.asarray(data)
    kind = a.dtype.kind
    if kind == "f":
        x = a.astype(np.float32, copy=False)
    elif kind == "i":
        x = (a / float(2 ** (8 * a.dtype.itemsize - 1))).astype(np.float32)
    elif kind == "u" and a.dtype.itemsize == 1:
        x = ((a.astype(np.float32) - 128.0) / 128.0)
    else:
        raise InvalidResponseError(f"audio: sample format {a.dtype} is not supported")
    if x.ndim == 1:
        x = x[:, None]
    elif x.ndim == 2 and x.shape[0] <= MAX_CHANNELS < x.shape[1]:
        x = x.T  # channel-first
    if x.ndim != 2 or not 1 <= x.shape[1] <= MAX_CHANNELS or not len(x):
        raise InvalidResponseError(f"audio: shape {a.shape} is not (frames, 1..8 channels)")
    if not isinstance(sample_rate, int | np.integer) or not 8000 <= sample_rate <= 192_000:
        raise InvalidResponseError(f"audio: sample rate {sample_rate!r} is not in 8000..192000")
    if x.shape[1] != channels:
        mono = x.mean(axis=1, keepdims=True) if x.shape[1] > 1 else x
        x = np.repeat(mono, channels, axis=1) if channels > 1 else mono
    if sample_rate != target_rate:
        n_out = max(1, round(len(x) * target_rate / sample_rate))
        t_out = np.arange(n_out) * (sample_rate / target_rate)
        t_in = np.arange(len(x))
        x = np.stack([np.interp(t_out, t_in, x[:, c]) for c in range(x.shape[1])], axis=1)
    return np.ascontiguousarray(x, dtype=np.float32)


TARGET_RMS_DB = -20.0  # a full mix rendered by the engine (Aicha: RMS -20, peak -3 dBFS)
CEILING_DB = -1.0  # peaks stay below this (headroom for resampling and encoding)
MAX_GAIN_DB = 30.0  # near-silence is not blown up to full level


def normalize_loudness(audio: np.ndarray, *, target_rms_db: float = TARGET_RMS_DB,
                       ceiling_db: float = CEILING_DB, max_gain_db: float = MAX_GAIN_DB,
                       ) -> np.ndarray:
    """``audio`` scaled to an RMS of ``target_rms_db`` dBFS with peaks at most
    ``ceiling_db`` (one gain for the whole clip, so dynamics are kept; idempotent).

    Why: a single instrument rendered with the engine's headroom for 128 voices peaks
    near -20 dBFS, far quieter than a song; generated clips should sit with the rest.
    """
    a = np.asarray(audio, dtype=np.float32)
    if not len(a) or not np.isfinite(a).all():
        return a
    rms = float(np.sqrt(np.mean(np.square(a, dtype=np.float64))))
    peak = float(np.abs(a).max())
    if rms <= 0.0 or peak <= 0.0:
        return a
    gain = min(10 ** (target_rms_db / 20) / rms, 10 ** (ceiling_db / 20) / peak,
               10 ** (max_gain_db / 20))
    if abs(gain - 1.0) < 1e-3:
        return a
    return (a * np.float32(gain)).astype(np.float32, copy=False)


def decode_audio(payload: bytes, fmt: str, *, sample_rate: int | None = None,
                 channels: int = 1) -> tuple[np.ndarray, int]:
    """Decode ``payload`` of format ``wav``/``flac``/``ogg`` or ``pcm_f32le``/``pcm_s16le``
    (raw, needing ``sample_rate`` and ``channels``) into (samples, rate)."""
    fmt = fmt.lower()
    if fmt in ("pcm_f32le", "pcm_s16le"):
        dtype = np.dtype("<f4") if fmt == "pcm_f32le" else np.dtype("<i2")
        frame = dtype.itemsize * channels
        if sample_rate is None or channels < 1 or len(payload) % frame or not payload:
            raise InvalidResponseError(
                f"audio: {len(payload)} bytes of {fmt} is not whole frames of {channels} "
                f"channel(s) (or the sample rate is missing)")
        return np.frombuffer(payload, dtype).reshape(-1, channels), int(sample_rate)
    if fmt not in ("wav", "flac", "ogg"):
        raise InvalidResponseError(f"audio: format {fmt!r} is not wav, flac, ogg or raw pcm")
    sf = _soundfile()
    try:
        data, rate = sf.read(io.BytesIO(payload), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises its own LibsndfileError (a RuntimeError)
        raise InvalidResponseError(f"audio: {fmt} data could not be decoded ({exc})") from None
    return data, int(rate)


def onset_offsets(audio: np.ndarray, sample_rate: int, score: Score,
                  ticks: np.ndarray | None = None, window_s: float = 0.15,
                  threshold: float = 0.02) -> np.ndarray:
    """Seconds between where ``score``'s tempo map puts the notes at ``ticks`` (default:
    the first note) and where sound starts in ``audio`` near them (+ = audio late): the
    first sample above ``threshold`` x the loudest one in a window of +-``window_s``."""
    if ticks is None:
        ticks = score.notes["start"][:1]
    mono = np.abs(audio).max(axis=1) if audio.ndim == 2 else np.abs(audio)
    out = []
    win = int(window_s * sample_rate)
    for f in np.asarray(score.tempo.ticks_to_frames(np.asarray(ticks), sample_rate)).ravel():
        lo, hi = max(0, int(f) - win), min(len(mono), int(f) + win)
        seg = mono[lo:hi]
        if not len(seg) or seg.max() <= 0:
            out.append(np.nan)
            continue
        first = int(np.argmax(seg > threshold * seg.max()))
        out.append((lo + first - int(f)) / sample_rate)
    return np.array(out)


def align_to_score(audio: np.ndarray, sample_rate: int, score: Score, *,
                   tolerance_s: float = 0.005) -> tuple[np.ndarray, float]:
    """(audio shifted so its first onset sits on the score's, offset measured before)."""
    off = float(onset_offsets(audio, sample_rate, score, window_s=0.5)[0])
    if not np.isfinite(off) or abs(off) <= tolerance_s:
        return audio, 0.0 if not np.isfinite(off) else off
    n = round(abs(off) * sample_rate)
    if off > 0:  # late: drop leading frames, pad the end
        shifted = np.concatenate([audio[n:], np.zeros((n, audio.shape[1]), audio.dtype)])
    else:
        shifted = np.concatenate([np.zeros((n, audio.shape[1]), audio.dtype), audio[:-n]])
    return shifted, off


@dataclass
class StreamResult:
    """What a stream delivered: the samples, whether it is all, and how it went."""

    audio: np.ndarray
    partial: bool
    resumes: int
    first_chunk_s: float | None
    error: str = ""


def collect_stream(open_stream: Callable[[int], Iterator[np.ndarray]], *, channels: int = 2,
                   max_resumes: int = 2, cancel: CancelToken | None = None,
                   max_frames: int | None = None) -> StreamResult:
    """Read ``open_stream(start_frame)`` chunk by chunk; on a broken stream (OSError,
    ConnectionError, TimeoutError, ...) reopen it at the frames received so far up to
    ``max_resumes`` times; on cancel or when resuming fails, return what arrived with
    ``partial=True``. ``max_frames`` caps memory (the rest is dropped, marked partial)."""
    chunks: list[np.ndarray] = []
    got = resumes = 0
    first: float | None = None
    t0 = time.monotonic()
    error = ""
    partial = False
    while True:
        try:
            for chunk in open_stream(got):
                if cancel is not None:
                    cancel.check()
                c = np.asarray(chunk, dtype=np.float32).reshape(-1, channels)
                if first is None:
                    first = time.monotonic() - t0
                if max_frames is not None and got + len(c) > max_frames:
                    c = c[: max_frames - got]
                    partial, error = True, f"stopped at the limit of {max_frames} frames"
                chunks.append(c)
                got += len(c)
                if partial:
                    break
            break
        except GenerationCancelled as exc:
            partial, error = True, f"cancelled: {exc}"
            break
        except Exception as exc:
            if resumes >= max_resumes:
                partial, error = True, f"stream broke after {got} frames: {exc}"
                break
            resumes += 1
    audio = np.concatenate(chunks) if chunks else np.zeros((0, channels), np.float32)
    return StreamResult(audio, partial, resumes, first, error)


def export_audio(audio: np.ndarray, sample_rate: int, path: str | os.PathLike[str], *,
                 format: str | None = None, max_seconds: float = 600.0,
                 max_bytes: int | None = 200 * 2**20) -> Path:
    """Write ``audio`` compressed (FLAC by default, 16-bit) within the limits; the path.

    Raises ValueError when the audio is longer than ``max_seconds`` or the file would be
    larger than ``max_bytes`` (the partial file is removed).
    """
    p = Path(path)
    fmt = (format or p.suffix.lstrip(".") or "flac").upper()
    seconds = len(audio) / sample_rate
    if seconds > max_seconds:
        raise ValueError(f"export: {seconds:.0f} s of audio is over the limit of "
                         f"{max_seconds:.0f} s; cut it or raise max_seconds")
    sf = _soundfile()
    subtype = {"FLAC": "PCM_16", "WAV": "PCM_16", "OGG": "VORBIS"}.get(fmt)
    if subtype is None:
        raise ValueError(f"export: format {fmt!r} is not flac, wav or ogg")
    sf.write(os.fspath(p), np.clip(audio, -1, 1), int(sample_rate), format=fmt,
             subtype=subtype)
    if max_bytes is not None and p.stat().st_size > max_bytes:
        size = p.stat().st_size
        p.unlink()
        raise ValueError(f"export: {size / 2**20:.1f} MiB is over the limit of "
                         f"{max_bytes / 2**20:.1f} MiB")
    return p
