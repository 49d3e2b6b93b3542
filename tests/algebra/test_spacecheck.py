"""The physical-space check at construction: agrees with SimpleITK away from the boundary, and is symmetric."""

from __future__ import annotations

import threading

import attrs
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import imalgebra as ia
from imalgebra.algebra.graph import replace
from imalgebra.algebra.spacecheck import check_same_space


def img(size=(4, 3), **geometry):
    return ia.Image.zeros(size, ia.PixelType.Float32, **geometry)


def to_sitk(sitk, image):
    out = sitk.GetImageFromArray(np.asarray(image))
    out.SetOrigin(image.origin)
    out.SetSpacing(image.spacing)
    out.SetDirection(image.direction)
    return out


def sitk_accepts(sitk, a, b):
    try:
        to_sitk(sitk, a) + to_sitk(sitk, b)
    except RuntimeError as err:
        assert "do not occupy the same physical space" in str(err)
        return False
    return True


def ours_accepts(a, b):
    try:
        a + b
    except ia.PhysicalSpaceError:
        return False
    return True


# a perturbation well inside (x <= 0.5) or well outside (x >= 2) the tolerance, in units of the tolerance
factors = st.one_of(st.floats(0, 0.5), st.floats(2, 1000))


@pytest.mark.sitk
@given(
    spacing=st.floats(1e-3, 1e3),
    dimension=st.sampled_from([2, 3]),
    what=st.sampled_from(["origin", "spacing", "direction"]),
    axis=st.integers(0, 2),
    factor=factors,
    sign=st.sampled_from([-1, 1]),
    tolerance=st.sampled_from([None, 1e-4]),
)
def test_accept_and_reject_agree_with_simpleitk_away_from_the_boundary(
    sitk, spacing, dimension, what, axis, factor, sign, tolerance
):
    axis %= dimension
    size = (3,) * dimension
    a = img(size, spacing=(spacing,) * dimension, origin=(10.0,) * dimension)
    coordinate = 1e-6 if tolerance is None else tolerance
    if what == "origin":
        origin = list(a.origin)
        origin[axis] += sign * factor * coordinate * spacing
        b = a.with_origin(origin)
    elif what == "spacing":
        new = list(a.spacing)
        new[axis] += factor * coordinate * spacing  # grow: the smaller spacing stays `spacing`
        b = a.with_spacing(new)
    else:
        direction = list(a.direction)
        direction[axis * dimension + (axis + 1) % dimension] += sign * factor * 1e-6
        b = a.with_direction(direction)
    old = sitk.ProcessObject.GetGlobalDefaultCoordinateTolerance()
    try:
        if tolerance is not None:
            sitk.ProcessObject.SetGlobalDefaultCoordinateTolerance(tolerance)
        expected = sitk_accepts(sitk, a, b)
    finally:
        sitk.ProcessObject.SetGlobalDefaultCoordinateTolerance(old)
    if tolerance is None:
        assert ours_accepts(a, b) == expected
    else:
        with ia.tolerance(coordinate=tolerance):
            assert ours_accepts(a, b) == expected
    assert expected == (factor <= 0.5)


@given(
    spacing_a=st.tuples(st.floats(0.01, 10), st.floats(0.01, 10)),
    spacing_b=st.tuples(st.floats(-1e-5, 1e-5), st.floats(-1e-5, 1e-5)),
    shift=st.tuples(st.floats(-1e-5, 1e-5), st.floats(-1e-5, 1e-5)),
)
def test_the_check_is_symmetric(spacing_a, spacing_b, shift):
    a = img(spacing=spacing_a)
    b = a.with_spacing([s + d for s, d in zip(spacing_a, spacing_b, strict=True)]).with_origin(shift)
    assert ours_accepts(a, b) == ours_accepts(b, a)


