"""Transport: play, pause, stop, seek bar, tempo, loop, engine state, output and audio.

It is also the page's audio host when the session plays through the browser: a click on
"enable audio" (or on play) starts an AudioContext in that view, which asks the kernel for
the stream; the session's :class:`~mos_lab.audio.BrowserOutput` then sends PCM blocks to
that view only, and the view acknowledges what it played (that count is the clock).

Examples
--------
>>> from mos_lab.widgets import Transport     # doctest: +SKIP
>>> Transport()                                # the session's engine and score
"""

from __future__ import annotations

from typing import Any, ClassVar

import traitlets as t

from mos_lab.score import Score
from mos_lab.widgets._base import AUTO, MosWidget
from mos_lab.widgets._context import SessionLike
from mos_lab.widgets._messages import Arg, Spec

OUTPUTS = ("browser", "local", "null")
_AUDIO = "browser-audio"  # the name of the audio stream in the lifecycle


class Transport(MosWidget):
    """Transport controls of the session's engine; hosts browser audio."""

    _esm_name = "transport.js"
    _commands: ClassVar[dict[str, Spec]] = {
        "play": {}, "pause": {}, "stop": {},
        "seek": {"seconds": Arg(float, 0.0, 1e7)},
        "tempo": {"factor": Arg(float, 0.1, 10.0)},
        "loop": {"start": Arg(float, 0.0, 1e7, optional=True),
                 "end": Arg(float, 0.0, 1e7, optional=True)},
        "output": {"kind": Arg(str)},
        "unlocked": {"view": Arg(str), "sample_rate": Arg(int, 8000, 384_000)},
        "ack": {"view": Arg(str), "played": Arg(int, 0), "underruns": Arg(int, 0, optional=True,
                                                                           default=0)},
        "audio_lost": {"view": Arg(str)},
    }

    title = t.Unicode("").tag(sync=True)
    sample_rate = t.Int(48_000).tag(sync=True)
    audio_view = t.Unicode("").tag(sync=True)  # the page view that plays the audio

    def __init__(self, score: Score | None = None, *, session: SessionLike | None = None,
                 key: str | None = AUTO) -> None:
        """Transport controls for ``score`` (default: whatever the session has loaded).

        Parameters
        ----------
        score
            A score to bind: play and seek load it into the engine first. ``None``
            follows the session's current score.
        session
            The session whose engine it drives (default: the kernel's session).
        key
            Registry key; ``"auto"`` keys it by notebook cell, so re-running the cell
            closes the previous transport. ``None``: not keyed.
        """
        super().__init__(score, session=session, key=key)
        self.pcm_blocks = 0
        self.pcm_frames = 0
        self._sync_meta()

    def _sync_meta(self) -> None:
        sc = self.current_score
        self.update(title=(sc.title if sc is not None else "") or "",
                    sample_rate=self.session.engine.sample_rate)

    def _refresh_clock(self) -> None:
        super()._refresh_clock()
        if getattr(self, "life", None) is not None and self.current_score is not None:
            title = self.current_score.title or ""
            if title != self.title:
                self.title = title

    # -- Python API (the same as the buttons) ------------------------------------------
    def _bound_score_loaded(self) -> None:
        eng = self.session.engine
        if self.score is not None and eng.score is not self.score:
            eng.load(self.score).result(30)

    def play(self) -> None:
        """Play (the bound score is loaded first); held until audio is enabled if needed."""
        self._bound_score_loaded()
        self.session.engine.play()

    def pause(self) -> None:
        """Pause at the heard position; ``play()`` resumes there."""
        self.session.engine.pause()

    def stop(self) -> None:
        """Stop and go back to the start."""
        self.session.engine.stop()

    def seek(self, seconds: float) -> None:
        """Jump to ``seconds`` of score time (kept if audio is not enabled yet)."""
        self._bound_score_loaded()
        self.session.engine.seek(seconds)

    def set_tempo(self, factor: float) -> None:
        """Scale the tempo (1.0 as written, 2.0 twice as fast; 0.1..10)."""
        self.session.engine.tempo = factor
        self.session.bus.emit("mos.clock")

    def set_loop(self, start: float | None, end: float | None = None) -> None:
        """Loop between two times (seconds); both validated before either is applied."""
        self._bound_score_loaded()
        self.session.engine.set_loop(start, end)
        self.session.bus.emit("mos.clock")

    # -- commands from the page (validated by the base class) --------------------------
    def _cmd_play(self) -> None:
        self.play()

    def _cmd_pause(self) -> None:
        self.pause()

    def _cmd_stop(self) -> None:
        self.stop()

    def _cmd_seek(self, seconds: float) -> None:
        self.seek(seconds)

    def _cmd_tempo(self, factor: float) -> None:
        self.set_tempo(factor)

    def _cmd_loop(self, start: float | None, end: float | None) -> None:
        self.set_loop(start, end)

    def _cmd_output(self, kind: str) -> None:
        if kind not in OUTPUTS:
            raise ValueError(f"output.kind: {kind!r} is not one of {list(OUTPUTS)}")
        self.session.output = kind  # type: ignore[misc]

    # -- browser audio -----------------------------------------------------------------
    def _cmd_unlocked(self, view: str, sample_rate: int) -> None:
        out = self.session.browser_output
        if out is None:
            raise ValueError(f"unlocked: the session plays through {self.session.output!r}, "
                             "not the browser")
        if not self.audio_view:
            self.life.stream(_AUDIO, lambda: out.detach(self._send_pcm))
        for w in self.session.registry.widgets():  # one page view plays, the others stop
            if isinstance(w, Transport) and w is not self and w.audio_view:
                w._audio_released()
        self.audio_view = view
        out.attach(self._send_pcm, owner=self.life.owner)
        err = out.handle({"type": "unlocked", "sample_rate": sample_rate})
        if err:
            raise ValueError(err)
        self.session.bus.emit("mos.clock")

    def _audio_released(self) -> None:
        self.life.release(_AUDIO)
        self.audio_view = ""

    def _cmd_ack(self, view: str, played: int, underruns: int) -> None:
        out = self.session.browser_output
        if out is not None and view == self.audio_view and view:
            err = out.handle({"type": "ack", "played": played, "underruns": underruns})
            if err:
                raise ValueError(err)

    def _cmd_audio_lost(self, view: str) -> None:
        out = self.session.browser_output
        if view == self.audio_view and out is not None:
            out.handle({"type": "suspended"})
            self._audio_released()
            self.session.bus.emit("mos.clock")

    def _send_pcm(self, header: dict[str, Any], buffers: list[bytes]) -> None:
        """The BrowserOutput's link: one PCM block (or a flush) to the audio view."""
        if self._closed:
            raise RuntimeError("transport closed")
        self.send({**header, "view": self.audio_view}, buffers)
        if header.get("type") == "pcm":
            self.pcm_blocks += 1
            self.pcm_frames += int(header["frames"])
