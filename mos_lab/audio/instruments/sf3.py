"""SF3 samples: each sample of an SF3 file (MuseScore's compressed SoundFont) is an Ogg
Vorbis stream in ``smpl``, decoded here with libsndfile (``soundfile``) into one float32
array, once per file (``SoundFontBank.load`` keeps the result in a ``SampleCache``).

In SF3 a sample header's ``start``/``end`` are byte offsets of its stream in ``smpl``
and its loop points count decoded frames from the sample's own start. ``sf2.SF2File``
calls this with its ``smpl`` bytes and sample headers and turns a ``ValueError`` into its
``SF2Error`` (this module imports nothing from ``sf2``: no import circle).
"""

from __future__ import annotations

import io

import numpy as np

GUARD = 46  # silent frames between samples (the cubic interpolator reads past the end)


def decode_sf3(blob: memoryview, shdr: np.ndarray
               ) -> tuple[np.ndarray, dict[int, tuple[int, int]]]:
    """All samples decoded from ``blob`` (the ``smpl`` chunk) as the sample headers
    ``shdr`` place them: (float32 data, {sample index: (first frame, frames)}).
    Raises ValueError naming the sample that cannot be read."""
    import soundfile

    parts: list[np.ndarray] = [np.zeros(GUARD, np.float32)]
    spans: dict[int, tuple[int, int]] = {}
    pos = GUARD
    for i in range(len(shdr) - 1):
        h = shdr[i]
        a, b = int(h["start"]), int(h["end"])
        if int(h["type"]) & 0x8000 or b <= a:
            continue
        if b > len(blob):
            name = bytes(h["name"]).split(b"\0")[0].decode("latin-1")
            raise ValueError(f"SF3 sample {name!r}: field end = {b} is past the sample data "
                             f"({len(blob)} bytes)")
        if int(h["type"]) & 0x10 == 0:  # an uncompressed 16-bit sample in an SF3 file
            x = np.frombuffer(blob[a:b], "<i2").astype(np.float32) / 32768.0
        else:
            try:
                x, _ = soundfile.read(io.BytesIO(bytes(blob[a:b])), dtype="float32",
                                      always_2d=True)
            except Exception as exc:
                name = bytes(h["name"]).split(b"\0")[0].decode("latin-1")
                raise ValueError(f"SF3 sample {name!r}: Ogg Vorbis data does not decode "
                                 f"({exc})") from None
            x = x[:, 0]
        spans[i] = (pos, len(x))
        parts.append(x)
        parts.append(np.zeros(GUARD, np.float32))
        pos += len(x) + GUARD
    return np.concatenate(parts), spans
