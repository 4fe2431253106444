"""mos_lab.bus — typed, validated, ordered events between engine, audio, widgets and plugins.

Map (stdlib only; the bottom layer, imports nothing from mos_lab)::

    EventBus(registry=None, *, history_size=1000, max_payload=65536, max_depth=32,
             sample_every=64, max_errors=100, clock=time.monotonic)
      .emit(type, *, frame=None, critical=None, **fields) -> Event   validate, sequence, deliver
      .subscribe(type | "*", handler, owner=None) -> Subscription    handler(event), owned
      .dispose_owner(owner)  .subscriber_count(type=None)  .errors  .metrics() -> BusMetrics
      .history  .recent(n, type)  .close() / with-block
    Event        .type .seq .frame .time .data .critical .chain   (ev["pitch"] == ev.data[...])
    register_event_type(name, *fields, critical=False, requires_frame=False, extra=False)
    Field(name, type, lo=None, hi=None, choices=None, required=True) or (name, type, lo, hi)
    BusError(ValueError) > UnknownEventTypeError, EventValidationError > FieldTypeError
                           (also TypeError), PayloadTooLargeError; EmitDepthError (cycles)

Built-in event types (fields; ``?`` = optional; ranges inclusive; ``!`` = critical)::

    note_on       pitch 0-127, velocity 1-127, channel 0-15, track? >=0
    note_off      pitch 0-127, channel 0-15, velocity? 0-127, track? >=0
    control       number 0-127, value 0-127, channel 0-15
    program       program 0-127, channel 0-15
    transport !   state in idle|loading|ready|playing|paused|waiting_for_audio|error
    position      seconds >=0.0, tick? >=0; needs emit(..., frame=<sample frame>)
    chord !       symbol: str, roman?: str, key?: str
    score_loaded !  title: str, notes >=0
    error !       source: str, message: str, kind?: str   (the bus emits one per failing handler)
    progress      task: str, done >=0.0, total >=0.0

Guarantees: every subscriber sees events in sequence (``seq``) order, also with several
emitting threads; an emit from a handler is queued and delivered after the current event
(FIFO); a handler's exception is isolated, logged, kept in ``bus.errors`` and reported as an
``error`` event; bound-method handlers and owners are held weakly.

Example::

    from mos_lab.bus import EventBus

    class Widget:                                  # anything weak-referenceable owns subs
        def on_chord(self, event): print(event["symbol"])

    widget = Widget()
    with EventBus() as bus:
        bus.subscribe("note_on", lambda ev: print(ev.seq, ev["pitch"]), owner=widget)
        bus.subscribe("chord", widget.on_chord)          # bound method: held weakly
        bus.emit("note_on", pitch=60, velocity=100, channel=0, frame=44100)
        bus.emit("chord", symbol="G7")
        bus.dispose_owner(widget)                        # or just drop the widget
"""

from ._bus import EventBus
from ._events import DEFAULT_REGISTRY, Event, register_event_type

__all__ = [
    "DEFAULT_REGISTRY",
    "Event",
    "EventBus",
    "register_event_type",
]
