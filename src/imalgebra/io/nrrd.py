"""NRRD (``.nrrd`` attached, ``.nhdr`` detached): teem's "nearly raw raster data".

Reads: every ``type`` spelling (``short``, ``int16``, ``unsigned char``...),
``endian``, encodings ``raw``, ``gzip`` (also ``gz``), ``bzip2``, ``ascii``
(``text``, ``txt``) and ``hex``; ``line skip`` and ``byte skip`` (``-1``:
raw data at the end of the file); ``data file`` as a name, ``LIST [subdim]``
or a ``printf`` pattern ``format min max step [subdim]``. Geometry follows
ITK's NrrdImageIO: ``space directions`` give spacing (their length) and
direction; ``space origin`` the origin; a right-anterior-superior space (RAS)
is converted to ITK's left-posterior-superior (LPS) by negating x and y. One
non-domain axis (``kinds``: ``vector``, ``RGB-color``, ``complex``, ``list``...)
holds the components (``none`` in ``space directions``), moved last as ITK
does; ``complex`` makes a complex pixel type. Without a space: ``spacings``
and the origin from ``axis mins`` (cell centering by default), as teem does.
Custom ``key:=value`` lines are the metadata, both ways (ITK's escapes for
``\\n`` and ``\\\\`` included).

Where imalgebra differs from ITK (and why):

* ``space: left-anterior-superior`` (LAS) negates y; ITK 5.4 negates x, which
  maps anterior to right (a bug). Spaces with time (``RAST``, ``LAST``) are
  converted like their 3-D part; ITK leaves them unconverted.
* A domain axis whose space direction is ``none`` (more domain axes than the
  space has dimensions, e.g. a 4-D ``RAS`` image with a time axis) is read
  with spacing from ``spacings`` (or 1) and its own unit direction; ITK refuses
  the file.
* ITK's ``NRRD_kinds[i]``, ``NRRD_space`` ... metadata keys are not produced:
  the geometry already says them. Metadata keys starting with ``NRRD_`` are
  not written (ITK does the same).

Written as ITK writes: ``NRRD0004``, ``space: left-posterior-superior`` for
3-D images (``space dimension: N`` otherwise), components on the first axis
(``kinds: vector`` or ``complex``), little-endian, raw or gzip. A label type
is written as its unsigned type plus ``imalgebra_PixelType:=LabelUInt8`` so
imalgebra reads a label back (SimpleITK reads the unsigned type).

Region reads touch only the bytes the region needs for raw data (also when the
components are not the fastest axis); compressed data is decoded as a stream up
to the region's last byte. ``data file`` paths that are absolute or leave the
header's folder are refused unless ``allow_outside=True``.

Example
-------
>>> import tempfile, os
>>> import imalgebra as ia
>>> path = os.path.join(tempfile.mkdtemp(), "a.nrrd")
>>> write(path, ia.Image.zeros((4, 3, 2), ia.PixelType.Float32, origin=(1, 2, 3)))
>>> info = read_info(path)
>>> info.size, info.origin, info.pixel_type
((4, 3, 2), (1.0, 2.0, 3.0), <PixelType.Float32: 8>)
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from pathlib import Path

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

NAME = "NrrdImageIO"
EXTENSIONS = (".nrrd", ".nhdr")
MAX_HEADER = 1 << 20
COMPRESSION_LEVEL = 6

_TYPES: dict[str, str] = {}
for _names, _code in (
    ("signed char, int8, int8_t, char", "i1"),
    ("uchar, unsigned char, uint8, uint8_t", "u1"),
    ("short, short int, signed short, signed short int, int16, int16_t", "i2"),
    ("ushort, unsigned short, unsigned short int, uint16, uint16_t", "u2"),
    ("int, signed int, int32, int32_t", "i4"),
    ("uint, unsigned int, uint32, uint32_t", "u4"),
    ("longlong, long long, long long int, signed long long, signed long long int, int64, int64_t", "i8"),
    ("ulonglong, unsigned long long, unsigned long long int, uint64, uint64_t", "u8"),
    ("float", "f4"),
    ("double", "f8"),
):
    for _name in _names.split(", "):
        _TYPES[_name] = _code
_WRITE_TYPES = {
    "i1": "signed char",
    "u1": "unsigned char",
    "i2": "short",
    "u2": "unsigned short",
    "i4": "int",
    "u4": "unsigned int",
    "i8": "long long int",
    "u8": "unsigned long long int",
    "f4": "float",
    "f8": "double",
}
_ENCODINGS = {
    "raw": "raw",
    "gzip": "gzip",
    "gz": "gzip",
    "bzip2": "bzip2",
    "bz2": "bzip2",
    "ascii": "ascii",
    "text": "ascii",
    "txt": "ascii",
    "hex": "hex",
}
_DOMAIN_KINDS = {"domain", "space", "time"}
_UNKNOWN_KINDS = {"???", "none", "unknown", ""}
# space name -> (space dimension, axes to negate to reach LPS)
_SPACES = {
    "right-anterior-superior": (3, (0, 1)),
    "ras": (3, (0, 1)),
    "left-anterior-superior": (3, (1,)),
    "las": (3, (1,)),
    "left-posterior-superior": (3, ()),
    "lps": (3, ()),
    "right-anterior-superior-time": (4, (0, 1)),
    "rast": (4, (0, 1)),
    "left-anterior-superior-time": (4, (1,)),
    "last": (4, (1,)),
    "left-posterior-superior-time": (4, ()),
    "lpst": (4, ()),
    "scanner-xyz": (3, ()),
    "scanner-xyz-time": (4, ()),
    "3d-right-handed": (3, ()),
    "3d-left-handed": (3, ()),
    "3d-right-handed-time": (4, ()),
    "3d-left-handed-time": (4, ()),
}
_VECTOR = re.compile(r"\(([^)]*)\)|none|\?\?\?", re.IGNORECASE)


def sniff(head: bytes) -> bool:
    """True for the ``NRRD000x`` magic."""
    return head[:7] == b"NRRD000" and head[7:8].isdigit()


# -- header parsing -------------------------------------------------------------------


def _read_header(path: str) -> tuple[dict[str, str], list[tuple[str, str]], int, list[str]]:
    """Fields (normalised names), key/value pairs, the data offset (attached data) and the lines after
    ``data file: LIST``."""
    try:
        with rawfile.open_binary(path) as f:  # through the module: tests count bytes read
            buf = b""
            chunk = 512  # small reads first: a header-only read stops near the header's end
            while True:
                end = _header_end(buf)
                if end is not None:
                    break
                if len(buf) > MAX_HEADER:
                    msg = f"{path}: no end of the NRRD header (an empty line) in the first {MAX_HEADER} bytes"
                    raise ImageIOError(msg)
                more = f.read(chunk)
                chunk = min(chunk * 2, 65536)
                if not more:
                    end = (len(buf), len(buf))
                    break
                buf += more
    except OSError as err:
        if isinstance(err, ImageIOError):
            raise
        msg = f"{path}: cannot read: {err.strerror or err}"
        raise ImageIOError(msg) from err
    text_end, data_offset = end
    lines = buf[:text_end].decode("utf-8", errors="replace").split("\n")
    if not lines or not sniff(lines[0].encode("latin-1", errors="replace")):
        if not buf:
            msg = f"{path}: the file is empty"
        else:
            msg = f"{path}: not a NRRD file: the first line is {lines[0][:40]!r}, expected 'NRRD0004' or similar"
        raise ImageIOError(msg)
    fields: dict[str, str] = {}
    pairs: list[tuple[str, str]] = []
    files: list[str] = []
    listing = False
    for number, raw in enumerate(lines[1:], start=2):
        line = raw.rstrip("\r")
        if listing:
            if line.strip():
                files.append(line.strip())
            continue
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if ":=" in line:
            key, value = line.split(":=", 1)
            pairs.append((_unescape(key), _unescape(value)))
            continue
        if ": " not in line and not line.rstrip().endswith(":"):
            msg = f"{path}: header line {number} is not 'field: value' nor 'key:=value': {line[:60]!r}"
            raise ImageIOError(msg)
        name, _, value = line.partition(":")
        key = name.strip().lower().replace(" ", "")
        fields[key] = value.strip()
        if key == "datafile" and value.split()[:1] and value.split()[0].upper() == "LIST":
            listing = True
    return fields, pairs, data_offset, files


def _header_end(buf: bytes) -> tuple[int, int] | None:
    """(end of the header text, start of the data) at the first empty line, or None."""
    best = None
    for sep in (b"\n\n", b"\n\r\n"):
        at = buf.find(sep)
        if at >= 0 and (best is None or at < best[0]):
            best = (at, at + len(sep))
    return best


def _unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in "n\\":
            out.append("\n" if text[i + 1] == "n" else "\\")
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _floats(path: str, field: str, text: str) -> list[float]:
    try:
        return [float(v) for v in text.replace(",", " ").split()]
    except ValueError:
        msg = f"{path}: {field} must be numbers, got {text!r}"
        raise ImageIOError(msg) from None


def _vectors(path: str, field: str, text: str, count: int) -> list[list[float] | None]:
    found = list(_VECTOR.finditer(text))
    if len(found) != count:
        msg = f"{path}: {field} needs {count} entries ('(x,y,z)' or 'none'), got {text!r}"
        raise ImageIOError(msg)
    out: list[list[float] | None] = []
    for m in found:
        if m.group(1) is None:
            out.append(None)
            continue
        values = _floats(path, field, m.group(1))
        if not all(math.isfinite(v) for v in values):
            out.append(None)  # "(nan,nan,nan)" means no direction
            continue
        out.append(values)
    return out


def read_info(path: PathType, *, allow_outside: bool = False) -> RawImageInfo:
    """The header of a NRRD file: geometry (LPS), pixel type, components, metadata (no pixel is read)."""
    path = os.fspath(path)
    fields, pairs, data_offset, listed = _read_header(path)
    for required in ("type", "dimension", "sizes"):
        if required not in fields:
            msg = f"{path}: the header has no '{required}:' field (required in NRRD)"
            raise ImageIOError(msg)
    type_name = " ".join(fields["type"].lower().split())
    if type_name not in _TYPES:
        known = ", ".join(sorted(_WRITE_TYPES.values()))
        msg = f"{path}: NRRD type {fields['type']!r} is not supported; supported: {known}"
        raise ImageIOError(msg)
    try:
        dim = int(fields["dimension"])
        sizes = [int(v) for v in fields["sizes"].split()]
    except ValueError:
        msg = f"{path}: dimension and sizes must be integers, got {fields['dimension']!r} and {fields['sizes']!r}"
        raise ImageIOError(msg) from None
    if len(sizes) != dim or dim < 1 or min(sizes) < 1:
        msg = f"{path}: sizes {sizes} must be {dim} positive integers (dimension: {dim})"
        raise ImageIOError(msg)
    encoding = _ENCODINGS.get(fields.get("encoding", "raw").lower())
    if encoding is None:
        msg = f"{path}: encoding {fields.get('encoding')!r} is not supported; supported: raw, gzip, bzip2, ascii, hex"
        raise ImageIOError(msg)
    code = _TYPES[type_name]
    big = fields.get("endian", "little").lower() == "big"
    dtype = np.dtype(code).newbyteorder(">" if big else "<")

    kinds = fields.get("kinds", "").split() or ["???"] * dim
    if len(kinds) != dim:
        msg = f"{path}: kinds {kinds} must have {dim} entries"
        raise ImageIOError(msg)
    kinds = [k.lower() for k in kinds]
    range_axes = [i for i, k in enumerate(kinds) if k not in _DOMAIN_KINDS and k not in _UNKNOWN_KINDS]
    if len(range_axes) > 1:
        msg = f"{path}: kinds {kinds} have {len(range_axes)} non-domain axes; one (the components) is supported"
        raise ImageIOError(msg)
    domain = [i for i in range(dim) if i not in range_axes]
    if not 2 <= len(domain) <= 8:
        msg = f"{path}: {len(domain)} domain axes; images have 2 to 8 dimensions"
        raise ImageIOError(msg)

    metadata = dict(pairs)
    marker = metadata.pop(PIXEL_TYPE_KEY, None)
    scalar = PixelType.from_dtype(dtype)
    components, complex_pairs, drop_first = 1, False, False
    if range_axes:
        kind = kinds[range_axes[0]]
        components = sizes[range_axes[0]]
        if kind == "complex":
            if components != 2 or not scalar.is_float:
                msg = f"{path}: a 'complex' axis needs size 2 of float or double, got {components} of {type_name}"
                raise ImageIOError(msg)
            pixel_type = PixelType.ComplexFloat32 if scalar is PixelType.Float32 else PixelType.ComplexFloat64
            complex_pairs, components = True, 1
        else:
            if kind == "3d-masked-symmetric-matrix":
                drop_first, components = True, components - 1
            pixel_type = scalar.vector_type
    else:
        pixel_type = scalar
    pixel_type = _apply_marker(pixel_type, scalar, marker)

    geometry = _geometry(path, fields, sizes, domain)
    sources, outer = _sources(path, fields, sizes, dtype, encoding, data_offset, listed, allow_outside)
    cax = None if not range_axes else dim - 1 - range_axes[0]
    if outer and cax is not None and cax < outer:
        msg = f"{path}: the component axis cannot be split across data files"
        raise ImageIOError(msg)
    layout = Layout(
        sources=sources,
        shape=tuple(sizes[::-1]),
        outer=outer,
        component_axis=cax,
        complex_pairs=complex_pairs,
        drop_first_component=drop_first,
    )
    check_sources(sources, path)
    return RawImageInfo(
        geometry=geometry,
        pixel_type=pixel_type,
        components=components if pixel_type.is_vector else 1,
        metadata=metadata,
        io=NAME,
        path=path,
        layout=layout,
    )


def _apply_marker(pixel_type: PixelType, scalar: PixelType, marker: str | None) -> PixelType:
    if marker is None:
        return pixel_type
    try:
        wanted = PixelType[marker.strip()]
    except KeyError:
        return pixel_type
    if wanted.is_label and pixel_type == scalar and wanted.dtype == scalar.dtype:
        return wanted
    return pixel_type


def _geometry(path: str, fields: Mapping[str, str], sizes: list[int], domain: list[int]) -> Geometry:
    d = len(domain)
    size = [sizes[i] for i in domain]
    space = fields.get("space", "").strip().lower()
    flips: tuple[int, ...] = ()
    space_dim = 0
    if space:
        if space not in _SPACES:
            msg = f"{path}: space {fields['space']!r} is not a NRRD space name"
            raise ImageIOError(msg)
        space_dim, flips = _SPACES[space]
    elif "spacedimension" in fields:
        try:
            space_dim = int(fields["spacedimension"])
        except ValueError:
            msg = f"{path}: space dimension must be an integer, got {fields['spacedimension']!r}"
            raise ImageIOError(msg) from None
    spacings_all = _floats(path, "spacings", fields["spacings"]) if "spacings" in fields else [math.nan] * len(sizes)
    if len(spacings_all) != len(sizes):
        msg = f"{path}: spacings needs {len(sizes)} values, got {fields['spacings']!r}"
        raise ImageIOError(msg)

    spacing = [1.0] * d
    direction = np.eye(d)
    origin = [0.0] * d
    if space_dim:
        if space_dim > d:
            msg = f"{path}: the space has {space_dim} dimensions but the image only {d} domain axes"
            raise ImageIOError(msg)
        vectors = (
            _vectors(path, "space directions", fields["spacedirections"], len(sizes))
            if "spacedirections" in fields
            else [None] * len(sizes)
        )
        extra = space_dim
        for col, axis in enumerate(domain):
            vec = vectors[axis]
            if vec is not None and len(vec) != space_dim:
                msg = f"{path}: space direction {vec} of axis {axis} needs {space_dim} values"
                raise ImageIOError(msg)
            if vec is None:
                # no direction for this axis: its own unit vector beyond the space's dimensions
                given = spacings_all[axis]
                spacing[col] = abs(given) if math.isfinite(given) and given != 0 else 1.0
                direction[:, col] = 0.0
                row = extra if extra < d else col
                direction[row, col] = -1.0 if math.isfinite(given) and given < 0 else 1.0
                extra += 1
                continue
            v = np.asarray(vec, dtype=float)
            for k in flips:
                v[k] = -v[k]
            norm = float(np.linalg.norm(v))
            if norm == 0:
                msg = f"{path}: space direction of axis {axis} is a zero vector"
                raise ImageIOError(msg)
            spacing[col] = norm
            direction[:, col] = 0.0
            direction[:space_dim, col] = v / norm
        if "spaceorigin" in fields:
            found = _vectors(path, "space origin", fields["spaceorigin"], 1)[0]
            if found is not None:
                if len(found) != space_dim:
                    msg = f"{path}: space origin {found} needs {space_dim} values"
                    raise ImageIOError(msg)
                for k in flips:
                    found[k] = -found[k]
                origin[:space_dim] = found
    else:
        for col, axis in enumerate(domain):
            given = spacings_all[axis]
            if math.isfinite(given) and given != 0:
                spacing[col] = abs(given)
                if given < 0:
                    direction[col, col] = -1.0
        origin = _axis_min_origin(path, fields, sizes, domain, spacings_all)
    try:
        return Geometry(size=size, origin=np.asarray(origin) + 0.0, spacing=spacing, direction=direction.ravel() + 0.0)
    except GeometryError as err:  # (+ 0.0 turns -0.0 into 0.0)
        msg = f"{path}: the header's geometry is invalid: {err}"
        raise ImageIOError(msg) from err


def _axis_min_origin(
    path: str, fields: Mapping[str, str], sizes: list[int], domain: list[int], spacings: list[float]
) -> list[float]:
    """teem's nrrdOriginCalculate (cell centering by default): 0 unless every domain axis has a min."""
    n = len(sizes)
    mins = _floats(path, "axis mins", fields["axismins"]) if "axismins" in fields else [math.nan] * n
    maxs = _floats(path, "axis maxs", fields["axismaxs"]) if "axismaxs" in fields else [math.nan] * n
    centers = (fields.get("centers") or fields.get("centerings") or "").lower().split() or ["???"] * n
    if len(mins) != n or len(maxs) != n or len(centers) != n:
        return [0.0] * len(domain)
    out = []
    for axis in domain:
        lo, hi, step = mins[axis], maxs[axis], spacings[axis]
        if not math.isfinite(lo):
            return [0.0] * len(domain)
        cell = centers[axis] != "node"
        if math.isfinite(hi):
            out.append(lo + (hi - lo) / (2 * sizes[axis]) if cell else lo)
        elif math.isfinite(step):
            out.append(lo + step / 2 if cell else lo)
        else:
            return [0.0] * len(domain)
    return out


