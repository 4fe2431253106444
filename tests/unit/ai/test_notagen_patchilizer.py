"""NotaGen's patchilizer rules (generate mode), checked on hand-worked patches."""

from __future__ import annotations

import pytest

from mos_lab.ai.models.notagen import patchilizer as P


def ids(s: str, pad: bool = True) -> list[int]:
    out = [ord(c) for c in s]
    return out + [0] * (16 - len(out)) if pad else out


BOS_PATCH = [1] * 15 + [2]


def test_header_only_text_is_the_bos_patch_and_header_patches() -> None:
    # each header line keeps its newline, gets an EOS (length not a multiple of 16), pad 0
    assert P.encode("X:1\nK:G") == [BOS_PATCH, ids("X:1\n\x02"), ids("K:G\n\x02")]
    assert P.encode("") == [BOS_PATCH]
    # empty lines are dropped; a 16-character line is one patch without EOS
    assert P.encode("\n\n%123456789abcde\n") == [BOS_PATCH, ids("%123456789abcde\n")]
    # a 20-character line: 16, then 4 + EOS padded
    assert P.encode("%1234567890abcdefgh\n") == [BOS_PATCH, ids("%1234567890abcde"),
                                                 ids("fgh\n\x02")]


def test_bars_start_with_their_barline_and_the_last_bar_is_left_open() -> None:
    text = "L:1/8\nK:G\n[V:1]ab|cd|\n[V:1]ef"
    assert P.encode(text) == [
        BOS_PATCH, ids("L:1/8\n\x02"), ids("K:G\n\x02"),
        ids("[V:1]ab\x02"),  # a bar before the last: EOS, padded
        ids("|cd|\n\x02"),   # the closing barline and newline join the bar before
        ids("[V:1]ef", pad=False),  # the last bar: no EOS, not padded
    ]
    # a text ending with its newline: the last bar keeps it, still open
    assert P.encode("K:G\n[V:1]ab|\n")[-1] == ids("[V:1]ab|\n", pad=False)
    # a last bar of 20 characters: one full patch, then 4 open characters
    last = P.encode("K:G\n[V:1]abcdefghijklmnopq")
    assert last[-2:] == [ids("[V:1]abcdefghijk"), ids("lmnopq", pad=False)]
    # exactly 16: one full patch and nothing open
    assert P.encode("K:G\n[V:1]abcdefghijk")[-1] == ids("[V:1]abcdefghijk")


def test_split_bars_follows_notagen() -> None:
    assert P.split_bars(["[V:1]a|[V:2]b|\n"]) == ["[V:1]a", "|[V:2]b|\n"]
    assert P.split_bars(["[V:1]|: ab :|[V:2]x8|]\n"]) == ["[V:1]", "|: ab ",
                                                          ":|[V:2]x8|]\n"]
    assert P.split_bars(["[r:0/1][V:1]ab||cd|\n"]) == ["[r:0/1][V:1]ab", "||cd|\n"]
    # NotaGen stops at a line whose pieces cannot be paired, keeping the lines before
    with pytest.warns(UserWarning, match="dropped"):
        assert P.split_bars(["[V:1]a|b|\n", "[V:1]a|b|"]) == ["[V:1]a", "|b|\n"]


def test_stream_cut_keeps_the_header_and_the_last_half_of_the_lines() -> None:
    text = "K:G\n[V:1]a|\n[V:1]b|\n[V:1]c|\n[V:1]d"
    assert P.stream_cut(text) == ("K:G\n[V:1]c|\n[V:1]d", 2)
    assert P.stream_cut("K:G\n%x\n") is None


def test_non_ascii_text_is_refused_with_its_offset() -> None:
    with pytest.raises(ValueError, match="offset 5"):
        P.encode("K:G\n[é")


def test_decode_stops_each_patch_at_its_eos() -> None:
    assert P.decode([ids("ab\x02zz"), ids("cd")]) == "abcd"
