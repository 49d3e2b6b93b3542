"""Voxelwise comparisons: ``< <= > >= == !=`` give UInt8 masks of 0 and 1.

As SimpleITK's operators (true is 1, not 255). Vector images compare per
component (a ``VectorUInt8`` mask); complex images allow ``==`` and ``!=``
only. Operands of different types compare exactly as numpy does (values, not
bit patterns: ``UInt8 < 300`` is true everywhere, ``UInt8 == -1`` nowhere).
NaN compares unequal to everything, so ``x != x`` marks the NaNs.

Example
-------
>>> import numpy as np, imalgebra as ia
>>> a = ia.from_array(np.array([[1.0, np.nan], [3.0, 4.0]], dtype=np.float32))
>>> ia.to_array(ia.evaluate(a >= 3)).tolist(), ia.to_array(ia.evaluate(a != a)).tolist()
([[0, 0], [1, 1]], [[0, 1], [0, 0]])
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from imalgebra.algebra.expr import node
from imalgebra.algebra.ops.arithmetic import Binary

__all__ = ["Compare", "Equal", "Greater", "GreaterEqual", "Less", "LessEqual", "NotEqual"]


@attrs.frozen(eq=False, repr=False)
class Compare(Binary):
    """Base of the comparisons: a numpy comparison ufunc, viewed as UInt8."""

    def needs_errstate(self) -> bool:
        return False  # comparisons never warn (NaN compares false quietly)

    @property
    def supports_into(self) -> bool:
        return True

    def compute_into(self, region: Any, out: np.ndarray, *arrays: np.ndarray) -> np.ndarray:
        left, right = self.operand_values(arrays)
        self.ufunc(left, right, out=out.view(np.bool_))
        return out

    def kernel(self, left: Any, right: Any) -> np.ndarray:
        out = self.ufunc(left, right)
        if not isinstance(out, np.ndarray):  # two 0-d operands never happen; keep the contract anyway
            out = np.asarray(out)
        return out.view(np.uint8)


@node
class Less(Compare):
    op_name = "less"
    op = "lt"
    symbol = "<"
    ufunc = np.less


@node
class LessEqual(Compare):
    op_name = "less_equal"
    op = "le"
    symbol = "<="
    ufunc = np.less_equal


@node
class Greater(Compare):
    op_name = "greater"
    op = "gt"
    symbol = ">"
    ufunc = np.greater


@node
class GreaterEqual(Compare):
    op_name = "greater_equal"
    op = "ge"
    symbol = ">="
    ufunc = np.greater_equal


@node
class Equal(Compare):
    op_name = "equal"
    op = "eq"
    symbol = "=="
    ufunc = np.equal


@node
class NotEqual(Compare):
    op_name = "not_equal"
    op = "ne"
    symbol = "!="
    ufunc = np.not_equal


OPERATORS = {
    "lt": Less,
    "le": LessEqual,
    "gt": Greater,
    "ge": GreaterEqual,
    "eq": Equal,
    "ne": NotEqual,
}
"""Python operator name -> node class."""
