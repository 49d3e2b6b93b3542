"""Testing helpers: image assertions with a readable diff, and (in
:mod:`imalgebra.testing.strategies`) hypothesis strategies.

:func:`assert_image_equal` checks pixel type, components, geometry (within the
physical-space tolerance in force) and pixels (within ``rtol``/``atol``);
:func:`assert_image_identical` also requires exactly equal pixels, geometry and
metadata. Both raise ``AssertionError`` listing every difference, with the first
differing pixel in x, y, z order. This module does not import hypothesis, so
``import imalgebra.testing`` stays light; import the strategies explicitly::

    from imalgebra.testing import strategies as ist

Example
-------
>>> import imalgebra as ia
>>> from imalgebra.testing import assert_image_equal
>>> a = ia.Image.zeros((4, 3), ia.PixelType.Float32)
>>> assert_image_equal(a, a.with_pixel((1, 2), 1e-9), atol=1e-6)
>>> assert_image_equal(a, a.with_pixel((1, 2), 5.0))
Traceback (most recent call last):
...
AssertionError: images differ:
  pixels: 1 of 12 differ (8.3%) beyond rtol=1e-07, atol=0
    first at index (x, y) = (1, 2): actual 0.0, expected 5.0
    largest difference 5.0 at (1, 2)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from imalgebra.algebra.image import Image
from imalgebra.algebra.tolerance import current_tolerance

__all__ = ["assert_image_equal", "assert_image_identical"]

_MAX_LISTED = 5


def assert_image_equal(actual: Any, expected: Any, *, rtol: float = 1e-7, atol: float = 0.0) -> None:
    """Assert two images are equal: pixel type, components, geometry and pixels.

    Parameters
    ----------
    actual, expected : Image
        The images to compare (an expression is evaluated first).
    rtol, atol : float
        Pixels agree when ``|actual - expected| <= atol + rtol * |expected|``
        (numpy's ``isclose``); NaN equals NaN at the same pixel. Integer pixels
        compare exactly unless you pass a tolerance.

    Geometry compares as binary operators do: equal size; origin, spacing and
    direction within the tolerance in force (relax with ``with ia.tolerance(...)``).
    Metadata is not compared (see :func:`assert_image_identical`).

    Raises
    ------
    AssertionError
        Listing every difference; for pixels, how many differ, the first differing
        pixel (x, y, z order, and component for vector images) with both values,
        and the largest difference.

    Examples
    --------
    >>> import imalgebra as ia
    >>> a = ia.Image.zeros((2, 2), ia.PixelType.UInt8)
    >>> assert_image_equal(a, a.with_origin((0.0, 1e-9)))
    >>> assert_image_equal(a, a.with_spacing((1.0, 2.0)))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    AssertionError: images differ:
      geometry: spacing (1.0, 1.0) vs (1.0, 2.0) differ by 1 > tolerance 1e-06 ...
    """
    __tracebackhide__ = True
    actual, expected = _image(actual, "actual"), _image(expected, "expected")
    tol = current_tolerance()
    lines = _type_lines(actual, expected)
    geometry = actual.geometry.space_differences(expected.geometry, coordinate=tol.coordinate, direction=tol.direction)
    lines += [f"geometry: {line}" for line in geometry]
    if actual.shape == expected.shape:
        lines += _pixel_lines(actual, expected, rtol=rtol, atol=atol)
    _fail(lines)


def assert_image_identical(actual: Any, expected: Any) -> None:
    """Assert two images are identical: exactly equal pixels, geometry, pixel
    type, components and metadata.

    NaN equals NaN at the same pixel; nothing else is forgiven (``0.1`` and
    ``0.1 + 1e-17`` differ, so do origins that differ in the last bit).

    Examples
    --------
    >>> import imalgebra as ia
    >>> a = ia.Image.zeros((2, 2), ia.PixelType.UInt8)
    >>> assert_image_identical(a, ia.Image.zeros((2, 2), ia.PixelType.UInt8))
    >>> assert_image_identical(a, a.with_metadata({"k": "v"}))
    Traceback (most recent call last):
    ...
    AssertionError: images differ:
      metadata: key 'k' only in expected ('v')
    """
    __tracebackhide__ = True
    actual, expected = _image(actual, "actual"), _image(expected, "expected")
    lines = _type_lines(actual, expected)
    a, e = actual.geometry, expected.geometry
    for name in ("size", "origin", "spacing", "direction"):
        va, ve = getattr(a, name), getattr(e, name)
        if va != ve:
            lines.append(f"geometry: {name} {va} vs {ve}")
    if actual.shape == expected.shape:
        lines += _pixel_lines(actual, expected, rtol=0.0, atol=0.0)
    lines += _metadata_lines(actual.metadata, expected.metadata)
    _fail(lines)


# -- helpers ------------------------------------------------------------------
def _image(value: Any, name: str) -> Image:
    if isinstance(value, Image):
        return value
    evaluate = getattr(value, "evaluate", None)
    if callable(evaluate) and hasattr(value, "geometry"):
        return evaluate()
    msg = f"{name} must be an Image (or an expression to evaluate), got {type(value).__name__}: {value!r}"
    raise TypeError(msg)


def _fail(lines: list[str]) -> None:
    __tracebackhide__ = True
    if lines:
        raise AssertionError("images differ:\n  " + "\n  ".join(lines))


def _type_lines(actual: Image, expected: Image) -> list[str]:
    lines = []
    if actual.pixel_type is not expected.pixel_type:
        lines.append(f"pixel type: {actual.pixel_type.name} vs {expected.pixel_type.name}")
    if actual.components != expected.components:
        lines.append(f"components: {actual.components} vs {expected.components}")
    return lines  # a size or dimension mismatch is reported with the geometry


def _pixel_lines(actual: Image, expected: Image, *, rtol: float, atol: float) -> list[str]:
    a, e = np.asarray(actual), np.asarray(expected)
    if rtol == 0 and atol == 0:
        same = (a == e) | (_isnan(a) & _isnan(e))
    else:
        with np.errstate(all="ignore"):
            same = np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=True)
    if same.all():
        return []
    bad = ~same
    vector = actual.pixel_type.is_vector
    count = int(np.count_nonzero(bad.any(axis=-1) if vector else bad))
    total = actual.number_of_pixels
    axes = "xyzabcde"[: actual.dimension]
    label = f"index ({', '.join(axes)})" if actual.dimension > 1 else "index"
    first = np.unravel_index(int(np.argmax(bad)), bad.shape)
    where = _where(first, vector)
    lines = [
        f"pixels: {count} of {total} differ ({100.0 * count / total:.2g}%)"
        + (f" beyond rtol={rtol:g}, atol={atol:g}" if rtol or atol else ""),
        f"  first at {label} = {where}: actual {_value(a[first])}, expected {_value(e[first])}",
    ]
    diff = _difference(a, e, bad)
    if diff is not None:
        worst = np.unravel_index(int(np.argmax(diff)), diff.shape)
        size = diff[worst]
        text = str(int(size)) if {a.dtype.kind, e.dtype.kind} <= set("iu") else _value(size)
        lines.append(f"  largest difference {text} at {_where(worst, vector)}")
    return lines


def _where(np_index: tuple[Any, ...], vector: bool) -> str:
    spatial = np_index[:-1] if vector else np_index
    xyz = ", ".join(str(int(i)) for i in reversed(spatial))
    text = f"({xyz})"
    return f"{text} component {int(np_index[-1])}" if vector else text


def _isnan(arr: np.ndarray) -> np.ndarray:
    if arr.dtype.kind in "fc":
        return np.isnan(arr)
    return np.zeros(arr.shape, dtype=bool)


def _difference(a: np.ndarray, e: np.ndarray, bad: np.ndarray) -> np.ndarray | None:
    """|a - e| where both are finite and they differ (as float, no integer wrap)."""
    kinds = {a.dtype.kind, e.dtype.kind}
    if kinds <= set("iu"):
        # float64 avoids integer wrap-around; exact enough for a report
        diff = np.abs(a.astype(np.float64) - e.astype(np.float64))
    else:
        with np.errstate(all="ignore"):
            diff = np.abs(a.astype(np.complex128 if "c" in kinds else np.float64) - e)
        diff = np.where(np.isfinite(diff), diff, np.nan)
    diff = np.where(bad, diff, np.nan)
    if np.all(np.isnan(diff)):
        return None
    return np.where(np.isnan(diff), -np.inf, diff)


def _value(value: Any) -> str:
    """The shortest text that reads back as the same value (``0.1``, ``5.0``, ``(1+2j)``)."""
    return repr(np.asarray(value).item())


def _metadata_lines(actual: Mapping[str, str], expected: Mapping[str, str]) -> list[str]:
    lines = []
    for key in sorted(set(actual) | set(expected)):
        if key not in expected:
            lines.append(f"metadata: key {key!r} only in actual ({actual[key]!r})")
        elif key not in actual:
            lines.append(f"metadata: key {key!r} only in expected ({expected[key]!r})")
        elif actual[key] != expected[key]:
            lines.append(f"metadata: {key!r} is {actual[key]!r} vs {expected[key]!r}")
    if len(lines) > _MAX_LISTED:
        lines = [*lines[:_MAX_LISTED], f"metadata: ... and {len(lines) - _MAX_LISTED} more differences"]
    return lines
