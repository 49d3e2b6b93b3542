"""Reductions: values computed from a whole image by combining per-region partials.

Every reduction here is a :class:`~imalgebra.algebra.expr.Reduction`: a
``partial`` of one region, an associative ``combine`` and a ``finalize``, so
an evaluator can reduce regions in any order and grouping (threads, a Dask
tree) and reach the same value to within rounding.

Moments use Chan, Golub and LeVeque's pairwise update: each region
contributes ``(count, sum, mean, M2)`` with ``M2`` the sum of squared
deviations from the region's own mean (two passes over the region, in
float64), and two partials combine as::

    delta = mean_b - mean_a
    M2 = M2_a + M2_b + delta**2 * n_a * n_b / (n_a + n_b)

which stays accurate where the textbook ``sum(x**2) - sum(x)**2 / n`` loses
every digit (values 1e8 + small noise, say).

Conventions, matching SimpleITK's ``StatisticsImageFilter``:

* ``sigma`` and ``variance`` are the *sample* statistics (divided by
  ``n - 1``, numpy's ``ddof=1``); one pixel gives NaN;
* minimum and maximum ignore NaN pixels; sum, mean, variance and sigma are NaN
  when any pixel is NaN;
* every value is a Python float, except the minimum and maximum of integer
  images, which are exact Python ints.

Deliberate differences: the variance is accurate where SimpleITK's
``sum(x**2) - sum(x)**2 / n`` cancels (a constant Int32 image of 6327085 has
variance 0 here, 0.0089 in SimpleITK); an image whose pixels are all NaN has
minimum and maximum NaN (SimpleITK reports its +/-FLT_MAX starting values);
a sum with +inf pixels is +inf (SimpleITK's compensated sum turns it into NaN).
Partials combined in another grouping (another evaluator's regions) agree
to rounding, not always to the last bit.

Example
-------
>>> import numpy as np, imalgebra as ia
>>> s = ia.statistics(ia.from_array(np.array([[1, 2], [3, 4]], np.uint8)))
>>> s.minimum, s.maximum, s.mean, s.sum, s.count, round(s.sigma, 7), round(s.variance, 4)
(1, 4, 2.5, 10.0, 4, 1.2909944, 1.6667)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np

from imalgebra.algebra.expr import Node, Reduction, node
from imalgebra.algebra.geometry import Region
from imalgebra.algebra.ops.components import require_node
from imalgebra.errors import PixelTypeError

__all__ = [
    "Extrema",
    "Maximum",
    "Mean",
    "Minimum",
    "Sigma",
    "Statistics",
    "StatisticsReduction",
    "Sum",
    "Variance",
    "reduce",
    "statistics",
]


def _require_real_scalar(arg: Node, what: str) -> None:
    require_node(arg, what, "image")
    pixel_type = arg.pixel_type
    if pixel_type.is_vector:
        msg = (
            f"{what} takes a scalar image; this one is {pixel_type.name} with {arg.components} components: "
            "reduce each component (ia.select_component(image, k)) or a combination of them"
        )
        raise PixelTypeError(msg)
    if pixel_type.is_complex:
        msg = (
            f"{what} takes a real image; this one is {pixel_type.name} (no order on complex numbers): "
            "reduce its real part, imaginary part or modulus"
        )
        raise PixelTypeError(msg)


def _pixels(array: np.ndarray, components: int, vector: bool) -> np.ndarray:
    """The region's values as a 2D array: one row per pixel, one column per component."""
    return array.reshape(-1, components if vector else 1)


# -- extrema -----------------------------------------------------------------
def _extrema_partial(values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    if values.shape[0] == 0:
        return None
    return np.fmin.reduce(values, axis=0), np.fmax.reduce(values, axis=0)


def _extrema_combine(partials: Sequence[Any]) -> tuple[np.ndarray, np.ndarray] | None:
    found = [p for p in partials if p is not None]
    if not found:
        return None
    low = found[0][0]
    high = found[0][1]
    for lo, hi in found[1:]:
        low = np.fmin(low, lo)
        high = np.fmax(high, hi)
    return low, high


def _python_value(value: Any) -> int | float:
    value = np.asarray(value)
    return int(value) if value.dtype.kind in "iu" else float(value)


@node
class Extrema(Reduction):
    """Per component ``(minimums, maximums)`` ignoring NaN (tuples, one entry per component)."""

    op_name = "extrema"
    arg: Node

    def partial(self, region: Region, array: np.ndarray) -> Any:
        return _extrema_partial(_pixels(array, self.arg.components, self.arg.pixel_type.is_vector))

    def combine(self, partials: Sequence[Any]) -> Any:
        return _extrema_combine(partials)

    def finalize(self, combined: Any) -> tuple[tuple[int | float, ...], tuple[int | float, ...]]:
        if combined is None:
            nan = (math.nan,) * self.arg.components
            return nan, nan
        low, high = combined
        return tuple(_python_value(v) for v in low), tuple(_python_value(v) for v in high)


@node
class Minimum(Reduction):
    """The smallest pixel value, ignoring NaN."""

    op_name = "minimum_value"
    arg: Node

    def partial(self, region: Region, array: np.ndarray) -> Any:
        return _extrema_partial(_pixels(array, 1, False))

    def combine(self, partials: Sequence[Any]) -> Any:
        return _extrema_combine(partials)

    def finalize(self, combined: Any) -> int | float:
        return math.nan if combined is None else _python_value(combined[0][0])


@node
class Maximum(Minimum):
    """The largest pixel value, ignoring NaN."""

    op_name = "maximum_value"

    def finalize(self, combined: Any) -> int | float:
        return math.nan if combined is None else _python_value(combined[1][0])


# -- moments -----------------------------------------------------------------
_CHUNK = 1 << 20  # values per float64 pass: 8 MiB of temporaries whatever the region's size


@attrs.frozen
class Moments:
    """``count``, ``total`` (sum), ``mean`` and ``m2`` (sum of squared deviations) of some pixels."""

    count: int
    total: float
    mean: float
    m2: float

    @classmethod
    def of(cls, values: np.ndarray) -> Moments:
        """The moments of ``values``, in chunks so float64 temporaries stay small for big regions."""
        flat = values.reshape(-1)
        out = cls(0, 0.0, 0.0, 0.0)
        for start in range(0, flat.size, _CHUNK):
            out = out + cls._of(flat[start : start + _CHUNK])
        return out

    @classmethod
    def _of(cls, values: np.ndarray) -> Moments:
        n = int(values.size)
        x = values.astype(np.float64)
        total = float(np.sum(x))
        mean = total / n
        if not math.isfinite(mean):
            return cls(n, total, mean, math.nan)
        x -= mean
        return cls(n, total, mean, float(np.dot(x, x)))

    def __add__(self, other: Moments) -> Moments:
        if other.count == 0:
            return self
        if self.count == 0:
            return other
        n = self.count + other.count
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.count / n)
        m2 = self.m2 + other.m2 + delta * delta * (self.count * other.count / n)
        return Moments(n, self.total + other.total, mean, m2)

    @property
    def variance(self) -> float:
        """Sample variance (``n - 1`` in the denominator); NaN for fewer than two values."""
        if self.count < 2 or not math.isfinite(self.m2):
            return math.nan
        return self.m2 / (self.count - 1)


