"""Page messages handled in the order the page sent them.

ipykernel 7 runs a comm message without waiting for the shell's lock when another shell
message holds it (``Kernel.shell_main``), so a burst from one page (five notes from a MIDI
keyboard in one tick, a key's ``note_on`` and ``note_off``, a drag's seeks) can reach the
widget out of order: the last seek is not the one that wins, a note-off comes before its
note-on and the note sticks. Each view stamps its messages ``order: [view, n]`` (``n``
counts from 0 per view); :class:`InOrder` passes a message on when every earlier one from
that view has been, holding one that came early for at most ``wait`` seconds (a page that
lost a message or reloaded must not stall the widget).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

ORDER = "order"  # the field that carries [view, n]
MAX_VIEWS = 64  # views remembered per widget (a page reloaded many times)
MAX_HELD = 256  # messages held for one view before its gap is given up


def stamp(content: Any) -> tuple[str, int] | None:
    """The ``(view, n)`` stamp of a message, or None when it has none or a malformed one."""
    if not isinstance(content, dict):
        return None
    s = content.get(ORDER)
    if (isinstance(s, list | tuple) and len(s) == 2 and isinstance(s[0], str)
            and 0 < len(s[0]) <= 64 and isinstance(s[1], int) and not isinstance(s[1], bool)
            and 0 <= s[1] < 2**53):
        return s[0], s[1]
    return None


def unstamped(content: Any) -> Any:
    """The message without its ordering stamp (what the widget's commands validate)."""
    if isinstance(content, dict) and ORDER in content:
        return {k: v for k, v in content.items() if k != ORDER}
    return content


class _View:
    __slots__ = ("held", "next", "since")

    def __init__(self) -> None:
        self.next = 0
        self.held: dict[int, Any] = {}
        self.since = 0.0  # when the oldest held message arrived


class InOrder:
    """Deliver each view's messages in their sent order (unstamped ones at once)."""

    def __init__(self, deliver: Callable[[Any], None], wait: float = 0.25) -> None:
        self._deliver = deliver
        self.wait = wait
        self._views: OrderedDict[str, _View] = OrderedDict()
        self._lock = threading.RLock()  # delivery is serial: one message handled at a time
        self._timer: threading.Timer | None = None
        self._closed = False
        self.reordered = 0  # messages that arrived early and waited for their turn
        self.gaps = 0  # gaps given up (a message that never came)

    def feed(self, content: Any) -> None:
        """Take one message from the page; deliver it and any it was holding up."""
        s = stamp(content)
        body = unstamped(content)
        with self._lock:
            if self._closed:
                return
            if s is None:
                self._deliver(body)
                return
            view_id, n = s
            view = self._views.get(view_id)
            if view is None:
                view = self._views[view_id] = _View()
                while len(self._views) > MAX_VIEWS:
                    self._views.popitem(last=False)
            self._views.move_to_end(view_id)
            if n < view.next:  # after a gap was given up: late, but still the user's act
                self._deliver(body)
                return
            if n > view.next:
                if not view.held:
                    view.since = time.monotonic()
                view.held[n] = body
                self.reordered += 1
                if len(view.held) > MAX_HELD:
                    self._give_up(view)
                else:
                    self._arm()
                return
            self._deliver(body)
            view.next = n + 1
            self._drain(view)

    def _drain(self, view: _View) -> None:
        while view.next in view.held:
            self._deliver(view.held.pop(view.next))
            view.next += 1
        if view.held:
            view.since = time.monotonic()

    def _give_up(self, view: _View) -> None:
        """Stop waiting for a missing message: the held ones go on in their order."""
        self.gaps += 1
        view.next = min(view.held)
        self._drain(view)

    def _arm(self) -> None:
        if self._timer is None:
            self._timer = threading.Timer(self.wait, self._expire)
            self._timer.daemon = True
            self._timer.name = "mos-lab-page-order"
            self._timer.start()

    def _expire(self) -> None:
        with self._lock:
            self._timer = None
            if self._closed:
                return
            now = time.monotonic()
            for view in list(self._views.values()):
                while view.held and now - view.since >= self.wait * 0.99:
                    self._give_up(view)
            if any(v.held for v in self._views.values()):
                self._arm()

    def close(self) -> None:
        """Drop what is held and stop the timer (the widget is closing)."""
        with self._lock:
            self._closed = True
            self._views.clear()
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
