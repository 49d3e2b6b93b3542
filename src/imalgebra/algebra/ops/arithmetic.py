"""Voxelwise arithmetic: ``+ - * / // % **`` and unary ``-`` and ``abs``.

:class:`Binary` and :class:`Unary` are the bases of every voxelwise node here
and in :mod:`.compare`, :mod:`.bitwise` and :mod:`.maths`: a binary node holds
``left`` and ``right``, each an image expression or a :class:`Constant`
(Python and numpy scalars, coerced by
:func:`imalgebra.algebra.operand.coerce`); only the image operands are
``inputs``. Construction checks the physical space of two image operands
(:mod:`..spacecheck`) and computes the result type (:mod:`..rules`); the
kernels are numpy ufuncs with floating-point warnings silenced, so every
region of the result is exactly that region of the whole.

Integer semantics (documented in ``docs/type-rules.md``): ``+ - *`` and ``**``
wrap modulo 2**bits; ``//`` floors and ``%`` takes the divisor's sign (numpy,
so ``a == (a // b) * b + a % b``; SimpleITK's ``%`` truncates like C);
``x // 0`` and ``x % 0`` are 0 (numpy; SimpleITK gives the type's maximum);
``x ** -n`` is the truncated real power (0 unless ``x`` is 1 or -1), as
SimpleITK. Floats follow IEEE 754 (``1 / 0 == inf``).

Example
-------
>>> import numpy as np, imalgebra as ia
>>> a = ia.from_array(np.array([[200, 7], [0, 3]], dtype=np.uint8))
>>> ia.to_array(ia.evaluate(a + a)).tolist()
[[144, 14], [0, 6]]
>>> (a / 2).pixel_type, (a * 2.5).pixel_type, (a * np.float32(2.5)).pixel_type
(<PixelType.Float64: 9>, <PixelType.Float64: 9>, <PixelType.Float32: 8>)
>>> e = (a + 10) * 2 - a           # builds nodes; nothing is computed yet
>>> e.pixel_type, ia.evaluate(e).equals(e.evaluate())
(<PixelType.UInt8: 1>, True)
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Sequence
from typing import Any, ClassVar

import attrs
import numpy as np

from imalgebra.algebra.expr import Expr, Node, node, token
from imalgebra.algebra.geometry import Geometry, Region
from imalgebra.algebra.operand import Constant, coerce
from imalgebra.algebra.pixel import PixelType
from imalgebra.algebra.rules import DTYPES, VECTORS, promote, type_of, unary_type
from imalgebra.algebra.spacecheck import ToleranceLike, check_same_space, recorded_tolerance, tolerance_values

__all__ = [
    "Absolute",
    "Add",
    "Binary",
    "Divide",
    "FloorDivide",
    "Modulo",
    "Multiply",
    "Negative",
    "Power",
    "Subtract",
    "Unary",
    "add",
    "binary",
    "divide",
    "floor_divide",
    "modulo",
    "multiply",
    "negative",
    "power",
    "subtract",
]


def _is_node(value: Any) -> bool:
    return not hasattr(value, "kernel_value")  # not a Constant (duck-typed: robust to a module imported twice)


# Marks an image operand in the kernel's operand slots (a constant's kernel value is a number, never
# None). None, not object(): it survives pickling (Dask and distributed workers receive nodes
# pickled) and is the same object in every copy of this module.
_NODE = None
_IMAGE_PAIRS: dict[tuple[Any, ...], tuple[PixelType, int]] = {}  # (op, types and components) -> result type

try:  # numpy >= 2: np.errstate sets this context variable; setting a prepared value directly costs 10x less
    from numpy._core._ufunc_config import _extobj_contextvar, _make_extobj

    _IGNORE_ALL = _make_extobj(all="ignore")
except (ImportError, TypeError):  # pragma: no cover - older numpy: np.errstate
    _extobj_contextvar = None
_NO_CONTEXT = contextlib.nullcontext()


def quietly(function: Any, *args: Any) -> Any:
    """``function(*args)`` with floating-point warnings ignored, like ``with np.errstate(all="ignore")``."""
    if _extobj_contextvar is None:  # pragma: no cover
        with np.errstate(all="ignore"):
            return function(*args)
    token = _extobj_contextvar.set(_IGNORE_ALL)
    try:
        return function(*args)
    finally:
        _extobj_contextvar.reset(token)


@attrs.frozen(eq=False, repr=False)
class Binary(Expr):
    """Base of voxelwise two-operand nodes; subclasses set ``op`` (the rules'
    name), ``op_name``, ``symbol`` (for the text form, "" for a function),
    and ``ufunc`` or ``kernel``."""

    op: ClassVar[str] = ""
    symbol: ClassVar[str] = ""
    voxelwise: ClassVar[bool] = True
    ufunc: ClassVar[Any] = None
    operand_fields: ClassVar[tuple[str, ...]] = ("left", "right")  # fields that hold images or constants

    left: Node | Constant = attrs.field(kw_only=True)
    right: Node | Constant = attrs.field(kw_only=True)
    tolerance: tuple[float, float] | None = attrs.field(kw_only=True, factory=recorded_tolerance)
    # derived once at construction (not part of the key): what compute needs per region
    _nodes: tuple[Node, ...] = attrs.field(init=False)
    _slots: tuple[Any, Any] = attrs.field(init=False)
    _expand: tuple[bool, bool] = attrs.field(init=False)
    _dtype: np.dtype = attrs.field(init=False)
    _quiet: bool = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        # Expr.__attrs_post_init__ inlined for speed (a node costs microseconds: property tests build
        # thousands); the key is byte for byte what expr._digest gives
        left, right = self.left, self.right
        left_constant, right_constant = hasattr(left, "kernel_value"), hasattr(right, "kernel_value")
        nodes = (left, right)[left_constant : 2 - right_constant]  # the image operands (bools index as 0/1)
        object.__setattr__(self, "_nodes", nodes)
        self.check()
        geometry, pixel_type, components = self.infer()
        if type(pixel_type) is not PixelType:
            pixel_type = PixelType(pixel_type)
        object.__setattr__(self, "geometry", geometry)
        object.__setattr__(self, "pixel_type", pixel_type)
        object.__setattr__(self, "components", int(components))
        object.__setattr__(self, "key", _fast_key(self))
        slots = (left.kernel_value if left_constant else _NODE, right.kernel_value if right_constant else _NODE)
        object.__setattr__(self, "_slots", slots)
        if pixel_type in VECTORS:  # a scalar image next to a vector one gains a component axis
            expand = (
                not left_constant and left.pixel_type not in VECTORS,
                not right_constant and right.pixel_type not in VECTORS,
            )
        else:
            expand = (False, False)
        object.__setattr__(self, "_expand", expand)
        object.__setattr__(self, "_dtype", DTYPES[pixel_type])
        object.__setattr__(self, "_quiet", self.needs_errstate())

    @property
    def input_fields(self) -> tuple[str, ...]:  # type: ignore[override]
        """The fields holding image operands (a :class:`Constant` is a parameter)."""
        return tuple(name for name in ("left", "right") if _is_node(getattr(self, name)))

    @property
    def inputs(self) -> tuple[Node, ...]:
        return self._nodes

    @property
    def operands(self) -> tuple[Node | Constant, Node | Constant]:
        """``(left, right)``, images and constants alike (for the text form)."""
        return (self.left, self.right)

    def check(self) -> None:
        if not self._nodes:
            msg = (
                f"{self.op_name}: at least one operand must be an image expression, "
                f"got {self.left!r} and {self.right!r}"
            )
            raise TypeError(msg)
        if len(self._nodes) == 2:
            first, second = self._nodes[0].geometry, self._nodes[1].geometry
            if first is not second and first != second:  # equal geometries: nothing to compute
                check_same_space(self.op_name, self._nodes, tolerance_values(self.tolerance))

    def infer(self) -> tuple[Geometry, PixelType, int]:
        pixel_type, components = self.result_type()
        return self._nodes[0].geometry, pixel_type, components

    def result_type(self) -> tuple[PixelType, int]:
        if len(self._nodes) == 2:  # two images: a cache hit costs one dict lookup
            left, right = self.left, self.right
            cache_key = (self.op, left.pixel_type, left.components, right.pixel_type, right.components)
            found = _IMAGE_PAIRS.get(cache_key)
            if found is None:
                found = _IMAGE_PAIRS[cache_key] = promote(self.op, type_of(left), type_of(right))
            return found
        return promote(self.op, type_of(self.left), type_of(self.right))

    def needs_errstate(self) -> bool:
        """Whether the kernel can raise floating-point warnings (silenced per call)."""
        return True

    def operand_values(self, arrays: Sequence[np.ndarray]) -> tuple[Any, Any]:
        """The kernel's two operands: arrays for images (a scalar image gains a
        component axis next to a vector one), numpy/Python scalars for constants."""
        left, right = self._slots
        i = 0
        if left is _NODE:
            left = arrays[0]
            i = 1
            if self._expand[0]:
                left = left[..., np.newaxis]
        if right is _NODE:
            right = arrays[i]
            if self._expand[1]:
                right = right[..., np.newaxis]
        return left, right

    def compute(self, region: Region, *arrays: np.ndarray) -> np.ndarray:
        left, right = self.operand_values(arrays)
        out = quietly(self.kernel, left, right) if self._quiet else self.kernel(left, right)
        return out if out.dtype == self._dtype else out.astype(self._dtype)

    def kernel(self, left: Any, right: Any) -> np.ndarray:
        """The numpy operation on whole operands (arrays or scalars)."""
        return self.ufunc(left, right)

    @property
    def supports_into(self) -> bool:
        """True when :meth:`compute_into` can write the result into a given buffer."""
        return self.ufunc is not None and type(self).kernel is Binary.kernel

    def compute_into(self, region: Region, out: np.ndarray, *arrays: np.ndarray) -> np.ndarray:
        """:meth:`compute`, written into ``out`` (``region``'s shape, this node's dtype;
        it may be one of the input arrays: elementwise ufuncs allow that). The
        same ufunc loop as :meth:`compute`, so the values are bit-identical."""
        left, right = self.operand_values(arrays)
        if self._quiet:
            token = _extobj_contextvar.set(_IGNORE_ALL) if _extobj_contextvar is not None else None
            try:
                with np.errstate(all="ignore") if token is None else _NO_CONTEXT:
                    self.ufunc(left, right, out=out)
            finally:
                if token is not None:
                    _extobj_contextvar.reset(token)
        else:
            self.ufunc(left, right, out=out)
        return out


@attrs.frozen(eq=False, repr=False)
class Unary(Expr):
    """Base of voxelwise one-operand nodes: ``arg``; subclasses set ``ufunc`` or ``kernel``."""

    input_fields: ClassVar[tuple[str, ...]] = ("arg",)
    voxelwise: ClassVar[bool] = True
    symbol: ClassVar[str] = ""
    allow: ClassVar[str] = "iufc"  # numpy kinds accepted
    ufunc: ClassVar[Any] = None

    arg: Node = attrs.field(kw_only=True)

    @property
    def inputs(self) -> tuple[Node, ...]:
        return (self.arg,)

    def infer(self) -> tuple[Geometry, PixelType, int]:
        pixel_type, components = unary_type(self.op_name, type_of(self.arg), allow=self.allow)
        return self.arg.geometry, pixel_type, components

    def compute(self, region: Region, arg: np.ndarray) -> np.ndarray:
        out = quietly(self.kernel, arg)
        dtype = DTYPES[self.pixel_type]
        return out if out.dtype == dtype else out.astype(dtype)

    def kernel(self, arg: np.ndarray) -> np.ndarray:
        return self.ufunc(arg)


_FIELDS: dict[type, tuple[tuple[str, bytes], ...]] = {}


def _fast_key(n: Expr) -> str:
    """``expr._digest(op_name, init fields)``, with operands' tokens taken from their keys directly."""
    cls = type(n)
    fields = _FIELDS.get(cls)
    if fields is None:
        fields = _FIELDS[cls] = tuple((f.name, b"|" + f.name.encode() + b"=") for f in attrs.fields(cls) if f.init)
    h = hashlib.blake2b(digest_size=16)
    h.update((cls.op_name or cls.__name__).encode())
    for name, prefix in fields:
        value = getattr(n, name)
        key = getattr(value, "key", None)
        if type(key) is str:
            h.update(prefix + b"node:" + key.encode())
        elif value is None:
            h.update(prefix + b"NoneType:None")
        else:
            h.update(prefix + token(value))
    return h.hexdigest()


