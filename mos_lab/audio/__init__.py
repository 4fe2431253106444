"""Apollo, the audio engine of mos_lab: voices, instruments, sample cache and outputs.

Map of the package (each module says what and why in its docstring):

- ``synth``        :class:`Synth` – JUCE-style processor: ``prepare``/``process(out,
  events)`` with sample-offset events, ``all_notes_off``, ``reset``,
  ``set_channel_state``, background ``load_bank``.
- ``events``       event kinds, CC numbers, ``validate_velocity`` (APO-07).
- ``envelope``     closed-form ADSR; one release path for every note end (APO-03).
- ``voices``       voice allocator: limit, stealing with a 5 ms fade, stuck-note reclaim;
  voice state in preallocated arrays, in-block changes queued as event rows.
- ``kernels``      numba kernels: one nogil ``render_block`` call per block renders all
  voices (wavetable, FM, samples), envelopes, events at their frames, mix and limiter.
- ``channels``     per-channel program/controllers/bend state.
- ``limiter``      NaN scrub, block limiter and soft clipper on the master bus.
- ``instruments/`` built-in GM families + drum kit, SoundFont 2 reader and sampler.
- ``loading``      ``load_async``: thread + future + timeout + progress (APO-05).
- ``cache``        memory LRU + checksummed disk LRU for samples (APO-09, ENG-09).
- ``notecache``    built-in notes rendered once into a bounded float32 arena and read
  back by the kernel (live rendering on a bend or past what was recorded).
- ``devices/``     outputs: ``Output`` base, ``RingBuffer``, ``OfflineOutput``,
  ``SoundDeviceOutput`` (PortAudio), ``NullOutput`` (clocked thread),
  ``BrowserOutput`` (PCM to a page's AudioWorklet, its played position the clock).
- ``singleton``    ``get_synth()``: one synth per process, locked (APO-04).

Scores render offline through ``mos_lab.engine.render`` (the engine's own path); Apollo's
part of it is ``Synth.process``.

Apollo never imports ``mos_lab.score`` or ``mos_lab.engine``; progress goes through an
optional ``emit(topic, payload)`` callback.
"""

from mos_lab.audio.devices import (
    BrowserOutput,
    NullOutput,
    Output,
    OutputError,
    SoundDeviceOutput,
    write_audio,
)
from mos_lab.audio.instruments import SoundFontBank
from mos_lab.audio.synth import Synth

__all__ = [
    "BrowserOutput",
    "NullOutput",
    "Output",
    "OutputError",
    "SoundDeviceOutput",
    "SoundFontBank",
    "Synth",
    "write_audio",
]
