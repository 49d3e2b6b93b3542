"""assert_image_equal / assert_image_identical: what they forgive, what they report."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given

import imalgebra as ia
from imalgebra.testing import assert_image_equal, assert_image_identical
from imalgebra.testing import strategies as ist


def message(call, *args, **kwargs) -> str:
    with pytest.raises(AssertionError) as info:
        call(*args, **kwargs)
    return str(info.value)


@given(ist.images())
def test_every_image_equals_and_is_identical_to_itself_and_its_copy(img):
    copy = ia.from_array(ia.to_array(img), img.pixel_type.is_vector, pixel_type=img.pixel_type)
    copy = copy.with_geometry(img.geometry).with_metadata(img.metadata)
    assert_image_equal(img, copy)
    assert_image_identical(img, copy)


def test_the_first_differing_pixel_is_given_in_x_y_z_order_with_both_values_and_the_count():
    a = ia.Image.zeros((4, 3, 2), ia.PixelType.Int16)
    b = a.with_pixels([[3, 1, 0], [2, 2, 1]], [7, -5])
    text = message(assert_image_equal, a, b)
    assert "pixels: 2 of 24 differ" in text
    assert "first at index (x, y, z) = (3, 1, 0): actual 0, expected 7" in text
    assert "largest difference 7 at (3, 1, 0)" in text


def test_vector_images_report_the_component():
    a = ia.Image.zeros((2, 2), ia.PixelType.VectorUInt8, components=3)
    b = a.with_pixel((1, 0), (0, 0, 9))
    text = message(assert_image_equal, a, b)
    assert "first at index (x, y) = (1, 0) component 2: actual 0, expected 9" in text
    assert "1 of 4 differ" in text  # pixels, not components


def test_tolerances_forgive_small_float_differences_only():
    a = ia.from_array(np.array([[1.0, 2.0], [3.0, 4.0]]))
    b = ia.from_array(np.array([[1.0, 2.0], [3.0, 4.0 + 1e-9]]))
    assert_image_equal(a, b)  # default rtol=1e-7
    with pytest.raises(AssertionError):
        assert_image_equal(a, b, rtol=0)
    assert_image_equal(a, b, rtol=0, atol=1e-8)
    with pytest.raises(AssertionError):
        assert_image_identical(a, b)


def test_nan_equals_nan_at_the_same_pixel_only():
    a = ia.from_array(np.array([[np.nan, 1.0]]))
    assert_image_equal(a, a.with_pixel((1, 0), 1.0))
    assert_image_identical(a, ia.from_array(np.array([[np.nan, 1.0]])))
    text = message(assert_image_equal, a, ia.from_array(np.array([[0.0, 1.0]])))
    assert "actual nan, expected 0.0" in text


def test_pixel_type_components_and_geometry_differences_are_each_listed():
    a = ia.Image.zeros((3, 2), ia.PixelType.UInt8)
    b = ia.Image.zeros((3, 2), ia.PixelType.Int16, spacing=(1.0, 2.0))
    text = message(assert_image_equal, a, b)
    assert "pixel type: UInt8 vs Int16" in text
    assert "geometry: spacing (1.0, 1.0) vs (1.0, 2.0)" in text
    c = ia.Image.zeros((3, 2), ia.PixelType.VectorUInt8, components=2)
    d = ia.Image.zeros((3, 2), ia.PixelType.VectorUInt8, components=3)
    assert "components: 2 vs 3" in message(assert_image_equal, c, d)
    assert "size (3, 2) vs (2, 3)" in message(assert_image_equal, a, ia.Image.zeros((2, 3), ia.PixelType.UInt8))


def test_geometry_is_compared_within_the_tolerance_in_force():
    a = ia.Image.zeros((2, 2), ia.PixelType.Float32)
    b = a.with_origin((1e-4, 0.0))
    with pytest.raises(AssertionError, match="origin"):
        assert_image_equal(a, b)
    with ia.tolerance(coordinate=1e-3):
        assert_image_equal(a, b)
    with pytest.raises(AssertionError, match="geometry: origin"):
        assert_image_identical(a, a.with_origin((1e-12, 0.0)))


def test_identical_also_compares_metadata_and_lists_each_key():
    a = ia.Image.zeros((2, 2), ia.PixelType.UInt8).with_metadata({"same": "1", "changed": "a", "gone": "x"})
    b = a.with_metadata({"same": "1", "changed": "b", "new": "y"}, replace=True)
    assert_image_equal(a, b)  # metadata is not part of equality
    text = message(assert_image_identical, a, b)
    assert "metadata: 'changed' is 'a' vs 'b'" in text
    assert "metadata: key 'gone' only in actual ('x')" in text
    assert "metadata: key 'new' only in expected ('y')" in text


def test_label_images_compare_their_decoded_pixels():
    a = ia.from_array(np.array([[0, 3, 3, 0]], np.uint8).repeat(2, axis=0), pixel_type=ia.PixelType.LabelUInt8)
    b = a.with_pixel((2, 1), 4)
    assert "first at index (x, y) = (2, 1): actual 3, expected 4" in message(assert_image_equal, a, b)


def test_uint64_differences_do_not_wrap_around():
    a = ia.from_array(np.array([[0, 2**64 - 1]], np.uint64))
    b = ia.from_array(np.array([[1, 2**64 - 1]], np.uint64))
    text = message(assert_image_equal, a, b)
    assert "actual 0, expected 1" in text and "largest difference 1 at (0, 0)" in text


def test_complex_values_are_compared_and_printed():
    a = ia.from_array(np.array([[1 + 2j, 0]], np.complex64))
    text = message(assert_image_equal, a, a.with_pixel((0, 0), 1 + 3j))
    assert "actual (1+2j), expected (1+3j)" in text


def test_non_images_are_refused_with_their_type():
    with pytest.raises(TypeError, match="expected must be an Image"):
        assert_image_equal(ia.Image.zeros((2, 2), ia.PixelType.UInt8), np.zeros((2, 2)))


def test_importing_the_assertions_does_not_import_hypothesis():
    code = "import sys, imalgebra.testing; print('hypothesis' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
