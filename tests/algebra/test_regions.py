"""extract, crop, slicing expressions and paste: geometry, values, errors, and the region law."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import imalgebra as ia
from imalgebra.algebra.ops.regions import slice_expression
from imalgebra.evaluate.eager import evaluate_region

ROTATION = (0.8660254037844387, -0.5, 0.5, 0.8660254037844387)


def to_sitk(sitk, img):
    out = sitk.GetImageFromArray(ia.to_array(img), isVector=img.pixel_type.is_vector)
    out.SetOrigin(img.origin)
    out.SetSpacing(img.spacing)
    out.SetDirection(img.direction)
    return out


def evaluate(expr):
    return ia.to_array(ia.evaluate(expr))


def assert_same_geometry(geometry, sitk_image):
    assert geometry.size == sitk_image.GetSize()
    np.testing.assert_allclose(geometry.origin, sitk_image.GetOrigin(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(geometry.spacing, sitk_image.GetSpacing(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(geometry.direction, sitk_image.GetDirection(), rtol=0, atol=1e-12)


@st.composite
def images(draw, dims=(2, 3), max_side=7, vector=None):
    d = draw(st.sampled_from(dims))
    shape = draw(st.tuples(*[st.integers(1, max_side)] * d))
    vector = draw(st.booleans()) if vector is None else vector
    kinds = [t for t in ia.PixelType if t.is_scalar or (t.is_complex and not vector)]
    pixel_type = draw(st.sampled_from(kinds))
    full = (*shape, 2) if vector else shape
    floats = pixel_type.dtype.kind in "fc"
    arr = draw(hnp.arrays(pixel_type.dtype, full, elements={"allow_nan": False} if floats else None))
    img = ia.from_array(arr, is_vector=vector).with_spacing(draw(st.tuples(*[st.sampled_from([0.5, 2.0])] * d)))
    img = img.with_origin(draw(st.tuples(*[st.sampled_from([-1.5, 0.0, 10.0])] * d)))
    if d == 2 and draw(st.booleans()):
        img = img.with_direction(ROTATION)
    return img


@st.composite
def regions(draw, size):
    index = [draw(st.integers(0, n - 1)) for n in size]
    extent = [draw(st.integers(1, n - i)) for n, i in zip(size, index, strict=True)]
    return ia.Region(index=index, size=extent)


def assert_region_law(expr, region):
    np.testing.assert_array_equal(evaluate_region(expr, region), evaluate(expr)[region.slices])


# -- extract and crop ---------------------------------------------------------------------------
@given(images(), st.data())
def test_extract_matches_simpleitk_extract_and_region_of_interest(sitk, img, data):
    box = data.draw(regions(img.size))
    expr = ia.extract(img, box.index, box.size)
    expected = sitk.Extract(to_sitk(sitk, img), box.size, box.index)
    np.testing.assert_array_equal(evaluate(expr), sitk.GetArrayFromImage(expected))
    assert_same_geometry(expr.geometry, expected)
    roi = sitk.RegionOfInterest(to_sitk(sitk, img), box.size, box.index)
    assert_same_geometry(expr.geometry, roi)
    assert expr.geometry == img.geometry.crop(box)
    assert_region_law(expr, data.draw(regions(expr.geometry.size)))


def test_extract_size_defaults_to_the_rest_of_the_image():
    img = ia.Image.zeros((10, 8), ia.PixelType.UInt8)
    assert ia.extract(img, (3, 5)).geometry.size == (7, 3)


@pytest.mark.parametrize(
    ("index", "size", "error", "match"),
    [
        ((8, 0), (3, 2), ia.ImageIndexError, r"last index \(10, 1\)\) is not inside the image"),
        ((-1, 0), (2, 2), ia.ImageIndexError, "not inside"),
        ((0, 0), (0, 2), ia.GeometryError, r"to drop an axis, index it with an integer"),
        ((0, 0, 0), (1, 1, 1), ia.GeometryError, "must be 2 integers"),
        ((0.5, 0), (1, 1), ia.GeometryError, "must be 2 integers"),
    ],
)
def test_extract_errors_say_what_and_where(index, size, error, match):
    img = ia.Image.zeros((10, 8), ia.PixelType.UInt8)
    with pytest.raises(error, match=match):
        ia.extract(img, index, size)


def test_crop_matches_simpleitk(sitk):
    img = ia.from_array(np.arange(80, dtype=np.int16).reshape(8, 10)).with_spacing((0.5, 2.0)).with_direction(ROTATION)
    expr = ia.crop(img, (1, 2), (3, 0))
    expected = sitk.Crop(to_sitk(sitk, img), (1, 2), (3, 0))
    np.testing.assert_array_equal(evaluate(expr), sitk.GetArrayFromImage(expected))
    assert_same_geometry(expr.geometry, expected)
    assert ia.crop(img, (1, 1)).geometry.size == (8, 6)
    with pytest.raises(ia.GeometryError, match="leave no pixel"):
        ia.crop(img, (5, 0), (5, 0))


# -- slicing expressions ------------------------------------------------------------------------
@st.composite
def keys(draw, size):
    key = []
    for n in size:
        if draw(st.integers(0, 4)) == 0:
            key.append(draw(st.integers(-n, n - 1)))
        else:
            bounds = st.none() | st.integers(-n - 2, n + 2)
            step = draw(st.none() | st.sampled_from([1, 2, 3, -1, -2, -3]))
            key.append(slice(draw(bounds), draw(bounds), step))
    return tuple(key)


@given(images(), st.data())
def test_slicing_an_expression_gives_what_slicing_the_image_gives(img, data):
    key = data.draw(keys(img.size))
    try:
        expected = img[key]
    except ia.ImageIndexError:
        with pytest.raises(ia.ImageIndexError):
            slice_expression(img + 0, key)
        return
    assume(isinstance(expected, ia.Image))
    expr = (img + 0)[key]  # an expression's __getitem__ builds a slicing node
    assert expr.op_name == "slice"
    out = ia.evaluate(expr)
    assert out.geometry == expected.geometry
    assert out.pixel_type is expected.pixel_type
    np.testing.assert_array_equal(ia.to_array(out), ia.to_array(expected))
    assert_region_law(expr, data.draw(regions(expr.geometry.size)))


def test_slicing_geometry_matches_simpleitk_for_a_rotated_flip(sitk):
    img = ia.from_array(np.arange(120, dtype=np.float32).reshape(12, 10)).with_spacing((0.5, 2.0))
    img = img.with_origin((10.0, 20.0)).with_direction(ROTATION)
    expr = slice_expression(img, (slice(None, None, -2), slice(3, 9, 2)))
    expected = to_sitk(sitk, img)[::-2, 3:9:2]
    assert_same_geometry(expr.geometry, expected)
    np.testing.assert_array_equal(evaluate(expr), sitk.GetArrayFromImage(expected))


def test_slicing_requests_only_the_box_it_reads():
    img = ia.Image.zeros((10, 12), ia.PixelType.UInt8)
    expr = slice_expression(img, (slice(8, 1, -3), slice(2, 11, 4)))  # x: 8, 5, 2   y: 2, 6, 10
    assert expr.requested_regions(expr.geometry.region) == (ia.Region(index=(2, 2), size=(7, 9)),)
    assert expr.requested_regions(ia.Region(index=(1, 1), size=(1, 2))) == (ia.Region(index=(5, 6), size=(1, 5)),)


def test_a_3d_slice_with_an_integer_drops_the_axis():
    vol = ia.from_array(np.arange(60, dtype=np.int16).reshape(3, 4, 5))
    expr = (vol * 1)[:, :, 2]
    assert expr.geometry.size == (5, 4)
    np.testing.assert_array_equal(evaluate(expr), np.arange(60).reshape(3, 4, 5)[2])
    assert expr.requested_regions(expr.geometry.region) == (ia.Region(index=(0, 0, 2), size=(5, 4, 1)),)


# -- paste ----------------------------------------------------------------------------------
@st.composite
def paste_cases(draw):
    dest = draw(images(vector=False))
    src_shape = tuple(draw(st.integers(1, 7)) for _ in dest.shape)
    arr = draw(
        hnp.arrays(dest.pixel_type.dtype, src_shape, elements={"allow_nan": False} if dest.dtype.kind == "f" else None)
    )
    src = ia.from_array(arr).with_spacing((3.0,) * dest.dimension)
    source_box = draw(regions(src.size))
    size = tuple(min(s, n) for s, n in zip(source_box.size, dest.size, strict=True))
    dest_index = tuple(draw(st.integers(0, n - s)) for n, s in zip(dest.size, size, strict=True))
    return dest, src, size, source_box.index, dest_index


@given(paste_cases(), st.data())
def test_paste_matches_simpleitk_when_the_box_fits(sitk, case, data):
    dest, src, size, source_index, dest_index = case
    expr = ia.paste(dest, src, size, source_index, dest_index)
    expected = sitk.Paste(to_sitk(sitk, dest), to_sitk(sitk, src), size, source_index, dest_index)
    np.testing.assert_array_equal(evaluate(expr), sitk.GetArrayFromImage(expected))
    assert_same_geometry(expr.geometry, expected)
    assert expr.geometry == dest.geometry
    assert_region_law(expr, data.draw(regions(expr.geometry.size)))


def test_paste_requests_nothing_of_the_source_outside_the_box():
    dest = ia.Image.zeros((10, 10), ia.PixelType.UInt8)
    src = ia.Image.zeros((3, 3), ia.PixelType.UInt8)
    expr = ia.paste(dest, src, destination_index=(5, 5))
    outside = ia.Region(index=(0, 0), size=(4, 4))
    assert expr.requested_regions(outside)[1].is_empty()
    assert expr.requested_regions(ia.Region(index=(6, 0), size=(4, 7)))[1] == ia.Region(index=(1, 0), size=(2, 2))
    np.testing.assert_array_equal(evaluate_region(expr, outside), np.zeros((4, 4), np.uint8))


def test_paste_defaults_to_the_whole_source_at_the_origin():
    dest = ia.Image.zeros((4, 3), ia.PixelType.Int16)
    src = ia.from_array(np.full((2, 2), 7, np.int16))
    out = evaluate(ia.paste(dest, src))
    assert out.tolist() == [[7, 7, 0, 0], [7, 7, 0, 0], [0, 0, 0, 0]]
    out = evaluate(ia.paste(dest, src, source_index=(1, 0), destination_index=(3, 1)))
    assert out[:, 3].tolist() == [0, 7, 7]


def test_a_box_outside_the_destination_is_an_error_not_a_silent_clip():
    dest = ia.Image.zeros((4, 4), ia.PixelType.UInt8)
    src = ia.Image.zeros((3, 3), ia.PixelType.UInt8)
    with pytest.raises(ia.ImageIndexError, match=r"destination region index=.*paste does not clip"):
        ia.paste(dest, src, destination_index=(2, 2))
    with pytest.raises(ia.ImageIndexError, match="source region"):
        ia.paste(dest, src, size=(2, 2), source_index=(2, 2))
    with pytest.raises(ia.ImageIndexError):
        ia.paste(dest, src, destination_index=(-1, 0))


def test_paste_takes_a_source_whose_values_all_fit_and_refuses_lossy_ones():
    dest = ia.Image.zeros((3, 3), ia.PixelType.Int16)
    small = ia.from_array(np.array([[200, 255]], np.uint8))
    out = ia.evaluate(ia.paste(dest, small))
    assert out.pixel_type is ia.PixelType.Int16 and ia.to_array(out)[0].tolist() == [200, 255, 0]
    with pytest.raises(ia.PixelTypeError, match=r"ia.cast\(source, ia.PixelType.Int16\)"):
        ia.paste(dest, ia.Image.zeros((2, 2), ia.PixelType.Float32))
    with pytest.raises(ia.PixelTypeError, match="components must match"):
        ia.paste(dest, ia.Image.zeros((2, 2), ia.PixelType.VectorInt16, components=2))
    with pytest.raises(ia.GeometryError, match="same dimension"):
        ia.paste(dest, ia.Image.zeros((2, 2, 2), ia.PixelType.Int16), size=(1, 1))


def test_paste_vector_images_and_labels():
    rgb = ia.Image.zeros((4, 4), ia.PixelType.VectorUInt8, components=3)
    patch = ia.from_array(np.full((2, 2, 3), 9, np.uint8), is_vector=True)
    out = evaluate(ia.paste(rgb, patch, destination_index=(1, 1)))
    assert out[1, 1].tolist() == [9, 9, 9] and out[0, 0].tolist() == [0, 0, 0]
    labels = ia.Image.zeros((4, 4), ia.PixelType.LabelUInt8)
    stamp = ia.from_array(np.full((1, 2), 3, np.uint8))
    out = ia.evaluate(ia.paste(labels, stamp, destination_index=(2, 3)))
    assert out.pixel_type is ia.PixelType.LabelUInt8 and out[3, 3] == 3 and out[0, 0] == 0


def test_paste_ignores_physical_space_as_simpleitk_does():
    dest = ia.Image.zeros((4, 4), ia.PixelType.UInt8)
    src = ia.Image.zeros((2, 2), ia.PixelType.UInt8, spacing=(7.0, 7.0), origin=(100.0, -3.0))
    assert ia.paste(dest, src).geometry == dest.geometry
