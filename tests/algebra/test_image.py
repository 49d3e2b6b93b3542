"""Image: construction, attributes, pixel access and immutability (API.md lines as written)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import imalgebra as ia
from imalgebra import Image, PixelType


def test_api_md_construction_and_attributes():
    img3 = ia.Image.zeros((256, 128, 64), ia.PixelType.Int16)
    img2 = ia.Image.zeros((64, 64), ia.PixelType.Float32)
    rgb = ia.Image.zeros((128, 64), ia.PixelType.VectorUInt8, components=3)
    img3 = img3.with_origin((78.0, 76.0, 77.0)).with_spacing((0.5, 0.5, 3.0))
    assert img3.origin == (78.0, 76.0, 77.0)
    assert img3.size == (256, 128, 64)
    assert img3.spacing == (0.5, 0.5, 3.0)
    assert img3.direction == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    assert img3.dimension == 3
    assert (img3.width, img3.height, img3.depth) == (256, 128, 64)
    assert img2.depth == 0
    assert img3.pixel_type is ia.PixelType.Int16
    assert img3.components == 1 and rgb.components == 3
    assert img3.geometry == ia.Geometry(size=(256, 128, 64), origin=(78, 76, 77), spacing=(0.5, 0.5, 3))
    assert repr(img3.geometry).startswith("Geometry(size=(256, 128, 64), origin=(78, 76, 77)")
    other = ia.Image.zeros((256, 128, 64), ia.PixelType.UInt8, spacing=(2, 2, 2))
    assert img3.with_geometry(other.geometry).spacing == (2.0, 2.0, 2.0)
    assert img3.with_direction((0, 1, 0, 1, 0, 0, 0, 0, 1)).direction[1] == 1.0
    assert dict(img3.with_metadata({"k": "v"}).metadata) == {"k": "v"}
    assert img3.index_to_physical((1, 2, 3)) == (78.5, 77.0, 86.0)
    assert img3.physical_to_index((78.5, 77.0, 86.0)) == pytest.approx((1, 2, 3))


def test_attributes_match_simpleitk(sitk):
    ours = Image.zeros((2, 3, 4, 5), PixelType.UInt8)
    theirs = sitk.Image([2, 3, 4, 5], sitk.sitkUInt8)
    assert ours.depth == theirs.GetDepth() == 4
    assert (ours.width, ours.height) == (theirs.GetWidth(), theirs.GetHeight())


def test_with_geometry_requires_the_same_size():
    img = Image.zeros((4, 4), PixelType.UInt8)
    with pytest.raises(ia.GeometryError, match=r"size \(5, 4\) does not match this image's size \(4, 4\)"):
        img.with_geometry(ia.Geometry(size=(5, 4)))


def test_components_are_validated():
    with pytest.raises(ia.PixelTypeError, match="one component"):
        Image.zeros((4, 4), PixelType.Float32, components=3)
    with pytest.raises(ia.PixelTypeError, match="Unknown"):
        Image.zeros((4, 4), PixelType.Unknown)


def test_images_are_frozen():
    img = Image.zeros((4, 4), PixelType.UInt8)
    with pytest.raises(AttributeError):
        img.geometry = ia.Geometry(size=(4, 4))  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        np.asarray(img)[0, 0] = 1


class TestPixelAccess:
    def test_scalars_vectors_and_complex_are_python_values(self):
        assert type(Image.zeros((2, 2), PixelType.Int16)[0, 0]) is int
        assert type(Image.zeros((2, 2), PixelType.Float32)[0, 0]) is float
        assert Image.zeros((2, 2), PixelType.VectorFloat32, 3)[1, 1] == (0.0, 0.0, 0.0)
        c = Image.zeros((2, 2), PixelType.ComplexFloat64).with_pixel((0, 1), 1 + 2j)
        assert c[0, 1] == 1 + 2j and type(c[0, 1]) is complex

    def test_with_pixel_returns_a_new_image(self):
        img = Image.zeros((4, 5), PixelType.UInt8)
        new = img.with_pixel((1, 2), 7)
        assert new[1, 2] == 7 and img[1, 2] == 0
        assert np.asarray(new)[2, 1] == 7  # numpy order is [y, x]

    def test_negative_indices_count_from_the_end(self, sitk):
        img = Image.zeros((4, 5), PixelType.UInt8).with_pixel((1, 2), 9)
        assert img[-3, -3] == 9
        ref = sitk.Image([4, 5], sitk.sitkUInt8)
        ref[1, 2] = 9
        assert ref[-3, -3] == img[-3, -3]

    @pytest.mark.parametrize("index", [(4, 0), (0, -6), (-5, 0)])
    def test_out_of_range_names_index_and_size(self, index):
        img = Image.zeros((4, 5), PixelType.UInt8)
        with pytest.raises(IndexError, match=r"out of range for axis \d of size \d \(image size \(4, 5\)\)"):
            img[index]

    def test_numpy_integers_are_valid_indices(self):
        img = Image.zeros((4, 5), PixelType.UInt8).with_pixel((1, 2), 3)
        assert img[np.int64(1), np.int32(2)] == 3

    @pytest.mark.parametrize("key", [(1.0, 2), (True, 2), (None, 1)])
    def test_non_integer_indices_are_refused(self, key):
        with pytest.raises(ia.ImageIndexError):
            Image.zeros((4, 5), PixelType.UInt8)[key]

    def test_values_must_fit_the_pixel_type(self):
        img = Image.zeros((2, 2), PixelType.UInt8)
        with pytest.raises(ia.PixelTypeError, match=r"300..300 do not fit UInt8 \(0..255\)"):
            img.with_pixel((0, 0), 300)
        with pytest.raises(ia.PixelTypeError, match="integers"):
            img.with_pixel((0, 0), 3.7)
        with pytest.raises(ia.PixelTypeError, match="3 components"):
            Image.zeros((2, 2), PixelType.VectorUInt8, 3).with_pixel((0, 0), (1, 2))
        assert Image.zeros((2, 2), PixelType.Float32).with_pixel((0, 0), 1)[0, 0] == 1.0

    def test_uint64_and_int64_extremes_round_trip(self):
        assert Image.zeros((2, 2), PixelType.UInt64).with_pixel((0, 0), 2**64 - 1)[0, 0] == 2**64 - 1
        assert Image.zeros((2, 2), PixelType.Int64).with_pixel((0, 0), -(2**63))[0, 0] == -(2**63)

    def test_with_pixels_changes_many_pixels_in_one_copy(self):
        img = Image.zeros((64, 64), PixelType.Int32)
        idx = np.stack(np.meshgrid(np.arange(64), np.arange(0, 64, 2), indexing="ij"), -1).reshape(-1, 2)
        new = img.with_pixels(idx, np.arange(idx.shape[0]))
        expected = np.zeros((64, 64), np.int32)
        expected[idx[:, 1], idx[:, 0]] = np.arange(idx.shape[0])
        np.testing.assert_array_equal(np.asarray(new), expected)

    def test_with_pixels_vector_and_broadcast_value(self):
        img = Image.zeros((3, 3), PixelType.VectorUInt8, 2).with_pixels([[0, 0], [2, 2]], [5, 6])
        assert img[0, 0] == (5, 6) and img[2, 2] == (5, 6) and img[1, 1] == (0, 0)

    def test_iteration_and_truth_are_refused(self):
        img = Image.zeros((2, 2), PixelType.UInt8)
        with pytest.raises(TypeError):
            iter(img)
        with pytest.raises(TypeError, match="ambiguous"):
            bool(img)


def test_pickle_keeps_everything():
    img = Image.zeros((3, 2), PixelType.Float64, origin=(1, 2), spacing=(3, 4)).with_metadata({"a": "b"})
    back = pickle.loads(pickle.dumps(img))
    assert back.equals(img)
    assert back.metadata == {"a": "b"}


def test_metadata_is_immutable_and_str_only():
    img = Image.zeros((2, 2), PixelType.UInt8).with_metadata({"0008|0060": "CT"})
    with pytest.raises(TypeError):
        img.metadata["x"] = "y"  # type: ignore[index]
    with pytest.raises(ia.PixelTypeError, match="str"):
        img.with_metadata({"k": 1})  # type: ignore[dict-item]
    assert dict(img.with_metadata({"k": "v"}, replace=True).metadata) == {"k": "v"}
    with pytest.raises(KeyError, match=r"no key .nope. \(keys: 0008\|0060\)"):
        img.metadata["nope"]


def test_repr_is_short_and_readable():
    img = Image.zeros((3, 2), PixelType.VectorUInt8, 3, spacing=(0.5, 0.5))
    assert repr(img) == "Image(VectorUInt8, size=(3, 2), components=3, spacing=(0.5, 0.5))"
