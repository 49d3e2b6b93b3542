"""The contract every file format module fulfils, and the header value it returns.

One module per format (``metaimage.py``, ``nrrd.py``, ``nifti.py``...) ends with
``IO = FormatIO(...)`` built from its module-level functions:

``sniff(head: bytes) -> bool``
    True when the first bytes (up to 1 KiB, read once by the registry) look
    like this format. Never raises.
``read_info(path) -> ImageInfo``
    Geometry, pixel type, components and metadata from the header only.
``read_region(path, info, region) -> np.ndarray``
    The pixels of ``region`` (x, y, z index box) as a ``[z, y, x(, c)]`` array
    of ``info.pixel_type``'s dtype. Formats with ``capabilities.region_read``
    read only the bytes the region needs; the others decode the whole file and
    slice (their docstring says so).
``write(path, image, *, compress=False) -> None``
    Write an in-memory Image atomically (see :mod:`.atomic`).
``open_writer(path, info, *, compress=False) -> RegionWriter`` (optional)
    A streamed writer: regions arrive one by one and go straight to disk.

Errors: every failure is an :class:`~imalgebra.ImageIOError` naming the file
and what is wrong.

Example
-------
>>> from imalgebra import Geometry, PixelType
>>> info = ImageInfo(geometry=Geometry(size=(4, 4)), pixel_type=PixelType.UInt8, components=1)
>>> info.size, info.pixel_type.description
((4, 4), '8-bit unsigned integer')
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from os import PathLike
from typing import Any, Protocol

import attrs
import numpy as np

from imalgebra.algebra.geometry import Geometry, Region
from imalgebra.algebra.image import check_components
from imalgebra.algebra.metadata import Metadata
from imalgebra.algebra.pixel import PixelType

__all__ = ["Capabilities", "FormatIO", "ImageInfo", "RegionWriter", "info_of", "write_through_writer"]

PathType = str | PathLike[str]


def _metadata(value: Mapping[str, str] | None) -> Metadata:
    return value if isinstance(value, Metadata) else Metadata(value)


@attrs.frozen(kw_only=True)
class ImageInfo:
    """What a header says: geometry, pixel type, components and metadata.

    ``io`` names the image IO that read it; ``path`` the file (or first file).
    """

    geometry: Geometry
    pixel_type: PixelType = attrs.field(converter=PixelType)
    components: int = 1
    metadata: Metadata = attrs.field(factory=Metadata, converter=_metadata)
    io: str = ""
    path: str = ""

    def __attrs_post_init__(self) -> None:
        check_components(self.pixel_type, self.components)

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
    def shape(self) -> tuple[int, ...]:
        """The numpy shape of the whole pixel array, components last."""
        return self.geometry.shape + ((self.components,) if self.pixel_type.is_vector else ())

    @property
    def nbytes(self) -> int:
        """Bytes of the whole pixel array in memory."""
        return int(np.prod(self.shape, dtype=np.int64)) * self.pixel_type.dtype.itemsize


@attrs.frozen(kw_only=True)
class Capabilities:
    """What an image IO can do.

    ``region_read``: a region read touches only the bytes it needs (for
    uncompressed data; compressed files may still decode up to the region).
    ``streamed_write``: it has ``open_writer``. ``pixel_types``: the types it
    can write (None: all). ``dimensions``: the dimensions it can write.
    """

    header_only: bool = True
    region_read: bool = False
    streamed_write: bool = False
    pixel_types: frozenset[PixelType] | None = None
    dimensions: tuple[int, ...] = (2, 3, 4, 5)


class RegionWriter(Protocol):
    """A streamed write in progress; nothing appears under the target until commit.

    ``order`` is ``"any"`` when regions may come in any order, or ``"slabs"``
    when they must be whole slabs along the last axis, in increasing order
    (compressed streams).
    """

    order: str

    def write(self, region: Region, array: np.ndarray) -> None: ...
    def commit(self) -> None: ...
    def abort(self) -> None: ...


@attrs.frozen(kw_only=True)
class FormatIO:
    """One image IO: a name, its extensions, a sniffer and its functions."""

    name: str
    extensions: tuple[str, ...]
    sniff: Callable[[bytes], bool]
    read_info: Callable[[PathType], ImageInfo]
    read_region: Callable[[PathType, ImageInfo, Region], np.ndarray]
    write: Callable[..., None] | None = None
    open_writer: Callable[..., RegionWriter] | None = None
    capabilities: Capabilities = Capabilities()
    aliases: tuple[str, ...] = ()
    description: str = ""

    def claims(self, path: PathType) -> bool:
        """True when the file name ends with one of this IO's extensions (any case)."""
        name = str(path).lower()
        return any(name.endswith(ext) for ext in self.extensions)

    def __repr__(self) -> str:
        return f"FormatIO({self.name}, extensions={self.extensions})"


def info_of(image: Any) -> ImageInfo:
    """The header an in-memory image would write: its geometry, pixel type, components, metadata."""
    return ImageInfo(
        geometry=image.geometry, pixel_type=image.pixel_type, components=image.components, metadata=image.metadata
    )


def write_through_writer(open_writer: Callable[..., RegionWriter], path: PathType, image: Any, **kwargs: Any) -> None:
    """Write a whole in-memory image as one region of a streamed writer (atomic: abort on any failure)."""
    writer = open_writer(path, info_of(image), **kwargs)
    try:
        writer.write(image.geometry.region, np.asarray(image))
    except BaseException:
        writer.abort()
        raise
    writer.commit()


def format_kwargs(**kwargs: Any) -> dict[str, Any]:
    """Drop None values (helper for optional keyword arguments)."""
    return {k: v for k, v in kwargs.items() if v is not None}
