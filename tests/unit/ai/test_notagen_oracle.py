"""NotaGen's next-character probabilities against NotaGen's own code (tests/oracles/
notagen_reference.py, vendored from ElectricAlexis/NotaGen): random small weights made by
its classes and saved as its checkpoints are, loaded by ``notagen.load``, and the
softmax its ``NotaGenLMHeadModel.generate`` samples from, for texts that exercise its
patchilizer (header only, bars, an open last patch, the streaming cut, voices, every
barline kind). Also checks that a wrong patchilizer is caught."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from mos_lab.ai.models import notagen  # noqa: E402
from mos_lab.ai.models.notagen import patchilizer as P  # noqa: E402

ORACLE = Path(__file__).resolve().parents[2] / "oracles" / "notagen_reference.py"

HEAD = "%Baroque\n%Bach, Johann Sebastian\n%Choral\nL:1/8\nM:4/4\nK:G\nV:1 treble\nV:2 bass\n"
BODY = ("[r:0/2][V:1]GABc d2 B2|[V:2]G,4 D,4|\n[r:1/1][V:1]c2 A2 B2 G2|[V:2]C,4 G,4|\n"
        "[r:2/0][V:1]G8|][V:2]G,8|]\n")
VOICES = ("%Romantic\n%Brahms, Johannes\n%Choral\nL:1/8\nM:3/4\nK:Eb\nV:1 treble\nV:2 treble\n"
          "V:3 bass\n"
          "[V:1]|:B2 G2 E2|[V:2]|:G2 E2 B,2|[V:3]|:E,6|\n"
          "[V:1]c4 B2::[V:2]A4 G2::[V:3]A,,4 B,,2::\n"
          "[V:1][| e2 d2 c2 ||[V:2][| c2 B2 A2 ||[V:3][| C4 C2 ||\n"
          "[V:1]B6:|[V:2]G6:|[V:3]E,6:|\n[V:1]e")
NOTES = "CDEFGABcdefgab"
LONG = HEAD + "".join(  # 400 lines, every one different: a wrong cut changes the context
    f"[r:{i}/{399 - i}][V:1]{NOTES[i % 14]}{NOTES[i * 3 % 14]}{NOTES[i * 5 % 14]}2 "
    f"{NOTES[i * 7 % 13]}4|[V:2]{NOTES[i % 7]},4 {NOTES[i * 2 % 7]},{1 + i % 3}|\n"
    for i in range(400)) + "[r:400/0][V:1]G"
TEXTS = {
    "header only": HEAD,
    "header and bars": HEAD + BODY,
    "open last patch": HEAD + BODY[:40],
    "open after a full patch": HEAD + BODY[:22],
    "line cut mid-bar": HEAD + BODY[:-4],
    "last line unsplittable": HEAD + BODY[:-1],
    "voices and barlines": VOICES,
    "voices, ended line": VOICES[:-1],
    "streaming cut": LONG,
}


def load_oracle() -> ModuleType:
    """NotaGen's inference/utils.py as vendored (a file under tests/, not a package)."""
    spec = importlib.util.spec_from_file_location("notagen_reference", ORACLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("notagen_reference", module)
    spec.loader.exec_module(module)
    return module


class _Probs(Exception):
    """Raised by the stand-in sampler to hand back the distribution generate samples from."""

    def __init__(self, probs: np.ndarray) -> None:
        self.probs = probs


@pytest.fixture(scope="module")
def ref() -> ModuleType:
    return load_oracle()


@pytest.fixture(scope="module")
def ref_model(ref: ModuleType) -> torch.nn.Module:
    torch.manual_seed(7)
    patch_config, byte_config = ref.gpt2_configs(PATCH_NUM_LAYERS=2, CHAR_NUM_LAYERS=2,
                                                 HIDDEN_SIZE=128)
    model = ref.NotaGenLMHeadModel(encoder_config=patch_config, decoder_config=byte_config)
    with torch.no_grad():  # GPT-2's zero-init biases and unit norms would hide mistakes
        for name, p in model.named_parameters():
            if ".ln_" in name:
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.2 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn_like(p))
            else:  # std 0.02 makes near-uniform answers that hardly depend on the text
                p.mul_(6.0)
    return model.eval()


@pytest.fixture(scope="module")
def loaded(ref_model: torch.nn.Module, tmp_path_factory: pytest.TempPathFactory
           ) -> notagen.NotaGen:
    path = tmp_path_factory.mktemp("oracle") / "weights_notagen_tiny.pth"
    torch.save({"model": ref_model.state_dict(), "epoch": 1}, path)  # NotaGen's layout
    return notagen.load(path)


