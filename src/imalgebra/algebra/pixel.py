"""Pixel types: SimpleITK's list, ids and names, with their numpy dtypes.

Each :class:`PixelType` member carries SimpleITK's integer id (``id``), its
description string, the numpy dtype of *one component*, and predicates for
its kind. Label types hold integer labels and are stored run-length encoded
by :class:`~imalgebra.Image`.

Example
-------
>>> from imalgebra import PixelType
>>> PixelType.Int16.id, PixelType.Int16.description
(2, '16-bit signed integer')
>>> PixelType.from_id(13)
<PixelType.VectorUInt8: 13>
>>> PixelType.from_dtype("float32", is_vector=True)
<PixelType.VectorFloat32: 20>
"""

from __future__ import annotations

import enum

import numpy as np

from imalgebra.errors import PixelTypeError

__all__ = ["PixelType"]

# name -> (id, description, numpy dtype of one component or None, kind)
_TABLE: dict[str, tuple[int, str, str | None, str]] = {
    "Unknown": (-1, "Unknown pixel id", None, "unknown"),
    "Int8": (0, "8-bit signed integer", "int8", "scalar"),
    "UInt8": (1, "8-bit unsigned integer", "uint8", "scalar"),
    "Int16": (2, "16-bit signed integer", "int16", "scalar"),
    "UInt16": (3, "16-bit unsigned integer", "uint16", "scalar"),
    "Int32": (4, "32-bit signed integer", "int32", "scalar"),
    "UInt32": (5, "32-bit unsigned integer", "uint32", "scalar"),
    "Int64": (6, "64-bit signed integer", "int64", "scalar"),
    "UInt64": (7, "64-bit unsigned integer", "uint64", "scalar"),
    "Float32": (8, "32-bit float", "float32", "scalar"),
    "Float64": (9, "64-bit float", "float64", "scalar"),
    "ComplexFloat32": (10, "complex of 32-bit float", "complex64", "complex"),
    "ComplexFloat64": (11, "complex of 64-bit float", "complex128", "complex"),
    "VectorInt8": (12, "vector of 8-bit signed integer", "int8", "vector"),
    "VectorUInt8": (13, "vector of 8-bit unsigned integer", "uint8", "vector"),
    "VectorInt16": (14, "vector of 16-bit signed integer", "int16", "vector"),
    "VectorUInt16": (15, "vector of 16-bit unsigned integer", "uint16", "vector"),
    "VectorInt32": (16, "vector of 32-bit signed integer", "int32", "vector"),
    "VectorUInt32": (17, "vector of 32-bit unsigned integer", "uint32", "vector"),
    "VectorInt64": (18, "vector of 64-bit signed integer", "int64", "vector"),
    "VectorUInt64": (19, "vector of 64-bit unsigned integer", "uint64", "vector"),
    "VectorFloat32": (20, "vector of 32-bit float", "float32", "vector"),
    "VectorFloat64": (21, "vector of 64-bit float", "float64", "vector"),
    "LabelUInt8": (22, "label of 8-bit unsigned integer", "uint8", "label"),
    "LabelUInt16": (23, "label of 16-bit unsigned integer", "uint16", "label"),
    "LabelUInt32": (24, "label of 32-bit unsigned integer", "uint32", "label"),
    "LabelUInt64": (25, "label of 64-bit unsigned integer", "uint64", "label"),
}


