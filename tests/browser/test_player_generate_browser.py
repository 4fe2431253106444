"""The Player's generate panel in a real page: the fields follow the model chosen, Generate
shows progress bar by bar, Cancel part-way keeps the score, a finished generation
replaces it, and a bad request shows the kernel's message."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import SHOTS, Lab, kernel_json, run_notebook, wait_until, write_notebook

pytestmark = pytest.mark.browser

CELLS = [
    "import threading, mos_lab\n"
    "from mos_lab.ai.core.backend import FunctionBackend\n"
    "from mos_lab.ai.core.types import GenerationResult, ModelInfo\n"
    "from mos_lab.ai.service.generation import GenerationService\n"
    "session = mos_lab.session()\n"
    "session.load(mos_lab.Score.from_notes([(0, 960, 60, 80)], title='before'))\n"
    "gate = threading.Event()\n"
    "def bars(req, progress, cancel):\n"
    "    rows = []\n"
    "    for b in range(req.bars):\n"
    "        if b == 2:\n"
    "            while not gate.wait(0.02):\n"
    "                cancel.check()\n"
    "        cancel.sleep(0.3)\n"
    "        rows += [(b * 1920 + i * 480, 480, 60 + b, 80) for i in range(4)]\n"
    "        progress(b + 1, req.bars)\n"
    "    return GenerationResult(score=mos_lab.Score.from_notes(rows, title='generated'))\n"
    "svc = GenerationService([FunctionBackend(bars, ModelInfo('steps', '1', 'beef'))],\n"
    "                        concurrency=1)",
    "player = mos_lab.widgets.Player(service=svc)\nplayer",
]


def test_generate_progress_cancel_and_replace_from_the_page(lab: Lab,
                                                            browser_context: Any) -> None:
    page = browser_context.new_page()
    try:
        run_notebook(page, lab.open_url(write_notebook(lab.root, "player_generate.ipynb",
                                                       CELLS)))
        panel = page.locator(".mos-gen").first
        panel.wait_for(timeout=60_000)
        panel.locator("summary").click()
        assert panel.locator(".mos-gen-model option").all_inner_texts() == ["steps"]
        assert panel.locator(".mos-gen-f-period").is_hidden()  # "steps" reads a prompt only
        panel.locator(".mos-gen-bars").fill("4")
        panel.locator(".mos-gen-go").click()
        wait_until(lambda: panel.locator(".mos-gen-progress").evaluate("e => e.value") >= 2,
                   20, what="progress bar by bar")
        assert panel.get_attribute("data-state") == "running"
        assert panel.locator(".mos-gen-go").is_disabled()
        assert "bar 2 of 4" in panel.locator(".mos-gen-status").inner_text()
        panel.locator(".mos-gen-cancel").click()
        wait_until(lambda: panel.get_attribute("data-state") == "cancelled", 20,
                   what="the cancel")
        assert kernel_json(page, "player.current_score.title") == "before"
        kernel_json(page, "gate.set() or 0")
        panel.locator(".mos-gen-go").click()
        wait_until(lambda: panel.get_attribute("data-state") == "done", 30,
                   what="a finished generation")
        assert kernel_json(page, "[player.current_score.title, len(player.current_score.notes)]"
                           ) == ["generated", 16]
        assert kernel_json(page, "player.gen_status['provenance']['model']") == "steps"
        panel.locator(".mos-gen-bars").fill("500")  # above the limit: the kernel says so
        panel.locator(".mos-gen-go").click()
        toast = page.locator(".mos-toast.mos-show").first
        toast.wait_for(timeout=10_000)
        assert "generate.bars: 500 is above 64" in toast.inner_text()
        panel.screenshot(path=str(SHOTS / "player_generate.png"))
        kernel_json(page, "player.close() or svc.close() or 0")
    finally:
        page.close()
