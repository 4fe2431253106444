"""mos_lab: make, study and generate music inside Jupyter.

>>> import mos_lab
>>> score = mos_lab.load("song.mid")          # doctest: +SKIP
>>> score.notes[:3], score.duration           # doctest: +SKIP
"""

from mos_lab.score import Score, ScoreError, load, save

__version__ = "0.1.0"
__all__ = ["Score", "ScoreError", "__version__", "load", "save"]
