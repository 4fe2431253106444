"""mos_lab.ai.data — research data: metrics (muspy's, plus theory-based), tokens, corpora.

Map (the rest lives in the submodules: metrics, compare, tokens, abc_tokens, corpus)::

    muspy_metrics(score) -> {"pitch_range": .., "polyphony": .., ...}   None where undefined
    metrics.pitch_range / polyphony / scale_consistency / groove_consistency(score, ticks) ...
    theory_metrics(score) -> key_clarity, chord_vocabulary, cadence_rate
    compare(a, b) -> Comparison  .table()  .plot()  (notebooks show it as a table)
    Tokenizer("REMI"|"TSD"|"Structured"|"MIDILike").encode(score) -> Encoding(ids, tokens,
        dropped)   .decode(ids, tpq=) -> Score                    (miditok: the ai extra)
    abc_tokens.interleaved_abc(score) / abc_patches(score) / score_from_patches(patches)
                                              NotaGen's interleaved ABC (its patchilizer)
    Corpus(folder, "REMI", validation=0.1).arrays("train") / .windows(...) /
        .torch_dataset("validation", length=512)     split by piece, streamed file by file

Example::

    from mos_lab.ai.data import compare, Tokenizer
    print(compare(score, generated, names=("bach", "model")))
    enc = Tokenizer("REMI").encode(score); print(len(enc), enc.dropped)
"""

from mos_lab.ai.data.compare import compare
from mos_lab.ai.data.corpus import Corpus
from mos_lab.ai.data.tokens import Tokenizer

__all__ = ["Corpus", "Tokenizer", "compare"]
