"""Tiny SoundFonts made in the tests: one preset, one instrument zone, one sample."""

from __future__ import annotations

import struct

import numpy as np

SR = 48000


def sine(freq: float = 440.0, seconds: float = 1.0, sr: int = SR) -> np.ndarray:
    """A whole number of cycles of a sine (so a loop over all of it is seamless)."""
    n = round(seconds * sr)
    cycles = max(1, round(freq * n / sr))
    return np.sin(2 * np.pi * cycles * np.arange(n) / n) * 0.5


def noise(seconds: float = 1.0, sr: int = SR, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-0.5, 0.5, round(seconds * sr))


def _chunk(cid: bytes, body: bytes) -> bytes:
    pad = b"\0" if len(body) & 1 else b""
    return cid + struct.pack("<I", len(body)) + body + pad


def _list(kind: bytes, body: bytes) -> bytes:
    return _chunk(b"LIST", kind + body)


def make_sf2(data: np.ndarray, *, root: int = 69, rate: int = SR, loop: tuple[int, int] | None
             = None, gens: dict[int, int] | None = None, pgens: dict[int, int] | None = None,
             mods: list[tuple[int, int, int, int, int]] | None = None, preset: int = 0,
             bank: int = 0, sample_end: int | None = None, correction: int = 0) -> bytes:
    """SF2 bytes: preset ``bank:preset`` -> instrument zone with ``gens`` (+ ``mods``) ->
    the sample ``data`` (loop points in sample frames; sampleModes 1 when ``loop``)."""
    pcm = np.clip(np.round(np.asarray(data) * 32767), -32768, 32767).astype("<i2")
    smpl = pcm.tobytes() + b"\0" * 92  # 46 zero points after the sample (spec 7.10)
    n = len(pcm)
    ls, le = loop if loop is not None else (0, 0)
    g = dict(gens or {})
    if loop is not None:
        g.setdefault(54, 1)
    shdr = struct.pack("<20sIIIIIBbHH", b"s", 0, n if sample_end is None else sample_end,
                       ls, le, rate, root, correction, 0, 1)
    shdr += struct.pack("<20sIIIIIBbHH", b"EOS", 0, 0, 0, 0, 0, 0, 0, 0, 0)
    order = sorted(k for k in g if k not in (43, 44)) + [k for k in (43, 44) if k in g]
    order = [k for k in (43, 44) if k in g] + [k for k in order if k not in (43, 44)]
    igen = b"".join(struct.pack("<Hh" if k not in (43, 44) else "<HH", k, g[k]) for k in order)
    igen += struct.pack("<Hh", 53, 0) + struct.pack("<Hh", 0, 0)
    imods = mods or []
    imod = b"".join(struct.pack("<HHhHH", *m) for m in imods) + b"\0" * 10
    ibag = struct.pack("<HH", 0, 0) + struct.pack("<HH", len(order) + 1, len(imods))
    inst = struct.pack("<20sH", b"inst", 0) + struct.pack("<20sH", b"EOI", 1)
    pg = dict(pgens or {})
    pgen = b"".join(struct.pack("<Hh", k, v) for k, v in pg.items())
    pgen += struct.pack("<Hh", 41, 0) + struct.pack("<Hh", 0, 0)
    pbag = struct.pack("<HH", 0, 0) + struct.pack("<HH", len(pg) + 1, 0)
    phdr = struct.pack("<20sHHHIII", b"tiny", preset, bank, 0, 0, 0, 0)
    phdr += struct.pack("<20sHHHIII", b"EOP", 0, 0, 1, 0, 0, 0)
    pmod = b"\0" * 10
    info = _list(b"INFO", _chunk(b"ifil", struct.pack("<HH", 2, 4)) + _chunk(b"INAM", b"t\0"))
    sdta = _list(b"sdta", _chunk(b"smpl", smpl))
    pdta = _list(b"pdta", _chunk(b"phdr", phdr) + _chunk(b"pbag", pbag) + _chunk(b"pmod", pmod)
                 + _chunk(b"pgen", pgen) + _chunk(b"inst", inst) + _chunk(b"ibag", ibag)
                 + _chunk(b"imod", imod) + _chunk(b"igen", igen) + _chunk(b"shdr", shdr))
    body = b"sfbk" + info + sdta + pdta
    return b"RIFF" + struct.pack("<I", len(body)) + body
