"""The theater: a score drawn as a piano roll with wgpu (or numpy), exported and streamed.

Map of the API::

    Scene(score, span=8.0)              # what is shown: playhead, window, colours, highlights
    scene.set_playhead(s) / .select(idx) / .set_color_by("velocity") / with scene.batch(): ...
    View(1920, 1080) / View.parse("4k") / View(1080, 1920, "portrait")
    open_renderer("auto"|"gpu"|"cpu")   # wgpu with timeout + feature checks, else numpy
    renderer.render(scene.snapshot(), view) -> (H, W, 4) uint8; .name, .description, .stats
    Theater(score)                       # scene + renderer + views + frame sinks
    theater.attach(MemorySink(), view); theater.publish()   # backpressure: <= 2 unconfirmed
    render_frame(score, t, "8k") / export_frame(score, "x.png", t, "4k")
    export_video(score, "x.mp4", "1080p", fps=30, audio="mix.wav")   # or an AudioStream
    theater.follow(engine, fps=30)       # playhead on the engine's heard position, publish
    MJPEGStream(theater, view).start().url   # http://127.0.0.1:PORT/stream.mjpg for OBS
    stream.ws_url / stream.page_url          # WebSocket frames / OBS browser-source page

Example::

    import mos_lab
    from mos_lab.theater import Theater, View
    with Theater(mos_lab.load("song.mid")) as th:
        th.scene.set_playhead(30.0)
        state, (wide, tall) = th.render_views([View(1920, 1080), View(1080, 1920, "portrait")])
        print(th.active_renderer)        # e.g. "wgpu: llvmpipe (...) (CPU, Vulkan)"

``import mos_lab.theater`` never imports wgpu: the GPU renderer loads on first use.
"""

from mos_lab.theater.encode import encode
from mos_lab.theater.export import render_frame
from mos_lab.theater.render import open_renderer
from mos_lab.theater.scene import View
from mos_lab.theater.stage import Theater
from mos_lab.theater.stream import MJPEGStream

__all__ = [
    "MJPEGStream",
    "Theater",
    "View",
    "encode",
    "open_renderer",
    "render_frame",
]
