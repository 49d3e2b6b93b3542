"""Intensity rescaling: map the input's [min, max] linearly onto [out_min, out_max].

:func:`rescale_intensity` needs the input's global minimum and maximum before
any region can be computed, so its node declares an :class:`Extrema`
reduction as a prerequisite; the evaluator reduces it, then evaluates
``node.bind(values)``: a plain per-pixel :class:`IntensityLinear` node whose
kernel is a pure function of one region.

The arithmetic is ITK's ``RescaleIntensityImageFilter``, step for step, so
the results agree with SimpleITK bit for bit: in float64,
``scale = (out_max - out_min) / (max - min)`` (``(out_max - out_min) / max``
when the image is constant and not 0, else 0; "constant" and "0" in ITK's
:func:`almost_equal` sense, so a Float32 image spanning less than about 1e-8
is constant),
``shift = out_min - min * scale``, ``value = x * scale + shift``, clamped to
``[out_min, out_max]`` and converted to the input's pixel type (integers
truncate toward zero: UInt8 [10, 20, 30] gives [0, 127, 255]). A constant
image gives ``out_min`` everywhere; NaN pixels stay NaN and do not count for
the minimum and maximum. Vector images are rescaled per component, each by
its own minimum and maximum, as SimpleITK does.

Example
-------
>>> import numpy as np, imalgebra as ia
>>> img = ia.from_array(np.array([[10, 20, 30]], np.uint8))
>>> r = ia.rescale_intensity(img)
>>> bound = r.bind([((10,), (30,))])
>>> bound.compute(img.geometry.region, np.asarray(img)).tolist()
[[0, 127, 255]]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np

from imalgebra.algebra.expr import Expr, Node, node
from imalgebra.algebra.geometry import Geometry, Region
from imalgebra.algebra.ops.components import require_node
from imalgebra.algebra.ops.reductions import Extrema
from imalgebra.algebra.pixel import PixelType
from imalgebra.errors import EvaluationError, PixelTypeError

__all__ = ["IntensityLinear", "RescaleIntensity", "rescale_intensity"]


def _floats(value: Any) -> tuple[float, ...]:
    return tuple(float(v) for v in value)


def _check_rescalable(arg: Node, op: str) -> None:
    require_node(arg, op, "image")
    pixel_type = arg.pixel_type
    if pixel_type.is_complex:
        msg = f"{op}: {pixel_type.name} images have no order to rescale by; rescale the real part or the modulus"
        raise PixelTypeError(msg)


def _bound(value: Any, name: str, pixel_type: PixelType) -> float:
    """``value`` as the output type holds it (float32 rounding), or an error if it does not fit."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        msg = f"rescale_intensity: {name} must be a number, got {value!r}"
        raise TypeError(msg) from None
    component = pixel_type.component_type
    if not math.isfinite(number):
        msg = f"rescale_intensity: {name}={value!r} must be finite"
        raise ValueError(msg)
    if component.is_integer:
        if number != math.floor(number) or not component.min <= number <= component.max:
            rounded = f" (float64 rounds it to {number:.17g})" if number != value else ""
            msg = (
                f"rescale_intensity: {name}={value!r}{rounded} is not a {component.name} value "
                f"(integers {component.min}..{component.max}); SimpleITK would wrap or truncate it. "
                "Cast the image to a wider or float type first to rescale beyond its range"
            )
            raise ValueError(msg)
        return number
    with np.errstate(over="ignore"):
        held = float(component.dtype.type(number))
    if not math.isfinite(held):
        msg = f"rescale_intensity: {name}={value!r} overflows {component.name}"
        raise ValueError(msg)
    return held


def almost_equal(a: float, b: float, dtype: np.dtype) -> bool:
    """ITK's ``itk::Math::AlmostEquals`` for two values of pixel type ``dtype``.

    Integers compare exactly. Floats are equal when they differ by at most
    ``0.1 * epsilon`` of their type, or (same sign) by at most 4 units in the
    last place: so a Float32 image spanning less than about 1.2e-8 counts as
    constant, exactly as in SimpleITK's rescaling.

    >>> almost_equal(1.0, 1.0 + 2**-23, np.dtype("float32")), almost_equal(0.0, 1e-9, np.dtype("float32"))
    (True, True)
    >>> almost_equal(0.0, 1e-9, np.dtype("float64")), almost_equal(3, 3, np.dtype("int16"))
    (False, True)
    """
    if dtype.kind != "f":
        return a == b
    kind = np.float32 if dtype.itemsize == 4 else np.float64
    bits = np.int32 if dtype.itemsize == 4 else np.int64
    x, y = kind(a), kind(b)
    with np.errstate(all="ignore"):
        difference = abs(x - y)
    if difference <= kind(0.1 * float(np.finfo(kind).eps)):
        return True
    if np.signbit(x) != np.signbit(y):
        return False
    magnitudes = np.abs(np.array([x, y], dtype=kind)).view(bits)
    return abs(int(magnitudes[0]) - int(magnitudes[1])) <= 4


