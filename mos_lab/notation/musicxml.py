"""MusicXML text (partwise 4.0) of a :class:`Notated` score, for verovio to engrave.

Each head keeps an ``id`` (``n<row>`` for the first head of ``Score.notes[row]``,
``n<row>-<units>`` for the heads tied on from it), which verovio keeps on its notes, so the
engraving's elements lead back to the Score's notes.
"""

from __future__ import annotations

from mos_lab.notation.model import UNITS, Event, Measure, Notated, Part, Voice


def escape(text: str) -> str:
    """Text as XML character data (xml.sax.saxutils would import urllib.request: ~0.3 s)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def quoteattr(text: str) -> str:
    """Text as a double-quoted XML attribute value."""
    return '"' + escape(text).replace('"', "&quot;") + '"'


_CLEFS = {"treble": ("G", 2, 0), "treble8vb": ("G", 2, -1), "bass": ("F", 4, 0),
          "alto": ("C", 3, 0), "percussion": ("percussion", 0, 0)}


def write(notated: Notated) -> str:
    """The whole MusicXML document as a string."""
    out = ['<?xml version="1.0" encoding="UTF-8" standalone="no"?>',
           '<score-partwise version="4.0">']
    if notated.title:
        out.append(f"<work><work-title>{escape(notated.title)}</work-title></work>")
    if notated.composer:
        out.append(f'<identification><creator type="composer">{escape(notated.composer)}'
                   "</creator></identification>")
        # verovio heads a page with the title alone unless credits say what goes there
        if notated.title:
            out.append('<credit page="1"><credit-type>title</credit-type><credit-words '
                       f'justify="center" valign="top" font-size="20">{escape(notated.title)}'
                       "</credit-words></credit>")
        out.append('<credit page="1"><credit-type>composer</credit-type><credit-words '
                   f'justify="right" valign="top">{escape(notated.composer)}</credit-words>'
                   "</credit>")
    out.append("<part-list>")
    for i, part in enumerate(notated.parts):
        out.append(f'<score-part id="P{i + 1}"><part-name>{escape(part.name)}</part-name>'
                   "</score-part>")
    out.append("</part-list>")
    for i, part in enumerate(notated.parts):
        _syllables(part)
        out.append(f'<part id="P{i + 1}">')
        for mi, m in enumerate(part.measures):
            _measure(out, part, m, first=mi == 0, tempo=notated.bpm if i == 0 else None)
        out.append("</part>")
    out.append("</score-partwise>")
    return "\n".join(out)


def _syllables(part: Part) -> None:
    """Set each lyric's syllabic from its hyphen and the one before it in its line and
    voice (a sung syllable whose word goes on ends in "-"; chord labels stand alone)."""
    going: dict[tuple[int, int], bool] = {}
    for m in part.measures:
        for v in m.voices:
            for ev in v.events:
                for n, text in ev.lyrics.items():
                    more = len(text) > 1 and text.endswith("-")
                    after = going.get((v.number, n), False)
                    ev.syllabic[n] = ("middle" if more else "end") if after else (
                        "begin" if more else "single")
                    going[(v.number, n)] = more


def _attributes(out: list[str], part: Part, m: Measure, first: bool) -> None:
    inner: list[str] = []
    if first:
        inner.append(f"<divisions>{UNITS}</divisions>")
    if m.key is not None:
        mode = "minor" if m.key[1] else "major"
        inner.append(f"<key><fifths>{m.key[0]}</fifths><mode>{mode}</mode></key>")
    if m.time is not None:
        inner.append(f"<time><beats>{m.time[0]}</beats><beat-type>{m.time[1]}</beat-type>"
                     "</time>")
    if first:
        if len(part.clefs) > 1:
            inner.append(f"<staves>{len(part.clefs)}</staves>")
        for s, clef in enumerate(part.clefs):
            sign, line, octave = _CLEFS[clef]
            num = f' number="{s + 1}"' if len(part.clefs) > 1 else ""
            body = f"<sign>{sign}</sign>" + (f"<line>{line}</line>" if line else "")
            if octave:
                body += f"<clef-octave-change>{octave}</clef-octave-change>"
            inner.append(f"<clef{num}>{body}</clef>")
    if inner:
        out.append("<attributes>" + "".join(inner) + "</attributes>")


def _measure(out: list[str], part: Part, m: Measure, first: bool, tempo: float | None) -> None:
    implicit = ' implicit="yes"' if m.implicit and m.number == 0 else ""
    out.append(f'<measure number="{m.number}"{implicit}>')
    _attributes(out, part, m, first)
    if first and tempo:
        out.append(f'<direction><direction-type><words/></direction-type>'
                   f'<sound tempo="{tempo:.3f}"/></direction>')
    pending = sorted(m.directions, key=lambda d: d.time)
    placed: set[int] = set()
    for k, voice in enumerate(m.voices):
        if k:
            out.append(f"<backup><duration>{m.length}</duration></backup>")
        lead = voice.number == (voice.staff - 1) * 4 + 1
        for ev in voice.events:
            if lead:
                for j, d in enumerate(pending):
                    if j in placed or d.staff != voice.staff:
                        continue
                    if ev.start <= d.time < ev.start + ev.duration or (
                            ev is voice.events[-1] and d.time >= ev.start):
                        _direction(out, d.kind, d.text, d.placement, d.staff,
                                   d.time - ev.start, len(part.clefs) > 1)
                        placed.add(j)
            _event(out, voice, ev, len(part.clefs) > 1)
    out.append("</measure>")


def _direction(out: list[str], kind: str, text: str, placement: str, staff: int, offset: int,
               staves: bool) -> None:
    body = (f"<dynamics><{text}/></dynamics>" if kind == "dynamics"
            else f"<words>{escape(text)}</words>")
    off = f"<offset>{offset}</offset>" if offset else ""
    st = f"<staff>{staff}</staff>" if staves else ""
    out.append(f'<direction placement={quoteattr(placement)}><direction-type>{body}'
               f"</direction-type>{off}{st}</direction>")


def _event(out: list[str], voice: Voice, ev: Event, staves: bool) -> None:
    staff = f"<staff>{voice.staff}</staff>" if staves else ""
    if not ev.type and not ev.whole_measure:
        out.append(f"<forward><duration>{ev.duration}</duration><voice>{voice.number}</voice>"
                   f"{staff}</forward>")
        return
    tm = ("<time-modification><actual-notes>3</actual-notes><normal-notes>2</normal-notes>"
          "</time-modification>") if ev.tuplet else ""
    tuplet = f'<tuplet type="{ev.tuplet_mark}" bracket="yes"/>' if ev.tuplet_mark else ""
    dots = "<dot/>" * ev.dots
    typ = f"<type>{ev.type}</type>" if not ev.whole_measure else ""
    beam = f'<beam number="1">{ev.beam}</beam>' if ev.beam else ""
    if not ev.heads:
        rest = '<rest measure="yes"/>' if ev.whole_measure else "<rest/>"
        notations = f"<notations>{tuplet}</notations>" if tuplet else ""
        out.append(f"<note>{rest}<duration>{ev.duration}</duration><voice>{voice.number}"
                   f"</voice>{typ}{dots}{tm}{staff}{notations}</note>")
        return
    for i, h in enumerate(ev.heads):
        chord = "<chord/>" if i else ""
        if h.unpitched:
            pitch = (f"<unpitched><display-step>{h.step}</display-step>"
                     f"<display-octave>{h.octave}</display-octave></unpitched>")
        else:
            alter = f"<alter>{h.alter}</alter>" if h.alter else ""
            pitch = f"<pitch><step>{h.step}</step>{alter}<octave>{h.octave}</octave></pitch>"
        ties = ('<tie type="stop"/>' if h.tie_stop else "") + (
            '<tie type="start"/>' if h.tie_start else "")
        tied = ('<tied type="stop"/>' if h.tie_stop else "") + (
            '<tied type="start"/>' if h.tie_start else "")
        acc = f"<accidental>{h.accidental}</accidental>" if h.accidental else ""
        marks = tied + (tuplet if i == 0 else "")
        notations = f"<notations>{marks}</notations>" if marks else ""
        lyrics = "".join(
            f'<lyric number="{n}"><syllabic>{ev.syllabic.get(n, "single")}</syllabic>'
            f"<text>{escape(t[:-1] if ev.syllabic.get(n) in ('begin', 'middle') else t)}"
            "</text></lyric>" for n, t in sorted(ev.lyrics.items())) if i == 0 else ""
        out.append(f'<note id="{h.id}">{chord}{pitch}<duration>{ev.duration}</duration>{ties}'
                   f"<voice>{voice.number}</voice>{typ}{dots}{acc}{tm}{staff}"
                   f"{beam if i == 0 else ''}{notations}{lyrics}</note>")
