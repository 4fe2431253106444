"""Generation backends by model, and ``make_backend`` to pick one by name.

- ``notagen`` (NotaGen's architecture in torch; the small model that ships is the
  default), ``musicgen`` (MusicGen and MusicGen-Melody through transformers, from a local
  folder), ``markov`` (the offline Markov chain, the fast fallback that needs nothing).
- ``render`` (:class:`~mos_lab.ai.models.render.RenderBackend`: offline text-to-audio
  through mos_lab's engine), ``remote`` (:class:`~mos_lab.ai.models.remote.RemoteBackend`:
  any JSON-over-HTTP generation API, with a swappable transport), ``heavy`` (the
  dependency checks of the torch backends).
- ``make_backend(name="notagen")``: a backend by name; "notagen" and "musicgen" need the
  ``ai`` extra (torch); ``symbolic_backend()`` picks "markov" when torch is missing.

Importing this package needs no torch; loading a model does (``pip install 'mos_lab[ai]'``).
"""

from __future__ import annotations

import importlib.util
from typing import Any

from mos_lab.ai.core.backend import Backend

#: the names ``make_backend`` takes
BACKENDS = ("notagen", "markov", "render", "remote", "musicgen")


def symbolic_choices() -> list[dict[str, Any]]:
    """The score-making backends this installation can run, for menus (the Player's
    generate panel): ``name`` (for ``make_backend``), ``label`` and the request ``fields``
    each reads. Imports nothing heavy: torch is looked up, not loaded."""
    out: list[dict[str, Any]] = []
    if importlib.util.find_spec("torch") is not None:
        # the shipped model writes in C or A minor and is moved to the key asked for
        out.append({"name": "notagen", "label": "NotaGen (the small model that ships)",
                    "fields": ["period", "composer", "instrumentation", "key"]})
    out.append({"name": "markov", "label": "Markov chain (fast, no torch)", "fields": ["key"]})
    return out


def make_backend(name: str = "notagen", **options: Any) -> Backend:
    """A backend by name: "notagen" (default), "markov", "render", "remote" (needs
    ``url=``) or "musicgen"."""
    if name == "notagen":
        from mos_lab.ai.models.heavy import require

        require("torch", "the NotaGen backend")
        from mos_lab.ai.models.notagen.backend import NotaGenBackend
        from mos_lab.ai.models.notagen.core import SHIPPED

        if "model" not in options:
            options.setdefault("path", SHIPPED)
        return NotaGenBackend(**options)
    if name == "markov":
        from mos_lab.ai.models.markov.backend import MarkovBackend

        return MarkovBackend(**options)
    if name == "render":
        from mos_lab.ai.models.render import RenderBackend

        return RenderBackend(**options)
    if name == "remote":
        from mos_lab.ai.models.remote import RemoteBackend

        return RemoteBackend(**options)
    if name == "musicgen":
        from mos_lab.ai.models.heavy import TransformersMusicGen, require

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
        from mos_lab.ai.models.markov.backend import MarkovBackend

        return MarkovBackend(**options)
    return make_backend("notagen", **options)


__all__: list[str] = []
