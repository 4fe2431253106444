"""``mos-lab train`` and ``mos-lab generate``: NotaGen trained on ABC, and pieces generated.

``train`` fits NotaGen's architecture to interleaved ABC (files, folders, or music21's
corpus with ``--music21``), with a progress bar, checkpoints every N steps, resume from
the output folder, a fixed seed and the loss curve as ``loss.png``. ``generate`` writes a
piece from the shipped NotaGen model (the default), a checkpoint, or the Markov chain,
as ABC, MIDI or MusicXML. Both need the ``ai`` extra (torch).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mos_lab.cli.errors import EXIT_OK, CliError, output_file, writing
from mos_lab.cli.progress import ProgressBar

OUTPUTS = (".abc", ".mid", ".midi", ".musicxml", ".xml", ".mxl")


def register(sub: Any) -> None:
    """Add ``train`` and ``generate`` to the ``mos-lab`` parser."""
    t = sub.add_parser("train", help="train NotaGen's architecture on interleaved ABC",
                       description="Train a NotaGen model on ABC files or folders (or "
                                   "music21's corpus with --music21); writes last.pth "
                                   "(resumable), best.pth and loss.png into --output.")
    t.add_argument("data", nargs="*", help="ABC files or folders (*.abc, read recursively)")
    t.add_argument("-o", "--output", required=True, help="folder for checkpoints and plots")
    t.add_argument("--music21", nargs="?", const="chorales,essen,ryans", default=None,
                   metavar="SOURCES", help="convert music21's corpus (chorales,essen,ryans) "
                   "into OUTPUT/data and train on it")
    t.add_argument("--limit", type=int, default=None,
                   help="with --music21: at most this many pieces per source")
    t.add_argument("--normalize-keys", action="store_true",
                   help="with --music21: write every piece without sharps or flats (majors "
                   "in C, minors in A), as the shipped model was trained; generation then "
                   "moves its pieces to the key asked for")
    t.add_argument("--held-out", nargs="*", default=None,
                   help="ABC files or folders for the held-out loss")
    t.add_argument("--init", default=None, metavar="WEIGHTS",
                   help="start from this checkpoint (a fine-tune; the model's sizes are "
                   "read from it, --hidden and the other sizes are not used)")
    t.add_argument("--steps", type=int, default=2000)
    t.add_argument("--hidden", type=int, default=128)
    t.add_argument("--patch-layers", type=int, default=6)
    t.add_argument("--char-layers", type=int, default=2)
    t.add_argument("--patch-length", type=int, default=256)
    t.add_argument("--batch-patches", type=int, default=256,
                   help="patches per step (pieces are padded to the longest)")
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--checkpoint-every", type=int, default=100)
    t.add_argument("--minutes", type=float, default=None,
                   help="stop (with a checkpoint) after this much wall time")
    t.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    t.add_argument("--no-resume", action="store_true",
                   help="start afresh even if OUTPUT/last.pth exists")
    t.set_defaults(run=train)

    g = sub.add_parser("generate", help="generate a piece (NotaGen or the Markov chain)",
                       description="Generate a piece and write it as ABC, MIDI or MusicXML. "
                                   "--model notagen (the shipped model, default), markov, "
                                   "or a NotaGen checkpoint (.pth or a folder).")
    g.add_argument("-o", "--output", required=True, help="OUT.abc, .mid or .musicxml")
    g.add_argument("--model", default="notagen", help="notagen, markov or a checkpoint path")
    g.add_argument("--prompt", default="", help="NotaGen-X's 'period_composer_"
                   "instrumentation' (e.g. 'Baroque_Bach, Johann Sebastian_Choral')")
    g.add_argument("--period", default=None)
    g.add_argument("--composer", default=None)
    g.add_argument("--instrumentation", default=None)
    g.add_argument("--abc", default=None, help="an ABC file to continue (NotaGen)")
    g.add_argument("--bars", type=int, default=16)
    g.add_argument("--seed", type=int, default=None)
    g.add_argument("--top-k", type=int, default=None,
                   help="NotaGen (default: what the checkpoint records, else NotaGen's 9)")
    g.add_argument("--top-p", type=float, default=None,
                   help="NotaGen (default: as --top-k; the shipped model records 0.93, else 0.9)")
    g.add_argument("--temperature", type=float, default=None,
                   help="default: as --top-k (NotaGen's 1.2); the Markov chain's 1.0")
    g.add_argument("--pitch-temperature", type=float, default=None,
                   help="NotaGen: the temperature among note letters and accidentals "
                   "(default: as --top-k; the shipped model records 0.4, else --temperature)")
    g.add_argument("--key", default=None,
                   help="the key (Markov: default C major; NotaGen: the piece is moved to "
                   "this key's signature, default as the model wrote it)")
    g.add_argument("--time-limit", type=float, default=None, help="seconds; keeps what was made")
    g.set_defaults(run=generate)


def _torch() -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise CliError("this command needs torch: pip install 'mos_lab[ai]'") from None


def _texts(paths: list[str], what: str) -> list[str]:
    from mos_lab.ai.models.notagen.data import read_texts

    try:
        return read_texts(list(paths))
    except (FileNotFoundError, UnicodeDecodeError, ValueError) as exc:
        raise CliError(f"{what}: {exc}") from None


def train(args: argparse.Namespace) -> int:
    """Train, checkpointing and resuming in ``--output``; plot the losses; print a summary."""
    _torch()
    import torch

    from mos_lab.ai.models.notagen import data as D
    from mos_lab.ai.models.notagen.model import NotaGenConfig
    from mos_lab.ai.models.notagen.train import TrainConfig, TrainState, plot_losses, run

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    for name in ("steps", "hidden", "patch_layers", "char_layers", "patch_length",
                 "batch_patches", "checkpoint_every"):
        if getattr(args, name) < 1:
            raise CliError(f"--{name.replace('_', '-')} must be at least 1")
    if args.hidden % max(1, args.hidden // 64):
        raise CliError(f"--hidden {args.hidden}: NotaGen's heads are hidden // 64, and "
                       "they must divide it (use a multiple of 64)")
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise CliError(f"output: {out} is a file, not a folder")
    out.mkdir(parents=True, exist_ok=True)
    paths, held = list(args.data), args.held_out
    traits: dict[str, bool] = {}
    if args.normalize_keys and args.music21 is None:
        raise CliError("--normalize-keys converts music21's corpus itself: give --music21")
    if args.music21 is not None:
        traits = {"every_voice": True, "key_normalized": args.normalize_keys}
        folder = out / ("data-normalized" if args.normalize_keys else "data")
        if not (folder / "train").is_dir():
            sources = tuple(s.strip() for s in args.music21.split(",") if s.strip())
            errors: list[str] = []
            try:
                n = D.write_pieces(D.music21_pieces(sources, args.limit,
                                                    lambda name, e: errors.append(name),
                                                    normalize=args.normalize_keys), folder)
            except (ImportError, ValueError) as exc:
                raise CliError(str(exc)) from None
            print(f"music21 corpus: {n} pieces -> {folder} ({len(errors)} skipped)",
                  file=sys.stderr)
        paths.append(str(folder / "train"))
        if held is None and (folder / "heldout").is_dir():
            held = [str(folder / "heldout")]
    if not paths:
        raise CliError("give ABC files or folders to train on, or --music21")
    texts = _texts(paths, "data")
    held_texts = _texts(held, "held-out") if held else []
    sizes = NotaGenConfig(hidden=args.hidden, patch_layers=args.patch_layers,
                          char_layers=args.char_layers, patch_length=args.patch_length)
    if args.init is not None:
        from mos_lab.ai.models.notagen.checkpoint import (
            CheckpointError,
            infer_config,
            read_state_dict,
        )

        try:
            sizes = infer_config(read_state_dict(args.init))
        except (FileNotFoundError, CheckpointError) as exc:
            raise CliError(f"--init: {exc}") from None
    cfg = TrainConfig(out=str(out), model=sizes, steps=args.steps, batch_patches=args.batch_patches,
        lr=args.lr, seed=args.seed, checkpoint_every=args.checkpoint_every, traits=traits)
    bar = ProgressBar("train")
    logged = [0]

    def progress(st: TrainState) -> None:
        recent = st.losses[-20:]
        bar(st.step / cfg.steps, f"step {st.step}/{cfg.steps} loss "
                                 f"{sum(recent) / len(recent):.3f}")
        if st.evals and st.evals[-1][0] == st.step and st.step != logged[0]:
            logged[0] = st.step
            if not bar.enabled:
                print(f"step {st.step}/{cfg.steps}: train {sum(recent) / len(recent):.4f}, "
                      f"held out {st.evals[-1][1]:.4f}", file=sys.stderr, flush=True)

    try:
        state = run(cfg, texts, held_texts, resume=not args.no_resume,
                    time_limit=None if args.minutes is None else 60 * args.minutes,
                    progress=progress, init=args.init)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    finally:
        bar.close()
    png = plot_losses(state, out / "loss.png")
    last = state.losses[-20:]
    print(f"{state.step}/{cfg.steps} steps ({state.stopped}) on {len(texts)} pieces, "
          f"loss {sum(last) / max(1, len(last)):.4f}"
          + (f", held out {state.evals[-1][1]:.4f}" if state.evals and held_texts else "")
          + f" -> {state.last}, {png}", file=sys.stderr)
    return EXIT_OK


def _prompt(args: argparse.Namespace) -> dict[str, str | None]:
    from mos_lab.ai.models.notagen.backend import prompt_fields

    fields: dict[str, str | None] = {"period": None, "composer": None,
                                     "instrumentation": None}
    if args.prompt:
        parsed = prompt_fields(args.prompt)
        if not parsed:
            raise CliError(f"--prompt {args.prompt!r}: expected 'period_composer_"
                           "instrumentation', e.g. 'Baroque_Bach, Johann Sebastian_Choral'")
        fields.update(parsed)
    for name in fields:
        if getattr(args, name):
            fields[name] = getattr(args, name)
    return fields


def generate(args: argparse.Namespace) -> int:
    """Generate ``--bars`` bars with the chosen model and write them by ``-o``'s extension."""
    out = output_file(args.output, OUTPUTS, "a generated piece")
    if args.bars < 1:
        raise CliError(f"--bars {args.bars} must be at least 1")
    if args.model == "markov":
        return _generate_markov(args, out)
    _torch()
    from mos_lab.ai.models import notagen
    from mos_lab.ai.models.notagen.checkpoint import CheckpointError

    try:
        model = notagen.shipped() if args.model == "notagen" else notagen.load(args.model)
    except (FileNotFoundError, CheckpointError) as exc:
        raise CliError(str(exc)) from None
    from mos_lab.ai.models.notagen.keys import to_signature

    sharps: int | None = None
    minor: bool | None = None
    if args.key is not None:
        from mos_lab.ai.core.validate import request_key

        try:
            key = request_key(args.key)
        except ValueError as exc:
            raise CliError(f"--key: {exc}") from None
        sharps, minor = key.sharps, key.mode == "minor"
    head = model.header_check(minor, continuing=bool(args.abc))
    abc = ""
    if args.abc:
        try:
            abc = Path(args.abc).read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"--abc {args.abc}: {exc}") from None
    bar = ProgressBar("generate")
    try:
        fields = _prompt(args)
        st = model.stream(abc, period=fields["period"], composer=fields["composer"],
                          instrumentation=fields["instrumentation"], bars=args.bars, seed=args.seed,
                          check_head=head,
                          top_k=args.top_k, top_p=args.top_p, temperature=args.temperature,
                          pitch_temperature=args.pitch_temperature,
                          time_limit=args.time_limit)
        for n, _ in enumerate(st, 1):
            bar(n / args.bars, f"bar {n}/{args.bars}")
    except ValueError as exc:
        raise CliError(str(exc)) from None
    finally:
        bar.close()
    if not st.bars:
        raise CliError(f"no bar was generated ({st.stopped})")
    from mos_lab.ai.models.notagen.abc import playable, to_score

    with writing(out):
        if out.suffix.lower() == ".abc" and sharps is None:
            out.write_text(playable(st.text), encoding="ascii")
        else:
            try:
                score = to_score(st.text)
            except ValueError as exc:
                raise CliError(f"the generated ABC does not read as a score: {exc}") from None
            if sharps is not None:
                score = to_signature(score, sharps)
            score.save(out)
    print(f"{len(st.bars)} bars ({st.stopped}, {st.rejected} resampled, seed {args.seed}) "
          f"-> {out}", file=sys.stderr)
    return EXIT_OK


def _generate_markov(args: argparse.Namespace, out: Path) -> int:
    from mos_lab.ai.core.types import CancelToken, GenerationRequest
    from mos_lab.ai.models import make_backend

    try:
        req = GenerationRequest(prompt=args.prompt, key=args.key or "C major", bars=args.bars,
                                seed=args.seed, params={} if args.temperature is None else
                                {"temperature": args.temperature})
        result = make_backend("markov").generate(req, lambda *a: None, CancelToken())
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if result.score is None:
        raise CliError("the Markov chain made no score")
    with writing(out):
        result.score.save(out)
    print(f"{args.bars} bars (markov, seed {args.seed}) -> {out}", file=sys.stderr)
    return EXIT_OK
