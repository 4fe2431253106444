"""MusicGen through transformers on tiny random models made here (no downloads).

The models are built from transformers' own configurations (a 1-layer decoder, a tiny
EnCodec at 8 kHz with 5 frames a second, a 1-layer T5) and written with
``save_pretrained``, so the loader reads a real folder; the EnCodec codebooks are drawn
at random (transformers leaves them at zero, which would decode every code to the same
sound). The decoder's larger init makes its logits depend visibly on the conditioning.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tf = pytest.importorskip("transformers")

from mos_lab.ai.core.errors import GenerationTimeout  # noqa: E402
from mos_lab.ai.core.types import CancelToken, GenerationRequest  # noqa: E402
from mos_lab.ai.models import musicgen  # noqa: E402
from mos_lab.ai.models.musicgen.core import MusicGen  # noqa: E402
from mos_lab.ai.models.musicgen.files import MusicGenFilesError  # noqa: E402
from mos_lab.ai.models.musicgen.melody import render_score  # noqa: E402
from mos_lab.ai.service.generation import GenerationService  # noqa: E402
from mos_lab.score import Score  # noqa: E402

RATE = 8000  # EnCodec sampling rate of the tiny models
FPS = 5  # frames per second: hop 8*5*5*8 = 1600 samples


def tiny_folder(folder: Path, *, channels: int = 1, melody: bool = False) -> Path:
    """A random MusicGen (or -Melody) with its tokenizer, saved as transformers saves."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    torch.manual_seed(0)
    enc = tf.EncodecConfig(
        sampling_rate=RATE, audio_channels=1, hidden_size=8, num_filters=4,
        num_residual_layers=1, upsampling_ratios=[8, 5, 5, 8], codebook_size=1024,
        codebook_dim=8, target_bandwidths=[0.2], num_lstm_layers=1, chunk_length_s=None,
        overlap=None)  # 0.2 kbps at 5 frames/s of 10-bit codes: 4 codebooks
    t5 = tf.T5Config(vocab_size=32, d_model=8, d_kv=4, d_ff=16, num_layers=1, num_heads=2)
    dec_cls = tf.MusicgenMelodyDecoderConfig if melody else tf.MusicgenDecoderConfig
    dec = dec_cls(vocab_size=1024, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                  ffn_dim=32, num_codebooks=4 * channels, pad_token_id=1024,
                  bos_token_id=1024, max_position_embeddings=256, audio_channels=channels,
                  initializer_factor=0.5)
    if melody:
        cfg = tf.MusicgenMelodyConfig(text_encoder=t5.to_dict(), audio_encoder=enc.to_dict(),
                                      decoder=dec.to_dict(), num_chroma=12, chroma_length=10)
        model = tf.MusicgenMelodyForConditionalGeneration(cfg)
    else:
        cfg = tf.MusicgenConfig(text_encoder=t5.to_dict(), audio_encoder=enc.to_dict(),
                                decoder=dec.to_dict())
        model = tf.MusicgenForConditionalGeneration(cfg)
    for layer in model.audio_encoder.quantizer.layers:
        layer.codebook.embed.normal_()
    model.save_pretrained(folder)
    words = ["<pad>", "</s>", "<unk>", "piano", "jazz", "calm", "drums"]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tf.PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>",
                               unk_token="<unk>").save_pretrained(folder)
    if melody:
        (folder / "preprocessor_config.json").write_text(json.dumps(
            {"sampling_rate": RATE, "n_fft": 512, "hop_length": 256, "chunk_length": 30,
             "num_chroma": 12}))
    return folder


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread (more only fight over the 2 CI cores)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("musicgen")
    return {"mono": tiny_folder(root / "mono"),
            "stereo": tiny_folder(root / "stereo", channels=2)}


@pytest.fixture(scope="module")
def stereo(folders: dict[str, Path]) -> MusicGen:
    return musicgen.load(folders["stereo"], device="cpu")


@pytest.fixture(scope="module")
def mono(folders: dict[str, Path]) -> MusicGen:
    return musicgen.load(folders["mono"], device="cpu")


