"""Lazy file leaves: ``ia.open(path)`` reads a file's pixels only when an evaluator asks.

``open`` reads the header (``read_info``) and returns a :class:`FileLeaf`, an
expression leaf like an in-memory :class:`~imalgebra.Image`: it knows its
geometry, pixel type, components and metadata, builds expressions with the
usual operators, and when an evaluator asks for a region it reads just that
region through the format's ``read_region``. A streamed evaluator can so work
on files larger than memory.

Formats without region reads (``Capabilities.region_read`` False: PNG, JPEG,
BMP, compressed files the format cannot seek in...) are read whole, once, on
the first request, and the pixels are kept (thread-safe) for the next ones;
the planner counts those bytes for the whole run.

The leaf's structural key comes from the resolved path, the file's size and
modification time, and the IO's name: opening the same unchanged file twice
gives equal leaves (an expression using both reads it once per region), and a
file changed on disk gives a new key.

Example
-------
>>> import numpy as np, tempfile, os, imalgebra as ia
>>> path = os.path.join(tempfile.mkdtemp(), "a.mha")
>>> ia.write(ia.from_array(np.arange(12, dtype=np.int16).reshape(3, 4)), path)
>>> leaf = ia.open(path)                      # the header only
>>> leaf.size, leaf.pixel_type.name, leaf.io.name
((4, 3), 'Int16', 'MetaImageIO')
>>> leaf.compute(ia.Region(index=(1, 2), size=(2, 1))).tolist()   # just that region's bytes
[[9, 10]]
>>> ia.to_array(ia.evaluate(leaf * 2))[1].tolist()
[8, 10, 12, 14]
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from imalgebra.algebra.geometry import Geometry, Region
from imalgebra.algebra.metadata import Metadata
from imalgebra.algebra.operand import Operand
from imalgebra.algebra.pixel import PixelType
from imalgebra.errors import ImageIOError
from imalgebra.io.base import FormatIO, ImageInfo

__all__ = ["FileLeaf", "open"]


_DECODE_SLACK = (1 << 24) + (1 << 20)  # compressed streams decode in chunks of up to 16 MiB, read in 1 MiB
_SPAN_LIMIT = 1 << 25  # raw readers read several runs at once only up to a 32 MiB span


def _span_pixels(size: tuple[int, ...], region: Region) -> int:
    """Pixels from the region's first to its last pixel in file (C) order."""
    first = last = 0
    stride = 1
    for axis, n in enumerate(size):  # x fastest
        first += region.index[axis] * stride
        last += (region.index[axis] + region.size[axis] - 1) * stride
        stride *= n
    return last - first + 1


def _contiguous(size: tuple[int, ...], region: Region) -> bool:
    """True when the region is one run of the file: full below its fastest partial axis, one deep above it."""
    partial = next((axis for axis in range(len(size)) if region.size[axis] != size[axis]), None)
    return partial is None or all(region.size[axis] == 1 for axis in range(partial + 1, len(size)))


class _WholeCache:
    """The whole pixels of a file read once, guarded by a lock (threads share a leaf)."""

    __slots__ = ("array", "lock")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.array: np.ndarray | None = None

    def __reduce__(self) -> tuple[type, tuple[()]]:
        return (_WholeCache, ())  # a pickled leaf (e.g. sent to a Dask worker) reads its file afresh


def _file_key(path: str, io: FormatIO) -> str:
    try:
        stat = os.stat(path)
    except OSError as err:
        msg = f"{path}: cannot open: {err.strerror or err}"
        raise ImageIOError(msg) from err
    text = f"file|{path}|{stat.st_size}|{stat.st_mtime_ns}|{io.name}"
    return "file-" + hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


