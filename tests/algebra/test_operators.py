"""Operators on images and expressions build validated nodes; evaluation gives numpy's values."""

from __future__ import annotations

import numpy as np
import pytest

import imalgebra as ia
from imalgebra.algebra.expr import Expr


def image(values, dtype=None, **geometry):
    arr = np.asarray(values, dtype=dtype)
    img = ia.from_array(arr)
    return img.with_geometry(ia.Geometry(size=img.size, **geometry)) if geometry else img


def values(expr):
    return ia.to_array(ia.evaluate(expr))


def test_operators_build_nodes_and_compute_nothing():
    a = image([[1, 2], [3, 4]], np.int16)
    e = (a + 1) * 2 - a // 3 % 2
    assert isinstance(e, Expr)
    assert e.pixel_type is ia.PixelType.Int16
    assert e.geometry == a.geometry
    expected = (np.asarray(a) + 1) * 2 - np.asarray(a) // 3 % 2
    assert values(e).tolist() == expected.tolist()


def test_same_type_integers_wrap_like_simpleitk():
    a = image([[200, 7, 0]], np.uint8)
    b = image([[100, 2, 0]], np.uint8)
    assert values(a + b).tolist() == [[44, 9, 0]]
    assert values(b - a).tolist() == [[156, 251, 0]]
    assert values(a * b).tolist() == [[32, 14, 0]]


def test_scalars_on_both_sides_and_numpy_scalars_build_nodes():
    a = image([[1.0, 2.0]], np.float32)
    for e in (a + 1, 1 + a, 2 - a, 2 / a, 2**a, np.float32(1) + a, np.float64(2) * a):
        assert isinstance(e, Expr)
    assert (np.float32(1) + a).pixel_type is ia.PixelType.Float32
    assert (np.float64(1) + a).pixel_type is ia.PixelType.Float64
    assert values(2 - a).tolist() == [[1.0, 0.0]]
    assert values(2**a).tolist() == [[2.0, 4.0]]


def test_comparisons_give_uint8_masks():
    a = image([[1.0, np.nan, 3.0]], np.float32)
    assert (a < 2).pixel_type is ia.PixelType.UInt8
    assert values(a < 2).tolist() == [[1, 0, 0]]
    assert values(a == a).tolist() == [[1, 0, 1]]
    assert values(a != 3).tolist() == [[1, 1, 0]]
    assert values(2 >= a).tolist() == [[1, 0, 0]]


def test_equality_operator_builds_a_node_and_truth_testing_raises():
    a = image([[1, 2]], np.uint8)
    e = a == a
    assert isinstance(e, Expr)
    with pytest.raises(TypeError, match="ambiguous"):
        bool(e)
    with pytest.raises(TypeError, match="ambiguous"):
        bool(a)
    assert (a + 1).equals(a + 1) and not (a + 1).equals(a + 2)


def test_bitwise_on_floats_is_a_clear_type_error():
    f = image([[1.0]], np.float32)
    for op in (lambda: f & 1, lambda: f | f, lambda: 1 ^ f, lambda: ~f):
        with pytest.raises(TypeError, match="Float32"):
            op()


def test_numpy_arrays_are_refused_with_a_hint():
    a = image([[1, 2]], np.uint8)
    with pytest.raises(TypeError, match="from_array"):
        a + np.ones((1, 2))
    with pytest.raises(TypeError, match="from_array"):
        np.ones((1, 2)) + a


def test_unknown_operands_return_not_implemented():
    a = image([[1, 2]], np.uint8)
    with pytest.raises(TypeError):
        a + "x"
    with pytest.raises(TypeError):
        None * a
    assert a.__add__("x") is NotImplemented


def test_unary_operators():
    a = image([[-128, 7]], np.int8)
    assert values(-a).tolist() == [[-128, -7]]
    assert values(abs(a)).tolist() == [[-128, 7]]
    assert values(~a).tolist() == [[127, -8]]
    assert +a is a
    u = image([[1, 0]], np.uint8)
    assert values(-u).tolist() == [[255, 0]]
