"""Every ```python block of docs/property-testing.md runs, so the page cannot rot.

Each block is self-contained (its own imports) and runs in a fresh namespace;
blocks that define ``test_*`` functions call them themselves.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "property-testing.md"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def blocks() -> list[tuple[int, str]]:
    """``(line, code)`` of each python block, line counted from 1 at the fence."""
    text = PAGE.read_text()
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in BLOCK.finditer(text)]


def test_the_page_has_examples_for_every_strategy():
    code = "\n".join(source for _, source in blocks())
    for name in (
        "pixel_types",
        "geometries",
        "images",
        "same_space_images",
        "regions",
        "nearly_same_space",
        "expressions",
        "assert_image_equal",
    ):
        assert f"{name}(" in code, f"docs/property-testing.md has no runnable example of {name}"


@pytest.mark.parametrize(("line", "source"), blocks(), ids=[f"line{line}" for line, _ in blocks()])
def test_the_example_runs(line, source, capsys):
    code = compile(source, f"{PAGE}:{line}", "exec")
    exec(code, {"__name__": f"docs_example_line{line}"})