def _sources(
    path: str,
    fields: Mapping[str, str],
    sizes: list[int],
    dtype: np.dtype,
    encoding: str,
    data_offset: int,
    listed: list[str],
    allow_outside: bool,
) -> tuple[list[RawSource], int]:
    dim = len(sizes)
    try:
        line_skip = int(fields.get("lineskip", "0"))
        byte_skip = int(fields.get("byteskip", "0"))
    except ValueError:
        msg = f"{path}: line skip and byte skip must be integers"
        raise ImageIOError(msg) from None
    if line_skip < 0 or byte_skip < -1:
        msg = f"{path}: line skip {line_skip} / byte skip {byte_skip} are invalid"
        raise ImageIOError(msg)
    if byte_skip == -1 and encoding != "raw":
        msg = f"{path}: 'byte skip: -1' (data at the end) only works with raw encoding, not {encoding}"
        raise ImageIOError(msg)

    def source(file: str, shape: tuple[int, ...], offset: int) -> RawSource:
        nbytes = math.prod(shape) * dtype.itemsize
        skip = 0  # bytes skipped after the line skip (in the decoded stream when compressed)
        if byte_skip == -1:
            offset = max(0, os.path.getsize(file) - nbytes) if os.path.exists(file) else 0
        else:
            skip = byte_skip
        return RawSource(
            path=file, offset=offset, dtype=dtype, shape=shape, encoding=encoding, skip=skip, line_skip=line_skip
        )

    spec = fields.get("datafile")
    if spec is None:
        return [source(path, tuple(sizes[::-1]), data_offset)], 0
    words = spec.split()
    if words and words[0].upper() == "LIST":
        subdim = int(words[1]) if len(words) > 1 and words[1].isdigit() else dim - 1
        subdim = subdim if 0 < subdim <= dim else dim - 1
        n_files = math.prod(sizes[subdim:])
        if len(listed) < n_files:
            msg = f"{path}: 'data file: LIST' needs {n_files} file names after it, found {len(listed)}"
            raise ImageIOError(msg)
        block = tuple(sizes[:subdim][::-1])
        return [
            source(resolve_data_file(path, name, allow_outside, "data file"), block, 0) for name in listed[:n_files]
        ], dim - subdim
    if "%" in spec:
        count = 4 if len(words) >= 5 and all(_is_int(w) for w in words[-4:]) else 3
        if len(words) < count + 1 or not all(_is_int(w) for w in words[-count:]):
            msg = f"{path}: data file {spec!r} must be 'format min max step [subdim]'"
            raise ImageIOError(msg)
        pattern = " ".join(words[:-count])
        numbers = [int(w) for w in words[-count:]]
        first, last, step = numbers[:3]
        subdim = int(numbers[3]) if len(numbers) > 3 else dim - 1
        subdim = subdim if 0 < subdim <= dim else dim - 1
        if step == 0 or (last - first) * step < 0:
            msg = f"{path}: data file {spec!r} has a step that never reaches max"
            raise ImageIOError(msg)
        indices = range(first, last + (1 if step > 0 else -1), step)
        n_files = math.prod(sizes[subdim:])
        if len(indices) != n_files or n_files > MAX_DATA_FILES:
            msg = (
                f"{path}: data file {spec!r} names {len(indices)} files but the sizes need {n_files} "
                f"(at most {MAX_DATA_FILES} data files are read)"
            )
            raise ImageIOError(msg)
        try:
            names = [pattern % i for i in indices]
        except (TypeError, ValueError) as err:
            msg = f"{path}: data file pattern {pattern!r} is not a printf pattern with one number: {err}"
            raise ImageIOError(msg) from None
        block = tuple(sizes[:subdim][::-1])
        return [
            source(resolve_data_file(path, name, allow_outside, "data file"), block, 0) for name in names
        ], dim - subdim
    return [source(resolve_data_file(path, spec, allow_outside, "data file"), tuple(sizes[::-1]), 0)], 0


