"""The default General MIDI set: MuseScore_General_Lite.sf3 where Debian's
``musescore-general-soundfont-small`` put it, then TimGM6mb.sf2 (``timgm6mb-soundfont``),
then the built-in instruments. ``MOS_LAB_SOUNDFONT`` names another file, or ``builtin``.
"""

from __future__ import annotations

import os
from pathlib import Path

GM_SETS = (
    "/usr/share/sounds/sf3/MuseScore_General_Lite.sf3",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
)


def default_soundfont() -> str | None:
    """Path of the default GM SoundFont, or None for the built-in instruments."""
    env = os.environ.get("MOS_LAB_SOUNDFONT")
    if env:
        return None if env.lower() == "builtin" else env
    for path in GM_SETS:
        if os.path.isfile(path):
            return path
    return None


def cache_dir() -> Path:
    """Where decoded SF3 samples are kept between runs (decoded once per file)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "mos_lab" / "samples"


def load_bank(path: str | None = None) -> object | None:
    """The SoundFont bank at ``path`` (default: :func:`default_soundfont`), None: built-in.

    SF3 samples are decoded once and kept in :func:`cache_dir` (a compressed set takes
    seconds to decode, reading it back a fraction of that).
    """
    from mos_lab.audio.cache import SampleCache
    from mos_lab.audio.instruments.soundfont import SoundFontBank

    path = path or default_soundfont()
    if path is None:
        return None
    cache = None
    if path.lower().endswith(".sf3"):
        try:
            cache_dir().mkdir(parents=True, exist_ok=True)
            cache = SampleCache(directory=cache_dir(), disk_bytes=2 << 30)
        except OSError:
            cache = None
    return SoundFontBank.load(path, cache=cache, preload=False)


def describe(path: str | None = None) -> str:
    """One line saying which instrument set plays (for ``mos-lab info --sound``)."""
    path = path or default_soundfont()
    if path is None:
        if os.environ.get("MOS_LAB_SOUNDFONT", "").lower() == "builtin":
            return "instruments: built-in (chosen by MOS_LAB_SOUNDFONT=builtin)"
        return ("instruments: built-in (no SoundFont found; apt-get install "
                "musescore-general-soundfont-small)")
    size = os.path.getsize(path) / 1e6 if os.path.isfile(path) else 0.0
    kind = "SF3, Ogg Vorbis samples" if path.lower().endswith(".sf3") else "SF2"
    return f"instruments: {Path(path).name} ({kind}, {size:.0f} MB) at {path}"
