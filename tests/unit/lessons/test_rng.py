"""The lessons' seeded generator: inlined draws give SplitMix64's sequence, and ``pick``
is a fresh generator's first choice (generators rely on both for stable seeds)."""

from __future__ import annotations

from mos_lab.lessons._rng import Rng, pick


def test_pick_is_a_fresh_generators_first_choice():
    seq = list(range(37))
    for seed in [*range(500), -5, 2**70, 12345678901234567890]:
        assert pick(seed, seq) == Rng(seed).choice(seq)


def test_draws_follow_one_splitmix64_stream():
    a, b = Rng(42), Rng(42)
    for n in range(1, 40):  # every method advances the state by one 64-bit draw
        bits = a.next64()
        assert b.randrange(n) == (bits * n) >> 64
        bits = a.next64()
        assert b.randint(-n, n) == -n + ((bits * (2 * n + 1)) >> 64)
        bits = a.next64()
        assert b.random() == (bits >> 11) / (1 << 53)
    ref = Rng(0)
    ref.state = 0
    assert ref.next64() == 0xE220A8397B1DCDAF  # SplitMix64's first output from state 0
