"""NIfTI-1 and NIfTI-2 files (``.nii``, ``.nii.gz``, ``.hdr`` + ``.img``), read and written as ITK does.

The header is parsed here (a 348- or 540-byte struct) rather than through
nibabel: region reads need the byte layout anyway, and parsing it ourselves
keeps every rule of ITK's ``NiftiImageIO`` in one place and never allocates
what a header claims before the file shows it holds that many bytes.

Geometry follows ITK 5.4 / SimpleITK exactly:

* NIfTI stores RAS+ coordinates, images are LPS+ in memory: the x and y rows
  of the affine (and of the origin) change sign.
* qform vs sform: ITK's rules (``NiftiImageIO::SetImageIOOrientationFromNIfTI``):
  with no codes the origin is 0 and the direction identity; otherwise the sform
  is used when its columns are orthonormal after removing their lengths and
  either the qform code is 0, or the sform code is 1 (scanner), or qform and
  sform describe the same spacing, rotation and offset within 1e-4; else the
  qform. (One band differs: with both codes set, the sform code not 1 and the
  two affines 1e-7..1e-4 apart, ITK compares the U factors of two SVDs whose
  signs flip from file to file; the stable polar factors are compared here.)
  Where ITK gives up ("No orthonormal definition found": qform code 0 and
  a sheared sform), imalgebra reads the sform as it is, a non-orthogonal
  direction (ITK refuses the file).
* spacing comes from ``pixdim`` (times the unit scale of ``xyzt_units``), not
  from the affine; a negative pixdim flips that axis' direction column.
* scalar files with more than 3 dimensions drop trailing axes of size 1 down to
  3D (vector files: down to 2D), so a 4D image with one time point reads back
  3D, as in SimpleITK; 4D is (x, y, z, t) with spacing[3] = pixdim[4] and
  origin[3] = toffset.
* vector images use intent 1007 (vector) or 1006 (displacement) with the
  components in ``dim[5]``; RGB24/RGBA32 read as VectorUInt8.
* ``scl_slope``/``scl_inter`` are applied when the slope is nonzero and not the
  identity; integer files then read as Float32 (as SimpleITK reports), float
  files keep their type. (SimpleITK 2.5.7 rescales only the first half of a
  complex file's values and crashes on scaled vector files; both are scaled
  whole here.)
* The header fields are in the metadata under SimpleITK's keys (``qform_code``,
  ``sform_code``, ``descrip``, ``srow_x``, ``dim[1]``...; ``ITK_FileNotes`` is
  the description). ``qfac`` and ``qto_xyz`` hold numbers here, where SimpleITK
  shows a placeholder string.

Writing follows ITK's writer: NIfTI-1, qform and sform both set (code 1,
scanner anatomical), the sform carrying the spacing, units mm and s. Custom
metadata is lost, as in SimpleITK (NIfTI has no place for it) except the
description (``ITK_FileNotes``, at most 79 characters), ``aux_file`` and the
displacement intent. NIfTI stores geometry as float32, so origin and spacing
round to about 7 significant digits. The direction must be orthonormal (NIfTI's
qform cannot hold a sheared one and ITK would silently change it) and, for 4D,
must not mix time with space.

Region reads of uncompressed files read only the rows the region needs (reads
separated by small gaps are merged); ``.nii.gz`` has no random access, so a
region read decompresses the stream up to the region's last byte.

Example
-------
>>> import tempfile, os, numpy as np, imalgebra as ia
>>> from imalgebra.io import nifti
>>> img = ia.from_array(np.arange(24, dtype=np.int16).reshape(2, 3, 4)).with_spacing((0.5, 1, 2))
>>> path = os.path.join(tempfile.mkdtemp(), "a.nii")
>>> nifti.write(path, img)
>>> info = nifti.read_info(path)
>>> info.size, info.spacing, info.metadata["qform_code"]
((4, 3, 2), (0.5, 1.0, 2.0), '1')
>>> part = nifti.read_region(path, info, ia.Region(index=(1, 1, 1), size=(2, 2, 1)))
>>> part.tolist()
[[[17, 18], [21, 22]]]
"""

from __future__ import annotations

import contextlib
import gzip
import io
import math
import mmap
import os
import struct
import tempfile
import zlib
from pathlib import Path
from typing import Any, BinaryIO

import attrs
import numpy as np

from imalgebra.algebra.geometry import Geometry, Region
from imalgebra.algebra.image import Image
from imalgebra.algebra.pixel import PixelType
from imalgebra.errors import ImageIOError
from imalgebra.io import _inflate
from imalgebra.io.atomic import TEMP_PREFIX, AtomicFiles, atomic_path
from imalgebra.io.base import Capabilities, FormatIO, ImageInfo, PathType

__all__ = ["IO", "open_writer", "read_info", "read_region", "sniff", "write"]

NAME = "NiftiImageIO"
EXTENSIONS = (".nii.gz", ".nii", ".hdr", ".img", ".img.gz")

# -- the two header layouts -------------------------------------------------------------------------------------

_N1_FIELDS = [
    ("sizeof_hdr", "i4"),
    ("data_type", "S10"),
    ("db_name", "S18"),
    ("extents", "i4"),
    ("session_error", "i2"),
    ("regular", "S1"),
    ("dim_info", "u1"),
    ("dim", "i2", (8,)),
    ("intent_p1", "f4"),
    ("intent_p2", "f4"),
    ("intent_p3", "f4"),
    ("intent_code", "i2"),
    ("datatype", "i2"),
    ("bitpix", "i2"),
    ("slice_start", "i2"),
    ("pixdim", "f4", (8,)),
    ("vox_offset", "f4"),
    ("scl_slope", "f4"),
    ("scl_inter", "f4"),
    ("slice_end", "i2"),
    ("slice_code", "u1"),
    ("xyzt_units", "u1"),
    ("cal_max", "f4"),
    ("cal_min", "f4"),
    ("slice_duration", "f4"),
    ("toffset", "f4"),
    ("glmax", "i4"),
    ("glmin", "i4"),
    ("descrip", "S80"),
    ("aux_file", "S24"),
    ("qform_code", "i2"),
    ("sform_code", "i2"),
    ("quatern_b", "f4"),
    ("quatern_c", "f4"),
    ("quatern_d", "f4"),
    ("qoffset_x", "f4"),
    ("qoffset_y", "f4"),
    ("qoffset_z", "f4"),
    ("srow_x", "f4", (4,)),
    ("srow_y", "f4", (4,)),
    ("srow_z", "f4", (4,)),
    ("intent_name", "S16"),
    ("magic", "S4"),
]

_N2_FIELDS = [
    ("sizeof_hdr", "i4"),
    ("magic", "S8"),
    ("datatype", "i2"),
    ("bitpix", "i2"),
    ("dim", "i8", (8,)),
    ("intent_p1", "f8"),
    ("intent_p2", "f8"),
    ("intent_p3", "f8"),
    ("pixdim", "f8", (8,)),
    ("vox_offset", "i8"),
    ("scl_slope", "f8"),
    ("scl_inter", "f8"),
    ("cal_max", "f8"),
    ("cal_min", "f8"),
    ("slice_duration", "f8"),
    ("toffset", "f8"),
    ("slice_start", "i8"),
    ("slice_end", "i8"),
    ("descrip", "S80"),
    ("aux_file", "S24"),
    ("qform_code", "i4"),
    ("sform_code", "i4"),
    ("quatern_b", "f8"),
    ("quatern_c", "f8"),
    ("quatern_d", "f8"),
    ("qoffset_x", "f8"),
    ("qoffset_y", "f8"),
    ("qoffset_z", "f8"),
    ("srow_x", "f8", (4,)),
    ("srow_y", "f8", (4,)),
    ("srow_z", "f8", (4,)),
    ("slice_code", "i4"),
    ("xyzt_units", "i4"),
    ("intent_code", "i4"),
    ("intent_name", "S16"),
    ("dim_info", "u1"),
    ("unused_str", "S15"),
]


def _dtype(fields: list[Any], order: str) -> np.dtype:
    return np.dtype([(f[0], order + f[1] if f[1][0] not in "S" else f[1], *f[2:]) for f in fields])


_N1_SIZE = 348
_N2_SIZE = 540
assert _dtype(_N1_FIELDS, "<").itemsize == _N1_SIZE
assert _dtype(_N2_FIELDS, "<").itemsize == _N2_SIZE

