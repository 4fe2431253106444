"""Backends: the protocol and the shipped implementations.

- :class:`Backend` / :class:`BaseBackend` / :class:`FunctionBackend`: the one-method protocol.
- :class:`MarkovBackend`: offline symbolic generation, trained on first use (no weights).
- :class:`RenderBackend`: offline text-to-audio through mos_lab's engine.
- :class:`RemoteBackend`: any JSON-over-HTTP generation API, with a swappable transport.
- ``make_backend(name="notagen")``: by name. The default, "notagen", is NotaGen's
  architecture on the small model that ships in the package (or ``path=`` a checkpoint);
  it and "musicgen" need the ``ai`` extra (torch). "markov" is the fast fallback that
  needs nothing (``symbolic_backend()`` picks it when torch is missing).
"""

from __future__ import annotations

from typing import Any

from mos_lab.ai.backends.base import Backend
from mos_lab.ai.backends.markov import MarkovBackend
from mos_lab.ai.backends.remote import RemoteBackend
from mos_lab.ai.backends.render import RenderBackend


def make_backend(name: str = "notagen", **options: Any) -> Backend:
    """A backend by name: "notagen" (default), "markov", "render", "remote" (needs
    ``url=``) or "musicgen"."""
    if name == "notagen":
        from mos_lab.ai.backends.heavy import require

        require("torch", "the NotaGen backend")
        from mos_lab.ai.models.notagen.backend import NotaGenBackend
        from mos_lab.ai.models.notagen.core import SHIPPED

        if "model" not in options:
            options.setdefault("path", SHIPPED)
        return NotaGenBackend(**options)
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
    raise ValueError(f"backend: {name!r} is not markov, notagen, render, remote or musicgen")


def symbolic_backend(**options: Any) -> Backend:
    """The default symbolic backend: NotaGen's shipped model, or the Markov chain (the
    named fast fallback) where torch is not installed."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return MarkovBackend(**options)
    return make_backend("notagen", **options)


__all__: list[str] = []
