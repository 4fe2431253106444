"""Small shared DSP helpers (no imports from the rest of Apollo)."""

from __future__ import annotations

import numpy as np

_ARANGE: dict[int, np.ndarray] = {}


def frames_ramp(n: int) -> np.ndarray:
    """A cached read-only ``arange(n)`` in float64 (blocks reuse a few sizes)."""
    r = _ARANGE.get(n)
    if r is None:
        r = np.arange(n, dtype=np.float64)
        r.flags.writeable = False
        if len(_ARANGE) < 256:
            _ARANGE[n] = r
    return r
