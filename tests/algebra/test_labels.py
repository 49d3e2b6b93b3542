"""Label images are stored as runs along x: exact values, memory proportional to runs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import imalgebra as ia
from imalgebra import PixelType, Region
from imalgebra.algebra.storage import RunLengthStorage

LABEL_TYPES = [PixelType.LabelUInt8, PixelType.LabelUInt16, PixelType.LabelUInt32, PixelType.LabelUInt64]


def sparse_labels(shape=(64, 128, 128), seed=0) -> np.ndarray:
    arr = np.zeros(shape, np.uint16)
    arr[10:40, 20:60, 30:90] = 3
    arr[45:50, 100:120, 5:20] = 7
    return arr


@given(hnp.arrays(np.uint8, hnp.array_shapes(min_dims=2, max_dims=4, max_side=7), elements=st.integers(0, 3)))
def test_encode_decode_is_exact(arr):
    storage = RunLengthStorage.encode(arr)
    np.testing.assert_array_equal(storage.read_all(), arr)


@given(hnp.arrays(np.uint8, (5, 6, 7), elements=st.integers(0, 2)), st.data())
def test_region_reads_and_pixels_agree_with_the_dense_array(arr, data):
    storage = RunLengthStorage.encode(arr)
    index = [data.draw(st.integers(0, n - 1)) for n in (7, 6, 5)]
    size = [data.draw(st.integers(1, n - i)) for n, i in zip((7, 6, 5), index, strict=True)]
    region = Region(index=index, size=size)
    np.testing.assert_array_equal(storage.read(region), arr[region.slices])
    assert storage.pixel(tuple(index[::-1])) == arr[tuple(index[::-1])]


@given(hnp.arrays(np.uint8, (4, 5, 6), elements=st.integers(0, 2)), st.data())
def test_with_values_agrees_with_a_dense_copy(arr, data):
    n = data.draw(st.integers(1, 10))
    idx = np.asarray(
        data.draw(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 4), st.integers(0, 3)), min_size=n, max_size=n))
    )
    values = np.asarray(data.draw(st.lists(st.integers(0, 4), min_size=n, max_size=n)), np.uint8)
    img = ia.from_array(arr, pixel_type=PixelType.LabelUInt8).with_pixels(idx, values)
    expected = arr.copy()
    expected[idx[:, 2], idx[:, 1], idx[:, 0]] = values  # later duplicates win, as in numpy
    np.testing.assert_array_equal(ia.to_array(img), expected)


@pytest.mark.parametrize("pixel_type", LABEL_TYPES)
def test_conversion_to_and_from_integers_is_exact(pixel_type):
    arr = sparse_labels((6, 9, 11)).astype(pixel_type.dtype)
    arr[0, 0, 0] = pixel_type.max
    img = ia.from_array(arr, pixel_type=pixel_type)
    assert img.pixel_type is pixel_type
    back = ia.to_array(img)
    assert back.dtype == pixel_type.dtype
    np.testing.assert_array_equal(back, arr)
    assert img[0, 0, 0] == pixel_type.max


def test_memory_is_proportional_to_runs_not_voxels():
    arr = sparse_labels()
    img = ia.from_array(arr, pixel_type=PixelType.LabelUInt16)
    assert img.nbytes < arr.nbytes / 20
    assert img.storage.run_count == 30 * 40 + 5 * 20


def test_zeros_label_image_costs_almost_nothing():
    img = ia.Image.zeros((512, 512, 512), PixelType.LabelUInt32)
    assert img.nbytes < 3 * 512 * 512 * 8  # one row pointer per row, no runs
    assert img[100, 200, 300] == 0


def test_negative_or_fractional_values_are_refused():
    with pytest.raises(ia.PixelTypeError, match="do not fit LabelUInt8"):
        ia.from_array(np.array([[-1, 2]]), pixel_type=PixelType.LabelUInt8)
    with pytest.raises(ia.PixelTypeError, match="integers"):
        ia.from_array(np.array([[0.5, 2]]), pixel_type=PixelType.LabelUInt8)
