"""Geometry and Region: validation, transforms (SimpleITK as oracle), space comparison."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import imalgebra as ia
from imalgebra import Geometry, Region


@st.composite
def geometries(draw):
    d = draw(st.integers(2, 5))
    size = draw(st.lists(st.integers(1, 6), min_size=d, max_size=d))
    origin = draw(st.lists(st.floats(-500, 500), min_size=d, max_size=d))
    spacing = draw(st.lists(st.floats(0.01, 50), min_size=d, max_size=d))
    # a well-conditioned, possibly non-orthogonal direction: identity plus a bounded perturbation
    noise = draw(st.lists(st.floats(-0.3, 0.3), min_size=d * d, max_size=d * d))
    direction = np.eye(d) + np.asarray(noise).reshape(d, d)
    return Geometry(size=size, origin=origin, spacing=spacing, direction=direction)


def to_sitk(sitk, g: Geometry):
    img = sitk.Image(list(g.size), sitk.sitkUInt8)
    img.SetOrigin(g.origin)
    img.SetSpacing(g.spacing)
    img.SetDirection(g.direction)
    return img


def test_defaults_are_simpleitks():
    g = Geometry(size=(3, 4, 5))
    assert g.origin == (0.0, 0.0, 0.0)
    assert g.spacing == (1.0, 1.0, 1.0)
    assert g.direction == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    assert g.dimension == 3
    assert g.shape == (5, 4, 3)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"size": (3,)}, "1 dimension"),
        ({"size": (3, 0)}, "smaller than 1"),
        ({"size": (3, 3), "spacing": (1.0, 0.0)}, "positive"),
        ({"size": (3, 3), "spacing": (1.0, -2.0)}, "positive"),
        ({"size": (3, 3), "spacing": (1.0, float("nan"))}, "positive"),
        ({"size": (3, 3), "spacing": (1.0, 1.0, 1.0)}, "spacing needs 2"),
        ({"size": (3, 3), "origin": (0.0, float("inf"))}, "not finite"),
        ({"size": (3, 3), "direction": (1, 2, 2, 4)}, "not invertible"),
        ({"size": (3, 3), "direction": (1, 0, 0)}, "2 x 2 = 4"),
        ({"size": (3, 3.5)}, "integers"),
    ],
)
def test_invalid_geometries_say_what_is_wrong(kwargs, match):
    with pytest.raises(ia.GeometryError, match=match):
        Geometry(**kwargs)


def test_non_orthogonal_direction_of_the_tour_is_allowed():
    g = Geometry(size=(4, 4), direction=(0, 1, 0.5, 0.5))
    assert g.direction == (0.0, 1.0, 0.5, 0.5)
    assert not g.is_orthogonal


def test_with_methods_revalidate():
    g = Geometry(size=(3, 3))
    assert g.with_spacing((2, 3)).spacing == (2.0, 3.0)
    with pytest.raises(ia.GeometryError):
        g.with_spacing((0, 1))


@given(geometries(), st.data())
def test_index_to_physical_agrees_with_simpleitk(sitk, g, data):
    img = to_sitk(sitk, g)
    index = data.draw(st.lists(st.floats(-10, 10), min_size=g.dimension, max_size=g.dimension))
    expected = img.TransformContinuousIndexToPhysicalPoint(index)
    np.testing.assert_allclose(g.index_to_physical(index), expected, rtol=1e-9, atol=1e-9)
    back = img.TransformPhysicalPointToContinuousIndex(expected)
    np.testing.assert_allclose(g.physical_to_index(expected), back, rtol=1e-9, atol=1e-7)


@given(geometries(), st.data())
def test_index_physical_round_trip(g, data):
    n = data.draw(st.integers(1, 5))
    idx = np.asarray(
        data.draw(
            st.lists(st.lists(st.floats(-100, 100), min_size=g.dimension, max_size=g.dimension), min_size=n, max_size=n)
        )
    )
    points = g.index_to_physical(idx)
    assert points.shape == idx.shape
    np.testing.assert_allclose(g.physical_to_index(points), idx, rtol=1e-9, atol=1e-6)


def test_transform_errors_name_the_argument():
    with pytest.raises(ia.GeometryError, match="index must have 2 coordinates"):
        Geometry(size=(2, 2)).index_to_physical((1, 2, 3))


def test_crop_moves_the_origin_to_the_first_pixel():
    g = Geometry(size=(10, 10), origin=(5, 5), spacing=(2, 3), direction=(0, 1, 1, 0))
    c = g.crop(Region(index=(2, 1), size=(3, 4)))
    assert c.size == (3, 4)
    assert c.origin == g.index_to_physical((2, 1))
    with pytest.raises(ia.GeometryError, match="not inside"):
        g.crop(Region(index=(8, 0), size=(3, 1)))


class TestSpaceDifferences:
    def test_identical_geometries_are_the_same_space(self):
        g = Geometry(size=(4, 4), spacing=(0.5, 0.5))
        assert g.space_differences(Geometry(size=(4, 4), spacing=(0.5, 0.5))) == []

    def test_each_differing_property_is_named_with_both_values(self):
        a = Geometry(size=(4, 4))
        b = Geometry(size=(4, 5), origin=(0.5, 0), spacing=(2, 1), direction=(0, 1, 1, 0))
        lines = a.space_differences(b)
        text = "\n".join(lines)
        for expected in ("size (4, 4) vs (4, 5)", "origin (0.0, 0.0) vs (0.5, 0.0)", "spacing", "direction"):
            assert expected in text

    def test_tolerance_is_relative_to_the_smaller_spacing_and_symmetric(self):
        a = Geometry(size=(4, 4), spacing=(1000, 1000))
        assert a.same_space(a.with_origin((1e-3, 0)))
        assert not a.same_space(a.with_origin((1e-2, 0)))
        fine = Geometry(size=(4, 4), spacing=(1, 1))
        coarse = fine.with_spacing((1 + 9e-7, 1)).with_origin((1.0000005e-6, 0))
        assert fine.same_space(coarse) == coarse.same_space(fine)

    @given(st.floats(1e-3, 1e3), st.floats(0.05, 20))
    def test_agrees_with_simpleitk_away_from_the_boundary(self, sitk, spacing, factor):
        if 0.8 < factor < 1.25:
            return  # too close to the boundary for two different float paths to agree
        a = Geometry(size=(3, 3), spacing=(spacing, spacing))
        b = a.with_origin((factor * 1e-6 * spacing, 0.0))
        ours = a.same_space(b)
        sa, sb = to_sitk(sitk, a), to_sitk(sitk, b)
        try:
            sitk.Add(sa, sb)
            theirs = True
        except RuntimeError:
            theirs = False
        assert ours == theirs

    def test_direction_tolerance_is_absolute(self):
        a = Geometry(size=(3, 3), spacing=(1000, 1000))
        assert a.same_space(a.with_direction((1, 1e-6, 0, 1)))
        assert not a.same_space(a.with_direction((1, 1.01e-6, 0, 1)))

    def test_dimension_mismatch(self):
        assert Geometry(size=(2, 2)).space_differences(Geometry(size=(2, 2, 2))) == ["dimension 2 vs 3"]


class TestRegion:
    def test_slices_are_numpy_order(self):
        r = Region(index=(1, 2, 3), size=(4, 5, 6))
        assert r.slices == (slice(3, 9), slice(2, 7), slice(1, 5))
        assert r.shape == (6, 5, 4)
        assert r.stop == (5, 7, 9)

    def test_contains_intersect_shift(self):
        outer = Region(index=(0, 0), size=(10, 10))
        inner = Region(index=(2, 3), size=(4, 4))
        assert outer.contains(inner) and not inner.contains(outer)
        assert inner.intersect(Region(index=(5, 0), size=(10, 5))) == Region(index=(5, 3), size=(1, 2))
        assert inner.shift((1, -1)) == Region(index=(3, 2), size=(4, 4))
        assert inner.relative_to(inner) == Region(index=(0, 0), size=(4, 4))

    def test_invalid_regions(self):
        with pytest.raises(ia.GeometryError, match="negative"):
            Region(index=(0, 0), size=(1, -1))
        with pytest.raises(ia.GeometryError, match="different lengths"):
            Region(index=(0, 0), size=(1, 1, 1))
