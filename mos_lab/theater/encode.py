"""Image encoding: PNG (Pillow, or a stdlib zlib writer without it) and JPEG (Pillow)."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np


def _png_stdlib(img: np.ndarray, level: int = 6) -> bytes:
    """A minimal RGBA/RGB PNG writer (filter 0), for when Pillow is missing."""
    h, w, c = img.shape
    raw = np.zeros((h, w * c + 1), np.uint8)
    raw[:, 1:] = img.reshape(h, w * c)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    color_type = 6 if c == 4 else 2
    ihdr = struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(raw.tobytes(), level)) + chunk(b"IEND", b""))


def encode_png(img: np.ndarray, *, compress_level: int = 3) -> bytes:
    """PNG bytes of an ``(H, W, 3|4) uint8`` image (alpha dropped: frames are opaque)."""
    rgb = np.ascontiguousarray(img[..., :3])
    try:
        from PIL import Image
    except ImportError:
        return _png_stdlib(rgb, compress_level)
    buf = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


def encode_jpeg(img: np.ndarray, quality: int = 80) -> bytes:
    """JPEG bytes (needs Pillow, which matplotlib already depends on)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(img[..., :3]), "RGB").save(
        buf, format="JPEG", quality=int(quality))
    return buf.getvalue()


def encode(img: np.ndarray, fmt: str = "png", quality: int = 80) -> bytes:
    """``fmt`` is "png" or "jpeg"."""
    if fmt == "png":
        return encode_png(img)
    if fmt in ("jpeg", "jpg"):
        return encode_jpeg(img, quality)
    raise ValueError(f"format: {fmt!r} is not 'png' or 'jpeg'")


def save_png(img: np.ndarray, path: str | Path) -> Path:
    """Write ``img`` as a PNG file and return its path."""
    p = Path(path)
    p.write_bytes(encode_png(img))
    return p
