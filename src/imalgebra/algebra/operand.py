"""Operator overloading shared by images and expression nodes.

Placeholder until the expression layer lands: it refuses truth testing, which
is ambiguous for images (``if img:``), and says why.
"""

from __future__ import annotations

__all__ = ["Operand"]


class Operand:
    """Mixin for values that build expressions when used with operators."""

    __slots__ = ()

    def __bool__(self) -> bool:
        msg = (
            f"the truth value of {type(self).__name__} is ambiguous: comparisons build "
            "image expressions; use .equals() for structural equality or ia.statistics(...)"
        )
        raise TypeError(msg)