# NIfTI datatype code -> (numpy dtype of one component, components stored per voxel, name)
_DATATYPES: dict[int, tuple[str, int, str]] = {
    2: ("u1", 1, "uint8"),
    4: ("i2", 1, "int16"),
    8: ("i4", 1, "int32"),
    16: ("f4", 1, "float32"),
    32: ("c8", 1, "complex64"),
    64: ("f8", 1, "float64"),
    128: ("u1", 3, "RGB24"),
    256: ("i1", 1, "int8"),
    512: ("u2", 1, "uint16"),
    768: ("u4", 1, "uint32"),
    1024: ("i8", 1, "int64"),
    1280: ("u8", 1, "uint64"),
    1792: ("c16", 1, "complex128"),
    2304: ("u1", 4, "RGBA32"),
}
_UNSUPPORTED_TYPES = {0: "unknown", 1: "binary (1 bit)", 1536: "float128", 2048: "complex256"}
_CODE_FOR_DTYPE = {np.dtype(spec[0]).str[1:]: code for code, spec in _DATATYPES.items() if spec[1] == 1}

_INTENT_DISPVECT = 1006
_INTENT_VECTOR = 1007
_INTENT_SYMMATRIX = 1005
_INTENT_GENMATRIX = 1004

_XFORM_NAMES = {
    0: "NIFTI_XFORM_UNKNOWN",
    1: "NIFTI_XFORM_SCANNER_ANAT",
    2: "NIFTI_XFORM_ALIGNED_ANAT",
    3: "NIFTI_XFORM_TALAIRACH",
    4: "NIFTI_XFORM_MNI_152",
}
_SPACE_SCALE = {1: 1e3, 2: 1.0, 3: 1e-3}  # meter, mm, micron -> mm
_TIME_SCALE = {8: 1.0, 16: 1e-3, 24: 1e-6}  # s, ms, us -> s

# Reads separated by fewer bytes than this are merged into one read (a syscall costs
# about as much as copying this many bytes); a gzip stream merges more since
# skipping costs as much as decompressing.
_COALESCE_RAW = 8192
_COALESCE_GZ = 1 << 20
# Region reads of uncompressed files copy the region out of a memory map of its byte span:
# 64^3 of a 512^3 int16 file in 0.3 ms (reading the rows with coalesced reads: 3 ms).
_USE_MMAP = True
_MAX_DEFLATE_RATIO = 1032  # deflate cannot compress better than this
# gzip level for .nii.gz: SimpleITK's zlib-ng at its default level writes 256 MiB of int16 noise
# in 5.9 s; the standard library's zlib needs 23 s at level 6 and 5.3 s at level 1 (files 2.5% larger).
_GZIP_LEVEL = 1


def _open(path: PathType) -> BinaryIO:
    """Open a file for reading, unbuffered (tests replace this to count bytes)."""
    return open(path, "rb", buffering=0)


# -- sniffing and header parsing ---------------------------------------------------------------------------------


def _header_kind(raw: bytes) -> tuple[int, str] | None:
    """(version, byte order) when ``raw`` starts with a NIfTI-1/2 header, else None."""
    if len(raw) < 4:
        return None
    for order in "<>":
        size = struct.unpack(order + "i", raw[:4])[0]
        if size == _N1_SIZE and len(raw) >= _N1_SIZE and raw[344:348] in (b"n+1\0", b"ni1\0"):
            return 1, order
        if size == _N2_SIZE and len(raw) >= 12 and raw[4:8] in (b"n+2\0", b"ni2\0"):
            return 2, order
    return None


def sniff(head: bytes) -> bool:
    """True when ``head`` is the start of a NIfTI-1/2 header, plain or gzip-compressed.

    >>> sniff(b"\\x5c\\x01\\x00\\x00" + bytes(340) + b"n+1\\x00"), sniff(b"P5 ")
    (True, False)
    """
    try:
        if head[:2] == b"\x1f\x8b":
            head = zlib.decompressobj(wbits=31).decompress(head, _N2_SIZE)
        return _header_kind(head) is not None
    except Exception:  # a sniffer never raises
        return False


def _is_gz(path: PathType) -> bool:
    return str(path).lower().endswith(".gz")


def _text(value: bytes, limit: int) -> str:
    return value[:limit].split(b"\0", 1)[0].decode("utf-8", errors="replace")


def _fixed(value: float) -> float:
    """niftilib's FIXED_FLOAT: non-finite numbers become 0."""
    return float(value) if math.isfinite(value) else 0.0


def _g(value: float) -> str:
    """A number as C++ ``ostream << value`` prints it (6 significant digits)."""
    return f"{value:g}"


@attrs.frozen(kw_only=True)
class _Header:
    """What read_info and read_region need from a header (after niftilib's fixes)."""

    path: str
    data_path: str
    version: int
    order: str
    offset: int
    gz: bool
    datatype: int
    file_shape: tuple[int, ...]  # C order of the data block, components-first for vector images
    vector_layout: bool  # components are the outermost axis on disk (intent vector)
    item_components: int  # components stored inside one voxel (RGB 3, RGBA 4, else 1)
    symmatrix_order: tuple[int, ...] | None
    rescale: tuple[float, float] | None
    info: ImageInfo

    @property
    def component_dtype(self) -> np.dtype:
        return np.dtype(self.order + _DATATYPES[self.datatype][0]) if self.datatype in _DATATYPES else np.dtype("u1")

    @property
    def item_bytes(self) -> int:
        return self.component_dtype.itemsize * self.item_components

    @property
    def data_bytes(self) -> int:
        return int(np.prod(self.file_shape, dtype=np.int64)) * self.item_bytes


def _read_head_bytes(path: PathType, count: int) -> bytes:
    try:
        if _is_gz(path):
            with gzip.open(path, "rb") as f:
                return f.read(count)
        with _open(path) as f:
            return f.read(count)
    except FileNotFoundError:
        msg = f"{path}: no such file"
        raise ImageIOError(msg) from None
    except IsADirectoryError:
        msg = f"{path}: is a directory, not a NIfTI file"
        raise ImageIOError(msg) from None
    except PermissionError as err:
        msg = f"{path}: cannot be read ({err.strerror})"
        raise ImageIOError(msg) from None
    except (OSError, EOFError, zlib.error) as err:
        msg = f"{path}: not a readable gzip stream ({err}); a .gz name needs gzip content"
        raise ImageIOError(msg) from None


def _load_header(path: PathType) -> _Header:
    path = os.fspath(path)
    raw = _read_head_bytes(path, _N2_SIZE)
    if not raw:
        msg = f"{path}: the file is empty, not a NIfTI file"
        raise ImageIOError(msg)
    kind = _header_kind(raw)
    if kind is None:
        if len(raw) >= _N1_SIZE and struct.unpack("<i", raw[:4])[0] in (348, 0x5C010000):
            msg = (
                f"{path}: an Analyze 7.5 header without the NIfTI magic ('n+1'/'ni1'); "
                "Analyze files are not supported, convert them to NIfTI first"
            )
        elif len(raw) < _N1_SIZE and raw[:4] in (b"\x5c\x01\x00\x00", b"\x00\x00\x01\x5c"):
            msg = f"{path}: truncated NIfTI header ({len(raw)} bytes, needs {_N1_SIZE})"
        else:
            msg = f"{path}: not a NIfTI file (no NIfTI-1/NIfTI-2 header: sizeof_hdr 348/540 and magic n+1/ni1/n+2)"
        raise ImageIOError(msg)
    version, order = kind
    fields = _N1_FIELDS if version == 1 else _N2_FIELDS
    size = _N1_SIZE if version == 1 else _N2_SIZE
    if len(raw) < size:
        msg = f"{path}: truncated NIfTI-{version} header ({len(raw)} bytes, needs {size})"
        raise ImageIOError(msg)
    hdr = np.frombuffer(raw[:size], dtype=_dtype(fields, order))[0]
    return _interpret(path, hdr, version, order)