def test_equals_transformers_generate_every_item_and_channel(stereo: MusicGen,
                                                             ) -> None:
    """The frames read from the delay pattern are transformers' own: the same seed gives
    the same samples for both batch items and both channels."""
    prompts = ["piano jazz", "calm drums"]
    out = stereo.generate(prompts, seconds=4, seed=7)
    assert out.audio.shape == (2, 4 * RATE, 2) and out.codes.shape == (2, 8, 4 * FPS)
    assert out.sample_rate == RATE and not out.partial and out.stopped == ""
    ids = stereo.tokenizer(prompts, padding=True, return_tensors="pt")
    torch.manual_seed(7)
    with torch.no_grad():  # 20 frames need 20 + 3 steps (the last codebook lags 3)
        ref = stereo.model.generate(**ids, max_new_tokens=4 * FPS + 3, do_sample=True)
    np.testing.assert_array_equal(out.audio, ref.numpy().transpose(0, 2, 1))
    assert np.abs(out.audio[..., 0] - out.audio[..., 1]).max() > 1e-4  # L != R
    assert np.abs(out.audio[0] - out.audio[1]).max() > 1e-4  # items differ


def test_past_30_seconds_by_windows(mono: MusicGen) -> None:
    """32 s is two windows; the first is the 30 s a single call makes with that seed."""
    seen: list[tuple[float, float]] = []
    long = mono.generate("piano", seconds=32, seed=3, progress=lambda d, t: seen.append((d, t)))
    assert long.codes.shape[-1] == 32 * FPS > 30 * FPS and long.windows == 2
    assert long.audio.shape == (1, 32 * RATE, 1) and long.seconds == 32.0
    first = mono.generate("piano", seconds=30, seed=3)
    assert first.windows == 1
    np.testing.assert_array_equal(long.codes[..., : 30 * FPS], first.codes)
    done = [d for d, _ in seen]
    assert done == sorted(done) and seen[-1] == (32.0 * FPS, 32.0 * FPS)


def test_seed_gives_determinism(mono: MusicGen) -> None:
    a = mono.generate("jazz", seconds=3, seed=11)
    b = mono.generate("jazz", seconds=3, seed=11)
    c = mono.generate("jazz", seconds=3, seed=12)
    np.testing.assert_array_equal(a.audio, b.audio)
    assert not np.array_equal(a.codes, c.codes)
    empty = mono.generate("", seconds=1, seed=11)  # no text tokens: unconditional
    assert empty.codes.shape == (1, 4, FPS) and not np.array_equal(empty.codes,
                                                                    a.codes[..., :FPS])


def test_cancel_part_way_keeps_what_was_made(mono: MusicGen) -> None:
    full = mono.generate("piano", seconds=20, seed=5)
    token = CancelToken()

    def progress(done: float, total: float) -> None:
        if done >= 30:
            token.cancel("user")

    cut = mono.generate("piano", seconds=20, seed=5, progress=progress, cancel=token)
    n = cut.codes.shape[-1]
    assert cut.stopped == "cancelled" and cut.partial and 30 <= n < 20 * FPS
    np.testing.assert_array_equal(cut.codes, full.codes[..., :n])
    assert cut.audio.shape[1] == n * RATE // FPS


def test_deadline_and_memory_limit_stop_and_say_so(mono: MusicGen) -> None:
    late = mono.generate("piano", seconds=5, seed=1, timeout_s=0.0)
    assert late.stopped == "timeout" and late.codes.shape[-1] == 0 and late.partial
    full = mono.generate("piano", seconds=5, seed=1, max_memory_bytes=1)
    assert full.stopped == "memory limit" and full.partial


def test_audio_prompt_is_continued(mono: MusicGen) -> None:
    """The prompt's codes go first, as transformers continues ``decoder_input_ids``:
    the frames made after them are the ones its own generate makes."""
    base = mono.generate("piano", seconds=4, seed=2).audio[0]
    out = mono.generate("piano", seconds=3, seed=4, audio_prompt=base, prompt_rate=RATE)
    again = mono.generate("piano", seconds=3, seed=4, audio_prompt=base, prompt_rate=RATE)
    plain = mono.generate("piano", seconds=3, seed=4)
    assert out.audio.shape == (1, 3 * RATE, 1) and out.codes.shape == (1, 4, 3 * FPS)
    np.testing.assert_array_equal(out.codes, again.codes)
    assert not np.array_equal(out.codes, plain.codes)
    head = mono.encode(base, RATE)
    assert head.shape == (1, 4, 4 * FPS)
    ids = mono.tokenizer(["piano"], return_tensors="pt")
    torch.manual_seed(4)
    with torch.no_grad():
        ref = mono.model.generate(**ids, decoder_input_ids=torch.as_tensor(head[0]),
                                  max_new_tokens=3 * FPS + 3, do_sample=True)
    both = mono.decode(np.concatenate([head, out.codes], axis=-1))
    np.testing.assert_array_equal(both, ref.numpy().transpose(0, 2, 1))


