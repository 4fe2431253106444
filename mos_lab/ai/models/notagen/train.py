"""Training NotaGen's network on interleaved ABC: the patches and loss of NotaGen's training.

``encode_train`` is its Patchilizer in train mode (stream prefixes ``[r:i/j]`` on every
tune-body line, every bar closed with EOS, the end patch last); ``loss`` is its forward:
the patch decoder's hidden state of patch i is the first position of the character
decoder, which predicts the characters of patch i+1 (pad ignored). ``run`` is a whole
training run (padded batches, AdamW with warm-up and cosine decay, checkpoints, exact
resume, held-out loss) and ``plot_losses`` its loss curve.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from mos_lab.ai.models.notagen import patchilizer as P
from mos_lab.ai.models.notagen.checkpoint import (
    build,
    check_state_dict,
    read_state_dict,
    save_checkpoint,
)
from mos_lab.ai.models.notagen.model import NotaGenConfig, NotaGenNet


def encode_train(text: str, patch_size: int = P.PATCH_SIZE, stream: bool = True
                 ) -> list[list[int]]:
    """Patches of a whole piece as NotaGen trains on it (BOS patch first, end patch last)."""
    P.check_text(text)
    lines = [ln + "\n" for ln in text.split("\n") if ln]
    index = next((i for i, ln in enumerate(lines) if "[V:" in ln), len(lines))
    header, body = lines[:index], lines[index:]
    if stream:
        body = [f"[r:{i}/{len(body) - i - 1}]{ln}" for i, ln in enumerate(body)]
    patches = [p for ln in header for p in P.split_patches(ln, patch_size)]
    patches += [p for bar in P.split_bars(body) for p in P.split_patches(bar, patch_size)]
    ids = [[ord(c) for c in p] + [P.PAD] * (patch_size - len(p)) for p in patches]
    return [P.bos_patch(patch_size), *ids, P.end_patch(patch_size)]


def loss(net: NotaGenNet, patches: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of every character after the first patch; ``patches`` is
    (1, n, patch_size) codes."""
    h, _ = net.patch_level_decoder(patches)
    targets = patches[0, 1:]  # (n-1, size)
    lm = net.char_level_decoder.base
    x = torch.cat((h[0, :-1, None, :], lm.transformer.wte(targets[:, :-1])), dim=1)
    out, _ = lm.transformer(x)
    logits = lm.lm_head(out)  # (n-1, size, 128): position j predicts character j
    labels = targets.masked_fill(targets == P.PAD, -100)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                           ignore_index=-100)


def fit(net: NotaGenNet, texts: list[str], steps: int, lr: float = 3e-3, seed: int = 0
        ) -> list[float]:
    """A plain Adam loop over ``texts`` (one piece a step, cut to the context): the losses."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    data = [torch.tensor([encode_train(t, net.config.patch_size)[: net.config.patch_length]])
            for t in texts]
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    net.train()
    losses = []
    for _ in range(steps):
        batch = data[int(torch.randint(len(data), (1,), generator=gen))]
        value = loss(net, batch)
        opt.zero_grad()
        value.backward()
        opt.step()
        losses.append(float(value.detach()))
    net.eval()
    return losses


def batch_loss(net: NotaGenNet, patches: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over a padded batch (``patches`` (batch, n, size); pieces shorter
    than n end in all-pad patches, which are skipped)."""
    h, _ = net.patch_level_decoder(patches)
    targets = patches[:, 1:]  # (b, n-1, size)
    keep = (targets != P.PAD).any(dim=-1)  # (b, n-1): a real patch to predict
    first, targets = h[:, :-1][keep], targets[keep]  # (m, hidden), (m, size)
    lm = net.char_level_decoder.base
    x = torch.cat((first[:, None, :], lm.transformer.wte(targets[:, :-1])), dim=1)
    out, _ = lm.transformer(x)
    logits = lm.lm_head(out)
    labels = targets.masked_fill(targets == P.PAD, -100)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                           ignore_index=-100)


@dataclass
class TrainConfig:
    """One training run: sizes, steps, batch, schedule, seed and where checkpoints go."""

    out: str
    model: NotaGenConfig = field(default_factory=lambda: NotaGenConfig(
        hidden=128, patch_layers=6, char_layers=2, patch_length=256))
    steps: int = 2000
    batch_patches: int = 256
    lr: float = 2e-3
    warmup: int = 100
    weight_decay: float = 0.01
    seed: int = 0
    checkpoint_every: int = 100
    eval_pieces: int = 16
    #: recorded in every checkpoint (``checkpoint.TRAITS``): what the data is like
    traits: dict[str, bool] = field(default_factory=dict)


@dataclass
class TrainState:
    """Where a run stands: the step reached, the losses so far, the checkpoint paths."""

    step: int = 0
    losses: list[float] = field(default_factory=list)
    evals: list[tuple[int, float]] = field(default_factory=list)
    stopped: str = ""
    last: Path | None = None
    best: Path | None = None


