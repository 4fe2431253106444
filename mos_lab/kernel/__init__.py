"""mos_lab.kernel: the IPython extension, the kernel's Session and the ``%mos`` magic.

Map::

    %load_ext mos_lab        (or import mos_lab in a kernel): one Session, %mos, Score display
    session(output=None)     the kernel's Session, same object from any cell or thread
    Session                  .engine .bus .registry .output ("browser"|"local"|"null")
                             .load(src) .doctor() .inventory() .status() .stop() .close()
    %mos status | doctor | stop | output <kind>
    shutdown()               close the session (registered with atexit)
"""

from __future__ import annotations

from typing import Any

from mos_lab.kernel._singleton import session, shutdown

__all__ = [
    "load_ipython_extension",
    "session",
    "unload_ipython_extension",
]


def load_ipython_extension(ip: Any) -> None:
    """``%load_ext mos_lab``: make the session, register ``%mos`` and the Score display."""
    from mos_lab.kernel import display
    from mos_lab.kernel.magics import MosMagics

    session()
    ip.register_magics(MosMagics)
    display.register(ip)


def unload_ipython_extension(ip: Any) -> None:
    """Undo the display hook and close the session."""
    from mos_lab.kernel import display

    display.unregister(ip)
    shutdown()
