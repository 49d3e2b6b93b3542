"""Reading and writing blocks of raw pixel data: the engine under MetaImage and NRRD.

A :class:`RawSource` says where an array's bytes live: a file, the offset of
the data in it, the encoding (``raw``, ``zlib``/``gzip``, ``bzip2``,
``ascii``, ``hex``), the dtype on disk (with its byte order) and the C-order
shape. A :class:`Layout` joins one or more sources (one file per slab, for
MetaImage ``LIST`` and NRRD multi-file data) and says which axis holds the
components. :func:`read_layout` reads any region of a layout:

* raw data: only the bytes the region needs, with as few reads as pays off (a
  small cost model picks between one read per contiguous run and one read per
  slab that covers several runs; the span read stays bounded in size);
* compressed data: decoded as a stream up to the last byte the region needs,
  keeping only the bytes from the first one (memory ~ the region's span, not
  the file); a full read decodes straight into the result;
* text (``ascii``, ``hex``): parsed whole, then sliced.

Before anything is allocated the file sizes are checked against what the
header claims (:func:`check_sources`): raw data must be all there; compressed
data cannot expand more than deflate's 1032:1; text needs two characters per
value. A lying header gets an :class:`~imalgebra.ImageIOError`, never a
gigantic allocation.

Every file is opened through :func:`open_binary`; tests replace it with a
counting opener to prove a header-only read touches no pixel byte and a region
read does not read the rest.

Example
-------
>>> import numpy as np, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "block.raw")
>>> np.arange(24, dtype="<i2").tofile(path)
>>> src = RawSource(path=path, offset=0, dtype=np.dtype("<i2"), shape=(2, 3, 4))
>>> read_source(src, (1, 0, 1), (1, 2, 2)).tolist()
[[[13, 14], [17, 18]]]
"""

from __future__ import annotations

import bz2
import math
import os
import stat
import threading
import zlib
from collections.abc import Sequence
from typing import Any, BinaryIO

import attrs
import numpy as np
from numpy.lib.stride_tricks import as_strided

from imalgebra.algebra.geometry import Region
from imalgebra.algebra.pixel import PixelType
from imalgebra.errors import ImageIOError, PixelTypeError
from imalgebra.io.base import ImageInfo

__all__ = [
    "ENCODINGS",
    "MAX_DATA_FILES",
    "PIXEL_TYPE_KEY",
    "Layout",
    "RawImageInfo",
    "RawSource",
    "RegionFileWriter",
    "check_sources",
    "format_number",
    "open_binary",
    "read_layout",
    "read_source",
    "resolve_data_file",
    "write_array",
    "write_compressed",
    "write_runs",
]

ENCODINGS = ("raw", "zlib", "gzip", "bzip2", "ascii", "hex")
MAX_DEFLATE_RATIO = 1032  # deflate cannot expand more than this (RFC 1951 worst case ~1032:1)
MAX_BZIP2_RATIO = 50_000_000  # bzip2 runs can expand enormously; still bounded
_READ_CHUNK = 1 << 18  # compressed bytes per read
_OUT_CHUNK = 1 << 24  # decoded bytes per decompress call
_WRITE_CHUNK = 1 << 24  # bytes per write/compress call
_MAX_SPAN = 1 << 25  # a span read covering several runs stays below 32 MiB
_SYSCALL_COST = 4e-6  # seconds per read call (seek + read + Python), measured order of magnitude
_BYTE_COST = 2.5e-10  # seconds per byte copied from the page cache


PIXEL_TYPE_KEY = "imalgebra_PixelType"  # header key naming a pixel type the format cannot spell
MAX_DATA_FILES = 100_000  # a header naming more data files than this is refused (a lie, or a typo)


