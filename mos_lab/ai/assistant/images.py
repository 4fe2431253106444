"""Image inputs for the assistant, checked before any backend sees them (RKY-07).

The type comes from the magic bytes (never the file name), the size from the header;
too large, unknown or truncated images are refused with a message that says which.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

MAX_BYTES = 8 * 2**20
MAX_SIDE = 8192


class ImageError(ValueError):
    """An image input was refused; the message says why."""


@dataclass(frozen=True)
class ImageInfo:
    mime: str
    width: int
    height: int
    size: int


def _jpeg_size(data: bytes) -> tuple[int, int]:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            raise ImageError("image: JPEG markers are corrupt")
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        (seglen,) = struct.unpack(">H", data[i + 2:i + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            return w, h
        i += 2 + seglen
    raise ImageError("image: JPEG has no frame header (truncated?)")


def validate_image(data: bytes, *, max_bytes: int = MAX_BYTES,
                   max_side: int = MAX_SIDE) -> ImageInfo:
    """The image's type and size, or ImageError (not bytes, too big, unknown, truncated)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ImageError(f"image: expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > max_bytes:
        raise ImageError(f"image: {len(data) / 2**20:.1f} MiB is over the limit of "
                         f"{max_bytes / 2**20:.1f} MiB")
    if len(data) < 16:
        raise ImageError(f"image: {len(data)} bytes is too short to be an image")
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        if len(data) < 24 or data[12:16] != b"IHDR":
            raise ImageError("image: PNG header is truncated")
        mime, (w, h) = "image/png", struct.unpack(">II", data[16:24])
    elif data.startswith(b"\xff\xd8\xff"):
        mime, (w, h) = "image/jpeg", _jpeg_size(data)
    elif data[:6] in (b"GIF87a", b"GIF89a"):
        mime, (w, h) = "image/gif", struct.unpack("<HH", data[6:10])
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        mime, w, h = "image/webp", 1, 1  # size not parsed; bytes limit still applies
    else:
        raise ImageError(f"image: unknown format (starts with {data[:8]!r}); "
                         "use PNG, JPEG, GIF or WebP")
    if not (0 < w <= max_side and 0 < h <= max_side):
        raise ImageError(f"image: {w}x{h} pixels is outside 1..{max_side} per side")
    return ImageInfo(mime, w, h, len(data))
