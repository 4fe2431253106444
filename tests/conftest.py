"""Shared fixtures: the corpus of real files (read in place from ../shared/corpus)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("MOS_LAB_CORPUS", ROOT.parent / "shared" / "corpus"))


def corpus_files(*parts: str, pattern: str = "*.mid") -> list[Path]:
    """Files of the shared corpus under ``parts`` (empty when the corpus is absent)."""
    folder = CORPUS.joinpath(*parts)
    return sorted(folder.glob(pattern)) if folder.is_dir() else []


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    return CORPUS