def _quiet_for_floats(self: Binary) -> bool:
    return self._dtype.kind in "fc"


@node
class Add(Binary):
    op_name = "add"
    op = "add"
    symbol = "+"
    ufunc = np.add
    needs_errstate = _quiet_for_floats


@node
class Subtract(Binary):
    op_name = "subtract"
    op = "sub"
    symbol = "-"
    ufunc = np.subtract
    needs_errstate = _quiet_for_floats


@node
class Multiply(Binary):
    op_name = "multiply"
    op = "mul"
    symbol = "*"
    ufunc = np.multiply
    needs_errstate = _quiet_for_floats


@node
class Divide(Binary):
    """True division (``/``): a float result type, see docs/type-rules.md."""

    op_name = "divide"
    op = "truediv"
    symbol = "/"
    ufunc = np.true_divide


@node
class FloorDivide(Binary):
    """``//``: floor division; integer ``x // 0`` is 0."""

    op_name = "floor_divide"
    op = "floordiv"
    symbol = "//"
    ufunc = np.floor_divide


@node
class Modulo(Binary):
    """``%``: the remainder with the divisor's sign (numpy); integer ``x % 0`` is 0."""

    op_name = "modulo"
    op = "mod"
    symbol = "%"
    ufunc = np.remainder


@node
class Power(Binary):
    """``**``: integer powers wrap; a negative integer exponent truncates the real power."""

    op_name = "power"
    op = "pow"
    symbol = "**"

    def kernel(self, left: Any, right: Any) -> np.ndarray:
        dtype = self.pixel_type.dtype
        if dtype.kind != "i":
            return np.power(left, right)
        base = np.asarray(left, dtype=dtype)
        exponent = np.asarray(right, dtype=dtype)
        negative = exponent < 0
        if not negative.any():
            return np.power(base, exponent)
        out = np.power(base, np.where(negative, 0, exponent).astype(dtype, copy=False))
        # trunc(b ** e) for e < 0: 1 for b == 1, (-1) ** e for b == -1, else 0 (0 ** -n: 0, like x // 0)
        minus_one = np.where(exponent % 2 == 0, 1, -1).astype(dtype)
        small = np.where(base == 1, dtype.type(1), np.where(base == -1, minus_one, dtype.type(0)))
        return np.where(negative, small, out).astype(dtype, copy=False)


