"""The Engine (the seed's UnifiedKernelEngine): score, transport, clock and scheduler.

One Engine owns one synth, one scheduler and one output; a kernel has one Engine (the
Session makes it). Every public call is thread-safe and cheap: it changes state under a
lock and leaves the audio work to the output's render thread.

Examples
--------
>>> from mos_lab.engine import Engine
>>> with Engine(output="null") as eng:          # doctest: +SKIP
...     eng.load("song.mid").result()
...     eng.play(); eng.seek(30.0); eng.tempo = 1.25
"""

from __future__ import annotations

import math
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np

from mos_lab.audio import NullOutput, Output, OutputError, SoundDeviceOutput, Synth
from mos_lab.audio.instruments.builtin import BuiltinBank
from mos_lab.audio.memory import release_free_memory, release_library_pages
from mos_lab.bus import EventBus
from mos_lab.engine import transport
from mos_lab.engine.clips import AudioClip
from mos_lab.engine.heard import HeardEvents
from mos_lab.engine.loader import LoadQueue, Source
from mos_lab.engine.midi_io import MidiIn, MidiOut
from mos_lab.engine.scheduler import Scheduler
from mos_lab.engine.timeline import METRONOME_TRACK, Timeline
from mos_lab.engine.transport import EngineTimeout, State, TransportError
from mos_lab.score import Score, ScoreError

SAMPLE_RATE = 48_000  # the engine's rate: playback, offline renders and generated audio
TAIL_S = 3.0  # release tails rendered after the last note offline
OFFLINE_VOICES = 128  # the dense set of bench_audio peaks at 94 voices: no stealing offline
OFFLINE_BLOCK = 4096  # frames per synth call offline: per-block work and thread handovers
# are paid 4x less often than at 1024 (events still land on their exact frame)
MAX_RENDER_S = 6 * 3600.0  # offline renders longer than this are refused unless raised
DEFAULT_SOUNDFONT = "default"  # Engine(soundfont=): the GM set of ``mos-lab info --sound``
BUILTIN = "builtin"  # Engine(soundfont=): the built-in instruments (as None does)
SOUNDFONT_TIMEOUT = 120.0  # a first SF3 decode on a loaded machine takes tens of seconds
SoundFontArg = str | os.PathLike[str] | None


def resolve_soundfont(soundfont: SoundFontArg = DEFAULT_SOUNDFONT) -> str | None:
    """The SoundFont file an engine plays (None: the built-in instruments).

    "default" is :func:`~mos_lab.audio.instruments.defaults.default_soundfont` (which
    honours ``MOS_LAB_SOUNDFONT``); None or "builtin" the built-in set. A path that is not
    a readable SF2/SF3 file raises at once, naming it, so no engine starts on a typo.
    """
    if soundfont is None:
        return None
    path = os.fspath(soundfont)
    where = "soundfont"
    if path.lower() == BUILTIN:
        return None
    if path == DEFAULT_SOUNDFONT:
        from mos_lab.audio.instruments.defaults import default_soundfont

        found = default_soundfont()
        if found is None:
            return None
        path = found
        if os.environ.get("MOS_LAB_SOUNDFONT"):
            where = "MOS_LAB_SOUNDFONT"
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{where}: {path} not found (give an .sf2/.sf3 file, "
                                "'default' or None for the built-in instruments)")
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError as exc:
        raise OSError(f"{where}: cannot read {path}: {exc.strerror or exc}") from None
    if head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        raise ValueError(f"{where}: {path} is not a SoundFont (no RIFF sfbk header)")
    return os.path.abspath(path)


_BANKS: weakref.WeakValueDictionary[tuple[str, int, int], Any] = weakref.WeakValueDictionary()
_BANKS_LOCK = threading.Lock()


def _bank_loader(path: str) -> Callable[[Callable[[float], None]], Any]:
    """A loader of the SoundFont at ``path`` shared by every engine of the process.

    Why shared: a decoded SF3 set is hundreds of MB; a Session that changes its output
    (a new engine) or a second engine reuses the bank while any engine holds it.
    """
    def soundfont(progress: Callable[[float], None]) -> Any:
        from mos_lab.audio.instruments.defaults import load_bank

        st = os.stat(path)
        key = (path, st.st_mtime_ns, st.st_size)
        with _BANKS_LOCK:  # one load at a time: two engines starting together load once
            bank = _BANKS.get(key)
            if bank is None:
                bank = load_bank(path)
                _BANKS[key] = bank
        progress(1.0)
        return bank
    return soundfont