@node
class IntensityLinear(Expr):
    """``clamp(x * scale + shift, lower, upper)`` per component, in float64, then converted to the pixel type."""

    op_name = "intensity_linear"
    input_fields = ("arg",)
    arg: Node
    scale: tuple[float, ...] = attrs.field(converter=_floats)
    shift: tuple[float, ...] = attrs.field(converter=_floats)
    lower: float = attrs.field(converter=float)
    upper: float = attrs.field(converter=float)

    def check(self) -> None:
        _check_rescalable(self.arg, "intensity_linear")
        n = self.arg.components
        if len(self.scale) != n or len(self.shift) != n:
            msg = f"intensity_linear: scale and shift need {n} values (one per component): {self.scale}, {self.shift}"
            raise ValueError(msg)
        if not self.lower <= self.upper:
            msg = f"intensity_linear: lower={self.lower} is greater than upper={self.upper}"
            raise ValueError(msg)

    def infer(self) -> tuple[Geometry, PixelType, int]:
        return self.arg.geometry, self.arg.pixel_type, self.arg.components

    def compute(self, region: Region, arg: np.ndarray) -> np.ndarray:
        vector = self.arg.pixel_type.is_vector
        scale = np.asarray(self.scale) if vector else self.scale[0]
        shift = np.asarray(self.shift) if vector else self.shift[0]
        with np.errstate(all="ignore"):  # inf * 0 is NaN here as in ITK; no warning
            value = arg.astype(np.float64) * scale + shift
            np.clip(value, self.lower, self.upper, out=value)
        return value.astype(self.pixel_type.dtype)


@node
class RescaleIntensity(Expr):
    """The input mapped linearly from its [min, max] onto [out_min, out_max] (needs the global extrema)."""

    op_name = "rescale_intensity"
    input_fields = ("arg",)
    arg: Node
    out_min: float = attrs.field(converter=float)
    out_max: float = attrs.field(converter=float)

    def check(self) -> None:
        _check_rescalable(self.arg, "rescale_intensity")
        if not self.out_min <= self.out_max:
            msg = (
                f"rescale_intensity: out_min={self.out_min:g} is greater than out_max={self.out_max:g}; "
                "to invert intensities rescale, then subtract from out_max"
            )
            raise ValueError(msg)

    def infer(self) -> tuple[Geometry, PixelType, int]:
        return self.arg.geometry, self.arg.pixel_type, self.arg.components

    def prerequisites(self) -> tuple[Extrema]:
        return (Extrema(arg=self.arg),)

    def bind(self, values: Sequence[Any]) -> IntensityLinear:
        """The per-pixel node, given ``values[0] = (minimums, maximums)`` per component."""
        (minimums, maximums), *_ = values
        scales, shifts = [], []
        span = self.out_max - self.out_min
        dtype = self.arg.pixel_type.component_type.dtype
        for low, high in zip(minimums, maximums, strict=True):
            if not almost_equal(low, high, dtype):
                scale = span / (float(high) - float(low))
            elif not almost_equal(high, 0, dtype):
                scale = span / float(high)
            else:
                scale = 0.0
            low = float(low)
            scales.append(scale)
            shifts.append(self.out_min - low * scale)
        return IntensityLinear(arg=self.arg, scale=scales, shift=shifts, lower=self.out_min, upper=self.out_max)

    def compute(self, region: Region, *arrays: np.ndarray) -> np.ndarray:
        msg = (
            "rescale_intensity needs the image's minimum and maximum first: evaluate it with ia.evaluate "
            "(or compute node.bind([extrema]) yourself)"
        )
        raise EvaluationError(msg)


def rescale_intensity(image: Node, out_min: float = 0, out_max: float = 255) -> RescaleIntensity:
    """``image`` mapped linearly from its [minimum, maximum] onto [out_min, out_max].

    SimpleITK's ``RescaleIntensity``, same defaults and same values: the
    output keeps the input's pixel type (integers truncate: UInt8 [10, 20, 30]
    gives [0, 127, 255]), a constant image gives ``out_min`` everywhere, NaN
    pixels stay NaN, and vector images are rescaled per component. The
    minimum and maximum are computed first when the expression is evaluated.

    Unlike SimpleITK, ``out_min``/``out_max`` outside the pixel type's range
    (300 for UInt8) raise instead of wrapping: cast to a wider type first.

    Examples
    --------
    >>> import imalgebra as ia
    >>> img = ia.Image.zeros((4, 4), ia.PixelType.Float32)
    >>> r = ia.rescale_intensity(img, out_min=-1, out_max=1)
    >>> r.pixel_type, r.prerequisites()[0].op_name
    (<PixelType.Float32: 8>, 'extrema')
    """
    _check_rescalable(image, "rescale_intensity")
    low = _bound(out_min, "out_min", image.pixel_type)
    high = _bound(out_max, "out_max", image.pixel_type)
    return RescaleIntensity(arg=image, out_min=low, out_max=high)
