"""NotaGen's network on tiny random weights: loading, shape errors, the probabilities
against transformers' GPT-2 computed plainly, caches against no caches, seeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from mos_lab.ai.models import notagen  # noqa: E402
from mos_lab.ai.models.notagen import patchilizer as P  # noqa: E402
from mos_lab.ai.models.notagen import sampling  # noqa: E402
from mos_lab.ai.models.notagen.model import NotaGenConfig  # noqa: E402

CFG = NotaGenConfig(hidden=128, patch_layers=2, char_layers=1, patch_length=24)
HEAD = "%Baroque\n%Bach, Johann Sebastian\n%Choral\nL:1/8\nM:4/4\nK:G\nV:1 treble\nV:2 bass\n"
BODY = ("[r:0/2][V:1]GABc d2 B2|[V:2]G,4 D,4|\n[r:1/1][V:1]c2 A2 B2 G2|[V:2]C,4 G,4|\n"
        "[r:2/0][V:1]G8|][V:2]G,8|]\n")
TEXTS = ["", HEAD, HEAD + BODY[:9], HEAD + BODY[:40], HEAD + BODY, HEAD + BODY[:-3]]


@pytest.fixture(scope="module")
def model() -> notagen.NotaGen:
    m = notagen.random(CFG, seed=1)
    with torch.no_grad():  # layer norms away from 1/0, so they are tested too
        for name, p in m.net.named_parameters():
            if ".ln_" in name:
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.2 * torch.randn_like(p))
    return m


@pytest.fixture(scope="module")
def ckpt(model: notagen.NotaGen, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ng") / "weights_tiny.pth"
    torch.save({"model": model.net.state_dict(), "epoch": 3}, path)  # NotaGen's layout
    return path


def plain_probs(state: dict, cfg: NotaGenConfig, text: str) -> np.ndarray:
    """The next-character probabilities computed straightforwardly with transformers'
    GPT2Model and GPT2LMHeadModel, as NotaGen's code builds them."""
    common = dict(n_embd=cfg.hidden, n_head=cfg.hidden // 64, activation_function="gelu_new",
                  resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                  bos_token_id=None, eos_token_id=None)
    pcfg = transformers.GPT2Config(n_layer=cfg.patch_layers, n_positions=cfg.patch_length,
                                   vocab_size=1, **common)
    ccfg = transformers.GPT2Config(n_layer=cfg.char_layers, n_positions=cfg.patch_size + 1,
                                   vocab_size=128, **common)
    patch_gpt = transformers.GPT2Model(pcfg).eval()
    char_gpt = transformers.GPT2LMHeadModel(ccfg).eval()

    def sub(prefix: str) -> dict:
        return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}

    patch_gpt.load_state_dict(sub("patch_level_decoder.base."), strict=False)
    char_gpt.load_state_dict(sub("char_level_decoder.base."), strict=False)
    lin = torch.nn.Linear(cfg.patch_size * 128, cfg.hidden)
    lin.load_state_dict(sub("patch_level_decoder.patch_embedding."))
    flat = [c for p in P.encode(text, cfg.patch_size) for c in p]
    k = len(flat) % cfg.patch_size
    chars, flat = (flat[-k:], flat[:-k]) if k else ([], flat)
    with torch.no_grad():
        onehot = torch.nn.functional.one_hot(torch.tensor(flat), 128).float()
        h = patch_gpt(inputs_embeds=lin(onehot.reshape(1, -1, cfg.patch_size * 128)))
        first = h.last_hidden_state[:, -1:]
        tokens = char_gpt.transformer.wte(torch.tensor([chars], dtype=torch.long))
        out = char_gpt(inputs_embeds=torch.cat((first, tokens), dim=1))
        return torch.softmax(out.logits[0, -1], dim=-1).numpy()


def test_probabilities_equal_a_plain_transformers_computation(model: notagen.NotaGen,
                                                              ckpt: Path) -> None:
    loaded = notagen.load(ckpt)
    state = torch.load(ckpt, weights_only=True)["model"]
    for text in TEXTS:
        got = loaded.next_char_probs(text)
        assert got.shape == (128,)
        assert got.sum() == pytest.approx(1.0, abs=1e-5)
        np.testing.assert_allclose(got, plain_probs(state, CFG, text), atol=1e-5, rtol=0)


def test_loading_round_trip_reads_the_sizes_from_the_shapes(model: notagen.NotaGen,
                                                            ckpt: Path, tmp_path: Path) -> None:
    loaded = notagen.load(ckpt)
    assert loaded.config == NotaGenConfig(hidden=128, patch_layers=2, char_layers=1,
                                          patch_length=24, patch_inner=512, char_inner=512)
    text = HEAD + BODY[:30]
    np.testing.assert_array_equal(loaded.next_char_probs(text), model.next_char_probs(text))
    loaded.save(tmp_path / "again.pth")
    again = notagen.load(tmp_path)  # a folder holding one .pth
    np.testing.assert_array_equal(again.next_char_probs(text), model.next_char_probs(text))


