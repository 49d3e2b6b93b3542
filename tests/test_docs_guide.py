"""Every ```python block of docs/guide.md runs, in order, in one namespace: the guide cannot rot."""

from __future__ import annotations

import re
from pathlib import Path

PAGE = Path(__file__).resolve().parents[1] / "docs" / "guide.md"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def test_the_guide_runs_from_top_to_bottom(capsys):
    text = PAGE.read_text()
    namespace: dict = {"__name__": "docs_guide"}
    blocks = list(BLOCK.finditer(text))
    assert len(blocks) >= 8
    for match in blocks:
        line = text.count("\n", 0, match.start()) + 1
        exec(compile(match.group(1), f"{PAGE}:{line}", "exec"), namespace)
    printed = capsys.readouterr().out
    assert "inputs do not occupy the same physical space" in printed
    assert "read-only" in printed
