"""NotaGen behind the GenerationService: a symbolic backend on a local checkpoint.

``GenerationService([NotaGenBackend("weights.pth")])``; the request's ``prompt`` is
NotaGen-X's ``period_composer_instrumentation`` (as its prompts.txt writes them, e.g.
``Baroque_Bach, Johann Sebastian_Choral``) or empty; ``params`` may hold ``abc`` (ABC to
continue), ``top_k``, ``top_p``, ``temperature``, ``pitch_temperature`` (each the
model's own where left out: ``NotaGen.sampling``). A key-normalised model (the shipped one)
writes without sharps or flats, in the request's mode (its key line is resampled until it
is), and its piece is moved to the request's key signature.
Bars are reported as progress as they come; running out of time or memory returns what
was made, marked partial. Without ``abc`` the piece starts in the request's meter, and
voices that over-fill their bars (a small model's slips) are cut at the length asked
for (``meta["notes_cut"]``).
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any

from mos_lab.ai.core.backend import BaseBackend
from mos_lab.ai.core.types import (
    CancelToken,
    GenerationRequest,
    GenerationResult,
    ModelInfo,
    Progress,
)
from mos_lab.ai.core.validate import request_key
from mos_lab.ai.models.notagen.checkpoint import find_checkpoint
from mos_lab.ai.models.notagen.core import NotaGen, load
from mos_lab.ai.models.notagen.keys import to_signature
from mos_lab.score import Score


def prompt_fields(prompt: str) -> dict[str, str]:
    """``period_composer_instrumentation`` as NotaGen-X's three prompt fields ({} if not)."""
    parts = prompt.split("_")
    if len(parts) != 3 or not all(p.strip() for p in parts):
        return {}
    return dict(zip(("period", "composer", "instrumentation"), (p.strip() for p in parts),
                    strict=True))


class NotaGenBackend(BaseBackend):
    """NotaGen's architecture on a checkpoint (or a loaded ``model``), as a service backend."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *,
                 model: NotaGen | None = None, name: str = "notagen") -> None:
        if path is None and model is None:
            raise ValueError("NotaGenBackend: give the checkpoint path (or a loaded model=)")
        self.path = None if path is None else Path(path)
        self.model = model
        version = self.path.name if self.path is not None else "in-memory"
        self.info = ModelInfo(name, version, "", "symbolic")

    def load(self) -> None:
        """Read the checkpoint (once) and record its sha256 for provenance."""
        if self.model is None and self.path is not None:
            file = find_checkpoint(self.path)
            self.model = load(file)
            digest = hashlib.sha256(file.read_bytes()).hexdigest()
            self.info = ModelInfo(self.info.name, file.name, digest, "symbolic")

    def unload(self) -> None:
        if self.path is not None:
            self.model = None

    def memory_bytes(self) -> int:
        if self.model is None:
            return 0
        return sum(p.numel() * p.element_size() for p in self.model.net.parameters())

    def generate(self, request: GenerationRequest, progress: Progress,
                 cancel: CancelToken) -> GenerationResult:
        self.load()
        assert self.model is not None
        params: dict[str, Any] = dict(request.params)

        def number(name: str) -> float | None:
            """A sampling setting of ``params``; None (the model's own) where left out."""
            return None if params.get(name) is None else float(params[name])

        limit = None if cancel.deadline is None else max(0.0, cancel.deadline - time.monotonic())
        fields = prompt_fields(request.prompt)
        abc = str(params.get("abc", "")) or meter_header(request.meter)
        key = request_key(request.key)
        # a key-normalised model's piece is moved to the key's signature below
        head = self.model.header_check(key.mode == "minor", continuing=bool(params.get("abc")))
        st = self.model.stream(abc, period=fields.get("period"), check_head=head,
                               composer=fields.get("composer"),
                               instrumentation=fields.get("instrumentation"),
                               bars=request.bars, seed=request.seed, time_limit=limit,
                               cancel=lambda: cancel.cancelled,
                               top_k=None if (k := number("top_k")) is None else int(k),
                               top_p=number("top_p"), temperature=number("temperature"),
                               pitch_temperature=number("pitch_temperature"))
        for n, _ in enumerate(st, 1):
            progress(n, request.bars)
        if st.stopped == "cancelled":
            cancel.check()
        from mos_lab.ai.models.notagen.abc import to_score

        partial = st.stopped not in ("end", "bars")
        score, cut = None, 0
        if st.bars:
            score, cut = fit_bars(to_score(st.text), request.bars, request.meter)
            if self.model.key_normalized:
                score = to_signature(score, key.sharps)
        return GenerationResult(score=score, partial=partial,
                                missing=(f"stopped: {st.stopped}",) if partial else (),
                                meta={"abc": st.text, "stopped": st.stopped,
                                      "rejected_bars": st.rejected, "notes_cut": cut})


def meter_header(meter: tuple[int, int]) -> str:
    """The first header fields NotaGen's pieces start with, for the meter asked for (the
    model goes on with tempo, voices and key)."""
    return f"M:{meter[0]}/{meter[1]}\nL:1/8\n"


def fit_bars(score: Score, bars: int, meter: tuple[int, int]) -> tuple[Score, int]:
    """``score`` cut at ``bars`` bars of ``meter`` (a small model's over-full bar pushes its
    voice past the end): notes starting later go, notes running over end there. Returns
    the score and how many notes were dropped or shortened."""
    end = score.tpq * 4 * meter[0] // meter[1] * bars
    notes = score.notes
    if not len(notes) or int((notes["start"] + notes["duration"]).max()) <= end:
        return score, 0
    keep = notes[notes["start"] < end].copy()
    over = keep["start"] + keep["duration"] > end
    keep["duration"][over] = end - keep["start"][over]
    return score.replace(notes=keep), int(len(notes) - len(keep) + over.sum())
