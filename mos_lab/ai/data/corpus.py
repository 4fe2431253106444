"""A training corpus: score files -> token arrays, split into train/validation by piece.

Each file is one piece. Its split is decided by a hash of its name (and a seed), not by
its position in a list, so a piece never lands on both sides, the split of a piece stays
the same as the corpus grows, and the files can be streamed without listing them all
first. Files are read and tokenized lazily, one at a time, so memory stays that of one
piece; a file that cannot be read is skipped and recorded in ``Corpus.skipped``.
``torch_dataset`` wraps the same stream as a ``torch.utils.data.IterableDataset`` (torch
is imported only there; it is in the ``ai`` extra).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from mos_lab.score import MissingDependencyError, load

from .tokens import Tokenizer

__all__ = ["SCORE_SUFFIXES", "Corpus"]

SCORE_SUFFIXES = (".mid", ".midi", ".musicxml", ".mxl", ".xml", ".abc", ".json")
SPLITS = ("train", "validation")


def _walk(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """Score files under each path (a folder is walked in sorted order, lazily)."""
    for p in map(Path, paths):
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs.sort()
                for f in sorted(files):
                    if f.lower().endswith(SCORE_SUFFIXES):
                        yield Path(root) / f
        else:
            yield p


class Corpus:
    """Score files as token arrays, with a train/validation split by piece."""

    def __init__(self, paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
                 tokenizer: Tokenizer | str = "REMI", *, validation: float = 0.1,
                 seed: int = 0) -> None:
        if not 0.0 <= validation <= 1.0:
            raise ValueError(f"validation share must be in 0..1, not {validation}")
        self.paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
        self.tokenizer = tokenizer if isinstance(tokenizer, Tokenizer) else Tokenizer(tokenizer)
        self.validation = validation
        self.seed = seed
        self.skipped: dict[str, str] = {}  # file -> why it could not be used

    def files(self, split: str | None = None) -> Iterator[Path]:
        """The score files, lazily; only those of ``split`` ("train"/"validation") if given."""
        if split is not None and split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
        for f in _walk(self.paths):
            if split is None or self.split_of(f) == split:
                yield f

    def split_of(self, path: str | os.PathLike[str]) -> str:
        """The split of one piece, from a hash of its file name and the seed."""
        digest = hashlib.sha1(f"{self.seed}:{Path(path).name}".encode()).digest()
        u = int.from_bytes(digest[:8], "big") / 2**64
        return "validation" if u < self.validation else "train"

    def arrays(self, split: str | None = None) -> Iterator[tuple[Path, np.ndarray]]:
        """(file, token ids) per readable piece, streamed one file at a time."""
        for f in self.files(split):
            try:
                ids = self.tokenizer.encode(load(f), report=False).ids
            except (OSError, ValueError, ImportError) as exc:
                self.skipped[str(f)] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                continue
            yield f, ids

    def windows(self, split: str | None = None, length: int = 512,
                stride: int | None = None) -> Iterator[np.ndarray]:
        """Fixed-length windows of ``length`` ids (a piece's shorter tail is dropped)."""
        step = stride or length
        for _, ids in self.arrays(split):
            for i in range(0, len(ids) - length + 1, step):
                yield ids[i:i + length]

    def torch_dataset(self, split: str | None = None, length: int = 512,
                      stride: int | None = None) -> Any:
        """A torch IterableDataset of LongTensor windows (workers share the files)."""
        try:
            import torch
            from torch.utils.data import IterableDataset, get_worker_info
        except ImportError as exc:
            raise MissingDependencyError("torch", "ai", "A torch data set") from exc
        corpus = self

        class _Windows(IterableDataset):
            def __iter__(self) -> Iterator[Any]:
                info = get_worker_info()
                for k, f in enumerate(corpus.files(split)):
                    if info is not None and k % info.num_workers != info.id:
                        continue
                    sub = Corpus([f], corpus.tokenizer, validation=0.0)
                    for w in sub.windows(None, length, stride):
                        yield torch.from_numpy(w.copy())
                    corpus.skipped.update(sub.skipped)

        return _Windows()
