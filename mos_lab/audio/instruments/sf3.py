"""SF3 samples: each sample of an SF3 file (MuseScore's compressed SoundFont) is an Ogg
Vorbis stream in ``smpl``, decoded here with libsndfile (``soundfile``) into one float32
array, once per file (``SoundFontBank.load`` keeps the result in a ``SampleCache``).

In SF3 a sample header's ``start``/``end`` are byte offsets of its stream in ``smpl``
and its loop points count decoded frames from the sample's own start.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mos_lab.audio.instruments.sf2 import SF2File

GUARD = 46  # silent frames between samples (the cubic interpolator reads past the end)


def decode_sf3(sf: SF2File) -> tuple[np.ndarray, dict[int, tuple[int, int]]]:
    """All samples of ``sf`` decoded: (float32 data, {sample index: (first frame, frames)})."""
    import soundfile

    from mos_lab.audio.instruments.sf2 import SF2Error

    s0, s1 = sf._smpl
    blob = memoryview(sf._blob)[s0:s1]
    parts: list[np.ndarray] = [np.zeros(GUARD, np.float32)]
    spans: dict[int, tuple[int, int]] = {}
    pos = GUARD
    for i in range(len(sf.shdr) - 1):
        h = sf.shdr[i]
        a, b = int(h["start"]), int(h["end"])
        if int(h["type"]) & 0x8000 or b <= a:
            continue
        if b > len(blob):
            name = bytes(h["name"]).split(b"\0")[0].decode("latin-1")
            raise SF2Error(f"SF3 sample {name!r}: field end = {b} is past the sample data "
                           f"({len(blob)} bytes)")
        if int(h["type"]) & 0x10 == 0:  # an uncompressed 16-bit sample in an SF3 file
            x = np.frombuffer(blob[a:b], "<i2").astype(np.float32) / 32768.0
        else:
            try:
                x, _ = soundfile.read(io.BytesIO(bytes(blob[a:b])), dtype="float32",
                                      always_2d=True)
            except Exception as exc:
                name = bytes(h["name"]).split(b"\0")[0].decode("latin-1")
                raise SF2Error(f"SF3 sample {name!r}: Ogg Vorbis data does not decode "
                               f"({exc})") from None
            x = x[:, 0]
        spans[i] = (pos, len(x))
        parts.append(x)
        parts.append(np.zeros(GUARD, np.float32))
        pos += len(x) + GUARD
    return np.concatenate(parts), spans