def _data_path(path: str, magic: bytes) -> tuple[str, bool]:
    """The file holding the pixels (the same file for n+1/n+2; the .img of a pair)."""
    if magic[:3] in (b"n+1", b"n+2"):
        return path, _is_gz(path)
    lower = path.lower()
    for ext in (".hdr.gz", ".hdr", ".img.gz", ".img"):
        if lower.endswith(ext):
            base = path[: -len(ext)]
            break
    else:
        msg = f"{path}: a two-file NIfTI header (magic 'ni1') must be named .hdr (with its pixels in .img)"
        raise ImageIOError(msg)
    for ext in (".img", ".img.gz", ".IMG"):
        if os.path.exists(base + ext):
            return base + ext, ext.endswith(".gz")
    msg = f"{path}: the pixel file {os.path.basename(base)}.img of this two-file NIfTI header is missing"
    raise ImageIOError(msg)


def _interpret(path: str, hdr: np.void, version: int, order: str) -> _Header:
    dims = [int(v) for v in hdr["dim"]]
    if not 1 <= dims[0] <= 7:
        msg = f"{path}: bad NIfTI header: dim[0] = {dims[0]} (must be 1..7)"
        raise ImageIOError(msg)
    if dims[1] <= 0:
        msg = f"{path}: bad NIfTI header: dim[1] = {dims[1]} (must be positive)"
        raise ImageIOError(msg)
    # niftilib's repairs: bad sizes inside dim[0] become 1, garbage beyond it too
    for i in range(2, dims[0] + 1):
        if dims[i] <= 0:
            dims[i] = 1
    for i in range(dims[0] + 1, 8):
        if dims[i] not in (0, 1):
            dims[i] = 1
    pixdim = [float(v) for v in hdr["pixdim"]]
    for i in range(1, dims[0] + 1):
        if pixdim[i] == 0.0 or not math.isfinite(pixdim[i]):
            pixdim[i] = 1.0
    datatype = int(hdr["datatype"])
    if datatype not in _DATATYPES:
        name = _UNSUPPORTED_TYPES.get(datatype, "not a NIfTI datatype")
        msg = f"{path}: NIfTI datatype {datatype} ({name}) is not supported; supported: " + ", ".join(
            v[2] for v in _DATATYPES.values()
        )
        raise ImageIOError(msg)
    comp_dtype, item_components, _ = _DATATYPES[datatype]
    intent = int(hdr["intent_code"])
    data_path, gz = _data_path(path, bytes(hdr["magic"]))

    # dimensions and components, as NiftiImageIO::ReadImageInformation decides them
    vector = intent in (_INTENT_DISPVECT, _INTENT_VECTOR, _INTENT_SYMMATRIX)
    if intent == _INTENT_GENMATRIX:
        msg = f"{path}: intent NIFTI_INTENT_GENMATRIX (1004) is not supported (nor by ITK)"
        raise ImageIOError(msg)
    if vector:
        ndim = 4 if dims[4] > 1 else 3 if dims[3] > 1 else 2
        components = dims[5]
        if dims[6] > 1 or dims[7] > 1:
            msg = f"{path}: a vector NIfTI image with dim[6]/dim[7] > 1 ({dims[6]}, {dims[7]}) is not supported"
            raise ImageIOError(msg)
        if item_components > 1 or np.dtype(comp_dtype).kind == "c":
            msg = f"{path}: vector intent {intent} with datatype {datatype} (RGB/complex voxels) is not supported"
            raise ImageIOError(msg)
        file_shape = (components, dims[4], dims[3], dims[2], dims[1])
    else:
        ndim = dims[0]
        while ndim > 3 and dims[ndim] == 1:
            ndim -= 1
        ndim = max(ndim, 2)
        components = item_components
        file_shape = tuple(dims[ndim:0:-1])
    size = tuple(dims[1 : ndim + 1])
    symmatrix = _upper_to_lower(components) if intent == _INTENT_SYMMATRIX else None

    # pixel type, with ITK's promotion to float when rescaling integers
    slope = _fixed(float(hdr["scl_slope"]))
    inter = _fixed(float(hdr["scl_inter"]))
    if slope == 0.0:
        slope = 1.0
    eps = np.finfo(float).eps
    must_rescale = abs(slope) > eps and (abs(slope - 1.0) > eps or abs(inter) > eps)
    base = np.dtype(comp_dtype)
    if must_rescale and base.kind in "iu":
        base = np.dtype("float32")
    if base.kind == "c":
        pixel_type = PixelType.from_dtype(base)
    else:
        pixel_type = PixelType.from_dtype(base, is_vector=vector or item_components > 1)
    if pixel_type.is_vector and components < 1:
        msg = f"{path}: vector NIfTI image with dim[5] = {components} components"
        raise ImageIOError(msg)

    xyzt = int(hdr["xyzt_units"])
    space_scale = _SPACE_SCALE.get(xyzt & 0x07, 1.0)
    time_scale = _TIME_SCALE.get(xyzt & 0x38, 1.0)
    geometry = _geometry(path, hdr, version, ndim, size, pixdim, space_scale, time_scale)
    metadata = _metadata(hdr, version, dims, pixdim, datatype, data_path == path)
    offset = _data_offset(hdr, version, data_path == path)
    info = ImageInfo(
        geometry=geometry,
        pixel_type=pixel_type,
        components=components if pixel_type.is_vector else 1,
        metadata=metadata,
        io=NAME,
        path=path,
    )
    return _Header(
        path=path,
        data_path=data_path,
        version=version,
        order=order,
        offset=offset,
        gz=gz,
        datatype=datatype,
        file_shape=file_shape,
        vector_layout=vector,
        item_components=item_components,
        symmatrix_order=symmatrix,
        rescale=(slope, inter) if must_rescale else None,
        info=info,
    )


def _data_offset(hdr: np.void, version: int, onefile: bool) -> int:
    offset = int(float(hdr["vox_offset"])) if version == 1 else int(hdr["vox_offset"])
    if onefile:
        offset = max(offset, _N1_SIZE if version == 1 else _N2_SIZE)
    return max(offset, 0)


def _upper_to_lower(components: int) -> tuple[int, ...]:
    """ITK's order for symmetric matrices: NIfTI stores the lower triangle, ITK the upper."""
    dim = 0
    count, row = components, 1
    while count > 0:
        count -= row
        dim += 1
        row += 1
    mat = np.zeros((dim, dim), int)
    index = 0
    for i in range(dim):
        for j in range(i, dim):
            mat[i, j] = mat[j, i] = index
            index += 1
    return tuple(int(mat[i, j]) for i in range(dim) for j in range(i + 1))


# -- geometry -----------------------------------------------------------------------------------------------------


def _quatern_to_mat44(b: float, c: float, d: float, offset: tuple[float, ...], dx: float, dy: float, dz: float,
                      qfac: float, ftype: type) -> np.ndarray:  # fmt: skip
    """niftilib's nifti_quatern_to_mat44 (rounded to float32 for NIfTI-1)."""
    a = 1.0 - (b * b + c * c + d * d)
    if a < 1.0e-7:
        norm = 1.0 / math.sqrt(b * b + c * c + d * d)
        b, c, d, a = b * norm, c * norm, d * norm, 0.0
    else:
        a = math.sqrt(a)
    xd = dx if dx > 0 else 1.0
    yd = dy if dy > 0 else 1.0
    zd = dz if dz > 0 else 1.0
    if qfac < 0:
        zd = -zd
    m = np.array(
        [
            [(a * a + b * b - c * c - d * d) * xd, 2 * (b * c - a * d) * yd, 2 * (b * d + a * c) * zd, offset[0]],
            [2 * (b * c + a * d) * xd, (a * a + c * c - b * b - d * d) * yd, 2 * (c * d - a * b) * zd, offset[1]],
            [2 * (b * d - a * c) * xd, 2 * (c * d + a * b) * yd, (a * a + d * d - c * c - b * b) * zd, offset[2]],
            [0.0, 0.0, 0.0, 1.0],
        ]
    )
    return m.astype(ftype).astype(float)


def _is_affine(m: np.ndarray) -> bool:
    """ITK's IsAffine: bottom row (0, 0, 0, 1) and invertible."""
    if abs(m[3, 3] - 1.0) + np.abs(m[3, :3]).sum() > np.finfo(np.float32).eps:
        return False
    singular = np.linalg.svd(m, compute_uv=False)
    return bool(singular[-1] / singular[0] > np.finfo(float).eps) if singular[0] > 0 else False


