"""ChordDisplay: the chord sounding at the playhead (symbol and Roman numeral in its key).

The score is analysed once (``chords.analyse``: per beat, milliseconds) and the spans are
sent while the widget is visible; the page picks the span under its own playhead at
display rate, so chords change exactly with the music and cost no kernel messages. Live
chords (``chord`` bus events: the keyboard, MIDI in, a plugin) are mirrored in ``live``,
every one of them, in order (ENG-07).
"""

from __future__ import annotations

from collections import deque
from typing import Any

import traitlets as t

from mos_lab.bus import Event
from mos_lab.score import Score
from mos_lab.widgets._base import AUTO, MosWidget
from mos_lab.widgets._context import SessionLike
from mos_lab.widgets.chords import analyse


class ChordDisplay(MosWidget):
    """Chord symbol + Roman numeral at the playhead, and live chords from the bus."""

    _esm_name = "chord_display.js"

    chords: t.List[Any] = t.List().tag(sync=True)  # [[start s, end s, symbol, roman, key], ...]
    live = t.Dict().tag(sync=True)  # the last live chord: symbol, roman, key, seq

    def __init__(self, score: Score | None = None, *, session: SessionLike | None = None,
                 key: str | None = AUTO) -> None:
        """Chords of ``score`` (default: the session's current score) at the playhead.

        Parameters
        ----------
        score
            The score to analyse and show; ``None`` follows the session's current score.
        session
            The session whose playhead and live chords it shows (default: the kernel's).
        key
            Registry key; ``"auto"`` keys it by notebook cell (re-running the cell closes
            the previous display). ``None``: not keyed.
        """
        super().__init__(score, session=session, key=key)
        self.received: deque[str] = deque(maxlen=10_000)  # live chord symbols, in order
        self.life.subscribe(self.session.bus, "chord", self._on_chord)

    def _payload(self) -> dict[str, Any]:
        sc = self.current_score
        spans = analyse(sc) if sc is not None else []
        return {"chords": [[round(s.start, 4), round(s.end, 4), s.symbol, s.roman, s.key]
                           for s in spans]}

    def _on_chord(self, ev: Event) -> None:
        if self._closed:
            return
        with self._lock:
            self.received.append(ev["symbol"])
            self.live = {"symbol": ev["symbol"], "roman": ev.get("roman") or "",
                         "key": ev.get("key") or "", "seq": ev.seq}
