"""Operators on images and expressions build validated nodes; evaluation gives numpy's values."""

from __future__ import annotations

import importlib.util
import operator
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import imalgebra as ia
from imalgebra.algebra.expr import Expr


def load_images():
    """tests/algebra/_images.py, loaded once by path (tests/ is not a package)."""
    name = "_imalgebra_test_images"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).resolve().parents[1] / "algebra" / "_images.py"
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


_images = load_images()
COMPLEX, FLOATS, INTEGERS, VECTORS = _images.COMPLEX, _images.FLOATS, _images.INTEGERS, _images.VECTORS
assert_same_result, same_space, to_sitk = _images.assert_same_result, _images.same_space, _images.to_sitk


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
    assert values(a <= 2).tolist() == [[1, 0, 0]]


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


# -- differential tests against SimpleITK --------------------------------------------
BINARY = {
    "+": (operator.add, INTEGERS + FLOATS + VECTORS + COMPLEX),
    "-": (operator.sub, INTEGERS + FLOATS + VECTORS + COMPLEX),
    "*": (operator.mul, INTEGERS + FLOATS + COMPLEX),
    "&": (operator.and_, INTEGERS),
    "|": (operator.or_, INTEGERS),
    "^": (operator.xor, INTEGERS),
    "<": (operator.lt, INTEGERS + FLOATS),
    "<=": (operator.le, INTEGERS + FLOATS),
    ">": (operator.gt, INTEGERS + FLOATS),
    ">=": (operator.ge, INTEGERS + FLOATS),
    "==": (operator.eq, INTEGERS + FLOATS),
    "!=": (operator.ne, INTEGERS + FLOATS),
}


@pytest.mark.sitk
@pytest.mark.parametrize("symbol", sorted(BINARY))
@given(data=st.data())
def test_binary_operators_match_simpleitk_for_same_types(sitk, symbol, data):
    op, types = BINARY[symbol]
    pixel_type = data.draw(st.sampled_from(types))
    # complex overflow (inf/nan parts) differs between C++ std::complex and numpy: stay finite there
    a, b = data.draw(same_space(2, pixel_type, **({"magnitude": 1e15} if pixel_type.is_complex else {})))
    ours = ia.evaluate(op(a, b))
    assert ours.pixel_type == a.pixel_type or symbol in ("<", "<=", ">", ">=", "==", "!=")
    assert_same_result(ours, op(to_sitk(sitk, a), to_sitk(sitk, b)), sitk)


@pytest.mark.sitk
@given(data=st.data())
def test_true_division_matches_simpleitk_values_in_a_float_type(sitk, data):
    a, b = data.draw(same_space(2, INTEGERS + FLOATS))
    ours = ia.evaluate(a / b)
    assert ours.pixel_type.is_float  # SimpleITK: always Float64; here numpy's true_divide type
    expected_type = ia.PixelType.Float32 if a.pixel_type is ia.PixelType.Float32 else ia.PixelType.Float64
    assert ours.pixel_type is expected_type
    assert_same_result(ours, to_sitk(sitk, a) / to_sitk(sitk, b), sitk, same_type=False)


