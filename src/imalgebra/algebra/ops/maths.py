"""Voxelwise maths: exp, log, sqrt, trigonometry, atan2, pow, minimum, maximum, rounding.

Result types (the table is in ``docs/type-rules.md``):

* **Functions SimpleITK has** (exp, log, log10, sqrt, square, sin, cos, tan,
  asin, acos, atan, atan2, round) keep SimpleITK's rule: the result has the
  input's pixel type, computed in double precision and converted back, so an
  Int16 image gives Int16 (``exp(Int16 1) == 2``, truncated; a NaN such as
  ``sqrt(-3)`` converts like :func:`imalgebra.cast` does, to 0 for 8/16-bit
  types). Float32 is computed in double and rounded, as ITK does. Pass
  ``pixel_type=`` (e.g. ``ia.PixelType.Float64``) to get the double result in
  another type instead: ``ia.sqrt(int_img, pixel_type=ia.PixelType.Float32)``.
* Functions SimpleITK lacks (floor, ceil, trunc, sign, real, imag) keep the
  type too; they are exact.
* ``minimum``/``maximum`` and ``atan2`` take two operands (images or numbers)
  and promote like ``+`` (NEP 50): ``minimum(Int16 img, 2.5)`` is Float64,
  where SimpleITK casts 2.5 to 2 first. NaN propagates (numpy's minimum).
* ``pow`` is ``**``. ``abs`` is ``abs()``.
* Vector images work per component; complex images work with the functions
  numpy defines on them (exp, log, sqrt, trigonometry), and ``real``/``imag``
  /``abs`` give their real type.
* ``round`` rounds half up, toward +inf (``-2.5 -> -2``, ``2.5 -> 3``), as
  SimpleITK's Round; NaN and infinities stay as they are (SimpleITK gives
  garbage there).

Example
-------
>>> import numpy as np, imalgebra as ia
>>> i16 = ia.from_array(np.array([[1, 2, -3, 10]], dtype=np.int16))
>>> ia.to_array(ia.evaluate(ia.exp(i16))).tolist()
[[2, 7, 0, 22026]]
>>> ia.to_array(ia.evaluate(ia.sqrt(i16, pixel_type=ia.PixelType.Float64))).round(3).tolist()
[[1.0, 1.414, nan, 3.162]]
>>> f = ia.from_array(np.array([[-2.5, -0.5, 0.5, 2.5]], dtype=np.float32))
>>> ia.to_array(ia.evaluate(ia.round(f))).tolist()
[[-2.0, 0.0, 1.0, 3.0]]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import attrs
import numpy as np

from imalgebra.algebra.expr import Node, node
from imalgebra.algebra.geometry import Geometry, Region
from imalgebra.algebra.ops.arithmetic import Absolute, Binary, Power, Unary, binary
from imalgebra.algebra.ops.cast import c_cast
from imalgebra.algebra.pixel import PixelType
from imalgebra.algebra.rules import DTYPES, describe, type_of, unary_type
from imalgebra.algebra.spacecheck import ToleranceLike
from imalgebra.errors import PixelTypeError

__all__ = [
    "Atan2",
    "MathFunction",
    "Maximum",
    "Minimum",
    "abs",
    "acos",
    "asin",
    "atan",
    "atan2",
    "ceil",
    "cos",
    "exp",
    "floor",
    "imag",
    "log",
    "log10",
    "maximum",
    "minimum",
    "pow",
    "real",
    "round",
    "sign",
    "sin",
    "sqrt",
    "square",
    "tan",
    "trunc",
]


def _result_type(op: str, arg: Any, to: PixelType | None, allow: str) -> tuple[PixelType, int]:
    pixel_type, components = unary_type(op, type_of(arg), allow=allow)
    if to is None:
        return pixel_type, components
    to = PixelType(to)
    if to is PixelType.Unknown or to.is_label:
        msg = f"{op}: pixel_type={to.name} is not a result type; choose an integer, float or complex type"
        raise PixelTypeError(msg)
    if pixel_type.is_complex != to.is_complex:
        msg = f"{op}: pixel_type={to.name} does not fit {describe(type_of(arg))} (complex stays complex)"
        raise PixelTypeError(msg)
    if pixel_type.is_vector:
        to = to.vector_type
    elif to.is_vector:
        msg = f"{op}: pixel_type={to.name} is a vector type but {describe(type_of(arg))} is scalar; cast first"
        raise PixelTypeError(msg)
    return to, components


@attrs.frozen(eq=False, repr=False)
class MathFunction(Unary):
    """A voxelwise function computed in double precision and converted to the
    result type (SimpleITK's rule); ``to`` overrides the result type."""

    function: ClassVar[Callable[[np.ndarray], np.ndarray]] = staticmethod(np.exp)
    exact: ClassVar[bool] = False  # exact functions run in the input's own type

    to: PixelType | None = attrs.field(default=None, kw_only=True, converter=attrs.converters.optional(PixelType))

    def infer(self) -> tuple[Geometry, PixelType, int]:
        pixel_type, components = _result_type(self.op_name, self.arg, self.to, self.allow)
        return self.arg.geometry, pixel_type, components

    def compute(self, region: Region, arg: np.ndarray) -> np.ndarray:
        dtype = DTYPES[self.pixel_type]
        with np.errstate(all="ignore"):
            if self.exact and self.to is None:
                return _as(type(self).function(arg), dtype)
            if arg.dtype.kind == "c":
                wide = arg.astype(np.complex128, copy=False)
            else:
                wide = arg.astype(np.float64, copy=False)
            return c_cast(type(self).function(wide), dtype)


def _as(out: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return out if out.dtype == dtype else out.astype(dtype)


def _round_half_up(x: np.ndarray) -> np.ndarray:
    if x.dtype.kind in "iu":
        return x
    down = np.floor(x)
    return down + (x - down >= 0.5)  # exact: x - floor(x) is representable


def _trunc(x: np.ndarray) -> np.ndarray:
    return x if x.dtype.kind in "iu" else np.trunc(x)


def _floor(x: np.ndarray) -> np.ndarray:
    return x if x.dtype.kind in "iu" else np.floor(x)


def _ceil(x: np.ndarray) -> np.ndarray:
    return x if x.dtype.kind in "iu" else np.ceil(x)


def _real(x: np.ndarray) -> np.ndarray:
    return np.real(x)


def _imag(x: np.ndarray) -> np.ndarray:
    return np.imag(x) if x.dtype.kind == "c" else np.zeros_like(x)


def _make(
    name: str, function: Callable[..., Any], *, allow: str = "iufc", exact: bool = False, doc: str = ""
) -> type[MathFunction]:
    cls = type(
        name.capitalize(),
        (MathFunction,),
        {
            "__doc__": doc or f"``{name}(x)`` per voxel (see :mod:`imalgebra.algebra.ops.maths`).",
            "__module__": __name__,
            "__qualname__": name.capitalize(),
            "op_name": name,
            "allow": allow,
            "exact": exact,
            "function": staticmethod(function),
        },
    )
    return node(cls)


Exp = _make("exp", np.exp)
Log = _make("log", np.log)
Log10 = _make("log10", np.log10)
Sqrt = _make("sqrt", np.sqrt)
Square = _make("square", np.square)
Sin = _make("sin", np.sin)
Cos = _make("cos", np.cos)
Tan = _make("tan", np.tan)
Asin = _make("asin", np.arcsin)
Acos = _make("acos", np.arccos)
Atan = _make("atan", np.arctan, allow="iuf")
Round = _make("round", _round_half_up, allow="iuf", exact=True, doc="Round half up (toward +inf), as SimpleITK.")
Floor = _make("floor", _floor, allow="iuf", exact=True)
Ceil = _make("ceil", _ceil, allow="iuf", exact=True)
Trunc = _make("trunc", _trunc, allow="iuf", exact=True)
Sign = _make("sign", np.sign, allow="iuf", exact=True, doc="-1, 0 or 1 (NaN stays NaN); unsigned types give 0 or 1.")


@node
class Real(Unary):
    """The real part (the value itself for real images)."""

    op_name = "real"

    def infer(self) -> tuple[Geometry, PixelType, int]:
        pixel_type, components = unary_type(self.op_name, type_of(self.arg), real_result=True)
        return self.arg.geometry, pixel_type, components

    def kernel(self, arg: np.ndarray) -> np.ndarray:
        return _real(arg)


@node
class Imag(Real):
    """The imaginary part (zeros for real images)."""

    op_name = "imag"

    def kernel(self, arg: np.ndarray) -> np.ndarray:
        return _imag(arg)


def _unary_function(cls: type[MathFunction], name: str) -> Callable[..., MathFunction]:
    def function(arg: Node, *, pixel_type: PixelType | None = None, to: PixelType | None = None) -> MathFunction:
        return cls(arg=arg, to=pixel_type if pixel_type is not None else to)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = (
        f"``{name}`` of every voxel (an expression); see :mod:`imalgebra.algebra.ops.maths` for the result type.\n\n"
        "``pixel_type`` (alias ``to``) gives the result type instead of the input's.\n"
    )
    return function


exp = _unary_function(Exp, "exp")
log = _unary_function(Log, "log")
log10 = _unary_function(Log10, "log10")
sqrt = _unary_function(Sqrt, "sqrt")
square = _unary_function(Square, "square")
sin = _unary_function(Sin, "sin")
cos = _unary_function(Cos, "cos")
tan = _unary_function(Tan, "tan")
asin = _unary_function(Asin, "asin")
acos = _unary_function(Acos, "acos")
atan = _unary_function(Atan, "atan")


def round(arg: Node) -> MathFunction:
    """Round half up (toward +inf) per voxel, keeping the type (SimpleITK's Round).

    >>> import numpy as np, imalgebra as ia
    >>> ia.to_array(ia.evaluate(round(ia.from_array(np.array([[-1.5, 1.5]]))))).tolist()
    [[-1.0, 2.0]]
    """
    return Round(arg=arg)


def floor(arg: Node) -> MathFunction:
    """The largest integer <= x per voxel (same type; integers unchanged)."""
    return Floor(arg=arg)


def ceil(arg: Node) -> MathFunction:
    """The smallest integer >= x per voxel (same type; integers unchanged)."""
    return Ceil(arg=arg)


def trunc(arg: Node) -> MathFunction:
    """x rounded toward 0 per voxel (same type; integers unchanged)."""
    return Trunc(arg=arg)


def sign(arg: Node) -> MathFunction:
    """-1, 0 or 1 per voxel (same type)."""
    return Sign(arg=arg)


def real(arg: Node) -> Unary:
    """The real part: ComplexFloat32 -> Float32, ComplexFloat64 -> Float64; real images unchanged."""
    return Real(arg=arg)


def imag(arg: Node) -> Unary:
    """The imaginary part: ComplexFloat32 -> Float32; zeros for real images."""
    return Imag(arg=arg)


def abs(arg: Node) -> Unary:
    """``abs(arg)``: the same type (integers wrap: abs(Int8 -128) is -128); complex gives the modulus."""
    return Absolute(arg=arg)


# -- binary ----------------------------------------------------------------------
@node
class Minimum(Binary):
    op_name = "minimum"
    op = "minimum"
    ufunc = np.minimum


@node
class Maximum(Binary):
    op_name = "maximum"
    op = "maximum"
    ufunc = np.maximum


@node
class Atan2(Binary):
    """``atan2(y, x)``: the promoted type of ``y`` and ``x``, computed in double (SimpleITK for equal types)."""

    op_name = "atan2"
    op = "atan2"

    def result_type(self) -> tuple[PixelType, int]:
        pixel_type, components = super().result_type()
        if pixel_type.is_complex:
            msg = "atan2 needs real operands, got complex"
            raise PixelTypeError(msg)
        return pixel_type, components

    def kernel(self, left: Any, right: Any) -> np.ndarray:
        y = np.asarray(left).astype(np.float64, copy=False)
        x = np.asarray(right).astype(np.float64, copy=False)
        return c_cast(np.arctan2(y, x), DTYPES[self.pixel_type])


def minimum(left: Any, right: Any, *, tolerance: ToleranceLike = None) -> Binary:
    """The smaller of two images (or an image and a number) per voxel; NaN propagates.

    >>> import numpy as np, imalgebra as ia
    >>> a = ia.from_array(np.array([[1, 5]], dtype=np.int16))
    >>> ia.to_array(ia.evaluate(minimum(a, 2.5))).tolist()
    [[1.0, 2.5]]
    """
    return binary(Minimum, left, right, tolerance)


def maximum(left: Any, right: Any, *, tolerance: ToleranceLike = None) -> Binary:
    """The larger of two images (or an image and a number) per voxel; NaN propagates."""
    return binary(Maximum, left, right, tolerance)


def atan2(y: Any, x: Any, *, tolerance: ToleranceLike = None) -> Binary:
    """The angle of (x, y) per voxel, in radians (-pi..pi)."""
    return binary(Atan2, y, x, tolerance)


def pow(base: Any, exponent: Any, *, tolerance: ToleranceLike = None) -> Binary:
    """``base ** exponent`` (see :class:`~imalgebra.algebra.ops.arithmetic.Power`)."""
    return binary(Power, base, exponent, tolerance)