def reference_probs(ref: ModuleType, model: torch.nn.Module, text: str) -> np.ndarray:
    """What NotaGen's inference samples the character after ``text`` from: its patches
    (the prompt patches of its generation loop for a header; ``encode_generate`` for a
    tune body, cut by its streaming block when full), through ``generate``'s split."""
    pz = ref.Patchilizer()
    lines = [ln for ln in text.split("\n") if ln]
    if not any(ln.startswith(("[V:", "[r:")) for ln in lines):
        ids = ref.prompt_patches(pz, [ln + "\n" for ln in lines])
    else:
        ids = pz.encode_generate(text, patch_length=sys.maxsize)
        if sum(len(p) == ref.PATCH_SIZE for p in ids) >= ref.PATCH_LENGTH:
            ids = ref.streaming_cut(pz, list(text))
    flat = torch.tensor([c for p in ids for c in p]).reshape(1, -1)

    def capture(prob: np.ndarray, **_: object) -> np.ndarray:
        raise _Probs(np.asarray(prob))

    saved = {n: getattr(ref, n, None) for n in ("top_k_sampling", "top_p_sampling")}
    ref.top_k_sampling = ref.top_p_sampling = capture
    try:
        with torch.no_grad():
            model.generate(flat.unsqueeze(0), top_k=9, top_p=0.9, temperature=1.2)
    except _Probs as got:
        return got.probs
    finally:
        for n, f in saved.items():
            setattr(ref, n, f)
    raise AssertionError("NotaGen's generate returned without sampling")


def max_difference(loaded: notagen.NotaGen, ref: ModuleType, model: torch.nn.Module,
                   text: str) -> float:
    return float(np.abs(loaded.next_char_probs(text) - reference_probs(ref, model, text)).max())


@pytest.mark.filterwarnings("ignore:notagen. the text is longer")
@pytest.mark.filterwarnings("ignore:notagen. cannot split tune-body line")
@pytest.mark.parametrize("name", list(TEXTS))
def test_next_char_probs_equal_notagens_own_code(name: str, ref: ModuleType,
                                                 ref_model: torch.nn.Module,
                                                 loaded: notagen.NotaGen) -> None:
    text = TEXTS[name]
    got = loaded.next_char_probs(text)
    want = reference_probs(ref, ref_model, text)
    assert got.shape == want.shape == (128,)
    assert want.max() < 0.5  # a spread distribution, so equality says something
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


def test_the_long_text_is_really_cut(loaded: notagen.NotaGen) -> None:
    full = [p for p in P.encode(LONG) if len(p) == P.PATCH_SIZE]
    assert len(full) >= loaded.config.patch_length == 1024
    with pytest.warns(UserWarning, match="cut to its header"):
        loaded.next_char_probs(LONG)


def test_an_unsplittable_last_line_is_dropped_with_a_warning_as_notagen_drops_it(
        ref: ModuleType, ref_model: torch.nn.Module, loaded: notagen.NotaGen) -> None:
    text = TEXTS["last line unsplittable"]  # "...|][V:2]G,8|]": NotaGen's split fails
    with pytest.warns(UserWarning, match="cannot split tune-body line"):
        got = loaded.next_char_probs(text)
    np.testing.assert_allclose(got, reference_probs(ref, ref_model, text), atol=1e-5, rtol=0)
    # and a body with no bar at all, where NotaGen's own code fails (IndexError), is refused
    with pytest.raises(IndexError):
        reference_probs(ref, ref_model, HEAD + BODY[:23])
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="cannot be split into bars"):
        loaded.next_char_probs(HEAD + BODY[:23])


def _no_join(lines: list[str]) -> list[str]:
    """split_bars without NotaGen's joining of a last segment that holds no ``V``."""
    bars: list[str] = []
    for line in lines:
        pieces = [p for p in P._BAR_RE.split(line) if p]
        start = 0 if pieces[0] in P.DELIMITERS else 1
        bars += pieces[:start] + [pieces[i] + "".join(pieces[i + 1:i + 2])
                                  for i in range(start, len(pieces), 2)]
    return bars


def _always_eos(text: str, patch_size: int = P.PATCH_SIZE, last: bool = False) -> list[str]:
    """split_patches that adds the EOS to the last bar too."""
    text += chr(P.EOS) if len(text) % patch_size else ""
    return [text[i:i + patch_size] for i in range(0, len(text), patch_size)]


def _padded(patch: str, patch_size: int = P.PATCH_SIZE) -> list[int]:
    """to_ids that pads an open patch too."""
    return [ord(c) for c in patch] + [P.PAD] * (patch_size - len(patch))


_STREAM_CUT = P.stream_cut


def _cut_one_more(text: str, keep: int | None = None) -> tuple[str, int] | None:
    """stream_cut keeping one tune-body line more than NotaGen's half."""
    lines = text.split("\n")
    body = len(lines) - next(i for i, ln in enumerate(lines) if P.is_body_line(ln))
    return _STREAM_CUT(text, body // 2 + 1)


WRONG: dict[str, tuple[str, Callable[..., object]]] = {
    "last segment not joined": ("split_bars", _no_join),
    "EOS on the open bar": ("split_patches", _always_eos),
    "open patch padded": ("to_ids", _padded),
    "streaming cut keeps a line more": ("stream_cut", _cut_one_more),
}


@pytest.mark.filterwarnings("ignore:notagen. the text is longer")
@pytest.mark.filterwarnings("ignore:notagen. cannot split tune-body line")
@pytest.mark.parametrize("mistake", list(WRONG))
def test_a_wrong_patchilizer_fails_the_comparison(mistake: str, ref: ModuleType,
                                                  ref_model: torch.nn.Module,
                                                  loaded: notagen.NotaGen,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    attr, wrong = WRONG[mistake]
    monkeypatch.setattr(P, attr, wrong)
    worst = max(max_difference(loaded, ref, ref_model, t) for t in TEXTS.values())
    assert worst > 1e-3, f"{mistake}: largest difference {worst:.2e}, the test would not see it"