def make_output(kind: str | Output, sample_rate: int, block: int, lookahead_s: float) -> Output:
    """An output by name: "null" (clocked thread), "local" (sounddevice) or an instance."""
    if isinstance(kind, Output):
        return kind
    if kind == "null":
        return NullOutput(sample_rate, block, lookahead_s=lookahead_s)
    if kind == "local":
        return SoundDeviceOutput(sample_rate, block, lookahead_s=lookahead_s)
    raise ValueError(f"output: {kind!r} is not 'null', 'local' or an Output instance")


class Engine:
    """Transport (play, pause, stop, seek, loop, tempo, metronome, mute/solo) over Apollo."""

    def __init__(self, *, output: str | Output = "null", sample_rate: int = SAMPLE_RATE,
                 block: int = 256, lookahead_s: float = 0.1, bus: EventBus | None = None,
                 synth: Synth | None = None, start: bool = True,
                 boot: Callable[[], None] | None = None,
                 soundfont: SoundFontArg = DEFAULT_SOUNDFONT) -> None:
        if not 0.02 <= lookahead_s <= 1.0:
            raise ValueError(f"lookahead_s: {lookahead_s} is not in 0.02..1.0 seconds")
        # The instrument set: checked now, loaded in the background on first use (a score
        # load, play, a live note or a render), so an engine that never sounds stays small.
        self.soundfont: str | None = resolve_soundfont(soundfont)
        self._instruments: Future[Any] | None = None
        self.sample_rate = int(sample_rate)
        self.bus = bus if bus is not None else EventBus()
        self._own_bus = bus is None
        self.synth = synth or Synth(sample_rate=self.sample_rate, max_block=max(block, 1024))
        if synth is None and self.soundfont is not None and isinstance(
                self.synth.fallback_bank, BuiltinBank):  # ~18 MB, built only if heard
            self.synth.fallback_bank.standin = True
        self.output = make_output(output, self.sample_rate, block, lookahead_s)
        self.heard = HeardEvents(self.bus, lambda: self.output.ring.frames_read)
        self.scheduler = Scheduler(self.synth, on_discontinuity=self._discontinuity,
                                   on_events=self.heard.push)
        self._ports: list[MidiIn | MidiOut] = []
        self.output.source = self._source
        self.output.idle = self._silent  # a stopped engine lets its output park (no CPU)
        self.output.on_park = self._release_idle  # ... and holds no sample pages then
        self._lock = threading.RLock()
        self._state: State = "idle"
        self._last_emitted: str | None = None
        self.score: Score | None = None
        self.timeline: Timeline | None = None
        self.last_error: ScoreError | None = None
        self._tempo = 1.0
        self._metronome = False
        self._muted: set[int] = set()
        self._soloed: set[int] = set()
        self._clips: tuple[AudioClip, ...] = ()
        self._play_deferred = False
        self._ready = threading.Event()
        self._boot_error: BaseException | None = None
        self._queued: list[Callable[[], None]] = []
        self._closed = False
        self.loads = LoadQueue(self._loaded, self._load_failed)
        self._boot_thread: threading.Thread | None = None
        self._boot_fn = boot
        if start:
            self.start()

    # -- start-up (ENG-01) ----------------------------------------------------------------
    def start(self) -> None:
        """Start the audio side in the background; calls made meanwhile are queued."""
        with self._lock:
            if self._boot_thread is not None or self._ready.is_set():
                return
            self._boot_thread = threading.Thread(target=self._boot, name="mos-lab-engine-boot",
                                                 daemon=True)
            self._boot_thread.start()

    def _boot(self) -> None:
        try:
            if self._boot_fn is not None:
                self._boot_fn()
            self.output.start()
            release_library_pages()  # the kernels are loaded: LLVM is not used to play
        except BaseException as exc:  # reported through wait_ready and the bus
            self._boot_error = exc
        with self._lock:
            queued, self._queued = self._queued, []
            self._ready.set()
        for call in queued:
            try:
                call()
            except Exception as exc:
                self._report("engine", f"queued call failed: {exc}")

    @property
    def ready(self) -> bool:
        """True once the audio side has started (or failed to: see ``output.error``)."""
        return self._ready.is_set()

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Block until the audio side is up; EngineTimeout (with the reason) if it is not."""
        if not self._ready.wait(timeout):
            raise EngineTimeout(f"audio engine not ready after {timeout:.1f} s "
                                f"(output state: {self.output.state})")
        if self._boot_error is not None:
            raise EngineTimeout(f"audio engine failed to start: {self._boot_error}")

    def _when_ready(self, call: Callable[[], None]) -> None:
        with self._lock:
            if not self._ready.is_set():
                self._queued.append(call)
                return
        call()

    # -- state ------------------------------------------------------------------------------
    @property
    def state(self) -> State:
        """Transport state; "waiting_for_audio" while playing on an output that is not running."""
        with self._lock:
            if self._state == "playing" and self.output.state != "running":
                return "waiting_for_audio"
            return self._state

    def _set_state(self, target: State) -> None:
        transport.check(self._state, target)
        self._state = target
        self._emit_state()

    def _emit_state(self) -> None:
        st = self.state
        if st != self._last_emitted:
            self._last_emitted = st
            self.bus.emit("transport", state=st)

    def _report(self, source: str, message: str) -> None:
        self.bus.emit("error", source=source, message=message)

    # -- loading (ENG-04, ENG-06, ENG-10) ----------------------------------------------------
    def load(self, source: Source) -> Future[Score | None]:
        """Load a score in the background; the newest request wins; failures keep the old one.

        The returned future gives the Score (or None if a newer load superseded it) and
        raises ScoreError for a bad file, after which the previous score is still loaded.
        """
        with self._lock:
            if self._closed:
                raise TransportError("engine is closed")
            if self.score is None and self._state != "loading":
                self._set_state("loading")
        self._use_instruments()
        self.bus.emit("progress", task="load", done=0.0, total=1.0)
        return self.loads.submit(source)

    def _loaded(self, score: Score, token: int) -> None:
        timeline = Timeline(score, self.sample_rate, self._tempo, self._metronome, self._clips)
        with self._lock:
            if token != self.loads.latest:
                return
            self.scheduler.set_playing(False)
            self.score, self.timeline = score, timeline
            self._muted.clear()
            self._soloed.clear()
            self.scheduler.set_timeline(timeline, 0)
            self.scheduler.clear()
            self._state = "ready"
            self._emit_state()
            self.bus.emit("score_loaded", title=score.title, notes=score.n_notes, critical=True)
            self.bus.emit("progress", task="load", done=1.0, total=1.0)
            if self._play_deferred:
                self._play_deferred = False
                self._play_now()
        release_free_memory()  # the load's temporaries (file, parse) are free now

    def _load_failed(self, err: ScoreError, token: int) -> None:
        with self._lock:
            self.last_error = err
            if self.score is None and self._state == "loading":
                self._state = "idle"
                self._play_deferred = False
                self._emit_state()
        self._report("load", str(err))

    # -- transport --------------------------------------------------------------------------
    def play(self) -> None:
        """Start or resume. Deferred while loading or starting; never a second scheduler."""
        with self._lock:
            if self._state == "loading":
                self._play_deferred = True
                return
            if self.score is None:
                raise TransportError("play: no score is loaded (engine.load(path) first)")
            if self._state == "error":
                raise TransportError(f"play: engine is in error: {self.output.error}")
        self._use_instruments()
        self._when_ready(self._play_now)

    def _play_now(self) -> None:
        with self._lock:
            if self._state == "playing" or self.score is None:
                return
            if self.scheduler.finished:
                self.scheduler.request_jump(0)
            self._set_state("playing")
            self.scheduler.set_playing(True)
        self._standin_if_heard()
        self.output.wake()

    def pause(self) -> None:
        """Pause at the heard position; play() resumes there."""
        with self._lock:
            self._play_deferred = False
            if self._state != "playing":
                return
            frame = self.position_frames
            self.scheduler.set_playing(False)
            self.scheduler.request_jump(frame)
            self._set_state("paused")
            self._emit_position(frame)

    def stop(self) -> None:
        """Stop, clear every pending event and voice, and return to the start."""
        with self._lock:
            self._play_deferred = False
            if self._state not in ("playing", "paused"):
                self.scheduler.clear()
                return
            self.scheduler.set_playing(False)
            self.scheduler.clear()
            self.scheduler.request_jump(0)
            self._set_state("ready")
            self._emit_position(0)
        release_library_pages()  # also for an output that cannot park (browser, no page)

    def seek(self, seconds: float) -> None:
        """Jump to ``seconds`` of score time; voices reset, controllers restored there."""
        if not np.isfinite(seconds) or seconds < 0:
            raise ValueError(f"seek: {seconds} is not a time >= 0 seconds")
        with self._lock:
            if self.timeline is None or self.score is None:
                raise TransportError("seek: no score is loaded")
            frame = self._frame_of(seconds)
            self.scheduler.request_jump(frame)
            self.scheduler.set_playing(self.scheduler.playing)
            self._emit_position(frame)

    def set_loop(self, start: float | None, end: float | None = None) -> None:
        """Loop between two score times (seconds); ``set_loop(None)`` clears the loop."""
        with self._lock:
            if start is None:
                self.scheduler.loop = None
                return
            if self.timeline is None or self.score is None:
                raise TransportError("set_loop: no score is loaded")
            end = self.score.duration if end is None else end
            if not (0 <= start < end):
                raise ValueError(f"loop: start {start} must be >= 0 and before end {end}")
            self.scheduler.loop = (self._frame_of(start), self._frame_of(end))

    @property
    def loop(self) -> tuple[float, float] | None:
        lp = self.scheduler.loop
        return None if lp is None else (self._seconds_of(lp[0]), self._seconds_of(lp[1]))

    @property
    def tempo(self) -> float:
        """Tempo scale: 1.0 as written, 2.0 twice as fast."""
        return self._tempo

    @tempo.setter
    def tempo(self, factor: float) -> None:
        if not (np.isfinite(factor) and 0.1 <= factor <= 10.0):
            raise ValueError(f"tempo: {factor} is not in 0.1..10.0")
        self._rebuild(tempo=float(factor))

    @property
    def metronome(self) -> bool:
        return self._metronome

    @metronome.setter
    def metronome(self, on: bool) -> None:
        self._rebuild(metronome=bool(on))

    def _rebuild(self, **changes: Any) -> None:
        """New timeline (tempo or metronome changed) resuming at the same musical time."""
        with self._lock:
            seconds = self.position if self.score is not None else 0.0
            loop = self.loop
            self._tempo = changes.get("tempo", self._tempo)
            self._metronome = changes.get("metronome", self._metronome)
            if self.score is None:
                return
            self.timeline = Timeline(self.score, self.sample_rate, self._tempo, self._metronome,
                                     self._clips)
            self._apply_mix()
            self.scheduler.set_timeline(self.timeline, self._frame_of(seconds))
            self.scheduler.set_playing(self.scheduler.playing)
            if loop is not None:
                self.scheduler.loop = (self._frame_of(loop[0]), self._frame_of(loop[1]))

    def mute(self, track: int, muted: bool = True) -> None:
        """Silence a track's new notes (sounding ones end normally)."""
        self._check_track(track)
        with self._lock:
            (self._muted.add if muted else self._muted.discard)(track)
            self._apply_mix()

    def solo(self, track: int, soloed: bool = True) -> None:
        """While any track is soloed, only soloed tracks sound."""
        self._check_track(track)
        with self._lock:
            (self._soloed.add if soloed else self._soloed.discard)(track)
            self._apply_mix()

    # -- audio clips ------------------------------------------------------------------------
    def add_clip(self, audio: np.ndarray | AudioClip, sample_rate: int | None = None, *,
                 start: float = 0.0, gain: float = 1.0, name: str = "") -> AudioClip:
        """Place audio on the transport at ``start`` seconds of score time: it plays with
        the score (seeks, loops, tempo) and is in ``render()``; returns the clip."""
        clip = audio if isinstance(audio, AudioClip) else AudioClip.make(
            audio, self.sample_rate if sample_rate is None else sample_rate, start=start,
            gain=gain, name=name)
        with self._lock:
            self._clips = (*self._clips, clip)
            self._rebuild()
        return clip

    def remove_clip(self, clip: AudioClip | None = None) -> None:
        """Take ``clip`` off the transport (None: every clip)."""
        with self._lock:
            if clip is not None and clip not in self._clips:
                raise ValueError(f"remove_clip: {clip!r} is not on this engine")
            self._clips = () if clip is None else tuple(c for c in self._clips if c is not clip)
            self._rebuild()

    @property
    def clips(self) -> tuple[AudioClip, ...]:
        """The audio clips on the transport, in the order added."""
        return self._clips

    def _check_track(self, track: int) -> None:
        n = len(self.score.tracks) if self.score is not None else 0
        if not 0 <= track < n:
            raise ValueError(f"track: {track} is not in 0..{n - 1}")

    def _apply_mix(self) -> None:
        if self.timeline is None or self.score is None:
            return
        n = len(self.score.tracks)
        active = np.ones(n, dtype=bool)
        if self._soloed:
            active[:] = False
            active[list(self._soloed)] = True
        active[list(self._muted)] = False
        self.timeline.set_active_tracks(active)
        self.timeline.track_active[METRONOME_TRACK] = True

    # -- the clock --------------------------------------------------------------------------
    @property
    def position_frames(self) -> int:
        """Timeline frame being heard now, from the output's consumed-frame counter."""
        return self.scheduler.frame_at(self.output.ring.frames_read)

    @property
    def position(self) -> float:
        """Score time (seconds, tempo scale removed) being heard now."""
        return self._seconds_of(self.position_frames)

    def _frame_of(self, seconds: float) -> int:
        assert self.score is not None and self.timeline is not None
        tick = self.score.tempo.seconds_to_ticks(seconds)
        return round(float(self.timeline.tempo.ticks_to_seconds(float(tick))) * self.sample_rate)

    def _seconds_of(self, frame: int) -> float:
        if self.score is None or self.timeline is None:
            return 0.0
        tick = self.timeline.tempo.frames_to_ticks(frame, self.sample_rate)
        return float(self.score.tempo.ticks_to_seconds(float(tick)))

    def _silent(self) -> bool:
        """Output render thread: nothing will sound until play() or a live note (wake)."""
        return not self.scheduler.playing and self.synth.idle

    def _release_idle(self) -> None:
        """The output parked: the SoundFont's played sample pages go (see release_pages),
        and so do LLVM's library pages, which playing does not use (audio.memory)."""
        release = getattr(self.synth.bank, "release_pages", None)
        if release is not None:
            release()
        release_library_pages()

    def _discontinuity(self, ring: int) -> None:
        """A jump: audio rendered ahead before ``ring`` and its note events are dropped."""
        self.output.discard_until(ring)
        self.heard.drop_before(ring)

    def _emit_position(self, frame: int) -> None:
        self.bus.emit("position", seconds=max(self._seconds_of(frame), 0.0), frame=frame)

    def _source(self, buf: np.ndarray) -> None:
        """Output render thread: the next block, written at ring index frames_written."""
        self.scheduler.render(buf, self.output.ring.frames_written)
        if self._state == "playing" and self._last_emitted != self.state:
            with self._lock:
                self._emit_state()
        end = self.timeline.end_frame if self.timeline else 0
        if (self.scheduler.finished and self._state == "playing" and not self.scheduler.loop
                and self.position_frames >= end):
            with self._lock:
                if self._state == "playing":
                    self.scheduler.set_playing(False)
                    self.scheduler.request_jump(0)
                    self._set_state("ready")

    # -- live notes (MIDI keyboard, on-screen keys) -------------------------------------------
    def note_on(self, pitch: int, velocity: int = 100, channel: int = 0) -> None:
        """Play a note now on the current instrument (queued until audio is ready)."""
        self.synth.send("note_on", channel, pitch, velocity)  # validates at once
        if self._instruments is None:
            self._use_instruments()
        self._standin_if_heard()
        self.output.wake()
        self._when_ready(lambda: None)
        self.bus.emit("note_on", pitch=pitch, velocity=int(velocity), channel=channel)

    def note_off(self, pitch: int, channel: int = 0) -> None:
        self.synth.send("note_off", channel, pitch, 0)
        self.bus.emit("note_off", pitch=pitch, channel=channel)

    # -- instruments ------------------------------------------------------------------------
    def load_instruments(self, source: str | os.PathLike[str] | Callable[..., Any], *,
                         timeout: float = 30.0, hold_notes: bool = False) -> Future[Any]:
        """Switch to a SoundFont (.sf2, or a loader function) in the background, with
        progress on the bus.

        Until it is ready, notes keep the current instruments (or, with ``hold_notes``,
        wait and then sound with their spacing); a failure or timeout keeps the current
        ones and is reported as an ``error`` event.
        """
        return self.synth.load_bank(source, timeout=timeout,
                                    pending="queue" if hold_notes else "old",
                                    emit=self._instrument_event)

    def _use_instruments(self) -> Future[Any] | None:
        """Start loading ``soundfont`` (once); notes meanwhile play the built-in set."""
        if self.soundfont is None:
            return None
        with self._lock:
            if self._instruments is None:
                self._instruments = self.load_instruments(_bank_loader(self.soundfont),
                                                          timeout=SOUNDFONT_TIMEOUT)
            return self._instruments

    def _standin_if_heard(self) -> None:
        """Build the built-in stand-in set (off the render thread) once it may be heard:
        a play or a live note while the SoundFont still loads, or after its load failed.

        Why: an engine with a SoundFont builds no built-in instrument it never plays
        (~18 MB of tables and drum samples per kernel); notes that start before this
        thread is done build what they need themselves.
        """
        bank = self.synth.fallback_bank
        if not (isinstance(bank, BuiltinBank) and bank.standin):
            return
        fut = self._instruments
        if fut is not None and fut.done() and not fut.cancelled() and fut.exception() is None:
            return  # the SoundFont plays
        bank.standin = False
        threading.Thread(target=bank.prepare, args=(self.sample_rate,), daemon=True,
                         name="mos-lab-standin").start()

    def wait_instruments(self, timeout: float = SOUNDFONT_TIMEOUT) -> Any:
        """Load the engine's SoundFont now if not yet and return the bank it plays.

        A failed load raises here (and was reported on the bus); the built-in set stays.
        """
        fut = self._use_instruments()
        return self.synth.bank if fut is None else fut.result(timeout)

    def _instrument_event(self, topic: str, payload: Mapping[str, Any]) -> None:
        """Apollo's loading topics as bus events (progress, then ready or an error)."""
        if topic == "audio.load.progress":
            self.bus.emit("progress", task="instruments",
                          done=float(payload.get("fraction", 0.0)), total=1.0)
        elif topic == "audio.load.ready":
            self.bus.emit("progress", task="instruments", done=1.0, total=1.0)
            release_free_memory()  # what reading and parsing the SoundFont left free
            release_library_pages()  # and LLVM, if its kernels were loaded meanwhile
        elif topic in ("audio.load.failed", "audio.load.timeout"):
            self._report("instruments", f"{payload.get('name')}: {payload.get('error')}; "
                         "keeping the current instruments")
            self._standin_if_heard()

    def midi_out(self, port: Any) -> MidiOut:
        """Send what the engine plays to a MIDI port (a mido port or a port name)."""
        handle = MidiOut(self, port)
        self._ports.append(handle)
        return handle

    def midi_in(self, port: Any) -> MidiIn:
        """Play a MIDI keyboard (a mido input port or its name) on the current instrument."""
        handle = MidiIn(self, port)
        self._ports.append(handle)
        return handle

    # -- offline ------------------------------------------------------------------------------
    def render(self, score: Score | None = None, *, sample_rate: int | None = None,
               tail_s: float = TAIL_S, block: int = OFFLINE_BLOCK,
               progress: Callable[[float], None] | None = None,
               max_seconds: float = MAX_RENDER_S) -> np.ndarray:
        """Render a score (the loaded one by default) to a (frames, 2) float32 array.

        :func:`render` with this engine's tempo scale, metronome, mute/solo and
        instruments; for a file or a stream use ``render(score, ...)`` itself.
        """
        score = score or self.score
        if score is None:
            raise TransportError("render: no score is loaded")
        sr = int(sample_rate or self.sample_rate)
        active = self.timeline.track_active if score is self.score and self.timeline else None
        clips = self._clips if score is self.score else ()
        bank = self.synth.bank
        fut = self._use_instruments()
        if fut is not None:  # a file renders with the engine's set throughout, not half
            try:
                bank = fut.result(SOUNDFONT_TIMEOUT)
            except Exception:  # reported on the bus; the current instruments play
                bank = self.synth.bank
        return render(score, sample_rate=sr, tempo=self._tempo, metronome=self._metronome,
                      tail_s=tail_s, block=block, bank=bank, active_tracks=active,
                      max_seconds=max_seconds, clips=clips).array(progress)

    # -- lifecycle ----------------------------------------------------------------------------
    def close(self) -> None:
        """Stop audio, threads and the loader; safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self.loads.close()
        if self._boot_thread is not None:
            self._boot_thread.join(timeout=10)
        for port in self._ports:
            port.close()
        self.output.close()
        self.heard.close()
        if self._own_bus:
            self.bus.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def status(self) -> dict[str, Any]:
        """A snapshot for ``%mos status`` and tools."""
        return {"state": self.state, "position": round(self.position, 3),
                "score": repr(self.score) if self.score else None, "tempo": self._tempo,
                "loop": self.loop, "output": type(self.output).__name__,
                "output_state": self.output.state, "output_error": self.output.error,
                "underruns": self.output.underruns,
                "instruments": os.path.basename(self.soundfont) if self.soundfont else "built-in"}


def _hours(seconds: float) -> str:
    """``seconds`` as "1214 h 50 min" or "42.0 s" for messages."""
    if seconds < 3600:
        return f"{seconds:.1f} s"
    h, rest = divmod(int(seconds), 3600)
    return f"{h} h {rest // 60:02d} min"


def _soundfile() -> Any:
    """Import soundfile or say what to install (the audio extra)."""
    try:
        import soundfile
    except (ImportError, OSError) as exc:
        raise OutputError("writing audio files needs soundfile "
                          "(pip install 'mos_lab[audio]')") from exc
    return soundfile


class OfflineRender:
    """An offline render of a score, made lazily in blocks: iterate it, ``array()`` or
    ``write(path)``.

    Why lazy: a long piece streams to a file or a video in constant memory, and a length
    beyond ``max_seconds`` is refused when this object is made, before any audio is
    allocated (a damaged file can claim 50 days). The audio is the real-time path's
    (Timeline + Scheduler + Synth), faster than real time.
    """

    def __init__(self, score: Score, *, sample_rate: int = SAMPLE_RATE, start: float = 0.0,
                 frames: int | None = None, tempo: float = 1.0, metronome: bool = False,
                 tail_s: float = TAIL_S, block: int = OFFLINE_BLOCK, bank: Any = None,
                 max_voices: int = OFFLINE_VOICES, active_tracks: np.ndarray | None = None,
                 threads: int | None = None, max_seconds: float = MAX_RENDER_S,
                 clips: Sequence[AudioClip] = ()) -> None:
        if not 8_000 <= int(sample_rate) <= 192_000:
            raise ValueError(f"sample_rate: {sample_rate} is not in 8000..192000")
        for name, value in (("start", start), ("tail_s", tail_s)):
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name}: {value:g} must be 0 or more seconds")
        if not (math.isfinite(tempo) and tempo > 0):
            raise ValueError(f"tempo: {tempo:g} must be more than 0")
        if frames is not None and frames < 0:
            raise ValueError(f"frames: {frames} must be 0 or more")
        self.score, self.sample_rate, self.block = score, int(sample_rate), int(block)
        self.first = max(0, round(start * self.sample_rate))
        # Checked from the score's own duration first: nothing is built for a refused length.
        rest = max(0.0, score.duration / tempo + tail_s - start)
        wanted = frames / self.sample_rate if frames is not None else rest
        if wanted > max_seconds:
            raise ValueError(
                f"render: {_hours(wanted)} of audio is over the limit of {_hours(max_seconds)}"
                f" (the score says it lasts {_hours(score.duration / tempo)}); render a part, "
                "or raise the limit (max_seconds=, mos-lab render --max-hours)")
        self._opts = (tempo, metronome, bank, max_voices, active_tracks, threads)
        self._timeline = Timeline(score, self.sample_rate, tempo, metronome, clips)
        if active_tracks is not None:
            self._timeline.track_active[:] = active_tracks
        end = self._timeline.end_frame + int(tail_s * self.sample_rate)
        self.frames = max(0, end - self.first) if frames is None else int(frames)

    @property
    def seconds(self) -> float:
        """Length of the render in seconds."""
        return self.frames / self.sample_rate

    def blocks(self, progress: Callable[[float], None] | None = None,
               ) -> Iterator[np.ndarray]:
        """The render as (n, 2) float32 blocks (a new synth each call, so it can be redone)."""
        _, _, bank, max_voices, _, threads = self._opts
        threads = (os.cpu_count() or 1) if threads is None else threads
        synth = Synth(sample_rate=self.sample_rate, max_block=self.block,
                      max_voices=max_voices, instrument_bank=bank, render_threads=threads)
        sched = Scheduler(synth)
        sched.set_timeline(self._timeline, self.first)
        sched.set_playing(True)
        last = time.monotonic()
        for pos in range(0, self.frames, self.block):
            out = np.zeros((min(self.block, self.frames - pos), 2), dtype=np.float32)
            sched.render(out)
            yield out
            if progress is not None and time.monotonic() - last > 0.1:
                last = time.monotonic()
                progress((pos + len(out)) / self.frames)
        if progress is not None:
            progress(1.0)

    def __iter__(self) -> Iterator[np.ndarray]:
        return self.blocks()

    def array(self, progress: Callable[[float], None] | None = None) -> np.ndarray:
        """The whole render as one (frames, 2) float32 array."""
        out = np.empty((self.frames, 2), dtype=np.float32)
        pos = 0
        for blk in self.blocks(progress):
            out[pos : pos + len(blk)] = blk
            pos += len(blk)
        return out

    def write(self, path: str | os.PathLike[str], *, subtype: str | None = None,
              progress: Callable[[float], None] | None = None) -> Path:
        """Stream the render into a WAV or FLAC file (format by extension), block by block.

        Memory stays at one block whatever the length; a WAV too big for its 4 GiB header
        is written as RF64. The file appears only when complete (an existing one is
        replaced then); on failure nothing is left behind.
        """
        target = Path(path)
        fmt = {".wav": "WAV", ".flac": "FLAC"}.get(target.suffix.lower())
        if fmt is None:
            raise ValueError(f"output: cannot write '{target.suffix}' audio (use .wav or .flac)")
        if not target.parent.is_dir():
            raise FileNotFoundError(f"output: folder {target.parent} does not exist")
        sf = _soundfile()
        if fmt == "WAV" and self.frames * 2 * 4 >= 2**32 - 2**20:
            fmt = "RF64"  # 32-bit float or long PCM would overflow the RIFF size field
        part = target.with_name(f".{target.name}.part")
        try:
            # 16 bits: TPDF dither of one LSB, so quiet tails fade into noise, not steps.
            rng = np.random.default_rng(0) if subtype == "PCM_16" else None
            with sf.SoundFile(os.fspath(part), "w", self.sample_rate, 2, subtype=subtype,
                              format=fmt) as f:
                for blk in self.blocks(progress):
                    if rng is not None:
                        blk = _dither16(blk, rng)
                    f.write(blk)
            os.replace(part, target)
        except RuntimeError as exc:  # libsndfile's errors name the file being written
            part.unlink(missing_ok=True)
            raise OutputError(f"output: cannot write {target}: "
                              f"{str(exc).replace(str(part), str(target))}") from None
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        return target


def _dither16(block: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A float block as 16-bit samples with one LSB of TPDF dither, rounded to nearest
    here (libsndfile's own float conversion after the dither left a -0.5 LSB offset)."""
    tpdf = rng.random(block.shape, np.float32) - rng.random(block.shape, np.float32)
    q = np.floor(block * np.float32(32768.0) + tpdf + np.float32(0.5))
    return np.clip(q, -32768, 32767).astype(np.int16)


