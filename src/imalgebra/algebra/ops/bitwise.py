"""Bitwise operators on integer images: ``& | ^`` and ``~``.

They are bitwise, as SimpleITK's (``200 & 8 == 8``; ``~UInt8(7) == 248``),
and need integer (or label) pixel types: a float or complex operand raises a
TypeError naming the operator and the type at construction. For logic on
masks, combine 0/1 masks with ``&`` and ``|``, or use :func:`imalgebra.where`.

Example
-------
>>> import numpy as np, imalgebra as ia
>>> a = ia.from_array(np.array([[200, 7]], dtype=np.uint8))
>>> ia.to_array(ia.evaluate(a & 8)).tolist(), ia.to_array(ia.evaluate(~a)).tolist()
([[8, 0]], [[55, 248]])
>>> try:
...     ia.Image.zeros((2, 2), ia.PixelType.Float32) | 1
... except TypeError as err:
...     print(str(err).split(";")[0])
or (|) is bitwise and needs integer pixel types, got Float32
"""

from __future__ import annotations

import numpy as np

from imalgebra.algebra.expr import node
from imalgebra.algebra.ops.arithmetic import Binary, Unary


def _never(self: Binary) -> bool:
    return False  # integer bitwise ops never warn


__all__ = ["BitwiseAnd", "BitwiseOr", "BitwiseXor", "Invert"]


@node
class BitwiseAnd(Binary):
    op_name = "bitwise_and"
    op = "and"
    symbol = "&"
    needs_errstate = _never
    ufunc = np.bitwise_and


@node
class BitwiseOr(Binary):
    op_name = "bitwise_or"
    op = "or"
    symbol = "|"
    needs_errstate = _never
    ufunc = np.bitwise_or


@node
class BitwiseXor(Binary):
    op_name = "bitwise_xor"
    op = "xor"
    symbol = "^"
    needs_errstate = _never
    ufunc = np.bitwise_xor


@node
class Invert(Unary):
    """``~x``: bitwise not (``~Int8(7) == -8``)."""

    op_name = "invert"
    symbol = "~"
    allow = "iu"
    ufunc = np.invert


OPERATORS = {
    "and": BitwiseAnd,
    "or": BitwiseOr,
    "xor": BitwiseXor,
    "invert": Invert,
}
"""Python operator name -> node class."""
