"""The physical-space check that operations on several images run at construction.

Inputs must have the same size, and origin, spacing and direction equal
within the tolerance in force (:func:`imalgebra.tolerance`, or a
``tolerance=`` argument): origin and spacing per component within
``coordinate`` times the smaller of the two spacings of that axis, direction
per element within ``direction`` (absolute), all inclusive, as in ITK
(:meth:`Geometry.space_differences`). Unlike ITK, which scales by the first
operand's ``spacing[0]`` only, the rule is symmetric: ``a + b`` passes exactly
when ``b + a`` does. A non-finite difference never passes.

Nodes record the tolerance they were built with (``None`` for the default),
so rebuilding a node later (``graph.replace``, ``bind``) re-checks it with the
same tolerance, whatever the context is then.

Example
-------
>>> import imalgebra as ia
>>> a = ia.Image.zeros((4, 4), ia.PixelType.Float32)
>>> b = a.with_origin((0.0, 0.001))
>>> try:
...     check_same_space("add", [a, b])
... except ia.PhysicalSpaceError as err:
...     print(str(err).splitlines()[0])
add: inputs do not occupy the same physical space:
>>> with ia.tolerance(coordinate=1e-2):
...     check_same_space("add", [a, b])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from imalgebra.algebra.tolerance import DEFAULT_TOLERANCE, Tolerance, current_tolerance
from imalgebra.errors import PhysicalSpaceError

__all__ = ["check_same_space", "recorded_tolerance", "tolerance_values"]

ToleranceLike = Tolerance | tuple[float, float] | float | None


def recorded_tolerance(tolerance: ToleranceLike = None) -> tuple[float, float] | None:
    """The tolerance a node stores: ``(coordinate, direction)``, or ``None`` for the default.

    ``tolerance`` may be a :class:`Tolerance`, a ``(coordinate, direction)`` pair,
    one number for both, or ``None`` for the tolerance in force
    (``with ia.tolerance(...)``).

    >>> recorded_tolerance(), recorded_tolerance(1e-3)
    (None, (0.001, 0.001))
    """
    if tolerance is None:
        tol = current_tolerance()
    elif isinstance(tolerance, Tolerance):
        tol = tolerance
    elif isinstance(tolerance, (int, float)):
        tol = Tolerance(coordinate=tolerance, direction=tolerance)
    else:
        coordinate, direction = tolerance
        tol = Tolerance(coordinate=coordinate, direction=direction)
    if tol == DEFAULT_TOLERANCE:
        return None
    return (tol.coordinate, tol.direction)


def tolerance_values(recorded: tuple[float, float] | None) -> Tolerance:
    """The :class:`Tolerance` of a recorded value (``None`` is the default)."""
    if recorded is None:
        return DEFAULT_TOLERANCE
    return Tolerance(coordinate=recorded[0], direction=recorded[1])


def _name(index: int, count: int) -> str:
    if count == 2:
        return ("left", "right")[index]
    return f"input {index}"


def check_same_space(
    op: str,
    nodes: Sequence[Any],
    tolerance: ToleranceLike = None,
    *,
    names: Sequence[str] | None = None,
) -> None:
    """Raise :class:`~imalgebra.PhysicalSpaceError` unless every node occupies
    the first one's physical space.

    ``tolerance`` is as for :func:`recorded_tolerance` (``None``: the one in
    force). ``names`` label the inputs in the message (default: left/right, or
    input 0, 1, ...). The message names the op, each differing property with
    both values and the tolerance, and how to relax it.
    """
    if len(nodes) < 2:
        return
    first = nodes[0].geometry
    if all(n.geometry is first or n.geometry == first for n in nodes[1:]):
        return  # the common case: no float arithmetic at all
    tol = tolerance if isinstance(tolerance, Tolerance) else tolerance_values(recorded_tolerance(tolerance))
    problems = []
    for i, other in enumerate(nodes[1:], start=1):
        geometry = other.geometry
        if geometry == first:
            continue
        lines = first.space_differences(geometry, coordinate=tol.coordinate, direction=tol.direction)
        lines += _non_finite(first, geometry)
        if lines:
            a = names[0] if names else _name(0, len(nodes))
            b = names[i] if names else _name(i, len(nodes))
            problems.append((a, b, lines))
    if not problems:
        return
    out = [f"{op}: inputs do not occupy the same physical space:"]
    for a, b, lines in problems:
        if len(nodes) > 2:
            out.append(f"  {a} vs {b}:")
        out.extend(f"  {line}" for line in lines)
    out.append(
        f"  (tolerance in force: coordinate={tol.coordinate:g} x spacing, direction={tol.direction:g}; "
        "relax it with `with ia.tolerance(coordinate=..., direction=...)` or a tolerance= argument, "
        "or resample one input onto the other's grid)"
    )
    raise PhysicalSpaceError("\n".join(out))


def _non_finite(a: Any, b: Any) -> list[str]:
    """NaN never passes (geometries validate finiteness; this guards any other leaf)."""
    values = (*a.origin, *a.spacing, *a.direction, *b.origin, *b.spacing, *b.direction)
    if all(math.isfinite(v) for v in values):
        return []
    return ["a non-finite origin, spacing or direction never matches (NaN never passes)"]
