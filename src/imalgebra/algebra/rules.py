"""Pixel-type rules: what type an operation on given pixel types produces.

One function per family, used by the nodes at construction (never by
evaluators). The rules, in short (the whole table is in ``docs/type-rules.md``):

* **Same types keep their type**; integers wrap (as SimpleITK and numpy).
* **Mixed types promote as NumPy 2 does** (NEP 50, ``np.result_type`` on the
  component dtypes): ``UInt8 + Int16 -> Int16``, ``UInt8 + Float32 ->
  Float32``, ``Int64 + UInt64 -> Float64``. SimpleITK refuses mixed types.
* **Scalars**: a Python number is *weak* (it adopts the image's kind when it
  can): ``UInt8 + 2 -> UInt8``, ``UInt8 + 2.5 -> Float64``, ``Float32 + 2.5 ->
  Float32``, ``Float32 + 1j -> ComplexFloat32``; a Python integer that does
  not fit the result (``UInt8 + 300``, ``UInt8 - (-1)`` written ``UInt8 + -1``)
  raises here, at construction, as NumPy 2 does. A numpy scalar is *strong*:
  ``UInt8 + np.int16(2) -> Int16``. The constant is never cast to the pixel
  type first (SimpleITK's ``UInt8 * 2.5 == UInt8 * 2`` hazard).
* ``/`` is true division to a float type: numpy's ``true_divide`` types
  (``Float32 / Float32 -> Float32``; any integer types -> Float64; complex stays
  complex). SimpleITK gives Float64 always.
* Comparisons give ``UInt8`` masks of 0/1 (``VectorUInt8`` per component for
  vector images); ordering comparisons refuse complex images.
* ``& | ^ ~`` need integer types; floats and complex raise a TypeError.
* **Vector images** work per component with scalars, with scalar images (the
  scalar image applies to every component) and with vector images of the same
  component count; different counts raise (never SimpleITK's over-read).
  Vector and complex do not mix.
* **Label images** take part as their unsigned integer type: ``LabelUInt8 + 1
  -> UInt8``, ``label == 3 -> UInt8``. Results are never label images (use
  ``ia.cast(..., LabelUInt8)``).

Example
-------
>>> from imalgebra import PixelType as P
>>> from imalgebra.algebra.operand import Constant
>>> promote("add", (P.UInt8, 1), Constant(2.5))
(<PixelType.Float64: 9>, 1)
>>> promote("truediv", (P.Float32, 1), (P.Int16, 1))
(<PixelType.Float32: 8>, 1)
>>> promote("add", (P.VectorUInt8, 3), (P.UInt8, 1))
(<PixelType.VectorUInt8: 13>, 3)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from imalgebra.algebra.operand import Constant
from imalgebra.algebra.pixel import PixelType
from imalgebra.errors import PixelTypeError

__all__ = [
    "BINARY_UFUNCS",
    "COMPARISONS",
    "DTYPES",
    "VECTORS",
    "describe",
    "promote",
    "type_of",
    "unary_type",
]

# op name -> the numpy ufunc whose type resolution (NEP 50) defines the result type
BINARY_UFUNCS: dict[str, np.ufunc] = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "truediv": np.true_divide,
    "floordiv": np.floor_divide,
    "mod": np.remainder,
    "pow": np.power,
    "and": np.bitwise_and,
    "or": np.bitwise_or,
    "xor": np.bitwise_xor,
    "lt": np.less,
    "le": np.less_equal,
    "gt": np.greater,
    "ge": np.greater_equal,
    "eq": np.equal,
    "ne": np.not_equal,
    "minimum": np.minimum,
    "maximum": np.maximum,
    "atan2": np.add,  # computed in float64 and cast back: the operands' promoted type (SimpleITK for equal types)
    "where": np.add,  # where(mask, a, b): a's and b's promoted type
}
COMPARISONS = frozenset({"lt", "le", "gt", "ge", "eq", "ne"})
BITWISE = frozenset({"and", "or", "xor"})
SYMBOLS = {
    "add": "+",
    "sub": "-",
    "mul": "*",
    "truediv": "/",
    "floordiv": "//",
    "mod": "%",
    "pow": "**",
    "and": "&",
    "or": "|",
    "xor": "^",
    "lt": "<",
    "le": "<=",
    "gt": ">",
    "ge": ">=",
    "eq": "==",
    "ne": "!=",
}

TypeInfo = tuple[PixelType, int]  # (pixel type, components) of an image operand
DTYPES: dict[PixelType, np.dtype] = {p: p.dtype for p in PixelType if p is not PixelType.Unknown}
"""The numpy dtype of one component, per pixel type (a dict lookup: kernels use it per region)."""
VECTORS = frozenset(p for p in PixelType if p.is_vector)
_CACHE: dict[tuple[Any, ...], TypeInfo] = {}


def type_of(operand: Any) -> TypeInfo | Constant:
    """``(pixel_type, components)`` of a node, or the :class:`Constant` itself."""
    if hasattr(operand, "kernel_value"):  # a Constant (duck-typed: robust to a module imported twice)
        return operand
    return (operand.pixel_type, operand.components)


def describe(info: TypeInfo | Constant) -> str:
    """A short name for an operand's type, for error messages."""
    if not isinstance(info, tuple):
        if info.is_weak:
            return f"the Python {type(info.value).__name__} {info.value!r}"
        return f"the numpy {info.dtype.name} scalar {info.value!r}"
    pixel_type, components = info
    if pixel_type.is_vector:
        return f"{pixel_type.name} ({components} components)"
    return pixel_type.name


