"""Zarr (v3): a chunked folder ``x.zarr`` that suits Dask, with the full geometry and metadata.

Layout: the folder is one Zarr v3 array holding the pixels in numpy order
``[z, y, x]`` (``[t, z, y, x]``...; components last, ``[..., c]``, for vector
images), with ``dimension_names`` set accordingly, and these attributes::

    {"imalgebra": {"version": 1, "size": [x, y, z], "origin": [...],
                   "spacing": [...], "direction": [row-major D x D],
                   "pixel_type": "Int16", "pixel_type_id": 2, "components": 1,
                   "metadata": {"key": "value", ...}}}

so a read gives back the same pixels, pixel type (labels included), geometry
(exact: JSON keeps every bit of a float64) and metadata. A Zarr array written
by another program (no such attributes) reads as a scalar image of its
dimension with spacing 1, or a vector image when its last dimension is named
``c``.

Chunks default to 64^3 voxels in 3D, 512^2 pixels in 2D (64 along every
axis beyond 3), whole along components. ``compress=True`` stores chunks with
Zstandard; the default stores them raw. Region reads read only the chunks the
region crosses (``capabilities.region_read``).

Writes are atomic: the array is written into a temporary folder beside the
target, then renamed into place (an existing target folder is moved aside
and deleted after the new one is in place, see :mod:`imalgebra.io.atomic`).
:func:`open_writer` streams regions in any order (``order = "any"``):
regions aligned to chunks (``writer.chunk_size``, x, y, z order) are written
without locks from any number of threads (or processes writing the same
temporary folder); a region that cuts a chunk takes a lock per chunk it
touches, so unaligned regions are safe from threads of one process, not
across processes. Zarr is a folder, so ``sniff`` is always False: the
registry chooses this IO by the ``.zarr`` extension.

Example
-------
>>> import tempfile, pathlib, numpy as np, imalgebra as ia
>>> path = pathlib.Path(tempfile.mkdtemp()) / "vol.zarr"
>>> vol = ia.from_array(np.arange(24, dtype=np.int16).reshape(2, 3, 4)).with_origin((1, 2, 3))
>>> write(path, vol.with_metadata({"k": "v"}))
>>> info = read_info(path)
>>> info.size, info.origin, info.pixel_type.name, dict(info.metadata)
((4, 3, 2), (1.0, 2.0, 3.0), 'Int16', {'k': 'v'})
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from imalgebra.algebra.geometry import Geometry, Region
from imalgebra.algebra.image import Image
from imalgebra.algebra.pixel import PixelType
from imalgebra.errors import ImageAlgebraError, ImageIOError
from imalgebra.io._pillow import require
from imalgebra.io.base import Capabilities, FormatIO, ImageInfo

__all__ = ["EXTENSIONS", "IO", "NAME", "default_chunks", "open_writer", "read_info", "read_region", "sniff", "write"]

NAME = "ZarrImageIO"
EXTENSIONS = (".zarr",)
ATTRIBUTE = "imalgebra"
VERSION = 1
PathType = str | os.PathLike[str]
_AXES = ("x", "y", "z", "t", "u")


def sniff(head: bytes) -> bool:
    """Always False: a Zarr image is a folder; the registry picks this IO by the ``.zarr`` extension.

    >>> sniff(b'{"zarr_format": 3}')
    False
    """
    del head
    return False


def _zarr() -> Any:
    return require("zarr", "zarr", "Zarr")


def default_chunks(size: Sequence[int]) -> tuple[int, ...]:
    """The default chunk size (x, y, z order) for an image of ``size``.

    >>> default_chunks((1000, 800, 30)), default_chunks((4000, 3000))
    ((64, 64, 30), (512, 512))
    """
    edge = 512 if len(size) == 2 else 64
    return tuple(max(1, min(s, edge)) for s in size)


def _dimension_names(dimension: int, vector: bool) -> tuple[str, ...]:
    return tuple(reversed(_AXES[:dimension])) + (("c",) if vector else ())


# -- reading -----------------------------------------------------------------------------


def _open(path: PathType) -> Any:
    zarr = _zarr()
    if not os.path.exists(path):
        msg = f"{path}: no such Zarr folder"
        raise ImageIOError(msg)
    if not os.path.isdir(path):
        msg = f"{path}: not a Zarr folder (a Zarr image is a folder holding zarr.json)"
        raise ImageIOError(msg)
    try:
        return zarr.open_array(store=os.fspath(path), mode="r")
    except Exception as err:  # zarr raises FileNotFoundError, NodeTypeValidationError, ValueError...
        msg = f"{path}: not a readable Zarr array ({type(err).__name__}: {err})"
        raise ImageIOError(msg) from err


def read_info(path: PathType) -> ImageInfo:
    """Geometry, pixel type and metadata from the array's attributes (no chunk is read).

    >>> import tempfile, pathlib, numpy as np, imalgebra as ia
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "rgb.zarr"
    >>> write(p, ia.from_array(np.zeros((2, 3, 3), np.uint8), is_vector=True))
    >>> read_info(p).pixel_type.name, read_info(p).components
    ('VectorUInt8', 3)
    """
    return _info(path, _open(path))


def _info(path: PathType, array: Any) -> ImageInfo:
    shape = tuple(int(s) for s in array.shape)
    dtype = np.dtype(array.dtype)
    attrs = dict(array.attrs).get(ATTRIBUTE)
    try:
        if attrs is None:
            return _foreign_info(path, array, shape, dtype)
        return _own_info(path, attrs, shape, dtype)
    except ImageIOError:
        raise
    except (ImageAlgebraError, KeyError, TypeError, ValueError) as err:
        msg = f"{path}: corrupt imalgebra attributes in the Zarr array: {err}"
        raise ImageIOError(msg) from err


def _own_info(path: PathType, attrs: dict, shape: tuple[int, ...], dtype: np.dtype) -> ImageInfo:
    if attrs.get("version", 0) > VERSION:
        msg = f"{path}: written by a newer imalgebra (attribute version {attrs['version']}); upgrade imalgebra"
        raise ImageIOError(msg)
    pixel_type = PixelType[attrs["pixel_type"]]
    components = int(attrs.get("components", 1))
    geometry = Geometry(
        size=attrs["size"], origin=attrs["origin"], spacing=attrs["spacing"], direction=attrs["direction"]
    )
    info = ImageInfo(
        geometry=geometry,
        pixel_type=pixel_type,
        components=components,
        metadata={str(k): str(v) for k, v in attrs.get("metadata", {}).items()},
        io=NAME,
        path=str(path),
    )
    if info.shape != shape or np.dtype(pixel_type.dtype) != dtype:
        msg = (
            f"{path}: the Zarr array ({shape}, {dtype}) does not match its attributes "
            f"(size {info.size}, {pixel_type.name} x {components}: {info.shape}, {pixel_type.dtype})"
        )
        raise ImageIOError(msg)
    return info


def _foreign_info(path: PathType, array: Any, shape: tuple[int, ...], dtype: np.dtype) -> ImageInfo:
    names = tuple(getattr(array.metadata, "dimension_names", None) or ())
    vector = bool(names) and names[-1] == "c"
    dimension = len(shape) - (1 if vector else 0)
    if not 2 <= dimension <= 5:
        msg = f"{path}: a Zarr array of shape {shape} is not a 2D-5D image"
        raise ImageIOError(msg)
    pixel_type = PixelType.from_dtype(dtype, is_vector=vector)
    return ImageInfo(
        geometry=Geometry(size=shape[:dimension][::-1]),
        pixel_type=pixel_type,
        components=shape[-1] if vector else 1,
        io=NAME,
        path=str(path),
    )


def read_region(path: PathType, info: ImageInfo, region: Region) -> np.ndarray:
    """The pixels of ``region``, reading only the chunks it crosses.

    >>> import tempfile, pathlib, numpy as np, imalgebra as ia
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "r.zarr"
    >>> write(p, ia.from_array(np.arange(24, dtype=np.uint8).reshape(2, 3, 4)))
    >>> read_region(p, read_info(p), ia.Region(index=(1, 1, 1), size=(2, 1, 1))).tolist()
    [[[17, 18]]]
    """
    array = _open(path)
    if tuple(array.shape) != info.shape:
        msg = f"{path}: the Zarr array changed since its header was read ({info.shape} then {tuple(array.shape)})"
        raise ImageIOError(msg)
    try:
        pixels = np.asarray(array[region.slices])
    except Exception as err:  # a missing or corrupt chunk file
        msg = f"{path}: cannot read chunks of the Zarr array ({type(err).__name__}: {err})"
        raise ImageIOError(msg) from err
    return pixels.astype(info.pixel_type.dtype, copy=False)


# -- writing ------------------------------------------------------------------------------


def _attributes(info: ImageInfo) -> dict[str, Any]:
    geometry = info.geometry
    return {
        ATTRIBUTE: {
            "version": VERSION,
            "size": list(geometry.size),
            "origin": list(geometry.origin),
            "spacing": list(geometry.spacing),
            "direction": list(geometry.direction),
            "pixel_type": info.pixel_type.name,
            "pixel_type_id": info.pixel_type.id,
            "components": info.components,
            "metadata": dict(info.metadata),
        }
    }


def _create(store: PathType, info: ImageInfo, compress: bool, chunks: Sequence[int] | None) -> Any:
    zarr = _zarr()
    size = info.size
    chunk_size = tuple(int(c) for c in chunks) if chunks is not None else default_chunks(size)
    if len(chunk_size) != len(size) or min(chunk_size) < 1:
        msg = f"chunks={tuple(chunks or ())} must be {len(size)} positive sizes (x, y, z order) for size {size}"
        raise ImageIOError(msg)
    vector = info.pixel_type.is_vector
    numpy_chunks = tuple(min(c, s) for c, s in zip(chunk_size, size, strict=True))[::-1]
    if vector:
        numpy_chunks += (info.components,)
    compressors = zarr.codecs.ZstdCodec(level=3) if compress else None
    return zarr.create_array(
        store=os.fspath(store),
        shape=info.shape,
        chunks=numpy_chunks,
        dtype=np.dtype(info.pixel_type.dtype),
        compressors=compressors,
        fill_value=0,
        attributes=_attributes(info),
        dimension_names=_dimension_names(info.dimension, vector),
        zarr_format=3,
    )


def write(path: PathType, image: Image, *, compress: bool = False, chunks: Sequence[int] | None = None) -> None:
    """Write ``image`` as a Zarr folder (atomically); ``chunks`` in x, y, z order.

    >>> import tempfile, pathlib, numpy as np, imalgebra as ia
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "l.zarr"
    >>> write(p, ia.Image.zeros((5, 4), ia.PixelType.LabelUInt8), compress=True, chunks=(2, 2))
    >>> read_info(p).pixel_type.name
    'LabelUInt8'
    """
    from imalgebra.io.atomic import atomic_path

    info = ImageInfo(
        geometry=image.geometry, pixel_type=image.pixel_type, components=image.components, metadata=image.metadata
    )
    with atomic_path(path, directory=True) as tmp:
        array = _create(tmp, info, compress, chunks)
        array[...] = np.asarray(image)


class _ZarrRegionWriter:
    """A Zarr array written region by region into a temporary folder, renamed into place on commit."""

    order = "any"

    def __init__(self, path: PathType, info: ImageInfo, compress: bool, chunks: Sequence[int] | None) -> None:
        from imalgebra.io.atomic import AtomicFiles

        self.path = path
        self.info = info
        self._files = AtomicFiles([path], directory=True)
        try:
            self._array = _create(self._files.temps[0], info, compress, chunks)
        except BaseException:
            self._files.abort()
            raise
        numpy_chunks = tuple(int(c) for c in self._array.chunks)
        self.chunk_size = numpy_chunks[: info.dimension][::-1]
        self._lock = threading.Lock()
        self._chunk_locks: dict[tuple[int, ...], threading.Lock] = {}
        self._written = 0

    def _aligned(self, region: Region) -> bool:
        for start, stop, chunk, size in zip(region.index, region.stop, self.chunk_size, self.info.size, strict=True):
            if start % chunk or (stop % chunk and stop != size):
                return False
        return True

    def _locks_for(self, region: Region) -> list[threading.Lock]:
        ranges = [
            range(start // chunk, (stop - 1) // chunk + 1)
            for start, stop, chunk in zip(region.index, region.stop, self.chunk_size, strict=True)
        ]
        keys = sorted(_product(ranges))
        with self._lock:
            return [self._chunk_locks.setdefault(key, threading.Lock()) for key in keys]

    def write(self, region: Region, array: np.ndarray) -> None:
        self.info.geometry.region.require_contains(region, "region")
        extra = (self.info.components,) if self.info.pixel_type.is_vector else ()
        data = np.asarray(array, dtype=self.info.pixel_type.dtype).reshape(region.shape + extra)
        if region.is_empty():
            return
        if self._aligned(region):
            self._array[region.slices] = data
        else:
            locks = self._locks_for(region)
            for lock in locks:
                lock.acquire()
            try:
                self._array[region.slices] = data
            finally:
                for lock in reversed(locks):
                    lock.release()
        with self._lock:
            self._written += region.number_of_pixels

    def commit(self) -> None:
        total = self.info.geometry.number_of_pixels
        if self._written < total:
            self.abort()
            msg = f"cannot write {self.path}: only {self._written} of {total} pixels were written"
            raise ImageIOError(msg)
        self._files.commit()

    def abort(self) -> None:
        self._files.abort()

    def __enter__(self) -> _ZarrRegionWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def _product(ranges: list[range]) -> list[tuple[int, ...]]:
    out: list[tuple[int, ...]] = [()]
    for r in ranges:
        out = [(*key, i) for key in out for i in r]
    return out


def open_writer(
    path: PathType, info: ImageInfo, *, compress: bool = False, chunks: Sequence[int] | None = None
) -> _ZarrRegionWriter:
    """A streamed writer: regions in any order, from any number of threads (see the module notes).

    >>> import tempfile, pathlib, numpy as np, imalgebra as ia
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.zarr"
    >>> info = ImageInfo(geometry=ia.Geometry(size=(4, 2)), pixel_type=ia.PixelType.Float32)
    >>> with open_writer(p, info, chunks=(2, 2)) as w:
    ...     w.write(ia.Region(index=(2, 0), size=(2, 2)), np.ones((2, 2), np.float32))
    ...     w.write(ia.Region(index=(0, 0), size=(2, 2)), np.zeros((2, 2), np.float32))
    >>> read_region(p, read_info(p), ia.Region(index=(0, 0), size=(4, 1))).tolist()
    [[0.0, 0.0, 1.0, 1.0]]
    """
    return _ZarrRegionWriter(path, info, compress, chunks)


IO = FormatIO(
    name=NAME,
    extensions=EXTENSIONS,
    sniff=sniff,
    read_info=read_info,
    read_region=read_region,
    write=write,
    open_writer=open_writer,
    capabilities=Capabilities(header_only=True, region_read=True, streamed_write=True, dimensions=(2, 3, 4, 5)),
    description="Zarr v3 folder with imalgebra geometry attributes (zarr)",
)
