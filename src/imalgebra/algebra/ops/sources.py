"""Generated sources: Gabor and Gaussian images, computed region by region.

A source is a leaf node with no inputs: ``compute(region)`` generates just
that region from the physical points of its pixels, so a streamed evaluator
never holds more of it than the region it works on. Parameters and defaults
are SimpleITK's ``GaborSource`` and ``GaussianSource``:

* physical point ``p = origin + direction @ (spacing * index)``;
* Gaussian: ``scale * exp(-0.5 * sum(((p - mean) / sigma) ** 2))``, divided
  by ``(2 pi) ** (D / 2) * prod(sigma)`` when ``normalized``;
* Gabor: ``exp(-0.5 * sum(((p - mean) / sigma) ** 2)) * cos(2 pi frequency
  (p_x - mean_x))``: the cosine runs along the first physical axis, the peak
  is 1 (no normalisation).

``mean`` is a physical point (mm), ``sigma`` is in mm too. Values are
computed in float64 and converted to ``pixel_type`` as C++'s ``static_cast``
does: rounded to float32, or for integer types truncated toward zero and
wrapped (a Gaussian of scale 300 in UInt8 peaks at 300 - 256 = 44, exactly as
in SimpleITK). ``sigma`` and ``mean`` must have one value per axis (a single
number is used for every axis); SimpleITK silently ignores extra values.

Example
-------
>>> import imalgebra as ia
>>> g = ia.gabor(size=(64, 64), frequency=0.03)
>>> g.geometry.size, g.pixel_type, g.inputs
((64, 64), <PixelType.Float32: 8>, ())
>>> float(g.compute(ia.Region(index=(32, 32), size=(1, 1)))[0, 0])
1.0
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any, ClassVar

import attrs
import numpy as np

from imalgebra.algebra.expr import Expr, node
from imalgebra.algebra.geometry import Geometry, Region
from imalgebra.algebra.pixel import PixelType
from imalgebra.errors import GeometryError, PixelTypeError

__all__ = ["GaborSource", "GaussianSource", "Source", "gabor", "gaussian"]

_INTEGER_LIMIT = 2.0**53  # integer outputs: |values| must stay exact in float64 before wrapping


def _floats(value: Any) -> tuple[float, ...]:
    return tuple(float(v) for v in value)


def _ints(value: Any) -> tuple[int, ...]:
    return tuple(operator.index(v) for v in value)


class Source(Expr):
    """Base of generated leaves: a geometry, a pixel type, and a kernel of physical points."""

    input_fields: ClassVar[tuple[str, ...]] = ()
    is_source: ClassVar[bool] = True

    size: tuple[int, ...]
    origin: tuple[float, ...]
    spacing: tuple[float, ...]
    direction: tuple[float, ...]
    pixel_type: PixelType

    def _geometry(self) -> Geometry:
        return Geometry(size=self.size, origin=self.origin, spacing=self.spacing, direction=self.direction)

    def infer(self) -> tuple[Geometry, PixelType, int]:
        return self._geometry(), self.pixel_type, 1

    def points(self, region: Region) -> list[np.ndarray]:
        """Physical coordinates (one broadcastable ``[z, y, x]`` array per axis) of ``region``'s pixels.

        Each pixel's coordinate is computed with the same sequence of float64
        operations whatever region it belongs to, so any region reproduces
        exactly its part of the whole image.
        """
        d = len(self.size)
        matrix = np.asarray(self.direction, dtype=np.float64).reshape(d, d) * np.asarray(self.spacing)
        axes = []
        for j in range(d):
            shape = [1] * d
            shape[d - 1 - j] = region.size[j]
            axes.append(np.arange(region.index[j], region.index[j] + region.size[j], dtype=np.float64).reshape(shape))
        out = []
        for k in range(d):
            coordinate = matrix[k, 0] * axes[0]
            for j in range(1, d):
                coordinate = coordinate + matrix[k, j] * axes[j]
            out.append(coordinate + self.origin[k])
        return out

    def to_json_leaf(self) -> dict[str, Any]:
        """The leaf protocol of :mod:`imalgebra.algebra.serialize`: ``{"kind": "source", "op", "params"}``."""
        from imalgebra.algebra.serialize import encode_value

        params = {f.name: encode_value(getattr(self, f.name)) for f in attrs.fields(type(self)) if f.init}
        return {"kind": "source", "op": self.op_name, "params": params}

    def envelope(self, points: list[np.ndarray], mean: tuple[float, ...], sigma: tuple[float, ...]) -> np.ndarray:
        """``exp(-0.5 * sum(((p - mean) / sigma) ** 2))`` over ``points``."""
        total = np.zeros(points[0].shape, dtype=np.float64)
        for p, m, s in zip(points, mean, sigma, strict=True):
            z = (p - m) / s
            total = total + z * z
        return np.exp(-0.5 * total)

    def convert(self, region: Region, values: np.ndarray) -> np.ndarray:
        """``values`` (float64) broadcast to ``region`` and converted as ``static_cast`` does."""
        values = np.broadcast_to(values, region.shape)
        dtype = self.pixel_type.dtype
        if dtype.kind == "f":
            return values.astype(dtype)
        return np.trunc(values).astype(np.int64).astype(dtype)


def _check_pixel_type(pixel_type: PixelType, op: str) -> PixelType:
    pixel_type = PixelType(pixel_type)
    if not pixel_type.is_scalar:
        msg = (
            f"{op}: pixel_type must be a real scalar type (Float32, Float64 or an integer type), got {pixel_type.name}"
        )
        raise PixelTypeError(msg)
    return pixel_type


def _per_axis(value: Any, name: str, op: str, d: int, *, positive: bool = False) -> tuple[float, ...]:
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
        value = (value,) * d
    try:
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        msg = f"{op}: {name} must be a number or {d} numbers (one per axis, x, y, z order), got {value!r}"
        raise GeometryError(msg) from None
    if len(out) != d:
        msg = f"{op}: {name} needs {d} values (one per axis of size), got {len(out)}: {value!r}"
        raise GeometryError(msg)
    if not all(math.isfinite(v) and (v > 0 or not positive) for v in out):
        msg = f"{op}: {name} must be {'positive ' if positive else ''}finite numbers, got {out}"
        raise GeometryError(msg)
    return out


def _check_common(source: Source, op: str, amplitude: float) -> None:
    _check_pixel_type(source.pixel_type, op)
    source._geometry()  # validates size, origin, spacing, direction
    d = len(source.size)
    for name in ("sigma", "mean"):
        _per_axis(getattr(source, name), name, op, d, positive=name == "sigma")
    if source.pixel_type.is_integer and abs(amplitude) >= _INTEGER_LIMIT:
        msg = f"{op}: values up to {amplitude:g} cannot be converted to {source.pixel_type.name} exactly"
        raise ValueError(msg)


@node
class GaborSource(Source):
    """SimpleITK's ``GaborSource``: a Gaussian envelope times a cosine along the first physical axis."""

    op_name = "gabor"
    size: tuple[int, ...] = attrs.field(converter=_ints)
    sigma: tuple[float, ...] = attrs.field(converter=_floats)
    mean: tuple[float, ...] = attrs.field(converter=_floats)
    frequency: float = attrs.field(converter=float)
    origin: tuple[float, ...] = attrs.field(converter=_floats)
    spacing: tuple[float, ...] = attrs.field(converter=_floats)
    direction: tuple[float, ...] = attrs.field(converter=_floats)
    pixel_type: PixelType = attrs.field(converter=PixelType)

    def check(self) -> None:
        _check_common(self, "gabor", 1.0)
        if not math.isfinite(self.frequency):
            msg = f"gabor: frequency must be finite, got {self.frequency}"
            raise ValueError(msg)

    def compute(self, region: Region, *arrays: np.ndarray) -> np.ndarray:
        points = self.points(region)
        wave = np.cos((2.0 * math.pi * self.frequency) * (points[0] - self.mean[0]))
        return self.convert(region, self.envelope(points, self.mean, self.sigma) * wave)


