"""The physical-space tolerance in force, per thread and per async task.

Operations that combine images check that their inputs occupy the same
physical space within a tolerance (see :meth:`Geometry.space_differences`).
The defaults are ITK's: 1e-6 for coordinates (relative to the voxel spacing)
and 1e-6 for direction elements (absolute). ``with tolerance(...)`` changes
them for the code inside the block only; it is a :mod:`contextvars` value, so
threads and asyncio tasks each see their own.

Example
-------
>>> import imalgebra as ia
>>> ia.current_tolerance()
Tolerance(coordinate=1e-06, direction=1e-06)
>>> with ia.tolerance(coordinate=1e-3):
...     ia.current_tolerance().coordinate
0.001
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Iterator

import attrs

from imalgebra.errors import GeometryError

__all__ = ["DEFAULT_TOLERANCE", "Tolerance", "current_tolerance", "tolerance"]


def _non_negative(_instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not (math.isfinite(value) and value >= 0):
        msg = f"tolerance {attribute.name}={value!r} must be a finite number >= 0"
        raise GeometryError(msg)


@attrs.frozen
class Tolerance:
    """Coordinate (relative to spacing) and direction (absolute) tolerances."""

    coordinate: float = attrs.field(default=1e-6, converter=float, validator=_non_negative)
    direction: float = attrs.field(default=1e-6, converter=float, validator=_non_negative)


DEFAULT_TOLERANCE = Tolerance()
_CURRENT: contextvars.ContextVar[Tolerance] = contextvars.ContextVar("imalgebra_tolerance", default=DEFAULT_TOLERANCE)


def current_tolerance() -> Tolerance:
    """The tolerance in force in this thread or task."""
    return _CURRENT.get()


@contextlib.contextmanager
def tolerance(coordinate: float | None = None, direction: float | None = None) -> Iterator[Tolerance]:
    """Use a looser (or stricter) physical-space tolerance inside the block.

    Arguments left out keep their current value.
    """
    old = _CURRENT.get()
    new = Tolerance(
        coordinate=old.coordinate if coordinate is None else coordinate,
        direction=old.direction if direction is None else direction,
    )
    token = _CURRENT.set(new)
    try:
        yield new
    finally:
        _CURRENT.reset(token)
