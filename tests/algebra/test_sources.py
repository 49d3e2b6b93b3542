"""gabor and gaussian: SimpleITK's GaborSource/GaussianSource, generated region by region."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import imalgebra as ia
from imalgebra.evaluate.eager import evaluate_region

FLOATS = [ia.PixelType.Float32, ia.PixelType.Float64]
INTEGERS = [t for t in ia.PixelType if t.is_scalar and t.is_integer]


def rotation(angle: float, d: int) -> tuple[float, ...]:
    m = np.eye(d)
    c, s = math.cos(angle), math.sin(angle)
    m[:2, :2] = [[c, -s], [s, c]]
    return tuple(m.ravel())


@st.composite
def parameters(draw, *, pixel_types=FLOATS):
    d = draw(st.sampled_from([2, 3]))
    size = draw(st.tuples(*[st.integers(1, 9)] * d))
    coordinates = st.floats(-20, 20, allow_nan=False)
    return {
        "size": size,
        "sigma": draw(st.tuples(*[st.floats(0.5, 20)] * d)),
        "mean": draw(st.tuples(*[coordinates] * d)),
        "origin": draw(st.tuples(*[coordinates] * d)),
        "spacing": draw(st.tuples(*[st.floats(0.1, 3)] * d)),
        "direction": rotation(draw(st.floats(-3, 3)), d),
        "pixel_type": draw(st.sampled_from(pixel_types)),
    }


def sitk_arguments(params):
    out = dict(params)
    out["outputPixelType"] = out.pop("pixel_type").id
    return out


def values(expr):
    return ia.to_array(ia.evaluate(expr))


def assert_close(actual, expected):
    """float64 kernels differ from ITK's libm by an ulp or so; the values are in [-1, 1] * scale."""
    scale = max(1.0, float(np.max(np.abs(expected))))
    np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=1e-6 * scale)


@given(parameters(), st.floats(0.0, 0.5))
def test_gabor_matches_simpleitk(sitk, params, frequency):
    expr = ia.gabor(frequency=frequency, **params)
    expected = sitk.GaborSource(frequency=frequency, **sitk_arguments(params))
    out = ia.evaluate(expr)
    assert out.pixel_type.id == expected.GetPixelID()
    assert out.size == expected.GetSize()
    np.testing.assert_allclose(out.origin, expected.GetOrigin())
    np.testing.assert_allclose(out.direction, expected.GetDirection())
    assert_close(ia.to_array(out), sitk.GetArrayFromImage(expected))


@given(parameters(), st.floats(-1000, 1000), st.booleans())
def test_gaussian_matches_simpleitk(sitk, params, scale, normalized):
    expr = ia.gaussian(scale=scale, normalized=normalized, **params)
    expected = sitk.GaussianSource(scale=scale, normalized=normalized, **sitk_arguments(params))
    assert expr.pixel_type.id == expected.GetPixelID()
    assert_close(values(expr), sitk.GetArrayFromImage(expected))


@pytest.mark.parametrize("pixel_type", INTEGERS)
@pytest.mark.parametrize("scale", [300.7, -300.7, 100.0])
def test_integer_outputs_truncate_and_wrap_like_simpleitk(sitk, pixel_type, scale):
    params = {"size": (16, 12), "sigma": (3.0, 4.0), "mean": (7.0, 5.0)}
    expr = ia.gaussian(scale=scale, pixel_type=pixel_type, **params)
    expected = sitk.GaussianSource(pixel_type.id, scale=scale, **params)
    np.testing.assert_array_equal(values(expr), sitk.GetArrayFromImage(expected))


@pytest.mark.parametrize("pixel_type", INTEGERS)
def test_integer_gabor_gives_what_simpleitk_gives(sitk, pixel_type):
    expr = ia.gabor(size=(32, 32), frequency=0.03, pixel_type=pixel_type)
    expected = sitk.GaborSource(pixel_type.id, size=(32, 32), frequency=0.03)
    np.testing.assert_array_equal(values(expr), sitk.GetArrayFromImage(expected))


