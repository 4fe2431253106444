"""NotaGen (ElectricAlexis/NotaGen, MIT): its architecture in torch, loading its checkpoints.

Needs torch (``pip install 'mos_lab[ai]'``). Map::

    m = notagen.load("weights_notagenx_….pth")     # sizes read from the checkpoint
    m.next_char_probs(abc_text) -> (128,) float32   # softmax, before top-k/top-p/T
    for bar in m.stream(period="Baroque", composer="Bach, Johann Sebastian",
                        instrumentation="Choral", bars=16, seed=1): ...
    g = m.generate(prompt, bars=16, seed=1)  -> Generated(text, bars, score, stopped)
    notagen.shipped()                               the small model in the package
    notagen.random(NotaGenConfig(hidden=128, ...))  an untrained model (tests, benches)

Modules: ``patchilizer`` (text to patches, no torch), ``model`` (the network),
``checkpoint`` (reading and writing .pth files), ``sampling`` (filters, caches, the bar
stream), ``abc`` (to a Score), ``core`` (the NotaGen class), ``train`` (its loss).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mos_lab.ai.models.notagen import patchilizer

if TYPE_CHECKING:
    from mos_lab.ai.models.notagen.checkpoint import CheckpointError
    from mos_lab.ai.models.notagen.core import SHIPPED, Generated, NotaGen, load, random, shipped
    from mos_lab.ai.models.notagen.model import NotaGenConfig
    from mos_lab.ai.models.notagen.sampling import BarStream, Sampling

_LAZY = {"NotaGen": "core", "Generated": "core", "load": "core", "random": "core",
         "shipped": "core", "SHIPPED": "core",
         "CheckpointError": "checkpoint", "NotaGenConfig": "model", "BarStream": "sampling",
         "Sampling": "sampling"}


def __getattr__(name: str) -> Any:
    """torch is imported on first use, with a message naming the extra when it is missing."""
    if name not in _LAZY:
        raise AttributeError(f"module 'mos_lab.ai.models.notagen' has no attribute {name!r}")
    try:
        import torch  # noqa: F401
    except ImportError:
        raise ImportError("NotaGen needs torch: pip install 'mos_lab[ai]'") from None
    import importlib

    return getattr(importlib.import_module(f"mos_lab.ai.models.notagen.{_LAZY[name]}"), name)


__all__ = [
    "SHIPPED",
    "BarStream",
    "CheckpointError",
    "Generated",
    "NotaGen",
    "NotaGenConfig",
    "Sampling",
    "load",
    "patchilizer",
    "random",
    "shipped",
]
