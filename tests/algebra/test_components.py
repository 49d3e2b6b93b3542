"""compose and select_component: SimpleITK's Compose and VectorIndexSelectionCast, bounds-checked."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import imalgebra as ia
from imalgebra.evaluate.eager import evaluate_region

SCALARS = [t for t in ia.PixelType if t.is_scalar]
VECTORS = [t.vector_type for t in SCALARS]


def to_sitk(sitk, img):
    out = sitk.GetImageFromArray(ia.to_array(img), isVector=img.pixel_type.is_vector)
    out.SetOrigin(img.origin)
    out.SetSpacing(img.spacing)
    out.SetDirection(img.direction)
    return out


@st.composite
def regions(draw, size):
    index = [draw(st.integers(0, n - 1)) for n in size]
    extent = [draw(st.integers(1, n - i)) for n, i in zip(size, index, strict=True)]
    return ia.Region(index=index, size=extent)


@st.composite
def scalar_images(draw, pixel_type=None, shape=None, count=1):
    pixel_type = draw(st.sampled_from(SCALARS)) if pixel_type is None else pixel_type
    shape = draw(hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=6)) if shape is None else shape
    spacing = draw(st.tuples(*[st.sampled_from([0.5, 1.0, 2.5])] * len(shape)))
    origin = draw(st.tuples(*[st.sampled_from([-3.0, 0.0, 7.25])] * len(shape)))
    images = []
    for _ in range(count):
        arr = draw(hnp.arrays(pixel_type.dtype, shape, elements={"allow_nan": False} if pixel_type.is_float else None))
        images.append(ia.from_array(arr).with_spacing(spacing).with_origin(origin))
    return images


def evaluate(expr):
    return ia.to_array(ia.evaluate(expr))


# -- compose ---------------------------------------------------------------------------------
@given(st.sampled_from(SCALARS).flatmap(lambda t: scalar_images(pixel_type=t, count=3)))
def test_compose_stacks_components_like_simpleitk(sitk, images):
    composed = ia.compose(*images)
    expected = sitk.Compose([to_sitk(sitk, i) for i in images])
    out = ia.evaluate(composed)
    assert out.pixel_type.id == expected.GetPixelID()
    assert out.components == expected.GetNumberOfComponentsPerPixel() == 3
    assert out.geometry == images[0].geometry
    np.testing.assert_array_equal(ia.to_array(out), sitk.GetArrayFromImage(expected))


def test_compose_of_one_image_is_a_one_component_vector():
    img = ia.from_array(np.arange(6, dtype=np.int16).reshape(2, 3))
    out = ia.evaluate(ia.compose(img))
    assert (out.pixel_type, out.components, out.shape) == (ia.PixelType.VectorInt16, 1, (2, 3, 1))


def test_compose_takes_a_list_too():
    img = ia.Image.zeros((3, 2), ia.PixelType.Float32)
    assert ia.compose([img, img + 1]).equals(ia.compose(img, img + 1))


def test_compose_refuses_mixed_pixel_types_and_says_to_cast():
    a = ia.Image.zeros((3, 2), ia.PixelType.UInt8)
    b = ia.Image.zeros((3, 2), ia.PixelType.Int16)
    with pytest.raises(ia.PixelTypeError, match=r"image 1 is Int16 but image 0 is UInt8.*ia.cast"):
        ia.compose(a, b)


@pytest.mark.parametrize("pixel_type", [ia.PixelType.VectorUInt8, ia.PixelType.ComplexFloat32, ia.PixelType.LabelUInt8])
def test_compose_refuses_non_scalar_inputs(pixel_type):
    img = ia.Image.zeros((3, 2), pixel_type)
    with pytest.raises(ia.PixelTypeError, match="scalar integer or float"):
        ia.compose(img, img)


def test_compose_refuses_different_sizes():
    with pytest.raises(ia.GeometryError, match=r"size \(3, 3\) but image 0 has size \(3, 2\)"):
        ia.compose(ia.Image.zeros((3, 2), ia.PixelType.UInt8), ia.Image.zeros((3, 3), ia.PixelType.UInt8))


def test_compose_checks_physical_space_with_the_tolerance_in_force():
    a = ia.Image.zeros((3, 2), ia.PixelType.UInt8)
    b = a.with_origin((0.0, 1e-3))
    with pytest.raises(ia.PhysicalSpaceError, match="compose"):
        ia.compose(a, b)
    with ia.tolerance(coordinate=1e-2):
        assert ia.compose(a, b).components == 2
    assert ia.compose(a, b, tolerance=1e-2).components == 2


def test_compose_needs_an_image():
    with pytest.raises(TypeError, match="at least one image"):
        ia.compose()
    with pytest.raises(TypeError, match="image 1 must be an image"):
        ia.compose(ia.Image.zeros((2, 2), ia.PixelType.UInt8), 3)


# -- select_component ------------------------------------------------------------------------
@st.composite
def vector_images(draw):
    pixel_type = draw(st.sampled_from(VECTORS))
    shape = draw(hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=5))
    components = draw(st.integers(1, 4))
    arr = draw(hnp.arrays(pixel_type.dtype, (*shape, components)))
    return ia.from_array(arr, is_vector=True).with_spacing((0.5,) * len(shape))


@given(vector_images(), st.data())
def test_select_component_matches_vector_index_selection_cast(sitk, img, data):
    index = data.draw(st.integers(0, img.components - 1))
    selected = ia.select_component(img, index)
    expected = sitk.VectorIndexSelectionCast(to_sitk(sitk, img), index)
    assert selected.pixel_type is img.pixel_type.component_type
    assert selected.pixel_type.id == expected.GetPixelID()
    np.testing.assert_array_equal(evaluate(selected), sitk.GetArrayFromImage(expected))
    assert ia.evaluate(selected).geometry == img.geometry


@given(vector_images(), st.data())
def test_negative_index_counts_from_the_end(img, data):
    index = data.draw(st.integers(-img.components, -1))
    assert ia.select_component(img, index).equals(ia.select_component(img, index + img.components))


@pytest.mark.parametrize("components", [2, 3, 4])
def test_index_past_the_last_component_is_an_error_not_an_over_read(components):
    img = ia.Image.zeros((5, 2), ia.PixelType.VectorFloat32, components=components)
    with pytest.raises(ia.ImageIndexError, match=f"index {components} is out of range .* {components} components"):
        ia.select_component(img, components)
    with pytest.raises(ia.ImageIndexError):
        ia.select_component(img, -components - 1)


def test_select_component_refuses_scalar_images_and_vector_output_types():
    with pytest.raises(ia.PixelTypeError, match="takes a vector image"):
        ia.select_component(ia.Image.zeros((2, 2), ia.PixelType.Float32), 0)
    rgb = ia.Image.zeros((2, 2), ia.PixelType.VectorUInt8, components=3)
    with pytest.raises(ia.PixelTypeError, match="use Float32"):
        ia.select_component(rgb, 0, pixel_type=ia.PixelType.VectorFloat32)
    with pytest.raises(TypeError, match="integer"):
        ia.select_component(rgb, 1.0)


def test_select_component_with_pixel_type_casts_like_simpleitk(sitk):
    arr = np.array([[[0, 100], [200, 255]]], dtype=np.uint8)
    img = ia.from_array(arr, is_vector=True)
    for pixel_type in (ia.PixelType.Float32, ia.PixelType.Int16, ia.PixelType.Float64):
        selected = ia.select_component(img, 1, pixel_type=pixel_type)
        expected = sitk.VectorIndexSelectionCast(to_sitk(sitk, img), 1, pixel_type.id)
        assert selected.pixel_type.id == expected.GetPixelID()
        np.testing.assert_array_equal(evaluate(selected), sitk.GetArrayFromImage(expected))


def test_select_component_casts_floats_to_integers_as_simpleitk_does(sitk):
    arr = np.array([[[-3.7, 0], [0.5, 1], [200.6, 2], [300.2, 3], [-300, 4]]], np.float32)
    img = ia.from_array(arr, is_vector=True)
    expected = sitk.VectorIndexSelectionCast(to_sitk(sitk, img), 0, sitk.sitkUInt8)
    out = evaluate(ia.select_component(img, 0, pixel_type=ia.PixelType.UInt8))
    assert out.tolist() == sitk.GetArrayFromImage(expected).tolist() == [[253, 0, 200, 44, 212]]


def test_compose_then_select_gives_each_image_back():
    images = [ia.from_array(np.full((2, 3), k, np.float64)) for k in range(3)]
    rgb = ia.compose(*images)
    for k, img in enumerate(images):
        np.testing.assert_array_equal(evaluate(ia.select_component(rgb, k)), ia.to_array(img))


# -- region law: any region of the result is that region of the whole ----------------------------
@given(st.sampled_from(SCALARS).flatmap(lambda t: scalar_images(pixel_type=t, count=2)), st.data())
def test_every_region_of_compose_and_select_is_that_region_of_the_whole(images, data):
    composed = ia.compose(*images)
    for expr in (composed, ia.select_component(composed, 1)):
        region = data.draw(regions(expr.geometry.size))
        whole = evaluate(expr)
        np.testing.assert_array_equal(evaluate_region(expr, region), whole[region.slices])
