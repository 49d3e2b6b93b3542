"""rescale_intensity: SimpleITK's RescaleIntensity bit for bit, via a min/max prerequisite."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import imalgebra as ia
from imalgebra.algebra.ops.intensity import IntensityLinear, RescaleIntensity
from imalgebra.algebra.ops.reductions import Extrema
from imalgebra.evaluate import reduce
from imalgebra.evaluate.eager import evaluate_region

SCALARS = [t for t in ia.PixelType if t.is_scalar]


def to_sitk(sitk, img):
    out = sitk.GetImageFromArray(ia.to_array(img), isVector=img.pixel_type.is_vector)
    out.SetSpacing(img.spacing)
    return out


def evaluate(expr):
    return ia.to_array(ia.evaluate(expr))


@st.composite
def bounds(draw, pixel_type):
    """An (out_min, out_max) pair that the pixel type holds."""
    component = pixel_type.component_type
    if component.is_integer:
        values = st.integers(max(component.min, -(2**53)), min(component.max, 2**53))  # bounds are float64
    else:
        values = st.floats(-1e6, 1e6, allow_nan=False, width=32)
    low, high = sorted((draw(values), draw(values)))
    return low, high


@st.composite
def cases(draw, vector=False):
    pixel_type = draw(st.sampled_from(SCALARS))
    shape = draw(hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=6))
    if vector:
        shape = (*shape, draw(st.integers(1, 3)))
    elements = {"allow_nan": True, "allow_infinity": False} if pixel_type.is_float else None
    arr = draw(hnp.arrays(pixel_type.dtype, shape, elements=elements))
    img = ia.from_array(arr, is_vector=vector)
    return img, draw(bounds(img.pixel_type))


@given(cases())
def test_rescale_intensity_matches_simpleitk_bit_for_bit(sitk, case):
    img, (low, high) = case
    expr = ia.rescale_intensity(img, low, high)
    expected = sitk.RescaleIntensity(to_sitk(sitk, img), low, high)
    out = ia.evaluate(expr)
    assert out.pixel_type is img.pixel_type
    assert out.pixel_type.id == expected.GetPixelID()
    np.testing.assert_array_equal(ia.to_array(out), sitk.GetArrayFromImage(expected))


@given(cases(vector=True))
def test_vector_images_are_rescaled_per_component_as_simpleitk_does(sitk, case):
    img, (low, high) = case
    expected = sitk.RescaleIntensity(to_sitk(sitk, img), low, high)
    out = evaluate(ia.rescale_intensity(img, low, high))
    np.testing.assert_array_equal(out, sitk.GetArrayFromImage(expected).reshape(out.shape))  # sitk drops 1 component


def test_the_fact_sheet_examples():
    u8 = ia.from_array(np.array([[10, 20, 30]], np.uint8))
    assert evaluate(ia.rescale_intensity(u8)).tolist() == [[0, 127, 255]]  # truncated, not rounded
    f32 = ia.from_array(np.array([[-1, 0, 3]], np.float32))
    assert evaluate(ia.rescale_intensity(f32)).tolist() == [[0.0, 63.75, 255.0]]
    constant = ia.from_array(np.full((2, 3), 5, np.float32))
    assert np.all(evaluate(ia.rescale_intensity(constant, 10, 20)) == 10)
    zeros = ia.Image.zeros((2, 3), ia.PixelType.Int16)
    assert np.all(evaluate(ia.rescale_intensity(zeros, -5, 5)) == -5)
    with_nan = evaluate(ia.rescale_intensity(ia.from_array(np.array([[1, np.nan, 3]], np.float32))))
    assert with_nan[0, 0] == 0 and math.isnan(with_nan[0, 1]) and with_nan[0, 2] == 255


def test_defaults_are_simpleitk_s():
    img = ia.Image.zeros((2, 2), ia.PixelType.Float64)
    expr = ia.rescale_intensity(img)
    assert (expr.out_min, expr.out_max) == (0.0, 255.0)


def test_the_minimum_and_maximum_are_a_declared_prerequisite():
    img = ia.from_array(np.array([[2.0, 4.0, 6.0]]))
    expr = ia.rescale_intensity(img, 0, 1)
    (extrema,) = expr.prerequisites()
    assert isinstance(extrema, Extrema) and extrema.arg is img
    bound = expr.bind([((2.0,), (6.0,))])
    assert isinstance(bound, IntensityLinear) and bound.prerequisites() == ()
    assert (bound.scale, bound.shift) == ((0.25,), (-0.5,))
    with pytest.raises(ia.EvaluationError, match="minimum and maximum first"):
        expr.compute(img.geometry.region, np.asarray(img))


def test_bounds_are_taken_as_the_pixel_type_holds_them(sitk):
    img = ia.from_array(np.array([[0.0, 1.0, 2.0]], np.float32))
    expr = ia.rescale_intensity(img, 0, 0.1)
    assert expr.out_max == float(np.float32(0.1))
    expected = sitk.RescaleIntensity(to_sitk(sitk, img), 0, 0.1)
    np.testing.assert_array_equal(evaluate(expr), sitk.GetArrayFromImage(expected))


@pytest.mark.parametrize(
    ("pixel_type", "low", "high", "match"),
    [
        (ia.PixelType.UInt8, 0, 300, "out_max=300 is not a UInt8 value"),
        (ia.PixelType.UInt8, -10, 100, "out_min=-10 is not a UInt8 value"),
        (ia.PixelType.Int16, 0, 2.5, "out_max=2.5 is not a Int16 value"),
        (ia.PixelType.Float32, 255, 0, "out_min=255 is greater than out_max=0"),
        (ia.PixelType.Float32, 0, math.inf, "must be finite"),
        (ia.PixelType.Float32, 0, 1e39, "overflows Float32"),
    ],
)
def test_bounds_outside_the_type_raise_instead_of_wrapping(pixel_type, low, high, match):
    with pytest.raises(ValueError, match=match):
        ia.rescale_intensity(ia.Image.zeros((2, 2), pixel_type), low, high)


def test_complex_images_have_no_order_to_rescale_by():
    with pytest.raises(ia.PixelTypeError, match="no order"):
        ia.rescale_intensity(ia.Image.zeros((2, 2), ia.PixelType.ComplexFloat32))


def test_rescaling_an_expression_reduces_the_expression_once_then_maps_it():
    img = ia.from_array(np.arange(12, dtype=np.int16).reshape(3, 4))
    expr = ia.rescale_intensity(img * 2 - 3, -100, 100)
    out = evaluate(expr)
    assert out.min() == -100 and out.max() == 100
    assert isinstance(expr, RescaleIntensity)


@given(cases(vector=True), st.data())
def test_every_region_of_a_rescaled_image_is_that_region_of_the_whole(case, data):
    img, (low, high) = case
    expr = ia.rescale_intensity(img, low, high)
    size = expr.geometry.size
    index = [data.draw(st.integers(0, n - 1)) for n in size]
    extent = [data.draw(st.integers(1, n - i)) for n, i in zip(size, index, strict=True)]
    region = ia.Region(index=index, size=extent)
    whole = evaluate(expr)
    np.testing.assert_array_equal(evaluate_region(expr, region), whole[region.slices])
    bound = expr.bind([reduce(expr.prerequisites()[0])])
    np.testing.assert_array_equal(bound.compute(region, ia.to_array(img)[region.slices]), whole[region.slices])
