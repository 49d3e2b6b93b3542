"""Operator overloading shared by images and expression nodes.

``Image`` and every ``Expr`` inherit :class:`Operand`, so ``a + b``,
``2 * a``, ``a < 3``, ``-a``, ``abs(a)`` or ``a & 0xFF`` build expression
nodes (see :mod:`imalgebra.algebra.ops`); nothing is computed until an
evaluator runs them. Python and numpy scalars on either side become a
:class:`Constant` through one function, :func:`coerce`; a Python scalar is
*weak* and a numpy scalar *strong* in NumPy 2's promotion (NEP 50), so
``uint8_img + 2`` stays UInt8 while ``uint8_img + np.int16(2)`` is Int16 (the
full table is in ``docs/type-rules.md``).

Comparisons build UInt8 masks of 0/1, so structural equality is
``.equals()`` and truth testing (``if img:``) raises. numpy arrays are refused
with a message that says how to make an image of them;
``__array_ufunc__ = None`` makes numpy defer to us, so ``np.float32(1) + img``
builds a node instead of returning an ndarray. (Examples of the operators
are in :mod:`imalgebra.algebra.ops.arithmetic`.)

Example
-------
>>> coerce(2), coerce(np.int16(2)), coerce(True)
(Constant(2), Constant(np.int16(2)), Constant(1))
"""

from __future__ import annotations

import enum
import hashlib
from typing import Any

import attrs
import numpy as np

from imalgebra.algebra.spacecheck import recorded_tolerance

__all__ = ["Constant", "Operand", "coerce", "node_classes"]


@attrs.frozen(repr=False)
class Constant:
    """A scalar operand: a Python number (``dtype=None``: weak, NEP 50) or a
    numpy scalar's value with its dtype (strong).

    >>> Constant(2), Constant(2.5, "float32").dtype
    (Constant(2), dtype('float32'))
    """

    value: int | float | complex
    dtype: np.dtype | None = attrs.field(default=None, converter=lambda d: None if d is None else np.dtype(d))
    key: str = attrs.field(init=False, eq=False)

    def __attrs_post_init__(self) -> None:
        text = f"{type(self.value).__name__}:{self.value!r}:{self.dtype}"
        if isinstance(self.value, float):
            text = f"float:{self.value.hex()}:{self.dtype}"
        object.__setattr__(self, "key", "const-" + hashlib.blake2b(text.encode(), digest_size=12).hexdigest())

    @property
    def is_weak(self) -> bool:
        """True for a Python scalar (its type yields to the image's, NEP 50)."""
        return self.dtype is None

    @property
    def resolve_type(self) -> Any:
        """What numpy's ``ufunc.resolve_dtypes`` takes: the dtype, or the Python type when weak."""
        return type(self.value) if self.dtype is None else self.dtype

    @property
    def kernel_value(self) -> Any:
        """The value handed to numpy kernels: a Python scalar (weak) or a numpy scalar (strong)."""
        return self.value if self.dtype is None else self.dtype.type(self.value)

    def __repr__(self) -> str:
        if self.dtype is None:
            return f"Constant({self.value!r})"
        return f"Constant(np.{self.dtype.name}({self.value!r}))"

    def __str__(self) -> str:
        if self.dtype is None:
            return repr(self.value)
        return f"{self.dtype.name}({self.value!r})"


def coerce(value: Any) -> Any:
    """An operand for an operator: the node itself, a :class:`Constant` for a
    Python or numpy scalar, or ``None`` when the value is not understood
    (operators then return ``NotImplemented``).

    numpy arrays (other than 0-d ones) raise a TypeError that says how to
    turn them into an image. Booleans count as the integers 0 and 1.

    >>> coerce(3), coerce(np.float32(1.5)), coerce("a")
    (Constant(3), Constant(np.float32(1.5)), None)
    """
    if hasattr(value, "requested_regions") and hasattr(value, "geometry"):
        return value
    if hasattr(value, "kernel_value"):  # a Constant
        return value
    if isinstance(value, np.generic):  # before Python numbers: np.float64 is a float subclass
        if value.dtype.kind == "b":
            return Constant(int(value), np.uint8)
        if value.dtype.kind in "iufc":
            return Constant(value.item(), value.dtype)
        return None
    if isinstance(value, enum.Enum):
        return None  # e.g. a PixelType is an int, but never a pixel value
    if isinstance(value, bool):
        return Constant(int(value))
    for kind in (int, float, complex):
        if isinstance(value, kind):
            return Constant(kind(value))
    if isinstance(value, np.ndarray):
        if value.ndim == 0 and value.dtype.kind in "biufc":
            return coerce(value[()])
        msg = (
            f"cannot combine a numpy array of shape {value.shape} with an image expression: "
            "an array has no physical space; make it an image first, e.g. "
            "ia.from_array(arr).with_geometry(img.geometry)"
        )
        raise TypeError(msg)
    return None


