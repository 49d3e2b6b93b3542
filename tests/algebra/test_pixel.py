"""PixelType: ids, descriptions, dtypes and predicates agree with SimpleITK."""

from __future__ import annotations

import numpy as np
import pytest

import imalgebra as ia
from imalgebra import PixelType

CONCRETE = [p for p in PixelType if p is not PixelType.Unknown]


def test_every_member_of_api_md_exists():
    names = [
        "UInt8",
        "Int8",
        "UInt16",
        "Int16",
        "UInt32",
        "Int32",
        "UInt64",
        "Int64",
        "Float32",
        "Float64",
        "ComplexFloat32",
        "ComplexFloat64",
        "LabelUInt8",
        "LabelUInt16",
        "LabelUInt32",
        "LabelUInt64",
        "Unknown",
    ]
    vectors = ["Vector" + n for n in names[:10]]
    for name in names + vectors:
        assert PixelType[name].name == name


@pytest.mark.parametrize("pixel_type", list(PixelType))
def test_ids_and_descriptions_match_simpleitk(sitk, pixel_type):
    sitk_id = getattr(sitk, "sitk" + pixel_type.name)
    assert pixel_type.id == sitk_id
    assert pixel_type.description == sitk.GetPixelIDValueAsString(sitk_id)
    assert PixelType.from_id(sitk_id) is pixel_type


@pytest.mark.parametrize("pixel_type", [p for p in CONCRETE if not p.is_label])
def test_dtype_matches_simpleitk_arrays(sitk, pixel_type):
    components = 3 if pixel_type.is_vector else 1
    img = sitk.Image([3, 2], getattr(sitk, "sitk" + pixel_type.name), components)
    assert sitk.GetArrayViewFromImage(img).dtype == pixel_type.dtype


def test_api_md_lines():
    assert ia.PixelType.Int16.id == 2
    assert ia.PixelType.Int16.description == "16-bit signed integer"
    assert ia.PixelType.from_id(2) is ia.PixelType.Int16
    assert ia.PixelType.Float32.dtype == np.float32
    v = ia.PixelType.VectorUInt8
    assert (v.is_vector, v.is_complex, v.is_label, v.is_integer) == (True, False, False, True)


@pytest.mark.parametrize(
    ("pixel_type", "vector", "complex_", "label", "integer"),
    [
        (PixelType.Int8, False, False, False, True),
        (PixelType.Float64, False, False, False, False),
        (PixelType.ComplexFloat32, False, True, False, False),
        (PixelType.VectorFloat32, True, False, False, False),
        (PixelType.LabelUInt16, False, False, True, True),
    ],
)
def test_predicates(pixel_type, vector, complex_, label, integer):
    assert pixel_type.is_vector is vector
    assert pixel_type.is_complex is complex_
    assert pixel_type.is_label is label
    assert pixel_type.is_integer is integer


def test_relatives():
    assert PixelType.VectorInt16.component_type is PixelType.Int16
    assert PixelType.LabelUInt32.component_type is PixelType.UInt32
    assert PixelType.Float32.vector_type is PixelType.VectorFloat32
    assert PixelType.UInt8.label_type is PixelType.LabelUInt8
    with pytest.raises(ia.PixelTypeError, match="label"):
        _ = PixelType.Int8.label_type
    with pytest.raises(ia.PixelTypeError, match="vector"):
        _ = PixelType.ComplexFloat32.vector_type


@pytest.mark.parametrize(
    ("dtype", "is_vector", "expected"),
    [
        ("uint8", False, PixelType.UInt8),
        (">f4", False, PixelType.Float32),
        ("<i8", True, PixelType.VectorInt64),
        (np.intc, False, PixelType.Int32),
        (np.complex128, False, PixelType.ComplexFloat64),
        (bool, False, PixelType.UInt8),
    ],
)
def test_from_dtype(dtype, is_vector, expected):
    assert PixelType.from_dtype(dtype, is_vector=is_vector) is expected


@pytest.mark.parametrize("dtype", ["float16", "object", "datetime64[s]", "<U3", "S3", np.longdouble])
def test_unsupported_dtypes_name_the_dtype_and_the_supported_ones(dtype):
    if np.dtype(dtype) == np.float64:  # platforms where longdouble is double
        pytest.skip("longdouble is float64 here")
    with pytest.raises(TypeError, match=r"not supported .*supported: bool, int8") as info:
        PixelType.from_dtype(dtype)
    assert isinstance(info.value, ia.ImageAlgebraError)
    assert str(np.dtype(dtype)) in str(info.value)


def test_complex_vectors_are_refused():
    with pytest.raises(ia.PixelTypeError, match="vector"):
        PixelType.from_dtype("complex64", is_vector=True)


def test_from_id_rejects_unknown_ids():
    with pytest.raises(ia.PixelTypeError, match="99"):
        PixelType.from_id(99)


def test_unknown_has_no_dtype():
    assert PixelType.Unknown.id == -1
    assert PixelType.Unknown.description == "Unknown pixel id"
    with pytest.raises(ia.PixelTypeError):
        _ = PixelType.Unknown.dtype


def test_ranges():
    assert (PixelType.UInt8.min, PixelType.UInt8.max) == (0, 255)
    assert PixelType.VectorInt16.max == 32767
    assert PixelType.Float32.max == pytest.approx(3.4028234663852886e38)
