"""Theater benchmark: frame times and ratios (run on demand: ``python bench/bench_theater.py``).

Prints, for 10k and 100k notes at 1080p/4K/8K: the wgpu renderer (lavapipe here), the
numpy CPU fallback and matplotlib (PolyCollection on Agg, the issue's anchor) drawing the
same view; the live 1080p view of a real score; and readback through one persistent
MAP_READ buffer against a fresh staging buffer per frame (``queue.read_texture``).
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
from mos_lab.theater import CPURenderer, Scene, View, open_renderer  # noqa: E402
from mos_lab.theater.geometry import NoteGeometry, make_layout  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "midi" / "multitrack"


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


def readback(gpu, view: View, reps: int) -> tuple[float, float]:
    """ms per 8K readback: persistent MAP_READ buffer vs queue.read_texture."""
    import wgpu

    dev = gpu.context.device
    t = gpu._target(view.width, view.height)

    def persistent() -> None:
        enc = dev.create_command_encoder()
        enc.copy_texture_to_buffer({"texture": t.texture}, {
            "buffer": t.readback, "offset": 0, "bytes_per_row": t.bytes_per_row,
            "rows_per_image": view.height}, (view.width, view.height, 1))
        dev.queue.submit([enc.finish()])
        t.readback.map_sync(wgpu.MapMode.READ)
        np.frombuffer(t.readback.read_mapped(copy=False), np.uint8).copy()
        t.readback.unmap()

    def fresh() -> None:
        dev.queue.read_texture({"texture": t.texture}, {"bytes_per_row": view.width * 4,
                               "rows_per_image": view.height}, (view.width, view.height, 1))

    return timed(persistent, reps), timed(fresh, reps)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="", help="wgpu backend: Vulkan or OpenGL")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--reps", type=int, default=3)
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
    for n in (10_000, 100_000):
        scene = Scene(synthetic(n), span=60.0, lead=0.5, playhead=30.0)
        for name, view in sizes.items():
            g = timed(lambda v=view, s=scene: gpu.render(s.snapshot(), v), a.reps)
            slow = a.quick and (n > 10_000 or name == "8k")
            c = float("nan") if slow else timed(
                lambda v=view, s=scene: cpu.render(s.snapshot(), v), 1, warm=False)
            m = timed(matplotlib_view(scene, view), 1 if n > 10_000 else a.reps, warm=n <= 10_000)
            print(f"{n:>7} {name:>5} {g:9.1f} {c:9.1f} {m:9.1f} {c / g:9.1f} {m / g:9.1f}")
    files = sorted(CORPUS.glob("*.mid"), key=lambda p: p.stat().st_size)
    if files:
        score = load(files[-1])
        scene = Scene(score, span=8.0, playhead=score.duration / 2)
        view = sizes["1080p"]
        st = scene.snapshot()
        geo = NoteGeometry(st)
        lo, hi = geo.visible_range(*st.window)
        g = timed(lambda: gpu.render(scene.snapshot(), view), a.reps * 3)
        c = timed(lambda: cpu.render(scene.snapshot(), view), a.reps)
        m = timed(matplotlib_view(scene, view), a.reps)
        print(f"\nlive 1080p view of {files[-1].name} ({score.n_notes} notes, {hi - lo} in "
              f"the 8 s window): wgpu {g:.1f} ms, cpu {c:.1f} ms, matplotlib {m:.1f} ms; "
              f"matplotlib/wgpu = {m / g:.1f}x, cpu/wgpu = {c / g:.1f}x")
        _ = make_layout(view, st)
    p, f = readback(gpu, sizes["8k"], a.reps)
    print(f"\n8K readback: persistent MAP_READ {p:.1f} ms, fresh staging (read_texture) "
          f"{f:.1f} ms: {f / p:.1f}x")
    gpu.close()


if __name__ == "__main__":
    main()
