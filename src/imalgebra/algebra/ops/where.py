"""``where(mask, a, b)``: ``a`` where the mask is non-zero, ``b`` elsewhere.

The mask is a scalar integer image (any integer or label type; comparisons
give UInt8 0/1 masks). ``a`` and ``b`` are images, expressions or scalars;
the result type is their promotion by the same rules as ``a + b``
(``docs/type-rules.md``): ``where(m, uint8_img, 0) -> UInt8``,
``where(m, uint8_img, 0.5) -> Float64``. A vector ``a``/``b`` is selected per
pixel (all components together). All image operands must share the physical
space (checked at construction).

Example
-------
>>> import numpy as np, imalgebra as ia
>>> a = ia.from_array(np.array([[1.0, -2.0, 3.0]], dtype=np.float32))
>>> ia.to_array(ia.evaluate(ia.where(a > 0, a, 0))).tolist()
[[1.0, 0.0, 3.0]]
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
import numpy as np

from imalgebra.algebra.expr import Expr, Node, node
from imalgebra.algebra.geometry import Geometry, Region
from imalgebra.algebra.operand import Constant, coerce
from imalgebra.algebra.pixel import PixelType
from imalgebra.algebra.rules import DTYPES, VECTORS, promote, type_of
from imalgebra.algebra.spacecheck import ToleranceLike, check_same_space, recorded_tolerance, tolerance_values
from imalgebra.errors import PixelTypeError

__all__ = ["Where", "where"]


def _is_node(value: Any) -> bool:
    return not hasattr(value, "kernel_value")


@node
class Where(Expr):
    """``a`` where ``mask != 0``, else ``b``; ``a``/``b`` may be constants."""

    op_name = "where"
    voxelwise: ClassVar[bool] = True
    operand_fields: ClassVar[tuple[str, ...]] = ("mask", "a", "b")  # fields that hold images or constants

    mask: Node
    a: Node | Constant
    b: Node | Constant
    tolerance: tuple[float, float] | None = attrs.field(factory=recorded_tolerance)

    @property
    def input_fields(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(name for name in ("mask", "a", "b") if _is_node(getattr(self, name)))

    @property
    def operands(self) -> tuple[Any, Any, Any]:
        """``(mask, a, b)``, images and constants alike (for the text form)."""
        return (self.mask, self.a, self.b)

    def check(self) -> None:
        if not _is_node(self.mask):
            msg = f"where: the mask must be an image expression, got {self.mask!r}"
            raise TypeError(msg)
        mask_type = self.mask.pixel_type
        if not (mask_type.is_integer and not mask_type.is_vector):
            msg = (
                f"where: the mask must be a scalar integer image (e.g. a comparison's UInt8 mask), "
                f"got {mask_type.name}; compare it first (img != 0) or cast it"
            )
            raise PixelTypeError(msg)
        nodes = self.inputs
        names = [n for n in ("mask", "a", "b") if _is_node(getattr(self, n))]
        check_same_space("where", nodes, tolerance_values(self.tolerance), names=names)

    def infer(self) -> tuple[Geometry, PixelType, int]:
        a, b = type_of(self.a), type_of(self.b)
        if not isinstance(a, tuple) and not isinstance(b, tuple):
            # two constants: the mask's space, the constants' promotion (a Python pair becomes numpy's default)
            dtype = np.result_type(self.a.kernel_value, self.b.kernel_value)
            return self.mask.geometry, PixelType.from_dtype(dtype), 1
        pixel_type, components = promote("where", a, b)
        return self.mask.geometry, pixel_type, components

    def compute(self, region: Region, *arrays: np.ndarray) -> np.ndarray:
        it = iter(arrays)
        mask = next(it)
        dtype = DTYPES[self.pixel_type]
        vector = self.pixel_type in VECTORS
        values = []
        for value in (self.a, self.b):
            if _is_node(value):
                arr = next(it)
                if vector and value.pixel_type not in VECTORS:
                    arr = arr[..., np.newaxis]
                values.append(arr)
            else:
                values.append(value.kernel_value)
        condition = mask != 0
        if vector:
            condition = condition[..., np.newaxis]
        with np.errstate(all="ignore"):
            out = np.where(condition, values[0], values[1])
        if out.shape != _shape(region, self):
            out = np.broadcast_to(out, _shape(region, self))
        return out if out.dtype == dtype else out.astype(dtype)


def _shape(region: Region, n: Where) -> tuple[int, ...]:
    shape = region.size[::-1]
    return (*shape, n.components) if n.pixel_type in VECTORS else shape


def _operand(value: Any, name: str) -> Node | Constant:
    found = coerce(value)
    if found is None:
        msg = f"where: {name}={value!r} ({type(value).__name__}) is neither an image expression nor a number"
        raise TypeError(msg)
    return found


def where(mask: Node, a: Any, b: Any, *, tolerance: ToleranceLike = None) -> Where:
    """``a`` where ``mask`` is non-zero, ``b`` elsewhere (an expression).

    Parameters
    ----------
    mask
        A scalar integer image expression (e.g. ``img > 0``).
    a, b
        Images, expressions or numbers; the result type is their promotion.
    tolerance
        Overrides the physical-space tolerance in force for this node.

    >>> import numpy as np, imalgebra as ia
    >>> m = ia.from_array(np.array([[0, 1, 2]], dtype=np.uint8))
    >>> ia.to_array(ia.evaluate(where(m, 10, m))).tolist()
    [[0, 10, 10]]
    """
    mask, a, b = _operand(mask, "mask"), _operand(a, "a"), _operand(b, "b")
    images = sum(1 for v in (mask, a, b) if _is_node(v))
    return Where(mask=mask, a=a, b=b, tolerance=recorded_tolerance(tolerance) if images > 1 else None)
