"""Indexing keys in x, y, z order: a pixel, or a slice that keeps physical positions.

:func:`plan_key` turns ``img[...]``'s key into either a pixel index or a
:class:`SlicePlan`: the geometry of the result and the numpy index that cuts
it out of a ``[z, y, x]`` array. It is shared by images (a view, no copy) and
by lazy expressions (a slicing node), so both follow one rule:

* every kept pixel sits at the same physical point as before: the origin
  moves to the first kept pixel, spacing scales by ``|step|``, and a negative
  step negates that axis' direction column;
* an integer drops the axis, as in SimpleITK: the origin is the physical point
  of the first kept pixel without that axis' coordinate, the direction is the
  sub-matrix without that row and column (identity if it is singular; flips
  are applied after that fallback, so dropping and flipping commute);
* a slice that keeps no pixel, a step of 0, or fewer than 2 kept axes raise
  :class:`~imalgebra.ImageIndexError`.

Example
-------
>>> from imalgebra import Geometry
>>> plan = plan_key(Geometry(size=(10, 12), spacing=(0.5, 2.0)), (slice(None, None, -2), 3))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
imalgebra.errors.ImageIndexError: img[::-2, 3] keeps 1 axis; images have 2 or more dimensions ...
>>> plan = plan_key(Geometry(size=(10, 12), spacing=(0.5, 2.0)), (slice(None, None, -2), slice(2, 5)))
>>> plan.geometry.size, plan.geometry.origin, plan.geometry.spacing, plan.geometry.direction
((5, 3), (4.5, 4.0), (1.0, 2.0), (-1.0, 0.0, 0.0, 1.0))
"""

from __future__ import annotations

import operator
from typing import Any

import attrs
import numpy as np

from imalgebra.algebra.geometry import MIN_DIMENSION, Geometry
from imalgebra.errors import ImageIndexError

__all__ = ["SlicePlan", "normalize_pixel_index", "plan_key"]


@attrs.frozen
class SlicePlan:
    """The result of slicing: its geometry, and how to cut it from an array.

    ``axes`` holds, per input axis (x, y, z order), either an ``int`` (the axis
    is dropped at that index) or a ``range`` of kept indices.
    """

    geometry: Geometry
    axes: tuple[int | range, ...]

    @property
    def np_index(self) -> tuple[int | slice, ...]:
        """The numpy index (``[z, y, x]`` order) that cuts the result out."""
        out: list[int | slice] = []
        for axis in reversed(self.axes):
            if isinstance(axis, int):
                out.append(axis)
            else:
                stop = axis.stop if axis.stop >= 0 else None
                out.append(slice(axis.start, stop, axis.step))
        return tuple(out)

    @property
    def bounding_index(self) -> tuple[int, ...]:
        """First index (x, y, z) of the smallest box holding every kept pixel."""
        return tuple(a if isinstance(a, int) else min(a[0], a[-1]) for a in self.axes)

    @property
    def bounding_size(self) -> tuple[int, ...]:
        return tuple(1 if isinstance(a, int) else abs(a[-1] - a[0]) + 1 for a in self.axes)


def _format_key(key: tuple[Any, ...]) -> str:
    def one(k: Any) -> str:
        if isinstance(k, slice):
            parts = ["" if v is None else str(v) for v in (k.start, k.stop, k.step)]
            return ":".join(parts[:2]) + (f":{parts[2]}" if k.step is not None else "")
        return "..." if k is Ellipsis else repr(k)

    return "img[" + ", ".join(one(k) for k in key) + "]"


def _expand(key: Any, dimension: int) -> tuple[Any, ...]:
    key = key if isinstance(key, tuple) else (key,)
    ellipses = sum(1 for k in key if k is Ellipsis)
    if ellipses > 1:
        msg = f"{_format_key(key)} has more than one '...'"
        raise ImageIndexError(msg)
    if len(key) - ellipses > dimension:
        msg = f"{_format_key(key)} has {len(key) - ellipses} indices for a {dimension}D image"
        raise ImageIndexError(msg)
    if ellipses:
        at = key.index(Ellipsis)
        fill = (slice(None),) * (dimension - len(key) + 1)
        key = key[:at] + fill + key[at + 1 :]
    return key + (slice(None),) * (dimension - len(key))


