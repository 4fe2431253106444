"""Theater benchmark: frame times and ratios (run on demand: ``python bench/bench_theater.py``).

Prints, for 10k and 100k notes at 1080p/4K/8K: the wgpu renderer (llvmpipe here; full
renders, medians of runs alternating with matplotlib), the numpy CPU fallback and
matplotlib (PolyCollection on Agg, the issue's anchor) drawing the same view; the live
1080p view of a real score at 60 fps, paged (as TheaterView shows it: only what the
playhead changes is redrawn) and scrolling (every frame a full render), each against
matplotlib drawing the same frames and checked against full renders; and readback
through one persistent MAP_READ buffer against a fresh staging buffer per frame; and the
kernel's CPU use while a piece plays in real time, without and with a visible TheaterView.
``--backend Vulkan|OpenGL`` picks the wgpu backend; ``--quick`` skips the slowest cases.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")

from mos_lab.score import Score, load  # noqa: E402
from mos_lab.theater import View, open_renderer  # noqa: E402
from mos_lab.theater.cpu import CPURenderer  # noqa: E402
from mos_lab.theater.geometry import NoteGeometry  # noqa: E402
from mos_lab.theater.scene import Scene  # noqa: E402

CORPUS = Path(os.environ.get("MOS_LAB_CORPUS", ROOT.parent / "shared" / "corpus")) / "midi" \
    / "multitrack"


def synthetic(n: int, seconds: float = 60.0, seed: int = 0) -> Score:
    rng = np.random.default_rng(seed)
    ticks = int(seconds * 960)
    rows = np.stack([rng.integers(0, ticks, n), rng.integers(60, 480, n),
                     rng.integers(36, 96, n), rng.integers(30, 127, n)], axis=1)
    return Score.from_notes(rows, bpm=120)


def timed(fn, reps: int, warm: bool = True) -> float:
    if warm:
        fn()  # warm-up (pipeline compile, caches)
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out) * 1000


def paired(fa, fb, reps: int) -> tuple[float, float]:
    """Median ms of ``fa`` and ``fb`` run alternately (after one warm-up each), so that a
    change in the machine's load during the run hits both alike."""
    fa()
    fb()
    ta, tb = [], []
    for _ in range(reps):
        for fn, out in ((fa, ta), (fb, tb)):
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
    return statistics.median(ta) * 1000, statistics.median(tb) * 1000


