"""Voxelwise maths: SimpleITK's values and result types where it has the filter; documented types elsewhere."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import imalgebra as ia
from imalgebra import PixelType as P


def load_images():
    """tests/algebra/_images.py, loaded once by path (tests/ is not a package)."""
    name = "_imalgebra_test_images"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "algebra" / "_images.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


_images = load_images()
INTEGERS, FLOATS, VECTORS = _images.INTEGERS, _images.FLOATS, _images.VECTORS
assert_same_result, same_space, to_sitk = _images.assert_same_result, _images.same_space, _images.to_sitk

# name -> (ours, SimpleITK's name, pixel types, magnitude of generated values)
UNARY = {
    "exp": (ia.exp, "Exp", INTEGERS + FLOATS, 50),
    "log": (ia.log, "Log", INTEGERS + FLOATS, None),
    "log10": (ia.log10, "Log10", INTEGERS + FLOATS, None),
    "sqrt": (ia.sqrt, "Sqrt", INTEGERS + FLOATS, None),
    "square": (ia.square, "Square", INTEGERS + FLOATS, None),
    "sin": (ia.sin, "Sin", INTEGERS + FLOATS, 1e4),
    "cos": (ia.cos, "Cos", INTEGERS + FLOATS, 1e4),
    "tan": (ia.tan, "Tan", INTEGERS + FLOATS, 1e4),
    "asin": (ia.asin, "Asin", INTEGERS + FLOATS, 2),
    "acos": (ia.acos, "Acos", INTEGERS + FLOATS, 2),
    "atan": (ia.atan, "Atan", INTEGERS + FLOATS, None),
    "abs": (ia.abs, "Abs", INTEGERS + FLOATS, None),
    "round": (ia.round, "Round", FLOATS, 1e6),
}


@pytest.mark.sitk
@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_unary_functions_match_simpleitk_values_and_types(sitk, name, data):
    ours, theirs, types, magnitude = UNARY[name]
    pixel_type = data.draw(st.sampled_from(types))
    (a,) = data.draw(same_space(1, pixel_type, magnitude=magnitude))
    result = ia.evaluate(ours(a))
    expected = getattr(sitk, theirs)(to_sitk(sitk, a))
    if pixel_type.is_integer and name != "abs":
        # integers: the double result converted back with cast's rules
        assert result.pixel_type.id == expected.GetPixelID()
        got, want = np.asarray(result), sitk.GetArrayFromImage(expected)
        if pixel_type is P.UInt32:  # SimpleITK converts a double outside [-2**31, 2**32) by SIMD lane: skip those
            function = getattr(np, {"asin": "arcsin", "acos": "arccos", "atan": "arctan"}.get(name, name))
            with np.errstate(all="ignore"):
                exact = np.trunc(function(np.asarray(a).astype(np.float64)))
            keep = (exact >= -(2.0**31)) & (exact < 2.0**32)
            got, want = got[keep], want[keep]
        assert np.sum(got != want) == 0, (got, want)
        return
    assert_same_result(result, expected, sitk, rtol=1e-6)


@pytest.mark.sitk
@pytest.mark.parametrize("name", ["exp", "sqrt", "abs", "square"])
def test_functions_work_per_component_on_vector_images_as_simpleitk(sitk, name):
    ours, theirs, _, _ = UNARY[name]
    v = ia.from_array(np.array([[[0.5, 2.0], [3.0, 4.5]]], np.float32), is_vector=True)
    assert_same_result(ia.evaluate(ours(v)), getattr(sitk, theirs)(to_sitk(sitk, v)), sitk)


BINARY = {
    "atan2": (ia.atan2, "Atan2", 1e4),
    "minimum": (ia.minimum, "Minimum", None),
    "maximum": (ia.maximum, "Maximum", None),
    "pow": (ia.pow, "Pow", 3),
}


@pytest.mark.sitk
@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data())
def test_binary_functions_match_simpleitk_for_same_types(sitk, name, data):
    ours, theirs, magnitude = BINARY[name]
    types = FLOATS if name == "pow" else INTEGERS + FLOATS
    a, b = data.draw(same_space(2, data.draw(st.sampled_from(types)), magnitude=magnitude))
    result = ia.evaluate(ours(a, b))
    assert_same_result(result, getattr(sitk, theirs)(to_sitk(sitk, a), to_sitk(sitk, b)), sitk, rtol=1e-5)


def test_integer_inputs_keep_their_type_as_simpleitk_unless_asked():
    i16 = ia.from_array(np.array([[1, 2, -3, 10]], np.int16))
    assert ia.exp(i16).pixel_type is P.Int16
    assert ia.to_array(ia.evaluate(ia.exp(i16))).tolist() == [[2, 7, 0, 22026]]
    assert ia.to_array(ia.evaluate(ia.sqrt(i16))).tolist() == [[1, 1, 0, 3]]  # sqrt(-3) is NaN -> 0
    as_float = ia.sqrt(i16, pixel_type=P.Float32)
    assert as_float.pixel_type is P.Float32
    np.testing.assert_allclose(ia.to_array(ia.evaluate(as_float)), [[1, 2**0.5, np.nan, 10**0.5]], rtol=1e-7)
    assert ia.log(i16, to=P.Float64).pixel_type is P.Float64


def test_pixel_type_override_keeps_kinds_apart():
    v = ia.Image.zeros((2, 2), P.VectorInt16, components=2)
    assert ia.exp(v, pixel_type=P.Float32).pixel_type is P.VectorFloat32
    with pytest.raises(ia.PixelTypeError):
        ia.exp(ia.Image.zeros((2, 2), P.Float32), pixel_type=P.ComplexFloat32)
    with pytest.raises(ia.PixelTypeError):
        ia.exp(ia.Image.zeros((2, 2), P.Float32), pixel_type=P.LabelUInt8)


def test_round_is_half_up_and_leaves_nan_and_inf():
    f = ia.from_array(np.array([[-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, -0.49999997, np.nan, np.inf, 3e9]], np.float32))
    out = ia.to_array(ia.evaluate(ia.round(f)))
    np.testing.assert_array_equal(out, [[-2, -1, 0, 1, 2, 3, 0, np.nan, np.inf, 3e9]])


def test_exact_functions_keep_integers():
    i = ia.from_array(np.array([[-3, 0, 4]], np.int8))
    for fn in (ia.floor, ia.ceil, ia.trunc, ia.round):
        assert ia.to_array(ia.evaluate(fn(i))).tolist() == [[-3, 0, 4]]
    assert ia.to_array(ia.evaluate(ia.sign(i))).tolist() == [[-1, 0, 1]]
    f = ia.from_array(np.array([[-1.5, 1.5]], np.float64))
    assert ia.to_array(ia.evaluate(ia.floor(f))).tolist() == [[-2.0, 1.0]]
    assert ia.to_array(ia.evaluate(ia.ceil(f))).tolist() == [[-1.0, 2.0]]
    assert ia.to_array(ia.evaluate(ia.trunc(f))).tolist() == [[-1.0, 1.0]]


def test_complex_functions():
    c = ia.from_array(np.array([[1 + 1j, -4 + 0j]], np.complex64))
    assert ia.sqrt(c).pixel_type is P.ComplexFloat32
    np.testing.assert_allclose(ia.to_array(ia.evaluate(ia.sqrt(c))), np.sqrt(np.array([[1 + 1j, -4]])), rtol=1e-6)
    assert ia.to_array(ia.evaluate(ia.real(c))).tolist() == [[1.0, -4.0]]
    assert ia.to_array(ia.evaluate(ia.imag(c))).tolist() == [[1.0, 0.0]]
    assert ia.real(c).pixel_type is P.Float32
    with pytest.raises(ia.PixelTypeError):
        ia.atan(c)
    with pytest.raises(ia.PixelTypeError):
        ia.round(c)


def test_minimum_and_maximum_promote_and_propagate_nan():
    i16 = ia.from_array(np.array([[1, 5]], np.int16))
    assert ia.to_array(ia.evaluate(ia.minimum(i16, 2.5))).tolist() == [[1.0, 2.5]]  # SimpleITK: [1, 2]
    f = ia.from_array(np.array([[np.nan, 1.0]], np.float32))
    out = ia.to_array(ia.evaluate(ia.maximum(f, 0)))
    assert np.isnan(out[0, 0]) and out[0, 1] == 1.0
