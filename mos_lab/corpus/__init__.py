"""Jobs over many score files on Dask: one table row per file, bad files as error rows.

    run(task, inputs, workers=N | address="tcp://host:8786" | client=c) -> pandas.DataFrame
    analyze(inputs, ...)   keys, numerals and cadences per file (mos_lab.theory.analyze)
    convert(inputs, out_dir, fmt=".json", ...)   each file saved in another format
    render(inputs, out_dir, ...)                 each file rendered to WAV (mos_lab.engine)
    tokenize(inputs, kind="REMI", ...)           token counts (mos_lab.ai.data.tokens)
    write_parquet(table, path)                   the table as Parquet (pyarrow)
    CorpusError                                  no scheduler, a missing extra, no inputs

dask[distributed], pandas and pyarrow come with the ``corpus`` extra and are imported
only when a job runs.
"""

from mos_lab.corpus.errors import CorpusError
from mos_lab.corpus.jobs import analyze, write_parquet

__all__ = ["CorpusError", "analyze", "write_parquet"]