def _orthonormal_columns(m3: np.ndarray) -> bool:
    norms = np.linalg.norm(m3, axis=0)
    if np.any(norms == 0):
        return False
    r = m3 / norms
    return bool(np.all(np.abs(r @ r.T - np.eye(3)) <= 1e-4))


def _polar(m3: np.ndarray) -> np.ndarray:
    u, _, vt = np.linalg.svd(m3)
    return u @ vt


def _very_similar(s: np.ndarray, q: np.ndarray) -> bool:
    """ITK's sform_and_qform_are_very_similar: same spacing, rotation, offset and last row (1e-4).

    ITK compares the U factors of both SVDs; the orthogonal polar factors are
    compared here instead (the same test, but stable when spacings are equal).
    """
    ws = np.linalg.svd(s[:3, :3], compute_uv=False)
    wq = np.linalg.svd(q[:3, :3], compute_uv=False)
    if not np.all(np.abs(ws - wq) <= 1e-4):
        return False
    if not np.all(np.abs(_polar(s[:3, :3]) @ _polar(q[:3, :3]).T - np.eye(3)) <= 1e-4):
        return False
    return bool(np.all(np.abs(s[:3, 3] - q[:3, 3]) <= 1e-4) and np.all(np.abs(s[3] - q[3]) <= 1e-4))


def _choose_affine(path: str, qform_code: int, sform_code: int, q: np.ndarray, s: np.ndarray) -> np.ndarray | None:
    """The 4x4 RAS affine ITK uses, or None when ITK finds no orthonormal definition."""
    similar = bool(
        np.all(np.abs(s[:3, :3] - q[:3, :3]) <= 1e-5)
        and np.abs(s[:, 3] - q[:, 3]).sum() <= 1e-7
        and np.abs(s[3] - q[3]).sum() <= 1e-7
    )
    prefer_sform = similar
    if not prefer_sform or sform_code != 0:
        decomposable = _is_affine(s) and _orthonormal_columns(s[:3, :3])
        if decomposable:
            if (qform_code == 0 and sform_code != 0) or sform_code == 1:
                prefer_sform = True
            elif qform_code != 0 and sform_code != 0:
                prefer_sform = _very_similar(s, q)
    if prefer_sform:
        return s
    if qform_code != 0:
        return q
    return None


def _geometry(
    path: str,
    hdr: np.void,
    version: int,
    ndim: int,
    size: tuple[int, ...],
    pixdim: list[float],
    space_scale: float,
    time_scale: float,
) -> Geometry:
    ftype = np.float32 if version == 1 else np.float64
    spacing = [pixdim[i + 1] * (space_scale if i < 3 else time_scale if i == 3 else 1.0) for i in range(ndim)]
    origin = [0.0] * ndim
    direction = np.eye(ndim)
    qform_code = max(int(hdr["qform_code"]), 0)
    sform_code = max(int(hdr["sform_code"]), 0)
    if qform_code or sform_code:
        if qform_code:
            offset = tuple(_fixed(float(hdr[k])) for k in ("qoffset_x", "qoffset_y", "qoffset_z"))
            qfac = -1.0 if float(hdr["pixdim"][0]) < 0 else 1.0
            b, c, d = (_fixed(float(hdr[k])) for k in ("quatern_b", "quatern_c", "quatern_d"))
            q = _quatern_to_mat44(b, c, d, offset, pixdim[1], pixdim[2], pixdim[3], qfac, ftype)
        else:
            q = np.diag([pixdim[1], pixdim[2], pixdim[3], 1.0]).astype(ftype).astype(float)
        if sform_code:
            s = np.vstack([hdr["srow_x"], hdr["srow_y"], hdr["srow_z"], [0, 0, 0, 1]]).astype(float)
        else:
            s = np.zeros((4, 4))
        mat = _choose_affine(path, qform_code, sform_code, q, s)
        if mat is None:
            mat = s  # ITK refuses ("No orthonormal definition found"); the sheared sform is kept as it is
        lps = np.diag([-1.0, -1.0, 1.0])
        k = min(ndim, 3)
        for i in range(k):
            origin[i] = float(lps[i, i] * mat[i, 3] * space_scale)
        block = (lps @ mat[:3, :3])[:k, :k]
        norms = np.linalg.norm(block, axis=0)
        norms[norms == 0] = 1.0
        direction[:k, :k] = block / norms
        if ndim > 3:
            origin[3] = _fixed(float(hdr["toffset"])) * time_scale
    # ImageFileReader: a negative spacing flips that axis
    for i in range(ndim):
        if spacing[i] < 0:
            spacing[i] = -spacing[i]
            direction[:, i] = -direction[:, i]
    try:
        return Geometry(size=size, origin=origin, spacing=spacing, direction=direction.ravel())
    except Exception as err:  # GeometryError: a degenerate affine
        msg = f"{path}: the NIfTI header gives an unusable geometry: {err}"
        raise ImageIOError(msg) from None


def _metadata(hdr: np.void, version: int, dims: list[int], pixdim: list[float], datatype: int, onefile: bool):
    """The header fields under SimpleITK's metadata keys, formatted as SimpleITK prints them."""
    md: dict[str, str] = {}
    qform_code = max(int(hdr["qform_code"]), 0)
    sform_code = max(int(hdr["sform_code"]), 0)
    md["ITK_sform_corrected"] = "NO"
    md["nifti_type"] = str((1 if onefile else 2) if version == 1 else (3 if onefile else 4))
    dim_info = int(hdr["dim_info"])
    md["dim_info"] = str(dim_info & 0x3F)
    for i in range(8):
        md[f"dim[{i}]"] = str(dims[i])
    for key in ("intent_p1", "intent_p2", "intent_p3"):
        md[key] = _g(_fixed(float(hdr[key])))
    md["intent_code"] = str(int(hdr["intent_code"]))
    md["datatype"] = str(datatype)
    comp, count, _ = _DATATYPES[datatype]
    md["bitpix"] = str(8 * np.dtype(comp).itemsize * count)
    md["slice_start"] = str(int(hdr["slice_start"]))
    md["pixdim[0]"] = "0"  # niftilib never fills pixdim[0] of the image struct; SimpleITK shows 0
    for i in range(1, 8):
        md[f"pixdim[{i}]"] = _g(pixdim[i])
    md["vox_offset"] = str(_data_offset(hdr, version, onefile))
    md["scl_slope"] = _g(_fixed(float(hdr["scl_slope"])))
    md["scl_inter"] = _g(_fixed(float(hdr["scl_inter"])))
    md["slice_end"] = str(int(hdr["slice_end"]))
    md["slice_code"] = str(int(hdr["slice_code"]))
    xyzt = int(hdr["xyzt_units"])
    md["xyzt_units"] = str((xyzt & 0x07) | (xyzt & 0x38))
    for key in ("cal_max", "cal_min", "slice_duration", "toffset"):
        md[key] = _g(_fixed(float(hdr[key])))
    descrip = _text(bytes(hdr["descrip"]), 79)
    md["descrip"] = descrip
    md["ITK_FileNotes"] = descrip
    md["aux_file"] = _text(bytes(hdr["aux_file"]), 23)
    md["qform_code"] = str(qform_code)
    md["qform_code_name"] = _XFORM_NAMES.get(qform_code, _XFORM_NAMES[0])
    md["sform_code"] = str(sform_code)
    md["sform_code_name"] = _XFORM_NAMES.get(sform_code, _XFORM_NAMES[0])
    for key in ("quatern_b", "quatern_c", "quatern_d", "qoffset_x", "qoffset_y", "qoffset_z"):
        md[key] = _g(_fixed(float(hdr[key])) if qform_code else 0.0)
    for key in ("srow_x", "srow_y", "srow_z"):
        row = [float(v) for v in hdr[key]] if sform_code else [0.0] * 4
        md[key] = " ".join(_g(v) for v in row)
    md["intent_name"] = _text(bytes(hdr["intent_name"]), 15)
    md["qfac"] = "-1" if qform_code and float(hdr["pixdim"][0]) < 0 else "1"
    return md


# -- reading ------------------------------------------------------------------------------------------------------


def read_info(path: PathType) -> ImageInfo:
    """Geometry, pixel type, components and header fields of a NIfTI file, from its header only.

    >>> import tempfile, os, imalgebra as ia
    >>> p = os.path.join(tempfile.mkdtemp(), "z.nii.gz")
    >>> write(p, ia.Image.zeros((3, 2), ia.PixelType.UInt16))
    >>> read_info(p).pixel_type
    <PixelType.UInt16: 3>
    """
    return _load_header(path).info