def render(score: Score, *, sample_rate: int = SAMPLE_RATE, start: float = 0.0,
           frames: int | None = None, tempo: float = 1.0, metronome: bool = False,
           tail_s: float = TAIL_S, block: int = OFFLINE_BLOCK, bank: Any = None,
           max_voices: int = OFFLINE_VOICES, active_tracks: np.ndarray | None = None,
           threads: int | None = None, max_seconds: float = MAX_RENDER_S,
           clips: Sequence[AudioClip] = ()) -> OfflineRender:
    """The one offline render of a score: ``render(s).array()``, ``.write("x.wav")`` or
    ``for block in render(s)``.

    From ``start`` seconds (a seek: controllers restored) for ``frames`` frames (default:
    the rest of the score plus ``tail_s`` of release tails). Offline there is no
    deadline, so voices split over ``threads`` (default: every core) and up to
    ``max_voices`` sound at once. Longer than ``max_seconds`` raises ValueError at once.
    ``clips`` (:class:`~mos_lab.engine.clips.AudioClip`) are mixed in at their times.
    """
    return OfflineRender(score, sample_rate=sample_rate, start=start, frames=frames,
                         tempo=tempo, metronome=metronome, tail_s=tail_s, block=block,
                         bank=bank, max_voices=max_voices, active_tracks=active_tracks,
                         threads=threads, max_seconds=max_seconds, clips=clips)
