"""The notebook's progress bar for a job (an ipywidgets bar; nothing outside a kernel)."""

from __future__ import annotations

import sys
from collections.abc import Callable


def notebook_bar(total: int, label: str) -> Callable[[int, int], None] | None:
    """A (done, total) callback that moves a bar shown in the running notebook, or None."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None or not hasattr(shell, "kernel"):
        return None
    import ipywidgets
    from IPython.display import display

    bar = ipywidgets.IntProgress(value=0, min=0, max=total, description=label[:20])
    text = ipywidgets.Label(f"0 / {total}")
    display(ipywidgets.HBox([bar, text]))

    def update(done: int, n: int) -> None:
        bar.value = done
        text.value = f"{done} / {n}"
        if done >= n:
            bar.bar_style = "success"

    return update