def _is_int(word: str) -> bool:
    return word.lstrip("+-").isdigit()


def read_region(path: PathType, info: ImageInfo, region: Region) -> np.ndarray:
    """The pixels of ``region`` as ``[z, y, x(, c)]``; raw data: only the bytes the region needs."""
    if not isinstance(info, RawImageInfo) or info.layout is None:
        info = read_info(path)
    assert info.layout is not None
    return read_layout(info.layout, region)


# -- writing -------------------------------------------------------------------------


def _vector_text(values: np.ndarray | list[float]) -> str:
    return "(" + ",".join(format_number(v) for v in values) + ")"


def _metadata_lines(path: str, metadata: Mapping[str, str]) -> list[str]:
    lines = []
    for key, value in metadata.items():
        if key.startswith("NRRD_") or key == PIXEL_TYPE_KEY:
            continue
        if not key or ":=" in key or "\n" in key or "\r" in key or key != key.strip() or key.startswith("#"):
            msg = (
                f"{path}: metadata key {key!r} cannot be a NRRD key (it needs no ':=', no line break, no leading "
                "'#' and no leading or trailing space); rename it"
            )
            raise ImageIOError(msg)
        if "\r" in value:
            msg = f"{path}: metadata {key!r} holds a carriage return, which a NRRD header cannot store"
            raise ImageIOError(msg)
        lines.append(f"{_escape(key)}:={_escape(value)}")
    return lines


