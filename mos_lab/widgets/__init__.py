"""mos_lab.widgets: anywidgets for playing, seeing and studying music in a notebook.

Map (every widget can be made with no arguments: it binds to the session and its score)::

    Transport()      play, pause, stop, seek bar, tempo, loop, state, output; browser audio
    Keyboard()       on-screen piano: plays on click/computer keys, lights sounding notes
    ChordDisplay()   harmony lane: Roman numeral, chord symbol, local key at the playhead
    PianoRoll()      notes + moving playhead; theater-drawn strips (wgpu) or browser canvas
    TheaterView()    the theater's full view (landscape/portrait), following the playhead
    Player()         the composed default view (``Player(score, compact=True)``)
    Notation()       engraved pages (verovio, in the kernel) lit and turned as the music is heard
    w.close()        releases subscriptions, timers, threads, streams and the comm
    w.update(**kw)   several fields as one transaction (all or nothing)
    live_chord(pitches, key)   symbol and numeral of held notes (mos_lab.theory)

Lifecycle: a widget made in a notebook cell is keyed by (cell, class, ordinal); running
the cell again closes the widgets of its previous run. The page moves playheads itself
from the audio position (``requestAnimationFrame``); the kernel only sends state changes.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mos_lab.widgets._context import set_provider
    from mos_lab.widgets._lifecycle import Registry
    from mos_lab.widgets.chord_display import ChordDisplay, live_chord
    from mos_lab.widgets.keyboard import Keyboard
    from mos_lab.widgets.notation import Notation
    from mos_lab.widgets.piano_roll import PianoRoll
    from mos_lab.widgets.player import Player
    from mos_lab.widgets.theater_view import TheaterView
    from mos_lab.widgets.transport import Transport

# Each name's module, imported on first use: a kernel that makes no widget imports no
# anywidget, ipywidgets or widget code (~9 MB of an idle engine's kernel, issue 18).
_WHERE = {
    "ChordDisplay": "chord_display", "Keyboard": "keyboard", "Notation": "notation",
    "PianoRoll": "piano_roll", "Player": "player", "Registry": "_lifecycle",
    "TheaterView": "theater_view", "Transport": "transport", "live_chord": "chord_display",
    "set_provider": "_context",
}


def __getattr__(name: str) -> Any:
    """Import the module of an exported name when the name is first used (PEP 562)."""
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'mos_lab.widgets' has no attribute {name!r}")
    value = getattr(import_module(f"mos_lab.widgets.{where}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])


__all__ = [
    "ChordDisplay",
    "Keyboard",
    "Notation",
    "PianoRoll",
    "Player",
    "Registry",
    "TheaterView",
    "Transport",
    "live_chord",
    "set_provider",
]