def matplotlib_view(scene: Scene, view: View):
    """The same visible notes as rectangles in a PolyCollection, drawn by Agg."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import PolyCollection
    from matplotlib.figure import Figure

    st = scene.snapshot()
    geo = NoteGeometry(st)
    lo, hi = geo.visible_range(*st.window)
    r = geo.instances["rect"][lo:hi]
    verts = np.stack([r[:, [0, 2]], r[:, [1, 2]], r[:, [1, 3]], r[:, [0, 3]]], axis=1)
    colors = geo.instances["color"][lo:hi] / 255

    def draw() -> np.ndarray:
        fig = Figure(figsize=(view.width / 100, view.height / 100), dpi=100)
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_axis_off()
        ax.add_collection(PolyCollection(verts, facecolors=colors, edgecolors="none"))
        ax.set_xlim(*st.window)
        ax.set_ylim(st.pitch_range[0], st.pitch_range[1] + 1)
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        return np.asarray(canvas.buffer_rgba())

    return draw


def matplotlib_live(score: Score, view: View):
    """Matplotlib drawing one live frame at its best: one figure kept across frames, the
    window's notes set again only when the window moves, the sounding ones mixed towards
    white as the theater does, the playhead line moved; then an Agg draw.

    (A new figure per frame costs ~4x more and would flatter the theater.)"""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import PolyCollection
    from matplotlib.figure import Figure

    geo = NoteGeometry(Scene(score).snapshot())
    r = geo.instances["rect"]
    verts = np.stack([r[:, [0, 2]], r[:, [1, 2]], r[:, [1, 3]], r[:, [0, 3]]], axis=1)
    base = geo.instances["color"] / 255
    fig = Figure(figsize=(view.width / 100, view.height / 100), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    coll = PolyCollection([], edgecolors="none")
    ax.add_collection(coll)
    line = ax.axvline(0.0, color=(1.0, 0.31, 0.24), linewidth=3)
    canvas = FigureCanvasAgg(fig)
    shown: list = [None]

    def draw(st) -> np.ndarray:
        lo, hi = geo.visible_range(*st.window)
        if st.window != shown[0]:
            coll.set_verts(verts[lo:hi])
            ax.set_xlim(*st.window)
            ax.set_ylim(st.pitch_range[0], st.pitch_range[1] + 1)
            shown[0] = st.window
        colors = base[lo:hi].copy()
        on = (r[lo:hi, 0] <= st.playhead) & (st.playhead < r[lo:hi, 1])
        colors[on, :3] += (1.0 - colors[on, :3]) * 0.45
        coll.set_facecolors(colors)
        line.set_xdata([st.playhead, st.playhead])
        canvas.draw()
        return np.asarray(canvas.buffer_rgba())

    return draw


SPAN = 8.0  # seconds in view in the live benchmarks
PAGE_STEP = 0.75 * SPAN  # a paged view turns by its span less the Scene's lead (0.25)


def live_view(gpu, score: Score, view: View, paged: bool, frames: int, name: str) -> None:
    """A playing score at 60 fps: the same ``frames`` snapshots drawn by the wgpu renderer
    (live updates) and by matplotlib, each in its own loop, like the stills; then every
    20th wgpu frame is checked against a full render of the same snapshot."""
    scene = Scene(score, span=SPAN)
    scene.set_paging(paged)
    t_start = score.duration / 2
    if paged:  # start 1 s before a page turn, so the run includes one
        t_start = (np.floor(t_start / PAGE_STEP) + 1) * PAGE_STEP - 1.0
    states = []
    for i in range(frames):
        scene.set_playhead(t_start + i / 60)
        states.append(scene.snapshot())
    mpl = matplotlib_live(score, view)
    for st in states[:3]:  # warm-up (and the first frame of the page)
        gpu.render(st, view)
        mpl(st)
    # The frames below run back to back (4 s of playback in well under a second). Past
    # half of a page the renderer draws the next page's layers in the background; at
    # 60 fps that has ~3 s before the turn, here it would have a few ms. So it is waited
    # for here, and what it costs is measured on its own (``page_turn``).
    settle = getattr(gpu, "settle", None)
    if settle is not None:
        settle()
    pages = getattr(gpu.stats, "prefetched_pages", 0)
    g_ms, m_ms, live = [], [], 0
    for st in states:
        t = time.perf_counter()
        gpu.render(st, view)  # a consumer encodes the frame and drops it
        g_ms.append((time.perf_counter() - t) * 1000)
        live += gpu.stats.live
    turned = getattr(gpu.stats, "prefetched_pages", 0) - pages
    for st in states:
        t = time.perf_counter()
        mpl(st)
        m_ms.append((time.perf_counter() - t) * 1000)
    same = checked = 0
    for i, st in enumerate(states):
        img = gpu.render(st, view)
        if i % 20 == 0:
            gpu.live_updates = False
            same += np.array_equal(img, gpu.render(st, view))
            gpu.live_updates = True
            checked += 1
        del img
    geo = NoteGeometry(states[0])
    lo, hi = geo.visible_range(*states[0].window)
    g_med, m_med = statistics.median(g_ms), statistics.median(m_ms)
    g_mean, m_mean = statistics.fmean(g_ms), statistics.fmean(m_ms)
    mode = "paged as TheaterView shows it" if paged else "scrolling with the playhead"
    print(f"\nlive 1080p view ({mode}) of {name} ({score.n_notes} notes, ~{hi - lo} in the "
          f"8 s window), {frames} frames at 60 fps: {live} live updates, "
          f"{frames - live} full renders; {same}/{checked} checked frames identical to a "
          f"full render")
    print(f"  wgpu median {g_med:.2f} ms (mean {g_mean:.2f}), matplotlib median {m_med:.1f} ms "
          f"(mean {m_mean:.1f}): matplotlib/wgpu = {m_med / g_med:.1f}x median, "
          f"{m_mean / g_mean:.1f}x mean")
    if paged:
        print(f"  page turns in the run: {turned} from a prefetched page; "
              f"{page_turn(gpu, score, view)}")


def page_turn(gpu, score: Score, view: View) -> str:
    """What a page of a paged live view costs: its layers drawn and read back at once
    (prefetch off: a seek, or the first page), and the wall time a prefetch takes in
    the background (from its submission to its page being ready)."""
    if not hasattr(gpu, "prefetch"):
        return "no page layers (CPU renderer)"
    scene = Scene(score, span=SPAN)
    scene.set_paging(True)
    now, ahead = [], []
    gpu.prefetch = False
    for k in range(6):
        scene.set_playhead(10.0 + PAGE_STEP * k)
        t = time.perf_counter()
        gpu.render(scene.snapshot(), view)
        now.append((time.perf_counter() - t) * 1000)
    gpu.prefetch = True
    for k in range(2, 8):
        scene.set_playhead(PAGE_STEP * (k + 0.1))  # a page's first frame
        gpu.render(scene.snapshot(), view)
        gpu.settle()
        scene.set_playhead(PAGE_STEP * (k + 0.6))  # past half of it: the next page is submitted
        t = time.perf_counter()
        gpu.render(scene.snapshot(), view)
        gpu.settle()
        ahead.append((time.perf_counter() - t) * 1000)
    return (f"a page drawn at once {statistics.median(now):.1f} ms; a prefetched one is "
            f"ready {statistics.median(ahead):.1f} ms after the frame that submits it "
            f"(the layers pass, in the background)")


LEAD, TURN = 0.1, 0.8  # theater_view.js: where the playhead starts a page, next page


def page_asks(tv, eng, asked: set[int]) -> None:
    """What theater_view.js does at display rate: ask for the page holding the playhead
    (and the next one once past half of it), confirm the frame it got."""
    import math

    span = tv.span
    x = (eng.position + LEAD * span) / (TURN * span)
    for k in {math.floor(x), math.floor(x) + (x % 1 > 0.5)}:
        if k not in asked:
            asked.add(k)
            t0 = k * span * TURN - LEAD * span
            tv._handle_custom_msg({"type": "view", "t0": t0, "t1": t0 + span,
                                   "width": 1280, "height": 405}, [])
    if tv.frame_info:
        tv._handle_custom_msg({"type": "frame_ack", "seq": tv.frame_info["seq"]}, [])


def kernel_cpu(score: Score, seconds: float, with_view: bool) -> None:
    """Kernel CPU while a piece plays in real time (NullOutput's clock), with or without a
    visible TheaterView whose page asks for its pages as theater_view.js does."""
    from mos_lab.audio import NullOutput
    from mos_lab.kernel.session import Session
    from mos_lab.widgets import TheaterView, set_provider

    s = Session(output=NullOutput(48_000, 256, lookahead_s=0.1))
    s.engine.wait_ready(30)
    set_provider(lambda: s)
    tv = None
    try:
        s.load(score)
        eng = s.engine
        eng.seek(score.duration / 3)
        asked: set[int] = set()
        if with_view:
            tv = TheaterView(height=405)
            tv.visible = True
            page_asks(tv, eng, asked)  # on screen before play is pressed (opens the renderer)
        shown = tv.frames_sent if tv is not None else 0
        eng.play()
        c0, w0 = time.process_time(), time.perf_counter()
        while time.perf_counter() - w0 < seconds:
            if tv is not None:
                page_asks(tv, eng, asked)
            time.sleep(1 / 60)
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        eng.stop()
        what = (f"with a visible TheaterView ({tv.frames_sent - shown} pages rendered while "
                f"playing)" if tv is not None else "engine alone")
        print(f"  {what}: {100 * cpu / wall:.1f}% of one core over {wall:.0f} s")
    finally:
        if tv is not None:
            tv.close()
        set_provider(None)
        s.close()


def readback(gpu, view: View, reps: int) -> tuple[float, float]:
    """ms per 8K readback: persistent MAP_READ buffer vs queue.read_texture."""
    import wgpu

    dev = gpu.context.device
    t = gpu._target(view.width, view.height)
    buf = dev.create_buffer(size=t.bytes_per_row * view.height,
                            usage=wgpu.BufferUsage.MAP_READ | wgpu.BufferUsage.COPY_DST)

    def persistent() -> None:
        enc = dev.create_command_encoder()
        enc.copy_texture_to_buffer({"texture": t.texture}, {
            "buffer": buf, "offset": 0, "bytes_per_row": t.bytes_per_row,
            "rows_per_image": view.height}, (view.width, view.height, 1))
        dev.queue.submit([enc.finish()])
        buf.map_sync(wgpu.MapMode.READ)
        np.frombuffer(buf.read_mapped(copy=False), np.uint8).copy()
        buf.unmap()

    def fresh() -> None:
        dev.queue.read_texture({"texture": t.texture}, {"bytes_per_row": view.width * 4,
                               "rows_per_image": view.height}, (view.width, view.height, 1))

    try:
        return timed(persistent, reps), timed(fresh, reps)
    finally:
        buf.destroy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="", help="wgpu backend: Vulkan or OpenGL")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--frames", type=int, default=240, help="live view frames")
    ap.add_argument("--cpu-seconds", type=float, default=20.0,
                    help="seconds of real-time playback for the kernel CPU measurement")
    a = ap.parse_args()
    if a.backend:
        os.environ["MOS_LAB_WGPU_BACKEND"] = a.backend
    t0 = time.perf_counter()
    gpu = open_renderer("gpu")
    print(f"wgpu: {gpu.description}; setup {time.perf_counter() - t0:.2f} s")
    cpu = CPURenderer()
    sizes = {"1080p": View(1920, 1080), "4k": View(3840, 2160), "8k": View(7680, 4320)}
    print(f"\n{'notes':>7} {'size':>5} {'wgpu ms':>9} {'cpu ms':>9} {'mpl ms':>9} "
          f"{'cpu/wgpu':>9} {'mpl/wgpu':>9}   (all notes in view)")
    gpu.live_updates = False  # stills: every frame a full render (no reuse of the last one)
    for n in (10_000, 100_000):
        scene = Scene(synthetic(n), span=60.0, lead=0.5, playhead=30.0)
        for name, view in sizes.items():
            g, m = paired(lambda v=view, s=scene: gpu.render(s.snapshot(), v),
                          matplotlib_view(scene, view), a.reps)
            slow = a.quick and (n > 10_000 or name == "8k")
            c = float("nan") if slow else timed(
                lambda v=view, s=scene: cpu.render(s.snapshot(), v), 1, warm=False)
            print(f"{n:>7} {name:>5} {g:9.1f} {c:9.1f} {m:9.1f} {c / g:9.1f} {m / g:9.1f}")
    files = sorted(CORPUS.glob("*.mid"), key=lambda p: p.stat().st_size)
    if files:
        gpu.live_updates = True
        score = load(files[-1])
        for paged in (True, False):
            live_view(gpu, score, sizes["1080p"], paged, a.frames, files[-1].name)
        print(f"\nkernel CPU while {files[-1].name} plays in real time (1280x405 view, "
              f"8 s pages):")
        for with_view in (False, True):
            kernel_cpu(score, a.cpu_seconds, with_view)
    p, f = readback(gpu, sizes["8k"], a.reps)
    print(f"\n8K readback: persistent MAP_READ {p:.1f} ms, fresh staging (read_texture) "
          f"{f:.1f} ms: {f / p:.1f}x")
    gpu.close()


if __name__ == "__main__":
    main()