def _integer(value: Any, key: tuple[Any, ...]) -> int | None:
    if isinstance(value, (bool, np.bool_)):
        msg = f"{_format_key(key)}: {value!r} is a boolean, not a pixel index"
        raise ImageIndexError(msg)
    try:
        return operator.index(value)
    except TypeError:
        return None


def normalize_pixel_index(key: Any, size: tuple[int, ...]) -> tuple[int, ...] | None:
    """The pixel index (x, y, z) if ``key`` names one pixel, else None.

    Negative indices count from the end, as in Python.

    >>> normalize_pixel_index((-1, 0), (4, 5))
    (3, 0)
    """
    if not isinstance(key, tuple):
        key = (key,)
    if len(key) != len(size):
        return None
    out = []
    for axis, (value, n) in enumerate(zip(key, size, strict=True)):
        i = _integer(value, key)
        if i is None:
            return None
        j = i + n if i < 0 else i
        if not 0 <= j < n:
            msg = f"index {i} is out of range for axis {axis} of size {n} (image size {size})"
            raise ImageIndexError(msg)
        out.append(j)
    return tuple(out)


def plan_key(geometry: Geometry, key: Any) -> SlicePlan:
    """The :class:`SlicePlan` of ``img[key]`` for an image of ``geometry``."""
    original = key if isinstance(key, tuple) else (key,)
    expanded = _expand(key, geometry.dimension)
    axes: list[int | range] = []
    for axis, (value, n) in enumerate(zip(expanded, geometry.size, strict=True)):
        if isinstance(value, slice):
            try:
                kept = range(*value.indices(n))
            except ValueError:
                msg = f"{_format_key(original)}: slice step cannot be zero (axis {axis})"
                raise ImageIndexError(msg) from None
            except TypeError:
                msg = f"{_format_key(original)}: slice bounds on axis {axis} must be integers or None"
                raise ImageIndexError(msg) from None
            if len(kept) == 0:
                msg = (
                    f"{_format_key(original)} keeps no pixel on axis {axis} (size {n}); "
                    "an image needs at least one pixel per axis"
                )
                raise ImageIndexError(msg)
            axes.append(kept)
            continue
        i = _integer(value, original)
        if i is None:
            msg = f"{_format_key(original)}: {value!r} is not an integer, a slice or '...'"
            raise ImageIndexError(msg)
        j = i + n if i < 0 else i
        if not 0 <= j < n:
            msg = f"index {i} is out of range for axis {axis} of size {n} (image size {geometry.size})"
            raise ImageIndexError(msg)
        axes.append(j)

    kept_axes = [k for k, a in enumerate(axes) if not isinstance(a, int)]
    if len(kept_axes) < MIN_DIMENSION:
        msg = (
            f"{_format_key(original)} keeps {len(kept_axes)} axis; images have {MIN_DIMENSION} or more "
            "dimensions (use a slice of length 1 such as 3:4 to keep an axis)"
        )
        raise ImageIndexError(msg)

    first = [a if isinstance(a, int) else a.start for a in axes]
    origin = np.asarray(geometry.index_to_physical(first))
    # Collapse first, flip second, so that dropping and flipping commute (img[::-1, k][...] ==
    # img[:, k][::-1, ...] even when the kept sub-matrix is singular and falls back to the
    # identity, ITK's "guess" strategy; SimpleITK flips first and loses the flip there).
    sub = geometry.direction_matrix[np.ix_(kept_axes, kept_axes)]
    if abs(np.linalg.det(sub)) < 1e-12:
        sub = np.eye(len(kept_axes))
    spacing = []
    for column, k in enumerate(kept_axes):
        step = axes[k].step  # type: ignore[union-attr]
        spacing.append(geometry.spacing[k] * abs(step))
        if step < 0:
            sub[:, column] = 0.0 - sub[:, column]  # 0.0 - x avoids printing -0.0
    new = Geometry(
        size=[len(axes[k]) for k in kept_axes],  # type: ignore[arg-type]
        origin=origin[kept_axes],
        spacing=spacing,
        direction=sub,
    )
    return SlicePlan(geometry=new, axes=tuple(axes))
