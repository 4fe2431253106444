"""Backends: the protocol and the shipped implementations.

- :class:`Backend` / :class:`BaseBackend` / :class:`FunctionBackend`: the one-method protocol.
- :class:`MarkovBackend`: offline symbolic generation, trained on first use (no weights).
- :class:`RenderBackend`: offline text-to-audio through mos_lab's engine.
- :class:`RemoteBackend`: any JSON-over-HTTP generation API, with a swappable transport.
- ``make_backend(name)``: by name; "musicgen" needs the ``ai`` extra (torch, transformers).
"""

from __future__ import annotations

from typing import Any

from mos_lab.ai.backends.base import Backend
from mos_lab.ai.backends.markov import MarkovBackend
from mos_lab.ai.backends.remote import RemoteBackend
from mos_lab.ai.backends.render import RenderBackend


def make_backend(name: str, **options: Any) -> Backend:
    """A backend by name: "markov", "render", "remote" (needs ``url=``) or "musicgen"."""
    if name == "markov":
        return MarkovBackend(**options)
    if name == "render":
        return RenderBackend(**options)
    if name == "remote":
        return RemoteBackend(**options)
    if name == "musicgen":
        from mos_lab.ai.backends.heavy import TransformersMusicGen, require

        require("torch", "the MusicGen backend")
        require("transformers", "the MusicGen backend")
        return TransformersMusicGen(**options)
    raise ValueError(f"backend: {name!r} is not markov, render, remote or musicgen")


__all__: list[str] = []