def _op_text(op: str) -> str:
    return f"{op} ({SYMBOLS[op]})" if op in SYMBOLS else op


def _component(info: TypeInfo | Constant) -> Any:
    if not isinstance(info, tuple):
        return info.resolve_type
    return info[0].component_type.dtype


def promote(op: str, left: TypeInfo | Constant, right: TypeInfo | Constant) -> TypeInfo:
    """The ``(pixel_type, components)`` of ``left <op> right``; raises
    :class:`~imalgebra.PixelTypeError` (a TypeError) naming the op and both types."""
    weak_int = None
    for info in (left, right):
        if not isinstance(info, tuple) and info.is_weak and isinstance(info.value, int):
            weak_int = info.value
    cache_key = (op, _cache_part(left), _cache_part(right))
    found = _CACHE.get(cache_key)
    if found is None:
        found = _promote(op, left, right)
        _CACHE[cache_key] = found
    if weak_int is not None and op not in COMPARISONS:
        dtype = found[0].component_type.dtype
        if dtype.kind in "iu":
            info = np.iinfo(dtype)
            if not info.min <= weak_int <= info.max:
                image = left if isinstance(left, tuple) else right
                msg = (
                    f"{_op_text(op)}: the Python integer {weak_int} does not fit {dtype.name}, "
                    f"the result type of {describe(image)} with a Python int (NumPy 2 rules, NEP 50); "
                    "cast the image to a wider type first (ia.cast), or give a typed scalar such as np.int32(...)"
                )
                raise PixelTypeError(msg)
    return found


def _cache_part(info: TypeInfo | Constant) -> Any:
    if not isinstance(info, tuple):
        return ("const", info.resolve_type)
    return info


def _promote(op: str, left: TypeInfo | Constant, right: TypeInfo | Constant) -> TypeInfo:
    images = [i for i in (left, right) if isinstance(i, tuple)]
    vectors = [i for i in images if i[0].is_vector]
    complexes = [i for i in (left, right) if _kind(i) == "c"]
    pair = f"{describe(left)} and {describe(right)}"
    if vectors and complexes:
        msg = f"{_op_text(op)}: cannot combine {pair}: vector images have real components"
        raise PixelTypeError(msg)
    components = 1
    if vectors:
        counts = {i[1] for i in vectors}
        if len(counts) > 1:
            msg = (
                f"{_op_text(op)}: vector images with different component counts ({pair}); "
                "select or compose components so the counts match (ia.select_component, ia.compose)"
            )
            raise PixelTypeError(msg)
        components = counts.pop()
    if op in BITWISE:
        for info in (left, right):
            if _kind(info) not in "iu":
                msg = (
                    f"{_op_text(op)} is bitwise and needs integer pixel types, got {describe(info)}; "
                    "cast to an integer type first (ia.cast), or use comparisons and ia.where for logic"
                )
                raise PixelTypeError(msg)
    if op in COMPARISONS - {"eq", "ne"} and complexes:
        msg = f"{_op_text(op)}: complex numbers have no order ({pair}); compare abs(...) or ia.real(...)"
        raise PixelTypeError(msg)
    ufunc = BINARY_UFUNCS[op]
    try:
        dtypes = ufunc.resolve_dtypes((_component(left), _component(right), None))
    except TypeError:
        msg = f"{_op_text(op)} is not defined for {pair}" + _hint(op, left, right)
        raise PixelTypeError(msg) from None
    if op in COMPARISONS:
        return (PixelType.VectorUInt8 if vectors else PixelType.UInt8, components)
    out = dtypes[-1]
    try:
        pixel_type = PixelType.from_dtype(out, is_vector=bool(vectors))
    except PixelTypeError:
        msg = f"{_op_text(op)}: the result type {out} of {pair} is not a pixel type"
        raise PixelTypeError(msg) from None
    return (pixel_type, components)


def _kind(info: TypeInfo | Constant) -> str:
    """numpy's kind letter of an operand's components ("i", "u", "f", "c")."""
    if not isinstance(info, tuple):
        if info.dtype is not None:
            return info.dtype.kind
        return {int: "i", float: "f", complex: "c"}[type(info.value)]
    return info[0].component_type.dtype.kind


def _hint(op: str, left: TypeInfo | Constant, right: TypeInfo | Constant) -> str:
    if op in ("floordiv", "mod"):
        return "; floor division and modulus need real pixel types"
    return "; cast one operand first (ia.cast)"


def unary_type(op: str, info: TypeInfo, *, allow: str = "iufc", real_result: bool = False) -> TypeInfo:
    """The type of a unary op: the input's type (labels become their unsigned
    integer type), or its real counterpart when ``real_result`` (``abs`` of a
    complex image). ``allow`` lists the numpy kinds accepted."""
    pixel_type, components = info
    if pixel_type.is_label:
        pixel_type = pixel_type.component_type
    kind = pixel_type.component_type.dtype.kind
    if kind not in allow:
        need = {"iu": "integer", "iuf": "real (integer or float)", "f": "float", "fc": "float or complex"}.get(
            allow, allow
        )
        msg = f"{op} needs {need} pixel types, got {describe(info)}; cast first (ia.cast)"
        raise PixelTypeError(msg)
    if real_result and pixel_type.is_complex:
        pixel_type = PixelType.Float32 if pixel_type is PixelType.ComplexFloat32 else PixelType.Float64
    return (pixel_type, components)