@node
class Negative(Unary):
    """``-x``; unsigned integers wrap (``-UInt8(1) == 255``), as ``0 - x`` does."""

    op_name = "negative"
    symbol = "-"
    ufunc = np.negative


@node
class Absolute(Unary):
    """``abs(x)``; ``abs(Int8(-128)) == -128`` (wraps); complex gives the real modulus."""

    op_name = "abs"
    ufunc = np.abs

    def infer(self) -> tuple[Geometry, PixelType, int]:
        pixel_type, components = unary_type(self.op_name, type_of(self.arg), real_result=True)
        return self.arg.geometry, pixel_type, components


def _operand(value: Any, op: str, side: str) -> Node | Constant:
    found = coerce(value)
    if found is None:
        msg = f"{op}: the {side} operand {value!r} ({type(value).__name__}) is neither an image expression nor a number"
        raise TypeError(msg)
    return found


def binary(cls: type[Binary], left: Any, right: Any, tolerance: ToleranceLike = None) -> Binary:
    """Build ``cls(left, right)`` from images, expressions or scalars.

    ``tolerance`` overrides the physical-space tolerance in force
    (see :func:`imalgebra.tolerance`) for this node.
    """
    left = _operand(left, cls.op_name, "left")
    right = _operand(right, cls.op_name, "right")
    both = _is_node(left) and _is_node(right)
    return cls(left=left, right=right, tolerance=recorded_tolerance(tolerance) if both else None)


