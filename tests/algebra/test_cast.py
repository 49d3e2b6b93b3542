"""cast and clamp: SimpleITK's values (its C casts made deterministic), labels exact, vectors and complex."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import imalgebra as ia
from imalgebra import PixelType as P
from imalgebra.algebra.ops.cast import c_cast


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
INTEGERS, FLOATS, REALS = _images.INTEGERS, _images.FLOATS, _images.REALS
assert_same_result, to_sitk = _images.assert_same_result, _images.to_sitk

SPECIAL = [
    -3.7, 0.5, 200.6, 300.2, -300.0, 1e10, -1e10, np.nan, np.inf, -np.inf, 2.0**31, -(2.0**31) - 1,
    2.0**32 + 5, 2.0**63, 2.0**64, -(2.0**63), -(2.0**64), 1.5e19, -0.9, 4294967295.0, 65535.9, 1e300, -1e300,
]  # fmt: skip


def row(values, dtype):
    arr = np.asarray(values, dtype=dtype)[np.newaxis, :]
    return ia.from_array(arr)


@pytest.mark.sitk
@pytest.mark.parametrize("source", FLOATS, ids=lambda p: p.name)
@pytest.mark.parametrize("target", INTEGERS, ids=lambda p: p.name)
def test_float_to_integer_casts_give_simpleitks_values_even_where_c_is_undefined(sitk, source, target):
    values = SPECIAL
    if target is P.UInt32:  # outside [-2**31, 2**32) SimpleITK's Cast gives 0 or 2**31 by SIMD lane
        values = [v for v in SPECIAL if -(2.0**31) <= v < 2.0**32]
    with np.errstate(all="ignore"):
        image = row(values, source.dtype)
    ours = ia.evaluate(ia.cast(image, target))
    assert_same_result(ours, sitk.Cast(to_sitk(sitk, image), target.id), sitk)


def test_uint32_outside_its_range_goes_through_int64():
    image = row([-np.inf, -1e300, np.nan, 1e300, -1e10, 2.0**32 + 5, 9744803446.5, -(2.0**31) - 1], np.float64)
    expected = [0, 0, 0, 0, (-(10**10)) % 2**32, 5, 9744803446 % 2**32, 2**31 - 1]
    assert ia.to_array(ia.evaluate(ia.cast(image, P.UInt32))).tolist() == [expected]


@pytest.mark.sitk
@given(data=st.data())
def test_random_casts_between_scalar_types_match_simpleitk(sitk, data):
    source = data.draw(st.sampled_from(REALS))
    target = data.draw(st.sampled_from((*REALS, P.ComplexFloat32, P.ComplexFloat64)))
    width = 32 if source is P.Float32 else 64
    values = st.floats(width=width) if source.is_float else _images.elements(source.dtype)
    if source.is_float and target is P.UInt32:  # see test_uint32_outside_its_range_goes_through_int64
        values = values.filter(lambda v: -(2.0**31) <= v < 2.0**32)
    arr = data.draw(hnp.arrays(source.dtype, data.draw(_images.shapes()), elements=values))
    image = ia.from_array(arr)
    ours = ia.evaluate(ia.cast(image, target))
    assert_same_result(ours, sitk.Cast(to_sitk(sitk, image), target.id), sitk)


@pytest.mark.sitk
@pytest.mark.parametrize("target", [P.VectorFloat32, P.VectorUInt8, P.ComplexFloat64], ids=lambda p: p.name)
def test_scalar_to_vector_and_complex_match_simpleitk(sitk, target):
    image = row([1.5, -2.0, 300.0], np.float64)
    ours = ia.evaluate(ia.cast(image, target))
    assert ours.components == 1
    assert_same_result(ours, sitk.Cast(to_sitk(sitk, image), target.id), sitk)


def test_vector_to_scalar_needs_one_component():
    one = ia.from_array(np.array([[[1.5], [2.5]]], np.float32), is_vector=True)
    assert ia.to_array(ia.evaluate(ia.cast(one, P.Int16))).tolist() == [[1, 2]]
    three = ia.Image.zeros((2, 2), P.VectorFloat32, components=3)
    with pytest.raises(ia.PixelTypeError, match="select_component"):
        ia.cast(three, P.Float32)
    assert ia.cast(three, P.VectorUInt8).components == 3


def test_complex_to_real_is_refused():
    c = ia.Image.zeros((2, 2), P.ComplexFloat32)
    with pytest.raises(ia.PixelTypeError, match=r"ia\.real"):
        ia.cast(c, P.Float32)
    assert ia.evaluate(ia.cast(ia.real(c), P.Float32)).pixel_type is P.Float32


def test_casts_to_label_types_are_exact():
    ok = row([0.0, 3.0, 255.0], np.float32)
    labels = ia.evaluate(ia.cast(ok, P.LabelUInt8))
    assert labels.pixel_type is P.LabelUInt8 and np.asarray(labels).tolist() == [[0, 3, 255]]
    for bad, shown in (([0.0, 2.5], "2.5"), ([-1.0], "-1.0"), ([256.0], "256.0"), ([np.nan], "nan")):
        with pytest.raises(ia.EvaluationError, match=f"the value {shown} is not a label of LabelUInt8") as info:
            ia.evaluate(ia.cast(row(bad, np.float32), P.LabelUInt8))
        assert isinstance(info.value.__cause__, ia.PixelTypeError)
    wrapped = ia.evaluate(ia.cast(ia.cast(row([-1], np.int16), P.UInt8), P.LabelUInt8))
    assert np.asarray(wrapped).tolist() == [[255]]


def test_unknown_target_is_refused():
    with pytest.raises(ia.PixelTypeError, match="Unknown"):
        ia.cast(row([1.0], np.float32), P.Unknown)


def test_c_cast_is_the_identity_for_the_same_dtype():
    arr = np.arange(3, dtype=np.int16)
    assert c_cast(arr, np.int16) is arr


# -- clamp ---------------------------------------------------------------------------------
@pytest.mark.sitk
def test_clamp_to_a_narrower_type_saturates_like_simpleitk(sitk):
    image = row([-3.7, 0.5, 200.6, 300.2, -300.0, 1e10], np.float32)
    ours = ia.evaluate(ia.clamp(image, pixel_type=P.UInt8))
    assert np.asarray(ours).tolist() == [[0, 0, 200, 255, 0, 255]]
    assert_same_result(ours, sitk.Clamp(to_sitk(sitk, image), P.UInt8.id), sitk)


@pytest.mark.sitk
@given(data=st.data())
def test_clamp_matches_simpleitk(sitk, data):
    source = data.draw(st.sampled_from(REALS))
    target = data.draw(st.sampled_from((None, *REALS)))
    bound = st.one_of(st.none(), st.integers(-300, 300), st.floats(-1e3, 1e3))
    lower, upper = data.draw(bound), data.draw(bound)
    if lower is not None and upper is not None and lower > upper:
        lower, upper = upper, lower
    out = target if target is not None else source
    # SimpleITK wraps a bound beyond the output type's range (a hazard): compare where they lie inside
    assume(all(b is None or out.min <= b <= out.max for b in (lower, upper)))
    values = _images.elements(source.dtype, magnitude=2e3)
    arr = data.draw(hnp.arrays(source.dtype, data.draw(_images.shapes()), elements=values))
    image = ia.from_array(arr)
    ours = ia.evaluate(ia.clamp(image, lower, upper, pixel_type=target))
    out_id = out.id
    kwargs = {}
    if lower is not None:
        kwargs["lowerBound"] = float(lower)
    if upper is not None:
        kwargs["upperBound"] = float(upper)
    theirs = sitk.Clamp(to_sitk(sitk, image), out_id, **kwargs)
    assert_same_result(ours, theirs, sitk)


def test_clamp_checks_its_bounds_and_keeps_nan():
    image = row([np.nan, -5.0, 5.0], np.float64)
    with pytest.raises(ValueError, match="lower=3 is greater than upper=1"):
        ia.clamp(image, 3, 1)
    assert np.isnan(ia.to_array(ia.evaluate(ia.clamp(image, 0, 1)))[0, 0])
    with pytest.raises(ia.PixelTypeError, match="no order"):
        ia.clamp(ia.Image.zeros((2, 2), P.ComplexFloat32), 0, 1)


def test_clamp_works_per_component_and_on_integers_beyond_the_source_range():
    v = ia.from_array(np.array([[[1, 200], [50, 7]]], np.uint8), is_vector=True)
    assert ia.to_array(ia.evaluate(ia.clamp(v, 5, 100))).tolist() == [[[5, 100], [50, 7]]]
    u8 = row([0, 10, 255], np.uint8)
    assert ia.to_array(ia.evaluate(ia.clamp(u8, 300, 400, pixel_type=P.Int16))).tolist() == [[300, 300, 300]]
    assert ia.to_array(ia.evaluate(ia.clamp(u8, -10, -5, pixel_type=P.Int16))).tolist() == [[-5, -5, -5]]
    assert ia.to_array(ia.evaluate(ia.clamp(u8, 2.5, 7.5))).tolist() == [[2, 7, 7]]


def test_bounds_beyond_the_output_range_saturate_instead_of_wrapping():
    i8 = row([-128, -5, 0, 100, 127], np.int8)
    assert ia.to_array(ia.evaluate(ia.clamp(i8, lower=200))).tolist() == [[127] * 5]  # SimpleITK: -56 as the bound
    assert ia.to_array(ia.evaluate(ia.clamp(i8, upper=-129))).tolist() == [[-128] * 5]  # SimpleITK: no clamping


@pytest.mark.parametrize("name", ["Int64", "UInt64", "Int32", "UInt32", "Int8", "UInt8"])
def test_clamp_saturates_huge_and_infinite_values_like_simpleitk(sitk, name):
    """Going through double turned INT64_MAX into 2**63, which wrapped to INT64_MIN; bounds are now exact."""
    values = np.array([[1e30, np.inf, -np.inf, -1e30, 5.0]])
    ours = ia.to_array(ia.evaluate(ia.clamp(ia.from_array(values), pixel_type=ia.PixelType[name])))
    theirs = sitk.GetArrayFromImage(sitk.Clamp(sitk.GetImageFromArray(values), getattr(sitk, "sitk" + name)))
    np.testing.assert_array_equal(ours, theirs)


def test_clamp_of_exactly_two_to_the_63_saturates_to_int64_max():
    """SimpleITK compares 2**63 > double(INT64_MAX) == 2**63, finds it inside, and casts it to INT64_MIN."""
    img = ia.from_array(np.array([[2.0**63, -(2.0**63)]]))
    assert ia.to_array(ia.evaluate(ia.clamp(img, pixel_type=ia.PixelType.Int64))).tolist() == [[2**63 - 1, -(2**63)]]