@pytest.fixture(scope="module")
def audio_kernels() -> None:
    """Apollo's kernels compiled before the melody render is timed (once per install)."""
    from mos_lab.audio import kernels

    kernels.warm_up()


def test_melody_from_a_score(tmp_path: Path, mono: MusicGen,
                             audio_kernels: None) -> None:
    m = musicgen.load(tiny_folder(tmp_path / "melody", melody=True), device="cpu")
    assert m.melody
    tune = Score.from_notes([(i * 480, 480, 69 - 2 * i, 90) for i in range(6)])
    chroma = m.chroma(render_score(tune, RATE, seconds=3.0)[None])
    assert int(chroma[0, 2].argmax()) == 9  # the first note is an A (C = 0)
    with_tune = m.generate("piano", seconds=2, seed=1, melody=tune)
    again = m.generate("piano", seconds=2, seed=1, melody=tune)
    without = m.generate("piano", seconds=2, seed=1)
    np.testing.assert_array_equal(with_tune.codes, again.codes)
    assert not np.array_equal(with_tune.codes, without.codes)
    with pytest.raises(ValueError, match="melody"):
        mono.generate("piano", seconds=1, melody=tune)
    long = m.generate("piano", seconds=6, seed=1, melody=tune, window_s=4, context_s=1)
    assert long.windows == 2 and long.codes.shape[-1] == 6 * FPS  # each window its part


def test_bad_folder_names_path_and_files(tmp_path: Path, folders: dict[str, Path]) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(MusicGenFilesError) as err:
        musicgen.load(missing)
    assert str(missing) in str(err.value) and "config.json" in str(err.value)
    half = tmp_path / "half"
    half.mkdir()
    (half / "config.json").write_text((folders["mono"] / "config.json").read_text())
    with pytest.raises(MusicGenFilesError, match=r"model\.safetensors") as err:
        musicgen.load(half)
    assert str(half) in str(err.value) and "tokenizer" in str(err.value)
    assert isinstance(err.value, FileNotFoundError)


def test_backend_behind_the_service(folders: dict[str, Path]) -> None:
    from mos_lab.ai.models import make_backend

    backend = make_backend("musicgen", path=folders["stereo"], device="cpu")
    assert isinstance(backend, musicgen.MusicGenBackend)  # the old name, the new backend
    with GenerationService([backend], timeout=60) as svc:
        res = svc.generate(GenerationRequest(prompt="piano", duration_s=2, batch=2, seed=3))
    assert res.audio is not None and res.audio.shape == (2 * 48_000, 2)
    items = res.meta["batch_audio"]
    assert len(items) == 2 and not np.array_equal(items[0], items[1])
    assert res.provenance is not None and len(res.provenance.checksum) == 64
    backend.load()  # the job's deadline below is for generating, not loading
    with GenerationService([backend], timeout=4.0) as svc:  # 500 s cannot be made in 4 s
        cut = svc.generate(GenerationRequest(prompt="piano", duration_s=500, seed=4))
    assert cut.partial and "stopped: timeout" in cut.missing[0]
    assert cut.audio is not None and 0 < len(cut.audio) < 500 * 48_000
    token = CancelToken.with_timeout(0.0)
    with pytest.raises(GenerationTimeout):
        backend.generate(GenerationRequest(prompt="piano", duration_s=2, seed=1),
                         lambda d, t: None, token)


def test_session_generates_onto_the_transport(folders: dict[str, Path]) -> None:
    """``session.generate`` runs MusicGen behind the service and puts the audio on the
    transport: the engine's render has it at its start time; a cancelled job adds none."""
    from mos_lab.kernel.session import Session

    s = Session(output="null", plugins=False)
    try:
        seen: list[tuple[float, float]] = []
        job = s.generate("piano", model=folders["stereo"], seconds=2, start=0.5, seed=1,
                         wait=True, on_progress=lambda d, t: seen.append((d, t)))
        res = job.result()
        assert res.audio is not None and res.audio.shape == (2 * 48_000, 2)
        (clip,) = s.engine.clips
        assert clip.start == 0.5 and clip.seconds == 2.0 and s.score is not None
        out = s.engine.render(tail_s=0.0)
        assert len(out) == round(2.5 * 48_000)
        np.testing.assert_allclose(out[24_000:], np.clip(res.audio, -1, 1), atol=1e-6)
        assert not out[:24_000].any()
        assert any(t == 2.0 * FPS for _, t in seen) and seen[-1] == (1.0, 1.0)  # frames, done
        late = s.generate("calm", seconds=60, seed=2)  # the same model, by default
        assert late.cancel(wait=10)
        assert len(s.engine.clips) == 1
    finally:
        s.close()
