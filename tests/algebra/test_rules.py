"""The pixel-type rules: docs/type-rules.md's tables agree with the code, and kernels produce the declared types."""

from __future__ import annotations

import itertools
import operator
import re
from pathlib import Path

import numpy as np
import pytest

import imalgebra as ia
from imalgebra import PixelType as P
from imalgebra.algebra.operand import Constant
from imalgebra.algebra.rules import promote

DOC = Path(__file__).resolve().parents[2] / "docs" / "type-rules.md"
SHORT = {
    "U8": P.UInt8,
    "I8": P.Int8,
    "U16": P.UInt16,
    "I16": P.Int16,
    "U32": P.UInt32,
    "I32": P.Int32,
    "U64": P.UInt64,
    "I64": P.Int64,
    "F32": P.Float32,
    "F64": P.Float64,
    "C64": P.ComplexFloat32,
    "C128": P.ComplexFloat64,
}
REALS = [P.UInt8, P.Int8, P.UInt16, P.Int16, P.UInt32, P.Int32, P.UInt64, P.Int64, P.Float32, P.Float64]
SCALARS = [
    Constant(1),
    Constant(2.5),
    Constant(1j),
    Constant(1, "int16"),
    Constant(1.0, "float32"),
    Constant(1.0, "float64"),
]


def doc_table(name: str) -> list[list[str]]:
    text = DOC.read_text()
    body = re.search(rf"<!-- table:{name} -->\n(.*?)\n<!-- end -->", text, re.S)
    assert body, f"table {name} missing from {DOC}"
    rows = [line.strip("|").split("|") for line in body.group(1).splitlines() if not line.startswith("|---")]
    return [[cell.strip().strip("*") for cell in row] for row in rows]


@pytest.mark.parametrize("op", ["add", "truediv"])
def test_the_documented_mixed_type_tables_are_the_rules(op):
    header, *rows = doc_table(op)
    columns = [SHORT[c] for c in header[1:]]
    assert columns == REALS
    for row in rows:
        left = SHORT[row[0]]
        for right, cell in zip(columns, row[1:], strict=True):
            assert promote(op, (left, 1), (right, 1))[0] is SHORT[cell], (op, left, right)


def test_the_documented_scalar_table_is_the_rules():
    rows = doc_table("scalars")
    for row in rows:
        image = SHORT[row[0]]
        for constant, cell in zip(SCALARS, row[1:], strict=True):
            assert promote("add", (image, 1), constant)[0] is SHORT[cell], (image, constant)


def test_mixed_types_follow_numpy_result_type():
    for a, b in itertools.product(REALS, repeat=2):
        expected = np.result_type(a.dtype, b.dtype)
        assert promote("add", (a, 1), (b, 1))[0].dtype == expected
        assert promote("sub", (b, 1), (a, 1))[0].dtype == expected


OPERATORS = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
    "**": operator.pow,
    "<": operator.lt,
    "==": operator.eq,
    "minimum": ia.minimum,
    "maximum": ia.maximum,
    "atan2": ia.atan2,
}


@pytest.mark.parametrize("symbol", sorted(OPERATORS))
def test_kernels_produce_exactly_the_declared_type_for_every_pair(symbol):
    op = OPERATORS[symbol]
    g = ia.Geometry(size=(3, 2))
    for a, b in itertools.product(REALS, repeat=2):
        left = ia.Image.from_pixels(np.array([[1, 2, 3], [4, 5, 6]], a.dtype), g)
        right = ia.Image.from_pixels(np.array([[1, 1, 2], [2, 3, 3]], b.dtype), g)
        e = op(left, right)
        out = ia.evaluate(e)  # the evaluator checks the kernel's dtype and shape against e's
        assert out.pixel_type is e.pixel_type
        assert np.asarray(out).dtype == e.pixel_type.dtype


@pytest.mark.parametrize("constant", [1, 2.5, 1j, np.int16(1), np.float32(1.5), np.uint8(3), True])
def test_kernels_produce_the_declared_type_with_scalars(constant):
    g = ia.Geometry(size=(2, 2))
    for a in [*REALS, P.ComplexFloat32, P.ComplexFloat64]:
        img = ia.Image.from_pixels(np.ones((2, 2), a.dtype), g)
        for e in (img + constant, constant - img, img * constant):
            assert np.asarray(ia.evaluate(e)).dtype == e.pixel_type.dtype


def test_python_integers_that_do_not_fit_raise_at_construction():
    u8 = ia.Image.zeros((2, 2), P.UInt8)
    i8 = ia.Image.zeros((2, 2), P.Int8)
    for build in (lambda: u8 + 300, lambda: u8 + -1, lambda: i8 * 1000, lambda: 256 - u8):
        with pytest.raises(ia.PixelTypeError, match="does not fit"):
            build()
    assert (u8 - 1).pixel_type is P.UInt8
    assert (u8 + np.int16(300)).pixel_type is P.Int16
    assert (u8 == -1).pixel_type is P.UInt8


def test_vector_rules():
    v = ia.Image.zeros((2, 2), P.VectorUInt8, components=3)
    f = ia.Image.zeros((2, 2), P.Float32)
    assert (v + f).pixel_type is P.VectorFloat32 and (v + f).components == 3
    assert (f * v).components == 3
    assert (v / 2).pixel_type is P.VectorFloat64
    assert (v < 2).pixel_type is P.VectorUInt8
    with pytest.raises(ia.PixelTypeError, match="component counts"):
        v + ia.Image.zeros((2, 2), P.VectorUInt8, components=2)
    with pytest.raises(ia.PixelTypeError, match="real components"):
        v + ia.Image.zeros((2, 2), P.ComplexFloat32)


def test_label_rules():
    lab = ia.Image.zeros((2, 2), P.LabelUInt16)
    assert (lab + 1).pixel_type is P.UInt16
    assert (lab == 1).pixel_type is P.UInt8
    assert (lab & 1).pixel_type is P.UInt16
    assert (-lab).pixel_type is P.UInt16
    assert (lab / 2).pixel_type is P.Float64


def test_bitwise_and_ordering_errors_name_the_operator_and_type():
    f = ia.Image.zeros((2, 2), P.Float64)
    c = ia.Image.zeros((2, 2), P.ComplexFloat64)
    with pytest.raises(ia.PixelTypeError, match=r"and \(&\) is bitwise .* Float64"):
        _ = f & f
    with pytest.raises(ia.PixelTypeError, match=r"ComplexFloat64"):
        _ = ~c
    with pytest.raises(ia.PixelTypeError, match="no order"):
        _ = c > 1
    with pytest.raises(TypeError):  # PixelTypeError is a TypeError
        _ = f ^ 1


def test_same_type_operands_keep_their_type():
    for p in [*REALS, P.ComplexFloat64]:
        img = ia.Image.zeros((2, 2), p)
        for op in (operator.add, operator.sub, operator.mul, operator.pow):
            assert op(img, img).pixel_type is p
