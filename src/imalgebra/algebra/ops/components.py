"""Vector components: build a vector image from scalar ones, pick one component out.

:func:`compose` stacks scalar images of one pixel type into a vector image
(SimpleITK's ``Compose``); :func:`select_component` takes one component of a
vector image (SimpleITK's ``VectorIndexSelectionCast``), bounds-checked: an
index past the last component is an error, never a read of the neighbouring
pixel's memory.

Example
-------
>>> import numpy as np, imalgebra as ia
>>> r = ia.from_array(np.array([[1, 2]], np.uint8))
>>> g = ia.from_array(np.array([[3, 4]], np.uint8))
>>> rg = ia.compose(r, g)
>>> rg.pixel_type, rg.components
(<PixelType.VectorUInt8: 13>, 2)
>>> ia.select_component(rg, 1).compute(rg.geometry.region, np.array([[[1, 3], [2, 4]]], np.uint8)).tolist()
[[3, 4]]
"""

from __future__ import annotations

import operator
from typing import Any

import attrs
import numpy as np

from imalgebra.algebra.expr import Expr, Node, is_node, node
from imalgebra.algebra.geometry import Geometry, Region
from imalgebra.algebra.pixel import PixelType
from imalgebra.algebra.spacecheck import ToleranceLike, check_same_space, recorded_tolerance, tolerance_values
from imalgebra.errors import GeometryError, ImageIndexError, PixelTypeError

__all__ = ["Compose", "SelectComponent", "compose", "require_node", "select_component"]


def require_node(value: Any, op: str, name: str) -> Node:
    """``value`` if it is an image or an expression, else a TypeError naming ``op`` and ``name``."""
    if not is_node(value):
        msg = f"{op}: {name} must be an image or an image expression, got {type(value).__name__}: {value!r:.80}"
        raise TypeError(msg)
    return value


def _nodes(value: Any) -> tuple[Any, ...]:
    if is_node(value):
        return (value,)
    return tuple(value)


@node
class Compose(Expr):
    """A vector image whose component ``k`` is ``args[k]`` (scalar inputs of one pixel type)."""

    op_name = "compose"
    input_fields = ("args",)
    args: tuple[Node, ...] = attrs.field(converter=_nodes)
    tolerance: tuple[float, float] | None = attrs.field(factory=recorded_tolerance)

    def check(self) -> None:
        if not self.args:
            msg = "compose needs at least one image (compose(r, g, b)); got none"
            raise TypeError(msg)
        for k, arg in enumerate(self.args):
            require_node(arg, "compose", f"image {k}")
        first = self.args[0]
        for k, arg in enumerate(self.args):
            if not arg.pixel_type.is_scalar:
                msg = (
                    f"compose: image {k} is {arg.pixel_type.name}; compose takes scalar integer or float images "
                    "(use select_component to split a vector image, ia.cast to turn labels into integers)"
                )
                raise PixelTypeError(msg)
            if arg.pixel_type is not first.pixel_type:
                msg = (
                    f"compose: image {k} is {arg.pixel_type.name} but image 0 is {first.pixel_type.name}; "
                    f"every component must have one pixel type: cast first, e.g. ia.cast(image, "
                    f"ia.PixelType.{first.pixel_type.name})"
                )
                raise PixelTypeError(msg)
            if arg.geometry.size != first.geometry.size:
                msg = f"compose: image {k} has size {arg.geometry.size} but image 0 has size {first.geometry.size}"
                raise GeometryError(msg)
        names = [f"image {k}" for k in range(len(self.args))]
        check_same_space("compose", self.args, tolerance_values(self.tolerance), names=names)

    def infer(self) -> tuple[Geometry, PixelType, int]:
        first = self.args[0]
        return first.geometry, first.pixel_type.vector_type, len(self.args)

    def compute(self, region: Region, *arrays: np.ndarray) -> np.ndarray:
        return np.stack(arrays, axis=-1)


