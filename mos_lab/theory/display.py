"""How an Analysis shows itself in a notebook: a coloured key timeline over a segment table.

Plain HTML and inline styles only (no script, no widget, nothing fetched), so it renders
in JupyterLab, on GitHub and in nbconvert alike. Keys are colour bands whose hue follows
the circle of fifths (neighbouring keys look alike; minor keys are darker), numerals are
labels on the bands; the table lists onset, measure, beat, key, numeral, symbol and
cadence per segment. ``key_colour`` is the one palette: the Player's chord lane uses it too.
"""

from __future__ import annotations

import html
from typing import Any

#: An ``Analysis`` (not imported: the model imports this module to show itself).
Analysis = Any

#: Table rows shown before the rest are summarised in one line.
MAX_ROWS = 2000
_LETTER_FIFTHS = {"f": -1, "c": 0, "g": 1, "d": 2, "a": 3, "e": 4, "b": 5}


def key_fifths(key: str) -> int:
    """Line-of-fifths position of a key symbol's tonic (``"C"`` 0, ``"f#"`` 6, ``"Bb"`` -2)."""
    acc = key[1:]
    return _LETTER_FIFTHS[key[0].lower()] + 7 * (acc.count("#") - acc.count("b") - acc.count("-"))


def key_colour(key: str | None) -> str:
    """CSS colour of a key (RomanText symbol, upper case major): hue around the circle of
    fifths, relative major and minor sharing it, minor darker; grey for no key."""
    if not key or key[0].lower() not in _LETTER_FIFTHS:
        return "hsl(0, 0%, 45%)"
    minor = key[0].islower()
    f = key_fifths(key) - (3 if minor else 0)  # the relative major's position
    hue = (f * 30) % 360
    return f"hsl({hue}, 55%, {34 if minor else 46}%)"


def key_label(key: str) -> str:
    """``"F# major"`` / ``"e minor"`` from a RomanText key symbol (``"F#"``, ``"e"``)."""
    return f"{key} {'minor' if key[:1].islower() else 'major'}"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _bands(analysis: Analysis, duration: float) -> list[tuple[float, float, str]]:
    """(start s, end s, key) runs of one key over the segments."""
    out: list[tuple[float, float, str]] = []
    segs = analysis.segments
    for i, s in enumerate(segs):
        end = segs[i + 1].onset if i + 1 < len(segs) else duration
        if out and out[-1][2] == s.key and abs(out[-1][1] - s.onset) < 1e-9:
            out[-1] = (out[-1][0], end, s.key)
        else:
            out.append((s.onset, end, s.key))
    return out


def _last_end(analysis: Analysis) -> float:
    """Where the last segment ends in seconds, at the tempo of the last two onsets (else
    120 BPM): segments carry onsets in seconds but ends in ticks."""
    segs = analysis.segments
    last = segs[-1]
    per_tick = 0.5 / max(analysis.tpq, 1)
    if len(segs) > 1 and last.tick > segs[-2].tick:
        per_tick = (last.onset - segs[-2].onset) / (last.tick - segs[-2].tick)
    return last.onset + max(last.end - last.tick, 0) * per_tick


def analysis_html(analysis: Analysis, *, duration: float | None = None,
                  max_rows: int = MAX_ROWS, px_per_second: float = 48.0) -> str:
    """HTML of an analysis: a scrollable key/numeral timeline and the table of segments.

    ``duration`` is where the last segment ends in seconds (default: one beat after its
    onset, since segments carry onsets in seconds and ends in ticks).
    """
    segs = analysis.segments
    title = analysis.metadata.get("Title", "")
    head = (f"<b>{_e(title) + ' · ' if title else ''}{len(segs)} segments</b>, key "
            f"<b>{_e(analysis.key or 'none')}</b>, confidence {analysis.confidence:.2f}")
    if analysis.message:
        head += f" · <i>{_e(analysis.message)}</i>"
    parts = ['<div class="mos-analysis" style="font-family:system-ui,sans-serif;'
             'font-size:12px;color:#222">', f"<div style='margin:2px 0 6px'>{head}</div>"]
    if not segs:
        parts.append("</div>")
        return "".join(parts)
    end = duration if duration is not None else _last_end(analysis)
    end = max(end, segs[-1].onset + 0.25)
    width = max(320, int(end * px_per_second) + 8)
    x = lambda s: round(s * px_per_second, 1)  # noqa: E731
    parts.append('<div style="overflow-x:auto;max-width:100%;border:1px solid #ccc;'
                 'border-radius:6px;background:#fafafa">'
                 f'<div class="mos-analysis-timeline" style="position:relative;'
                 f'width:{width}px;height:58px">')
    for a, b, key in _bands(analysis, end):
        parts.append(
            f'<div class="mos-key-band" data-key="{_e(key)}" title="{_e(key_label(key))}" '
            f'style="position:absolute;left:{x(a)}px;width:{max(x(b) - x(a), 1)}px;top:0;'
            f'height:18px;background:{key_colour(key)};color:#fff;font-size:11px;'
            f'overflow:hidden;white-space:nowrap;padding-left:3px;box-sizing:border-box">'
            f"{_e(key)}:</div>")
    for i, s in enumerate(segs):
        b = segs[i + 1].onset if i + 1 < len(segs) else end
        cad = (f'<div style="color:#b0003a;font-size:10px">{_e(s.cadence)}</div>'
               if s.cadence else "")
        parts.append(
            f'<div class="mos-numeral" title="m{s.measure} b{s.beat:g}: {_e(s.numeral)} '
            f'({_e(s.chord)}) in {_e(key_label(s.key))}" style="position:absolute;'
            f'left:{x(s.onset)}px;width:{max(x(b) - x(s.onset) - 1, 1)}px;top:20px;'
            f'height:36px;border-left:2px solid {key_colour(s.key)};padding-left:2px;'
            f'overflow:hidden;white-space:nowrap;box-sizing:border-box">'
            f'<div style="font-family:Georgia,serif;font-size:13px">{_e(s.numeral)}</div>'
            f'<div style="color:#666;font-size:10px">{_e(s.chord)}</div>{cad}</div>')
    parts.append("</div></div>")
    th = "".join(f"<th style='text-align:left;padding:1px 8px'>{c}</th>" for c in
                 ("onset (s)", "measure", "beat", "key", "numeral", "symbol", "cadence"))
    rows = []
    for s in segs[:max_rows]:
        rows.append(
            f"<tr><td style='padding:1px 8px'>{s.onset:.3f}</td><td style='padding:1px 8px'>"
            f"{s.measure}</td><td style='padding:1px 8px'>{s.beat:g}</td>"
            f"<td style='padding:1px 8px'><span style='display:inline-block;width:9px;"
            f"height:9px;border-radius:2px;background:{key_colour(s.key)};margin-right:4px'>"
            f"</span>{_e(s.key)}</td><td style='padding:1px 8px;font-family:Georgia,serif'>"
            f"{_e(s.numeral)}</td><td style='padding:1px 8px'>{_e(s.chord)}</td>"
            f"<td style='padding:1px 8px'>{_e(s.cadence or '')}</td></tr>")
    more = (f"<div style='color:#666'>… {len(segs) - max_rows} more segments "
            f"(<code>analysis.records()</code> has them all)</div>"
            if len(segs) > max_rows else "")
    parts.append("<div style='max-height:320px;overflow-y:auto;margin-top:6px'>"
                 "<table class='mos-analysis-table' style='border-collapse:collapse;"
                 f"font-size:12px'><thead><tr>{th}</tr></thead><tbody>{''.join(rows)}"
                 f"</tbody></table></div>{more}</div>")
    return "".join(parts)