def format_number(value: float) -> str:
    """A header number: whole numbers without a decimal point, others with every digit (``repr``)."""
    v = float(value)
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def resolve_data_file(header: str, name: str, allow_outside: bool, field: str = "ElementDataFile") -> str:
    """The data file ``name`` relative to the header's folder; refuses to leave it unless allowed.

    A name that is absolute, starts with ``~`` or climbs out with ``..`` is
    refused with an ImageIOError naming ``field``, unless ``allow_outside``.
    """
    folder = os.path.dirname(os.path.abspath(header))
    expanded = os.path.expanduser(name) if allow_outside else name
    full = os.path.normpath(os.path.join(folder, expanded))
    outside = os.path.isabs(name) or name.startswith("~") or os.path.commonpath([folder, full]) != folder
    if outside and not allow_outside:
        msg = (
            f"{header}: {field} {name!r} points outside the header's folder {folder}; "
            "refused (pass allow_outside=True to read if you trust this file)"
        )
        raise ImageIOError(msg)
    return full


def open_binary(path: str | os.PathLike[str]) -> BinaryIO:
    """Open ``path`` for unbuffered binary reading (every format reads through this)."""
    return open(path, "rb", buffering=0)


@attrs.frozen(kw_only=True)
class RawSource:
    """Where one block of pixel values lives.

    ``offset`` is the byte offset of the encoded data in ``path``; ``skip``
    bytes of the *decoded* stream come before the values (NRRD ``byte skip``
    with compression); ``line_skip`` lines are skipped before ``offset``
    (NRRD ``line skip``); ``length`` is the number of encoded bytes available
    (None: to the end of the file). ``shape`` is C order (slowest axis first).
    """

    path: str
    offset: int
    dtype: np.dtype = attrs.field(converter=np.dtype)
    shape: tuple[int, ...] = attrs.field(converter=tuple)
    encoding: str = "raw"
    skip: int = 0
    line_skip: int = 0
    length: int | None = None

    @property
    def count(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.count * self.dtype.itemsize


@attrs.frozen(kw_only=True)
class Layout:
    """An image's pixel data: one source, or one source per slab of the ``outer`` slowest axes.

    ``shape`` is the C-order shape of all values as stored (file order);
    ``component_axis`` the axis of ``shape`` holding the components (None for
    one component); ``complex_pairs`` joins two components into one complex
    value; ``drop_first_component`` drops a mask component (NRRD masked
    matrices, as ITK does).
    """

    sources: tuple[RawSource, ...] = attrs.field(converter=tuple)
    shape: tuple[int, ...] = attrs.field(converter=tuple)
    outer: int = 0
    component_axis: int | None = None
    complex_pairs: bool = False
    drop_first_component: bool = False

    @property
    def dtype(self) -> np.dtype:
        return self.sources[0].dtype


# -- checks ---------------------------------------------------------------------


def _file_size(path: str, what: str) -> int:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        msg = f"{path}: the {what} does not exist"
        raise ImageIOError(msg) from None
    except OSError as err:
        msg = f"{path}: cannot open the {what}: {err.strerror or err}"
        raise ImageIOError(msg) from err
    if stat.S_ISDIR(st.st_mode):
        msg = f"{path}: the {what} is a folder, not a file"
        raise ImageIOError(msg)
    return st.st_size


def check_sources(sources: Sequence[RawSource], header: str) -> None:
    """Raise an ImageIOError when a data file is missing or too small for what ``header`` claims.

    Only ``os.stat`` is used: no pixel byte is read.
    """
    for src in sources:
        what = "data file" if src.path != header else "file"
        size = _file_size(src.path, what)
        available = size - src.offset if src.length is None else min(src.length, size - src.offset)
        if src.offset > size:
            msg = (
                f"{header}: the pixel data should start at byte {src.offset} of {src.path} "
                f"but the file has only {size} bytes (truncated, or the header is wrong)"
            )
            raise ImageIOError(msg)
        needed = src.nbytes + src.skip
        if src.encoding == "raw":
            if available < needed:
                msg = (
                    f"{header}: the header describes {src.nbytes} bytes of pixel data "
                    f"({' x '.join(map(str, src.shape))} of {src.dtype.name}) but {src.path} holds only "
                    f"{max(available, 0)} bytes after offset {src.offset}: the file is truncated or the header lies"
                )
                raise ImageIOError(msg)
        elif src.encoding in ("zlib", "gzip", "bzip2"):
            ratio = MAX_BZIP2_RATIO if src.encoding == "bzip2" else MAX_DEFLATE_RATIO
            if available <= 0 or needed > available * ratio + 64:
                msg = (
                    f"{header}: the header describes {src.nbytes} bytes of pixel data but only "
                    f"{max(available, 0)} compressed bytes follow in {src.path}; {src.encoding} cannot expand "
                    f"that much: the file is truncated or the header lies"
                )
                raise ImageIOError(msg)
        elif src.encoding in ("ascii", "hex"):
            minimum = 2 * src.count - 1 if src.encoding == "ascii" else 2 * src.nbytes
            if available < minimum:
                msg = (
                    f"{header}: the header describes {src.count} values but the {src.encoding} text in "
                    f"{src.path} has only {max(available, 0)} bytes: truncated, or the header lies"
                )
                raise ImageIOError(msg)
        else:
            msg = f"{header}: unknown encoding {src.encoding!r}; supported: {', '.join(ENCODINGS)}"
            raise ImageIOError(msg)


# -- reading ----------------------------------------------------------------------


def _readinto_exact(f: BinaryIO, offset: int, view: memoryview, src: RawSource) -> None:
    f.seek(offset)
    done = 0
    total = len(view)
    while done < total:
        n = f.readinto(view[done:])
        if not n:
            msg = (
                f"{src.path}: pixel data ends at byte {offset + done} but {total - done} more bytes were expected "
                "(the file is truncated)"
            )
            raise ImageIOError(msg)
        done += n


def _strides(shape: Sequence[int]) -> list[int]:
    out = [1] * len(shape)
    for k in range(len(shape) - 2, -1, -1):
        out[k] = out[k + 1] * shape[k + 1]
    return out


def _outer_offsets(start: Sequence[int], count: Sequence[int], strides: Sequence[int], axes: int) -> np.ndarray:
    offs = np.zeros(1, dtype=np.int64)
    for k in range(axes):
        steps = (start[k] + np.arange(count[k], dtype=np.int64)) * strides[k]
        offs = (offs[:, None] + steps[None, :]).ravel()
    return offs


def _line_skip_offset(f: BinaryIO, src: RawSource) -> int:
    """The byte offset after skipping ``src.line_skip`` lines from ``src.offset``."""
    pos = src.offset
    f.seek(pos)
    lines = 0
    while lines < src.line_skip:
        chunk = f.read(65536)
        if not chunk:
            msg = f"{src.path}: the header asks to skip {src.line_skip} lines but the file has only {lines}"
            raise ImageIOError(msg)
        start = 0
        while lines < src.line_skip:
            nl = chunk.find(b"\n", start)
            if nl < 0:
                break
            lines += 1
            start = nl + 1
        pos += start if lines == src.line_skip else len(chunk)
    return pos


def read_source(src: RawSource, start: Sequence[int] | None = None, count: Sequence[int] | None = None) -> np.ndarray:
    """The values ``[start, start + count)`` (C order, one entry per axis of ``src.shape``).

    Returns a C-contiguous array in native byte order, of shape ``count``.
    """
    shape = tuple(src.shape)
    start = tuple(start) if start is not None else (0,) * len(shape)
    count = tuple(count) if count is not None else shape
    native = src.dtype.newbyteorder("=")
    out = np.empty(count, dtype=native)
    if out.size == 0:
        return out
    try:
        with open_binary(src.path) as f:
            if src.line_skip:
                src = attrs.evolve(src, offset=_line_skip_offset(f, src), line_skip=0)
            if src.encoding == "raw":
                _read_raw(f, src, start, count, out)
            elif src.encoding in ("zlib", "gzip", "bzip2"):
                _read_compressed(f, src, start, count, out)
            else:
                _read_text(f, src, start, count, out)
    except OSError as err:
        if isinstance(err, ImageIOError):
            raise
        msg = f"{src.path}: cannot read pixel data: {err.strerror or err}"
        raise ImageIOError(msg) from err
    return out


def _read_raw(f: BinaryIO, src: RawSource, start: tuple[int, ...], count: tuple[int, ...], out: np.ndarray) -> None:
    shape = tuple(src.shape)
    ndim = len(shape)
    isz = src.dtype.itemsize
    strides = _strides(shape)
    run, j = 1, ndim
    while j > 0:  # merge trailing axes that are read in full into one contiguous run
        j -= 1
        run *= count[j]
        if count[j] != shape[j]:
            break
    base = src.offset + src.skip
    tail = sum(start[k] * strides[k] for k in range(j, ndim))  # axes after j start at 0

    best_level, best_cost = j, math.inf
    for level in range(j, -1, -1):
        reads = math.prod(count[:level])
        span = sum((count[k] - 1) * strides[k] for k in range(level, j)) + run
        if level < j and span * isz > _MAX_SPAN:
            break
        cost = reads * (_SYSCALL_COST + span * isz * _BYTE_COST)
        if cost < best_cost:
            best_level, best_cost = level, cost

    level = best_level
    if level == j:
        # one read per contiguous run, straight into the result (no copy)
        flat = out.reshape(-1, run)
        rows = _outer_offsets(start, count, strides, j)
        raw = memoryview(flat).cast("B")
        row_bytes = run * isz
        for i, off in enumerate(rows.tolist()):
            _readinto_exact(f, base + (off + tail) * isz, raw[i * row_bytes : (i + 1) * row_bytes], src)
        if not src.dtype.isnative:
            out.byteswap(inplace=True)
        return
    # one read per slab of the `level` slowest axes, covering several runs; then a strided copy
    span = sum((count[k] - 1) * strides[k] for k in range(level, j)) + run
    buffer = np.empty(span, dtype=src.dtype)
    view = memoryview(buffer).cast("B")
    inner = (*count[level:j], run)
    inner_strides = (*(strides[k] * isz for k in range(level, j)), isz)
    blocks = out.reshape((-1, *inner))
    slab_tail = sum(start[k] * strides[k] for k in range(level, ndim))
    wanted = as_strided(buffer, shape=inner, strides=inner_strides, writeable=False)  # a view: refilled per slab
    for i, off in enumerate(_outer_offsets(start, count, strides, level).tolist()):
        _readinto_exact(f, base + (off + slab_tail) * isz, view, src)
        blocks[i] = wanted


class _Decoder:
    """A streaming decoder with one interface over zlib/gzip and bzip2."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._new()

    def _new(self) -> None:
        if self.encoding == "bzip2":
            self.d: Any = bz2.BZ2Decompressor()
        else:
            # zlib or gzip header, detected. Plain zlib, not _inflate: the paused cursor relies on zlib's
            # max_length contract (left-over input in unconsumed_tail), which ISA-L does not keep.
            self.d = zlib.decompressobj(zlib.MAX_WBITS | 32)

    def wants_input(self) -> bool:
        if self.encoding == "bzip2":
            return bool(self.d.needs_input)
        return not self.d.unconsumed_tail

    def decode(self, data: bytes, limit: int) -> bytes:
        if self.encoding == "bzip2":
            return self.d.decompress(data, limit)
        return self.d.decompress(data or self.d.unconsumed_tail, limit)

    @property
    def eof(self) -> bool:
        return bool(self.d.eof)

    def restart(self) -> bytes:
        """Start the next concatenated member; return the input left over from the last one."""
        rest = self.d.unused_data
        self._new()
        return rest


class _Cursor:
    """A decoder paused at decoded byte ``pos`` of one compressed source, with its own file.

    Streamed evaluation reads regions in increasing order; continuing the stream
    where the last region ended keeps the total work linear (restarting from the
    first byte for every region made it quadratic: 5.65 s instead of 0.63 s for
    a 64 MiB zlib .mha in 32 regions).
    """

    def __init__(self, src: RawSource) -> None:
        self.src = src
        self.f = open_binary(src.path)
        self.f.seek(src.offset)
        self.remaining = src.length  # encoded bytes we may still read (None: to EOF)
        self.dec = _Decoder(src.encoding)
        self.pos = 0
        self.pending = b""

    def close(self) -> None:
        self.f.close()

    def __del__(self) -> None:  # a thread's cache dies with the thread: close quietly, no ResourceWarning
        f = getattr(self, "f", None)
        if f is not None:
            f.close()

    def read(self, lo: int, target: memoryview) -> None:
        """Decode up to ``lo + len(target)`` and copy ``[lo, lo + len(target))`` into ``target``."""
        src, dec, f = self.src, self.dec, self.f
        hi = lo + len(target)
        try:
            while self.pos < hi:
                if dec.eof:
                    self.pending = dec.restart() + self.pending
                    if not self.pending:
                        self.pending = _read_chunk(f, self.remaining)
                        self.remaining = None if self.remaining is None else self.remaining - len(self.pending)
                    if not self.pending:
                        break
                if self.pending:
                    data, self.pending = self.pending, b""
                elif dec.wants_input():
                    data = _read_chunk(f, self.remaining)
                    self.remaining = None if self.remaining is None else self.remaining - len(data)
                    if not data:
                        break
                else:
                    data = b""
                out = dec.decode(data, min(_OUT_CHUNK, hi - self.pos))
                if out:
                    a, b = max(self.pos, lo), min(self.pos + len(out), hi)
                    if a < b:
                        target[a - lo : b - lo] = out[a - self.pos : b - self.pos]
                    self.pos += len(out)
        except (zlib.error, OSError, EOFError, ValueError) as err:
            if isinstance(err, ImageIOError):
                raise
            msg = f"{src.path}: the {src.encoding} data is corrupt: {err}"
            raise ImageIOError(msg) from err
        if self.pos < hi:
            msg = (
                f"{src.path}: the {src.encoding} data decodes to {self.pos} bytes but {hi} were expected "
                "(the file is truncated or the header lies)"
            )
            raise ImageIOError(msg)


_CURSORS = threading.local()  # per thread: {source key: _Cursor}, most recently used last
_MAX_CURSORS = 4


def _decode_range(f: BinaryIO, src: RawSource, lo: int, target: memoryview) -> None:
    """Decode ``src`` and copy decoded bytes ``[lo, lo + len(target))`` into ``target``.

    Continues this thread's paused decoder of the same file when ``lo`` lies at or
    after where it stopped; otherwise starts from the beginning of the stream.
    """
    st = os.fstat(f.fileno())
    key = (os.fspath(src.path), src.offset, src.length, src.encoding, st.st_ino, st.st_size, st.st_mtime_ns)
    cursors: dict[tuple[Any, ...], _Cursor] = getattr(_CURSORS, "cursors", None) or {}
    _CURSORS.cursors = cursors
    cursor = cursors.pop(key, None)
    if cursor is None or cursor.pos > lo:
        if cursor is not None:
            cursor.close()
        cursor = _Cursor(src)
    try:
        cursor.read(lo, target)
    except BaseException:
        cursor.close()
        raise
    cursors[key] = cursor
    while len(cursors) > _MAX_CURSORS:
        cursors.pop(next(iter(cursors))).close()


def _read_chunk(f: BinaryIO, remaining: int | None) -> bytes:
    size = _READ_CHUNK if remaining is None else min(_READ_CHUNK, max(remaining, 0))
    return f.read(size) if size else b""


def _read_compressed(
    f: BinaryIO, src: RawSource, start: tuple[int, ...], count: tuple[int, ...], out: np.ndarray
) -> None:
    shape = tuple(src.shape)
    isz = src.dtype.itemsize
    if count == shape:
        raw = memoryview(out.reshape(-1)).cast("B")
        _decode_range(f, src, src.skip, raw)
        if not src.dtype.isnative:
            out.byteswap(inplace=True)
        return
    strides = _strides(shape)
    first = sum(s * st for s, st in zip(start, strides, strict=True))
    last = sum((s + c - 1) * st for s, c, st in zip(start, count, strides, strict=True))
    buffer = np.empty(last - first + 1, dtype=src.dtype)
    _decode_range(f, src, src.skip + first * isz, memoryview(buffer).cast("B"))
    out[...] = as_strided(buffer, shape=count, strides=tuple(st * isz for st in strides), writeable=False)


def _read_text(f: BinaryIO, src: RawSource, start: tuple[int, ...], count: tuple[int, ...], out: np.ndarray) -> None:
    f.seek(src.offset)
    text = f.read() if src.length is None else f.read(src.length)
    n = src.count
    if src.encoding == "hex":
        try:
            data = bytes.fromhex(b"".join(text.split()).decode("ascii"))
        except (ValueError, UnicodeDecodeError) as err:
            msg = f"{src.path}: the hex pixel data is corrupt: {err}"
            raise ImageIOError(msg) from err
        if len(data) < src.nbytes:
            msg = f"{src.path}: the hex data holds {len(data)} bytes but {src.nbytes} were expected (truncated)"
            raise ImageIOError(msg)
        values = np.frombuffer(data, dtype=src.dtype, count=n)
    else:
        tokens = text.split(maxsplit=n)[:n]
        if len(tokens) < n:
            msg = f"{src.path}: the text pixel data holds {len(tokens)} values but {n} were expected (truncated)"
            raise ImageIOError(msg)
        raw = np.array(tokens)
        try:
            values = raw.astype(src.dtype.newbyteorder("="))
        except ValueError:
            try:
                as_float = raw.astype(np.float64)
            except ValueError as err:
                msg = f"{src.path}: the text pixel data holds something that is not a number: {err}"
                raise ImageIOError(msg) from err
            with np.errstate(all="ignore"):
                values = as_float.astype(src.dtype.newbyteorder("="))
    full = values.reshape(src.shape)
    out[...] = full[tuple(slice(s, s + c) for s, c in zip(start, count, strict=True))]


def read_layout(layout: Layout, region: Region) -> np.ndarray:
    """The pixels of ``region`` (x, y, z index box) as a ``[z, y, x(, c)]`` native array.

    Components are moved last, complex pairs joined, a mask component dropped.
    """
    domain_start = list(region.index[::-1])
    domain_count = list(region.size[::-1])
    start, count = domain_start[:], domain_count[:]
    cax = layout.component_axis
    if cax is not None:
        start.insert(cax, 0)
        count.insert(cax, layout.shape[cax])
    outer = layout.outer
    if outer == 0:
        arr = read_source(layout.sources[0], start, count)
    else:
        arr = np.empty(count, dtype=layout.dtype.newbyteorder("="))
        outer_shape = layout.shape[:outer]
        for idx in np.ndindex(*count[:outer]):
            file_idx = tuple(s + i for s, i in zip(start[:outer], idx, strict=True))
            src = layout.sources[int(np.ravel_multi_index(file_idx, outer_shape))]
            arr[idx] = read_source(src, start[outer:], count[outer:])
    if cax is not None and cax != arr.ndim - 1:
        arr = np.ascontiguousarray(np.moveaxis(arr, cax, -1))
    if layout.drop_first_component:
        arr = np.ascontiguousarray(arr[..., 1:])
    if layout.complex_pairs:
        arr = np.ascontiguousarray(arr).view(np.result_type(arr.dtype, np.complex64))[..., 0]
    return arr


# -- writing ----------------------------------------------------------------------


def _file_order(array: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return np.ascontiguousarray(array, dtype=dtype)


def write_array(f: BinaryIO, array: np.ndarray, dtype: np.dtype) -> int:
    """Write ``array`` in C order as ``dtype`` (with its byte order); return the bytes written."""
    arr = np.asarray(array)
    if arr.dtype == dtype and arr.flags.c_contiguous:
        mv = memoryview(arr.reshape(-1)).cast("B")
        for i in range(0, len(mv), _WRITE_CHUNK):
            f.write(mv[i : i + _WRITE_CHUNK])
        return len(mv)
    flat = arr.reshape(-1) if arr.flags.c_contiguous else arr.ravel()
    step = max(1, _WRITE_CHUNK // max(dtype.itemsize, 1))
    total = 0
    for i in range(0, flat.size, step):
        chunk = np.ascontiguousarray(flat[i : i + step], dtype=dtype)
        f.write(memoryview(chunk).cast("B"))
        total += chunk.nbytes
    return total


def file_layout(path: str | os.PathLike[str], pixel_type: PixelType, components: int) -> tuple[np.dtype, int]:
    """How raw pixel data of ``pixel_type`` lies on disk: the little-endian dtype of one
    channel and the channels per pixel (complex pixels are two float channels).

    >>> file_layout("x.mha", PixelType.ComplexFloat32, 1)
    (dtype('float32'), 2)
    """
    if pixel_type is PixelType.Unknown:
        msg = f"{os.fspath(path)}: cannot write pixel type Unknown"
        raise PixelTypeError(msg)
    if pixel_type.is_complex:
        return np.dtype(f"<f{pixel_type.dtype.itemsize // 2}"), 2
    channels = components if pixel_type.is_vector else 1
    return pixel_type.component_type.dtype.newbyteorder("<"), channels


def compressor(encoding: str, level: int) -> Any:
    """A compressobj for ``zlib`` (MetaImage) or ``gzip`` (NRRD) streams."""
    wbits = zlib.MAX_WBITS | 16 if encoding == "gzip" else zlib.MAX_WBITS
    return zlib.compressobj(level, zlib.DEFLATED, wbits)


def write_compressed(f: BinaryIO, array: np.ndarray, dtype: np.dtype, encoding: str, level: int) -> int:
    """Compress ``array`` (C order, as ``dtype``) into ``f`` chunk by chunk; return the compressed size."""
    comp = compressor(encoding, level)
    arr = np.asarray(array)
    flat = arr.reshape(-1) if arr.flags.c_contiguous else arr.ravel()
    step = max(1, _WRITE_CHUNK // max(dtype.itemsize, 1))
    total = 0
    for i in range(0, flat.size, step):
        chunk = np.ascontiguousarray(flat[i : i + step], dtype=dtype)
        data = comp.compress(memoryview(chunk).cast("B"))
        f.write(data)
        total += len(data)
    data = comp.flush()
    f.write(data)
    return total + len(data)


def write_runs(
    fd: int, offset: int, shape: Sequence[int], start: Sequence[int], array: np.ndarray, dtype: np.dtype
) -> None:
    """``os.pwrite`` the block ``array`` (C order) at ``start`` of a C-order ``shape`` stored at ``offset``.

    One write per contiguous run; regions may arrive in any order (thread-safe:
    no shared file position).
    """
    data = _file_order(array, dtype)
    count = data.shape
    ndim = len(shape)
    strides = _strides(shape)
    isz = dtype.itemsize
    run, j = 1, ndim
    while j > 0:
        j -= 1
        run *= count[j]
        if count[j] != shape[j]:
            break
    tail = sum(start[k] * strides[k] for k in range(j, ndim))
    flat = memoryview(data.reshape(-1)).cast("B")
    row = run * isz
    for i, off in enumerate(_outer_offsets(start, count, strides, j).tolist()):
        chunk = flat[i * row : (i + 1) * row]
        _write_all(fd, chunk, offset + (off + tail) * isz)


# -- the header value with its layout, and a streamed writer -----------------------------


@attrs.frozen(kw_only=True)
class RawImageInfo(ImageInfo):
    """An :class:`ImageInfo` that also remembers where the pixels are (``layout``)."""

    layout: Layout | None = attrs.field(default=None, eq=False, repr=False)


class RegionFileWriter:
    """A streamed write of one image into a raw or compressed data stream (a RegionWriter).

    ``targets`` are the final paths, data file first; with one target the
    header and the data share it. ``header(size)`` returns the header bytes
    given the compressed size (None while unknown; it must then have the same
    length as with the size, so it can be patched in place). ``file_shape``
    is the C-order shape of the stored values (components last) and
    ``file_dtype`` their dtype on disk. Raw data is preallocated and regions
    are written at their offsets in any order; compressed data needs whole
    slabs along the slowest axis, in increasing order.
    """

    def __init__(
        self,
        *,
        targets: Sequence[str | os.PathLike[str]],
        header: Any,
        info: ImageInfo,
        file_shape: Sequence[int],
        file_dtype: np.dtype,
        encoding: str = "raw",
        level: int = 6,
    ) -> None:
        from imalgebra.io.atomic import AtomicFiles

        self.info = info
        self.file_shape = tuple(file_shape)
        self.file_dtype = np.dtype(file_dtype)
        self.encoding = encoding
        self.order = "any" if encoding == "raw" else "slabs"
        self._header = header
        self._lock = threading.Lock()
        self._next = 0  # next slab index along the slowest axis (compressed streams)
        self._written = 0
        self._files = AtomicFiles(list(targets))
        self._single = len(self._files.targets) == 1
        self._fd = -1
        self._compressor = compressor(encoding, level) if encoding != "raw" else None
        try:
            # no O_TRUNC: the temporary file is new and empty, and truncating makes ext4 (auto_da_alloc)
            # flush every dirty page at close, which costs a whole write to disk
            self._fd = os.open(self._files.temps[0], os.O_WRONLY)
            self._offset = 0
            if self._single:
                head = header(None)
                _write_all(self._fd, head, 0)
                self._offset = len(head)
            if encoding == "raw":
                nbytes = math.prod(self.file_shape) * self.file_dtype.itemsize
                os.ftruncate(self._fd, self._offset + nbytes)
        except BaseException:
            self.abort()
            raise

    @property
    def path(self) -> str:
        return str(self._files.targets[-1])

    def _fail(self, msg: str) -> ImageIOError:
        return ImageIOError(f"{self.path}: {msg}")

    def _file_array(self, region: Region, array: np.ndarray) -> np.ndarray:
        info = self.info
        if region.dimension != info.dimension or not info.geometry.region.contains(region):
            raise self._fail(f"region index={region.index} size={region.size} is not inside size={info.size}")
        arr = np.asarray(array)
        expected = region.shape + ((info.components,) if info.pixel_type.is_vector else ())
        if arr.shape != expected:
            raise self._fail(f"region {region.size} needs an array of shape {expected}, got {arr.shape}")
        if info.pixel_type.is_complex:
            arr = np.ascontiguousarray(arr, dtype=info.pixel_type.dtype)[..., np.newaxis].view(
                info.pixel_type.dtype.type(0).real.dtype
            )
        elif arr.ndim == len(self.file_shape) - 1:
            arr = arr[..., np.newaxis]
        if arr.dtype.kind not in "biufc":
            raise self._fail(f"cannot write an array of dtype {arr.dtype}")
        return arr

    def write(self, region: Region, array: np.ndarray) -> None:
        """Write ``array`` (``[z, y, x(, c)]``) as ``region`` of the image."""
        arr = self._file_array(region, array)
        start = (*region.index[::-1], 0)
        if self._compressor is None:
            write_runs(self._fd, self._offset, self.file_shape, start, arr, self.file_dtype)
            return
        with self._lock:
            full = self.info.size[:-1]
            if region.index[:-1] != (0,) * (region.dimension - 1) or region.size[:-1] != full:
                raise self._fail(
                    f"a compressed stream is written in whole slabs along the last axis; region index={region.index} "
                    f"size={region.size} does not cover the full {full} of the other axes"
                )
            if region.index[-1] != self._next:
                raise self._fail(
                    f"a compressed stream is written in order: expected the slab starting at {self._next} "
                    f"along the last axis, got {region.index[-1]}"
                )
            flat = arr.reshape(-1) if arr.flags.c_contiguous else arr.ravel()
            step = max(1, _WRITE_CHUNK // self.file_dtype.itemsize)
            for i in range(0, flat.size, step):
                chunk = np.ascontiguousarray(flat[i : i + step], dtype=self.file_dtype)
                self._append(self._compressor.compress(memoryview(chunk).cast("B")))
            self._next += region.size[-1]

    def _append(self, data: bytes) -> None:
        _write_all(self._fd, data, self._offset + self._written)
        self._written += len(data)

    def commit(self) -> None:
        """Finish the data, write the header (the commit point) and rename everything into place."""
        try:
            size = None
            if self._compressor is not None:
                if self._next != self.info.size[-1]:
                    raise self._fail(
                        f"only {self._next} of {self.info.size[-1]} slabs were written; nothing was committed"
                    )
                self._append(self._compressor.flush())
                size = self._written
            head = self._header(size)
            if self._single:
                if size is not None:
                    _write_all(self._fd, head, 0)
                os.close(self._fd)
                self._fd = -1
            else:
                os.close(self._fd)
                self._fd = -1
                with open(self._files.temps[-1], "wb") as f:
                    f.write(head)
            self._files.commit()
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Drop the temporary files; an existing target stays as it was."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self._files.abort()

    def __enter__(self) -> RegionFileWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def _write_all(fd: int, data: bytes | memoryview, pos: int) -> None:
    view = memoryview(data)
    while len(view):
        n = os.pwrite(fd, view, pos)
        view, pos = view[n:], pos + n
