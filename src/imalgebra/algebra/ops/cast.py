"""Changing the pixel type: :func:`cast` and :func:`clamp`.

``cast`` converts every component like a C ``static_cast``, as SimpleITK's
Cast does, but defined on every input (C leaves out-of-range float -> int
conversions undefined; here they give SimpleITK 2.5.7's observed values on
x86-64, on every platform):

* integer -> integer wraps modulo 2**bits (``Int16(300) -> UInt8`` is 44);
* float -> integer truncates toward zero, then wraps: ``-3.7 -> UInt8`` is 253,
  ``300.2 -> UInt8`` is 44. Values a C conversion cannot represent (NaN, inf,
  beyond the intermediate integer's range) give that conversion's "invalid"
  value: for 8-, 16- and 32-bit signed targets the conversion goes through
  Int32 (invalid: -2**31, so 0 for 8/16 bits); UInt32, Int64 and UInt64 through
  Int64 (invalid: -2**63, so 0 for UInt32; UInt64 keeps [2**63, 2**64) exactly).
  SimpleITK's maths filters give exactly these values; its Cast filter agrees
  except for UInt32 outside [-2**31, 2**32), where its vectorised loop gives 0
  or 2**31 depending on the SIMD lane (here: always the rule above);
* integer -> float rounds to nearest; float64 -> float32 rounds, overflowing to
  +-inf; anything real -> complex adds ``+0j``;
* complex -> real raises (take ``ia.real``, ``ia.imag`` or ``abs`` first);
* scalar -> vector gives a 1-component vector image; a 1-component vector ->
  scalar is allowed (SimpleITK refuses it); more components -> scalar raises
  and names :func:`imalgebra.select_component`; vector -> vector keeps the
  component count;
* -> a label type must be exact: every value must be a non-negative integer
  that fits, else evaluation raises :class:`~imalgebra.EvaluationError` naming
  the first bad value (labels are identities, a wrapped -1 would silently
  become label 255). Cast to the unsigned type first to wrap on purpose.

``clamp`` limits values to ``[lower, upper]`` within the output type's range,
then casts (SimpleITK's Clamp): ``clamp(f32, pixel_type=UInt8)`` saturates to
0..255 instead of wrapping. A bound outside the output type's range saturates
to it (SimpleITK wraps it: ``clamp(Int8 img, lower=200)`` clamps to -56 there).

Example
-------
>>> import numpy as np, imalgebra as ia
>>> f = ia.from_array(np.array([[-3.7, 0.5, 200.6, 300.2, -300.0, 1e10]], dtype=np.float32))
>>> ia.to_array(ia.evaluate(ia.cast(f, ia.PixelType.UInt8))).tolist()
[[253, 0, 200, 44, 212, 0]]
>>> ia.to_array(ia.evaluate(ia.clamp(f, pixel_type=ia.PixelType.UInt8))).tolist()
[[0, 0, 200, 255, 0, 255]]
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
import numpy as np

from imalgebra.algebra.expr import Node, node
from imalgebra.algebra.geometry import Geometry, Region
from imalgebra.algebra.ops.arithmetic import Unary
from imalgebra.algebra.pixel import PixelType
from imalgebra.algebra.rules import DTYPES
from imalgebra.errors import PixelTypeError

__all__ = ["Cast", "Clamp", "c_cast", "cast", "cast_type", "clamp"]

_2_31 = 2.0**31
_2_63 = 2.0**63


def _through(t: np.ndarray, lo: float, hi: float, via: type, invalid: int) -> np.ndarray:
    """``t`` (already truncated) converted to ``via`` where it lies in [lo, hi), ``invalid`` elsewhere (NaN too)."""
    ok = (t >= lo) & (t < hi)
    if ok.all():
        return t.astype(via)
    return np.where(ok, t, 0).astype(via) if invalid == 0 else np.where(ok, t, invalid).astype(via)


def c_cast(array: np.ndarray, dtype: Any) -> np.ndarray:
    """``array`` converted to ``dtype`` with C/SimpleITK semantics, defined everywhere
    (see the module docstring). Returns ``array`` itself when the dtype matches.

    >>> c_cast(np.array([-3.7, 300.2, np.nan]), np.uint8).tolist()
    [253, 44, 0]
    >>> c_cast(np.array([-1.0, 5e9, np.nan]), np.uint32).tolist()
    [4294967295, 705032704, 0]
    """
    dtype = np.dtype(dtype)
    src = array.dtype
    if src == dtype:
        return array
    if src.kind == "c" and dtype.kind != "c":
        msg = f"cannot cast complex values to {dtype}; take ia.real, ia.imag or abs first"
        raise PixelTypeError(msg)
    if not (src.kind == "f" and dtype.kind in "iu"):
        with np.errstate(all="ignore"):
            return array.astype(dtype)
    with np.errstate(all="ignore"):
        t = np.trunc(array.astype(np.float64, copy=False))
        if dtype == np.uint64:
            big = t >= _2_63  # False for NaN
            low = _through(t, -_2_63, _2_63, np.int64, -(2**63)).view(np.uint64)
            if not big.any():
                return low
            high = (_through(t - _2_63, -_2_63, _2_63, np.int64, -(2**63)).view(np.uint64)) ^ np.uint64(2**63)
            return np.where(big, high, low)
        if dtype == np.int64:
            return _through(t, -_2_63, _2_63, np.int64, -(2**63))
        if dtype == np.uint32:  # through Int64, as x86-64 compilers convert to unsigned 32-bit
            return _through(t, -_2_63, _2_63, np.int64, -(2**63)).astype(np.uint32)
        # 8-, 16- and 32-bit signed targets, and 8-/16-bit unsigned: through Int32
        return _through(t, -_2_31, _2_31, np.int32, -(2**31)).astype(dtype)


def cast_type(arg: Any, pixel_type: PixelType) -> tuple[PixelType, int]:
    """The (pixel type, components) of casting ``arg`` to ``pixel_type``; raises
    :class:`~imalgebra.PixelTypeError` for impossible casts."""
    target = PixelType(pixel_type)
    source = arg.pixel_type
    if target is PixelType.Unknown:
        msg = f"cast: cannot cast {source.name} to PixelType.Unknown; choose a concrete pixel type"
        raise PixelTypeError(msg)
    if source.is_complex and not target.is_complex:
        msg = (
            f"cast: cannot cast {source.name} to {target.name}: the imaginary part would be lost; "
            "take ia.real(...), ia.imag(...) or abs(...) first"
        )
        raise PixelTypeError(msg)
    components = arg.components
    if source.is_vector and not target.is_vector:
        if target.is_complex:
            msg = f"cast: cannot cast {source.name} to {target.name}: vector images have real components"
            raise PixelTypeError(msg)
        if components != 1:
            msg = (
                f"cast: a {source.name} image with {components} components cannot become the scalar type "
                f"{target.name}; pick one with ia.select_component(img, index)"
            )
            raise PixelTypeError(msg)
    if target.is_vector and source.is_complex:
        msg = f"cast: cannot cast {source.name} to {target.name}: vector images have real components"
        raise PixelTypeError(msg)
    return target, components if target.is_vector else 1


@node
class Cast(Unary):
    """Convert to ``pixel_type`` (C semantics defined everywhere; see the module docstring)."""

    op_name = "cast"
    to: PixelType = attrs.field(converter=PixelType)

    def infer(self) -> tuple[Geometry, PixelType, int]:
        pixel_type, components = cast_type(self.arg, self.to)
        return self.arg.geometry, pixel_type, components

    def compute(self, region: Region, arg: np.ndarray) -> np.ndarray:
        target = self.pixel_type
        source = self.arg.pixel_type
        if source.is_vector and not target.is_vector:
            arg = arg[..., 0]
        elif target.is_vector and not source.is_vector:
            arg = arg[..., np.newaxis]
        if target.is_label:
            return _exact_labels(arg, target)
        return c_cast(arg, DTYPES[target])


def _exact_labels(arg: np.ndarray, target: PixelType) -> np.ndarray:
    dtype = DTYPES[target]
    if arg.dtype == dtype:
        return arg
    if arg.size:
        with np.errstate(all="ignore"):
            if arg.dtype.kind == "f":
                bad = ~np.isfinite(arg) | (arg != np.trunc(arg)) | (arg < 0) | (arg > float(target.max))
            elif arg.dtype.kind in "iu":
                bad = (arg < 0) | (arg > target.max)
            else:  # complex
                bad = np.ones(arg.shape, bool)
        if bad.any():
            first = arg[bad].ravel()[0].item()
            msg = (
                f"cast to {target.name}: the value {first!r} is not a label of {target.name} "
                f"(labels are integers 0..{target.max}); cast to {target.component_type.name} first to wrap, "
                f"or clamp/round it"
            )
            raise PixelTypeError(msg)
    return arg.astype(dtype)


def cast(arg: Node, pixel_type: PixelType | None = None, *, to: PixelType | None = None) -> Cast:
    """``arg`` converted to ``pixel_type`` (an expression).

    Parameters
    ----------
    arg
        An image or image expression.
    pixel_type
        The target :class:`~imalgebra.PixelType` (scalar, vector, complex or label);
        ``to=`` is an alias (the text form's keyword).

    >>> import numpy as np, imalgebra as ia
    >>> img = ia.from_array(np.array([[1.9, -1.9]], dtype=np.float64))
    >>> ia.to_array(ia.evaluate(cast(img, ia.PixelType.Int16))).tolist()
    [[1, -1]]
    >>> cast(img, ia.PixelType.VectorFloat32).components
    1
    """
    target = pixel_type if pixel_type is not None else to
    if target is None:
        msg = "cast: give the target pixel type, e.g. ia.cast(img, ia.PixelType.Float32)"
        raise TypeError(msg)
    return Cast(arg=arg, to=target)


def _bound(value: Any, name: str) -> int | float | None:
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        msg = f"clamp: {name}={value!r} must be a real number or None"
        raise TypeError(msg)
    if isinstance(value, (int, np.integer)):
        return int(value)
    value = float(value)
    if np.isnan(value):
        msg = f"clamp: {name} is NaN; give a number or None"
        raise ValueError(msg)
    return value


@node
class Clamp(Unary):
    """Limit to ``[lower, upper]`` within the output type's range, then cast (SimpleITK's Clamp)."""

    op_name = "clamp"
    allow: ClassVar[str] = "iuf"
    lower: int | float | None = attrs.field(default=None)
    upper: int | float | None = attrs.field(default=None)
    to: PixelType | None = attrs.field(default=None, converter=attrs.converters.optional(PixelType))
    _bounds: tuple[int | float, int | float] = attrs.field(init=False)  # derived, not part of the key

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        out = self.pixel_type
        lo, hi = out.min, out.max
        lower = lo if self.lower is None else min(max(self.lower, lo), hi)
        upper = hi if self.upper is None else max(min(self.upper, hi), lo)
        object.__setattr__(self, "_bounds", (lower, upper))

    def check(self) -> None:
        if self.lower is not None and self.upper is not None and self.lower > self.upper:
            msg = f"clamp: lower={self.lower!r} is greater than upper={self.upper!r}"
            raise ValueError(msg)
        if self.arg.pixel_type.is_complex:
            msg = f"clamp: complex images have no order ({self.arg.pixel_type.name}); clamp abs(...) or ia.real(...)"
            raise PixelTypeError(msg)

    def infer(self) -> tuple[Geometry, PixelType, int]:
        target = self.to
        if target is None:
            source = self.arg.pixel_type
            target = source.component_type if source.is_label else source
        pixel_type, components = cast_type(self.arg, PixelType(target))
        if pixel_type.is_complex:
            msg = f"clamp: the output type {pixel_type.name} is complex and has no order"
            raise PixelTypeError(msg)
        return self.arg.geometry, pixel_type, components

    def bounds(self) -> tuple[int | float, int | float]:
        """The effective bounds: the given ones (default: the output type's range)
        saturated into the output type's range."""
        return self._bounds

    @property
    def supports_into(self) -> bool:
        """Float data clamped in its own type (the common case) can write into a buffer."""
        source, target = self.arg.pixel_type, self.pixel_type
        return source is target and target.component_type.is_float

    def compute_into(self, region: Region, out: np.ndarray, arg: np.ndarray) -> np.ndarray:
        dtype = DTYPES[self.pixel_type]
        lower, upper = self.bounds()
        with np.errstate(all="ignore"):
            np.clip(arg, dtype.type(lower), dtype.type(upper), out=out)
        return out

    def compute(self, region: Region, arg: np.ndarray) -> np.ndarray:
        target = self.pixel_type
        dtype = DTYPES[target]
        source = self.arg.pixel_type
        if source.is_vector and not target.is_vector:
            arg = arg[..., 0]
        elif target.is_vector and not source.is_vector:
            arg = arg[..., np.newaxis]
        lower, upper = self.bounds()
        with np.errstate(all="ignore"):
            if arg.dtype == dtype and dtype.kind == "f":
                # same float type: clipping with the bounds rounded to the type is exact (monotonic rounding)
                return np.clip(arg, dtype.type(lower), dtype.type(upper))
            if arg.dtype.kind in "iu" and dtype.kind in "iu":
                return _clamp_integers(arg, _int_bound(lower), _int_bound(upper), dtype)
            # compare in double, as ITK: below -> cast(lower), above -> cast(upper), else cast(value)
            values = arg.astype(np.float64) if arg.dtype.kind in "iuf" and arg.dtype != np.float64 else arg
            out = c_cast(arg, dtype)
            if out is arg:
                out = out.copy()
            low = _beyond(values, lower, below=True)
            high = _beyond(values, upper, below=False)
            if low.any():
                out[low] = _bound_value(lower, dtype)
            if high.any():
                out[high] = _bound_value(upper, dtype)
            return out


def _beyond(values: np.ndarray, bound: int | float, *, below: bool) -> np.ndarray:
    """Where ``values`` (double) lie beyond ``bound``. An integer bound that double rounds
    away from the data (INT64_MAX becomes 2**63) also counts values equal to the rounded bound."""
    edge = np.float64(bound)
    rounded_out = isinstance(bound, int) and (int(edge) < bound if below else int(edge) > bound)
    if below:
        return values <= edge if rounded_out else values < edge
    return values >= edge if rounded_out else values > edge


def _bound_value(bound: int | float, dtype: np.dtype) -> np.generic:
    """``bound`` as a ``dtype`` value: exact for integer bounds (saturated into the type already;
    going through double would turn INT64_MAX into 2**63 and wrap it to INT64_MIN)."""
    if isinstance(bound, int) and dtype.kind in "iu":
        return dtype.type(bound)
    return c_cast(np.array([bound], dtype=np.float64), dtype)[0]


def _int_bound(value: int | float) -> int:
    """An integer bound equivalent to ``value`` for integer data: ITK compares in
    double and outputs ``static_cast(bound)``, which for integers is clipping to
    the truncated bound."""
    if isinstance(value, int):
        return value
    if np.isinf(value):
        return -(2**65) if value < 0 else 2**65
    return int(np.trunc(value))


def _clamp_integers(arg: np.ndarray, lo: int, hi: int, dtype: np.dtype) -> np.ndarray:
    """Integer data clipped to [lo, hi] (already inside ``dtype``'s range), as ``dtype``."""
    info = np.iinfo(arg.dtype)
    if lo > info.max:  # every value is below the lower bound
        return np.full(arg.shape, lo, dtype=dtype)
    if hi < info.min:  # every value is above the upper bound
        return np.full(arg.shape, hi, dtype=dtype)
    lo, hi = max(lo, int(info.min)), min(hi, int(info.max))
    if lo == info.min and hi == info.max:
        return arg.astype(dtype, copy=False)  # nothing to clip; the values fit dtype (bounds lie inside its range)
    return np.clip(arg, arg.dtype.type(lo), arg.dtype.type(hi)).astype(dtype, copy=False)


def clamp(
    arg: Node,
    lower: float | None = None,
    upper: float | None = None,
    *,
    pixel_type: PixelType | None = None,
    to: PixelType | None = None,
) -> Clamp:
    """``arg`` limited to ``[lower, upper]``, then cast to ``pixel_type`` (an expression).

    As SimpleITK's Clamp: bounds default to the output type's range and lie
    within it (a bound beyond it saturates to it, where SimpleITK wraps it), so
    values saturate instead of wrapping;
    ``lower > upper`` raises. ``pixel_type`` defaults to the input's (a label
    input gives its unsigned integer type). Vector images clamp per component;
    NaN stays NaN for float outputs. ``to=`` is an alias of ``pixel_type``.

    >>> import numpy as np, imalgebra as ia
    >>> img = ia.from_array(np.array([[-5, 50, 500]], dtype=np.int16))
    >>> ia.to_array(ia.evaluate(clamp(img, 0, 100))).tolist()
    [[0, 50, 100]]
    >>> ia.to_array(ia.evaluate(clamp(img, pixel_type=ia.PixelType.UInt8))).tolist()
    [[0, 50, 255]]
    """
    return Clamp(
        arg=arg,
        lower=_bound(lower, "lower"),
        upper=_bound(upper, "upper"),
        to=pixel_type if pixel_type is not None else to,
    )
