"""Image: frozen pixels placed in physical space, with a pixel type and metadata.

An :class:`Image` never changes. "Setting" anything (``with_origin``,
``with_pixel``, ``with_pixels``...) returns a new image; the pixels of a dense
image are a read-only numpy array in ``[z, y, x(, c)]`` order, so views and
slices are safe to share between threads without copying. Label images keep
their pixels run-length encoded along x (see :mod:`.storage`).

Users index in x, y, z order: ``img[x, y, z]`` is one pixel (a Python scalar,
a tuple for vectors, a complex for complex images); any slice gives an Image
whose pixels keep their physical position (see :mod:`.slicing`).

Example
-------
>>> import imalgebra as ia
>>> img = ia.Image.zeros((4, 3), ia.PixelType.Int16, spacing=(0.5, 2.0))
>>> img = img.with_pixel((1, 2), 7)
>>> img[1, 2], img[1:, ::2].spacing
(7, (0.5, 4.0))
"""

from __future__ import annotations

import math
import operator
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from imalgebra.algebra.geometry import Geometry, Region
from imalgebra.algebra.metadata import Metadata
from imalgebra.algebra.operand import Operand
from imalgebra.algebra.pixel import PixelType
from imalgebra.algebra.slicing import normalize_pixel_index, plan_key
from imalgebra.algebra.storage import DenseStorage, PixelStorage, RunLengthStorage, readonly
from imalgebra.errors import GeometryError, ImageIndexError, PixelTypeError

__all__ = ["Image", "check_components"]


def _metadata(value: Mapping[str, str] | None) -> Metadata:
    return value if isinstance(value, Metadata) else Metadata(value)


def check_components(pixel_type: PixelType, components: int) -> int:
    """Validate ``components`` for ``pixel_type`` and return it as an int."""
    components = operator.index(components)
    if pixel_type is PixelType.Unknown:
        msg = "PixelType.Unknown cannot hold pixels; choose a concrete pixel type"
        raise PixelTypeError(msg)
    if pixel_type.is_vector:
        if components < 1:
            msg = f"a {pixel_type.name} image needs components >= 1, got {components}"
            raise PixelTypeError(msg)
    elif components != 1:
        msg = (
            f"{pixel_type.name} has one component per pixel, got components={components}; "
            f"use {pixel_type.component_type.name if pixel_type.is_label else pixel_type.name} "
            "as a Vector type for several components"
        )
        raise PixelTypeError(msg)
    return components


