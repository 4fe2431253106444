"""Renderers opened and closed in one process (videos rendered in the kernel, views made
and dropped) must not disturb the ones still drawing."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from _theater_helpers import random_score

from mos_lab.theater import View, open_renderer
from mos_lab.theater.scene import Scene

VIEW = View(320, 180)


@pytest.mark.gpu
@pytest.mark.seed("THR-09")
def test_a_renderer_closed_in_the_process_leaves_the_others_drawing(gpu):
    """On OpenGL every device shares one context, and the device opened last owns its
    bound vertex array: closing that one used to leave every other renderer drawing only
    the background (a video rendered in the kernel blanked the views opened before it)."""
    scene = Scene(random_score(2000, seed=5, seconds=20), span=5.0, playhead=8.0)
    gpu.live_updates = False  # every frame a full GPU render
    before = gpu.render(scene.snapshot(), VIEW).copy()
    assert len(np.unique(before.reshape(-1, 4), axis=0)) > 20  # notes, keys, grid
    for _ in range(3):
        other = open_renderer("gpu", timeout=30)
        assert np.array_equal(other.render(scene.snapshot(), VIEW), before)
        other.close()
        del other
        gc.collect()
        assert np.array_equal(gpu.render(scene.snapshot(), VIEW), before)
    lost = open_renderer("gpu", timeout=30)  # the newest device, lost and dropped
    lost.render(scene.snapshot(), VIEW)
    lost.lose_device()
    lost.close()
    del lost
    gc.collect()
    assert np.array_equal(gpu.render(scene.snapshot(), VIEW), before)
