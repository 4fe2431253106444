"""mos_lab: make, study and generate music inside Jupyter.

>>> import mos_lab
>>> score = mos_lab.load("song.mid")          # doctest: +SKIP
>>> score.notes[:3], score.duration           # doctest: +SKIP
>>> mos_lab.session().engine.play()           # doctest: +SKIP

In a notebook, ``%load_ext mos_lab`` (or just ``import mos_lab``) gives the kernel one
Session, the ``%mos`` magic and a player for every Score shown as a cell's result.
"""

from typing import Any

from mos_lab.score import Score, ScoreError, load, save

__version__ = "0.1.0"
__all__ = ["Score", "ScoreError", "__version__", "load", "load_ipython_extension", "save",
           "session", "unload_ipython_extension"]


def session(**options: Any) -> Any:
    """The kernel's one :class:`mos_lab.kernel.Session` (made on first use)."""
    from mos_lab.kernel import session as _session

    return _session(**options)


def load_ipython_extension(ip: Any) -> None:
    """``%load_ext mos_lab``: see :mod:`mos_lab.kernel`."""
    from mos_lab.kernel import load_ipython_extension as _load

    _load(ip)


def unload_ipython_extension(ip: Any) -> None:
    from mos_lab.kernel import unload_ipython_extension as _unload

    _unload(ip)


def _autoload() -> None:
    """In a notebook kernel, ``import mos_lab`` loads the extension (Score display, %mos)."""
    import os
    import sys

    if "IPython" not in sys.modules or os.environ.get("MOS_LAB_NO_AUTOLOAD"):
        return
    try:
        ip = sys.modules["IPython"].get_ipython()
        if ip is not None and getattr(ip, "kernel", None) is not None:
            ip.extension_manager.load_extension("mos_lab")
    except Exception:  # never break a plain import; say why at debug level
        import logging

        logging.getLogger("mos_lab").debug("mos_lab extension not autoloaded", exc_info=True)


_autoload()