def _header(path: str, info: ImageInfo, data_file: str | None, compressed: bool) -> bytes:
    g = info.geometry
    n = g.dimension
    pt = info.pixel_type
    if pt.is_complex:
        code = f"f{pt.dtype.itemsize // 2}"
        lead: list[tuple[int, str]] = [(2, "complex")]
    elif pt.is_vector:
        code = pt.component_type.dtype.str[1:]
        lead = [(info.components, "vector")]
    else:
        code = pt.component_type.dtype.str[1:]
        lead = []
    matrix = g.index_to_physical_matrix
    lines = [
        "NRRD0004",
        "# Complete NRRD file format specification at:",
        "# http://teem.sourceforge.net/nrrd/format.html",
        f"type: {_WRITE_TYPES[code]}",
        f"dimension: {n + len(lead)}",
        "space: left-posterior-superior" if n == 3 else f"space dimension: {n}",
        "sizes: " + " ".join(str(s) for s in [*(c for c, _ in lead), *g.size]),
        "space directions: " + " ".join(["none"] * len(lead) + [_vector_text(matrix[:, k]) for k in range(n)]),
        "kinds: " + " ".join([k for _, k in lead] + ["domain"] * n),
    ]
    if np.dtype(code).itemsize > 1:
        lines.append("endian: little")
    lines += [f"encoding: {'gzip' if compressed else 'raw'}", f"space origin: {_vector_text(g.origin)}"]
    if data_file is not None:
        lines.append(f"data file: {data_file}")
    if pt.is_label:
        lines.append(f"{PIXEL_TYPE_KEY}:={pt.name}")
    lines += _metadata_lines(path, info.metadata)
    text = "\n".join(lines) + "\n"
    if data_file is None:
        text += "\n"  # an empty line ends an attached header
    return text.encode("utf-8")


