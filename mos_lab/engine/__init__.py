"""The engine: transport, audio-clock positions and the lookahead scheduler.

Map::

    Engine(output="null"|"local"|Output, sample_rate=48000, lookahead_s=0.1, bus=None)
      .load(path|bytes|Score) -> Future   newest wins; a failure keeps the loaded score
      .play() .pause() .stop() .seek(s) .set_loop(a, b) .tempo .metronome .mute(i) .solo(i)
      .state  .position (score seconds)  .position_frames  .render() -> (frames, 2) array
      .note_on(p, v) .note_off(p)         live notes on the current instrument
      .wait_ready(timeout)  .close()
    render(score, start=30.0) -> OfflineRender             offline, same code path:
      .array()  .write("x.wav")  for block in ...          whole, to a file, or in blocks
    Timeline, Scheduler                                    the parts, for tests and tools
"""

from mos_lab.engine.engine import SAMPLE_RATE, Engine, render

__all__ = [
    "SAMPLE_RATE",
    "Engine",
    "render",
]
