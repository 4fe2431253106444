"""Image tests: known scenes drawn where the score says, GPU and CPU paths agreeing."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from _theater_helpers import known_score, random_score

import mos_lab
from mos_lab.theater import Theater, View
from mos_lab.theater.cpu import CPURenderer
from mos_lab.theater.geometry import BACKGROUND, PALETTE, make_layout
from mos_lab.theater.scene import Scene

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus" / "midi" / "multitrack"
BG = np.array(BACKGROUND[:3])


def bare_scene(**kw) -> Scene:
    scene = Scene(known_score(), **kw)
    scene.set_overlays(keyboard=False, grid=False, text=False)
    return scene


def differing(a: np.ndarray, b: np.ndarray, tol: int = 8) -> float:
    """Fraction of pixels whose channels differ by more than ``tol``."""
    return float(np.mean(np.any(np.abs(a.astype(int) - b.astype(int)) > tol, axis=2)))


@pytest.fixture(params=["gpu", "cpu"])
def renderer(request, gpu):
    return gpu if request.param == "gpu" else CPURenderer()


@pytest.mark.gpu
def test_notes_and_playhead_where_the_score_says(renderer):
    scene = bare_scene(span=5.0, lead=0.9, playhead=4.5)  # window 0..5 s, nothing sounding
    st = scene.snapshot()
    W, H = 1000, 500
    img = renderer.render(st, View(W, H))
    lo, hi = st.pitch_range
    row_h = H / (hi + 1 - lo)
    color = PALETTE[0]
    for start, end, pitch in [(0, 1, 60), (1, 1.5, 64), (1.5, 2, 67), (2, 4, 72)]:
        x0, x1 = start / 5 * W, end / 5 * W
        y1 = H - (pitch - lo) * row_h
        y0 = y1 - row_h
        inner = img[int(y0) + 2:int(y1) - 2, int(x0) + 2:int(x1) - 2, :3]
        assert (inner == color).all(), (pitch, np.unique(inner.reshape(-1, 3), axis=0))
        above = img[int(y0) - 3, int((x0 + x1) / 2), :3]
        assert not (above == color).all()
        assert tuple(img[int((y0 + y1) / 2), int(x1) + 3, :3]) != tuple(color)
    red = img[:, 899, :3]
    assert (red == (255, 80, 60)).all()  # the playhead column, top to bottom
    assert (img[:, 902, :3] != (255, 80, 60)).any(axis=1).all()


@pytest.mark.gpu
def test_keys_of_sounding_notes_light_up(renderer):
    """The keyboard strip lights the key of each sounding note (GPU and CPU alike)."""
    scene = Scene(known_score(), span=5.0, lead=0.25, playhead=1.25)  # E4 sounds
    view = View(1000, 500)
    lay = make_layout(view, scene.snapshot())
    kx0, _, kx1, _ = lay.keys
    lo, hi = scene.snapshot().pitch_range
    y0, y1 = lay.plot[1], lay.plot[3]
    row_h = (y1 - y0) / (hi + 1 - lo)

    def key(img: np.ndarray, pitch: int) -> np.ndarray:
        return img[int(y1 - (pitch - lo + 0.5) * row_h), int(kx0 + 0.9 * (kx1 - kx0)), :3]

    lit = renderer.render(scene.snapshot(), view).copy()
    scene.set_playhead(4.5)  # nothing sounds
    dark = renderer.render(scene.snapshot(), view)
    e4, g4 = key(lit, 64).astype(int), key(dark, 64).astype(int)
    assert e4[2] > e4[0] and not (e4 == g4).all()  # mixed towards light blue
    assert (key(lit, 67) == key(dark, 67)).all()  # G4 does not sound
    assert (key(dark, 64) == key(dark, 60)).all()  # white keys alike when silent


@pytest.mark.gpu
def test_sounding_and_selected_notes_are_highlighted(renderer):
    scene = bare_scene(span=5.0, lead=0.25, playhead=1.25)  # window 0..5 s; E4 sounds
    scene.set_playhead(1.25)
    scene.select([3])
    st = scene.snapshot()
    img = renderer.render(st, View(1000, 500))
    lo, hi = st.pitch_range
    row_h = 500 / (hi + 1 - lo)

    def at(t: float, pitch: int) -> np.ndarray:
        return img[int(500 - (pitch - lo + 0.5) * row_h), int(t / 5 * 1000), :3]

    base = PALETTE[0].astype(int)
    sounding = at(1.4, 64).astype(int)
    assert (sounding > base).all()  # mixed towards white
    selected = at(3.0, 72).astype(int)
    assert selected[0] > base[0] and selected[2] < base[2]  # mixed towards yellow
    assert (at(1.75, 67) == base).all()


@pytest.mark.gpu
@pytest.mark.parametrize("orientation", ["landscape", "portrait"])
def test_gpu_and_cpu_agree_on_a_real_score(gpu, orientation):
    score = mos_lab.load(CORPUS / "Mr. Blue Sky.mid")
    scene = Scene(score, span=10.0, playhead=30.0)
    scene.select(np.arange(200, 260))
    view = View.parse("1280x720", orientation)
    a = gpu.render(scene.snapshot(), view)
    b = CPURenderer().render(scene.snapshot(), view)
    assert differing(a, b) < 0.005
    assert np.abs(a.astype(int) - b).mean() < 0.5


@pytest.mark.gpu
@pytest.mark.seed("THR-04")
def test_one_draw_call_for_all_notes_whatever_the_count(gpu):
    view = View(960, 540)
    calls = []
    for n in (10, 20_000):
        scene = Scene(random_score(n, seconds=10.0), span=20.0, playhead=5.0)
        gpu.render(scene.snapshot(), view)
        calls.append((gpu.stats.draw_calls, gpu.stats.note_draw_calls, gpu.stats.notes_drawn))
    # overlay draws are split by pipeline (opaque/blended) and clip, never by note count
    assert calls[0][:2] == calls[1][:2] and calls[0][1] == 1
    assert calls[0][0] < 40
    assert calls[1][2] == 20_000  # every note drawn, still one call


@pytest.mark.gpu
@pytest.mark.seed("THR-09")
def test_landscape_and_portrait_show_the_same_playhead(gpu):
    scene = bare_scene(span=4.0, lead=0.5, playhead=0.5)
    th = Theater(scene, gpu)
    land, port = View(800, 400), View(400, 800, "portrait")
    stop = threading.Event()

    def mover():
        rng = np.random.default_rng(1)
        while not stop.is_set():
            scene.set_playhead(float(rng.uniform(0.2, 0.9)))

    t = threading.Thread(target=mover)
    t.start()
    try:
        for _ in range(4):
            state, (a, b) = th.render_views([land, port])
            lo, hi = state.pitch_range
            # landscape: first note pixel along C4's row; portrait: along C4's column
            row = int(400 - (60 - lo + 0.5) * 400 / (hi + 1 - lo))
            xs = np.flatnonzero(np.any(a[row, :, :3] != BG, axis=1))
            col = int((60 - lo + 0.5) * 400 / (hi + 1 - lo))
            ys = np.flatnonzero(np.any(b[:, col, :3] != BG, axis=1))
            p_land = 2.0 - xs[0] / 800 * 4.0
            p_port = 2.0 - (800 - ys[-1] - 1) / 800 * 4.0
            # 6 px of anti-aliasing; a desync would be off by the mover's 0.1-0.7 s
            assert abs(p_land - state.playhead) < 0.03
            assert abs(p_port - state.playhead) < 0.03
    finally:
        stop.set()
        t.join()


@pytest.mark.gpu
@pytest.mark.seed("THR-10")
def test_tiles_above_the_texture_limit_match_one_texture(gpu):
    scene = Scene(mos_lab.load(CORPUS / "Funkytown.mid"), span=8.0, playhead=40.0)
    view = View(1000, 600)
    whole = gpu.render(scene.snapshot(), view)
    limit = gpu.max_texture
    gpu.max_texture = 256  # a simulated small adapter limit
    try:
        tiled = gpu.render(scene.snapshot(), view)
        assert gpu.stats.tiles == 12
    finally:
        gpu.max_texture = limit
    assert np.array_equal(whole, tiled)


@pytest.mark.gpu
@pytest.mark.seed("THR-10")
def test_8k_frame_in_tiles(gpu, tmp_path):
    from mos_lab.theater import render_frame
    from mos_lab.theater.encode import save_png

    score = mos_lab.load(CORPUS / "Funkytown.mid")
    limit = gpu.max_texture
    gpu.max_texture = 4096
    try:
        img = render_frame(score, 60.0, "8k", renderer=gpu)
        assert gpu.stats.tiles == 4
    finally:
        gpu.max_texture = limit
    assert img.shape == (4320, 7680, 4)
    small = render_frame(score, 60.0, View(1920, 1080), renderer=CPURenderer())
    # the 8K image is the 1080p one at 4x: compare block means of the note area
    lay = make_layout(View(1920, 1080), Scene(score).snapshot())
    x0, y0 = int(lay.plot[0]) + 8, int(lay.plot[1]) + 200
    big = img[y0 * 4:(y0 + 200) * 4, x0 * 4:(x0 + 400) * 4, :3].reshape(200, 4, 400, 4, 3)
    assert np.abs(big.mean(axis=(1, 3)) - small[y0:y0 + 200, x0:x0 + 400, :3]).mean() < 12
    assert save_png(img, tmp_path / "8k.png").stat().st_size > 10_000


def test_cpu_renderer_needs_no_gpu():
    img = CPURenderer().render(Scene(known_score()).snapshot(), View(320, 180))
    assert img.shape == (180, 320, 4) and (img[..., 3] == 255).all()


def _full(gpu, st, view: View) -> np.ndarray:
    """A full render of ``st`` (no live frame), to compare live frames with."""
    gpu.live_updates = False
    try:
        return gpu.render(st, view).copy()
    finally:
        gpu.live_updates = True


def _playing(scene: Scene, start: float, frames: int, fps: float = 30.0) -> list:
    states = []
    for i in range(frames):
        scene.set_playhead(start + i / fps)
        states.append(scene.snapshot())
    return states


@pytest.mark.gpu
@pytest.mark.parametrize("orientation", ["landscape", "portrait"])
def test_live_frames_are_the_pixels_of_full_renders(gpu, orientation):
    """A playing, paged view: each frame redraws only what the playhead changed (playhead
    line, notes starting/stopping to sound), and is identical to a full render."""
    score = mos_lab.load(CORPUS / "Mr. Blue Sky.mid")
    scene = Scene(score, span=6.0, lead=0.25)
    scene.set_paging(True)
    scene.select(np.arange(300, 340))
    view = View.parse("960x540", orientation)
    states = _playing(scene, 40.0, 150)  # 5 s: crosses one page turn (every 4.5 s)
    frames, live, small = [], 0, 0
    prefetched = gpu.stats.prefetched_pages
    for st in states:
        frames.append(gpu.render(st, view).copy())
        live += gpu.stats.live
        small += gpu.stats.live and gpu.stats.pixels_drawn < 0.1 * view.width * view.height
    assert live == len(states) - 2 and small >= len(states) - 10  # full: first of a page
    assert gpu.stats.prefetched_pages == prefetched + 1  # the second page was drawn ahead
    gpu.live_updates = False
    try:
        for st, img in zip(states, frames, strict=True):
            full = gpu.render(st, view)
            assert not gpu.stats.live
            assert np.array_equal(img, full), st.playhead
    finally:
        gpu.live_updates = True
    assert len({st.window for st in states}) == 2
    # something did change from frame to frame: the playhead moved along
    assert not np.array_equal(frames[0], frames[1])


@pytest.mark.gpu
def test_live_updates_fall_back_to_full_renders_when_the_window_moves(gpu):
    scene = Scene(mos_lab.load(CORPUS / "Funkytown.mid"), span=8.0, playhead=30.0)
    view = View(640, 360)
    for st in _playing(scene, 30.0, 4):
        img = gpu.render(st, view)
        assert not gpu.stats.live  # scrolling: every window differs
        gpu.live_updates = False
        try:
            assert np.array_equal(img, gpu.render(st, view))
        finally:
            gpu.live_updates = True


@pytest.mark.gpu
def test_frames_held_by_the_caller_are_never_overwritten(gpu):
    scene = Scene(random_score(2000, seconds=20), span=4.0)
    scene.set_paging(True)
    view = View(640, 360)
    states = _playing(scene, 5.0, 6)
    held = [gpu.render(st, view) for st in states]  # all kept: each a distinct array
    assert len({id(h) for h in held}) == len(held)
    gpu.live_updates = False
    try:
        for st, img in zip(states, held, strict=True):
            assert np.array_equal(img, gpu.render(st, view))
    finally:
        gpu.live_updates = True
    a = gpu.render(states[0], view)
    ident = id(a)
    del a  # dropped: its buffer is reused for the next frame
    assert id(gpu.render(states[1], view)) == ident


@pytest.mark.gpu
@pytest.mark.seed("THR-01")
def test_device_loss_in_the_middle_of_live_updates(gpu):
    """Live frames are composed on the CPU from the page's layers: they go on while the
    device is lost; the next page is drawn on a recreated device, and live frames resume."""
    scene = Scene(random_score(3000, seed=5, seconds=30), span=6.0)
    scene.set_paging(True)
    view = View(640, 360)
    states = _playing(scene, 4.6, 5)  # early in a page (no prefetch of the next one yet)
    turn = _playing(scene, 4.6 + 6.0 * 0.75, 3)  # the next page
    assert turn[0].window != states[0].window
    gpu.render(states[0], view)  # paged: the page's layers are kept for live frames
    gpu.render(states[1], view)
    assert gpu.stats.live
    recoveries = gpu.stats.recoveries
    gpu.lose_device()
    img = gpu.render(states[2], view)  # composed from the kept layers: no device needed
    assert gpu.stats.live and gpu.stats.recoveries == recoveries
    page = gpu.render(turn[0], view)  # a new page: drawn on a new device
    assert gpu.stats.recoveries == recoveries + 1 and not gpu.stats.live
    gpu.render(turn[1], view)
    again = gpu.render(turn[2], view)
    assert gpu.stats.live  # live frames resume on the new device
    assert np.array_equal(img, _full(gpu, states[2], view))
    assert np.array_equal(page, _full(gpu, turn[0], view))
    assert np.array_equal(again, _full(gpu, turn[2], view))


@pytest.mark.gpu
def test_two_paged_views_of_one_scene_both_draw_their_next_page_ahead(gpu):
    """Landscape and portrait of one playing scene (as a Stage shows them)."""
    scene = Scene(random_score(3000, seed=9, seconds=30), span=6.0)
    scene.set_paging(True)
    views = [View(480, 270), View(270, 480, "portrait")]
    states = _playing(scene, 7.6, 60)  # crosses the turn at 9 s
    prefetched = gpu.stats.prefetched_pages
    frames = [[gpu.render(st, v).copy() for v in views] for st in states]
    assert gpu.stats.prefetched_pages == prefetched + 2
    for st, pair in list(zip(states, frames, strict=True))[::6]:
        for v, img in zip(views, pair, strict=True):
            assert np.array_equal(img, _full(gpu, st, v))


@pytest.mark.gpu
def test_a_page_drawn_ahead_survives_a_device_loss_and_a_release(gpu):
    scene = Scene(random_score(3000, seed=7, seconds=30), span=6.0)
    scene.set_paging(True)
    view = View(640, 360)
    before = _playing(scene, 7.0, 3)  # past half of the page: the next one is prefetched
    after = _playing(scene, 9.0, 3)  # the next page
    prefetched = gpu.stats.prefetched_pages
    for st in before:
        gpu.render(st, view)
    gpu.lose_device()  # waits for the prefetch's thread, then destroys the device
    frames = [gpu.render(st, view).copy() for st in after]
    assert gpu.stats.prefetched_pages == prefetched + 1  # its pixels were read in time
    for st, img in zip(after, frames, strict=True):
        assert np.array_equal(img, _full(gpu, st, view))
    for st in before:  # a prefetch in flight, then the view is released: nothing leaks
        gpu.render(st, view)
    gpu.release(view)
    assert not gpu._prefetches


@pytest.mark.gpu
@pytest.mark.parametrize("orientation", ["landscape", "portrait"])
def test_notes_covered_by_later_notes_are_trimmed_without_changing_pixels(
        gpu, orientation, monkeypatch):
    """The note shader leaves out what later notes on the same pitch cover: the image is
    bit-identical to drawing every note whole (dense overlapping notes, tiny ones)."""
    from mos_lab.theater.render import gpu as gpu_module

    score = random_score(20_000, seed=7, seconds=20)
    view = View.parse("1280x720", orientation)
    # coloured by velocity: overlapping notes differ, so a wrong trim would show
    trimmed = gpu.render(Scene(score, span=20.0, lead=0.5, playhead=10.0,
                               color_by="velocity").snapshot(), view)

    class Whole(gpu_module.NoteGeometry):
        def __init__(self, state):
            super().__init__(state)
            assert self.instances["uv"][:, 2].sum() > 10_000  # most notes have a next one
            self.instances["uv"][:, 2] = 0

    monkeypatch.setattr(gpu_module, "NoteGeometry", Whole)
    other = score.replace(title="whole")  # a new score object: geometry rebuilt
    whole = gpu.render(Scene(other, span=20.0, lead=0.5, playhead=10.0,
                             color_by="velocity").snapshot(), view)
    assert np.array_equal(trimmed, whole)


@pytest.mark.gpu
def test_a_new_score_is_never_drawn_with_the_notes_of_a_dead_one(renderer):
    """Scores made and dropped one after another: CPython often gives a new score the
    address (``id``) of the one just freed. Caches keyed by ``id(score)`` then drew the
    dead score's notes (about 3 in 40 here); each frame must be what a new renderer draws."""
    view = View(160, 90)
    for i in range(60):
        scene = Scene(random_score(200, seed=i, seconds=10), span=10.0, playhead=5.0)
        img = renderer.render(scene.snapshot(), view)
        expected = CPURenderer().render(scene.snapshot(), view)
        assert differing(img, expected) < 0.005, i
        del scene, img


@pytest.mark.gpu
@pytest.mark.parametrize("case", ["a seek back", "a new score"])
def test_the_next_page_is_drawn_ahead_after_a_seek_back_or_a_new_score(gpu, case):
    """Only the page that follows the one shown counts as "on its way": a prefetch left
    by a later page of the same score (seek back) or of another score blocked this one."""
    view = View(640, 360)
    first = Scene(random_score(3000, seed=11, seconds=60), span=6.0)
    first.set_paging(True)
    for st in _playing(first, 40.0, 3):  # past half of its page: the next is drawn ahead
        gpu.render(st, view)
    gpu.settle()
    scene = first if case == "a seek back" else Scene(random_score(3000, seed=7, seconds=30),
                                                      span=6.0)
    scene.set_paging(True)
    prefetched = gpu.stats.prefetched_pages
    for st in _playing(scene, 7.0, 3):
        gpu.render(st, view)
    gpu.settle()
    turn = _playing(scene, 9.0, 2)  # the next page
    frames = [gpu.render(st, view).copy() for st in turn]
    assert gpu.stats.prefetched_pages == prefetched + 1
    for st, img in zip(turn, frames, strict=True):
        assert np.array_equal(img, _full(gpu, st, view))