class PixelType(enum.IntEnum):
    """One member per SimpleITK pixel type; the value is SimpleITK's id.

    >>> PixelType.VectorUInt8.is_vector, PixelType.VectorUInt8.component_type
    (True, <PixelType.UInt8: 1>)
    """

    Unknown = -1
    Int8 = 0
    UInt8 = 1
    Int16 = 2
    UInt16 = 3
    Int32 = 4
    UInt32 = 5
    Int64 = 6
    UInt64 = 7
    Float32 = 8
    Float64 = 9
    ComplexFloat32 = 10
    ComplexFloat64 = 11
    VectorInt8 = 12
    VectorUInt8 = 13
    VectorInt16 = 14
    VectorUInt16 = 15
    VectorInt32 = 16
    VectorUInt32 = 17
    VectorInt64 = 18
    VectorUInt64 = 19
    VectorFloat32 = 20
    VectorFloat64 = 21
    LabelUInt8 = 22
    LabelUInt16 = 23
    LabelUInt32 = 24
    LabelUInt64 = 25

    # -- identity ---------------------------------------------------------
    @property
    def id(self) -> int:
        """SimpleITK's integer pixel id (``sitk.sitkInt16 == 2``)."""
        return int(self.value)

    @property
    def description(self) -> str:
        """SimpleITK's ``GetPixelIDTypeAsString()`` text."""
        return _TABLE[self.name][1]

    @property
    def kind(self) -> str:
        """One of ``"scalar"``, ``"complex"``, ``"vector"``, ``"label"``, ``"unknown"``."""
        return _TABLE[self.name][3]

    @property
    def dtype(self) -> np.dtype:
        """The numpy dtype of one component (``VectorFloat32.dtype == float32``)."""
        name = _TABLE[self.name][2]
        if name is None:
            msg = "PixelType.Unknown has no numpy dtype; choose a concrete pixel type"
            raise PixelTypeError(msg)
        return np.dtype(name)

    # -- predicates -------------------------------------------------------
    @property
    def is_vector(self) -> bool:
        return self.kind == "vector"

    @property
    def is_complex(self) -> bool:
        return self.kind == "complex"

    @property
    def is_label(self) -> bool:
        return self.kind == "label"

    @property
    def is_scalar(self) -> bool:
        """True for the real scalar types (integers and floats, not labels)."""
        return self.kind == "scalar"

    @property
    def is_integer(self) -> bool:
        """True when components are integers (scalar, vector and label types)."""
        return self.kind in ("scalar", "vector", "label") and self.dtype.kind in "iu"

    @property
    def is_float(self) -> bool:
        """True when components are real floating point numbers."""
        return self.kind in ("scalar", "vector") and self.dtype.kind == "f"

    @property
    def is_signed(self) -> bool:
        return self.kind != "unknown" and self.dtype.kind in "ifc"

    # -- relatives --------------------------------------------------------
    @property
    def component_type(self) -> PixelType:
        """The scalar type of one component: ``VectorUInt8 -> UInt8``, ``LabelUInt16 -> UInt16``."""
        if self.kind in ("vector", "label"):
            return PixelType[self.name.removeprefix("Vector").removeprefix("Label")]
        return self

    @property
    def vector_type(self) -> PixelType:
        """The vector type with this component type: ``UInt8 -> VectorUInt8``."""
        base = self.component_type
        if base.kind != "scalar":
            msg = f"{self.name} has no vector counterpart; vectors hold integer or float components"
            raise PixelTypeError(msg)
        return PixelType["Vector" + base.name]

    @property
    def label_type(self) -> PixelType:
        """The label type with this component type: ``UInt16 -> LabelUInt16``."""
        base = self.component_type
        if "Label" + base.name not in PixelType.__members__:
            msg = (
                f"{self.name} has no label counterpart; labels are unsigned integers: "
                "LabelUInt8, LabelUInt16, LabelUInt32, LabelUInt64"
            )
            raise PixelTypeError(msg)
        return PixelType["Label" + base.name]

    @property
    def min(self) -> int | float:
        """The smallest value of one component (``-inf`` is not used for floats)."""
        dt = self.component_type.dtype
        if dt.kind in "iu":
            return int(np.iinfo(dt).min)
        return float(np.finfo(dt).min)

    @property
    def max(self) -> int | float:
        """The largest value of one component."""
        dt = self.component_type.dtype
        if dt.kind in "iu":
            return int(np.iinfo(dt).max)
        return float(np.finfo(dt).max)

    # -- constructors -----------------------------------------------------
    @classmethod
    def from_id(cls, pixel_id: int) -> PixelType:
        """The member with SimpleITK's id ``pixel_id``.

        >>> PixelType.from_id(2)
        <PixelType.Int16: 2>
        """
        try:
            return cls(int(pixel_id))
        except ValueError:
            msg = f"pixel id {pixel_id!r} is not a SimpleITK pixel id; valid ids are -1 and 0..25"
            raise PixelTypeError(msg) from None

    @classmethod
    def from_dtype(cls, dtype: object, *, is_vector: bool = False) -> PixelType:
        """The pixel type for numpy ``dtype`` (a vector type when ``is_vector``).

        Byte order does not matter (``>f4`` is Float32); ``bool`` maps to UInt8.
        float16, object, strings, datetimes and extended precision raise.

        >>> PixelType.from_dtype(">i2")
        <PixelType.Int16: 2>
        """
        try:
            dt = np.dtype(dtype)
        except TypeError:
            msg = f"{dtype!r} is not a numpy dtype; supported: {_SUPPORTED}"
            raise PixelTypeError(msg) from None
        if dt.kind == "b":
            dt = np.dtype("uint8")
        key = dt.newbyteorder("=") if dt.byteorder not in ("=", "|") else dt
        found = _BY_DTYPE.get(np.dtype(key).str.lstrip("<>|="))
        if found is None:
            msg = f"dtype {dt} is not supported as a pixel type; supported: {_SUPPORTED}"
            raise PixelTypeError(msg)
        if is_vector:
            if found.is_complex:
                msg = f"dtype {dt} cannot be a vector pixel type; vectors hold integer or float components"
                raise PixelTypeError(msg)
            return found.vector_type
        return found

    def __repr__(self) -> str:
        return f"<PixelType.{self.name}: {self.value}>"

    def __str__(self) -> str:
        return f"PixelType.{self.name}"


_BY_DTYPE: dict[str, PixelType] = {
    np.dtype(spec[2]).str.lstrip("<>|="): PixelType[name]
    for name, spec in _TABLE.items()
    if spec[3] in ("scalar", "complex")
}
_SUPPORTED = "bool, int8, uint8, int16, uint16, int32, uint32, int64, uint64, float32, float64, complex64, complex128"
