"""Engraving benchmarks (issue 14's figures), against music21 as the oracle, in one run.

- Every Bach chorale of music21's corpus (its MusicXML files) loads as a Score and
  engraves: errors, and noteheads in the SVG pages against the notes music21 counts in the
  same (repeat-expanded) MusicXML, tied notes as separate heads;
- MIDI-only: each chorale rendered to MIDI by music21 and engraved back: every Score note
  engraved, and the share of onsets at the bar and beat where the MusicXML put them (plus
  the pickup found against music21's);
- a 200-bar piano piece (Joplin's Maple Leaf Rag, repeats expanded and tiled to 200 bars;
  and the first 200 bars of a performed piano MIDI from shared/corpus) engraved to every
  SVG page, against music21's MusicXML export of the same score (what ``show()`` needs
  before any engraver runs) as the anchor;
- a long score (N bars of eighths, default 2,000): CPU until the first page's SVG, laid
  out whole against in chunks of 128 bars (``--only long --long-bars N``);
- metadata: composers and lyric syllables of the first 50 chorales through a MusicXML
  round trip, and 50 minor or modal ABC tunes of music21's corpus through ABC.

music21's parses are cached under ~/.cache/mos_lab/bench/notation (the first run parses
410 files: minutes). Run: python bench/bench_notation.py [--limit N]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

CACHE = Path(os.environ.get("MOS_LAB_BENCH_CACHE",
                            Path.home() / ".cache" / "mos_lab" / "bench")) / "notation"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "midi" / "one_track"


def chorale_paths() -> list[Path]:
    """The MusicXML files of Bach in music21's corpus (the chorales)."""
    from music21 import corpus

    return sorted(Path(p) for p in corpus.getComposer("bach")
                  if str(p).endswith((".mxl", ".xml", ".musicxml")))


#: Version of the MusicXML reader the cached NVX1 was made with (2: measures and ties;
#: 3: written lengths of unisons, grace notes left out, source voices; 4: merged notes put back;
#: 5: where parts are barred differently, the lines that split the fewest notes).
NVX1_MADE = 5


def _oracle(path: Path) -> dict[str, Any]:
    """What music21 says about one file (cached as JSON): notes, pickup, onsets, MIDI."""
    import music21

    from mos_lab.score import load

    out = CACHE / f"{path.stem}.json"
    if out.exists() and '"bars"' in out.read_text():
        data = dict(json.loads(out.read_text()))
        if data.get("nvx1_made", 0) < NVX1_MADE:  # cached before the reader's last change
            data["nvx1"], data["nvx1_made"] = load(path).to_nvx1(), NVX1_MADE
            out.write_text(json.dumps(data))
        return data
    s = music21.converter.parse(str(path))
    try:
        ex = s.expandRepeats()
        repeats = len(ex.flatten().notes) != len(s.flatten().notes)
    except Exception:
        ex, repeats = s, False
    heads = graces = 0
    onsets = []
    for pi, part in enumerate(ex.parts):
        for mi, m in enumerate(part.getElementsByClass("Measure")):
            for n in m.recurse().notes:
                if n.duration.isGrace:
                    graces += len(n.pitches)
                    continue
                heads += len(n.pitches)
                if n.tie is not None and n.tie.type in ("stop", "continue"):
                    continue
                off = float(n.getOffsetInHierarchy(m))
                onsets += [[pi, mi, off, int(p.midi)] for p in n.pitches]
    bars = sorted({round(float(m.getOffsetInHierarchy(ex.parts[0])), 4)
                   for m in ex.parts[0].getElementsByClass("Measure")})
    first = s.parts[0].getElementsByClass("Measure")[0]
    pickup = float(first.duration.quarterLength) if first.paddingLeft else 0.0
    midi = music21.midi.translate.streamToMidiFile(s).writestr()
    score = load(path)
    data = {"file": path.name, "heads": heads, "graces": graces, "repeats": repeats,
            "pickup": pickup, "bars": bars, "onsets": onsets,
            "midi": base64.b64encode(midi).decode(), "nvx1": score.to_nvx1(),
            "nvx1_made": NVX1_MADE}
    CACHE.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data))
    return data


def part_bars(d: dict[str, Any]) -> list[list[float]]:
    """Each part's bar lines where the parts of ``d``'s file are barred differently (music21
    counts each part in its own bars); computed on demand, then cached with the file."""
    import music21

    if "part_bars" not in d:
        path = next(p for p in chorale_paths() if p.name == d["file"])
        s = music21.converter.parse(str(path))
        with contextlib.suppress(Exception):  # repeats music21 cannot expand
            s = s.expandRepeats()
        d["part_bars"] = [sorted({round(float(m.getOffsetInHierarchy(part)), 4)
                                  for m in part.getElementsByClass("Measure")})
                          for part in s.parts]
        out = CACHE / f"{Path(d['file']).stem}.json"
        out.write_text(json.dumps(d))
    return list(d["part_bars"])


