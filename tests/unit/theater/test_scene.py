"""Scene: the pure view model (no wgpu import), views, snapshots and batches."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
from _theater_helpers import known_score

from mos_lab.score import Score
from mos_lab.theater import View
from mos_lab.theater.geometry import NoteGeometry, make_layout
from mos_lab.theater.scene import Scene


def test_import_does_not_load_wgpu():
    code = "import sys, mos_lab.theater; print('wgpu' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(("text", "size"), [("1080p", (1920, 1080)), ("4k", (3840, 2160)),
                                            ("8K", (7680, 4320)), ("640x360", (640, 360))])
def test_view_parse(text, size):
    assert View.parse(text).size == size


def test_view_rejects_bad_sizes():
    with pytest.raises(ValueError, match="WxH"):
        View.parse("huge")
    with pytest.raises(ValueError, match="below"):
        View(8, 8)
    assert View.parse("1080p", "portrait").size == (1080, 1920)


def test_window_follows_playhead_and_active_notes_use_seek_index():
    scene = Scene(known_score(), span=4.0, lead=0.25)
    scene.set_playhead(1.25)
    st = scene.snapshot()
    assert st.window == (0.25, 4.25)
    assert st.active_notes().tolist() == [1]  # E4 sounds 1.0-1.5 s
    scene.select([0, 3])
    assert scene.snapshot().score_revision > st.score_revision
    with pytest.raises(ValueError, match="selection"):
        scene.select([9])
    with pytest.raises(ValueError, match="finite"):
        scene.set_playhead(float("nan"))


def test_culling_range_covers_exactly_the_overlapping_notes():
    scene = Scene(known_score())
    geo = NoteGeometry(scene.snapshot())
    assert geo.visible_range(1.2, 1.6) == (1, 3)
    assert geo.visible_range(10.0, 12.0)[1] - geo.visible_range(10.0, 12.0)[0] == 0


def test_layout_splits_view_into_plot_keyboard_header():
    st = Scene(known_score()).snapshot()
    lay = make_layout(View(1920, 1080), st)
    assert lay.keys[2] == lay.plot[0] and lay.header[3] == lay.plot[1]
    lay = make_layout(View(1080, 1920, "portrait"), st)
    assert lay.keys[1] == lay.plot[3]


@pytest.mark.seed("THR-08")
def test_batch_is_seen_whole_by_other_threads():
    scene = Scene(known_score(), playhead=5.0)
    other = known_score().transpose(12)
    seen: list[tuple[int, float]] = []
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            st = scene.snapshot()
            seen.append((int(st.score.notes["pitch"][0]), st.playhead))

    t = threading.Thread(target=reader)
    t.start()
    for i in range(200):
        with scene.batch():
            scene.set_score(other if i % 2 == 0 else known_score())
            scene.set_playhead(float(i % 2))
    stop.set()
    t.join()
    # pitch 72 always comes with playhead 0.0, pitch 60 with 1.0 (or the initial 5.0)
    assert set(seen) <= {(72, 0.0), (60, 1.0), (60, 5.0)}
    assert len(seen) > 10


def test_paged_window_stays_while_the_playhead_crosses_it_then_turns():
    scene = Scene(known_score(), span=8.0, lead=0.25)
    scene.set_paging(True)  # step = 6 s: pages [-2, 6), [4, 12), ...
    windows = []
    for t in (0.0, 3.0, 5.99, 6.0, 11.5, 12.0):
        scene.set_playhead(t)
        st = scene.snapshot()
        assert st.window[0] <= st.playhead < st.window[1]
        windows.append(st.window)
    assert windows[:3] == [(-2.0, 6.0)] * 3  # one page: the same window, bit for bit
    assert windows[3:5] == [(4.0, 12.0)] * 2  # turned: the new page keeps 2 s of the old
    assert windows[5] == (10.0, 18.0)
    scene.set_paging(False)
    scene.set_playhead(5.0)
    assert scene.snapshot().window == (3.0, 11.0)  # scrolling again


def test_covering_notes_are_later_notes_on_the_same_pitch_without_gaps():
    import numpy as np

    from mos_lab.theater.geometry import covering_notes

    pitch = np.array([60, 62, 60, 60, 62, 64, 64])
    start = np.array([0.0, 0.5, 1.0, 2.5, 1.0, 3.0, 5.0])
    end = np.array([5.0, 2.0, 3.0, 6.0, 1.5, 4.0, 6.0])
    has, t0, t1 = covering_notes(pitch, start, end)
    # note 0 (60, 0-5): notes 2 (1-3) and 3 (2.5-6) follow without a gap: [1, 6) covered
    # note 1 (62, 0.5-2): note 4 ends earlier, nothing covers its end: the next note kept
    # note 5 (64, 3-4): note 6 starts after it ends (the shader then trims nothing)
    assert has.tolist() == [True, True, True, False, False, True, False]
    assert (t0[has].tolist(), t1[has].tolist()) == ([1.0, 1.0, 2.5, 5.0], [6.0, 1.5, 6.0, 6.0])
    has1, t0, t1 = covering_notes(pitch, start, end, reach=1)  # no runs: single notes only
    assert (t0[has1].tolist(), t1[has1].tolist()) == ([1.0, 1.0, 2.5, 5.0], [3.0, 1.5, 6.0, 6.0])


def _label_ink_rows(img, lay) -> int:
    """Rows of the header band holding bar-number ink (their colour, 150,156,170)."""
    x0, y0, x1, y1 = (round(v) for v in lay.header)
    band = img[y0:y1, x0:x1, :3].astype(int)
    ink = (abs(band - (150, 156, 170)).max(axis=2) < 60) & (band.sum(axis=2) > 250)
    return int(ink.any(axis=1).sum())


@pytest.mark.parametrize("size", [(848, 320), (1280, 900)])
def test_landscape_labels_are_legible_and_scale_with_the_view(size):
    """Labels were 8 px (about 6 px of ink) in a notebook cell; now at least 13 px."""
    from mos_lab.theater.cpu import CPURenderer
    from mos_lab.widgets._theater_frames import static_state

    chords = [(i * 480, 480, p, 80) for i in range(16) for p in (48, 60, 64, 67, 84)]
    st = static_state(Scene(Score.from_notes(chords)).snapshot(), -0.5, 7.5)
    view = View(*size)
    lay = make_layout(view, st)
    assert lay.font_px >= 13
    assert make_layout(View(3840, 2160), st).font_px > make_layout(View(1920, 1080), st).font_px
    img = CPURenderer("test").render(st, view)
    assert _label_ink_rows(img, lay) >= 7  # solid ink rows of the digits (8 px font: 4)


def test_portrait_layout_gives_the_notes_the_view():
    st = Scene(known_score()).snapshot()
    lay = make_layout(View(848, 480, "portrait"), st)
    px0, py0, px1, py1 = lay.plot
    assert (px1 - px0) * (py1 - py0) > 0.75 * 848 * 480  # header and keys take little
