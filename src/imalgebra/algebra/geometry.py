"""Geometry and Region: where pixels sit in physical space.

A :class:`Geometry` is size (x, y, z order), origin (the physical point of
index 0), spacing (> 0 per axis) and direction (an invertible D x D matrix,
row-major, columns are the axes' unit vectors; orthogonality is not required).
The physical point of a continuous index ``i`` is
``origin + direction @ (spacing * i)``, exactly as in ITK.

A :class:`Region` is an index box (``index``, ``size``) in the same x, y, z
order; ``region.slices`` gives the numpy slices in ``[z, y, x]`` order.

Example
-------
>>> from imalgebra import Geometry
>>> g = Geometry(size=(4, 3), origin=(10.0, 20.0), spacing=(0.5, 2.0))
>>> g.index_to_physical((2, 1))
(11.0, 22.0)
>>> g.physical_to_index((11.0, 22.0))
(2.0, 1.0)
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable, Sequence
from typing import Any

import attrs
import numpy as np

from imalgebra.errors import GeometryError

__all__ = ["Geometry", "Region"]

MIN_DIMENSION = 2
MAX_DIMENSION = 8


def _ints(value: Iterable[Any]) -> tuple[int, ...]:
    try:
        return tuple(operator.index(v) for v in value)
    except TypeError:
        msg = f"expected a sequence of integers, got {value!r}"
        raise GeometryError(msg) from None


def _floats(value: Iterable[Any]) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in np.asarray(value, dtype=float).ravel())
    except (TypeError, ValueError):
        msg = f"expected a sequence of numbers, got {value!r}"
        raise GeometryError(msg) from None


def _identity(dimension: int) -> tuple[float, ...]:
    return tuple(float(v) for v in np.eye(dimension).ravel())


def _default_origin(self: Geometry) -> tuple[float, ...]:
    return (0.0,) * len(self.size)


def _default_spacing(self: Geometry) -> tuple[float, ...]:
    return (1.0,) * len(self.size)


def _default_direction(self: Geometry) -> tuple[float, ...]:
    return _identity(len(self.size))


@attrs.frozen(kw_only=True, repr=False, cache_hash=True)
class Geometry:
    """Size, origin, spacing and direction of an image (frozen).

    ``with_*`` methods return a new, re-validated geometry.

    >>> Geometry(size=(2, 2)).direction
    (1.0, 0.0, 0.0, 1.0)
    """

    size: tuple[int, ...] = attrs.field(converter=_ints)
    origin: tuple[float, ...] = attrs.field(converter=_floats, default=attrs.Factory(_default_origin, takes_self=True))
    spacing: tuple[float, ...] = attrs.field(
        converter=_floats, default=attrs.Factory(_default_spacing, takes_self=True)
    )
    direction: tuple[float, ...] = attrs.field(
        converter=_floats, default=attrs.Factory(_default_direction, takes_self=True)
    )

    @size.validator
    def _check_size(self, _attribute: object, value: tuple[int, ...]) -> None:
        if not MIN_DIMENSION <= len(value) <= MAX_DIMENSION:
            msg = (
                f"size {value} has {len(value)} dimension(s); images have {MIN_DIMENSION} to {MAX_DIMENSION} dimensions"
            )
            raise GeometryError(msg)
        if min(value) < 1:
            msg = f"size {value} has an axis smaller than 1; every axis needs at least one pixel"
            raise GeometryError(msg)

    @origin.validator
    def _check_origin(self, _attribute: object, value: tuple[float, ...]) -> None:
        self._check_length("origin", value, len(self.size))
        if not all(math.isfinite(v) for v in value):
            msg = f"origin {value} is not finite; give finite coordinates in mm"
            raise GeometryError(msg)

    @spacing.validator
    def _check_spacing(self, _attribute: object, value: tuple[float, ...]) -> None:
        self._check_length("spacing", value, len(self.size))
        if not all(math.isfinite(v) and v > 0 for v in value):
            msg = (
                f"spacing must be {len(self.size)} finite positive numbers, got {value}; "
                "a flipped axis goes in the direction matrix, not a negative spacing"
            )
            raise GeometryError(msg)

    @direction.validator
    def _check_direction(self, _attribute: object, value: tuple[float, ...]) -> None:
        d = len(self.size)
        self._check_length("direction", value, d * d, what=f"{d} x {d} = {d * d} row-major")
        matrix = np.asarray(value).reshape(d, d)
        if not np.all(np.isfinite(matrix)):
            msg = f"direction {value} is not finite"
            raise GeometryError(msg)
        singular = np.linalg.svd(matrix, compute_uv=False)
        if singular[-1] <= 1e-12 * max(singular[0], 1e-300):
            det = np.linalg.det(matrix)
            msg = f"direction {value} is not invertible (determinant {det:.3g}); its columns must be independent"
            raise GeometryError(msg)

    @staticmethod
    def _check_length(name: str, value: tuple[float, ...], expected: int, what: str = "") -> None:
        if len(value) != expected:
            msg = f"{name} needs {what or expected} values to match the size, got {len(value)}: {value}"
            raise GeometryError(msg)

    # -- derived ----------------------------------------------------------
    @property
    def dimension(self) -> int:
        return len(self.size)

    @property
    def shape(self) -> tuple[int, ...]:
        """The numpy shape of one component, ``[z, y, x]`` order."""
        return self.size[::-1]

    @property
    def number_of_pixels(self) -> int:
        return math.prod(self.size)

    @property
    def region(self) -> Region:
        """The whole index box, ``Region(index=(0, ...), size=self.size)``."""
        return Region(index=(0,) * self.dimension, size=self.size)

    @property
    def direction_matrix(self) -> np.ndarray:
        """The direction as a D x D numpy array (a fresh copy)."""
        return np.asarray(self.direction, dtype=float).reshape(self.dimension, self.dimension)

    @property
    def index_to_physical_matrix(self) -> np.ndarray:
        """``direction @ diag(spacing)``: maps an index offset to a physical offset."""
        return self.direction_matrix * np.asarray(self.spacing)

    @property
    def is_orthogonal(self) -> bool:
        m = self.direction_matrix
        return bool(np.allclose(m.T @ m, np.eye(self.dimension), atol=1e-9))

    # -- transforms -------------------------------------------------------
    def index_to_physical(self, index: Sequence[float] | np.ndarray) -> Any:
        """Physical point(s) of continuous index(es) ``index`` (x, y, z order).

        One index gives a tuple; an ``(N, D)`` array gives an ``(N, D)`` array.

        >>> Geometry(size=(2, 2), origin=(1, 1), spacing=(2, 3)).index_to_physical([[1, 1], [0, 2]])
        array([[3., 4.],
               [1., 7.]])
        """
        idx = self._points(index, "index")
        points = idx @ self.index_to_physical_matrix.T + np.asarray(self.origin)
        return tuple(float(v) for v in points) if points.ndim == 1 else points

    def physical_to_index(self, point: Sequence[float] | np.ndarray) -> Any:
        """Continuous index(es) of physical point(s) ``point``; the inverse of
        :meth:`index_to_physical` (no rounding; round yourself for a pixel).

        >>> Geometry(size=(2, 2), spacing=(2, 4)).physical_to_index((1.0, 1.0))
        (0.5, 0.25)
        """
        pts = self._points(point, "point")
        inverse = np.linalg.inv(self.index_to_physical_matrix)
        index = (pts - np.asarray(self.origin)) @ inverse.T
        return tuple(float(v) for v in index) if index.ndim == 1 else index

    def _points(self, value: Any, name: str) -> np.ndarray:
        arr = np.asarray(value, dtype=float)
        if arr.ndim not in (1, 2) or arr.shape[-1] != self.dimension:
            d = self.dimension
            msg = f"{name} must have {d} coordinates (or be an (N, {d}) array), got shape {arr.shape}"
            raise GeometryError(msg)
        return arr

    # -- new geometries ---------------------------------------------------
    def with_size(self, size: Sequence[int]) -> Geometry:
        return attrs.evolve(self, size=size)

    def with_origin(self, origin: Sequence[float]) -> Geometry:
        return attrs.evolve(self, origin=origin)

    def with_spacing(self, spacing: Sequence[float]) -> Geometry:
        return attrs.evolve(self, spacing=spacing)

    def with_direction(self, direction: Sequence[float] | np.ndarray) -> Geometry:
        return attrs.evolve(self, direction=direction)

    def crop(self, region: Region) -> Geometry:
        """The geometry of ``region`` of this image: same spacing and direction,
        origin at the physical point of ``region.index``.

        >>> Geometry(size=(8, 8), spacing=(2, 2)).crop(Region(index=(1, 2), size=(3, 3))).origin
        (2.0, 4.0)
        """
        self.region.require_contains(region, "region")
        if min(region.size) < 1:
            msg = f"region {region} is empty; a geometry needs at least one pixel per axis"
            raise GeometryError(msg)
        return attrs.evolve(self, size=region.size, origin=self.index_to_physical(region.index))

    # -- comparisons ------------------------------------------------------
    def space_differences(self, other: Geometry, *, coordinate: float = 1e-6, direction: float = 1e-6) -> list[str]:
        """Lines describing how ``other`` differs from this geometry; empty when
        both occupy the same physical space.

        Size must be equal. Origin and spacing compare per component within
        ``coordinate`` times the *smaller* of the two spacings of that axis (ITK
        scales by the first operand's ``spacing[0]`` only, which makes ``a + b``
        pass where ``b + a`` fails; this rule is symmetric and agrees with ITK
        for isotropic spacing). Direction compares per element, absolutely,
        within ``direction``. All comparisons are inclusive, as in ITK.

        >>> a = Geometry(size=(2, 2))
        >>> a.space_differences(a.with_origin((0.5, 0)))[0].split(':')[0]
        'origin (0.0, 0.0) vs (0.5, 0.0) differ by 0.5 > tolerance 1e-06 (x 1 mm spacing)'
        """
        if self == other:  # the common case, and fast (cached hashes, tuple compares)
            return []
        coordinate, direction = abs(coordinate), abs(direction)
        if self.dimension != other.dimension:
            return [f"dimension {self.dimension} vs {other.dimension}"]
        lines = []
        if self.size != other.size:
            lines.append(f"size {self.size} vs {other.size}")
        scale = np.minimum(np.asarray(self.spacing), np.asarray(other.spacing))
        for name in ("origin", "spacing"):
            a, b = np.asarray(getattr(self, name)), np.asarray(getattr(other, name))
            excess = np.abs(a - b) / scale
            if np.any(excess > coordinate):
                worst = int(np.argmax(excess))
                lines.append(
                    f"{name} {getattr(self, name)} vs {getattr(other, name)} differ by "
                    f"{abs(a[worst] - b[worst]):.6g} > tolerance {coordinate:g} "
                    f"(x {scale[worst]:g} mm spacing): axis {worst}"
                )
        da, db = self.direction_matrix, other.direction_matrix
        if np.any(np.abs(da - db) > direction):
            lines.append(
                f"direction {self.direction} vs {other.direction} differ by "
                f"{np.max(np.abs(da - db)):.6g} > tolerance {direction:g}"
            )
        return lines

    def same_space(self, other: Geometry, *, coordinate: float = 1e-6, direction: float = 1e-6) -> bool:
        """True when ``other`` occupies the same physical space (see :meth:`space_differences`)."""
        return not self.space_differences(other, coordinate=coordinate, direction=direction)

    def __repr__(self) -> str:
        def fmt(values: tuple[float, ...]) -> str:
            return "(" + ", ".join(f"{v:g}" for v in values) + ("," if len(values) == 1 else "") + ")"

        return (
            f"Geometry(size={self.size}, origin={fmt(self.origin)}, "
            f"spacing={fmt(self.spacing)}, direction={fmt(self.direction)})"
        )


def _sizes(value: Iterable[Any]) -> tuple[int, ...]:
    out = _ints(value)
    if any(v < 0 for v in out):
        msg = f"region size {out} has a negative axis"
        raise GeometryError(msg)
    return out


@attrs.frozen(kw_only=True, cache_hash=True)
class Region:
    """An index box: ``index`` (first pixel, x, y, z order) and ``size``.

    >>> r = Region(index=(1, 2), size=(3, 4))
    >>> r.slices   # numpy order: rows (y) first
    (slice(2, 6, None), slice(1, 4, None))
    """

    index: tuple[int, ...] = attrs.field(converter=_ints)
    size: tuple[int, ...] = attrs.field(converter=_sizes)

    @size.validator
    def _check(self, _attribute: object, value: tuple[int, ...]) -> None:
        if len(value) != len(self.index):
            msg = f"region index {self.index} and size {value} have different lengths"
            raise GeometryError(msg)

    @property
    def dimension(self) -> int:
        return len(self.size)

    @property
    def stop(self) -> tuple[int, ...]:
        """One past the last index on each axis."""
        return tuple(i + s for i, s in zip(self.index, self.size, strict=True))

    @property
    def number_of_pixels(self) -> int:
        return math.prod(self.size)

    @property
    def shape(self) -> tuple[int, ...]:
        """The numpy shape, ``[z, y, x]`` order."""
        return self.size[::-1]

    @property
    def slices(self) -> tuple[slice, ...]:
        """numpy slices selecting this region from a ``[z, y, x]`` array."""
        return tuple(slice(i, i + s) for i, s in zip(self.index[::-1], self.size[::-1], strict=True))

    def is_empty(self) -> bool:
        return min(self.size) == 0

    def contains(self, other: Region) -> bool:
        return all(
            a <= b and b + t <= a + s for a, s, b, t in zip(self.index, self.size, other.index, other.size, strict=True)
        )

    def require_contains(self, other: Region, name: str) -> None:
        """Raise a GeometryError naming ``name`` unless ``other`` lies inside."""
        if other.dimension != self.dimension or not self.contains(other):
            msg = f"{name} index={other.index} size={other.size} is not inside index={self.index} size={self.size}"
            raise GeometryError(msg)

    def intersect(self, other: Region) -> Region:
        start = tuple(max(a, b) for a, b in zip(self.index, other.index, strict=True))
        stop = tuple(min(a, b) for a, b in zip(self.stop, other.stop, strict=True))
        return Region(index=start, size=tuple(max(0, e - s) for s, e in zip(start, stop, strict=True)))

    def shift(self, offset: Sequence[int]) -> Region:
        """This region moved by ``offset`` (x, y, z order)."""
        return Region(index=tuple(i + o for i, o in zip(self.index, offset, strict=True)), size=self.size)

    def relative_to(self, outer: Region) -> Region:
        """This region in the coordinates of ``outer`` (whose index becomes 0)."""
        return self.shift(tuple(-i for i in outer.index))