def oracles(paths: list[Path]) -> list[dict[str, Any]]:
    """music21's view of every file, parsed once and then read from the cache."""
    todo = [p for p in paths if not (CACHE / f"{p.stem}.json").exists()
            or '"measures"' not in (CACHE / f"{p.stem}.json").read_text()]
    if todo:
        print(f"parsing {len(todo)} files with music21 (cached in {CACHE}) ...", flush=True)
        with ProcessPoolExecutor(max_workers=2) as pool:
            list(pool.map(_oracle, todo, chunksize=4))
    return [_oracle(p) for p in paths]


def heads_in(pages: list[str]) -> int:
    return sum(svg.count('class="notehead"') for svg in pages)


def engraved_onsets(engraving: Any) -> Counter[tuple[int, int, float, int]]:
    """(part, bar ordinal, quarters into the bar, MIDI) of each engraved note start."""
    from mos_lab.notation.model import UNITS

    pitch = engraving.score.notes["pitch"]
    out: Counter[tuple[int, int, float, int]] = Counter()
    for pi, part in enumerate(engraving.notated.parts):
        for mi, m in enumerate(part.measures):
            for v in m.voices:
                for ev in v.events:
                    for h in ev.heads:
                        if not h.tie_stop:
                            out[(pi, mi, round((ev.start - m.start) / UNITS, 4),
                                 int(pitch[h.note]))] += 1
    return out


def bench_chorales(data: list[dict[str, Any]]) -> None:
    from mos_lab.notation import engrave
    from mos_lab.notation.model import UNITS
    from mos_lab.score import nvx1

    errors, equal, diffs, secs = [], 0, [], []
    same_bars = subset_bars = bars_equal_heads = 0
    ours = theirs = given_equal = 0
    for d in data:
        score = nvx1.from_nvx1(d["nvx1"])
        t = time.perf_counter()
        try:
            e = engrave(score)
            pages = list(e.pages())
            told = list(engrave(score, pickup=round(d["pickup"] * score.tpq)).pages())
        except Exception as exc:
            errors.append(f"{d['file']}: {type(exc).__name__}: {exc}")
            continue
        secs.append(time.perf_counter() - t)
        n = heads_in(pages)
        lines = {round(m.start / UNITS, 4) for m in e.notated.parts[0].measures}
        same = lines == set(d["bars"]) or any(lines == set(b) for b in part_bars(d))
        same_bars += same
        bars_equal_heads += same and n == d["heads"]
        subset_bars += lines < set(d["bars"])
        ours, theirs = ours + n, theirs + d["heads"]
        given_equal += heads_in(told) == d["heads"]
        equal += n == d["heads"]
        if n != d["heads"]:
            diffs.append((d["file"], n, d["heads"]))
    total = len(data)
    print(f"MusicXML chorales: {total} files, {len(errors)} errors, noteheads equal to "
          f"music21's count in {equal}/{total - len(errors)} "
          f"({100 * equal / max(total - len(errors), 1):.1f} %; with music21's pickup given: "
          f"{given_equal}); noteheads in all: {ours} engraved, {theirs} counted by music21 "
          f"({100 * (ours - theirs) / max(theirs, 1):+.2f} %); engrave + all pages twice "
          f"median {1000 * float(np.median(secs)):.0f} ms")
    print(f"  bar lines as music21's (repeats expanded) in {same_bars}/{total} (of them "
          f"{bars_equal_heads} with equal noteheads, the rest voiced or tied differently); "
          f"in {subset_bars} more music21 has bar lines the engraving lacks (a bar split "
          "3 + 1 at a phrase end: the Score keeps the MusicXML's measures)")
    for err in errors[:5]:
        print("  error:", err)
    for f, n, m in diffs[:8]:
        print(f"  {f}: {n} heads engraved, music21 counts {m}")


def in_order(onsets: Counter[tuple[int, int, float, int]] | list[list[Any]]
             ) -> dict[int, list[tuple[float, int]]]:
    """Per part, (quarters into the bar, MIDI) of each onset in bar and time order."""
    rows = sorted(tuple(o) for o in (onsets.elements() if isinstance(onsets, Counter)
                                      else onsets))
    out: dict[int, list[tuple[float, int]]] = {}
    for part, _, off, pitch in rows:
        out.setdefault(int(part), []).append((round(float(off), 4), int(pitch)))
    return out


def same_beats(want: list[list[Any]], got: Counter[tuple[int, int, float, int]]) -> int:
    """Onsets at the same beat of the bar, matched in order (difflib), so a bar that
    music21 splits in two at a repeat shifts no bar number after it."""
    import difflib

    a, b = in_order(want), in_order(got)
    n = 0
    for part, seq in a.items():
        sm = difflib.SequenceMatcher(None, seq, b.get(part, []), autojunk=False)
        n += sum(m.size for m in sm.get_matching_blocks())
    return n