def _check_available(hdr: _Header) -> None:
    """Refuse before allocating when the file cannot hold the pixels its header claims."""
    need = hdr.offset + hdr.data_bytes
    try:
        size = os.path.getsize(hdr.data_path)
    except OSError as err:
        msg = f"{hdr.data_path}: cannot be read ({err.strerror})"
        raise ImageIOError(msg) from None
    if not hdr.gz:
        if size < need:
            msg = (
                f"{hdr.data_path}: truncated NIfTI data: the header describes {hdr.data_bytes} bytes of pixels "
                f"at offset {hdr.offset} ({need} bytes in all) but the file has {size} bytes"
            )
            raise ImageIOError(msg)
        return
    if size * _MAX_DEFLATE_RATIO < need:
        msg = (
            f"{hdr.data_path}: the header describes {need} bytes but a {size}-byte gzip stream "
            "cannot hold that many; the header lies or the file is truncated"
        )
        raise ImageIOError(msg)
    if need < 2**32 and size >= 18:
        with _open(hdr.data_path) as f:
            f.seek(size - 4)
            isize = struct.unpack("<I", f.read(4))[0]
        if isize < need and isize != 0:
            # one gzip member: its trailer holds the uncompressed size (mod 2**32)
            try:
                with gzip.open(hdr.data_path, "rb") as g:
                    g.seek(need - 1)
                    if not g.read(1):
                        raise EOFError
            except (OSError, EOFError, zlib.error):
                msg = (
                    f"{hdr.data_path}: truncated NIfTI data: the header describes {need} bytes "
                    f"but the gzip stream holds {isize}"
                )
                raise ImageIOError(msg) from None


def _runs(shape: tuple[int, ...], start: tuple[int, ...], size: tuple[int, ...], item: int):
    """Byte offsets of the contiguous runs of a box in a C-order array, and the run length in bytes."""
    n = len(shape)
    m = n - 1
    while m > 0 and start[m] == 0 and size[m] == shape[m]:
        m -= 1
    strides = [item * int(np.prod(shape[k + 1 :], dtype=np.int64)) for k in range(n)]
    run = size[m] * strides[m]
    offsets = np.array([start[m] * strides[m]], dtype=np.int64)
    for k in range(m - 1, -1, -1):
        axis = (start[k] + np.arange(size[k], dtype=np.int64)) * strides[k]
        offsets = (axis[:, None] + offsets[None, :]).ravel()
    return offsets, run


def _read_box(f: BinaryIO, base: int, shape: tuple[int, ...], start: tuple[int, ...], size: tuple[int, ...],
              item: int, gap: int) -> np.ndarray:  # fmt: skip
    """The box ``start``/``size`` of a C-order array of ``item``-byte elements at ``base``.

    Returns uint8 of shape ``size + (item,)``. Only the runs of the box are read;
    runs closer than ``gap`` bytes are read as one (the bytes between discarded).
    ``f`` must be positioned at or before ``base`` and read forwards only for
    gzip streams (runs come in increasing order).
    """
    out = np.empty(int(np.prod(size, dtype=np.int64)) * item, dtype=np.uint8)
    if out.size == 0:
        return out.reshape(*size, item)
    offsets, run = _runs(shape, start, size, item)
    ends = offsets + run
    breaks = np.flatnonzero(offsets[1:] - ends[:-1] > gap) + 1
    if _read_regular(f, base, offsets, run, breaks, out):
        return out.reshape(*size, item)
    groups = np.split(np.arange(offsets.size), breaks)
    pos = 0
    for group in groups:
        first, last = offsets[group[0]], ends[group[-1]]
        if group.size == 1 or last - first == run * group.size:
            view = memoryview(out)[pos : pos + (last - first)]
            _read_exact(f, base + int(first), view)
        else:
            span = np.empty(int(last - first), dtype=np.uint8)
            _read_exact(f, base + int(first), memoryview(span))
            rel = offsets[group] - first
            steps = np.diff(rel)
            dest = out[pos : pos + run * group.size].reshape(group.size, run)
            if steps.size and np.all(steps == steps[0]):
                dest[...] = np.lib.stride_tricks.as_strided(
                    span[int(rel[0]) :], shape=(group.size, run), strides=(int(steps[0]), 1), writeable=False
                )
            else:
                dest[...] = span[rel[:, None] + np.arange(run)]
        pos += run * group.size
    return out.reshape(*size, item)


def _map_box(path: str, base: int, shape: tuple[int, ...], start: tuple[int, ...], size: tuple[int, ...],
             item: int) -> np.ndarray | None:  # fmt: skip
    """The box copied out of a memory map of just its byte span (the kernel reads the pages it
    touches: the region's rows). None where the file cannot be mapped (then rows are read)."""
    strides = [item * int(np.prod(shape[k + 1 :], dtype=np.int64)) for k in range(len(shape))]
    first = base + sum(a * b for a, b in zip(start, strides, strict=True))
    last = base + sum((a + n - 1) * b for a, n, b in zip(start, size, strides, strict=True)) + item
    aligned = first // mmap.ALLOCATIONGRANULARITY * mmap.ALLOCATIONGRANULARITY
    try:
        with _open(path) as f:
            mapped = mmap.mmap(f.fileno(), last - aligned, access=mmap.ACCESS_READ, offset=aligned)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return None
    try:
        data = np.frombuffer(mapped, dtype=np.uint8)
        box = np.lib.stride_tricks.as_strided(
            data[first - aligned :], shape=(*size, item), strides=(*strides, 1), writeable=False
        )
        out = np.array(box)
        del box, data
    finally:
        mapped.close()
    return out


def _read_regular(f: BinaryIO, base: int, offsets: np.ndarray, run: int, breaks: np.ndarray, out: np.ndarray) -> bool:
    """The common case in one pass: every merged read holds the same runs at the same steps
    (a box inside each slice). Reads each span into one buffer, then one strided copy. False
    when the reads are not that regular."""
    count = int(breaks[0]) if breaks.size else offsets.size
    groups = offsets.size // count
    if groups * count != offsets.size or (breaks.size and np.any(np.diff(breaks) != count)):
        return False
    if breaks.size and breaks[-1] != offsets.size - count:
        return False
    table = offsets.reshape(groups, count)
    rel = table - table[:, :1]
    if np.any(rel != rel[0]):
        return False
    step = int(rel[0, 1]) if count > 1 else run
    if count > 2 and np.any(np.diff(rel[0]) != step):
        return False
    span = int(rel[0, -1]) + run
    if step == run:  # contiguous runs: straight into the output
        flat = memoryview(out)
        for g in range(groups):
            _read_exact(f, base + int(table[g, 0]), flat[g * span : (g + 1) * span])
        return True
    buffer = np.empty((groups, span), dtype=np.uint8)
    for g in range(groups):
        _read_exact(f, base + int(table[g, 0]), memoryview(buffer[g]))
    view = np.lib.stride_tricks.as_strided(buffer, shape=(groups, count, run), strides=(span, step, 1), writeable=False)
    out.reshape(groups, count, run)[...] = view
    return True