_CLASSES: dict[str, Any] = {}


def node_classes() -> dict[str, Any]:
    """Operator name -> node class, loaded from ``ops`` on first use (``ops`` imports this module)."""
    if not _CLASSES:
        from imalgebra.algebra.ops import arithmetic, bitwise, compare

        _CLASSES.update(arithmetic.OPERATORS)
        _CLASSES.update(compare.OPERATORS)
        _CLASSES.update(bitwise.OPERATORS)
    return _CLASSES


def _binary(name: str, reflected: bool = False) -> Any:
    def method(self: Any, other: Any) -> Any:
        operand = coerce(other)
        if operand is None:
            return NotImplemented
        cls = (_CLASSES or node_classes())[name]
        # two images: record the tolerance in force (None for the default) so a rebuilt node re-checks with it
        tolerance = None if hasattr(operand, "kernel_value") else recorded_tolerance()
        if reflected:
            return cls(left=operand, right=self, tolerance=tolerance)
        return cls(left=self, right=operand, tolerance=tolerance)

    method.__name__ = f"__{'r' if reflected else ''}{name}__"
    method.__doc__ = f"``{name}`` as an expression node (see docs/type-rules.md)."
    return method


def _unary(name: str) -> Any:
    def method(self: Any) -> Any:
        return (_CLASSES or node_classes())[name](arg=self)

    method.__name__ = f"__{name}__"
    method.__doc__ = f"``{name}`` as an expression node (see docs/type-rules.md)."
    return method


class Operand:
    """Mixin for values that build expressions when used with operators."""

    __slots__ = ()
    __array_ufunc__ = None  # numpy defers to our reflected operators instead of making arrays
    __iter__ = None  # an image is not a sequence of pixels

    def __dask_tokenize__(self) -> tuple[str, str]:
        """Dask names tasks by this structural key instead of pickling the pixels to hash them."""
        return (type(self).__name__, self.key)  # type: ignore[attr-defined]

    __add__ = _binary("add")
    __radd__ = _binary("add", reflected=True)
    __sub__ = _binary("sub")
    __rsub__ = _binary("sub", reflected=True)
    __mul__ = _binary("mul")
    __rmul__ = _binary("mul", reflected=True)
    __truediv__ = _binary("truediv")
    __rtruediv__ = _binary("truediv", reflected=True)
    __floordiv__ = _binary("floordiv")
    __rfloordiv__ = _binary("floordiv", reflected=True)
    __mod__ = _binary("mod")
    __rmod__ = _binary("mod", reflected=True)
    __pow__ = _binary("pow")
    __rpow__ = _binary("pow", reflected=True)
    __and__ = _binary("and")
    __rand__ = _binary("and", reflected=True)
    __or__ = _binary("or")
    __ror__ = _binary("or", reflected=True)
    __xor__ = _binary("xor")
    __rxor__ = _binary("xor", reflected=True)
    __lt__ = _binary("lt")
    __le__ = _binary("le")
    __gt__ = _binary("gt")
    __ge__ = _binary("ge")
    __eq__ = _binary("eq")  # type: ignore[assignment]
    __ne__ = _binary("ne")  # type: ignore[assignment]
    __neg__ = _unary("neg")
    __abs__ = _unary("abs")
    __invert__ = _unary("invert")

    def __pos__(self) -> Any:
        """``+x`` is ``x`` itself: values are frozen, so there is nothing to copy."""
        return self

    def __bool__(self) -> bool:
        msg = (
            f"the truth value of {type(self).__name__} is ambiguous: comparisons build "
            "image expressions; use .equals() for structural equality or ia.statistics(...)"
        )
        raise TypeError(msg)

    def __getitem__(self, key: Any) -> Any:
        """``expr[x, y, z]`` computes just that pixel; slices give a slicing expression."""
        from imalgebra.algebra.slicing import normalize_pixel_index

        found = normalize_pixel_index(key, self.geometry.size)  # type: ignore[attr-defined]
        if found is None:
            from imalgebra.algebra.ops.regions import slice_expression

            return slice_expression(self, key)
        from imalgebra.algebra.geometry import Region
        from imalgebra.evaluate.eager import evaluate_region

        block = evaluate_region(self, Region(index=found, size=(1,) * len(found)))
        value = block.reshape((-1, *block.shape[len(found) :]))[0]
        if self.pixel_type.is_vector:  # type: ignore[attr-defined]
            return tuple(value.tolist())
        return value.item()
