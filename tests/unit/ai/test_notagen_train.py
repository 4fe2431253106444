"""NotaGen training: batched loss equals the per-piece loss, a resumed run equals an
unbroken one, checkpoints and the loss plot, and the music21 data conversion."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from mos_lab.ai.models.notagen import core, data, train  # noqa: E402
from mos_lab.ai.models.notagen.model import NotaGenConfig, NotaGenNet  # noqa: E402

TUNE = ("%Folk\n%Traditional\n%Voice\nL:1/8\nM:4/4\nV:1\nV:2\nK:G\n"
        "[V:1]GABc d2B2|[V:2]G,4 D,4|\n[V:1]c2A2 F4|[V:2]A,4 D,4|\n"
        "[V:1]BAGF E4|[V:2]G,4 B,4|\n[V:1]c2A2 G4|][V:2]G,8|]\n")
SHORT = "%Folk\nL:1/8\nM:2/4\nV:1\nK:D\n[V:1]DF A2|\n[V:1]d4|]\n"
TINY = NotaGenConfig(hidden=64, patch_layers=1, char_layers=1, patch_length=32)


pytestmark = pytest.mark.usefixtures("one_thread")


def test_batched_loss_is_the_per_character_mean_over_pieces() -> None:
    torch.manual_seed(0)
    net = NotaGenNet(TINY).eval()
    a, b = train.encode_train(TUNE), train.encode_train(SHORT)
    pad = [[0] * 16] * (len(a) - len(b))
    with torch.no_grad():
        both = float(train.batch_loss(net, torch.tensor([a, b + pad])))
        la, lb = (float(train.loss(net, torch.tensor([p]))) for p in (a, b))
    na = sum(c != 0 for p in a[1:] for c in p)
    nb = sum(c != 0 for p in b[1:] for c in p)
    assert both == pytest.approx((la * na + lb * nb) / (na + nb), rel=1e-5)


def test_a_resumed_run_equals_an_unbroken_one(tmp_path: Path) -> None:
    def cfg(out: str, steps: int) -> train.TrainConfig:
        return train.TrainConfig(out=str(tmp_path / out), model=TINY, steps=steps, lr=5e-3,
                                 warmup=2, checkpoint_every=2, batch_patches=40, seed=3)

    whole = train.run(cfg("a", 6), [TUNE, SHORT], [SHORT])
    part = train.run(cfg("b", 6), [TUNE, SHORT], [SHORT], time_limit=0.0)
    assert part.stopped == "time" and part.step == 0
    def interrupt(st: train.TrainState) -> None:
        if st.step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # killed after step 3: last.pth holds step 2
        train.run(cfg("b", 6), [TUNE, SHORT], [SHORT], progress=interrupt)
    part = train.run(cfg("b", 6), [TUNE, SHORT], [SHORT])
    assert part.step == 6 and part.losses == whole.losses
    assert whole.losses[-1] < whole.losses[0]
    wa, wb = (torch.load(tmp_path / d / "last.pth", weights_only=True)["model"]
              for d in "ab")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert [s for s, _ in whole.evals] == [2, 4, 6]
    loaded = core.load(tmp_path / "a" / "best.pth")  # best.pth is a plain NotaGen checkpoint
    c = loaded.config
    assert (c.hidden, c.patch_layers, c.char_layers, c.patch_length) == (64, 1, 1, 32)
    png = train.plot_losses(whole, tmp_path / "loss.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="other sizes"):
        train.run(train.TrainConfig(out=str(tmp_path / "a"), model=NotaGenConfig(
            hidden=64, patch_layers=2, char_layers=1, patch_length=32), steps=8), [TUNE])


def test_a_memorised_tune_is_generated_back_bar_by_bar(tmp_path: Path) -> None:
    cfg = train.TrainConfig(out=str(tmp_path), model=TINY, steps=80, lr=1e-2, warmup=5,
                            checkpoint_every=80, batch_patches=64)
    train.run(cfg, [TUNE])
    m = core.load(tmp_path / "last.pth")
    g = m.generate(period="Folk", composer="Traditional", instrumentation="Voice", bars=4,
                   seed=1, temperature=0.3)
    assert g.stopped == "bars" and len(g.bars) == 4
    body = [ln + "\n" for ln in TUNE.split("\n") if ln.startswith("[V:")]
    assert g.bars == [f"[r:{i}/{3 - i}]{ln}" for i, ln in enumerate(body)]
    assert g.score is not None and len(g.score.tracks) == 2


def test_abc_tunes_close_every_bar_and_the_split_is_stable() -> None:
    text = "X:1\nT:a\nM:2/4\nL:1/8\nK:G\nGA Bc | d4\nBA \\\nG2 |]\n\nX:2\nT:b\nK:D\nd4\n"
    tunes = list(data.abc_tunes(text))
    assert tunes[0].endswith("K:G\nGA Bc | d4 |\nBA\nG2 |]\n")
    assert tunes[1].endswith("K:D\nd4 |\n")
    text = data._prompted("essen", tunes[0])
    assert text.startswith("%Folk\n%Traditional\n%Voice\n")
    assert "[V:1]GA Bc |\n[V:1]d4 |\n[V:1]BA G2 |]\n" in text
    names = [f"essen/x/{i}" for i in range(400)]
    held = [data.Piece(n, "essen", "").held_out for n in names]
    assert 20 < sum(held) < 60 and held == [data.Piece(n, "essen", "").held_out for n in names]
    with pytest.raises(ValueError, match="unknown sources"):
        next(data.music21_pieces(("nope",)))
