"""Every line of the API contract (shared/API.md) runs as written.

The code blocks are read from the contract itself and executed line by line in
one namespace per section, after a setup that defines the names the contract
takes as given (``img``, ``logo``, ``rgb``, files...). Lines that are not
standalone Python (``.is_complex, ...`` continuations, ``@given(...)``
decorators, the line that is documented to raise) are translated by the small
table below; everything else is executed verbatim.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

import imalgebra as ia
from imalgebra import data

CONTRACT = Path(__file__).resolve().parents[2] / "shared" / "API.md"

# line (comment stripped) -> what to run instead
TRANSLATED = {
    "ia.PixelType.VectorUInt8.is_vector, .is_complex, .is_label, .is_integer": (
        "v = ia.PixelType.VectorUInt8; v.is_vector, v.is_complex, v.is_label, v.is_integer"
    ),
    "img3.with_direction(...), img3.with_geometry(other.geometry)": (
        "img3.with_direction((0, 1, 0, 1, 0, 0, 0, 0, 1)), img3.with_geometry(other.geometry)"
    ),
    "img1 + img2": "with pytest.raises(ia.PhysicalSpaceError):\n    img1 + img2",
    "with ia.tolerance(coordinate=1e-3, direction=1e-3):": None,  # joined with the next line below
    "arr = ia.to_dask(expr, chunks=...)": "arr = ia.to_dask(expr, chunks=None)",
}


def contract_sections() -> dict[str, list[str]]:
    if not CONTRACT.is_file():
        pytest.skip(f"the API contract is not at {CONTRACT}")
    text = CONTRACT.read_text()
    sections: dict[str, list[str]] = {}
    for match in re.finditer(r"^## (.+?)\n(.*?)(?=^## |\Z)", text, re.S | re.M):
        blocks = re.findall(r"```python\n(.*?)```", match.group(2), re.S)
        sections[match.group(1).strip()] = [line for block in blocks for line in block.splitlines()]
    return sections


def statements(lines: list[str]) -> list[str]:
    """Code lines without comments, continuation lines joined, translations applied."""
    out: list[str] = []
    pending = ""
    for raw in lines:
        code = re.sub(r"\s+#.*$", "", raw).rstrip()
        if not code.strip():
            continue
        if pending:
            if code.startswith((" ", "\t")) or code.lstrip().startswith(("size=", "evaluator=")):
                pending += "\n" + code
                if code.rstrip().endswith(")") and pending.count("(") == pending.count(")"):
                    out.append(pending)
                    pending = ""
                continue
            out.append(pending)
            pending = ""
        stripped = code.strip()
        if stripped in TRANSLATED and TRANSLATED[stripped] is None:
            pending = code
            continue
        if stripped in TRANSLATED:
            out.append(TRANSLATED[stripped])
        elif stripped.startswith("@given("):
            out.append(f"_strategy = {stripped[len('@given(') : -1]}\n_check(_strategy)")
        elif code.count("(") > code.count(")"):
            pending = code
        else:
            out.append(code)
    if pending:
        out.append(pending)
    return out


def _check_strategy(strategy) -> None:
    from hypothesis import find, settings

    find(strategy, lambda _: True, settings=settings(database=None, max_examples=5))


def namespace(tmp_path: Path, testdata: Path) -> dict:
    logo = data.logo()
    vol = data.head(size=(32, 32, 12))
    img = ia.from_array(np.arange(600, dtype=np.uint8).reshape(10, 20, 3))  # API.md's nda is (10, 20, 3)
    rgb = ia.Image.zeros((16, 8), ia.PixelType.VectorUInt8, components=3)
    r = g = b = ia.Image.zeros((16, 8), ia.PixelType.UInt8)
    a = c = ia.Image.zeros((16, 8), ia.PixelType.Float32)
    b_float = a.with_pixel((0, 0), 1.0)
    ia.write(logo, tmp_path / "logo.jpg")
    ia.write(vol, tmp_path / "head.mha")
    ia.write(data.head(size=(96, 96, 48)), tmp_path / "big.mha")
    ia.write(vol, tmp_path / "a.mha")
    ia.write(vol + 1, tmp_path / "b.mha")
    return {
        "ia": ia,
        "np": np,
        "pytest": pytest,
        "_check": _check_strategy,
        "logo": logo,
        "vol": vol,
        "img": img,
        "other": ia.Image.zeros((256, 128, 64), ia.PixelType.UInt8, spacing=(2, 2, 2)),
        "npa": np.ones((10, 20), np.uint8),
        "point": (1.0, 2.0, 3.0),
        "rgb": rgb,
        "r": r,
        "g": g,
        "b": b,
        "a": a,
        "c": c,
        "dest": ia.Image.zeros((16, 16), ia.PixelType.Int16),
        "src": ia.Image.zeros((8, 8), ia.PixelType.Int16) + 3,
        "size": (4, 4),
        "source_index": (1, 1),
        "dest_index": (2, 3),
        "index": (2, 2),
        "mask": a > 0,
        "other_expr": img + 1,
        "expr": ia.clamp((a - b_float) * 0.5 + c, 0, 100),
        "directory": str(testdata / "dicom" / "series" / "pydicom_ct5n"),
        "client": None,
    }


SECTIONS = [
    "Pixel types",
    "Construction and attributes",
    "Pixels and slicing",
    "numpy",
    "Expressions and evaluation",
    "Files",
    "Scale (planned; later issues)",
    "Property-based testing",
]


def run_section(section: str, sections: dict[str, list[str]], ns: dict) -> None:
    for statement in statements(sections[section]):
        if "slices_uint8" in statement:
            ns["slices_uint8"] = ia.cast(ia.rescale_intensity(ns["vol"]), ia.PixelType.UInt8)
        try:
            exec(compile(statement, f"API.md: {section}", "exec"), ns)
        except Exception as err:
            raise AssertionError(f"API.md ({section}) line failed: {statement!r}: {type(err).__name__}: {err}") from err


@pytest.mark.parametrize("section", SECTIONS)
def test_every_line_of_the_section_runs_as_written(section, tmp_path, testdata, monkeypatch):
    """Sections build on each other as in a user's session, so the ones before run first."""
    sections = contract_sections()
    assert section in sections, f"API.md has no section {section!r} (sections: {list(sections)})"
    monkeypatch.chdir(tmp_path)
    ns = namespace(tmp_path, testdata)
    for earlier in SECTIONS[: SECTIONS.index(section) + 1]:
        if earlier != section and earlier in ("Files", "Scale (planned; later issues)", "Property-based testing"):
            continue  # later sections do not need these
        if earlier == "Expressions and evaluation":  # img1: img2 of "Construction" with a spacing just off
            ns["img1"] = ns["img2"].with_spacing((1.0005, 1.0))
        run_section(earlier, sections, ns)
    if section == "Files":
        assert ns["vol"].metadata["0008|0060"] == "CT"
        assert ns["part"].size == (64, 64, 32)
        assert len([p for p in os.listdir(tmp_path) if p.startswith("slice")]) == ns["vol"].depth
    if section == "Expressions and evaluation":
        assert ns["out"].equals(ia.evaluate(ns["res"] - ns["img"]))
