"""Backends that need torch/transformers: imported lazily, behind the ``ai`` extra.

Nothing here is imported by ``mos_lab.ai`` itself; asking for such a backend without the
packages gives :class:`MissingAIDependencyError` naming what to install, and the offline
backends keep working. NotaGen has no pip package: reach it as a :class:`RemoteBackend`.
"""

from __future__ import annotations

import importlib
from typing import Any

from mos_lab.ai.backends.base import BaseBackend
from mos_lab.ai.errors import MissingAIDependencyError
from mos_lab.ai.types import CancelToken, GenerationRequest, GenerationResult, ModelInfo, Progress


def require(package: str, what: str) -> Any:
    """Import ``package`` or raise MissingAIDependencyError saying what needed it."""
    try:
        return importlib.import_module(package)
    except ImportError:
        raise MissingAIDependencyError(package, what) from None


class TransformersMusicGen(BaseBackend):
    """MusicGen through Hugging Face transformers (needs torch + transformers + weights).

    The weights are whatever ``model_id`` resolves to in the local Hugging Face cache;
    the service reports their revision as version. Not exercised by the test suite.
    """

    def __init__(self, model_id: str = "facebook/musicgen-small") -> None:
        self.model_id = model_id
        self.info = ModelInfo(f"musicgen:{model_id}", "", "", "audio")
        self._model: Any = None
        self._processor: Any = None

    def load(self) -> None:
        require("torch", "the MusicGen backend")
        tf = require("transformers", "the MusicGen backend")
        self._processor = tf.AutoProcessor.from_pretrained(self.model_id)
        self._model = tf.MusicgenForConditionalGeneration.from_pretrained(self.model_id)
        rev = str(getattr(self._model.config, "_commit_hash", "") or "")
        self.info = ModelInfo(f"musicgen:{self.model_id}", rev, rev, "audio")

    def unload(self) -> None:
        self._model = self._processor = None

    def memory_bytes(self) -> int:
        if self._model is None:
            return 0
        return int(sum(p.numel() * p.element_size() for p in self._model.parameters()))

    def generate(self, request: GenerationRequest, progress: Progress,
                 cancel: CancelToken) -> GenerationResult:
        from mos_lab.ai.audioio import conform_audio

        torch = require("torch", "the MusicGen backend")
        if self._model is None:
            self.load()
        if request.seed is not None:
            torch.manual_seed(request.seed)
        inputs = self._processor(text=[request.prompt or "music"] * request.batch,
                                 padding=True, return_tensors="pt")
        tokens = int(request.seconds * 50)  # MusicGen: 50 audio tokens per second
        cancel.check()
        with torch.no_grad():
            out = self._model.generate(**inputs, max_new_tokens=tokens)
        cancel.check()
        rate = int(self._model.config.audio_encoder.sampling_rate)
        audio = conform_audio(out[0, 0].cpu().numpy(), rate, target_rate=request.sample_rate)
        return GenerationResult(audio=audio, sample_rate=request.sample_rate)