def compose(*images: Node, tolerance: ToleranceLike = None) -> Compose:
    """A vector image from scalar images of one pixel type: component ``k`` is ``images[k]``.

    Like SimpleITK's ``Compose``: the inputs must have the same scalar pixel
    type (cast first otherwise) and occupy the same physical space (checked
    now, with the tolerance in force or ``tolerance``); the result is the
    matching vector type with ``len(images)`` components. A list or tuple of
    images works too: ``compose([r, g, b])``.

    Parameters
    ----------
    *images
        Scalar images or expressions (not vector, complex or label ones).
    tolerance
        For the physical-space check: a :class:`~imalgebra.Tolerance`, a
        ``(coordinate, direction)`` pair or one number for both; None uses the
        tolerance in force (``with ia.tolerance(...)``). The node records it, so
        rebuilding the expression later checks it the same way.

    Examples
    --------
    >>> import imalgebra as ia
    >>> r = ia.Image.zeros((4, 3), ia.PixelType.Float32)
    >>> rgb = ia.compose(r, r + 1, r + 2)
    >>> rgb.pixel_type.name, rgb.components, rgb.geometry.size
    ('VectorFloat32', 3, (4, 3))
    """
    if len(images) == 1 and isinstance(images[0], (list, tuple)):
        images = tuple(images[0])
    return Compose(args=tuple(images), tolerance=recorded_tolerance(tolerance))


@node
class SelectComponent(Expr):
    """Component ``index`` of a vector image, as a scalar image of the component type."""

    op_name = "select_component"
    input_fields = ("arg",)
    arg: Node
    index: int

    def check(self) -> None:
        require_node(self.arg, "select_component", "image")
        pixel_type = self.arg.pixel_type
        if not pixel_type.is_vector:
            msg = (
                f"select_component takes a vector image; this one is {pixel_type.name} (one component already: "
                "use it as it is, or ia.cast to change its type)"
            )
            raise PixelTypeError(msg)
        n = self.arg.components
        if not 0 <= self.index < n:
            msg = (
                f"select_component: index {self.index} is out of range for an image with {n} components "
                f"(valid: 0..{n - 1}, or -{n}..-1 from the end)"
            )
            raise ImageIndexError(msg)

    def infer(self) -> tuple[Geometry, PixelType, int]:
        return self.arg.geometry, self.arg.pixel_type.component_type, 1

    def compute(self, region: Region, arg: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(arg[..., self.index])


def select_component(image: Node, index: int, pixel_type: PixelType | None = None) -> Expr:
    """Component ``index`` of a vector image, as a scalar image.

    Like SimpleITK's ``VectorIndexSelectionCast``, but bounds-checked: an index
    past the last component raises :class:`~imalgebra.ImageIndexError`
    (SimpleITK reads a neighbouring pixel's memory for some counts). Negative
    indices count from the end, as in Python. ``pixel_type`` casts the result
    (with :func:`imalgebra.cast`'s rules); it must be a scalar type, not a
    vector one.

    Examples
    --------
    >>> import imalgebra as ia
    >>> rgb = ia.Image.zeros((4, 3), ia.PixelType.VectorUInt8, components=3)
    >>> ia.select_component(rgb, -1).pixel_type
    <PixelType.UInt8: 1>
    >>> ia.select_component(rgb, 0, pixel_type=ia.PixelType.Float32).pixel_type
    <PixelType.Float32: 8>
    """
    require_node(image, "select_component", "image")
    if isinstance(index, (bool, np.bool_)):
        msg = f"select_component: index must be an integer, got {index!r}"
        raise TypeError(msg)
    try:
        index = operator.index(index)
    except TypeError:
        msg = f"select_component: index must be an integer, got {type(index).__name__}: {index!r}"
        raise TypeError(msg) from None
    n = image.components
    if image.pixel_type.is_vector and -n <= index < 0:
        index += n
    if pixel_type is not None:
        pixel_type = PixelType(pixel_type)
        if pixel_type.is_vector:
            msg = (
                f"select_component returns a scalar image; pixel_type={pixel_type.name} is a vector type "
                f"(use {pixel_type.component_type.name})"
            )
            raise PixelTypeError(msg)
    selected = SelectComponent(arg=image, index=index)
    if pixel_type is None or pixel_type is selected.pixel_type:
        return selected
    from imalgebra.algebra.ops.cast import cast

    return cast(selected, pixel_type)