def bench_midi(data: list[dict[str, Any]]) -> None:
    from mos_lab.notation import engrave
    from mos_lab.notation.model import UNITS
    from mos_lab.score import load

    all_notes = complete = 0
    matched = total = given = beats = 0
    pickups_right = 0
    worst: list[tuple[float, str]] = []
    for d in data:
        score = load(base64.b64decode(d["midi"]))
        e = engrave(score)
        told = engrave(score, pickup=round(d["pickup"] * score.tpq))
        svg = "".join(e.pages())
        ids = {f'id="n{i}"' for i in range(score.n_notes)}
        found = sum(1 for i in ids if i in svg)
        all_notes += score.n_notes
        complete += found == score.n_notes
        want = Counter(tuple(o) for o in d["onsets"])
        want = Counter({(k[0], k[1], round(k[2], 4), k[3]): v for k, v in want.items()})
        got = engraved_onsets(e)
        hit = sum((want & got).values())
        on_beat = same_beats(d["onsets"], got)
        beats += on_beat
        given += same_beats(d["onsets"], engraved_onsets(told))
        matched += hit
        total += sum(want.values())
        pickups_right += abs(e.notated.pickup / UNITS - d["pickup"]) < 1e-6
        worst.append((on_beat / max(sum(want.values()), 1), d["file"]))
    n = len(data)
    print(f"MIDI-only chorales (music21 -> MIDI -> engrave): {complete}/{n} with every note "
          f"engraved; onsets on the MusicXML's beat of the bar (in order): "
          f"{100 * beats / total:.1f} % ({beats}/{total}); with music21's pickup given: "
          f"{100 * given / total:.1f} %; also in the same bar number: "
          f"{100 * matched / total:.1f} % (music21 splits bars at repeats); pickup as "
          f"music21's in {pickups_right}/{n}")
    worst.sort()
    print("  lowest:", ", ".join(f"{f} {100 * r:.0f} %" for r, f in worst[:5]))


