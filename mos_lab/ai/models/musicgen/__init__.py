"""MusicGen and MusicGen-Melody through transformers, from a local folder (``ai`` extra).

Map::

    m = musicgen.load("musicgen-small/", device="auto")    # save_pretrained folder
    out = m.generate(["lo-fi piano", "brass band"], seconds=45, seed=1,
                     melody=score,            # melody model: a Score rendered by Apollo
                     audio_prompt=wav, prompt_rate=32000,  # continue this audio
                     progress=cb, cancel=token, timeout_s=60)
    out.audio (batch, frames, channels) float32 at out.sample_rate; out.partial, out.stopped
    MusicGenBackend(folder)                   the same behind the GenerationService

Modules: ``files`` (what a folder must hold), ``core`` (loading, windowed generation,
codes <-> audio; ``MusicGen``, ``MusicGenOutput``), ``melody`` (Apollo render and
chromagram), ``backend`` (the service's).
Nothing here imports torch or transformers until a model is loaded.
"""

from __future__ import annotations

from mos_lab.ai.models.musicgen.backend import MusicGenBackend
from mos_lab.ai.models.musicgen.core import load

__all__ = ["MusicGenBackend", "load"]