def _moments_combine(partials: Sequence[Moments]) -> Moments:
    total = Moments(0, 0.0, 0.0, 0.0)
    for p in partials:
        total = total + p
    return total


@node
class Sum(Reduction):
    """The sum of the pixel values, as a float (NaN if any pixel is NaN)."""

    op_name = "sum_value"
    arg: Node

    def partial(self, region: Region, array: np.ndarray) -> Moments:
        return Moments.of(array)

    def combine(self, partials: Sequence[Any]) -> Moments:
        return _moments_combine(partials)

    def finalize(self, combined: Moments) -> float:
        return float(combined.total)


@node
class Mean(Sum):
    """The mean pixel value (NaN if any pixel is NaN)."""

    op_name = "mean_value"

    def finalize(self, combined: Moments) -> float:
        return combined.total / combined.count if combined.count else math.nan


@node
class Variance(Sum):
    """The sample variance (``ddof=1``, as SimpleITK); NaN for one pixel."""

    op_name = "variance_value"

    def finalize(self, combined: Moments) -> float:
        return combined.variance


@node
class Sigma(Sum):
    """The sample standard deviation (``ddof=1``, as SimpleITK); NaN for one pixel."""

    op_name = "sigma_value"

    def finalize(self, combined: Moments) -> float:
        return math.sqrt(combined.variance) if combined.variance >= 0 else math.nan


# -- all at once ---------------------------------------------------------------
@attrs.frozen(kw_only=True)
class Statistics:
    """Summary statistics of an image (a frozen value; see :func:`statistics`).

    ``sigma`` and ``variance`` are sample statistics (``n - 1``), as SimpleITK.
    """

    minimum: int | float
    maximum: int | float
    mean: float
    sigma: float
    variance: float
    sum: float
    count: int


@node
class StatisticsReduction(Reduction):
    """Minimum, maximum, sum, mean, variance and sigma in one pass."""

    op_name = "statistics"
    arg: Node

    def partial(self, region: Region, array: np.ndarray) -> Any:
        values = _pixels(array, 1, False)
        return _extrema_partial(values), Moments.of(values)

    def combine(self, partials: Sequence[Any]) -> Any:
        return _extrema_combine([p[0] for p in partials]), _moments_combine([p[1] for p in partials])

    def finalize(self, combined: Any) -> Statistics:
        extrema, moments = combined
        low, high = (math.nan, math.nan) if extrema is None else (extrema[0][0], extrema[1][0])
        variance = moments.variance
        return Statistics(
            minimum=_python_value(low),
            maximum=_python_value(high),
            mean=moments.total / moments.count if moments.count else math.nan,
            sigma=math.sqrt(variance) if variance >= 0 else math.nan,
            variance=variance,
            sum=float(moments.total),
            count=moments.count,
        )


# -- running a reduction -----------------------------------------------------------
def reduce(reduction: Reduction, evaluator: Any = None) -> Any:
    """The value of ``reduction``, computed by ``evaluator`` (the in-memory one when None)."""
    from imalgebra.evaluate import reduce as run  # evaluate/ imports algebra, never the reverse at module level

    return run(reduction, evaluator)


def statistics(image: Node, evaluator: Any = None) -> Statistics:
    """Minimum, maximum, mean, sigma, variance, sum and count of an image or expression.

    Computed region by region and combined (Chan's pairwise update, see the
    module notes); ``sigma``/``variance`` are the sample statistics (``n - 1``),
    as SimpleITK's ``StatisticsImageFilter``; one pixel gives NaN for both.
    NaN pixels are ignored by the minimum and maximum and make the other
    values NaN. The minimum and maximum of integer images are exact ints.

    Parameters
    ----------
    image
        A scalar real image or expression (reduce vector images per component).
    evaluator
        The evaluator that computes the expression (the default one if None).

    Examples
    --------
    >>> import numpy as np, imalgebra as ia
    >>> s = ia.statistics(ia.from_array(np.array([[1.0, np.nan, 3.0]], np.float32)))
    >>> s.minimum, s.maximum, s.mean
    (1.0, 3.0, nan)
    """
    _require_real_scalar(image, "statistics")
    return reduce(StatisticsReduction(arg=image), evaluator)