@attrs.frozen(eq=False, repr=False, kw_only=True)
class Image(Operand):
    """Pixels + geometry + pixel type + metadata; build with :meth:`zeros`,
    :meth:`from_pixels` or :func:`imalgebra.from_array`.

    >>> Image.zeros((2, 3, 4), PixelType.UInt8).shape
    (4, 3, 2)
    """

    geometry: Geometry
    pixel_type: PixelType
    components: int
    storage: PixelStorage
    metadata: Metadata = attrs.field(factory=Metadata, converter=_metadata)
    key: str = attrs.field(init=False, factory=lambda: "image-" + uuid.uuid4().hex)

    def __attrs_post_init__(self) -> None:
        check_components(self.pixel_type, self.components)
        expected = self.geometry.shape + ((self.components,) if self.pixel_type.is_vector else ())
        if tuple(self.storage.shape) != expected:
            msg = (
                f"pixels of shape {self.storage.shape} do not match size {self.geometry.size} (numpy shape {expected})"
            )
            raise GeometryError(msg)
        if self.storage.dtype != self.pixel_type.dtype:
            msg = f"pixels of dtype {self.storage.dtype} do not match {self.pixel_type.name} ({self.pixel_type.dtype})"
            raise PixelTypeError(msg)

    __iter__ = None  # an image is not a sequence of pixels; use to_array

    # -- construction -----------------------------------------------------
    @classmethod
    def zeros(
        cls,
        size: Sequence[int],
        pixel_type: PixelType,
        components: int = 1,
        *,
        origin: Sequence[float] | None = None,
        spacing: Sequence[float] | None = None,
        direction: Sequence[float] | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> Image:
        """An image of zeros. Defaults: origin 0, spacing 1, identity direction.

        >>> Image.zeros((128, 64), PixelType.VectorUInt8, components=3).components
        3
        """
        geometry = Geometry(
            size=size,
            **{k: v for k, v in (("origin", origin), ("spacing", spacing), ("direction", direction)) if v is not None},
        )
        pixel_type = PixelType(pixel_type)
        components = check_components(pixel_type, components)
        shape = geometry.shape + ((components,) if pixel_type.is_vector else ())
        if pixel_type.is_label:
            rows = math.prod(shape[:-1])
            storage: PixelStorage = RunLengthStorage(
                shape,
                np.zeros(rows + 1, np.int64),
                np.zeros(0, np.int32),
                np.zeros(0, np.int32),
                np.zeros(0, pixel_type.dtype),
            )
        else:
            storage = DenseStorage(np.zeros(shape, dtype=pixel_type.dtype))
        return cls(geometry=geometry, pixel_type=pixel_type, components=components, storage=storage, metadata=metadata)

    @classmethod
    def from_pixels(
        cls,
        pixels: np.ndarray,
        geometry: Geometry,
        pixel_type: PixelType | None = None,
        *,
        metadata: Mapping[str, str] | None = None,
        copy: bool = True,
    ) -> Image:
        """An image of ``pixels`` (``[z, y, x(, c)]``) placed by ``geometry``.

        The pixel type defaults to the one matching the dtype (a vector type when
        the array has one more axis than the geometry). With ``copy=False`` the
        array is used as it is (made read-only through a view: do not write to it
        afterwards). A label ``pixel_type`` encodes the pixels as runs.

        >>> import numpy as np
        >>> g = Geometry(size=(3, 2))
        >>> Image.from_pixels(np.ones((2, 3, 4), np.float32), g).pixel_type
        <PixelType.VectorFloat32: 20>
        """
        arr = np.asarray(pixels)
        is_vector = arr.ndim == geometry.dimension + 1
        if arr.ndim not in (geometry.dimension, geometry.dimension + 1):
            msg = f"pixels of shape {arr.shape} do not fit a {geometry.dimension}D geometry of size {geometry.size}"
            raise GeometryError(msg)
        if pixel_type is None:
            pixel_type = PixelType.from_dtype(arr.dtype, is_vector=is_vector)
        pixel_type = PixelType(pixel_type)
        if pixel_type.is_vector and not is_vector:
            arr = arr[..., np.newaxis]
        components = arr.shape[-1] if pixel_type.is_vector else 1
        if pixel_type.is_label:
            _require_exact(arr, pixel_type)
            storage: PixelStorage = RunLengthStorage.encode(arr.astype(pixel_type.dtype, copy=False))
        else:
            target = pixel_type.dtype
            if arr.dtype != target:
                arr = arr.astype(target)  # a fresh array (also byte-swaps to native order)
            elif copy:
                arr = np.array(arr, order="C", copy=True)
            storage = DenseStorage(arr)
        return cls(geometry=geometry, pixel_type=pixel_type, components=components, storage=storage, metadata=metadata)

    # -- attributes -------------------------------------------------------
    @property
    def size(self) -> tuple[int, ...]:
        return self.geometry.size

    @property
    def origin(self) -> tuple[float, ...]:
        return self.geometry.origin

    @property
    def spacing(self) -> tuple[float, ...]:
        return self.geometry.spacing

    @property
    def direction(self) -> tuple[float, ...]:
        return self.geometry.direction

    @property
    def dimension(self) -> int:
        return self.geometry.dimension

    @property
    def width(self) -> int:
        return self.size[0]

    @property
    def height(self) -> int:
        return self.size[1]

    @property
    def depth(self) -> int:
        """``size[2]``, or 0 for a 2D image (as SimpleITK's GetDepth)."""
        return self.size[2] if self.dimension > 2 else 0

    @property
    def shape(self) -> tuple[int, ...]:
        """The numpy shape of the pixel array, ``(z, y, x)`` or ``(z, y, x, c)``."""
        return tuple(self.storage.shape)

    @property
    def dtype(self) -> np.dtype:
        """The numpy dtype of one component."""
        return self.pixel_type.dtype

    @property
    def number_of_pixels(self) -> int:
        return self.geometry.number_of_pixels

    @property
    def nbytes(self) -> int:
        """Bytes held by the pixels (runs for label images)."""
        return self.storage.nbytes

    # -- geometry ---------------------------------------------------------
    def index_to_physical(self, index: Any) -> Any:
        """See :meth:`Geometry.index_to_physical`."""
        return self.geometry.index_to_physical(index)

    def physical_to_index(self, point: Any) -> Any:
        """See :meth:`Geometry.physical_to_index` (continuous, not rounded)."""
        return self.geometry.physical_to_index(point)

    def with_origin(self, origin: Sequence[float]) -> Image:
        return attrs.evolve(self, geometry=self.geometry.with_origin(origin))

    def with_spacing(self, spacing: Sequence[float]) -> Image:
        return attrs.evolve(self, geometry=self.geometry.with_spacing(spacing))

    def with_direction(self, direction: Sequence[float]) -> Image:
        return attrs.evolve(self, geometry=self.geometry.with_direction(direction))

    def with_geometry(self, geometry: Geometry) -> Image:
        """This image's pixels placed by ``geometry`` (SimpleITK's CopyInformation).

        >>> a = Image.zeros((4, 4), PixelType.UInt8, spacing=(2, 2))
        >>> Image.zeros((4, 4), PixelType.Float32).with_geometry(a.geometry).spacing
        (2.0, 2.0)
        """
        if not isinstance(geometry, Geometry):
            msg = f"with_geometry takes a Geometry (e.g. other.geometry), got {type(geometry).__name__}"
            raise GeometryError(msg)
        if geometry.size != self.size:
            msg = (
                f"with_geometry: the geometry's size {geometry.size} does not match this "
                f"image's size {self.size}; crop or resample first"
            )
            raise GeometryError(msg)
        return attrs.evolve(self, geometry=geometry)

    def with_metadata(self, metadata: Mapping[str, str], *, replace: bool = False) -> Image:
        """New metadata, merged over the current keys (or replacing them all).

        >>> Image.zeros((2, 2), PixelType.UInt8).with_metadata({"0008|0060": "CT"}).metadata["0008|0060"]
        'CT'
        """
        new = Metadata(metadata) if replace else self.metadata.updated(metadata)
        return attrs.evolve(self, metadata=new)

    # -- pixels -----------------------------------------------------------
    def _python_value(self, value: Any) -> Any:
        if self.pixel_type.is_vector:
            return tuple(np.asarray(value).tolist())
        return np.asarray(value).item()

    def _np_index(self, index: Any) -> tuple[int, ...]:
        found = normalize_pixel_index(tuple(index), self.size)
        if found is None:
            msg = f"pixel index {tuple(index)} must be {self.dimension} integers for a {self.dimension}D image"
            raise ImageIndexError(msg)
        return found[::-1]

    def __getitem__(self, key: Any) -> Any:
        found = normalize_pixel_index(key, self.size)
        if found is not None:
            return self._python_value(self.storage.pixel(found[::-1]))
        plan = plan_key(self.geometry, key)
        if isinstance(self.storage, DenseStorage):
            storage: PixelStorage = DenseStorage(self.storage.array[plan.np_index])
        else:
            box = Region(index=plan.bounding_index, size=plan.bounding_size)
            block = self.storage.read(box)
            local = plan_key(
                Geometry(size=box.size), tuple(_relative(a, i) for a, i in zip(plan.axes, box.index, strict=True))
            )
            storage = RunLengthStorage.encode(block[local.np_index])
        return attrs.evolve(self, geometry=plan.geometry, storage=storage)

    def with_pixel(self, index: Sequence[int], value: Any) -> Image:
        """A new image with the pixel at ``index`` (x, y, z) set to ``value``.

        Values must fit the pixel type exactly (no silent wrap or truncation).
        To change many pixels, use :meth:`with_pixels` (one copy for all).
        """
        return self.with_pixels([list(index)], [value])

    def with_pixels(self, indices: Any, values: Any) -> Image:
        """A new image with many pixels changed at once: one copy, not one per pixel.

        ``indices`` is an ``(N, D)`` array of x, y, z indices; ``values`` holds N
        values (``(N, components)`` for vector images) or one value for all.

        >>> img = Image.zeros((4, 4), PixelType.UInt8)
        >>> img = img.with_pixels([[0, 0], [1, 2], [3, 3]], [5, 6, 7])
        >>> img[0, 0], img[1, 2], img[3, 3]
        (5, 6, 7)
        """
        idx = np.asarray(indices)
        if idx.ndim != 2 or idx.shape[1] != self.dimension or idx.dtype.kind not in "iu":
            msg = (
                f"indices must be an (N, {self.dimension}) array of integers (x, y, z order), "
                f"got shape {idx.shape} dtype {idx.dtype}"
            )
            raise ImageIndexError(msg)
        size = np.asarray(self.size)
        wrapped = np.where(idx < 0, idx + size, idx)
        bad = np.any((wrapped < 0) | (wrapped >= size), axis=1)
        if bad.any():
            first = tuple(int(v) for v in idx[np.argmax(bad)])
            msg = f"pixel index {first} is out of range for image size {self.size}"
            raise ImageIndexError(msg)
        vals = self._checked_values(values, idx.shape[0])
        np_indices = tuple(wrapped[:, k] for k in reversed(range(self.dimension)))
        return attrs.evolve(self, storage=self.storage.with_values(np_indices, vals))

    def _checked_values(self, values: Any, count: int) -> np.ndarray:
        try:
            raw = np.asarray(values)
        except (TypeError, ValueError):
            msg = f"pixel values {values!r} are not numbers"
            raise PixelTypeError(msg) from None
        if self.pixel_type.is_complex:
            if raw.dtype.kind not in "biufc":
                msg = f"{self.pixel_type.name} pixels take complex numbers, got {values!r}"
                raise PixelTypeError(msg)
            return raw.astype(self.dtype)
        if raw.dtype.kind not in "biuf":
            msg = f"{self.pixel_type.name} pixels take real numbers, got {values!r}"
            raise PixelTypeError(msg)
        if self.pixel_type.is_vector:
            if raw.shape[-1:] != (self.components,):
                msg = f"vector pixels need {self.components} components each, got values of shape {raw.shape}"
                raise PixelTypeError(msg)
            raw = np.broadcast_to(raw, (count, self.components))
        _require_exact(raw, self.pixel_type)
        return raw.astype(self.dtype)

    # -- numpy ------------------------------------------------------------
    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        arr = self.storage.read_all()
        if dtype is not None and np.dtype(dtype) != arr.dtype:
            if copy is False:
                msg = f"cannot view {self.pixel_type.name} pixels as {dtype} without a copy"
                raise ValueError(msg)
            return arr.astype(dtype)
        if copy:
            return np.array(arr, copy=True)
        return arr if not arr.flags.writeable else readonly(arr)

    def region_array(self, region: Region) -> np.ndarray:
        """The pixels of ``region`` (read-only for dense images; decoded for labels)."""
        self.geometry.region.require_contains(region, "region")
        return self.storage.read(region)

    # -- expression leaf protocol ------------------------------------------
    @property
    def inputs(self) -> tuple[()]:
        """An image is a leaf of every expression: it has no inputs."""
        return ()

    def requested_regions(self, region: Region) -> tuple[()]:
        return ()

    def compute(self, region: Region) -> np.ndarray:
        """The pixels of ``region``: how evaluators read a leaf."""
        return self.storage.read(region)

    def prerequisites(self) -> tuple[()]:
        return ()

    def evaluate(self, evaluator: Any = None) -> Image:
        """An image is already evaluated: returns itself."""
        return self

    def equals(self, other: Any) -> bool:
        """Value equality: same geometry, pixel type, components, pixels and metadata.

        (``==`` builds a comparison expression; this is the boolean test.)

        >>> a = Image.zeros((2, 2), PixelType.UInt8)
        >>> a.equals(Image.zeros((2, 2), PixelType.UInt8)), a.equals(a.with_pixel((0, 0), 1))
        (True, False)
        """
        if other is self:
            return True
        if not isinstance(other, Image):
            return False
        return (
            self.geometry == other.geometry
            and self.pixel_type is other.pixel_type
            and self.components == other.components
            and self.metadata == other.metadata
            and bool(np.array_equal(np.asarray(self), np.asarray(other), equal_nan=not self.pixel_type.is_integer))
        )

    def __hash__(self) -> int:
        return hash(self.key)

    # -- printing ---------------------------------------------------------
    def __repr__(self) -> str:
        g = self.geometry
        comps = f", components={self.components}" if self.pixel_type.is_vector else ""
        extra = []
        if any(v != 0 for v in g.origin):
            extra.append(f"origin={tuple(round(v, 6) for v in g.origin)}")
        if any(v != 1 for v in g.spacing):
            extra.append(f"spacing={tuple(round(v, 6) for v in g.spacing)}")
        if not np.array_equal(g.direction_matrix, np.eye(g.dimension)):
            extra.append(f"direction={tuple(round(v, 6) for v in g.direction)}")
        if self.metadata:
            extra.append(f"metadata={len(self.metadata)} keys")
        tail = "".join(", " + e for e in extra)
        return f"Image({self.pixel_type.name}, size={g.size}{comps}{tail})"


def _relative(axis: int | range, start: int) -> int | slice:
    if isinstance(axis, int):
        return axis - start
    stop = axis.stop - start
    return slice(axis.start - start, stop if stop >= 0 else None, axis.step)


def _require_exact(values: np.ndarray, pixel_type: PixelType) -> None:
    """Raise unless every value is representable in ``pixel_type`` exactly."""
    target = pixel_type.dtype
    if values.size == 0 or pixel_type.is_float or pixel_type.is_complex:
        if pixel_type.is_float and values.dtype.kind == "c":
            msg = f"{pixel_type.name} pixels cannot hold complex values"
            raise PixelTypeError(msg)
        return
    if values.dtype.kind == "f" and (not np.all(np.isfinite(values)) or not np.all(values == np.round(values))):
        msg = f"{pixel_type.name} pixels take integers, got non-integer values (e.g. {values.ravel()[0]!r})"
        raise PixelTypeError(msg)
    if values.dtype.kind in "iuf" and values.dtype != target:
        lo, hi = np.iinfo(target).min, np.iinfo(target).max
        vmin, vmax = values.min(), values.max()
        if vmin < lo or vmax > hi:
            msg = (
                f"values {vmin}..{vmax} do not fit {pixel_type.name} ({lo}..{hi}); "
                "cast first (ia.cast) to wrap or clamp"
            )
            raise PixelTypeError(msg)