@pytest.mark.sitk
@given(data=st.data())
def test_floor_division_matches_simpleitk_away_from_zero_divisors(sitk, data):
    # SimpleITK floors a double quotient: exact only below 2**53 (here: exact integer floor division)
    a, b = data.draw(same_space(2, INTEGERS, magnitude=2**53))
    assume(not np.any(np.asarray(b) == 0))  # x // 0: 0 here (numpy), the type's max in SimpleITK
    assert_same_result(ia.evaluate(a // b), to_sitk(sitk, a) // to_sitk(sitk, b), sitk)


@pytest.mark.sitk
@given(data=st.data())
def test_floor_division_of_integer_valued_floats_matches_simpleitk(sitk, data):
    a, b = data.draw(same_space(2, FLOATS, magnitude=1e6))
    a, b = ia.evaluate(ia.round(a)), ia.evaluate(ia.round(b))
    assert_same_result(ia.evaluate(a // b), to_sitk(sitk, a) // to_sitk(sitk, b), sitk)


@pytest.mark.sitk
@given(data=st.data())
def test_modulus_matches_simpleitk_for_non_negative_operands(sitk, data):
    a, b = data.draw(same_space(2, INTEGERS))
    assume(np.all(np.asarray(a) >= 0) and np.all(np.asarray(b) > 0))
    assert_same_result(ia.evaluate(a % b), sitk.Modulus(to_sitk(sitk, a), to_sitk(sitk, b)), sitk)


@pytest.mark.sitk
@given(data=st.data())
def test_integer_power_matches_simpleitk_without_overflow(sitk, data):
    a, b = data.draw(same_space(2, INTEGERS, magnitude=2))
    signed = a.pixel_type.is_signed
    b = ia.evaluate(ia.clamp(b, -3 if signed else 0, 6))  # |2 ** 6| fits every integer type
    assume(not np.any((np.asarray(a) == 0) & (np.asarray(b) < 0)))  # 0 ** -n: 0 here, C's inf cast in SimpleITK
    assert_same_result(ia.evaluate(a**b), to_sitk(sitk, a) ** to_sitk(sitk, b), sitk)


@pytest.mark.sitk
@given(data=st.data())
def test_float_and_complex_power_match_simpleitk(sitk, data):
    a, b = data.draw(same_space(2, FLOATS + COMPLEX, magnitude=10))
    if a.pixel_type.is_complex:  # complex 0 ** z: numpy (and Python) give 1 or 0, C++ std::pow NaN
        assume(not np.any(np.asarray(a) == 0))
    assert_same_result(ia.evaluate(a**b), to_sitk(sitk, a) ** to_sitk(sitk, b), sitk, rtol=1e-5)


UNARY = {
    "neg": (operator.neg, tuple(p for p in INTEGERS if p.is_signed) + FLOATS + VECTORS[:1] + COMPLEX),
    "abs": (abs, INTEGERS + FLOATS),
    "invert": (operator.invert, INTEGERS),
}


@pytest.mark.sitk
@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_unary_operators_match_simpleitk(sitk, name, data):
    op, types = UNARY[name]
    (a,) = data.draw(same_space(1, types))
    assert_same_result(ia.evaluate(op(a)), op(to_sitk(sitk, a)), sitk)


SCALAR_OPS = ("+", "-", "*", "<", "<=", ">", ">=", "==", "!=", "&", "|", "^")


@pytest.mark.sitk
@pytest.mark.parametrize("symbol", SCALAR_OPS)
@given(data=st.data())
def test_image_scalar_operators_match_simpleitk_when_the_scalar_fits_the_type(sitk, symbol, data):
    op, types = BINARY[symbol]
    types = tuple(t for t in types if not t.is_complex)
    (a,) = data.draw(same_space(1, types))
    component = a.pixel_type.component_type
    if component.is_integer:
        value = data.draw(st.integers(max(component.min, -100), min(component.max, 100)))
    else:
        value = data.draw(st.floats(-100, 100).map(lambda v: float(np.float32(v))))
    s = to_sitk(sitk, a)
    assert_same_result(ia.evaluate(op(a, value)), op(s, value), sitk)
    assert_same_result(ia.evaluate(op(value, a)), op(value, s), sitk)


@given(data=st.data())
def test_a_plus_b_and_b_plus_a_agree(data):
    a, b = data.draw(same_space(2, INTEGERS + FLOATS + COMPLEX))
    b = b.with_origin(tuple(o + 1e-7 * s for o, s in zip(b.origin, b.spacing, strict=True)))
    left, right = ia.evaluate(a + b), ia.evaluate(b + a)
    np.testing.assert_array_equal(np.asarray(left), np.asarray(right))
    assert left.geometry == a.geometry and right.geometry == b.geometry  # the first operand's, as SimpleITK


def test_uint8_plus_300_raises_as_numpy_2_does():
    a = image([[1, 2]], np.uint8)
    with pytest.raises(TypeError, match="300 does not fit uint8"):
        a + 300
    assert (a + np.int16(300)).pixel_type is ia.PixelType.Int16
    assert values(a < 300).tolist() == [[1, 1]]  # comparisons take any Python integer, as numpy


def test_constants_are_not_cast_to_the_pixel_type_first():
    a = image([[200, 7]], np.uint8)
    assert values(a * 2.5).tolist() == [[500.0, 17.5]]
    assert values(a == 7.5).tolist() == [[0, 0]]
    assert values(a**0.5).ravel().tolist() == pytest.approx([200**0.5, 7**0.5])


def test_integer_division_and_modulus_by_zero_give_zero():
    a = image([[5, -5, 0]], np.int16)
    z = image([[0, 0, 0]], np.int16)
    assert values(a // z).tolist() == [[0, 0, 0]]
    assert values(a % z).tolist() == [[0, 0, 0]]
    assert values(a // 0).tolist() == [[0, 0, 0]]
    f = image([[1.0, -1.0, 0.0]], np.float32)
    out = values(f / 0)
    assert out[0, 0] == np.inf and out[0, 1] == -np.inf and np.isnan(out[0, 2])


def test_modulus_takes_the_divisor_sign_so_floor_division_identity_holds():
    a = image([[-7, 7, -7, 7]], np.int16)
    b = image([[2, -2, -2, 2]], np.int16)
    assert values(a % b).tolist() == [[1, -1, -1, 1]]  # SimpleITK (C): [-1, 1, -1, 1]
    assert (values(a // b) * np.asarray(b) + values(a % b)).tolist() == np.asarray(a).tolist()


def test_negative_integer_powers_truncate():
    a = image([[2, -1, 1, -1, 0]], np.int16)
    e = image([[-1, -3, -5, -2, -1]], np.int16)
    assert values(a**e).tolist() == [[0, -1, 1, 1, 0]]


def test_vector_images_work_per_component():
    v = ia.from_array(np.array([[[1, 2, 3], [4, 5, 6]]], dtype=np.int16), is_vector=True)
    s = ia.from_array(np.array([[10, 20]], dtype=np.int16))
    assert (v + v).pixel_type is ia.PixelType.VectorInt16
    assert values(v + 1).tolist() == [[[2, 3, 4], [5, 6, 7]]]
    assert values(v * s).tolist() == [[[10, 20, 30], [80, 100, 120]]]
    assert values(v > 2).tolist() == [[[0, 0, 1], [1, 1, 1]]]
    assert (v > 2).pixel_type is ia.PixelType.VectorUInt8


def test_vector_images_with_different_component_counts_are_refused():
    v3 = ia.from_array(np.zeros((1, 2, 3), np.float32), is_vector=True)
    v2 = ia.from_array(np.zeros((1, 2, 2), np.float32), is_vector=True)
    with pytest.raises(ia.PixelTypeError, match="different component counts"):
        v3 + v2


def test_vector_and_complex_do_not_mix():
    v = ia.from_array(np.zeros((1, 2, 3), np.float32), is_vector=True)
    with pytest.raises(ia.PixelTypeError, match="real components"):
        v + 1j


def test_complex_images():
    c = ia.from_array(np.array([[1 + 2j, 3 - 1j]], dtype=np.complex64))
    assert (c * 2).pixel_type is ia.PixelType.ComplexFloat32
    assert values(c * c).tolist() == [[(1 + 2j) ** 2, (3 - 1j) ** 2]]
    assert values(abs(c)).dtype == np.float32
    assert values(c == c).tolist() == [[1, 1]]
    with pytest.raises(ia.PixelTypeError, match="no order"):
        _ = c < c
    with pytest.raises(ia.PixelTypeError, match="floor division"):
        _ = c // c


def test_label_images_take_part_as_their_integer_type():
    labels = ia.Image.from_pixels(np.array([[0, 3, 3, 0]], np.uint8), ia.Geometry(size=(4, 1)), ia.PixelType.LabelUInt8)
    assert (labels + 1).pixel_type is ia.PixelType.UInt8
    assert values(labels == 3).tolist() == [[0, 1, 1, 0]]
    assert values(labels * 100).tolist() == [[0, 44, 44, 0]]