def _tiled(score: Any, bars: int) -> Any:
    """The score repeated until it has ``bars`` bars of its first meter, cut there."""
    from mos_lab.score import Score

    ts = score.time_signatures[0]
    bar = score.tpq * 4 * ts.numerator // ts.denominator
    length = -(-score.end_tick // bar) * bar
    copies = -(-bars * bar // length)
    notes = np.concatenate([score.notes.copy() for _ in range(copies)])
    for k in range(copies):
        notes["start"][k * score.n_notes:(k + 1) * score.n_notes] += k * length
    notes = notes[notes["start"] < bars * bar]
    return Score(notes, score.tracks, score.tempo, time_signatures=score.time_signatures[:1],
                 key_signatures=score.key_signatures[:1], title=score.title)


def _first_bars(score: Any, bars: int) -> Any:
    ts = score.time_signatures[0]
    bar = score.tpq * 4 * ts.numerator // ts.denominator
    return score.replace(notes=score.notes[score.notes["start"] < bars * bar])


def _time(fn: Any, runs: int = 5) -> float:
    fn()
    return float(np.median([_timed(fn) for _ in range(runs)]))


def _timed(fn: Any) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _cpu(fn: Any, runs: int = 5) -> float:
    """Median CPU seconds of the process (all in this thread: verovio is one thread), which
    a machine shared with other work stretches far less than wall time."""
    def one() -> float:
        t = time.process_time()
        fn()
        return time.process_time() - t
    return float(np.median([one() for _ in range(runs)]))


def bench_piano() -> None:
    import music21

    from mos_lab.notation import engrave
    from mos_lab.score import load
    from mos_lab.score.notation import to_music21

    rag = music21.corpus.parse("joplin/maple_leaf_rag").expandRepeats()
    rag_score = load(music21.midi.translate.streamToMidiFile(rag).writestr())
    pieces = [("Maple Leaf Rag tiled to 200 bars (2/4)", _tiled(rag_score, 200))]
    maestro = SHARED / "Maestro_1.mid"
    if maestro.exists():
        pieces.append(("Maestro_1.mid, first 200 bars (performed)",
                       _first_bars(load(maestro), 200)))
    for name, score in pieces:
        def run(score: Any = score) -> None:
            list(engrave(score).pages())

        def first(score: Any = score) -> None:
            engrave(score).svg(1)

        ours = _time(run)
        shown = _time(first)
        cpu = _cpu(run)
        e = engrave(score)
        anchor_text = ""
        if "Rag" in name:  # music21 takes minutes on the performed piece: anchor once
            stream = to_music21(score)
            from music21.musicxml.m21ToXml import GeneralObjectExporter

            anchor = _time(lambda stream=stream: GeneralObjectExporter(stream).parse(), runs=1)
            anchor_text = (f"; music21's MusicXML export alone {1000 * anchor:.0f} ms "
                           f"(ratio {anchor / ours:.1f}x)")
        print(f"{name}: {score.n_notes} notes, {len(e.notated.parts[0].measures)} bars, "
              f"{e.page_count} pages: engrave + first page {1000 * shown:.0f} ms, + all SVG "
              f"pages {1000 * ours:.0f} ms wall, {1000 * cpu:.0f} ms CPU ("
              f"{'within' if cpu <= 1.0 else 'OVER'} the 1 s target){anchor_text}")


def bench_long(bars: int) -> None:
    """First page of a long score: whole layout against chunks (CPU seconds, one run each)."""
    from mos_lab.notation import engrave
    from mos_lab.score import Score

    score = Score.from_notes([(i * 240, 240, 60 + (i * 7) % 24, 80) for i in range(bars * 8)])
    got: dict[str, Any] = {}

    def first(chunk: int | None) -> None:
        got[str(chunk)] = e = engrave(score, chunk_bars=chunk)
        e.svg(1)

    whole = _cpu(lambda: first(None), runs=1)
    lazy = _cpu(lambda: first(128), runs=1)
    e, w = got["128"], got["None"]
    rest = _cpu(lambda: e.page_count, runs=1)
    print(f"{bars} bars of eighths, {w.page_count} pages whole ({e.page_count} chunked): "
          f"engrave + page 1 {whole:.2f} s CPU laid out whole, {lazy:.2f} s in chunks of 128 "
          f"bars ({whole / lazy:.1f}x; the other {e.chunk_count - 1} chunks {rest:.2f} s)")


def abc_tunes(limit: int) -> list[str]:
    """The first ``limit`` tunes of music21's ABC corpus whose key is minor or modal."""
    import re

    from music21 import corpus

    from mos_lab.score.notation import abc_mode

    out: list[str] = []
    for path in sorted(corpus.getPaths(fileExtensions=("abc",))):
        text = Path(path).read_text(errors="replace")
        for tune in re.split(r"(?m)^(?=X:)", text):
            key = re.search(r"(?m)^K:\s*(.*)$", tune)
            if key and abc_mode(key.group(1)) not in ("", "major"):
                out.append(tune)
                if len(out) == limit:
                    return out
    return out


def bench_metadata(paths: list[Path], limit: int = 50) -> None:
    """Composers and lyrics of chorales through MusicXML, and minor or modal ABC keys
    through ABC, each read, written and read back (music21 reads the sources)."""
    import tempfile

    import music21

    from mos_lab.score import load
    from mos_lab.score.interop import from_music21
    from mos_lab.score.notation import read_abc, write_abc

    kept = composers = sung = sung_kept = 0
    chorales = paths[:limit]
    with tempfile.TemporaryDirectory() as tmp:
        for path in chorales:
            stream = music21.converter.parse(str(path))
            score = from_music21(stream)
            back = load(score.save(Path(tmp) / "c.musicxml"))
            composers += bool(stream.metadata and stream.metadata.composer)
            kept += bool(back.composer) and back.composer == str(stream.metadata.composer)
            syllables = sum(len(n.lyrics) for n in stream.expandRepeats().recurse().notes)
            sung += syllables
            sung_kept += min(len(back.lyrics), syllables)
    tunes = abc_tunes(limit)
    same = 0
    for tune in tunes:
        score = read_abc(tune)
        back = read_abc(write_abc(score))
        want = [(k.key, k.minor, k.mode) for k in score.key_signatures[:1]]
        same += want == [(k.key, k.minor, k.mode) for k in back.key_signatures[:1]]
    print(f"Metadata: composer kept through MusicXML in {kept}/{len(chorales)} chorales "
          f"({composers} name one); lyric syllables read and kept {sung_kept}/{sung}; "
          f"minor or modal ABC keys kept through ABC in {same}/{len(tunes)} tunes of "
          "music21's ABC corpus")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=0, help="only the first N chorales")
    ap.add_argument("--only", choices=["chorales", "midi", "piano", "metadata", "long"],
                    default=None)
    ap.add_argument("--long-bars", type=int, default=2000, help="bars of the long score")
    args = ap.parse_args(argv)
    paths = chorale_paths()
    if args.limit:
        paths = paths[: args.limit]
    if args.only in (None, "piano"):
        bench_piano()
    if args.only in (None, "metadata"):
        bench_metadata(paths)
    if args.only in (None, "long"):
        bench_long(args.long_bars)
    if args.only in ("piano", "metadata", "long"):
        return 0
    data = oracles(paths)
    if args.only in (None, "chorales"):
        bench_chorales(data)
    if args.only in (None, "midi"):
        bench_midi(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
