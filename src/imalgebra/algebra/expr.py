"""The expression node protocol: every operation is a small frozen node.

A node knows at construction its output ``geometry``, ``pixel_type`` and
``components`` (validated there, before any pixel is computed), its
``inputs`` (child nodes: other nodes, in-memory :class:`Image` leaves, lazy
file leaves, generated sources), and a structural ``key``: a blake2b digest
of its op name, parameters and children's keys, stable across processes.

Evaluators never special-case an op. They ask a node:

``requested_regions(region) -> tuple[Region, ...]``
    which region of each input (in that input's index space) it needs to
    produce ``region`` of its output. Voxelwise ops inherit the identity.
``compute(region, *arrays) -> np.ndarray``
    the numpy kernel: ``arrays`` are the requested regions of the inputs
    (``[z, y, x(, c)]``, read-only: never write into them); the result has
    ``region.shape`` (+ components) and ``pixel_type``'s dtype. Computing any
    region gives exactly that region of the whole result, so streamed,
    threaded and Dask evaluation reuse every kernel unchanged.
``prerequisites() -> tuple[Reduction, ...]`` and ``bind(values) -> Node``
    for nodes that need global values first (rescaling needs the min/max):
    the evaluator reduces the prerequisites, then evaluates ``bind(values)``.

A :class:`Reduction` is a value-producing node (statistics): ``partial``
per region, ``combine`` partials, ``finalize``.

Writing a node (see ``ops/`` for real ones)::

    @node
    class Negate(Expr):
        op_name = "negative"
        input_fields = ("arg",)
        arg: Node

        def infer(self):
            return self.arg.geometry, self.arg.pixel_type, self.arg.components

        def compute(self, region, arg):
            return np.negative(arg)

Example
-------
>>> import numpy as np, imalgebra as ia
>>> from imalgebra.algebra.expr import Expr, node
>>> @node
... class Twice(Expr):
...     op_name = "twice"
...     input_fields = ("arg",)
...     arg: object
...     def infer(self):
...         return self.arg.geometry, self.arg.pixel_type, self.arg.components
...     def compute(self, region, arg):
...         return arg * 2
>>> img = ia.from_array(np.arange(6, dtype=np.int16).reshape(2, 3))
>>> t = Twice(arg=img)
>>> t.geometry.size, t.pixel_type, t.equals(Twice(arg=img))
((3, 2), <PixelType.Int16: 2>, True)
>>> t.compute(t.geometry.region, img.region_array(img.geometry.region)).tolist()
[[0, 2, 4], [6, 8, 10]]
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, TypeVar, Union

import attrs
import numpy as np

from imalgebra.algebra.geometry import Geometry, Region
from imalgebra.algebra.operand import Operand
from imalgebra.algebra.pixel import PixelType

__all__ = ["Expr", "Node", "Reduction", "is_node", "node", "token"]

Node = Union["Expr", Any]  # an Expr, an Image, or another leaf following the protocol
T = TypeVar("T")


def node(cls: type[T]) -> type[T]:
    """Class decorator for expression nodes: a frozen attrs class, keyword-only
    fields, identity-free equality (``==`` builds a comparison node instead)."""
    return attrs.frozen(cls, eq=False, repr=False, kw_only=True)  # type: ignore[return-value]


def is_node(value: Any) -> bool:
    """True for anything evaluators accept: an Expr, an Image, a lazy leaf."""
    return hasattr(value, "requested_regions") and hasattr(value, "key") and hasattr(value, "geometry")


def token(value: Any) -> bytes:
    """A canonical byte string for a node parameter (for structural keys).

    >>> token((1, 2.5, "a")) == token((1, 2.5, "a")), token(1) == token(1.0)
    (True, False)
    """
    if value is None or isinstance(value, (bool, int, str)):
        return f"{type(value).__name__}:{value!r}".encode()
    if isinstance(value, float):
        return b"float:" + value.hex().encode()
    if isinstance(value, complex):
        return b"complex:" + value.real.hex().encode() + b"," + value.imag.hex().encode()
    if isinstance(value, PixelType):
        return f"PixelType:{value.name}".encode()
    if isinstance(value, (tuple, list)):
        return b"(" + b",".join(token(v) for v in value) + b")"
    if isinstance(value, (Geometry, Region)):
        return type(value).__name__.encode() + token(attrs.astuple(value, recurse=False))
    if isinstance(value, np.ndarray):
        return b"ndarray:" + token((value.dtype.str, value.shape)) + hashlib.blake2b(value.tobytes()).digest()
    if isinstance(value, np.generic):
        return token(value.item())
    if hasattr(value, "key") and isinstance(value.key, str):
        return b"node:" + value.key.encode()
    if isinstance(value, dict):
        return b"{" + b",".join(token(k) + b":" + token(v) for k, v in sorted(value.items())) + b"}"
    msg = f"cannot build a structural key from a parameter of type {type(value).__name__}: {value!r}"
    raise TypeError(msg)


def _digest(op_name: str, params: Sequence[tuple[str, Any]]) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(op_name.encode())
    for name, value in params:
        h.update(b"|" + name.encode() + b"=" + token(value))
    return h.hexdigest()


@attrs.frozen(eq=False, repr=False)
class Expr(Operand):
    """Base of every expression node. Subclasses use the :func:`node` decorator,
    set ``op_name`` and ``input_fields``, and implement ``infer`` and ``compute``.

    ``input_fields`` names the fields that hold child nodes; a field may hold a
    tuple of nodes (n-ary ops such as compose). All other fields are parameters
    and enter the structural key.
    """

    op_name: ClassVar[str] = ""
    input_fields: ClassVar[tuple[str, ...]] = ()

    geometry: Geometry = attrs.field(init=False)
    pixel_type: PixelType = attrs.field(init=False)
    components: int = attrs.field(init=False)
    key: str = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.check()
        geometry, pixel_type, components = self.infer()
        object.__setattr__(self, "geometry", geometry)
        object.__setattr__(self, "pixel_type", PixelType(pixel_type))
        object.__setattr__(self, "components", int(components))
        params = [(f.name, getattr(self, f.name)) for f in attrs.fields(type(self)) if f.init]
        object.__setattr__(self, "key", _digest(type(self).op_name or type(self).__name__, params))

    # -- to implement ------------------------------------------------------
    def check(self) -> None:
        """Cross-argument checks; raise with the op, the argument and both values."""

    def infer(self) -> tuple[Geometry, PixelType, int]:
        """Output (geometry, pixel_type, components), computed from the inputs."""
        raise NotImplementedError(f"{type(self).__name__}.infer")

    def compute(self, region: Region, *arrays: np.ndarray) -> np.ndarray:
        """The numpy kernel for ``region`` of the output."""
        raise NotImplementedError(f"{type(self).__name__}.compute")

    def requested_regions(self, region: Region) -> tuple[Region, ...]:
        """The region of each input needed for ``region``: the identity by default."""
        return (region,) * len(self.inputs)

    def prerequisites(self) -> tuple[Reduction, ...]:
        """Global values this node needs before any region can be computed."""
        return ()

    def bind(self, values: Sequence[Any]) -> Node:
        """This node with its prerequisites' ``values`` filled in (no prerequisites left)."""
        return self

    # -- graph ------------------------------------------------------------
    @property
    def inputs(self) -> tuple[Node, ...]:
        """The child nodes, in field order (tuple-valued fields flattened)."""
        out: list[Node] = []
        for name in self.input_fields:
            value = getattr(self, name)
            if isinstance(value, tuple):
                out.extend(value)
            else:
                out.append(value)
        return tuple(out)

    @property
    def params(self) -> dict[str, Any]:
        """The parameters (every init field that is not an input)."""
        return {
            f.name: getattr(self, f.name)
            for f in attrs.fields(type(self))
            if f.init and f.name not in self.input_fields
        }

    def with_inputs(self, inputs: Sequence[Node]) -> Expr:
        """The same op over new inputs (same order as :attr:`inputs`); re-validated."""
        it = iter(inputs)
        changes: dict[str, Any] = {}
        for name in self.input_fields:
            value = getattr(self, name)
            changes[name] = tuple(next(it) for _ in value) if isinstance(value, tuple) else next(it)
        return attrs.evolve(self, **changes)

    def equals(self, other: Any) -> bool:
        """Structural equality: same op, parameters and inputs (leaf images by identity)."""
        return getattr(other, "key", None) == self.key

    def __hash__(self) -> int:
        return hash(self.key)

    @property
    def dimension(self) -> int:
        return self.geometry.dimension

    @property
    def size(self) -> tuple[int, ...]:
        return self.geometry.size

    @property
    def shape(self) -> tuple[int, ...]:
        return self.geometry.shape + ((self.components,) if self.pixel_type.is_vector else ())

    @property
    def number_of_pixels(self) -> int:
        return math.prod(self.geometry.size)

    # -- evaluation and text (implemented in evaluate/ and text.py) ------------
    def evaluate(self, evaluator: Any = None) -> Any:
        """Compute this expression: ``ia.evaluate(self, evaluator)``."""
        from imalgebra.evaluate import evaluate

        return evaluate(self, evaluator)

    def __str__(self) -> str:
        """The text form (``ia.parse`` reads it back): see :mod:`imalgebra.algebra.text`."""
        from imalgebra.algebra.text import to_text

        return to_text(self)

    def to_json(self, **kwargs: Any) -> str:
        """The JSON form (``ia.from_json`` reads it back): see :mod:`imalgebra.algebra.serialize`."""
        from imalgebra.algebra.serialize import to_json

        return to_json(self, **kwargs)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.pixel_type.name} size={self.geometry.size}: {self}>"


@attrs.frozen(eq=False, repr=False)
class Reduction:
    """A value computed from an image expression by combining per-region partials.

    Subclasses (``@node``) set ``op_name``, hold their image input in ``arg``
    and implement ``partial(region, array)``, ``combine(partials)`` and
    ``finalize(combined)``. ``combine`` must be associative, so regions can be
    reduced in any grouping (threads, Dask trees).
    """

    op_name: ClassVar[str] = ""
    input_fields: ClassVar[tuple[str, ...]] = ("arg",)

    key: str = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        params = [(f.name, getattr(self, f.name)) for f in attrs.fields(type(self)) if f.init]
        object.__setattr__(self, "key", _digest(type(self).op_name or type(self).__name__, params))

    @property
    def inputs(self) -> tuple[Node, ...]:
        return tuple(getattr(self, name) for name in self.input_fields)

    def partial(self, region: Region, array: np.ndarray) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.partial")

    def combine(self, partials: Sequence[Any]) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.combine")

    def finalize(self, combined: Any) -> Any:
        return combined

    def equals(self, other: Any) -> bool:
        return getattr(other, "key", None) == self.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __dask_tokenize__(self) -> tuple[str, str]:
        return (type(self).__name__, self.key)


Kernel = Callable[..., np.ndarray]