def test_the_fact_sheet_gabor_example(sitk):
    # mean is physical: origin 10, spacing 0.5, mean 12 puts the peak at index 4
    g = ia.gabor(size=(9, 9), sigma=(4, 4), mean=(12, 12), frequency=0.1, origin=(10, 10), spacing=(0.5, 0.5))
    out = values(g)
    assert out[4, 4] == 1.0 and np.unravel_index(np.argmax(out), out.shape) == (4, 4)
    one = ia.evaluate(ia.gabor(size=(2, 1), sigma=1e6, mean=0, frequency=0.25, spacing=(0.5, 1.0)))
    assert one[1, 0] == pytest.approx(math.cos(2 * math.pi * 0.25 * 0.5), abs=1e-6)


def test_defaults_are_simpleitk_s(sitk):
    g = ia.gabor()
    assert (g.geometry.size, g.sigma, g.mean, g.frequency, g.pixel_type) == (
        (64, 64, 64),
        (16.0,) * 3,
        (32.0,) * 3,
        0.4,
        ia.PixelType.Float32,
    )
    expected = sitk.GaussianSource(size=[64] * 2)
    gauss = ia.gaussian(size=(64, 64))
    assert (gauss.scale, gauss.normalized) == (255.0, False)
    np.testing.assert_allclose(values(gauss), sitk.GetArrayFromImage(expected), rtol=1e-6)


def test_sources_are_leaves_that_build_no_pixels_until_asked():
    g = ia.gabor(size=(4096, 4096, 4096))  # 256 GiB if it were computed
    assert g.inputs == () and g.geometry.size == (4096, 4096, 4096)
    corner = ia.Region(index=(4000, 4000, 4000), size=(2, 3, 1))
    assert evaluate_region(g, corner).shape == (1, 3, 2)


@given(parameters(pixel_types=[*FLOATS, ia.PixelType.Int16]), st.data())
def test_every_region_is_exactly_that_region_of_the_whole(params, data):
    for expr in (ia.gabor(frequency=0.07, **params), ia.gaussian(scale=-40.5, **params)):
        size = expr.geometry.size
        index = [data.draw(st.integers(0, n - 1)) for n in size]
        extent = [data.draw(st.integers(1, n - i)) for n, i in zip(size, index, strict=True)]
        region = ia.Region(index=index, size=extent)
        whole = expr.compute(expr.geometry.region)
        np.testing.assert_array_equal(expr.compute(region), whole[region.slices])
        np.testing.assert_array_equal(evaluate_region(expr, region), whole[region.slices])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"size": (4, 4), "sigma": (1.0,)}, ia.GeometryError, "sigma needs 2 values"),
        ({"size": (4, 4), "mean": (1.0, 2.0, 3.0)}, ia.GeometryError, "mean needs 2 values"),
        ({"size": (4, 4), "sigma": 0}, ia.GeometryError, "sigma must be positive"),
        ({"size": (4, 4), "sigma": (1.0, math.nan)}, ia.GeometryError, "positive finite"),
        ({"size": (4,)}, ia.GeometryError, "1 dimension"),
        ({"size": (4, 0)}, ia.GeometryError, "smaller than 1"),
        ({"size": (4, 4), "spacing": (1.0, -1.0)}, ia.GeometryError, "spacing"),
        ({"size": (4, 4), "pixel_type": ia.PixelType.ComplexFloat32}, ia.PixelTypeError, "real scalar type"),
        ({"size": (4, 4), "pixel_type": ia.PixelType.VectorFloat32}, ia.PixelTypeError, "real scalar type"),
        ({"size": (4, 4), "frequency": math.inf}, ValueError, "frequency must be finite"),
    ],
)
def test_bad_parameters_are_reported_with_their_name(kwargs, error, match):
    with pytest.raises(error, match=match):
        ia.gabor(**kwargs)


def test_gaussian_scale_must_be_finite_and_convertible():
    with pytest.raises(ValueError, match="scale must be finite"):
        ia.gaussian(size=(4, 4), scale=math.nan)
    with pytest.raises(ValueError, match="cannot be converted to Int32 exactly"):
        ia.gaussian(size=(4, 4), scale=1e300, pixel_type=ia.PixelType.Int32)


def test_equal_parameters_give_equal_keys_and_sources_combine_with_images():
    assert ia.gabor(size=(8, 8), sigma=4).equals(ia.gabor(size=(8, 8), sigma=(4.0, 4.0)))
    assert not ia.gabor(size=(8, 8)).equals(ia.gabor(size=(8, 8), frequency=0.3))
    img = ia.Image.zeros((8, 8), ia.PixelType.Float32)
    out = values(ia.gaussian(size=(8, 8), mean=3) + img)
    assert out[3, 3] == 255.0
