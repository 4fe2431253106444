"""Exclusive classes cut a channel's earlier notes but never the layers of the note that
starts (FluidSynth spares the voices of the same note-on): TimGM6mb's kit 16 closed
hi-hat is two identical layers of class 1, and the second used to cut the first."""

from __future__ import annotations

import numpy as np
from _sf2_make import SR, make_sf2, sine
from test_sf2_voice import bank_of

from mos_lab.audio.voices import VoiceAllocator

TONE = sine(440.0, 0.5)


def test_layers_of_one_note_survive_their_own_exclusive_class() -> None:
    inst = bank_of(make_sf2(TONE, loop=(0, len(TONE)), gens={57: 1})).instrument(0, False)
    spec = inst.start(69, 100, SR)[0]
    alloc = VoiceAllocator(16, SR)
    alloc.start([spec, spec], 0, 69, 100)  # one note, two layers of class 1
    assert len(alloc.voices) == 2 and not alloc.tails
    mix = np.zeros((2, 4800))
    alloc.render(mix, 4800)
    one = VoiceAllocator(16, SR)
    one.start([spec], 0, 69, 100)
    ref = np.zeros((2, 4800))
    one.render(ref, 4800)
    np.testing.assert_allclose(mix, 2 * ref, atol=1e-9)  # both layers sound
    alloc.start([spec], 0, 72, 100)  # a later note of the class cuts both
    assert len(alloc.voices) == 1 and len(alloc.tails) == 2
    alloc.start([spec], 1, 74, 100)  # on another channel it cuts nothing
    assert len(alloc.voices) == 2