def open_writer(path: PathType, info: ImageInfo, *, compress: bool | int = False) -> RegionFileWriter:
    """A streamed writer: ``.nhdr`` writes ``<name>.raw`` (``.raw.gz`` compressed) then the header.

    Raw data accepts regions in any order; gzip needs whole slabs along the last
    axis, in order.
    """
    path = os.fspath(path)
    target = Path(path)
    compressed = bool(compress)
    level = COMPRESSION_LEVEL if compress is True else int(compress)
    file_dtype, channels = file_layout(path, info.pixel_type, info.components)
    detached = target.suffix.lower() == ".nhdr"
    data_name = target.with_suffix(".raw.gz" if compressed else ".raw").name if detached else None
    _metadata_lines(path, info.metadata)  # fail before creating anything

    def header(_size: int | None) -> bytes:
        return _header(path, info, data_name, compressed)

    targets = [target.with_name(data_name), target] if data_name else [target]
    return RegionFileWriter(
        targets=targets,
        header=header,
        info=info,
        file_shape=(*info.geometry.shape, channels),
        file_dtype=file_dtype,
        encoding="gzip" if compressed else "raw",
        level=level,
    )


def write(path: PathType, image: Image, *, compress: bool | int = False) -> None:
    """Write ``image`` atomically (``compress``: gzip, True = level 6, or a level 1-9)."""
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
    description="NRRD .nrrd / .nhdr (raw, gzip, bzip2, ascii, hex); region reads touch only the needed bytes when raw",
)