def test_itk_asymmetric_case_fails_both_ways_here():
    # ITK: A (spacing 1) + B (spacing 1+9e-7, origin +1.0000005e-6) fails, B + A passes
    a = img(spacing=(1.0, 1.0))
    b = img(spacing=(1 + 9e-7, 1 + 9e-7), origin=(1.0000005e-6, 0.0))
    assert ours_accepts(a, b) == ours_accepts(b, a)


def test_the_error_names_the_op_each_property_both_values_the_tolerance_and_the_fix():
    a = img(spacing=(1.0, 1.0))
    b = img(spacing=(1.0, 1.5), origin=(0.5, 0.0), direction=(0.0, 1.0, 1.0, 0.0))
    with pytest.raises(ia.PhysicalSpaceError) as info:
        a - b
    text = str(info.value)
    assert text.startswith("subtract: inputs do not occupy the same physical space")
    assert "origin (0.0, 0.0) vs (0.5, 0.0)" in text
    assert "spacing (1.0, 1.0) vs (1.0, 1.5)" in text
    assert "direction (1.0, 0.0, 0.0, 1.0) vs (0.0, 1.0, 1.0, 0.0)" in text
    assert "tolerance 1e-06" in text and "ia.tolerance(coordinate=" in text and "resample" in text
    assert isinstance(info.value, ValueError)


def test_sizes_must_match_exactly():
    with pytest.raises(ia.PhysicalSpaceError, match=r"size \(4, 3\) vs \(5, 3\)"):
        img((4, 3)) + img((5, 3))
    with pytest.raises(ia.PhysicalSpaceError, match="dimension 2 vs 3"):
        img((4, 3)) * img((4, 3, 2))


def test_the_context_and_the_argument_relax_the_tolerance():
    a = img()
    b = a.with_origin((0.0, 1e-4))
    with pytest.raises(ia.PhysicalSpaceError):
        a + b
    with ia.tolerance(coordinate=1e-3):
        e = a + b
    assert e.tolerance == (1e-3, 1e-6)
    assert ia.maximum(a, b, tolerance=1e-3).geometry == a.geometry
    assert ia.where(a > 0, a, b, tolerance=(1e-3, 1e-6)).geometry == a.geometry
    from imalgebra.algebra.ops.arithmetic import add

    assert add(a, b, tolerance=ia.Tolerance(coordinate=1e-3)).geometry == a.geometry


def test_a_node_keeps_its_tolerance_when_rebuilt_outside_the_context():
    a = img()
    b = a.with_origin((0.0, 1e-4))
    with ia.tolerance(coordinate=1e-3):
        e = (a + b) * 2
    c = img()
    rebuilt = replace(e, lambda n: c if n is a else None)  # rebuilds a + b without the context
    assert rebuilt.inputs[0].tolerance == (1e-3, 1e-6)


def test_the_tolerance_is_per_thread():
    a = img()
    b = a.with_origin((0.0, 1e-4))
    seen = []

    def other():
        try:
            a + b
            seen.append("passed")
        except ia.PhysicalSpaceError:
            seen.append("failed")

    with ia.tolerance(coordinate=1e-3):
        t = threading.Thread(target=other)
        t.start()
        t.join()
        a + b
    assert seen == ["failed"]


def test_nan_never_passes():
    a = img()
    bad = object.__new__(ia.Geometry)
    for field in attrs.fields(ia.Geometry):
        object.__setattr__(bad, field.name, getattr(a.geometry, field.name))
    object.__setattr__(bad, "origin", (float("nan"), 0.0))

    class Leaf:
        geometry = bad

    with pytest.raises(ia.PhysicalSpaceError, match="NaN never passes"):
        check_same_space("add", [a, Leaf()])


def test_equal_geometries_take_the_fast_path():
    a = img(spacing=(0.3, 0.7))
    b = img(spacing=(0.3, 0.7))
    assert a.geometry == b.geometry and a.geometry is not b.geometry
    check_same_space("add", [a, b])
