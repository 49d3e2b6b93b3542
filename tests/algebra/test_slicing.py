"""Slicing keeps every pixel at its physical point; geometry agrees with SimpleITK."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import imalgebra as ia
from imalgebra import Geometry, Image, PixelType

C, S = math.cos(math.radians(30)), math.sin(math.radians(30))


def rotated_2d() -> Image:
    arr = np.arange(120, dtype=np.float32).reshape(12, 10)
    return ia.from_array(arr).with_geometry(
        Geometry(size=(10, 12), origin=(10, 20), spacing=(0.5, 2.0), direction=(C, -S, S, C))
    )


def rotated_3d() -> Image:
    arr = np.arange(960, dtype=np.int16).reshape(8, 12, 10)
    return ia.from_array(arr).with_geometry(
        Geometry(size=(10, 12, 8), origin=(10, 20, 30), spacing=(0.5, 2, 3), direction=(C, -S, 0, S, C, 0, 0, 0, 1))
    )


def to_sitk(sitk, img: Image):
    out = sitk.GetImageFromArray(np.asarray(img), isVector=img.pixel_type.is_vector)
    out.SetOrigin(img.origin)
    out.SetSpacing(img.spacing)
    out.SetDirection(img.direction)
    return out


def assert_same_as_sitk(sitk, ours: Image, theirs) -> None:
    assert ours.size == theirs.GetSize()
    np.testing.assert_allclose(ours.origin, theirs.GetOrigin(), atol=1e-9)
    np.testing.assert_allclose(ours.spacing, theirs.GetSpacing(), atol=1e-12)
    np.testing.assert_allclose(ours.direction, theirs.GetDirection(), atol=1e-12)
    np.testing.assert_array_equal(np.asarray(ours), sitk.GetArrayFromImage(theirs))


KEYS_2D = [
    (slice(2, 5), slice(3, 7)),
    (slice(None, None, 2), slice(None, None, 2)),
    (slice(1, None, 3), slice(None, None, 2)),
    (slice(None, None, -1), slice(None)),
    (slice(9, 0, -1), slice(None)),
    (slice(115, 0, -1), slice(None)),
    (slice(None, None, -2), slice(None)),
    (slice(None), slice(None, None, -1)),
    (slice(-3, None), slice(None)),
    (slice(2, 5),),
    (Ellipsis,),
    (slice(None),),
]
KEYS_3D = [
    (slice(None), slice(None), 5),
    (Ellipsis, 5),
    (slice(None), 5, slice(None)),
    (5, slice(None), slice(None)),
    (5, Ellipsis),
    (slice(None), slice(None), -1),
    (slice(None), slice(None), slice(2, 3)),
    (slice(1, 9, 2), slice(11, None, -3), slice(None, None, -1)),
]


@pytest.mark.parametrize("key", KEYS_2D, ids=str)
def test_2d_slices_match_simpleitk(sitk, key):
    img = rotated_2d()
    assert_same_as_sitk(sitk, img[key], to_sitk(sitk, img)[key])


@pytest.mark.parametrize("key", KEYS_3D, ids=str)
def test_3d_slices_match_simpleitk(sitk, key):
    img = rotated_3d()
    assert_same_as_sitk(sitk, img[key], to_sitk(sitk, img)[key])


def test_api_md_slicing_lines():
    logo = Image.zeros((200, 100), PixelType.VectorUInt8, 3, origin=(5, 5))
    sub = logo[0:115, :]
    assert sub.size == (115, 100) and sub.origin == (5.0, 5.0)
    half = logo[::2, ::2]
    assert half.spacing == (2.0, 2.0)
    flip = logo[115:0:-1, :]
    assert flip.direction == (-1.0, 0.0, 0.0, 1.0)
    assert flip.index_to_physical((0, 0)) == logo.index_to_physical((115, 0))
    vol = Image.zeros((10, 12, 8), PixelType.Float32)
    plane = vol[:, :, 5]
    assert plane.dimension == 2 and plane.size == (10, 12)


def test_slices_share_pixels_without_copying():
    img = rotated_2d()
    view = np.asarray(img[::2, 1:])
    assert np.shares_memory(view, np.asarray(img))


@pytest.mark.parametrize(
    ("key", "match"),
    [
        ((slice(5, 5), slice(None)), "keeps no pixel on axis 0"),
        ((slice(7, 3), slice(None)), "keeps no pixel"),
        ((slice(None, None, 0), slice(None)), "step cannot be zero"),
        ((slice(None), 3), "keeps 1 axis"),
        ((Ellipsis, Ellipsis), "more than one"),
        ((1, 2, 3), "3 indices for a 2D image"),
        ((slice(None), "a"), "not an integer"),
        ((slice(0.5, 2), slice(None)), "must be integers"),
    ],
)
def test_bad_slices_raise_clear_errors(key, match):
    with pytest.raises(ia.ImageIndexError, match=match):
        rotated_2d()[key]


def _slice_strategy(n: int):
    return st.builds(
        slice,
        st.one_of(st.none(), st.integers(-n - 2, n + 2)),
        st.one_of(st.none(), st.integers(-n - 2, n + 2)),
        st.one_of(st.none(), st.integers(-4, 4).filter(bool)),
    ).filter(lambda s: len(range(*s.indices(n))) > 0)


@given(st.data())
def test_every_kept_pixel_keeps_its_physical_position(data):
    img = rotated_3d()
    key = tuple(data.draw(_slice_strategy(n)) for n in img.size)
    out = img[key]
    ranges = [range(*k.indices(n)) for k, n in zip(key, img.size, strict=True)]
    for _ in range(5):
        new_index = [data.draw(st.integers(0, s - 1)) for s in out.size]
        old_index = [r[i] for r, i in zip(ranges, new_index, strict=True)]
        np.testing.assert_allclose(out.index_to_physical(new_index), img.index_to_physical(old_index), atol=1e-9)
        assert out[tuple(new_index)] == img[tuple(old_index)]


@given(st.data())
def test_slicing_twice_is_slicing_once_with_the_composed_slice(data):
    img = rotated_3d()
    first = tuple(data.draw(_slice_strategy(n)) for n in img.size)
    mid = img[first]
    second = tuple(data.draw(_slice_strategy(n)) for n in mid.size)
    composed = []
    for k1, k2, n in zip(first, second, img.size, strict=True):
        r = range(*k1.indices(n))[k2]
        composed.append(slice(r.start, r.stop if r.stop >= 0 else None, r.step))
    once = img[tuple(composed)]
    twice = mid[second]
    assert once.geometry.size == twice.geometry.size
    np.testing.assert_allclose(once.origin, twice.origin, atol=1e-9)
    np.testing.assert_allclose(once.spacing, twice.spacing, rtol=1e-12)
    np.testing.assert_allclose(once.direction, twice.direction, atol=1e-12)
    np.testing.assert_array_equal(np.asarray(once), np.asarray(twice))


def test_label_images_slice_like_dense_ones():
    arr = (np.arange(960).reshape(8, 12, 10) % 7 == 0).astype(np.uint8) * 3
    dense = ia.from_array(arr)
    label = ia.from_array(arr, pixel_type=PixelType.LabelUInt8)
    for key in KEYS_3D:
        a, b = dense[key], label[key]
        assert b.pixel_type is PixelType.LabelUInt8
        assert a.geometry == b.geometry
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
