"""mos_lab.ai.data — research data: metrics (muspy's, plus theory-based), tokens, corpora.

Map::

    muspy_metrics(score) -> {"pitch_range": .., "polyphony": .., ...}   None where undefined
    pitch_range, polyphony, scale_consistency, groove_consistency(score, ticks), ...
"""

from mos_lab.ai.data.metrics import MUSPY_METRICS, muspy_metrics

__all__ = ["MUSPY_METRICS", "muspy_metrics"]
