"""Live frames composed from a page's layers (no GPU needed: layers made by hand)."""

import numpy as np

from mos_lab.theater.geometry import UNIFORM_FLOATS
from mos_lab.theater.render.live import LivePage, PageLayers, playhead_rect

H, W = 20, 40
PLOT = (4, 2, 40, 20)


def _uniforms(t: float, p0: int, p1: int) -> np.ndarray:
    u = np.zeros(UNIFORM_FLOATS, np.float32)
    u[7], u[26], u[27] = t, p0, p1
    return u


def _page() -> LivePage:
    """Two notes: note 0 at x 10..20, note 1 (drawn later, on top) at x 16..26, same rows."""
    base = np.zeros((H, W, 4), np.uint8)
    lit = np.zeros((H, W, 4), np.uint8)
    ids = np.zeros((H, W), np.uint32)
    for n, (x0, x1) in enumerate(((10, 20), (16, 26))):
        base[5:9, x0:x1] = (10 + n, 0, 0, 255)
        lit[5:9, x0:x1] = (100 + n, 0, 0, 255)
        ids[5:9, x0:x1] = n + 1
    php = base.copy()
    php[2:20, 4:40] = (255, 80, 60, 255)
    rects = np.array([[9, 4, 21, 10], [15, 4, 27, 10]])
    return LivePage(("k",), PageLayers(base, lit, php, ids), 0, 2, rects,
                    np.array([1.0, 2.0], np.float32), np.array([3.0, 4.0], np.float32),
                    PLOT, False, np.zeros(0, np.int64), np.zeros((0, 4), np.int64))


def test_a_note_lights_only_where_it_is_on_top_and_the_playhead_is_restored():
    page = _page()
    assert page.update(_uniforms(1.5, 30, 33)) is not None  # note 0 sounds, playhead x 30..33
    f = page.frame
    assert (f[5:9, 10:16, 0] == 100).all()  # note 0 lit where it is on top
    assert (f[5:9, 16:26, 0] == 11).all()  # note 1 over it, not sounding
    assert (f[2:20, 30:33, 0] == 255).all() and (f[2:20, 33:, 0] != 255).all()
    rects = page.update(_uniforms(2.5, 18, 21))  # both sound; the playhead crosses them
    assert rects
    assert (f[5:9, 10:16, 0] == 100).all() and (f[5:9, 21:26, 0] == 101).all()
    assert (f[2:20, 18:21, 0] == 255).all()
    assert (f[2:20, 30:33] == page.layers.base[2:20, 30:33]).all()  # old playhead restored
    page.update(_uniforms(3.5, 50, 53))  # note 0 ends; the playhead leaves the plot
    assert (f[5:9, 10:16, 0] == 10).all() and (f[5:9, 16:26, 0] == 101).all()
    assert (f[5:9, 18:21, 0] == 101).all()  # the old playhead shows note 1 lit again
    assert page.update(_uniforms(3.5, 50, 53)) is None  # nothing moved: nothing to do


def test_the_playhead_rectangle_is_clipped_to_the_plot():
    assert playhead_rect(_uniforms(0, 2, 5), PLOT, False) == (4, 2, 5, 20)
    assert playhead_rect(_uniforms(0, 40, 43), PLOT, False) is None
    assert playhead_rect(_uniforms(0, 10, 13), PLOT, True) == (4, 10, 40, 13)
