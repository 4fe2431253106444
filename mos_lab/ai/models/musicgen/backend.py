"""MusicGen behind the GenerationService: a request in, validated audio with provenance out.

Every batch item comes back: ``result.audio`` is the first, ``result.meta["batch_audio"]``
all of them, each (frames, 2) float32 at the request's rate. A run stopped by its deadline
or by memory returns what it made, marked ``partial``; one that made nothing raises. It
stops itself a little before the job's deadline (10 %, 0.5 to 5 s) to leave time to decode,
since the service gives up on a call that answers after its deadline.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from mos_lab.ai.core.audioio import conform_audio
from mos_lab.ai.core.backend import BaseBackend
from mos_lab.ai.core.errors import GenerationCancelled, GenerationTimeout
from mos_lab.ai.core.types import (
    CancelToken,
    GenerationRequest,
    GenerationResult,
    ModelInfo,
    Progress,
)
from mos_lab.ai.core.validate import condition_score
from mos_lab.ai.models.musicgen.core import CONTEXT_S, WINDOW_S, MusicGen, load
from mos_lab.ai.models.musicgen.files import WEIGHTS, MusicGenFilesError, check_folder

PARAMS = ("guidance_scale", "top_k", "top_p", "temperature", "do_sample")


def resolve(path: str | os.PathLike[str]) -> Path:
    """A local folder, or a Hugging Face id ("facebook/musicgen-small") already in the
    local cache (never downloaded here)."""
    p = Path(path).expanduser()
    text = str(path)
    if p.exists() or text.count("/") != 1 or text.startswith((".", "/", "~")):
        return p
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(text, local_files_only=True))
    except Exception:  # not in the cache (or no hub client): the folder check names it
        return p


def weights_checksum(folder: Path) -> str:
    """sha256 of the weights file(s) (NOT-04: provenance names the exact weights)."""
    h = hashlib.sha256()
    for name in WEIGHTS:
        f = folder / name
        if f.is_file():
            with open(f, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
    return h.hexdigest()


class MusicGenBackend(BaseBackend):
    """MusicGen / MusicGen-Melody from a local folder (``load``), for the service."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, device: str = "auto",
                 dtype: str | None = None, window_s: float = WINDOW_S,
                 context_s: float = CONTEXT_S, model: MusicGen | None = None,
                 model_id: str | None = None) -> None:
        path = path if path is not None else model_id  # model_id: the old wrapper's name
        if path is None and model is None:
            raise MusicGenFilesError("MusicGenBackend: give the folder of a MusicGen model "
                                     "(saved by transformers' save_pretrained)")
        self.path = None if path is None else resolve(path)
        if self.path is not None:
            check_folder(self.path)  # a wrong path is named now, not at the first job
        self.device, self.dtype = device, dtype
        self.window_s, self.context_s = window_s, context_s
        self._model = model
        name = f"musicgen:{(self.path or Path(str(model and model.path))).name}"
        self.info = ModelInfo(name, "", "", "audio")
        if model is not None:
            self._describe(model)

    def _describe(self, model: MusicGen) -> None:
        folder = model.path
        digest = weights_checksum(folder) if folder is not None else ""
        version = str(getattr(model.model.config, "_commit_hash", "") or model.kind)
        self.info = ModelInfo(self.info.name, version, digest, "audio")

    @property
    def model(self) -> MusicGen:
        """The loaded model (loaded on first use)."""
        if self._model is None:
            self.load()
        assert self._model is not None
        return self._model

    def load(self) -> None:
        if self._model is None:
            assert self.path is not None
            self._model = load(self.path, device=self.device, dtype=self.dtype)
            self._describe(self._model)

    def unload(self) -> None:
        if self.path is not None:
            self._model = None

    def memory_bytes(self) -> int:
        return 0 if self._model is None else self._model.memory_bytes()

    def generate(self, request: GenerationRequest, progress: Progress,
                 cancel: CancelToken) -> GenerationResult:
        m = self.model
        params: dict[str, Any] = {k: request.params[k] for k in PARAMS if k in request.params}
        melody = condition_score(request) if m.melody else None
        rem = cancel.remaining()  # stop before the service's deadline, so that what was
        stop = None if rem is None else max(0.0, rem - min(5.0, max(0.5, 0.1 * rem)))
        out = m.generate(request.prompt, seconds=request.seconds, batch=request.batch,
                         seed=request.seed, melody=melody, window_s=self.window_s,
                         context_s=self.context_s, progress=progress, cancel=cancel,
                         timeout_s=stop, **params)  # made is decoded and returned in time
        if not out.codes.shape[-1]:
            if out.stopped == "out of memory" or out.stopped == "memory limit":
                raise MemoryError(f"MusicGen ran out of memory ({out.stopped}) before one frame")
            if out.stopped == "timeout":
                raise GenerationTimeout("MusicGen made no audio before the deadline")
            raise GenerationCancelled(cancel.reason or "cancelled")
        items = [conform_audio(a, out.sample_rate, target_rate=request.sample_rate)
                 for a in out.audio]
        missing = ((f"audio after {out.seconds:.1f} s of {request.seconds:.1f} s "
                    f"(stopped: {out.stopped})",) if out.partial else ())
        return GenerationResult(audio=items[0], sample_rate=request.sample_rate,
                                partial=out.partial, missing=missing,
                                meta={"batch_audio": items, "windows": out.windows,
                                      "stopped": out.stopped, "model_rate": out.sample_rate,
                                      "channels": m.channels})
