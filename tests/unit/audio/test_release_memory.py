"""An idle engine gives the C heap's free pages back (glibc malloc_trim) and unmaps LLVM's
clean library pages."""

from __future__ import annotations

import ctypes.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from _apollo_helpers import proc_mb

from mos_lab.audio.memory import release_free_memory

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.skipif(ctypes.util.find_library("c") is None, reason="no C library found")
def test_freed_heap_in_the_middle_goes_back() -> None:
    """80 MB of 100 KB arrays freed below one kept at the top stay resident until released."""
    arrays = [np.ones(100_000 // 8) for _ in range(800)]  # below the mmap threshold: heap
    kept = arrays[-1]
    del arrays[:]
    before = proc_mb("RssAnon")
    assert release_free_memory()
    after = proc_mb("RssAnon")
    assert kept.sum() == kept.size  # what is still in use is untouched
    assert before - after > 40, f"released {before - after:.1f} MB of ~80 MB freed"


SMAPS = """\
7f0000000000-7f0000004000 r--p 00000000 08:01 11 /venv/llvmlite/binding/libllvmlite.so
Rss:                  16 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
7f0000004000-7f0000010000 r-xp 00004000 08:01 11 /venv/llvmlite/binding/libllvmlite.so
Size:                 48 kB
Rss:                  40 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
7f0000010000-7f0000012000 r--p 00010000 08:01 11 /venv/llvmlite/binding/libllvmlite.so
Rss:                   8 kB
Private_Dirty:         8 kB
Anonymous:             8 kB
7f0000012000-7f0000013000 rw-p 00012000 08:01 11 /venv/llvmlite/binding/libllvmlite.so
Rss:                   4 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
7f0000020000-7f0000030000 r-xp 00000000 08:01 12 /usr/lib/libpython3.11.so.1.0
Rss:                  64 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
7f0000040000-7f0000041000 r--p 00000000 08:01 13 /venv/llvmlite/binding/libllvmlite.so
Rss:                   0 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
"""


def test_only_clean_read_only_maps_of_the_named_library_are_chosen(tmp_path: Path) -> None:
    """Relocated (copied-on-write) pages, writable maps and other libraries are never
    released: dropping them would lose data."""
    from mos_lab.audio.memory import clean_library_maps

    path = tmp_path / "smaps"
    path.write_text(SMAPS)
    assert clean_library_maps(smaps=str(path)) == [
        (0x7F0000000000, 0x4000, 16 * 1024), (0x7F0000004000, 0xC000, 40 * 1024),
        (0x7F0000040000, 0x1000, 0)]
    assert clean_library_maps(("libpython",), smaps=str(path)) == [
        (0x7F0000020000, 0x10000, 64 * 1024)]
    assert clean_library_maps(smaps=str(tmp_path / "none")) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc and madvise")
def test_llvm_pages_go_and_numba_still_compiles_and_renders() -> None:
    """After the kernels load, LLVM's library pages are released (tens of MB of RSS); the
    kernels render the same block, and a new function still compiles (pages fault back)."""
    code = textwrap.dedent("""
        import numpy as np, numba
        from mos_lab.audio import kernels
        from mos_lab.audio.memory import clean_library_maps, release_library_pages
        from mos_lab.audio.synth import Synth
        kernels.warm_up()
        def render():
            s = Synth(effects=False)
            s.send("note_on", 0, 60, 100)
            out = np.zeros((1024, 2), np.float32)
            blocks = []
            for _ in range(8):
                s.process(out, [])
                blocks.append(out.copy())
            return np.concatenate(blocks)
        a = render()
        freed = release_library_pages()
        left = sum(r for _, _, r in clean_library_maps())
        again = release_library_pages()  # the second time from the maps found the first
        b = render()
        back = sum(r for _, _, r in clean_library_maps())
        f = numba.njit(lambda x: x * 2 + 1)
        print(freed >> 20, left >> 20, back >> 20, np.array_equal(a, b), abs(a).max() > 0.01,
              f(20), again == freed)
    """)
    env = {**os.environ, "PYTHONPATH": str(REPO), "MOS_LAB_COMPILE_NOTICE": "0"}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    freed, left, back, same, loud, compiled, again = run.stdout.split()
    assert int(freed) > 20 and int(left) == 0, run.stdout
    assert int(back) < 4, f"playing faulted {back} MB of LLVM back in"
    assert (same, loud, compiled, again) == ("True", "True", "41", "True")