class _GzipStream:
    """A forward-only reader of a gzip stream (all members), decompressing 1 MiB of input at a time.

    Twice as fast as ``gzip.GzipFile`` for large reads, which feeds zlib a small
    output limit at a time and copies the unconsumed input on every call.
    """

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.inflate = _inflate.decompressobj(31)
        self.pending = memoryview(b"")
        self.position = 0
        self.ended = False

    def tell(self) -> int:
        return self.position

    def _more(self) -> bool:
        while not self.ended:
            data = self.raw.read(1 << 20)
            if not data:
                if not self.inflate.eof:
                    msg = "the gzip stream ends early (truncated file)"
                    raise EOFError(msg)
                self.ended = True
                return False
            out = self.inflate.decompress(data)
            while self.inflate.eof and self.inflate.unused_data:  # the next gzip member
                rest = self.inflate.unused_data
                self.inflate = _inflate.decompressobj(31)
                out += self.inflate.decompress(rest)
            if out:
                self.pending = memoryview(out)
                return True
        return False

    def readinto(self, view: memoryview) -> int:
        if not self.pending and not self._more():
            return 0
        n = min(len(view), len(self.pending))
        view[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        self.position += n
        return n

    def seek(self, offset: int) -> None:
        if offset < self.position:
            msg = "a gzip stream is read forwards only"
            raise OSError(msg)
        while self.position < offset:
            if not self.pending and not self._more():
                msg = f"unexpected end of data at byte {self.position}"
                raise EOFError(msg)
            n = min(offset - self.position, len(self.pending))
            self.pending = self.pending[n:]
            self.position += n


def _read_exact(f: BinaryIO, offset: int, view: memoryview) -> None:
    if f.tell() != offset:
        f.seek(offset)
    done = 0
    while done < len(view):
        n = f.readinto(view[done:])
        if not n:
            msg = f"unexpected end of data at byte {offset + done}"
            raise EOFError(msg)
        done += n


def read_region(path: PathType, info: ImageInfo, region: Region) -> np.ndarray:
    """The pixels of ``region`` as a ``[z, y, x(, c)]`` array of ``info.pixel_type``'s dtype.

    Uncompressed files: reads only the region's rows (through a memory map of the region's byte
    span, or row by row where the file cannot be mapped). ``.nii.gz``: decompresses
    the stream from the start up to the region's last byte (no random access in
    gzip), keeping only the region in memory.

    >>> import tempfile, os, numpy as np, imalgebra as ia
    >>> p = os.path.join(tempfile.mkdtemp(), "r.nii")
    >>> write(p, ia.from_array(np.arange(12, dtype=np.uint8).reshape(3, 4)))
    >>> read_region(p, read_info(p), ia.Region(index=(1, 1), size=(2, 2))).tolist()
    [[5, 6], [9, 10]]
    """
    hdr = _load_header(path)
    geometry = hdr.info.geometry
    if region.dimension != geometry.dimension or not geometry.region.contains(region):
        msg = f"{path}: region index={region.index} size={region.size} is not inside the image size {geometry.size}"
        raise ImageIOError(msg)
    _check_available(hdr)
    ndim = geometry.dimension
    if hdr.vector_layout:
        pad = 4 - ndim
        start = (0,) + (0,) * pad + tuple(region.index[::-1])
        size = (hdr.file_shape[0],) + (1,) * pad + tuple(region.size[::-1])
    else:
        start, size = tuple(region.index[::-1]), tuple(region.size[::-1])
    try:
        if hdr.gz:
            with _open(hdr.data_path) as raw:
                f = _GzipStream(raw)
                box = _read_box(f, hdr.offset, hdr.file_shape, start, size, hdr.item_bytes, _COALESCE_GZ)
        else:
            box = None
            if _USE_MMAP and region != geometry.region:
                box = _map_box(hdr.data_path, hdr.offset, hdr.file_shape, start, size, hdr.item_bytes)
            if box is None:
                with _open(hdr.data_path) as f:
                    box = _read_box(f, hdr.offset, hdr.file_shape, start, size, hdr.item_bytes, _COALESCE_RAW)
    except (EOFError, *_inflate.errors(), gzip.BadGzipFile) as err:
        msg = f"{hdr.data_path}: truncated or corrupt NIfTI data ({err})"
        raise ImageIOError(msg) from None
    except OSError as err:
        msg = f"{hdr.data_path}: cannot be read ({err})"
        raise ImageIOError(msg) from None
    values = box.view(hdr.component_dtype)  # (..., item_components)
    if hdr.item_components == 1:
        values = values[..., 0]
    if hdr.vector_layout:
        values = np.moveaxis(values.reshape((size[0], *region.size[::-1])), 0, -1)
        if hdr.symmatrix_order is not None:
            values = values[..., np.argsort(hdr.symmatrix_order)]
    values = _native(values)
    if hdr.rescale is not None:
        values = _rescale(values, *hdr.rescale)
    target = info.pixel_type.dtype
    if values.dtype != target:
        values = values.astype(target)
    return np.ascontiguousarray(values)


def _native(values: np.ndarray) -> np.ndarray:
    if values.dtype.byteorder not in ("=", "|") and values.dtype.byteorder != ("<" if _LITTLE else ">"):
        return values.astype(values.dtype.newbyteorder("="))
    return values


_LITTLE = np.little_endian


def _rescale(values: np.ndarray, slope: float, inter: float) -> np.ndarray:
    """ITK's rescale: integers go through float32, each value becomes float(v * slope + inter)."""
    if values.dtype.kind in "iu":
        values = values.astype(np.float32)
    if values.dtype.kind == "c":
        parts = values.view(values.real.dtype)
        return (parts.astype(np.float64) * slope + inter).astype(parts.dtype).view(values.dtype)
    return (values.astype(np.float64) * slope + inter).astype(values.dtype)


# -- writing ------------------------------------------------------------------------------------------------------


def _make_orthog(rows: np.ndarray) -> np.ndarray:
    """niftilib's nifti_make_orthog_mat44 on three rows: normalise each row, then the closest orthogonal matrix."""
    q = np.array(rows, dtype=np.float64)
    for i in range(3):
        norm = math.sqrt(float(q[i] @ q[i]))
        if norm > 0:
            q[i] = q[i] / norm
        elif i < 2:
            q[i] = np.eye(3)[i]
        else:
            q[2] = np.cross(q[0], q[1])
    return _polar(q.astype(np.float32).astype(np.float64))


def _mat44_to_quatern(r: np.ndarray) -> tuple[float, float, float, float]:
    """niftilib's nifti_mat44_to_quatern for an orthonormal 3x3 block: (b, c, d, qfac)."""
    m = np.array(r, dtype=np.float64)
    norms = np.linalg.norm(m, axis=0)
    for i in range(3):
        if norms[i] == 0:
            m[:, i] = np.eye(3)[i]
            norms[i] = 1.0
    m = _polar((m / norms).astype(np.float32).astype(np.float64))
    qfac = 1.0
    if np.linalg.det(m) <= 0:
        qfac = -1.0
        m[:, 2] = -m[:, 2]
    (r11, r12, r13), (r21, r22, r23), (r31, r32, r33) = m
    a = r11 + r22 + r33 + 1.0
    if a > 0.5:
        a = 0.5 * math.sqrt(a)
        b = 0.25 * (r32 - r23) / a
        c = 0.25 * (r13 - r31) / a
        d = 0.25 * (r21 - r12) / a
    else:
        xd = 1.0 + r11 - (r22 + r33)
        yd = 1.0 + r22 - (r11 + r33)
        zd = 1.0 + r33 - (r11 + r22)
        if xd > 1.0:
            b = 0.5 * math.sqrt(xd)
            c = 0.25 * (r12 + r21) / b
            d = 0.25 * (r13 + r31) / b
            a = 0.25 * (r32 - r23) / b
        elif yd > 1.0:
            c = 0.5 * math.sqrt(yd)
            b = 0.25 * (r12 + r21) / c
            d = 0.25 * (r23 + r32) / c
            a = 0.25 * (r13 - r31) / c
        else:
            d = 0.5 * math.sqrt(zd)
            b = 0.25 * (r13 + r31) / d
            c = 0.25 * (r23 + r32) / d
            a = 0.25 * (r21 - r12) / d
        if a < 0:
            b, c, d = -b, -c, -d
    return b, c, d, qfac


def _check_writable_geometry(path: str, geometry: Geometry, pixel_type: PixelType) -> None:
    d = geometry.dimension
    limit = 4 if pixel_type.is_vector else 7
    if d > limit:
        what = "vector image" if pixel_type.is_vector else "image"
        msg = f"{path}: NIfTI holds a {what} of at most {limit} dimensions, got {d}"
        raise ImageIOError(msg)
    if max(geometry.size) > 32767:
        msg = f"{path}: NIfTI-1 sizes are at most 32767 per axis, got {geometry.size}; write .mha or .nrrd instead"
        raise ImageIOError(msg)
    m = geometry.direction_matrix
    k = min(d, 3)
    if d > 3 and not (np.array_equal(m[3:, :], np.eye(d)[3:, :]) and np.array_equal(m[:, 3:], np.eye(d)[:, 3:])):
        msg = (
            f"{path}: NIfTI stores only the orientation of x, y, z; the direction {geometry.direction} "
            "mixes the 4th or later axes with space"
        )
        raise ImageIOError(msg)
    if any(geometry.origin[4:]):
        msg = (
            f"{path}: NIfTI stores the origin of x, y, z and t only; the origin {geometry.origin} "
            "has a nonzero 5th or later coordinate"
        )
        raise ImageIOError(msg)
    block = m[:k, :k]
    if not np.allclose(block.T @ block, np.eye(k), atol=1e-4):
        msg = (
            f"{path}: the direction {geometry.direction} is not orthonormal and NIfTI's qform cannot hold it "
            "(ITK would silently make it orthogonal); write .mha or .nrrd, or resample first"
        )
        raise ImageIOError(msg)


def _build_header(path: str, info: ImageInfo) -> bytes:
    """The 352 bytes (header + empty extension flag) ITK's NiftiImageIO writes for ``info``."""
    geometry, pixel_type = info.geometry, info.pixel_type
    _check_writable_geometry(path, geometry, pixel_type)
    d = geometry.dimension
    hdr = np.zeros((), dtype=_dtype(_N1_FIELDS, "<"))
    hdr["sizeof_hdr"] = _N1_SIZE
    hdr["regular"] = b"r"
    hdr["magic"] = b"n+1\0"
    hdr["vox_offset"] = 352.0
    hdr["scl_slope"] = 1.0
    hdr["scl_inter"] = 0.0
    hdr["xyzt_units"] = 2 | 8  # mm, seconds
    dims = [1] * 8
    pixdim = [0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]  # as nifti_simple_init_nim leaves them
    for i in range(d):
        dims[i + 1] = geometry.size[i]
        pixdim[i + 1] = geometry.spacing[i]
    if d > 3:
        hdr["toffset"] = geometry.origin[3]
    comp = pixel_type.component_type if pixel_type.is_vector or pixel_type.is_label else pixel_type
    code = _CODE_FOR_DTYPE.get(comp.dtype.str[1:])
    if code is None:  # pragma: no cover - every PixelType dtype has a code
        msg = f"{path}: {pixel_type.name} cannot be written to NIfTI"
        raise ImageIOError(msg)
    hdr["datatype"] = code
    hdr["bitpix"] = 8 * comp.dtype.itemsize
    if pixel_type.is_vector:
        dims[0] = 5
        dims[5] = info.components
        intent = _INTENT_VECTOR
        if info.metadata.get("intent_code", "").strip() == str(_INTENT_DISPVECT):
            intent = _INTENT_DISPVECT
        hdr["intent_code"] = intent
    else:
        dims[0] = d
    hdr["dim"] = dims

    # orientation: ITK's SetNIfTIOrientationFromImageIO
    m = geometry.direction_matrix
    k = min(d, 3)
    ras = np.zeros((3, 3))
    ras[:k, :k] = m[:k, :k]
    if k < 3:
        ras[2, 2] = 1.0
    ras[:2, :] *= -1.0
    if k < 3:
        ras[:2, 2] = 0.0
        ras[2, 2] = 1.0
    rot = _make_orthog(ras.T).T  # columns: the axes in RAS
    origin = np.zeros(3)
    origin[:k] = geometry.origin[:k]
    offset = np.array([-origin[0], -origin[1], origin[2]], dtype=np.float32)
    b, c, dq, qfac = _mat44_to_quatern(rot.astype(np.float32).astype(np.float64))
    hdr["quatern_b"], hdr["quatern_c"], hdr["quatern_d"] = b, c, dq
    hdr["qoffset_x"], hdr["qoffset_y"], hdr["qoffset_z"] = offset
    pixdim[0] = qfac
    hdr["pixdim"] = pixdim
    sform = rot.astype(np.float32).astype(np.float64)
    for j in range(k):
        sform[:, j] = np.float32(geometry.spacing[j]) * sform[:, j]
    hdr["srow_x"] = [*sform[0], offset[0]]
    hdr["srow_y"] = [*sform[1], offset[1]]
    hdr["srow_z"] = [*sform[2], offset[2]]
    hdr["qform_code"] = 1
    hdr["sform_code"] = 1

    notes = info.metadata.get("ITK_FileNotes", "")
    if notes:
        data = notes.encode("utf-8")
        if len(data) > 79:
            msg = f"{path}: ITK_FileNotes (the NIfTI descrip field) holds at most 79 bytes, got {len(data)}"
            raise ImageIOError(msg)
        hdr["descrip"] = data
    aux = info.metadata.get("aux_file", "")
    if aux:
        data = aux.encode("utf-8")
        if len(data) > 23:
            msg = f"{path}: aux_file holds at most 23 bytes in NIfTI, got {len(data)}"
            raise ImageIOError(msg)
        hdr["aux_file"] = data
    return hdr.tobytes() + b"\0\0\0\0"


def _writable_type(path: str, pixel_type: PixelType) -> np.dtype:
    if pixel_type is PixelType.Unknown:
        msg = f"{path}: PixelType.Unknown cannot be written"
        raise ImageIOError(msg)
    return np.dtype("<" + pixel_type.dtype.str[1:]) if pixel_type.dtype.itemsize > 1 else pixel_type.dtype


def _file_order(values: np.ndarray, pixel_type: PixelType, dtype: np.dtype) -> np.ndarray:
    """Pixels in NIfTI's on-disk order: vector components outermost, little-endian."""
    arr = np.asarray(values)
    if pixel_type.is_vector:
        arr = np.moveaxis(arr, -1, 0)
    return np.ascontiguousarray(arr, dtype=dtype)


def _is_nii_name(path: str) -> tuple[bool, bool]:
    lower = path.lower()
    if lower.endswith(".nii.gz"):
        return True, True
    if lower.endswith(".nii"):
        return True, False
    msg = (
        f"{path}: NIfTI is written as .nii or .nii.gz (one file with header and pixels); "
        "the two-file .hdr/.img form is read but not written"
    )
    raise ImageIOError(msg)


def write(path: PathType, image: Image, *, compress: bool = False) -> None:
    """Write ``image`` as NIfTI-1 (``.nii``, or gzip for ``.nii.gz``), atomically, as ITK writes it.

    The name decides compression (``.nii.gz`` is gzip), as in SimpleITK; ``compress``
    may give the gzip level (1-9) for ``.nii.gz`` and is otherwise ignored.
    Custom metadata is not stored (NIfTI has no place for it), except
    ``ITK_FileNotes`` (the description) and ``aux_file``.

    >>> import tempfile, os, imalgebra as ia
    >>> p = os.path.join(tempfile.mkdtemp(), "w.nii.gz")
    >>> write(p, ia.Image.zeros((2, 2, 2, 3), ia.PixelType.Float32, origin=(1, 2, 3, 4)))
    >>> read_info(p).origin
    (1.0, 2.0, 3.0, 4.0)
    """
    path = os.fspath(path)
    _, gz = _is_nii_name(path)
    info = ImageInfo(
        geometry=image.geometry, pixel_type=image.pixel_type, components=image.components, metadata=image.metadata
    )
    header = _build_header(path, info)
    dtype = _writable_type(path, image.pixel_type)
    data = _file_order(np.asarray(image), image.pixel_type, dtype)
    try:
        with atomic_path(path) as tmp:
            if gz:
                level = compress if isinstance(compress, int) and not isinstance(compress, bool) else _GZIP_LEVEL
                with open(tmp, "wb") as raw, _gzip_writer(raw, level) as f:
                    f.write(header)
                    _write_array(f, data)
            else:
                with open(tmp, "wb") as f:
                    f.write(header)
                    _write_array(f, data)
    except ImageIOError:
        raise
    except OSError as err:
        msg = f"{path}: cannot be written ({err.strerror or err})"
        raise ImageIOError(msg) from err


def _gzip_writer(raw: BinaryIO, level: int = _GZIP_LEVEL) -> gzip.GzipFile:
    return gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=min(max(level, 1), 9), mtime=0)