def _lr(cfg: TrainConfig, step: int) -> float:
    """Linear warm-up (at most a tenth of the run), then cosine decay to a tenth."""
    warmup = max(1, min(cfg.warmup, cfg.steps // 10))
    if step < warmup:
        return cfg.lr * (step + 1) / warmup
    t = (step - warmup) / max(1, cfg.steps - warmup)
    return cfg.lr * (0.1 + 0.45 * (1 + math.cos(math.pi * min(t, 1.0))))


def _batch(data: list[list[list[int]]], budget: int, gen: torch.Generator,
           size: int) -> torch.Tensor:
    """Random pieces until the padded batch would pass ``budget`` patches (one at least)."""
    order = torch.randperm(len(data), generator=gen).tolist()
    picked: list[list[list[int]]] = []
    longest = 0
    for i in order:
        n = max(longest, len(data[i]))
        if picked and n * (len(picked) + 1) > budget:
            break
        picked.append(data[i])
        longest = n
    pad = [P.PAD] * size
    return torch.tensor([p + [pad] * (longest - len(p)) for p in picked], dtype=torch.long)


@torch.no_grad()
def evaluate(net: NotaGenNet, data: list[list[list[int]]]) -> float:
    """Mean loss over ``data`` pieces (one at a time), the network left in eval mode."""
    net.eval()
    if not data:
        return float("nan")
    return sum(float(loss(net, torch.tensor([d]))) for d in data) / len(data)


def run(cfg: TrainConfig, texts: list[str], held_out: list[str] | None = None, *,
        resume: bool = True, time_limit: float | None = None,
        progress: Callable[[TrainState], None] | None = None,
        init: str | os.PathLike[str] | None = None) -> TrainState:
    """Train a NotaGen network on ``texts`` (interleaved ABC) for ``cfg.steps`` steps,
    writing ``last.pth`` (weights, optimizer, step, losses) every ``checkpoint_every``
    steps and ``best.pth`` (weights only) on the best held-out loss; with ``resume`` a
    run picks up from ``last.pth`` and continues exactly as it would have (each step's
    batch is drawn from ``seed + step``). A run that does not resume starts from the
    weights of checkpoint ``init`` when given (a fine-tune; same sizes as ``cfg.model``)."""
    if not texts:
        raise ValueError("notagen train: no training texts")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    size, length = cfg.model.patch_size, cfg.model.patch_length
    data = [encode_train(t, size)[:length] for t in texts]
    evald = [encode_train(t, size)[:length] for t in (held_out or [])[: cfg.eval_pieces]]
    torch.manual_seed(cfg.seed)
    net = NotaGenNet(cfg.model)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    state = TrainState()
    last = out / "last.pth"
    if resume and last.exists():
        saved = torch.load(last, map_location="cpu", weights_only=True)
        if NotaGenConfig(**saved["config"]) != cfg.model:
            raise ValueError(f"notagen train: {last} is a model of other sizes "
                             f"({saved['config']}); use another folder or no resume")
        net.load_state_dict(saved["model"])
        opt.load_state_dict(saved["optimizer"])
        state.step, state.losses = int(saved["step"]), list(saved["losses"])
        state.evals = [(int(s), float(v)) for s, v in saved["evals"]]
        state.last = last
    elif init is not None:
        start = read_state_dict(init)
        check_state_dict(net, start)
        net.load_state_dict(build(start).state_dict())
    best = min((v for _, v in state.evals), default=math.inf)
    t0 = time.monotonic()

    def save() -> None:
        nonlocal best
        ev = evaluate(net, evald)
        state.evals.append((state.step, ev))
        save_checkpoint(net, last, optimizer=opt.state_dict(), step=state.step,
                        losses=state.losses, evals=state.evals, config=asdict(cfg.model),
                        mos_lab=dict(cfg.traits))
        state.last = last
        if not evald or ev < best:
            best = ev
            state.best = save_checkpoint(net, out / "best.pth", mos_lab=dict(cfg.traits))

    while state.step < cfg.steps:
        if time_limit is not None and time.monotonic() - t0 > time_limit:
            state.stopped = "time"
            break
        net.train()
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + state.step)
        batch = _batch(data, cfg.batch_patches, gen, size)
        for g in opt.param_groups:
            g["lr"] = _lr(cfg, state.step)
        value = batch_loss(net, batch)
        opt.zero_grad()
        value.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        state.losses.append(float(value.detach()))
        state.step += 1
        if state.step % cfg.checkpoint_every == 0 or state.step == cfg.steps:
            save()
        if progress is not None:
            progress(state)
    if state.stopped == "time" and (not state.evals or state.evals[-1][0] != state.step):
        save()
    state.stopped = state.stopped or "steps"
    net.eval()
    return state


def plot_losses(state: TrainState, path: str | os.PathLike[str]) -> Path:
    """The training loss (raw and smoothed) and the held-out loss, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    steps = range(1, len(state.losses) + 1)
    ax.plot(steps, state.losses, color="0.75", lw=0.6, label="train (step)")
    k = max(1, len(state.losses) // 50)
    if len(state.losses) >= k:
        sm = [sum(state.losses[max(0, i - k + 1): i + 1]) / len(state.losses[max(0, i - k + 1)
              : i + 1]) for i in range(len(state.losses))]
        ax.plot(steps, sm, color="C0", label=f"train (mean of {k})")
    if state.evals:
        ax.plot([s for s, _ in state.evals], [v for _, v in state.evals], "o-", color="C1",
                label="held out")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy per character (nats)")
    ax.set_title("NotaGen training loss")
    ax.legend()
    fig.tight_layout()
    p = Path(path)
    fig.savefig(p, dpi=100)
    plt.close(fig)
    return p
