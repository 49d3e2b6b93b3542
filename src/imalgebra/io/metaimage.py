"""MetaImage (``.mha``, ``.mhd`` + ``.raw``): ITK's own text-header format.

Reads what SimpleITK reads: ``ElementType`` ``MET_UCHAR`` ... ``MET_DOUBLE``
(and the ``_ARRAY`` spellings), channels (``ElementNumberOfChannels``), zlib
``CompressedData``, ``BinaryData = False`` (text values), big-endian data
(``BinaryDataByteOrderMSB`` / ``ElementByteOrderMSB``), ``HeaderSize``
(``-1``: data at the end of the file), ``ElementDataFile`` ``LOCAL``, a file
name, ``LIST [nD]`` (one file per slab, names follow the header) or a
``printf`` pattern with ``min max step``. Geometry: ``Offset`` / ``Origin`` /
``Position`` (``ImagePosition`` wins), ``ElementSpacing`` (``ElementSize``
when absent; a negative spacing flips that direction column, as ITK does),
``TransformMatrix`` / ``Rotation`` / ``Orientation``. ITK writes the
direction *transposed*: the header's ``TransformMatrix`` row ``i`` is the
direction's column ``i`` (``0.866 0.5 -0.5 0.866`` is a +30 degree rotation
whose direction is ``0.866 -0.5 0.5 0.866``); both ways here follow ITK.

Metadata: every header line that is not a MetaImage field becomes a
metadata key, and metadata keys are written back as plain ``Key = Value``
lines (SimpleITK does the same). Keys that are MetaImage fields (``NDims``,
``ElementSpacing``...) are not written from metadata: the geometry and the
pixel type say them. Values keep their inner spaces; leading and trailing
spaces are not kept (the format strips them).

Pixel types: every scalar type is written as its ``MET_`` type, vectors as
channels. A few types have no MetaImage spelling; they are written so that
SimpleITK still reads the pixels, plus one extra header line
``imalgebra_PixelType = <name>`` that imalgebra reads back:

* complex: two float channels (exactly what SimpleITK writes; SimpleITK reads
  such a file as a 2-component vector image, imalgebra as complex again);
* label: the unsigned type (SimpleITK reads a scalar image);
* a vector with one component: one channel (SimpleITK reads a scalar image).

Region reads touch only the bytes the region needs for raw data; compressed
data is decoded as a stream up to the region's last byte (the cost grows with
how far into the file the region lies). Paths in ``ElementDataFile`` that are
absolute or leave the header's folder (``..``) are refused unless the caller
passes ``allow_outside=True``.

Example
-------
>>> import tempfile, os, numpy as np
>>> import imalgebra as ia
>>> path = os.path.join(tempfile.mkdtemp(), "a.mha")
>>> img = ia.Image.zeros((4, 3), ia.PixelType.Int16, spacing=(0.5, 2.0))
>>> write(path, img)
>>> info = read_info(path)
>>> info.size, info.spacing, info.pixel_type
((4, 3), (0.5, 2.0), <PixelType.Int16: 2>)
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from imalgebra.algebra.geometry import Geometry, Region
from imalgebra.algebra.image import Image
from imalgebra.algebra.pixel import PixelType
from imalgebra.errors import GeometryError, ImageIOError
from imalgebra.io import rawfile
from imalgebra.io.base import Capabilities, FormatIO, ImageInfo, PathType, write_through_writer
from imalgebra.io.rawfile import (
    MAX_DATA_FILES,
    PIXEL_TYPE_KEY,
    Layout,
    RawImageInfo,
    RawSource,
    RegionFileWriter,
    check_sources,
    file_layout,
    format_number,
    read_layout,
    resolve_data_file,
)

__all__ = ["EXTENSIONS", "IO", "NAME", "open_writer", "read_info", "read_region", "sniff", "write"]

NAME = "MetaImageIO"
EXTENSIONS = (".mha", ".mhd")
MARKER = PIXEL_TYPE_KEY
MAX_HEADER = 1 << 20  # a header longer than 1 MiB is not a MetaImage header
COMPRESSION_LEVEL = 6  # zlib's default, as ITK's compressionLevel=-1

_READ_TYPES = {
    "MET_UCHAR": "u1",
    "MET_CHAR": "i1",
    "MET_ASCII_CHAR": "i1",
    "MET_SHORT": "i2",
    "MET_USHORT": "u2",
    "MET_INT": "i4",
    "MET_UINT": "u4",
    "MET_LONG": "i4",  # MetaIO's MET_LONG is 4 bytes on every platform
    "MET_ULONG": "u4",
    "MET_LONG_LONG": "i8",
    "MET_ULONG_LONG": "u8",
    "MET_FLOAT": "f4",
    "MET_DOUBLE": "f8",
}
_READ_TYPES.update({k + "_ARRAY": v for k, v in list(_READ_TYPES.items())})
_WRITE_TYPES = {
    "u1": "MET_UCHAR",
    "i1": "MET_CHAR",
    "i2": "MET_SHORT",
    "u2": "MET_USHORT",
    "i4": "MET_INT",
    "u4": "MET_UINT",
    "i8": "MET_LONG_LONG",
    "u8": "MET_ULONG_LONG",
    "f4": "MET_FLOAT",
    "f8": "MET_DOUBLE",
}

# MetaObject and MetaImage fields: never metadata, never written from metadata.
FIELDS = frozenset(
    """Comment ObjectType ObjectSubType TransformType NDims Name ID ParentID CompressedData CompressedDataSize
    BinaryData BinaryDataByteOrderMSB ElementByteOrderMSB Color Position Origin Offset TransformMatrix Rotation
    Orientation CenterOfRotation AnatomicalOrientation ElementSpacing DistanceUnits AcquisitionDate DimSize
    HeaderSize ImagePosition SequenceID ElementMin ElementMax ElementNumberOfChannels ElementSize ElementNBits
    ElementToIntensityFunctionSlope ElementToIntensityFunctionOffset ElementType ElementDataFile""".split()  # noqa: SIM905 - a word list reads better
)
_LINE = re.compile(rb"^[ \t]*([^=\r\n]*?)[ \t]*=[ \t]*(.*?)[ \t\r]*$")


def sniff(head: bytes) -> bool:
    """True when ``head`` starts like a MetaImage header (``Key = value`` lines with an ``NDims``)."""
    try:
        lines = head.split(b"\n")
        if len(head) >= 1024 and len(lines) > 1:
            lines = lines[:-1]  # the last line may be cut
        seen = 0
        for raw in lines:
            line = raw.strip()
            if not line:
                continue
            match = _LINE.match(line)
            if match is None or not match.group(1):
                return False
            key = match.group(1).decode("latin-1")
            if key == "NDims":
                return True
            if key == "ElementDataFile":
                return False
            seen += 1
        return False
    except Exception:  # a sniffer never raises
        return False


# -- header parsing -------------------------------------------------------------------


def _read_header(path: str) -> tuple[list[tuple[str, str]], int, bytes]:
    """Header fields in order, the byte offset after the ElementDataFile line, and the bytes after it
    (only when ElementDataFile is LIST: the file names)."""
    fields: list[tuple[str, str]] = []
    try:
        with rawfile.open_binary(path) as f:  # through the module: tests count bytes read
            buf = b""
            chunk = 512
            pos = 0  # offset of buf[0] in the file
            start = 0  # next line start in buf
            while True:
                nl = buf.find(b"\n", start)
                if nl < 0:
                    if pos + len(buf) >= MAX_HEADER:
                        msg = f"{path}: no ElementDataFile line in the first {MAX_HEADER} bytes: not a MetaImage header"
                        raise ImageIOError(msg)
                    more = f.read(chunk)  # small reads first: a header-only read stops near the header's end
                    chunk = min(chunk * 2, 65536)
                    if not more:
                        if start < len(buf):
                            nl = len(buf)  # last line without newline
                        else:
                            what = "the file is empty" if pos + len(buf) == 0 else "the header ends early"
                            msg = f"{path}: {what}: no ElementDataFile line (a MetaImage header ends with it)"
                            raise ImageIOError(msg)
                    else:
                        buf = buf[start:] + more
                        pos += start
                        start = 0
                        continue
                raw = buf[start:nl]
                end = nl + 1
                line = raw.strip()
                if line:
                    match = _LINE.match(line)
                    if match is None or not match.group(1):
                        shown = line[:60].decode("latin-1")
                        msg = f"{path}: header line {len(fields) + 1} is not 'Key = Value': {shown!r}"
                        raise ImageIOError(msg)
                    key = match.group(1).decode("latin-1")
                    value = _decode(match.group(2))
                    fields.append((key, value))
                    if key == "ElementDataFile":
                        rest = b""
                        if value.split()[:1] and value.split()[0].upper() == "LIST":
                            rest = buf[end:] + f.read(MAX_HEADER)
                        return fields, pos + min(end, len(buf)), rest
                start = end
    except OSError as err:
        if isinstance(err, ImageIOError):
            raise
        msg = f"{path}: cannot read: {err.strerror or err}"
        raise ImageIOError(msg) from err


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _numbers(path: str, fields: Mapping[str, str], key: str, count: int, kind: type = float) -> list[Any] | None:
    text = fields.get(key)
    if text is None:
        return None
    parts = text.split()
    if len(parts) < count:
        msg = f"{path}: {key} needs {count} values, got {len(parts)}: {text!r}"
        raise ImageIOError(msg)
    try:
        values = [float(p) for p in parts[:count]]
    except ValueError:
        msg = f"{path}: {key} must be numbers, got {text!r}"
        raise ImageIOError(msg) from None
    if not all(math.isfinite(v) for v in values):
        msg = f"{path}: {key} must be finite numbers, got {text!r}"
        raise ImageIOError(msg)
    if kind is int:
        if any(v != int(v) for v in values):
            msg = f"{path}: {key} must be whole numbers, got {text!r}"
            raise ImageIOError(msg)
        return [int(v) for v in values]
    return values


def _true(value: str | None, default: bool) -> bool:
    if value is None or not value.strip():
        return default
    return value.strip()[0] in "TtYy1"


def _data_sources(
    path: str,
    fields: Mapping[str, str],
    data_offset: int,
    rest: bytes,
    dims: list[int],
    channels: int,
    dtype: np.dtype,
    allow_outside: bool,
    keep_channels: bool,
) -> tuple[list[RawSource], int]:
    """The data sources and the number of slowest axes that index them."""
    spec = fields["ElementDataFile"].strip()
    compressed = _true(fields.get("CompressedData"), False)
    binary = _true(fields.get("BinaryData"), True)
    encoding = "zlib" if compressed and binary else ("raw" if binary else "ascii")
    header_size = int(float(fields.get("HeaderSize", "0") or 0))
    length = None
    if compressed and "CompressedDataSize" in fields:
        size = _numbers(path, fields, "CompressedDataSize", 1)
        length = int(size[0]) if size and size[0] > 0 else None
    ndims = len(dims)
    tail = (channels,) if channels > 1 or keep_channels else ()
    full_shape = (*dims[::-1], *tail)

    def source(file: str, shape: tuple[int, ...], local_offset: int) -> RawSource:
        offset = local_offset
        if header_size > 0:
            offset = header_size
        elif header_size == -1:
            if encoding != "raw":
                msg = f"{path}: HeaderSize = -1 (data at the end) needs uncompressed binary data"
                raise ImageIOError(msg)
            offset = max(0, os.path.getsize(file) - math.prod(shape) * dtype.itemsize) if os.path.exists(file) else 0
        return RawSource(path=file, offset=offset, dtype=dtype, shape=shape, encoding=encoding, length=length)

    words = spec.split()
    if spec.upper() == "LOCAL":
        return [source(path, full_shape, data_offset)], 0
    if words and words[0].upper() == "LIST":
        file_dim = ndims - 1
        if len(words) > 1:
            found = re.match(r"\d+", words[1])
            if found and 0 < int(found.group()) <= ndims:
                file_dim = int(found.group())
        outer = ndims - file_dim
        n_files = math.prod(dims[file_dim:])
        names = [ln.strip() for ln in _decode(rest).splitlines() if ln.strip()]
        if len(names) < n_files:
            msg = f"{path}: ElementDataFile = LIST needs {n_files} file names after the header, found {len(names)}"
            raise ImageIOError(msg)
        block = (*dims[:file_dim][::-1], *tail)
        return [source(resolve_data_file(path, n, allow_outside), block, 0) for n in names[:n_files]], outer
    if "%" in spec:
        if dims[-1] > MAX_DATA_FILES:
            msg = f"{path}: ElementDataFile pattern {spec!r} would name {dims[-1]} files (more than {MAX_DATA_FILES})"
            raise ImageIOError(msg)
        pattern, first, step = words[0], 1, 1
        last = first + dims[-1] - 1
        numbers = words[1:]
        if len(words) >= 5:  # a pattern with spaces: the last three words are numbers
            pattern, numbers = " ".join(words[:-3]), words[-3:]
        try:
            if len(numbers) >= 1:
                first = int(float(numbers[0]))
                last = first + dims[-1] - 1
            if len(numbers) >= 2:
                last = int(float(numbers[1]))
                step = max(1, (last - first) // dims[-1])
            if len(numbers) >= 3:
                step = int(float(numbers[2]))
        except ValueError:
            msg = f"{path}: ElementDataFile pattern {spec!r} must be 'format min max step'"
            raise ImageIOError(msg) from None
        if step == 0:
            msg = f"{path}: ElementDataFile pattern {spec!r} has a step of 0"
            raise ImageIOError(msg)
        block = (*dims[:-1][::-1], *tail)
        try:
            names = [pattern % (first + k * step) for k in range(dims[-1])]
        except (TypeError, ValueError) as err:
            msg = f"{path}: ElementDataFile pattern {spec!r} is not a printf pattern with one number: {err}"
            raise ImageIOError(msg) from None
        return [source(resolve_data_file(path, n, allow_outside), block, 0) for n in names], 1
    file = resolve_data_file(path, spec, allow_outside)
    if not os.path.exists(file) and os.path.exists(file + ".gz"):
        file, encoding = file + ".gz", "zlib"  # MetaIO also looks for a gzipped data file
        length = None
    return [source(file, full_shape, 0)], 0


def read_info(path: PathType, *, allow_outside: bool = False) -> RawImageInfo:
    """The header of a MetaImage file: geometry, pixel type, components, metadata (no pixel is read)."""
    path = os.fspath(path)
    items, data_offset, rest = _read_header(path)
    fields = dict(items)
    for required in ("NDims", "DimSize", "ElementType"):
        if required not in fields:
            msg = f"{path}: the header has no {required} line (required in a MetaImage header)"
            raise ImageIOError(msg)
    ndims_list = _numbers(path, fields, "NDims", 1, int)
    ndims = ndims_list[0] if ndims_list else 0
    if not 2 <= ndims <= 8:
        msg = f"{path}: NDims = {ndims} is not supported; images have 2 to 8 dimensions"
        raise ImageIOError(msg)
    dims = _numbers(path, fields, "DimSize", ndims, int) or []
    if min(dims) < 1:
        msg = f"{path}: DimSize {dims} has an axis smaller than 1"
        raise ImageIOError(msg)
    element = fields["ElementType"].strip()
    if element not in _READ_TYPES:
        msg = f"{path}: ElementType {element!r} is not supported; known: {', '.join(sorted(_WRITE_TYPES.values()))}"
        raise ImageIOError(msg)
    msb = _true(fields.get("BinaryDataByteOrderMSB", fields.get("ElementByteOrderMSB")), False)
    dtype = np.dtype(_READ_TYPES[element]).newbyteorder(">" if msb else "<")
    channels_list = _numbers(path, fields, "ElementNumberOfChannels", 1, int)
    channels = channels_list[0] if channels_list else 1
    if channels < 1:
        msg = f"{path}: ElementNumberOfChannels = {channels} must be at least 1"
        raise ImageIOError(msg)

    geometry = _geometry(path, fields, ndims, dims)
    metadata = {k: v for k, v in items if k not in FIELDS}
    pixel_type = _pixel_type(path, dtype, channels, metadata.pop(MARKER, None))
    keep = pixel_type.is_vector or pixel_type.is_complex
    sources, outer = _data_sources(path, fields, data_offset, rest, dims, channels, dtype, allow_outside, keep)
    layout = Layout(
        sources=sources,
        shape=sources[0].shape if outer == 0 else (*dims[::-1], *sources[0].shape[ndims - outer :]),
        outer=outer,
        component_axis=ndims if keep else None,
        complex_pairs=pixel_type.is_complex,
    )
    check_sources(sources, path)
    return RawImageInfo(
        geometry=geometry,
        pixel_type=pixel_type,
        components=channels if pixel_type.is_vector else 1,
        metadata=metadata,
        io=NAME,
        path=path,
        layout=layout,
    )


def _geometry(path: str, fields: Mapping[str, str], ndims: int, dims: list[int]) -> Geometry:
    spacing_key = "ElementSpacing" if "ElementSpacing" in fields else "ElementSize"
    spacing = _numbers(path, fields, spacing_key, ndims) or [1.0] * ndims
    origin = [0.0] * ndims
    for key in ("Offset", "Origin", "Position", "ImagePosition"):
        found = _numbers(path, fields, key, ndims)
        if found is not None:
            origin = found
    matrix = np.eye(ndims)
    for key in ("TransformMatrix", "Rotation", "Orientation"):
        found = _numbers(path, fields, key, ndims * ndims)
        if found is not None:
            matrix = np.asarray(found).reshape(ndims, ndims).T  # ITK writes the direction transposed
    if any(s == 0 for s in spacing):
        msg = f"{path}: {spacing_key} {spacing} has a zero; spacing must be positive"
        raise ImageIOError(msg)
    signs = np.sign(spacing)
    matrix = matrix * signs + 0.0  # a negative spacing flips that axis' direction column (as ITK); no -0.0
    try:
        return Geometry(size=dims, origin=origin, spacing=np.abs(spacing), direction=matrix.ravel())
    except GeometryError as err:
        msg = f"{path}: the header's geometry is invalid: {err}"
        raise ImageIOError(msg) from err


def _pixel_type(path: str, dtype: np.dtype, channels: int, marker: str | None) -> PixelType:
    scalar = PixelType.from_dtype(dtype)
    plain = scalar if channels == 1 else scalar.vector_type
    if marker is None:
        return plain
    try:
        wanted = PixelType[marker.strip()]
    except KeyError:
        return plain  # an unknown marker: ignore it, read what the file holds
    if wanted.is_complex and channels == 2 and wanted.dtype.itemsize == 2 * dtype.itemsize:
        return wanted
    if wanted.is_label and channels == 1 and wanted.dtype == scalar.dtype:
        return wanted
    if wanted.is_vector and wanted.component_type == scalar:
        return wanted
    return plain


def read_region(path: PathType, info: ImageInfo, region: Region) -> np.ndarray:
    """The pixels of ``region`` as ``[z, y, x(, c)]``; raw data: only the bytes the region needs."""
    if not isinstance(info, RawImageInfo) or info.layout is None:
        info = read_info(path)
    assert info.layout is not None
    return read_layout(info.layout, region)


# -- writing -------------------------------------------------------------------------


def _orientation(direction: np.ndarray) -> str:
    n = direction.shape[0]
    if n != 3:
        return "?" * n
    letters = ("RL", "AP", "IS")
    out = []
    for col in range(3):
        v = direction[:, col]
        k = int(np.argmax(np.abs(v)))
        out.append(letters[k][0 if v[k] > 0 else 1])
    return "".join(out)


def _check_metadata(path: str, metadata: Mapping[str, str]) -> list[tuple[str, str]]:
    lines = []
    for key, value in metadata.items():
        if key in FIELDS or key == MARKER:
            continue
        bad_key = not key or "=" in key or "\n" in key or "\r" in key or key != key.strip()
        if bad_key:
            msg = (
                f"{path}: metadata key {key!r} cannot be a MetaImage header line (it needs no '=', no line "
                "break and no leading or trailing space); rename it"
            )
            raise ImageIOError(msg)
        if "\n" in value or "\r" in value:
            msg = f"{path}: metadata {key!r} holds a line break, which a MetaImage header cannot store; remove it"
            raise ImageIOError(msg)
        lines.append((key, value))
    return lines


def _header(
    path: str, info: ImageInfo, data_file: str, compressed: bool, compressed_size: int | None, big_endian: bool
) -> bytes:
    g = info.geometry
    n = g.dimension
    pt = info.pixel_type
    component = pt.component_type
    if pt.is_complex:
        element = _WRITE_TYPES[np.dtype(f"f{pt.dtype.itemsize // 2}").str[1:]]
        channels = 2
    else:
        element = _WRITE_TYPES[component.dtype.str[1:]]
        channels = info.components if pt.is_vector else 1
    direction = g.direction_matrix
    lines = [
        ("ObjectType", "Image"),
        ("NDims", str(n)),
        ("BinaryData", "True"),
        ("BinaryDataByteOrderMSB", "True" if big_endian else "False"),
        ("CompressedData", "True" if compressed else "False"),
    ]
    if compressed:
        size = "" if compressed_size is None else str(compressed_size)
        lines.append(("CompressedDataSize", size.ljust(20)))  # fixed width: patched in place when streamed
    lines += [
        ("TransformMatrix", " ".join(format_number(v) for v in direction.T.ravel())),
        ("Offset", " ".join(format_number(v) for v in g.origin)),
        ("CenterOfRotation", " ".join("0" for _ in range(n))),
        ("AnatomicalOrientation", _orientation(direction)),
        ("ElementSpacing", " ".join(format_number(v) for v in g.spacing)),
        *_check_metadata(path, info.metadata),
    ]
    if pt.is_complex or pt.is_label or (pt.is_vector and info.components == 1):
        lines.append((MARKER, pt.name))
    lines.append(("DimSize", " ".join(str(s) for s in g.size)))
    if channels > 1:
        lines.append(("ElementNumberOfChannels", str(channels)))
    lines += [("ElementType", element), ("ElementDataFile", data_file)]
    return "".join(f"{k} = {v}\n" for k, v in lines).encode("utf-8")


def open_writer(path: PathType, info: ImageInfo, *, compress: bool | int = False) -> RegionFileWriter:
    """A streamed writer: ``.mhd`` writes ``.raw`` (``.zraw`` compressed) then the header; other names one file.

    Raw data accepts regions in any order (the file is preallocated);
    compressed data (zlib) needs whole slabs along the last axis, in order.
    """
    path = os.fspath(path)
    target = Path(path)
    level = COMPRESSION_LEVEL if compress is True else int(compress)
    compressed = bool(compress)
    big_endian = False
    file_dtype, channels = file_layout(path, info.pixel_type, info.components)
    two_files = target.suffix.lower() == ".mhd"
    data_name = target.with_suffix(".zraw" if compressed else ".raw").name if two_files else "LOCAL"
    _check_metadata(path, info.metadata)  # fail before creating anything

    def header(size: int | None) -> bytes:
        return _header(path, info, data_name, compressed, size, big_endian)

    targets = [target.with_name(data_name), target] if two_files else [target]
    return RegionFileWriter(
        targets=targets,
        header=header,
        info=info,
        file_shape=(*info.geometry.shape, channels),
        file_dtype=file_dtype,
        encoding="zlib" if compressed else "raw",
        level=level,
    )


def write(path: PathType, image: Image, *, compress: bool | int = False) -> None:
    """Write ``image`` atomically (``compress``: zlib, True = level 6, or a level 1-9)."""
    write_through_writer(open_writer, path, image, compress=compress)


IO = FormatIO(
    name=NAME,
    extensions=EXTENSIONS,
    sniff=sniff,
    read_info=read_info,
    read_region=read_region,
    write=write,
    open_writer=open_writer,
    capabilities=Capabilities(
        header_only=True, region_read=True, streamed_write=True, dimensions=(2, 3, 4, 5, 6, 7, 8)
    ),
    description="MetaImage .mha / .mhd+.raw (raw or zlib); region reads touch only the needed bytes when raw",
)
