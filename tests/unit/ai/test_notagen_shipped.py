"""The small NotaGen model that ships: the default backend, writing real bars through the
GenerationService; the Markov chain stays available by name."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from mos_lab.ai.models import (  # noqa: E402
    make_backend,
    notagen,
    symbolic_backend,
)
from mos_lab.ai.models.markov.backend import MarkovBackend  # noqa: E402
from mos_lab.ai.models.notagen.backend import NotaGenBackend  # noqa: E402


def test_the_shipped_weights_are_small_and_load() -> None:
    assert notagen.SHIPPED.is_file()
    assert notagen.SHIPPED.stat().st_size <= 25 * 2**20
    m = notagen.shipped()
    probs = m.next_char_probs("%Baroque\n%Bach, Johann Sebastian\n%Choral\nM:4/4\nL:1/8\n")
    assert abs(float(probs.sum()) - 1) < 1e-5
    assert chr(int(probs.argmax())) in "QV"  # a trained model: the header goes on


def test_notagen_is_the_default_backend_and_markov_a_named_fallback() -> None:
    from mos_lab.ai.core.types import GenerationRequest
    from mos_lab.ai.service.generation import GenerationService

    backend = make_backend()
    assert isinstance(backend, NotaGenBackend) and backend.path == notagen.SHIPPED
    assert isinstance(symbolic_backend(), NotaGenBackend)
    assert isinstance(make_backend("markov"), MarkovBackend)
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with GenerationService([backend]) as svc:
            res = svc.generate(GenerationRequest(prompt="Baroque_Bach, Johann Sebastian_Choral",
                                                 bars=2, seed=2))
    finally:
        torch.set_num_threads(n)
    assert res.score is not None and res.score.n_notes > 4 and not res.partial
    assert res.meta["stopped"] == "bars" and res.meta["abc"].startswith("%Baroque\n")
    assert res.provenance.checksum


def test_an_over_full_bar_is_cut_at_the_length_asked_for() -> None:
    from mos_lab.ai.models.notagen.abc import to_score
    from mos_lab.ai.models.notagen.backend import fit_bars, meter_header

    score = to_score("L:1/8\nM:2/4\nV:1\nK:C\n[V:1]CDEF G|\n[V:1]A4|\n")  # bar 1 a 1/8 long
    bar = score.tpq * 2
    assert score.end_tick == bar * 2 + score.tpq // 2
    fitted, cut = fit_bars(score, 2, (2, 4))
    assert fitted.end_tick == 2 * bar and cut == 1 and fitted.n_notes == score.n_notes
    assert fit_bars(fitted, 2, (2, 4)) == (fitted, 0)
    assert meter_header((3, 4)) == "M:3/4\nL:1/8\n"