def add(left: Any, right: Any, *, tolerance: ToleranceLike = None) -> Binary:
    """``left + right`` (see docs/type-rules.md).

    >>> import imalgebra as ia
    >>> a = ia.Image.zeros((2, 2), ia.PixelType.UInt8)
    >>> add(a, a.with_origin((0, 1e-4)), tolerance=1e-3).pixel_type
    <PixelType.UInt8: 1>
    """
    return binary(Add, left, right, tolerance)


def subtract(left: Any, right: Any, *, tolerance: ToleranceLike = None) -> Binary:
    """``left - right``."""
    return binary(Subtract, left, right, tolerance)


def multiply(left: Any, right: Any, *, tolerance: ToleranceLike = None) -> Binary:
    """``left * right``."""
    return binary(Multiply, left, right, tolerance)


def divide(left: Any, right: Any, *, tolerance: ToleranceLike = None) -> Binary:
    """``left / right``: true division to a float type."""
    return binary(Divide, left, right, tolerance)


def floor_divide(left: Any, right: Any, *, tolerance: ToleranceLike = None) -> Binary:
    """``left // right``."""
    return binary(FloorDivide, left, right, tolerance)


def modulo(left: Any, right: Any, *, tolerance: ToleranceLike = None) -> Binary:
    """``left % right``."""
    return binary(Modulo, left, right, tolerance)


def power(left: Any, right: Any, *, tolerance: ToleranceLike = None) -> Binary:
    """``left ** right``.

    >>> import numpy as np, imalgebra as ia
    >>> a = ia.from_array(np.array([[2, -1], [1, 3]], dtype=np.int16))
    >>> ia.to_array(ia.evaluate(power(a, -1))).tolist()
    [[0, -1], [1, 0]]
    """
    return binary(Power, left, right, tolerance)


def negative(arg: Any) -> Unary:
    """``-arg``."""
    return Negative(arg=arg)


OPERATORS: dict[str, type[Expr]] = {
    "add": Add,
    "sub": Subtract,
    "mul": Multiply,
    "truediv": Divide,
    "floordiv": FloorDivide,
    "mod": Modulo,
    "pow": Power,
    "neg": Negative,
    "abs": Absolute,
}
"""Python operator name -> node class (used by :class:`~imalgebra.algebra.operand.Operand`)."""