@node
class GaussianSource(Source):
    """SimpleITK's ``GaussianSource``: ``scale * exp(-0.5 * |(p - mean) / sigma|^2)`` (optionally normalised)."""

    op_name = "gaussian"
    size: tuple[int, ...] = attrs.field(converter=_ints)
    sigma: tuple[float, ...] = attrs.field(converter=_floats)
    mean: tuple[float, ...] = attrs.field(converter=_floats)
    scale: float = attrs.field(converter=float)
    normalized: bool = attrs.field(converter=bool)
    origin: tuple[float, ...] = attrs.field(converter=_floats)
    spacing: tuple[float, ...] = attrs.field(converter=_floats)
    direction: tuple[float, ...] = attrs.field(converter=_floats)
    pixel_type: PixelType = attrs.field(converter=PixelType)

    def check(self) -> None:
        if not math.isfinite(self.scale):
            msg = f"gaussian: scale must be finite, got {self.scale}"
            raise ValueError(msg)
        _check_common(self, "gaussian", self.scale)

    @property
    def amplitude(self) -> float:
        """The peak value: ``scale``, divided by the normalisation when ``normalized``."""
        if not self.normalized:
            return self.scale
        norm = (2.0 * math.pi) ** (len(self.size) / 2.0) * math.prod(self.sigma)
        return self.scale / norm

    def compute(self, region: Region, *arrays: np.ndarray) -> np.ndarray:
        return self.convert(region, self.amplitude * self.envelope(self.points(region), self.mean, self.sigma))


