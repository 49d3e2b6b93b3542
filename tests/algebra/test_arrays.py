"""The numpy bridge matches SimpleITK's GetArrayFromImage / GetImageFromArray shapes and sizes."""

from __future__ import annotations

import numpy as np
import pytest

import imalgebra as ia
from imalgebra import Image, PixelType


@pytest.mark.parametrize(
    ("shape", "is_vector"),
    [
        ((10, 20), False),
        ((10, 20, 3), False),
        ((10, 20, 3), True),
        ((5, 10, 20), True),
        ((5, 10, 20, 3), False),
        ((5, 10, 20, 3), True),
        ((2, 3, 4, 5, 6), False),
        ((2, 3, 4, 5, 6), True),
    ],
)
def test_shapes_and_sizes_match_simpleitk(sitk, shape, is_vector):
    arr = np.random.default_rng(0).integers(0, 100, shape).astype(np.int16)
    ours = ia.from_array(arr, is_vector=is_vector)
    theirs = sitk.GetImageFromArray(arr, isVector=is_vector)
    assert ours.size == theirs.GetSize()
    assert ours.components == theirs.GetNumberOfComponentsPerPixel()
    assert ours.pixel_type.id == theirs.GetPixelID()
    back = ia.to_array(ours)
    np.testing.assert_array_equal(back, sitk.GetArrayFromImage(theirs))
    assert back.shape == shape


@pytest.mark.parametrize(
    "dtype",
    [
        "int8",
        "uint8",
        "int16",
        "uint16",
        "int32",
        "uint32",
        "int64",
        "uint64",
        "float32",
        "float64",
        "complex64",
        "complex128",
    ],
)
def test_dtypes_map_like_simpleitk(sitk, dtype):
    arr = np.ones((3, 4), dtype=dtype)
    assert ia.from_array(arr).pixel_type.id == sitk.GetImageFromArray(arr).GetPixelID()


def test_api_md_numpy_lines():
    nda = np.zeros((10, 20, 3), np.uint8)
    assert ia.from_array(nda).size == (3, 20, 10)
    vec = ia.from_array(nda, is_vector=True)
    assert vec.size == (20, 10) and vec.components == 3
    img = Image.zeros((20, 10), PixelType.Float32, spacing=(2, 3))
    res = ia.from_array(np.ones((10, 20), np.float32)).with_geometry(img.geometry)
    assert res.spacing == (2.0, 3.0)
    view = ia.array_view(res)
    assert not view.flags.writeable
    assert np.shares_memory(view, np.asarray(res))
    copy = ia.to_array(res)
    copy[0, 0] = 5
    assert res[0, 0] == 1.0


def test_from_array_copies_so_later_changes_never_reach_the_image():
    arr = np.zeros((4, 4), np.float32)
    img = ia.from_array(arr)
    arr[0, 0] = 7
    assert img[0, 0] == 0.0
    adopted = ia.from_array(arr, copy=False)
    assert np.shares_memory(np.asarray(adopted), arr)


def test_views_are_read_only_and_stay_valid():
    img = ia.from_array(np.full((3, 3), 7.0))
    view = np.asarray(img)
    with pytest.raises(ValueError, match="read-only"):
        view[0, 0] = 1
    del img
    assert view[0, 0] == 7.0  # the view keeps the pixels alive (SimpleITK's is a dangling pointer)


def test_non_contiguous_big_endian_and_bool_inputs():
    base = np.arange(24, dtype=">f4").reshape(4, 6)
    img = ia.from_array(base[:, ::2])
    assert img.pixel_type is PixelType.Float32
    np.testing.assert_array_equal(ia.to_array(img), base[:, ::2])
    assert ia.from_array(np.array([[True, False]])).pixel_type is PixelType.UInt8
    assert ia.from_array([[1, 2], [3, 4]]).pixel_type is PixelType.Int64


@pytest.mark.parametrize(("shape", "is_vector"), [((7,), False), ((3, 4), True), ((), False)])
def test_too_few_axes_are_refused(shape, is_vector):
    with pytest.raises(ia.GeometryError, match="2 or more dimensions"):
        ia.from_array(np.zeros(shape), is_vector=is_vector)


@pytest.mark.parametrize("dtype", ["float16", "object", "<U3", "datetime64[s]"])
def test_unsupported_dtypes(dtype):
    with pytest.raises(TypeError, match="not supported"):
        ia.from_array(np.zeros((2, 2), dtype=dtype))


def test_complex_vectors_are_refused():
    with pytest.raises(ia.PixelTypeError):
        ia.from_array(np.zeros((2, 2, 2), np.complex64), is_vector=True)
