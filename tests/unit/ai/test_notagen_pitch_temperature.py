"""NotaGen's pitch temperature: note letters and accidentals drawn among themselves at a
temperature of their own, while the mass of that family (whether a pitch comes next at
all, against a length, a rest or a barline) stays what NotaGen's filters give it."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from mos_lab.ai.models import notagen  # noqa: E402
from mos_lab.ai.models.notagen import sampling  # noqa: E402
from mos_lab.ai.models.notagen.checkpoint import CheckpointError, save_checkpoint  # noqa: E402
from mos_lab.ai.models.notagen.sampling import (  # noqa: E402
    PITCH_CHARS,
    Sampling,
    family_probs,
    filter_probs,
)

PITCH = np.array([chr(i) in PITCH_CHARS for i in range(128)])
PROMPT = {"period": "Baroque", "composer": "Bach, Johann Sebastian",
          "instrumentation": "Choral"}


pytestmark = pytest.mark.usefixtures("one_thread")


def _probs(seed: int) -> np.ndarray:
    """A next-character distribution over the 128 codes, pitches and others mixed."""
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.full(128, 0.3))
    return p / p.sum()


@pytest.mark.parametrize("seed", range(5))
def test_the_family_keeps_its_mass_and_only_its_pitches_change(seed: int) -> None:
    p = _probs(seed)
    s = Sampling(top_k=30, top_p=0.95, temperature=1.2, pitch_temperature=0.5)
    f, g = filter_probs(p, s), family_probs(p, s)
    assert g.sum() == pytest.approx(1.0)
    assert g[PITCH].sum() == pytest.approx(f[PITCH].sum())  # a pitch next: NotaGen's odds
    np.testing.assert_allclose(g[~PITCH], f[~PITCH])  # lengths, rests, bars untouched
    assert set(np.flatnonzero(g)) == set(np.flatnonzero(f))  # the same survivors
    kept = PITCH & (f > 0)
    want = p[kept] ** 2  # 1 / 0.5
    np.testing.assert_allclose(g[kept], want / want.sum() * f[kept].sum())


def test_equal_to_the_temperature_is_notagens_sampling() -> None:
    p = _probs(7)
    for pt in (None, 1.2):
        s = Sampling(9, 0.9, 1.2, pt)
        assert not s.by_family
        np.testing.assert_allclose(family_probs(p, s), filter_probs(p, s))
    assert Sampling(9, 0.9, 1.2, 0.7).by_family


def test_pitch_temperature_zero_takes_the_likeliest_pitch() -> None:
    p = np.zeros(128)
    p[[ord("C"), ord("E"), ord("^"), ord("2"), ord(" ")]] = [0.3, 0.2, 0.1, 0.25, 0.15]
    g = family_probs(p, Sampling(0, 1.0, 1.0, pitch_temperature=0))
    assert g[ord("C")] == pytest.approx(0.6) and g[ord("E")] == g[ord("^")] == 0
    assert g[ord("2")] == pytest.approx(0.25) and g[ord(" ")] == pytest.approx(0.15)


def test_draws_follow_the_family_distribution() -> None:
    p = np.zeros(128)
    p[[ord("G"), ord("A"), ord("z"), ord("2")]] = [0.4, 0.2, 0.1, 0.3]
    s = Sampling(0, 1.0, 1.0, pitch_temperature=0.5)
    rng = np.random.default_rng(0)
    got = np.bincount([sampling.choose(p, s, rng) for _ in range(20000)], minlength=128) / 20000
    # G and A keep 0.6 between them, split 0.16 : 0.04 -> 0.48 and 0.12
    np.testing.assert_allclose(got[[ord("G"), ord("A"), ord("z"), ord("2")]],
                               [0.48, 0.12, 0.1, 0.3], atol=0.015)


def test_the_plain_python_path_draws_what_family_probs_gives() -> None:
    """Top-k of 32 or less takes the per-character fast path on the k candidates; it must
    draw as ``family_probs`` over all 128 codes then a draw in the same (likeliest-first)
    order would."""
    rng = np.random.default_rng(1)
    for t in range(1000):
        p = rng.dirichlet(np.ones(128) * rng.choice([0.05, 0.3, 1.0]))
        s = Sampling(int(rng.choice([1, 5, 9, 20])), float(rng.choice([0.5, 0.9, 1])),
                     float(rng.choice([0, 0.7, 1.2])), float(rng.choice([0, 0.3, 0.7, 2.0])))
        cand = np.argpartition(-p, s.top_k - 1)[: s.top_k]
        cand = cand[np.argsort(p[cand])[::-1]]
        want = int(cand[sampling.draw(family_probs(p, s)[cand], np.random.default_rng(t))])
        assert sampling.choose(p, s, np.random.default_rng(t)) == want, (t, s)


def test_a_bad_pitch_temperature_is_refused() -> None:
    with pytest.raises(ValueError, match="pitch_temperature -1"):
        Sampling(pitch_temperature=-1)
    with pytest.raises(ValueError, match="pitch_temperature nan"):
        Sampling(pitch_temperature=float("nan"))


def test_the_shipped_model_draws_pitches_at_its_own_temperature(tmp_path) -> None:
    m = notagen.shipped()
    assert m.sampling == Sampling(top_p=0.93, pitch_temperature=0.4)  # its checkpoint's
    m.save(tmp_path / "w.pth")  # a copy keeps it, also when loaded by path
    assert notagen.load(tmp_path / "w.pth").sampling == m.sampling
    save_checkpoint(m.net, tmp_path / "bare.pth")  # as NotaGen writes: its own sampling
    assert notagen.load(tmp_path / "bare.pth").sampling == Sampling()
    for bad, why in (({"pitch_temperature": -2}, "pitch_temperature -2"),
                     ({"beam": 4}, "beam"), ({"top_k": "9"}, "'9'")):
        save_checkpoint(m.net, tmp_path / "bad.pth", mos_lab={"sampling": bad})
        with pytest.raises(CheckpointError, match=f"bad.pth.*{why}"):
            notagen.load(tmp_path / "bad.pth")
    st = m.stream(**PROMPT, bars=1, seed=0)
    assert st.sampling == Sampling(9, 0.93, 1.2, 0.4)
    assert m.stream(**PROMPT, bars=1, seed=0, temperature=1.0,
                    pitch_temperature=1.0).sampling == Sampling(9, 0.93, 1.0, 1.0)


def test_a_lower_pitch_temperature_writes_the_models_likelier_pitches() -> None:
    """Over the same seeds, bars drawn at pitch temperature 0.3 score a higher mean
    log-probability per pitch character under the model than bars drawn at 1.2."""
    m = notagen.shipped()
    seen: list[tuple[int, float]] = []
    real = sampling.choose

    def spy(probs: np.ndarray, s: Sampling, rng: np.random.Generator) -> int:
        c = real(probs, s, rng)
        seen.append((c, float(np.log(probs[c]))))
        return c

    def mean_pitch_logp(pt: float) -> float:
        seen.clear()
        for seed in range(3):
            m.generate(**PROMPT, bars=4, seed=seed, pitch_temperature=pt, score=False)
        return float(np.mean([lp for c, lp in seen if PITCH[c]]))

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sampling, "choose", spy)
        sharp, flat = mean_pitch_logp(0.3), mean_pitch_logp(1.2)
    assert sharp > flat + 0.1


def test_the_backend_and_the_cli_pass_it_on(tmp_path) -> None:
    from mos_lab.ai.core.types import CancelToken, GenerationRequest
    from mos_lab.ai.models import make_backend
    from mos_lab.cli import main

    b = make_backend()  # the shipped weights, by path
    req = partial(GenerationRequest, prompt="Baroque_Bach, Johann Sebastian_Choral", bars=2,
                  seed=3)
    runs = [b.generate(req(params=params), lambda *a: None, CancelToken()).meta["abc"]
            for params in ({}, {"pitch_temperature": 0.4}, {"pitch_temperature": 1.2})]
    assert runs[0] == runs[1] != runs[2]  # left out: the model's own (0.4)
    out = tmp_path / "p.abc"
    assert main(["generate", "--bars", "2", "--seed", "3", "--pitch-temperature", "0.2",
                 "-o", str(out)]) == 0
    assert out.read_text().count("|") >= 2