@attrs.frozen(eq=False, repr=False, kw_only=True)
class FileLeaf(Operand):
    """A leaf of an expression whose pixels stay in a file until an evaluator reads a region.

    Build it with :func:`open`. ``compute(region)`` reads that region
    (``io.read_region``); for formats without region reads the whole file is
    read once, kept, and sliced.
    """

    path: str
    io: FormatIO
    info: ImageInfo
    key: str
    _whole: _WholeCache = attrs.field(factory=_WholeCache, init=False)

    # -- what the header says ---------------------------------------------
    @property
    def geometry(self) -> Geometry:
        return self.info.geometry

    @property
    def pixel_type(self) -> PixelType:
        return self.info.pixel_type

    @property
    def components(self) -> int:
        return self.info.components

    @property
    def metadata(self) -> Metadata:
        return self.info.metadata

    @property
    def dimension(self) -> int:
        return self.info.dimension

    @property
    def size(self) -> tuple[int, ...]:
        return self.info.size

    @property
    def origin(self) -> tuple[float, ...]:
        return self.info.origin

    @property
    def spacing(self) -> tuple[float, ...]:
        return self.info.spacing

    @property
    def direction(self) -> tuple[float, ...]:
        return self.info.direction

    @property
    def shape(self) -> tuple[int, ...]:
        """The numpy shape of the pixels, ``[z, y, x(, c)]``."""
        return self.info.shape

    @property
    def dtype(self) -> np.dtype:
        return self.info.pixel_type.dtype

    @property
    def number_of_pixels(self) -> int:
        return self.info.geometry.number_of_pixels

    @property
    def nbytes(self) -> int:
        """Bytes of the whole pixel array once in memory."""
        return self.info.nbytes

    @property
    def region_read(self) -> bool:
        """True when a region read touches only that region's bytes."""
        return bool(self.io.capabilities.region_read)

    # -- expression leaf protocol -------------------------------------------
    @property
    def inputs(self) -> tuple[()]:
        """A file is a leaf: it has no inputs."""
        return ()

    def requested_regions(self, region: Region) -> tuple[()]:
        return ()

    def prerequisites(self) -> tuple[()]:
        return ()

    def compute(self, region: Region) -> np.ndarray:
        """The pixels of ``region`` (read-only), read from the file."""
        if 0 in region.size:  # nothing to read (a consumer that needs no part of this file here)
            return np.empty(region.shape + self.info.shape[self.dimension :], dtype=self.dtype)
        self.geometry.region.require_contains(region, f"region of {self.path}")
        array = self._read(region) if self.region_read else self._read_whole()[region.slices]
        if array.flags.writeable:
            array.flags.writeable = False
        return array

    def _read_whole(self) -> np.ndarray:
        cache = self._whole
        array = cache.array
        if array is None:
            with cache.lock:  # compute once: a second thread waits for the first read
                array = cache.array
                if array is None:
                    array = self._read(self.geometry.region)
                    array.flags.writeable = False
                    cache.array = array
        return array

    def _read(self, region: Region) -> np.ndarray:
        try:
            array = self.io.read_region(self.path, self.info, region)
        except (ImageIOError, MemoryError):
            raise
        except Exception as err:
            msg = (
                f"{self.path}: {self.io.name} cannot read region index={region.index} size={region.size}: "
                f"{type(err).__name__}: {err}"
            )
            raise ImageIOError(msg) from err
        expected = region.shape + self.info.shape[self.dimension :]
        if isinstance(array, np.ndarray) and array.dtype != self.dtype and array.dtype == self.dtype.newbyteorder():
            array = array.astype(self.dtype)  # swapped bytes: native order, as every kernel expects
        if not isinstance(array, np.ndarray) or array.shape != expected or array.dtype != self.dtype:
            got = f"{type(array).__name__} {getattr(array, 'dtype', '')} {getattr(array, 'shape', '')}"
            msg = f"{self.path}: {self.io.name} returned {got} for region size {region.size}; expected {expected}"
            raise ImageIOError(msg)
        return array

    def region_nbytes(self, region: Region) -> int:
        """Bytes a region read allocates, at most: the region, plus what the reader needs on the way.

        0 when the whole file is kept (regions are views of it). Otherwise the
        region's bytes, plus, for compressed data, the byte span the stream is
        decoded into before it is cut to the region and the decoder's chunks
        (up to 17 MiB); for raw data that is not one contiguous run, the span
        buffer a reader may fill with one read (at most 32 MiB). Formats
        other than the raw-file family (MetaImage, NRRD) may map or buffer
        the region's span, so they are counted with it too.
        """
        if not self.region_read:
            return 0
        itemsize = self.info.nbytes // max(1, self.info.geometry.number_of_pixels)
        nbytes = region.number_of_pixels * itemsize
        span = _span_pixels(self.geometry.size, region) * itemsize
        layout = getattr(self.info, "layout", None)
        if layout is None:
            return nbytes + span
        if any(getattr(src, "encoding", "raw") != "raw" for src in layout.sources):
            return nbytes + span + _DECODE_SLACK
        if _contiguous(self.geometry.size, region):
            return nbytes
        return nbytes + min(span, _SPAN_LIMIT)

    def fixed_nbytes(self) -> int:
        """Bytes held for a whole evaluation: the whole file for formats without region reads."""
        return 0 if self.region_read else self.nbytes

    def evaluate(self, evaluator: Any = None) -> Any:
        """Read the file into an Image: ``ia.evaluate(self, evaluator)``."""
        from imalgebra.evaluate import evaluate

        return evaluate(self, evaluator)

    def to_json_leaf(self) -> dict[str, str]:
        """The JSON form of this leaf: ``{"kind": "file", "path": ..., "io": ...}``."""
        return {"kind": "file", "path": self.path, "io": self.io.name}

    def equals(self, other: Any) -> bool:
        """Structural equality: the same unchanged file through the same IO."""
        return getattr(other, "key", None) == self.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __str__(self) -> str:
        return f"open({self.path!r})"

    def __repr__(self) -> str:
        g = self.geometry
        comps = f", components={self.components}" if self.pixel_type.is_vector else ""
        return f"<FileLeaf {self.pixel_type.name} size={g.size}{comps} {self.io.name}: {self.path}>"