def _write_array(f: Any, data: np.ndarray) -> None:
    flat = data.reshape(-1).view(np.uint8)
    step = 1 << 24
    for i in range(0, flat.size, step):
        f.write(memoryview(flat[i : i + step]))


# -- streamed writing ---------------------------------------------------------------------------------------------


class _RawWriter:
    """Streamed ``.nii`` writer: header first, then regions in any order straight to their offsets.

    For ``.nii.gz`` of vector images (components stored one volume after
    another) the file is staged uncompressed beside the target and compressed
    at commit.
    """

    order = "any"

    def __init__(self, path: str, info: ImageInfo, header: bytes, dtype: np.dtype, gz_at_commit: bool) -> None:
        self.path, self.info, self.dtype = path, info, dtype
        self.gz_at_commit = gz_at_commit
        self.files = AtomicFiles([path])
        self.stage = self.files.temps[0]
        self.done = False
        try:
            if gz_at_commit:
                fd, stage = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix="-staged.nii", dir=self.stage.parent)
                os.close(fd)
                self.stage = Path(stage)
            self.file: Any = open(self.stage, "w+b")  # noqa: SIM115 - closed by commit/abort
            self.header = header
            self.file.write(header)
            self.shape = _disk_shape(info)
            self.file.truncate(len(header) + int(np.prod(self.shape, dtype=np.int64)) * dtype.itemsize)
        except BaseException:
            self._cleanup()
            raise

    def _cleanup(self) -> None:
        self.done = True
        if getattr(self, "file", None) is not None:
            self.file.close()
        if self.stage != self.files.temps[0]:
            with contextlib.suppress(OSError):
                os.remove(self.stage)
        self.files.abort()

    def write(self, region: Region, array: np.ndarray) -> None:
        if self.done:
            msg = f"{self.path}: the writer is already committed or aborted"
            raise ImageIOError(msg)
        geometry = self.info.geometry
        if region.dimension != geometry.dimension or not geometry.region.contains(region):
            msg = f"{self.path}: region {region} is not inside the image size {geometry.size}"
            raise ImageIOError(msg)
        arr = np.asarray(array)
        expected = region.shape + ((self.info.components,) if self.info.pixel_type.is_vector else ())
        if arr.shape != expected:
            msg = f"{self.path}: region {region} needs an array of shape {expected}, got {arr.shape}"
            raise ImageIOError(msg)
        data = _file_order(arr, self.info.pixel_type, self.dtype)
        start, size = _disk_box(self.info, region, self.shape)
        offsets, run = _runs(self.shape, start, size, self.dtype.itemsize)
        flat = data.reshape(-1).view(np.uint8)
        base = len(self.header)
        for k, off in enumerate(offsets.tolist()):
            self.file.seek(base + off)
            self.file.write(memoryview(flat[k * run : (k + 1) * run]))

    def commit(self) -> None:
        if self.done:
            return
        try:
            if self.gz_at_commit:
                self.file.seek(0)
                with open(self.files.temps[0], "wb") as raw, _gzip_writer(raw) as g:
                    while chunk := self.file.read(1 << 24):
                        g.write(chunk)
            self.file.close()
            if self.stage != self.files.temps[0]:
                os.remove(self.stage)
            self.files.commit()
            self.done = True
        except OSError as err:
            self._cleanup()
            if isinstance(err, ImageIOError):
                raise
            msg = f"{self.path}: cannot be written ({err.strerror or err})"
            raise ImageIOError(msg) from err

    def abort(self) -> None:
        if not self.done:
            self._cleanup()