def _geometry_args(
    size: Sequence[int],
    origin: Sequence[float] | None,
    spacing: Sequence[float] | None,
    direction: Sequence[float] | None,
) -> dict[str, Any]:
    base = Geometry(size=size)
    geometry = Geometry(
        size=base.size,
        origin=base.origin if origin is None else origin,
        spacing=base.spacing if spacing is None else spacing,
        direction=base.direction if direction is None or len(direction) == 0 else direction,
    )
    return {
        "size": geometry.size,
        "origin": geometry.origin,
        "spacing": geometry.spacing,
        "direction": geometry.direction,
    }


def gabor(
    size: Sequence[int] = (64, 64, 64),
    sigma: float | Sequence[float] | None = None,
    mean: float | Sequence[float] | None = None,
    frequency: float = 0.4,
    origin: Sequence[float] | None = None,
    spacing: Sequence[float] | None = None,
    direction: Sequence[float] | None = None,
    pixel_type: PixelType = PixelType.Float32,
) -> GaborSource:
    """A Gabor image, generated region by region (SimpleITK's ``GaborSource``).

    ``exp(-0.5 * sum(((p - mean) / sigma) ** 2)) * cos(2 pi frequency (p_x - mean_x))``
    at each pixel's physical point ``p``. Defaults as SimpleITK: size 64 per
    axis (3D), sigma 16 and mean 32 per axis (physical units), frequency
    0.4, origin 0, spacing 1, identity direction, Float32. The dimension
    follows ``len(size)``.

    Examples
    --------
    >>> import imalgebra as ia
    >>> g = ia.gabor(size=(32, 16), sigma=4, mean=(16, 8), frequency=0.1)
    >>> g.geometry.size, g.sigma, g.mean
    ((32, 16), (4.0, 4.0), (16.0, 8.0))
    """
    geometry = _geometry_args(size, origin, spacing, direction)
    d = len(geometry["size"])
    return GaborSource(
        sigma=_per_axis(16.0 if sigma is None else sigma, "sigma", "gabor", d, positive=True),
        mean=_per_axis(32.0 if mean is None else mean, "mean", "gabor", d),
        frequency=frequency,
        pixel_type=_check_pixel_type(pixel_type, "gabor"),
        **geometry,
    )


def gaussian(
    size: Sequence[int] = (64, 64, 64),
    sigma: float | Sequence[float] | None = None,
    mean: float | Sequence[float] | None = None,
    scale: float = 255.0,
    origin: Sequence[float] | None = None,
    spacing: Sequence[float] | None = None,
    direction: Sequence[float] | None = None,
    normalized: bool = False,
    pixel_type: PixelType = PixelType.Float32,
) -> GaussianSource:
    """A Gaussian image, generated region by region (SimpleITK's ``GaussianSource``).

    ``scale * exp(-0.5 * sum(((p - mean) / sigma) ** 2))`` at each pixel's
    physical point ``p``, divided by ``(2 pi) ** (D / 2) * prod(sigma)`` when
    ``normalized``. Defaults as SimpleITK: size 64 per axis (3D), sigma 16
    and mean 32 per axis, scale 255, not normalized, Float32.

    Examples
    --------
    >>> import imalgebra as ia
    >>> g = ia.gaussian(size=(64, 64))
    >>> float(g.compute(ia.Region(index=(32, 32), size=(1, 1)))[0, 0])
    255.0
    """
    geometry = _geometry_args(size, origin, spacing, direction)
    d = len(geometry["size"])
    return GaussianSource(
        sigma=_per_axis(16.0 if sigma is None else sigma, "sigma", "gaussian", d, positive=True),
        mean=_per_axis(32.0 if mean is None else mean, "mean", "gaussian", d),
        scale=scale,
        normalized=normalized,
        pixel_type=_check_pixel_type(pixel_type, "gaussian"),
        **geometry,
    )
