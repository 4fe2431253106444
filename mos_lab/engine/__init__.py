"""The engine: transport, audio-clock positions and the lookahead scheduler.

Map::

    Engine(output="null"|"local"|Output, sample_rate=48000, lookahead_s=0.1, bus=None)
      .load(path|bytes|Score) -> Future   newest wins; a failure keeps the loaded score
      .play() .pause() .stop() .seek(s) .set_loop(a, b) .tempo .metronome .mute(i) .solo(i)
      .state  .position (score seconds)  .position_frames  .render() -> (frames, 2) array
      .note_on(p, v) .note_off(p)         live notes on the current instrument
      .wait_ready(timeout)  .close()
    render_score(score, sample_rate=48000) -> np.ndarray   offline, same code path
    render_blocks(score, start=30.0, frames=n)             the same, streamed in blocks
    Timeline, Scheduler                                    the parts, for tests and tools
"""

from mos_lab.engine.engine import Engine, make_output, render_blocks, render_score
from mos_lab.engine.loader import LoadQueue
from mos_lab.engine.scheduler import Anchor, Scheduler
from mos_lab.engine.timeline import Timeline
from mos_lab.engine.transport import TRANSITIONS, EngineTimeout, TransportError

__all__ = [
    "TRANSITIONS", "Anchor", "Engine", "EngineTimeout", "LoadQueue", "Scheduler", "Timeline",
    "TransportError", "make_output", "render_blocks", "render_score",
]
