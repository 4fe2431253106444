"""Large frames read back in overlapping bands give the pixels of one read-back."""

import numpy as np
import pytest
from _theater_helpers import random_score

from mos_lab.theater import View
from mos_lab.theater.render import gpu as gpu_module
from mos_lab.theater.scene import Scene


@pytest.mark.gpu
def test_banded_readback_gives_the_same_frame(gpu, monkeypatch):
    scene = Scene(random_score(3000, seconds=20), span=20.0)
    view = View(2800, 1500)  # above COPY_SPLIT_PIXELS
    gpu.live_updates = False
    try:
        monkeypatch.setattr(gpu_module, "copy_threads", lambda: 1)
        one = gpu.render(scene.snapshot(), view).copy()
        monkeypatch.setattr(gpu_module, "copy_threads", lambda: 3)
        fallbacks, left = gpu.stats.fallback_frames, []
        for bands in (4, 3, 3):
            gpu.release()
            left.append(gpu.resources())
            gpu.readback_bands = bands
            banded = gpu.render(scene.snapshot(), view)
            assert gpu.stats.fallback_frames == fallbacks
            assert np.array_equal(banded, one)
            t = gpu._targets[(view.width, view.height)]
            assert t.readback is None and len(t.bands) == bands
            assert sum(b - a for _, a, b in t.bands) == view.height
        gpu.release()
        assert gpu.resources() == left[-1] == left[-2]  # band buffers freed with the target
    finally:
        gpu.readback_bands = 4
        gpu.live_updates = True
