"""statistics and the reductions: SimpleITK's StatisticsImageFilter, computed from combined partials."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import imalgebra as ia
from imalgebra.algebra.ops.reductions import (
    Extrema,
    Maximum,
    Mean,
    Minimum,
    Moments,
    Sigma,
    StatisticsReduction,
    Sum,
    Variance,
)
from imalgebra.evaluate import Eager, reduce

SCALARS = [t for t in ia.PixelType if t.is_scalar]


def to_sitk(sitk, img):
    return sitk.GetImageFromArray(ia.to_array(img))


@st.composite
def images(draw, nan=True, max_side=8):
    pixel_type = draw(st.sampled_from(SCALARS))
    shape = draw(hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=max_side))
    if pixel_type.is_float:
        width = 32 if pixel_type is ia.PixelType.Float32 else 64
        elements = st.floats(-1e6, 1e6, width=width) | (st.just(math.nan) if nan else st.nothing())
    else:
        elements = None
    return ia.from_array(draw(hnp.arrays(pixel_type.dtype, shape, elements=elements)))


def close(actual, expected):
    if math.isnan(expected):
        return math.isnan(actual)
    return actual == pytest.approx(expected, rel=1e-6, abs=1e-9 * max(1.0, abs(expected)))


@given(images())
def test_statistics_match_simpleitk(sitk, img):
    s = ia.statistics(img)
    f = sitk.StatisticsImageFilter()
    f.Execute(to_sitk(sitk, img))
    assert s.count == img.number_of_pixels
    arr = ia.to_array(img)
    if not np.all(np.isnan(arr)):  # all-NaN images: SimpleITK reports its +/-FLT_MAX starting values
        assert float(s.minimum) == f.GetMinimum()  # SimpleITK rounds 64-bit integers to float
        assert float(s.maximum) == f.GetMaximum()
    assert close(s.mean, f.GetMean())
    assert close(s.sum, f.GetSum())
    x = arr.astype(np.float64).ravel()
    if x.size > 1 and np.all(np.isfinite(x)):
        truth = float(np.var(x, ddof=1))  # two passes in float64
        assert s.variance == pytest.approx(truth, rel=1e-9, abs=1e-9 * float(np.mean(x * x)))
        # SimpleITK uses sum(x**2) - sum(x)**2 / n, which loses digits when the mean dwarfs sigma
        cancellation = 16 * np.finfo(float).eps * float(np.sum(x * x)) / (x.size - 1)
        assert abs(f.GetVariance() - s.variance) <= 1e-6 * s.variance + cancellation
        assert abs(f.GetSigma() ** 2 - s.sigma**2) <= 1e-6 * s.variance + cancellation
    else:
        assert close(s.variance, f.GetVariance())
        assert close(s.sigma, f.GetSigma())


def test_the_fact_sheet_examples():
    s = ia.statistics(ia.from_array(np.array([[1, 2, 3, 4]], np.int32)))
    assert (s.minimum, s.maximum, s.mean, s.sum, s.count) == (1, 4, 2.5, 10.0, 4)
    assert s.sigma == pytest.approx(1.2909944) and s.variance == pytest.approx(5 / 3)  # sample (n - 1)
    one = ia.statistics(ia.from_array(np.array([[7.5]], np.float32)))
    assert (one.minimum, one.maximum, one.mean, one.sum) == (7.5, 7.5, 7.5, 7.5)
    assert math.isnan(one.sigma) and math.isnan(one.variance)
    nan = ia.statistics(ia.from_array(np.array([[1, np.nan, 3]], np.float32)))
    assert (nan.minimum, nan.maximum) == (1.0, 3.0)
    assert all(math.isnan(v) for v in (nan.mean, nan.sum, nan.sigma, nan.variance))


def test_a_constant_image_has_variance_zero_where_simpleitk_cancels(sitk):
    img = ia.from_array(np.full((3, 5), 6327085, np.int32))
    assert ia.statistics(img).variance == 0.0
    f = sitk.StatisticsImageFilter()
    f.Execute(to_sitk(sitk, img))
    assert f.GetVariance() > 0  # sum(x**2) - sum(x)**2 / n in float64: 0.0089 here


def test_deliberate_differences_all_nan_and_infinite_pixels():
    all_nan = ia.statistics(ia.from_array(np.full((2, 2), np.nan, np.float32)))
    assert math.isnan(all_nan.minimum) and math.isnan(all_nan.maximum)  # SimpleITK: +/-3.4e38
    inf = ia.statistics(ia.from_array(np.array([[1.0, np.inf]])))
    assert (inf.maximum, inf.sum, inf.mean) == (math.inf, math.inf, math.inf)  # SimpleITK: sum nan
    assert math.isnan(inf.variance)


def test_integer_extremes_are_exact_ints():
    big = np.array([[2**64 - 1, 2**64 - 2, 0]], np.uint64)
    s = ia.statistics(ia.from_array(big))
    assert s.maximum == 2**64 - 1 and isinstance(s.maximum, int)
    assert s.minimum == 0 and isinstance(s.minimum, int)
    assert isinstance(s.mean, float) and isinstance(s.sum, float)


def test_statistics_is_a_frozen_value():
    s = ia.statistics(ia.Image.zeros((2, 2), ia.PixelType.UInt8))
    with pytest.raises(AttributeError):
        s.mean = 3  # type: ignore[misc]
    assert s == ia.Statistics(minimum=0, maximum=0, mean=0.0, sigma=0.0, variance=0.0, sum=0.0, count=4)


def test_statistics_of_an_expression_evaluates_it():
    img = ia.from_array(np.arange(10, dtype=np.int16).reshape(2, 5))
    s = ia.statistics(img * 2 + 1)
    assert (s.minimum, s.maximum, s.mean) == (1, 19, 10.0)
    assert ia.statistics(img * 2 + 1, evaluator=Eager(block_bytes=0)) == s
    assert ia.statistics(img * 2 + 1, evaluator=ia.Streamed(memory="1 MiB")) == s


def test_vector_and_complex_images_are_refused_with_a_hint():
    with pytest.raises(ia.PixelTypeError, match="select_component"):
        ia.statistics(ia.Image.zeros((2, 2), ia.PixelType.VectorFloat32, components=3))
    with pytest.raises(ia.PixelTypeError, match="modulus"):
        ia.statistics(ia.Image.zeros((2, 2), ia.PixelType.ComplexFloat64))
    with pytest.raises(TypeError, match="image"):
        ia.statistics(np.zeros((2, 2)))


# -- partials combine in any grouping -------------------------------------------------------
def split(size: tuple[int, ...], cuts: list[int]) -> list[ia.Region]:
    """Slabs along the last axis at ``cuts``."""
    edges = sorted({0, size[-1], *(c % size[-1] for c in cuts)})
    return [
        ia.Region(index=(0,) * (len(size) - 1) + (a,), size=(*size[:-1], b - a)) for a, b in itertools.pairwise(edges)
    ]


@given(images(), st.lists(st.integers(0, 100), max_size=4), st.randoms())
def test_any_split_and_order_of_partials_gives_the_same_statistics(img, cuts, rnd):
    reduction = StatisticsReduction(arg=img)
    regions = split(img.size, cuts)
    rnd.shuffle(regions)
    partials = [reduction.partial(r, img.region_array(r)) for r in regions]
    split_value = reduction.finalize(reduction.combine(partials))
    whole = reduction.finalize(reduction.combine([reduction.partial(img.geometry.region, np.asarray(img))]))
    assert split_value.count == whole.count
    for name in ("minimum", "maximum"):
        a, b = getattr(split_value, name), getattr(whole, name)
        assert a == b or (math.isnan(a) and math.isnan(b))
    for name in ("mean", "sum", "variance", "sigma"):
        a, b = getattr(split_value, name), getattr(whole, name)
        assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-9, abs=1e-6)


def test_empty_partials_are_neutral():
    img = ia.from_array(np.array([[1.0, 2.0]]))
    reduction = StatisticsReduction(arg=img)
    empty = reduction.partial(ia.Region(index=(0, 0), size=(0, 1)), np.zeros((1, 0)))
    full = reduction.partial(img.geometry.region, np.asarray(img))
    assert reduction.finalize(reduction.combine([empty, full, empty])) == reduction.finalize(reduction.combine([full]))


def test_variance_is_accurate_where_the_textbook_formula_fails():
    rng = np.random.default_rng(3)
    x = 1e9 + rng.standard_normal(100_000)
    img = ia.from_array(x.reshape(100, 1000))
    reduction = Variance(arg=img)
    parts = [reduction.partial(r, img.region_array(r)) for r in split(img.size, [7, 33, 61])]
    variance = reduction.finalize(reduction.combine(parts))
    assert variance == pytest.approx(np.var(x, ddof=1), rel=1e-9)
    naive = (np.sum(x * x) - np.sum(x) ** 2 / x.size) / (x.size - 1)
    assert abs(naive - np.var(x, ddof=1)) > 1e-3  # the formula we do not use


def test_moments_chunk_big_regions_without_changing_the_result():
    x = np.random.default_rng(5).standard_normal(3_000_001)
    m = Moments.of(x)
    assert m.count == x.size
    assert m.total == pytest.approx(np.sum(x), rel=1e-12, abs=1e-9)
    assert m.variance == pytest.approx(np.var(x, ddof=1), rel=1e-12)


@pytest.mark.parametrize(
    ("cls", "expected"),
    [(Minimum, -3), (Maximum, 8), (Sum, 10.0), (Mean, 2.0), (Variance, 16.5), (Sigma, math.sqrt(16.5))],
)
def test_each_reduction_through_the_evaluator(cls, expected):
    img = ia.from_array(np.array([[-3, 0, 2, 8, 3]], np.int8))
    assert reduce(cls(arg=img)) == pytest.approx(expected)


def test_extrema_are_per_component():
    arr = np.array([[[0, 100], [10, 200], [np.nan, 300]]], np.float32)
    img = ia.from_array(arr, is_vector=True)
    assert reduce(Extrema(arg=img)) == ((0.0, 100.0), (10.0, 300.0))
