"""Walking expression graphs iteratively (no recursion limit at 10,000 nodes).

Nodes are shared by key: a subtree used twice appears once in every walk.

Example
-------
>>> import numpy as np, imalgebra as ia
>>> from imalgebra.algebra.expr import Expr, node
>>> @node
... class Neg(Expr):
...     op_name = "neg"
...     input_fields = ("arg",)
...     arg: object
...     def infer(self):
...         return self.arg.geometry, self.arg.pixel_type, self.arg.components
...     def compute(self, region, arg):
...         return -arg
>>> img = ia.Image.zeros((2, 2), ia.PixelType.Int8)
>>> e = img
>>> for _ in range(5000):
...     e = Neg(arg=e)
>>> len(toposort(e))
5001
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from imalgebra.algebra.expr import Node

__all__ = ["consumers", "map_nodes", "replace", "toposort"]


def toposort(root: Node) -> list[Node]:
    """Every distinct node under ``root`` (by key), children before parents."""
    order: list[Node] = []
    done: set[str] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        current, expanded = stack.pop()
        key = current.key
        if key in done:
            continue
        if expanded:
            done.add(key)
            order.append(current)
            continue
        stack.append((current, True))
        for child in reversed(current.inputs):
            if child.key not in done:
                stack.append((child, False))
    return order


def consumers(order: list[Node]) -> dict[str, int]:
    """How many parents use each node (by key), for freeing intermediates early."""
    counts: dict[str, int] = {n.key: 0 for n in order}
    for n in order:
        for child in {c.key for c in n.inputs}:
            counts[child] += 1
    return counts


def map_nodes(root: Node, fn: Callable[[Node, tuple[Any, ...]], Any]) -> Any:
    """Apply ``fn(node, children_results)`` bottom-up; each distinct node once."""
    results: dict[str, Any] = {}
    for n in toposort(root):
        results[n.key] = fn(n, tuple(results[c.key] for c in n.inputs))
    return results[root.key]


def replace(root: Node, fn: Callable[[Node], Node | None]) -> Node:
    """Rebuild ``root`` where ``fn(node)`` returns a replacement (None keeps it).

    Only the ancestors of replaced nodes are rebuilt.
    """

    def rebuild(n: Node, children: tuple[Node, ...]) -> Node:
        if any(new is not old for new, old in zip(children, n.inputs, strict=True)):
            n = n.with_inputs(children)
        swapped = fn(n)
        return n if swapped is None else swapped

    return map_nodes(root, rebuild)