class _GzipSlabWriter:
    """Streamed ``.nii.gz`` writer for scalar images: whole slabs along the last axis, in order."""

    order = "slabs"

    def __init__(self, path: str, info: ImageInfo, header: bytes, dtype: np.dtype) -> None:
        self.path, self.info, self.dtype = path, info, dtype
        self.files = AtomicFiles([path])
        try:
            self.raw: Any = open(self.files.temps[0], "wb")  # noqa: SIM115 - closed by commit/abort
            self.gz = _gzip_writer(self.raw)
            self.gz.write(header)
        except BaseException:
            self.files.abort()
            raise
        self.next = 0
        self.done = False

    def write(self, region: Region, array: np.ndarray) -> None:
        geometry = self.info.geometry
        last = geometry.dimension - 1
        whole = region.index[:last] == (0,) * last and region.size[:last] == geometry.size[:last]
        if self.done or not whole or region.index[last] != self.next or region.stop[last] > geometry.size[last]:
            msg = (
                f"{self.path}: a .nii.gz stream takes whole slabs along the last axis in order; expected "
                f"index {(0,) * last + (self.next,)} with size {geometry.size[:last]} + (n,), got {region}"
            )
            raise ImageIOError(msg)
        arr = np.asarray(array)
        if arr.shape != region.shape:
            msg = f"{self.path}: region {region} needs an array of shape {region.shape}, got {arr.shape}"
            raise ImageIOError(msg)
        _write_array(self.gz, np.ascontiguousarray(arr, dtype=self.dtype))
        self.next = region.stop[last]

    def commit(self) -> None:
        if self.done:
            return
        if self.next != self.info.geometry.size[-1]:
            self.abort()
            msg = f"{self.path}: commit after {self.next} of {self.info.geometry.size[-1]} slabs; nothing was written"
            raise ImageIOError(msg)
        self.done = True
        try:
            self.gz.close()
            self.raw.close()
            self.files.commit()
        except OSError as err:
            self.raw.close()
            self.files.abort()
            if isinstance(err, ImageIOError):
                raise
            msg = f"{self.path}: cannot be written ({err.strerror or err})"
            raise ImageIOError(msg) from err

    def abort(self) -> None:
        if self.done:
            return
        self.done = True
        try:
            self.gz.close()
        finally:
            self.raw.close()
            self.files.abort()


def _disk_shape(info: ImageInfo) -> tuple[int, ...]:
    shape = info.geometry.size[::-1]
    if info.pixel_type.is_vector:
        return (info.components, *((1,) * (4 - info.geometry.dimension)), *shape)
    return tuple(shape)


def _disk_box(info: ImageInfo, region: Region, shape: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    if info.pixel_type.is_vector:
        pad = len(shape) - 1 - region.dimension
        return (0,) * (1 + pad) + region.index[::-1], (shape[0],) + (1,) * pad + region.size[::-1]
    return region.index[::-1], region.size[::-1]


def open_writer(path: PathType, info: ImageInfo, *, compress: bool = False) -> Any:
    """A streamed writer for ``info``: ``.nii`` takes regions in any order (``order == "any"``);
    ``.nii.gz`` takes whole slabs along the last axis in increasing order (``order == "slabs"``),
    except vector images, whose components are stored one volume after another: those are
    staged uncompressed next to the target and compressed at commit (``order == "any"``).
    Nothing appears under ``path`` until ``commit()``.

    >>> import tempfile, os, numpy as np, imalgebra as ia
    >>> p = os.path.join(tempfile.mkdtemp(), "s.nii")
    >>> info = ImageInfo(geometry=ia.Geometry(size=(2, 2, 2)), pixel_type=ia.PixelType.UInt8)
    >>> w = open_writer(p, info)
    >>> w.write(ia.Region(index=(0, 0, 1), size=(2, 2, 1)), np.ones((1, 2, 2), np.uint8))
    >>> w.write(ia.Region(index=(0, 0, 0), size=(2, 2, 1)), np.zeros((1, 2, 2), np.uint8))
    >>> w.commit()
    >>> read_region(p, read_info(p), ia.Region(index=(0, 0, 0), size=(2, 2, 2)))[:, 0, 0].tolist()
    [0, 1]
    """
    path = os.fspath(path)
    _, gz = _is_nii_name(path)
    header = _build_header(path, info)
    dtype = _writable_type(path, info.pixel_type)
    try:
        if gz and not info.pixel_type.is_vector:
            return _GzipSlabWriter(path, info, header, dtype)
        return _RawWriter(path, info, header, dtype, gz_at_commit=gz)
    except OSError as err:
        msg = f"{path}: cannot be written ({err})"
        raise ImageIOError(msg) from None


_WRITABLE = frozenset(t for t in PixelType if t is not PixelType.Unknown and not t.is_label)

IO = FormatIO(
    name=NAME,
    extensions=EXTENSIONS,
    sniff=sniff,
    read_info=read_info,
    read_region=read_region,
    write=write,
    open_writer=open_writer,
    capabilities=Capabilities(
        header_only=True,
        region_read=True,
        streamed_write=True,
        pixel_types=_WRITABLE,
        dimensions=(2, 3, 4, 5, 6, 7),
    ),
    description="NIfTI-1/NIfTI-2 (.nii, .nii.gz, .hdr/.img); geometry as ITK reads and writes it",
)