def open(path: str | os.PathLike[str], io: FormatIO | str | None = None) -> FileLeaf:  # shadows open() only as ia.open
    """A lazy leaf for the image in ``path``: only the header is read now.

    Parameters
    ----------
    path
        The image file.
    io
        An image IO name (``"MetaImageIO"``...) or a :class:`FormatIO` to force
        one; by default it is chosen from the content and extension, as by
        ``ia.read``.

    Returns
    -------
    FileLeaf
        An expression leaf; evaluators read just the regions they need
        (formats without region reads: the whole file, once, on first use).

    Examples
    --------
    >>> import numpy as np, tempfile, os, imalgebra as ia
    >>> folder = tempfile.mkdtemp()
    >>> a, b = os.path.join(folder, "a.mha"), os.path.join(folder, "b.nrrd")
    >>> ia.write(ia.from_array(np.full((8, 8, 8), 3, np.float32)), a)
    >>> ia.write(ia.from_array(np.ones((8, 8, 8), np.float32)), b)
    >>> diff = os.path.join(folder, "diff.mha")
    >>> ia.write(ia.open(a) - ia.open(b), diff, evaluator=ia.Streamed(memory="8 KiB"))
    >>> ia.read(diff)[7, 7, 7]
    2.0
    """
    from imalgebra.io import registry

    resolved = str(Path(os.fspath(path)).resolve())
    if isinstance(io, FormatIO):
        fmt = io
        key = _file_key(resolved, fmt)  # before the header: a missing file is an ImageIOError naming it
        info = fmt.read_info(resolved)
    else:
        info = registry.read_info(resolved, io=io)  # content, then extension, with the registry's errors
        fmt = registry.get(io if io is not None else info.io or registry.reader_for(resolved, io).name)
        key = _file_key(resolved, fmt)
    if not isinstance(info, ImageInfo):  # pragma: no cover - a broken format module
        msg = f"{resolved}: {fmt.name}.read_info returned {type(info).__name__}, not an ImageInfo"
        raise ImageIOError(msg)
    return FileLeaf(path=resolved, io=fmt, info=info, key=key)