def test_wrong_checkpoints_name_the_first_key_that_differs(ckpt: Path, tmp_path: Path) -> None:
    state = torch.load(ckpt, weights_only=True)["model"]
    bad = dict(state)
    key = "patch_level_decoder.base.h.1.attn.c_attn.weight"
    bad[key] = torch.zeros(128, 3 * 128 + 1)
    torch.save({"model": bad}, tmp_path / "bad.pth")
    with pytest.raises(notagen.CheckpointError, match=key.replace(".", r"\.")):
        notagen.load(tmp_path / "bad.pth")
    drop = "char_level_decoder.base.transformer.ln_f.bias"
    gone = {k: v for k, v in state.items() if k != drop}
    torch.save({"model": gone}, tmp_path / "gone.pth")
    with pytest.raises(notagen.CheckpointError, match=r"transformer\.ln_f\.bias"):
        notagen.load(tmp_path / "gone.pth")
    extra = {**state, "patch_level_decoder.base.h.0.attn.bias": torch.ones(1),  # old buffer
             "char_level_decoder.extra.weight": torch.ones(1)}
    torch.save({"model": extra}, tmp_path / "extra.pth")
    with pytest.raises(notagen.CheckpointError, match=r"char_level_decoder\.extra\.weight"):
        notagen.load(tmp_path / "extra.pth")


def test_a_missing_path_names_the_path_and_the_files_expected(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nowhere\.pth.*patch_level_decoder"):
        notagen.load(tmp_path / "nowhere.pth")
    with pytest.raises(FileNotFoundError, match=r"no \.pth file"):
        notagen.load(tmp_path)


def test_an_over_long_prompt_is_cut_with_a_warning(model: notagen.NotaGen) -> None:
    lines = [f"[r:{i}/x][V:1]GABc d2 B2|[V:2]G,4 D,4|\n" for i in range(8)]
    text = HEAD + "".join(lines)  # BOS + 9 header + 8 x 3 bar patches > 24
    with pytest.warns(UserWarning, match="cut to its header"):
        got = model.next_char_probs(text)
    # half of 9: the text's final newline counts as a line in NotaGen's cut
    np.testing.assert_array_equal(got, model.next_char_probs(HEAD + "".join(lines[5:])))


def test_cached_sampling_equals_uncached_step_by_step(model: notagen.NotaGen) -> None:
    s = sampling.Sampling(top_k=20, top_p=0.95, temperature=1.0)
    with torch.inference_mode():
        ctx_c = sampling.PatchContext(model.net, use_cache=True)
        ctx_u = sampling.PatchContext(model.net, use_cache=False)
        start = P.encode(HEAD)
        ctx_c.reset(start)
        ctx_u.reset(start)
        for step in range(8):
            a = sampling.sample_patch(model.net, ctx_c.last(), [], s,
                                      np.random.default_rng(step), use_cache=True)
            b = sampling.sample_patch(model.net, ctx_u.last(), [], s,
                                      np.random.default_rng(step), use_cache=False)
            assert a == b
            patch = a + [0] * (16 - len(a))
            ctx_c.push(patch)
            ctx_u.push(patch)
            torch.testing.assert_close(ctx_c.hidden, ctx_u.hidden, atol=1e-5, rtol=0)
        ctx_c.truncate(len(start) + 2)  # a cut-back cache continues as a fresh one
        fresh = sampling.PatchContext(model.net)
        fresh.reset(ctx_u.patches[: len(start) + 2])
        torch.testing.assert_close(ctx_c.last(), fresh.last(), atol=1e-5, rtol=0)


def test_generation_with_and_without_caches_and_seeds(model: notagen.NotaGen) -> None:
    runs = [model.stream(HEAD, seed=seed, use_cache=cache, max_chars=len(HEAD) + 60)
            for seed, cache in
            ((5, True), (5, False), (5, True), (6, True))]
    for st in runs:
        assert list(st) == []  # random weights make no tune-body line
        assert st.stopped == "chars"
    assert runs[0].text == runs[1].text == runs[2].text  # caches change nothing, seeds repeat
    assert runs[0].text != runs[3].text
    assert runs[0].text.startswith(HEAD) and runs[0].chars > 0


def test_filters_are_notagens() -> None:
    p = np.array([0.5, 0.3, 0.15, 0.05])
    np.testing.assert_allclose(sampling.filter_probs(p, sampling.Sampling(2, 1.0, 1.0)),
                               [0.625, 0.375, 0, 0])
    # top-p keeps up to the character whose mass passes p (0.5 + 0.3 >= 0.7)
    np.testing.assert_allclose(sampling.filter_probs(p, sampling.Sampling(0, 0.7, 1.0)),
                               [0.625, 0.375, 0, 0])
    q = sampling.filter_probs(p, sampling.Sampling(0, 1.0, 2.0))
    np.testing.assert_allclose(q, np.sqrt(p) / np.sqrt(p).sum())
    with pytest.raises(ValueError, match="top_p"):
        sampling.Sampling(top_p=0)


def test_train_mode_patches_and_the_loss_going_down() -> None:
    from mos_lab.ai.models.notagen.train import encode_train, fit, loss

    patches = encode_train("K:G\n[V:1]ab|\n[V:1]c|]\n")
    texts = [P.decode([p]) for p in patches[1:-1]]
    assert patches[0] == P.bos_patch() and patches[-1] == P.end_patch()
    assert texts == ["K:G\n", "[r:0/1][V:1]ab|\n", "[r:1/0][V:1]c|]\n"]
    m = notagen.random(NotaGenConfig(hidden=64, patch_layers=1, char_layers=1,
                                     patch_length=16), seed=0)
    with torch.no_grad():
        before = float(loss(m.net, torch.tensor([patches])))
    fit(m.net, ["K:G\n[V:1]ab|\n[V:1]c|]\n"], steps=15, lr=1e-2)
    with torch.no_grad():
        assert float(loss(m.net, torch.tensor([patches]))) < before
