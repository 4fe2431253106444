"""The blind A/B listening widget: two players, three buttons, the running tally.

``ABListening(store, pairs, rater=)`` shows one pair at a time from
:class:`mos_lab.ai.data.listening.ABStore`: "1" and "2" play the two generations
(loudness-matched, sides drawn at random, nothing on screen says which is which), a click
on "1 is better", "2 is better" or "the same" stores the rating with both provenances and
moves on; the tally (wins, ties, 95 % Wilson interval) shows after each rating.
"""

from __future__ import annotations

import html
import io
import wave
from collections.abc import Sequence
from typing import Any

import numpy as np

from mos_lab.ai.data.listening import ABStore, Generation, Trial


def wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """16-bit PCM WAV of float audio (frames or frames x channels), for a player."""
    x = np.asarray(audio, dtype=np.float32)
    x = x.reshape(len(x), -1)
    pcm = (np.clip(x, -1.0, 1.0) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(x.shape[1])
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


class ABListening:
    """A blind A/B session over ``pairs`` of generations; ``.box`` is what to display."""

    def __init__(self, store: ABStore, pairs: Sequence[tuple[Generation, Generation]], *,
                 rater: str = "") -> None:
        import ipywidgets

        self.store = store
        self.pairs = list(pairs)
        self.rater = rater
        self.index = 0
        self.trial: Trial | None = None
        self.header = ipywidgets.HTML()
        self.players = [ipywidgets.Audio(value=b"", format="wav", autoplay=False,
                                         loop=False) for _ in range(2)]
        labels = ["1 is better", "2 is better", "the same"]
        self.buttons = [ipywidgets.Button(description=d) for d in labels]
        for b, choice in zip(self.buttons, ("left", "right", "same"), strict=True):
            b.on_click(lambda _b, c=choice: self.choose(c))
        self.tally = ipywidgets.HTML()
        self.box = ipywidgets.VBox([
            self.header,
            ipywidgets.HBox([ipywidgets.VBox([ipywidgets.HTML("<b>1</b>"), self.players[0]]),
                             ipywidgets.VBox([ipywidgets.HTML("<b>2</b>"), self.players[1]])]),
            ipywidgets.HBox(self.buttons), self.tally])
        self._show()

    @property
    def done(self) -> bool:
        return self.index >= len(self.pairs)

    def _show(self) -> None:
        self.tally.value = "<pre>" + html.escape(self.store.table()) + "</pre>"
        if self.done:
            self.trial = None
            self.header.value = f"<b>Done: {len(self.pairs)} pairs rated. Thank you.</b>"
            for p in self.players:
                p.value = b""
            for b in self.buttons:
                b.disabled = True
            return
        a, b = self.pairs[self.index]
        self.trial = self.store.trial(a, b)
        self.header.value = f"<b>Pair {self.index + 1} of {len(self.pairs)}</b>: which is better?"
        first, second = (a, b) if self.trial.a_is_left else (b, a)
        self.players[0].value = wav_bytes(self.trial.left, first.sample_rate)
        self.players[1].value = wav_bytes(self.trial.right, second.sample_rate)

    def choose(self, choice: str) -> str:
        """Rate the pair on screen ("left" = 1, "right" = 2, "same"), then show the next."""
        if self.trial is None:
            raise ValueError("every pair is rated")
        winner = self.trial.rate(choice, self.rater)
        self.index += 1
        self._show()
        return winner

    def _repr_mimebundle_(self, **kw: Any) -> Any:
        return self.box._repr_mimebundle_(**kw)
