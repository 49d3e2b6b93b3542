"""Index-space operations: extract a box, slice with steps, paste one image into another.

These nodes move pixels without changing them, so their whole job is the
region mapping: ``requested_regions`` says which input box each output box
needs (shifted for :func:`extract`, strided and mirrored for slicing, split in
two for :func:`paste`), and the kernels only cut and copy.

* :func:`extract` / :func:`crop`: a box of the input; geometry as
  :meth:`Geometry.crop` (origin at the physical point of the box's first index).
* :func:`slice_expression`: ``expr[x0:x1:step, ..., k]`` on an expression,
  with the same geometry rule as slicing an image (:mod:`..slicing`).
* :func:`paste`: the destination with a box of the source copied in, index
  based as SimpleITK's ``Paste`` (the source's origin and spacing are ignored).

Example
-------
>>> import numpy as np, imalgebra as ia
>>> img = ia.from_array(np.arange(12, dtype=np.int16).reshape(3, 4))
>>> box = ia.extract(img, index=(1, 1), size=(2, 2))
>>> box.geometry.origin, box.requested_regions(box.geometry.region)[0]
((1.0, 1.0), Region(index=(1, 1), size=(2, 2)))
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np

from imalgebra.algebra.expr import Expr, Node, node
from imalgebra.algebra.geometry import Geometry, Region
from imalgebra.algebra.ops.components import require_node
from imalgebra.algebra.pixel import PixelType
from imalgebra.algebra.slicing import plan_key
from imalgebra.errors import GeometryError, ImageIndexError, PixelTypeError

__all__ = ["Extract", "Paste", "Slice", "crop", "extract", "paste", "slice_expression"]


def _ints(value: Any, op: str, name: str, dimension: int) -> tuple[int, ...]:
    try:
        out = tuple(operator.index(v) for v in value)
    except TypeError:
        msg = f"{op}: {name} must be {dimension} integers (x, y, z order), got {value!r}"
        raise GeometryError(msg) from None
    if len(out) != dimension or any(isinstance(v, (bool, np.bool_)) for v in value):
        msg = f"{op}: {name} must be {dimension} integers (x, y, z order) for a {dimension}D image, got {value!r}"
        raise GeometryError(msg)
    return out


def _box(
    op: str, name: str, index: tuple[int, ...], size: tuple[int, ...], image: Region, what: str, hint: str = ""
) -> Region:
    if any(s < 1 for s in size):
        msg = (
            f"{op}: {name} size {size} has an axis smaller than 1; a box needs at least one pixel per axis "
            "(to drop an axis, index it with an integer: expr[:, :, k])"
        )
        raise GeometryError(msg)
    box = Region(index=index, size=size)
    if not image.contains(box):
        last = tuple(i + s - 1 for i, s in zip(index, size, strict=True))
        msg = f"{op}: {name} index={index} size={size} (last index {last}) is not inside the {what} (size {image.size})"
        msg += f"; {hint}" if hint else ""
        raise ImageIndexError(msg)
    return box


# -- extract ----------------------------------------------------------------
@node
class Extract(Expr):
    """The box ``index``/``size`` of the input, placed where it was (origin at its first pixel)."""

    op_name = "extract"
    input_fields = ("arg",)
    arg: Node
    index: tuple[int, ...] = attrs.field(converter=tuple)
    size: tuple[int, ...] = attrs.field(converter=tuple)

    def check(self) -> None:
        require_node(self.arg, "extract", "image")
        d = self.arg.geometry.dimension
        _ints(self.index, "extract", "index", d)
        _ints(self.size, "extract", "size", d)
        _box("extract", "region", self.index, self.size, self.arg.geometry.region, "image")

    def infer(self) -> tuple[Geometry, PixelType, int]:
        region = Region(index=self.index, size=self.size)
        return self.arg.geometry.crop(region), self.arg.pixel_type, self.arg.components

    def requested_regions(self, region: Region) -> tuple[Region, ...]:
        return (region.shift(self.index),)

    def compute(self, region: Region, arg: np.ndarray) -> np.ndarray:
        return arg


def extract(image: Node, index: Sequence[int], size: Sequence[int] | None = None) -> Extract:
    """The sub-region ``index`` (first pixel, x, y, z) of ``size`` pixels, as an expression.

    The result keeps every pixel's physical position: its origin is the
    physical point of ``index`` (:meth:`Geometry.crop`). ``size`` defaults to
    the rest of the image. The box must lie inside the image, and every axis
    keeps at least one pixel (SimpleITK's ``Extract`` drops an axis of size 0;
    here index the expression with an integer instead: ``expr[:, :, k]``).

    Examples
    --------
    >>> import imalgebra as ia
    >>> img = ia.Image.zeros((10, 8), ia.PixelType.UInt8, spacing=(0.5, 2.0))
    >>> box = ia.extract(img, (2, 4), (3, 2))
    >>> box.geometry.size, box.geometry.origin
    ((3, 2), (1.0, 8.0))
    """
    require_node(image, "extract", "image")
    d = image.geometry.dimension
    index = _ints(index, "extract", "index", d)
    size = (
        tuple(n - i for n, i in zip(image.geometry.size, index, strict=True))
        if size is None
        else _ints(size, "extract", "size", d)
    )
    return Extract(arg=image, index=index, size=size)


def crop(image: Node, lower: Sequence[int], upper: Sequence[int] | None = None) -> Extract:
    """``image`` without ``lower`` pixels at the start and ``upper`` at the end of each axis.

    SimpleITK's ``Crop``; ``upper`` defaults to ``lower``.

    >>> import imalgebra as ia
    >>> ia.crop(ia.Image.zeros((10, 8), ia.PixelType.UInt8), (1, 2), (3, 0)).geometry.size
    (6, 6)
    """
    require_node(image, "crop", "image")
    d = image.geometry.dimension
    lower = _ints(lower, "crop", "lower", d)
    upper = lower if upper is None else _ints(upper, "crop", "upper", d)
    if any(v < 0 for v in lower + upper):
        msg = f"crop: lower={lower} and upper={upper} must be >= 0 (use extract for a box anywhere)"
        raise GeometryError(msg)
    size = tuple(n - lo - up for n, lo, up in zip(image.geometry.size, lower, upper, strict=True))
    if any(s < 1 for s in size):
        msg = f"crop: lower={lower} + upper={upper} leave no pixel of an image of size {image.geometry.size}"
        raise GeometryError(msg)
    return Extract(arg=image, index=lower, size=size)


# -- slicing ----------------------------------------------------------------
def _axes_param(value: Any) -> tuple[Any, ...]:
    return tuple(v if isinstance(v, int) else tuple(v) for v in value)


@node
class Slice(Expr):
    """``arg[key]``: per axis (x, y, z) either a kept ``(start, step, count)`` or a dropped index."""

    op_name = "slice"
    input_fields = ("arg",)
    arg: Node
    axes: tuple[Any, ...] = attrs.field(converter=_axes_param)

    def check(self) -> None:
        require_node(self.arg, "slice", "image")
        size = self.arg.geometry.size
        if len(self.axes) != len(size):
            msg = f"slice: {len(self.axes)} axes for a {len(size)}D image"
            raise ImageIndexError(msg)
        for axis, (a, n) in enumerate(zip(self.axes, size, strict=True)):
            if isinstance(a, int):
                ok = 0 <= a < n
            else:
                start, step, count = a
                ok = step != 0 and count >= 1 and 0 <= start < n and 0 <= start + step * (count - 1) < n
            if not ok:
                msg = f"slice: axis {axis} selection {a!r} does not fit size {n}"
                raise ImageIndexError(msg)

    def _index_key(self) -> tuple[Any, ...]:
        """The Python index (x, y, z order) this node applies."""
        out: list[Any] = []
        for a in self.axes:
            if isinstance(a, int):
                out.append(a)
                continue
            start, step, count = a
            stop = start + step * count
            out.append(slice(start, None if stop < 0 else stop, step))
        return tuple(out)

    def infer(self) -> tuple[Geometry, PixelType, int]:
        return plan_key(self.arg.geometry, self._index_key()).geometry, self.arg.pixel_type, self.arg.components

    def requested_regions(self, region: Region) -> tuple[Region, ...]:
        index: list[int] = []
        size: list[int] = []
        kept = iter(zip(region.index, region.size, strict=True))
        for a in self.axes:
            if isinstance(a, int):
                index.append(a)
                size.append(1)
                continue
            start, step, _ = a
            i0, n = next(kept)
            if n == 0:
                index.append(start)
                size.append(0)
                continue
            first, last = start + step * i0, start + step * (i0 + n - 1)
            index.append(min(first, last))
            size.append(abs(last - first) + 1)
        return (Region(index=index, size=size),)

    def compute(self, region: Region, arg: np.ndarray) -> np.ndarray:
        cut: list[Any] = []
        for a in reversed(self.axes):  # numpy order: z, y, x
            cut.append(0 if isinstance(a, int) else slice(None, None, a[1]))
        return arg[tuple(cut)]


def slice_expression(expr: Node, key: Any) -> Slice:
    """``expr[key]`` as an expression: the slicing rule of images (:mod:`imalgebra.algebra.slicing`).

    Slices (with any step, negative ones flip the axis) keep every selected
    pixel at its physical position; an integer drops its axis. A key that
    names one pixel is not a slice: evaluate the expression at that pixel.

    Examples
    --------
    >>> import imalgebra as ia
    >>> img = ia.Image.zeros((10, 12), ia.PixelType.Float32, spacing=(0.5, 2.0))
    >>> s = slice_expression(img, (slice(None, None, -2), slice(2, 5)))
    >>> s.geometry.size, s.geometry.origin, s.geometry.direction
    ((5, 3), (4.5, 4.0), (-1.0, 0.0, 0.0, 1.0))
    >>> s.requested_regions(s.geometry.region)
    (Region(index=(1, 2), size=(9, 3)),)
    """
    require_node(expr, "slice", "image")
    plan = plan_key(expr.geometry, key)
    axes = tuple(a if isinstance(a, int) else (a.start, a.step, len(a)) for a in plan.axes)
    return Slice(arg=expr, axes=axes)


# -- paste ------------------------------------------------------------------
def _paste_type(destination: Node, source: Node) -> None:
    dt, st = destination.pixel_type, source.pixel_type
    if dt.is_vector != st.is_vector or (dt.is_vector and destination.components != source.components):
        what = (
            f"{destination.components}-component {dt.name}" if dt.is_vector else dt.name,
            f"{source.components}-component {st.name}" if st.is_vector else st.name,
        )
        msg = f"paste: the destination is {what[0]} but the source is {what[1]}; their components must match"
        raise PixelTypeError(msg)
    if st is dt:
        return
    if (st.is_complex and not dt.is_complex) or not np.can_cast(st.dtype, dt.dtype, casting="safe"):
        msg = (
            f"paste: source pixels ({st.name}) do not all fit the destination's {dt.name} exactly; "
            f"cast the source first (ia.cast(source, ia.PixelType.{dt.name})) to wrap or clamp as you choose, "
            "or cast the destination to a wider type"
        )
        raise PixelTypeError(msg)


@node
class Paste(Expr):
    """``destination`` with the box ``source_index``/``size`` of ``source`` copied to ``destination_index``."""

    op_name = "paste"
    input_fields = ("destination", "source")
    destination: Node
    source: Node
    size: tuple[int, ...] = attrs.field(converter=tuple)
    source_index: tuple[int, ...] = attrs.field(converter=tuple)
    destination_index: tuple[int, ...] = attrs.field(converter=tuple)

    def check(self) -> None:
        require_node(self.destination, "paste", "destination")
        require_node(self.source, "paste", "source")
        d = self.destination.geometry.dimension
        if self.source.geometry.dimension != d:
            msg = (
                f"paste: the source is {self.source.geometry.dimension}D but the destination is {d}D; "
                "both must have the same dimension"
            )
            raise GeometryError(msg)
        _paste_type(self.destination, self.source)
        for name in ("size", "source_index", "destination_index"):
            _ints(getattr(self, name), "paste", name, d)
        _box("paste", "source region", self.source_index, self.size, self.source.geometry.region, "source")
        _box(
            "paste",
            "destination region",
            self.destination_index,
            self.size,
            self.destination.geometry.region,
            "destination",
            "paste does not clip: paste a smaller size, or extract the part that fits",
        )

    def infer(self) -> tuple[Geometry, PixelType, int]:
        return self.destination.geometry, self.destination.pixel_type, self.destination.components

    def _overlap(self, region: Region) -> Region:
        return region.intersect(Region(index=self.destination_index, size=self.size))

    def requested_regions(self, region: Region) -> tuple[Region, ...]:
        overlap = self._overlap(region)
        if overlap.is_empty():
            return region, Region(index=self.source_index, size=(0,) * len(self.size))
        offset = tuple(s - d for s, d in zip(self.source_index, self.destination_index, strict=True))
        return region, overlap.shift(offset)

    def compute(self, region: Region, destination: np.ndarray, source: np.ndarray) -> np.ndarray:
        overlap = self._overlap(region)
        if overlap.is_empty():
            return destination
        out = np.array(destination, dtype=self.pixel_type.dtype, copy=True)
        out[overlap.relative_to(region).slices] = source
        return out


def paste(
    destination: Node,
    source: Node,
    size: Sequence[int] | None = None,
    source_index: Sequence[int] | None = None,
    destination_index: Sequence[int] | None = None,
) -> Paste:
    """``destination`` with a box of ``source`` pasted in, by pixel index.

    Index based, as SimpleITK's ``Paste``: the box ``source_index``/``size``
    of the source goes to ``destination_index`` of the destination, whatever
    the two images' origins and spacings (no physical-space check). The
    result has the destination's geometry and pixel type.

    Differences from SimpleITK, deliberate:

    * ``size`` defaults to the rest of the source from ``source_index`` (the
      whole source by default), not to a single pixel;
    * a box that does not fit inside the destination raises
      :class:`~imalgebra.ImageIndexError` instead of being clipped silently
      (or ignored when it lies entirely outside): paste a smaller ``size``,
      or extract the part you mean;
    * the source may have another pixel type when every value it can hold
      fits the destination's type exactly (UInt8 into Int16, Int16 into
      Float32...); anything lossy asks for an explicit :func:`imalgebra.cast`.

    Examples
    --------
    >>> import numpy as np, imalgebra as ia
    >>> dest = ia.Image.zeros((4, 3), ia.PixelType.Int16)
    >>> src = ia.from_array(np.full((2, 2), 7, np.uint8))
    >>> p = ia.paste(dest, src, destination_index=(1, 1))
    >>> p.pixel_type, p.requested_regions(p.geometry.region)[1]
    (<PixelType.Int16: 2>, Region(index=(0, 0), size=(2, 2)))
    """
    require_node(destination, "paste", "destination")
    require_node(source, "paste", "source")
    d = destination.geometry.dimension
    zero = (0,) * d
    source_index = zero if source_index is None else _ints(source_index, "paste", "source_index", d)
    destination_index = zero if destination_index is None else _ints(destination_index, "paste", "destination_index", d)
    if size is None:
        if source.geometry.dimension != d:
            size = zero
        else:
            size = tuple(n - i for n, i in zip(source.geometry.size, source_index, strict=True))
    else:
        size = _ints(size, "paste", "size", d)
    return Paste(
        destination=destination,
        source=source,
        size=size,
        source_index=source_index,
        destination_index=destination_index,
    )
