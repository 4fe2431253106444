"""What a MusicGen folder must hold, checked before transformers is asked to read it.

Why: ``from_pretrained`` on a folder with a missing file fails deep inside transformers
(or tries the network); this names the folder and every file it expected instead.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mos_lab.ai.core.errors import BackendError

WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
           "pytorch_model.bin.index.json")
TOKENIZER = ("tokenizer.json", "spiece.model")
KINDS = {"musicgen": "MusicgenForConditionalGeneration",
         "musicgen_melody": "MusicgenMelodyForConditionalGeneration"}


class MusicGenFilesError(BackendError, FileNotFoundError):
    """A MusicGen folder is missing, incomplete or not a MusicGen model; says which files."""


def expected_files(kind: str = "musicgen") -> list[str]:
    """The files a local MusicGen folder needs (one of each ``a | b`` group)."""
    files = ["config.json", " | ".join(WEIGHTS), "tokenizer_config.json", " | ".join(TOKENIZER)]
    if kind == "musicgen_melody":
        files.append("preprocessor_config.json")
    return files


def check_folder(path: str | os.PathLike[str]) -> tuple[Path, str, dict[str, Any]]:
    """``(folder, model_type, config)`` of a MusicGen folder, or MusicGenFilesError."""
    folder = Path(path).expanduser()
    want = ", ".join(expected_files())
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise MusicGenFilesError(
            f"MusicGen weights: {folder} {what}; expected a folder saved by transformers' "
            f"save_pretrained holding {want} (for the melody model also "
            "preprocessor_config.json)")
    cfg_path = folder / "config.json"
    try:
        config = json.loads(cfg_path.read_text()) if cfg_path.is_file() else {}
    except (OSError, ValueError) as exc:
        raise MusicGenFilesError(f"MusicGen weights: {cfg_path} cannot be read ({exc})") from None
    kind = str(config.get("model_type", "musicgen"))
    if config and kind not in KINDS:
        raise MusicGenFilesError(
            f"MusicGen weights: {cfg_path} describes a {kind!r} model, not musicgen or "
            "musicgen_melody")
    missing = []
    for entry in expected_files(kind):
        names = entry.split(" | ")
        if not any((folder / n).is_file() for n in names):
            missing.append(entry)
    if missing:
        raise MusicGenFilesError(
            f"MusicGen weights: {folder} lacks {', '.join(missing)} (expected "
            f"{', '.join(expected_files(kind))})")
    return folder, kind, config
