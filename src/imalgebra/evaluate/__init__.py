"""Evaluators: they run expressions; expressions never run themselves.

:func:`evaluate` computes an expression into an :class:`~imalgebra.Image`
with an evaluator (the in-memory numpy one, :class:`Eager`, by default).
Anything with the :class:`Evaluator` methods can be passed instead: the
streamed and Dask evaluators follow the same protocol and give bit-identical
images, because all of them only call the nodes' own kernels on regions.

Example
-------
>>> import numpy as np, imalgebra as ia
>>> a = ia.from_array(np.arange(6, dtype=np.float32).reshape(2, 3))
>>> out = ia.evaluate((a - 1) * 0.5)
>>> out.pixel_type, ia.to_array(out).tolist()
(<PixelType.Float32: 8>, [[-0.5, 0.0, 0.5], [1.0, 1.5, 2.0]])
>>> ia.evaluate(a) is a
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from imalgebra.algebra.image import Image
    from imalgebra.evaluate.eager import Eager

_DEFAULT: Any = None  # the shared Eager evaluator, created on first use (keeps `import imalgebra` light)


def _default() -> Any:
    global _DEFAULT
    if _DEFAULT is None:
        from imalgebra.evaluate.eager import DEFAULT

        _DEFAULT = DEFAULT
    return _DEFAULT


def __getattr__(name: str) -> Any:
    if name in ("Eager", "DEFAULT"):
        from imalgebra.evaluate import eager

        return getattr(eager, name)
    msg = f"module 'imalgebra.evaluate' has no attribute {name!r}"
    raise AttributeError(msg)


__all__ = ["Eager", "Evaluator", "evaluate", "reduce"]


@runtime_checkable
class Evaluator(Protocol):
    """What ``ia.evaluate(expr, evaluator)`` and ``ia.write(expr, path, evaluator=)`` need."""

    def evaluate(self, expr: Any) -> Image:
        """The expression's value as an in-memory image."""
        ...

    def reduce(self, reduction: Any) -> Any:
        """The value of a :class:`~imalgebra.algebra.expr.Reduction` (e.g. statistics)."""
        ...

    def write(self, expr: Any, path: Any, **kwargs: Any) -> None:
        """Compute the expression into the file at ``path``."""
        ...


def evaluate(expr: Any, evaluator: Evaluator | None = None) -> Image:
    """Compute ``expr`` into an :class:`~imalgebra.Image` (images return themselves).

    Parameters
    ----------
    expr
        An image expression (or an Image).
    evaluator
        Who computes it; the in-memory numpy evaluator when None.

    >>> import imalgebra as ia
    >>> img = ia.Image.zeros((2, 2), ia.PixelType.UInt8)
    >>> ia.evaluate(img + 1)[0, 0]
    1
    """
    if evaluator is None:
        evaluator = _DEFAULT if _DEFAULT is not None else _default()
    return evaluator.evaluate(expr)


def reduce(reduction: Any, evaluator: Evaluator | None = None) -> Any:
    """The value of ``reduction`` (a :class:`~imalgebra.algebra.expr.Reduction`)."""
    if evaluator is None:
        evaluator = _default()
    return evaluator.reduce(reduction)
