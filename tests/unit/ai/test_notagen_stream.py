"""NotaGen's generation loop, bar by bar: the loop's rules with a scripted sampler (random
weights write no bars), the rejected bar sampled again from cut-back caches, the Score."""

from __future__ import annotations

from collections.abc import Callable

import pytest

torch = pytest.importorskip("torch")

from mos_lab.ai.models import notagen  # noqa: E402
from mos_lab.ai.models.notagen import abc, sampling  # noqa: E402
from mos_lab.ai.models.notagen.model import NotaGenConfig  # noqa: E402

HEAD = "%Folk\nL:1/8\nM:4/4\nK:G\nV:1 treble\nV:2 bass\n"
LINE1 = "[V:1]GABc d2 B2|[V:2]G,4 D,4|\n"
BAD = "[V:3]abc|\n"  # voice 3 is not in the header
LINE2 = "[V:1]G8|][V:2]G,8|]\n"


def scripted(monkeypatch: pytest.MonkeyPatch, patches: list[str]) -> list[list[int]]:
    """Make sample_patch return these patches in turn (EOS added when shorter than 16)."""
    queue = [[ord(c) for c in p] + ([2] if len(p) < 16 else []) for p in patches]
    seen: list[list[int]] = []

    def fake(net: object, first: torch.Tensor, prefix: list[int], s: object, rng: object,
             use_cache: bool = True, stop: Callable[[list[int]], bool] | None = None,
             no_end: bool = False) -> list[int]:
        out = prefix + queue.pop(0)
        for i in range(len(prefix), len(out)):  # as sample_patch: stop when told
            if stop is not None and stop(out[: i + 1]):
                out = out[: i + 1]
                break
        seen.append(out)
        return out

    monkeypatch.setattr(sampling, "sample_patch", fake)
    return seen


@pytest.fixture(scope="module")
def model() -> notagen.NotaGen:
    return notagen.random(NotaGenConfig(hidden=64, patch_layers=1, char_layers=1,
                                        patch_length=64))


def bars_of(line: str) -> list[str]:
    from mos_lab.ai.models.notagen.patchilizer import split_bars

    return split_bars([line])


def test_bars_stream_a_bad_bar_is_sampled_again_and_the_end_patch_ends(
        model: notagen.NotaGen, monkeypatch: pytest.MonkeyPatch) -> None:
    script = bars_of(LINE1) + bars_of(BAD) + bars_of(LINE2) + ["\x01"]
    scripted(monkeypatch, script)
    st = model.stream(HEAD, seed=0)
    n_start = len(st.ctx)
    assert next(st) == LINE1
    assert len(st.ctx) == n_start + 2
    assert next(st) == LINE2  # the bad line was rolled back and sampled again
    assert st.rejected == 1
    assert len(st.ctx) == n_start + 4
    assert list(st) == []
    assert st.stopped == "end"
    assert st.text == HEAD + LINE1 + LINE2
    # the cut-back caches equal freshly computed ones
    fresh = sampling.PatchContext(model.net)
    with torch.inference_mode():
        fresh.reset(st.ctx.patches)
    torch.testing.assert_close(st.ctx.hidden, fresh.hidden, atol=1e-5, rtol=0)


def test_generate_keeps_what_was_made_and_reads_it_as_a_score(
        model: notagen.NotaGen, monkeypatch: pytest.MonkeyPatch) -> None:
    scripted(monkeypatch, bars_of(LINE1) + bars_of(LINE2) + bars_of(LINE1))
    g = model.generate(HEAD, bars=2, seed=0)
    assert g.stopped == "bars" and g.bars == [LINE1, LINE2]
    assert g.score is not None
    assert len(g.score.notes) == 6 + 2 + 1 + 1  # GABc d2 B2, G,4 D,4, G8, G,8
    assert g.abc.startswith("X:1\n")


def test_a_bar_that_keeps_failing_stops_the_generation_and_says_why(
        model: notagen.NotaGen, monkeypatch: pytest.MonkeyPatch) -> None:
    scripted(monkeypatch, bars_of(LINE1) + bars_of(BAD) * 3)
    st = model.stream(HEAD, seed=0)
    st.tries = 3
    assert list(st) == [LINE1]
    assert st.stopped is not None and "voice 3 is not in the header" in st.stopped
    assert st.text == HEAD + LINE1


