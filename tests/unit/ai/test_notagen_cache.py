"""NotaGen's CPU cache path: the numpy StepDecoder equals GPT-2's forward, the sampling
filters in plain Python equal numpy's, and cached generation writes the uncached text."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from mos_lab.ai.models import notagen  # noqa: E402
from mos_lab.ai.models.notagen import sampling  # noqa: E402
from mos_lab.ai.models.notagen.model import NotaGenConfig, StepDecoder  # noqa: E402

CFG = NotaGenConfig(hidden=128, patch_layers=2, char_layers=2, patch_length=24)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def model() -> notagen.NotaGen:
    m = notagen.random(CFG, seed=2)
    with torch.no_grad():  # layer norms and biases away from 1/0, so they count
        for name, p in m.net.named_parameters():
            if ".ln_" in name or name.endswith("bias"):
                p.add_(0.2 * torch.randn_like(p))
    return m


@pytest.mark.parametrize("level", ["patch", "char"])
def test_step_decoder_equals_the_forward_pass(model: notagen.NotaGen, level: str) -> None:
    gpt = (model.net.patch_level_decoder.base if level == "patch"
           else model.net.char_level_decoder.base.transformer)
    torch.manual_seed(0)
    x = torch.randn(1, 12, 128)
    with torch.no_grad():
        want, cache = gpt(x)
        st = StepDecoder(gpt, 24)
        got = np.stack([st.step(x[0, i].numpy()) for i in range(12)])
        np.testing.assert_allclose(got, want[0].numpy(), atol=2e-5, rtol=0)
        st.load([(k[:, :, :7], v[:, :, :7]) for k, v in cache])  # a torch cache, cut back
        np.testing.assert_allclose(st.step(x[0, 7].numpy()), want[0, 7].numpy(), atol=2e-5)
        st.n = st.capacity
        with pytest.raises(ValueError, match=f"more than the decoder's {st.capacity}"):
            st.step(x[0, 0].numpy())


def test_plain_python_filters_draw_what_numpy_draws() -> None:
    rng = np.random.default_rng(0)
    for t in range(1000):
        p = rng.dirichlet(np.ones(128) * rng.choice([0.05, 0.3, 1.0])).astype(np.float32)
        s = sampling.Sampling(int(rng.choice([1, 5, 9, 20])), float(rng.choice([0.5, 0.9, 1])),
                              float(rng.choice([0, 0.7, 1.0, 1.2])))
        cand = np.argpartition(-p.astype(np.float64), s.top_k - 1)[: s.top_k]
        order = np.argsort(p[cand].astype(np.float64))[::-1]
        cand = cand[order]
        q = sampling.filter_probs(p[cand], sampling.Sampling(0, s.top_p, s.temperature))
        want = int(cand[sampling.draw(q, np.random.default_rng(t))])
        assert sampling.choose(p, s, np.random.default_rng(t)) == want


def test_cached_and_uncached_generation_write_the_same_text(model: notagen.NotaGen) -> None:
    head = "%Baroque\n%Bach, Johann Sebastian\n%Choral\nL:1/8\nM:4/4\nK:G\nV:1\nV:2\n"
    bar = "[V:1]GABc d2 B2|[V:2]G,4 D,4|\n"  # 3 patches: 5 bars and the header fill 24
    prompt = head + bar * 5
    runs = [model.stream(prompt, seed=4, use_cache=cache, max_chars=len(prompt) + 300,
                         temperature=1.0) for cache in (True, False)]
    for st in runs:
        list(st)
    assert runs[0].chars > 150 and runs[0].cuts > 0  # the context was cut and rebuilt
    assert runs[0].text == runs[1].text and runs[0].stopped == runs[1].stopped


def test_no_end_keeps_the_end_patch_from_being_drawn(model: notagen.NotaGen) -> None:
    from mos_lab.ai.models.notagen import patchilizer as P

    gpt = model.net.char_level_decoder.base.transformer
    saved = {k: v.clone() for k, v in gpt.state_dict().items()}
    with torch.no_grad():  # a network that wants to end: every final state is u, BOS . u = 50
        u = torch.randn(128)
        gpt.ln_f.weight.zero_()
        gpt.ln_f.bias.copy_(u)
        gpt.wte.weight[P.BOS] = 50 * u / u.dot(u)
    try:
        first = torch.zeros(1, 128)
        s = sampling.Sampling(9, 0.9, 1.0)
        for cache in (True, False):
            assert sampling.sample_patch(model.net, first, [], s, np.random.default_rng(0),
                                         cache)[0] == P.BOS
            assert sampling.sample_patch(model.net, first, [], s, np.random.default_rng(0),
                                         cache, no_end=True)[0] != P.BOS
    finally:
        gpt.load_state_dict(saved)