def test_cancel_and_the_r_prefix_of_the_first_line(model: notagen.NotaGen,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    st = model.stream(HEAD, seed=0, cancel=lambda: True)
    assert list(st) == [] and st.stopped == "cancelled"
    # a first tune-body patch that starts "[r:" is sampled again from "[r:0/"
    seen = scripted(monkeypatch, ["[r:9/9]", "2][V:1]GAB", "c d2 B2",
                                  *bars_of(LINE1)[1:], "\x01"])
    st = model.stream(HEAD, seed=0)
    assert next(st) == "[r:0/2]" + LINE1
    assert seen[1][:5] == [ord(c) for c in "[r:0/"]


def test_asking_for_bars_forces_the_count_in_the_first_stream_prefix(
        model: notagen.NotaGen, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = scripted(monkeypatch, ["[r:9/9]", "[V:1]GAB", "c d2 B2",
                                  *bars_of(LINE1)[1:], "\x01"])
    st = model.stream(HEAD, seed=0, bars=4)
    assert next(st) == "[r:0/3]" + LINE1
    assert seen[1][:7] == [ord(c) for c in "[r:0/3]"]


def test_asking_for_bars_starts_every_later_line_with_its_own_stream_prefix(
        model: notagen.NotaGen, monkeypatch: pytest.MonkeyPatch) -> None:
    # as training writes them: line i of n starts [r:i/n-1-i]; a rejected line keeps it
    seen = scripted(monkeypatch, ["[r:9/9]", "[V:1]GAB", "c d2 B2", *bars_of(LINE1)[1:],
                                  "[V:3]a|\n", *bars_of(LINE2), *bars_of(LINE2)])
    st = model.stream(HEAD, seed=0, bars=3)
    assert list(st) == ["[r:0/2]" + LINE1, "[r:1/1]" + LINE2, "[r:2/0]" + LINE2]
    assert st.rejected == 1 and st.stopped == "bars"
    starts = [bytes(p[:7]).decode() for p in seen if p[:3] == [ord(c) for c in "[r:"]]
    assert starts == ["[r:", "[r:0/2]", "[r:1/1]", "[r:1/1]", "[r:2/0]"]
    # a stream whose first line has no prefix gets none later (the model's own format)
    scripted(monkeypatch, [*bars_of(LINE1), *bars_of(LINE2)])
    assert list(model.stream(HEAD, seed=0, bars=2)) == [LINE1, LINE2]


def test_playable_abc_fills_left_out_voices_and_drops_stream_prefixes() -> None:
    text = HEAD + "[r:0/1][V:1]GABc d2 B2|[V:2]G,8|\n[r:1/0][V:1]G8|]\n"
    out = abc.playable(text)
    assert out.startswith("X:1\n%Folk\n")
    assert "[V:1]G8|][V:2]z8|" in out and "[r:" not in out  # rests the bar's length


def test_check_line_names_the_problem() -> None:
    assert sampling.check_line(HEAD, LINE1) == []
    assert sampling.check_line(HEAD, "[V:1]abc\n") == ["voice 1 has no barline"]
    assert "a bracket is left open" in sampling.check_line(HEAD, "[V:1][ab|\n")[0]
    assert sampling.check_line(HEAD, "abc|\n") == ["no [V:n] voice segment at the start"]


def test_backend_in_the_generation_service(model: notagen.NotaGen,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from mos_lab.ai.core.types import GenerationRequest
    from mos_lab.ai.models.notagen.backend import NotaGenBackend, prompt_fields
    from mos_lab.ai.service.generation import GenerationService

    assert prompt_fields("Baroque_Bach, Johann Sebastian_Choral") == {
        "period": "Baroque", "composer": "Bach, Johann Sebastian", "instrumentation": "Choral"}
    scripted(monkeypatch, bars_of(LINE1) + bars_of(LINE2))
    with GenerationService([NotaGenBackend(model=model)]) as svc:
        job = svc.submit(GenerationRequest(bars=2, seed=1, params={"abc": HEAD}),
                         backend="notagen")
        res = job.result(timeout=60)
    assert res.score is not None and len(res.score.notes) == 10
    assert res.meta["stopped"] == "bars" and not res.partial
