"""TIFF: single pages and multi-page stacks (3D), every sample type, read and written with tifffile.

Reading follows SimpleITK (ITK's TIFFImageIO) for what it reads faithfully:

* one page -> a 2D image (so a 3D image of depth 1 reads back 2D, as in
  SimpleITK); several pages of one shape -> a 3D image, page k
  at z = k (reduced-resolution and mask pages, NewSubfileType bits 1 and 4,
  are skipped, as ITK skips them); z spacing 1;
* spacing ``25.4 / XResolution`` mm for ResolutionUnit inch (also when the
  unit tag is missing: libtiff's default), ``10 / XResolution`` for cm, and
  1 for unit "none" or no resolution; origin 0, identity direction. We use the
  exact rational (SimpleITK goes through a float32: 0.5 reads as
  0.5000000075);
* a palette (PhotometricInterpretation 3) is expanded through the colour map
  to 3 components, UInt16 when any map entry exceeds 255 (else UInt8); a map
  whose entries are all gray gives 1 component (the map's gray value);
* MinIsWhite samples are returned as stored (not inverted), as SimpleITK;
* metadata: the ASCII tags of the first page (``ImageDescription``,
  ``Software``, ``DateTime``, ``DocumentName``...) by tag name, without the
  trailing NUL SimpleITK keeps in fixed-length tags such as ``DateTime``.

Where SimpleITK is lossy we return the data as stored: it reads planar
(PlanarConfiguration 2), tiled, 16-bit RGB, 1/2/4-bit and many compressed
layouts through libtiff's 8-bit RGBA reader ("Falling back to suboptimal
8-bit RGBA reader"); we return the samples (e.g. ``tiff_16bit_RGB.tiff`` is
VectorUInt16 x 3 here, 8-bit RGBA there; a 1-bit page is UInt8 0/1). It
refuses 64-bit samples (Int64, UInt64, Float64, ComplexFloat32) and
MinIsWhite float; we read them. Float16 samples become Float32. A page with
extra samples but MinIsBlack photometric keeps all its samples (SimpleITK
keeps only the first).

Region reads read only the pages the region crosses. In an uncompressed page
stored contiguously (what this module and SimpleITK write) only the rows
needed are read; other pages (compressed, tiled, packed bits) are decoded
whole, then cut. ``IO.capabilities.region_read`` is True for that first case.

Writing: 2D or 3D (pages), every pixel type: scalars and vectors of
(U)Int8..(U)Int64, Float32/64 (vectors as samples per pixel, PhotometricInterpretation
RGB for 2 or more components as SimpleITK writes them, so SimpleITK reads
them back; ExtraSamples beyond 3), complex as TIFF complex samples (which
SimpleITK cannot read), labels as their integer type. Spacing x/y as
resolution in pixels per cm (exact rationals); z spacing, origin, direction
and metadata are not stored (SimpleITK does the same). ``compress=True``
uses Deflate. Files over 4 GB are BigTIFF. :func:`open_writer` streams a
stack to disk.

Example
-------
>>> import tempfile, pathlib, numpy as np, imalgebra as ia
>>> path = pathlib.Path(tempfile.mkdtemp()) / "a.tif"
>>> vol = ia.from_array(np.arange(24, dtype=np.int16).reshape(2, 3, 4)).with_spacing((0.5, 0.5, 2.0))
>>> write(path, vol)
>>> info = read_info(path)
>>> info.size, info.pixel_type.name, info.spacing
((4, 3, 2), 'Int16', (0.5, 0.5, 1.0))
"""

from __future__ import annotations

import contextlib
import os
import struct
import threading
from fractions import Fraction
from typing import Any

import attrs
import numpy as np

from imalgebra.algebra.geometry import Geometry, Region
from imalgebra.algebra.image import Image
from imalgebra.algebra.pixel import PixelType
from imalgebra.errors import ImageIOError
from imalgebra.io._pillow import check_writable, file_size, require
from imalgebra.io.base import Capabilities, FormatIO, ImageInfo

__all__ = ["EXTENSIONS", "IO", "NAME", "open_writer", "read_info", "read_region", "sniff", "write"]

NAME = "TIFFImageIO"
EXTENSIONS = (".tif", ".tiff")
PathType = str | os.PathLike[str]
_MAGIC = (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")
_PALETTE, _RGB = 3, 2


def sniff(head: bytes) -> bool:
    """True for the classic (``II*\\0``, ``MM\\0*``) and BigTIFF (``II+\\0``, ``MM\\0+``) signatures.

    >>> sniff(b"II*\\0\\x08\\0\\0\\0"), sniff(b"MM\\0+"), sniff(b"BM")
    (True, True, False)
    """
    return bytes(head[:4]) in _MAGIC


def _tifffile() -> Any:
    return require("tifffile", "tifffile", "TIFF")


# -- reading ---------------------------------------------------------------------


@attrs.frozen
class _Layout:
    """How one page maps to pixels: dtype of the output, components and the palette if any."""

    height: int
    width: int
    samples: int
    dtype: np.dtype
    components: int
    colormap: np.ndarray | None  # (2**bits, components) in the output dtype


def _open(path: PathType) -> Any:
    tifffile = _tifffile()
    file_size(path, "TIFF")
    with open(path, "rb") as f:
        head = f.read(4)
    if head not in _MAGIC:
        msg = f"{path}: not a TIFF file (no II*/MM* signature)"
        raise ImageIOError(msg)
    try:
        return tifffile.TiffFile(path)
    except Exception as err:  # tifffile raises TiffFileError, ValueError, struct.error, ...
        raise _error(path, err) from err


def _error(path: PathType, err: BaseException) -> ImageIOError:
    text = str(err) or type(err).__name__
    if "imagecodecs" in text:
        return ImageIOError(f"{path}: {text}: pip install imagecodecs (or pip install 'imalgebra[io]')")
    return ImageIOError(f"{path}: corrupt or unsupported TIFF ({text})")


@attrs.frozen
class _Ifd:
    """What one IFD says about its page, read straight from the file (fast: no tifffile page object)."""

    index: int
    subfile: int
    width: int
    length: int
    samples: int
    bits: int
    sampleformat: int
    photometric: int
    compression: int
    planar: int
    byteorder: str = "<"
    strips: tuple[tuple[int, int, bytes], ...] = ()  # StripOffsets, StripByteCounts: (type, count, raw field)

    @property
    def key(self) -> tuple[int, ...]:
        return (self.width, self.length, self.samples, self.bits, self.sampleformat, self.photometric, self.planar)

    def describe(self) -> str:
        return f"{self.width} x {self.length}, {self.samples} samples of {self.bits} bits"


_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 6: 1, 7: 1, 8: 2, 9: 4, 11: 4, 12: 8, 16: 8, 17: 8, 18: 8}
_WANTED = {254: "subfile", 256: "width", 257: "length", 258: "bits", 259: "compression", 262: "photometric"}
_WANTED |= {277: "samples", 284: "planar", 339: "sampleformat"}


_SCANS: dict[tuple[Any, ...], list[_Ifd]] = {}
_SCANS_LOCK = threading.Lock()


def _scan_ifds(path: PathType) -> list[_Ifd]:
    """The IFDs of ``path``, cached by file identity (path, inode, size, mtime) for repeated region reads."""
    try:
        st = os.stat(path)
    except OSError:
        return _scan_ifds_uncached(path)
    key = (os.path.realpath(path), st.st_ino, st.st_size, st.st_mtime_ns)
    with _SCANS_LOCK:
        found = _SCANS.get(key)
    if found is None:
        found = _scan_ifds_uncached(path)
        with _SCANS_LOCK:
            if len(_SCANS) >= 32:
                _SCANS.pop(next(iter(_SCANS)))
            _SCANS[key] = found
    return found


def _scan_ifds_uncached(path: PathType) -> list[_Ifd]:
    """Walk the IFD chain reading the few tags that tell pages apart (classic TIFF and BigTIFF)."""
    size = file_size(path, "TIFF")
    with open(path, "rb", buffering=0) as f:
        head = f.read(16)
        if head[:4] not in _MAGIC:
            msg = f"{path}: not a TIFF file (no II*/MM* signature)"
            raise ImageIOError(msg)
        bo = "<" if head[:2] == b"II" else ">"
        big = head[2:4] in (b"+\0", b"\0+")
        count_fmt, entry, value_fmt, inline = ("Q", 20, "Q", 8) if big else ("H", 12, "I", 4)
        if len(head) < (16 if big else 8):
            msg = f"{path}: truncated TIFF header"
            raise ImageIOError(msg)
        offset = struct.unpack_from(bo + value_fmt, head, 8 if big else 4)[0]
        ifds: list[_Ifd] = []
        seen: set[int] = set()
        while offset:
            if offset in seen or offset + 2 > size:
                where = "a loop" if offset in seen else "past the end of the file"
                msg = f"{path}: corrupt TIFF: IFD {len(ifds)} at byte {offset} is {where}"
                raise ImageIOError(msg)
            seen.add(offset)
            f.seek(offset)
            count_size = struct.calcsize(count_fmt)
            chunk = f.read(count_size + 40 * entry + 8)  # most IFDs fit: one read
            n = struct.unpack_from(bo + count_fmt, chunk)[0] if len(chunk) >= count_size else 0
            need = count_size + n * entry + struct.calcsize(value_fmt)
            if len(chunk) < need:
                chunk += f.read(need - len(chunk))
            body = chunk[count_size:need]
            if n == 0 or len(chunk) < need:
                msg = f"{path}: truncated or corrupt TIFF: IFD {len(ifds)} at byte {offset} holds {n} entries"
                raise ImageIOError(msg)
            values = {"subfile": 0, "samples": 1, "bits": 1, "sampleformat": 1, "photometric": -1}
            values |= {"compression": 1, "planar": 1, "width": 0, "length": 0}
            strips: dict[int, tuple[int, int, bytes]] = {}
            for k in range(n):
                tag, kind = struct.unpack_from(bo + "HH", body, k * entry)
                if tag in (273, 279) and kind in (3, 4, 16):
                    count = struct.unpack_from(bo + count_fmt.replace("H", "I"), body, k * entry + 4)[0]
                    field = body[k * entry + (12 if big else 8) : k * entry + entry]
                    strips[tag] = (kind, count, bytes(field))
                name = _WANTED.get(tag)
                if name is None or kind not in (3, 4, 16):
                    continue
                count = struct.unpack_from(bo + count_fmt.replace("H", "I"), body, k * entry + 4)[0]
                item = _TYPE_SIZES[kind]
                fmt = bo + {3: "H", 4: "I", 16: "Q"}[kind]
                where = k * entry + (12 if big else 8)
                if count * item <= inline:
                    values[name] = struct.unpack_from(fmt, body, where)[0]
                else:  # the first of several values, stored elsewhere
                    pos = struct.unpack_from(bo + value_fmt, body, where)[0]
                    f.seek(pos)
                    first = f.read(item)
                    if len(first) == item:
                        values[name] = struct.unpack(fmt, first)[0]
            refs = (strips[273], strips[279]) if 273 in strips and 279 in strips else ()
            ifds.append(_Ifd(index=len(ifds), byteorder=bo, strips=refs, **values))
            offset = struct.unpack_from(bo + value_fmt, body, n * entry)[0]
    if not ifds:
        msg = f"{path}: the TIFF file holds no image page"
        raise ImageIOError(msg)
    return ifds


def _stack(path: PathType) -> list[_Ifd]:
    """The image pages (reduced-resolution and mask pages skipped, as ITK does), checked to be one shape."""
    pages = [ifd for ifd in _scan_ifds(path) if not ifd.subfile & 0b101]
    if not pages:
        msg = f"{path}: the TIFF file holds only reduced-resolution or mask pages"
        raise ImageIOError(msg)
    first = pages[0]
    for k, other in enumerate(pages[1:], start=1):
        if other.key != first.key:
            msg = (
                f"{path}: page {k} ({other.describe()}) differs from page 0 ({first.describe()}); a TIFF stack "
                "needs pages of one shape and type (SimpleITK reads such pages into page 0's size; read single "
                "pages with tifffile)"
            )
            raise ImageIOError(msg)
    return pages


def _layout(path: PathType, page: Any) -> _Layout:
    if page.imagedepth > 1:
        msg = f"{path}: volumetric TIFF pages (ImageDepth {page.imagedepth}) are not supported"
        raise ImageIOError(msg)
    if page.dtype is None:
        msg = f"{path}: TIFF sample format {page.sampleformat} with {page.bitspersample} bits is not supported"
        raise ImageIOError(msg)
    dtype = np.dtype(page.dtype)
    if dtype.kind == "b":
        dtype = np.dtype(np.uint8)
    elif dtype == np.float16:
        dtype = np.dtype(np.float32)
    elif dtype.kind not in "iufc":
        msg = f"{path}: TIFF samples of dtype {dtype} are not supported"
        raise ImageIOError(msg)
    height, width = int(page.imagelength), int(page.imagewidth)
    samples = int(page.samplesperpixel)
    colormap = None
    components = samples
    if int(page.photometric) == _PALETTE and page.colormap is not None and samples == 1:
        cmap = np.asarray(page.colormap).T  # (entries, 3)
        dtype = np.dtype(np.uint16 if cmap.max() > 255 else np.uint8)
        gray = bool((cmap == cmap[:, :1]).all())
        components = 1 if gray else 3
        colormap = cmap[:, :components].astype(dtype)
    elif dtype.kind == "c" and samples > 1:
        msg = f"{path}: TIFF pages with {samples} complex samples per pixel are not supported"
        raise ImageIOError(msg)
    return _Layout(height, width, samples, dtype, components, colormap)


def _pixel_type(layout: _Layout) -> PixelType:
    scalar = PixelType.from_dtype(layout.dtype)
    return scalar if layout.components == 1 else scalar.vector_type


def _spacing(page: Any) -> tuple[float, float]:
    tags = page.tags
    xres, yres = tags.get(282), tags.get(283)
    unit = int(tags[296].value) if 296 in tags else 2  # libtiff's default unit is the inch
    if xres is None or yres is None or unit not in (2, 3):
        return (1.0, 1.0)
    scale = 25.4 if unit == 2 else 10.0
    out = []
    for tag in (xres, yres):
        value = tag.value
        number = Fraction(int(value[0]), int(value[1])) if isinstance(value, tuple) and value[1] else None
        if number is None or number <= 0:
            return (1.0, 1.0)
        out.append(float(scale / number))
    return (out[0], out[1])


def _metadata(page: Any) -> dict[str, str]:
    meta = {}
    for tag in page.tags.values():
        if int(tag.dtype) == 2 and isinstance(tag.value, str):
            meta[str(tag.name)] = tag.value.rstrip("\0")
    return meta


def read_info(path: PathType) -> ImageInfo:
    """Geometry, pixel type and ASCII-tag metadata from the page headers (no pixel data).

    >>> import tempfile, pathlib, numpy as np, imalgebra as ia
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "rgb.tif"
    >>> write(p, ia.from_array(np.zeros((2, 3, 3), np.uint16), is_vector=True))
    >>> read_info(p).pixel_type.name, read_info(p).components
    ('VectorUInt16', 3)
    """
    pages = _stack(path)
    with _open(path) as tif:
        page = _page(path, tif, pages[0].index)
        layout = _layout(path, page)
        size: tuple[int, ...] = (layout.width, layout.height)
        spacing: tuple[float, ...] = _spacing(page)
        if len(pages) > 1:
            size, spacing = (*size, len(pages)), (*spacing, 1.0)
        return ImageInfo(
            geometry=Geometry(size=size, spacing=spacing),
            pixel_type=_pixel_type(layout),
            components=layout.components,
            metadata=_metadata(page),
            io=NAME,
            path=str(path),
        )


def _page(path: PathType, tif: Any, index: int) -> Any:
    try:
        return tif.pages[index]
    except Exception as err:
        raise _error(path, err) from err


def read_region(path: PathType, info: ImageInfo, region: Region) -> np.ndarray:
    """The pixels of ``region``: only the pages it crosses, only the rows it needs where uncompressed.

    >>> import tempfile, pathlib, numpy as np, imalgebra as ia
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.tif"
    >>> write(p, ia.from_array(np.arange(24, dtype=np.uint8).reshape(2, 3, 4)))
    >>> read_region(p, read_info(p), ia.Region(index=(1, 1, 1), size=(2, 1, 1))).tolist()
    [[[17, 18]]]
    """
    index, size = region.index, region.size
    z0, nz = (index[2], size[2]) if len(index) > 2 else (0, 1)
    x0, y0 = index[0], index[1]
    x1, y1 = x0 + size[0], y0 + size[1]
    pages = _stack(path)
    with _open(path) as tif:
        key = _page(path, tif, pages[0].index)
        layout = _layout(path, key)
        expected = (len(pages), layout.height, layout.width, layout.components)
        have = (info.size[2] if info.dimension > 2 else 1, info.size[1], info.size[0], info.components)
        if expected != have:
            msg = f"{path}: the file changed since its header was read"
            raise ImageIOError(msg)
        out = np.empty((nz, y1 - y0, x1 - x0, layout.components), dtype=layout.dtype)
        try:
            tif.pages.set_keyframe(pages[0].index)
        except Exception as err:
            raise _error(path, err) from err
        with open(path, "rb", buffering=0) as f:
            for k in range(nz):
                out[k] = _page_region(path, tif, f, pages[z0 + k], key, layout, y0, y1, x0, x1)
    if info.dimension == 2:
        out = out[0]
    return out if info.pixel_type.is_vector else out[..., 0]


def _page_region(
    path: PathType, tif: Any, f: Any, ifd: _Ifd, key: Any, layout: _Layout, y0: int, y1: int, x0: int, x1: int
) -> Any:
    """[rows, cols, components] of one page (``ifd``: where it is; ``key``: the layout of every page)."""
    try:
        samples = _rows_direct(path, f, ifd, key, y0, y1)
        if samples is None:
            frame = key if ifd.index == key.index else _frame(path, tif, ifd.index)
            samples = _to_hwc(key, frame.asarray())[y0:y1]
    except ImageIOError:
        raise
    except Exception as err:
        raise _error(path, err) from err
    samples = samples[:, x0:x1]
    if layout.colormap is not None:
        return layout.colormap[samples[..., 0]]
    if samples.dtype != layout.dtype:
        samples = samples.astype(layout.dtype)
    return samples


def _frame(path: PathType, tif: Any, index: int) -> Any:
    """Page ``index`` as a light frame (offsets only; the layout comes from the key page)."""
    if not tif.pages.useframes:
        tif.pages.useframes = True
    return _page(path, tif, index)


def _to_hwc(page: Any, data: np.ndarray) -> np.ndarray:
    separate, depth, height, width, contig = page.shaped
    data = np.asarray(data).reshape(separate, depth, height, width, contig)[:, 0]
    return np.moveaxis(data, 0, -2).reshape(height, width, separate * contig)


def _strip_table(f: Any, ifd: _Ifd, which: int) -> np.ndarray:
    kind, count, field = ifd.strips[which]
    dtype = np.dtype(ifd.byteorder + {3: "u2", 4: "u4", 16: "u8"}[kind])
    nbytes = count * dtype.itemsize
    if nbytes <= len(field):
        return np.frombuffer(field[:nbytes], dtype).astype(np.int64)
    pointer = int(np.frombuffer(field, np.dtype(ifd.byteorder + ("u8" if len(field) == 8 else "u4")))[0])
    f.seek(pointer)
    raw = f.read(nbytes)
    if len(raw) != nbytes:
        return np.zeros(0, np.int64)
    return np.frombuffer(raw, dtype).astype(np.int64)


def _rows_direct(path: PathType, f: Any, ifd: _Ifd, key: Any, y0: int, y1: int) -> np.ndarray | None:
    """Rows y0:y1 of an uncompressed page stored contiguously, read without the rest; None for other layouts."""
    if not ifd.strips or not _direct_ok(key):
        return None
    dtype = np.dtype(ifd.byteorder + key.dtype.char)
    separate, _depth, height, width, contig = key.shaped
    row = width * contig * dtype.itemsize
    offsets, counts = _strip_table(f, ifd, 0), _strip_table(f, ifd, 1)
    if not len(offsets) or len(offsets) != len(counts):
        return None
    if not (offsets[1:] == offsets[:-1] + counts[:-1]).all() or counts.sum() < separate * height * row:
        return None
    planes = []
    for s in range(separate):
        start = int(offsets[0]) + s * height * row + y0 * row
        nbytes = (y1 - y0) * row
        f.seek(start)
        raw = f.read(nbytes)
        if len(raw) != nbytes:
            msg = f"{path}: truncated TIFF: page data ends before row {y1}"
            raise ImageIOError(msg)
        planes.append(np.frombuffer(raw, dtype).reshape(y1 - y0, width, contig))
    samples = planes[0] if separate == 1 else np.concatenate(planes, axis=-1)
    return samples.astype(dtype.newbyteorder("="), copy=False)


def _direct_ok(page: Any) -> bool:
    return bool(
        int(page.compression) == 1
        and int(page.predictor) == 1
        and int(page.fillorder) == 1
        and not page.is_tiled
        and page.imagedepth == 1
        and page.dtype is not None
        and page.bitspersample == np.dtype(page.dtype).itemsize * 8
        and int(page.photometric) != 6  # YCbCr may be subsampled
    )


# -- writing ---------------------------------------------------------------------


def _write_args(info: ImageInfo, compress: bool) -> dict[str, Any]:
    tifffile = _tifffile()
    vector = info.pixel_type.is_vector and info.components > 1
    rgb = vector and info.components >= 3
    args: dict[str, Any] = {
        "photometric": tifffile.PHOTOMETRIC.RGB if rgb else tifffile.PHOTOMETRIC.MINISBLACK,
        "planarconfig": tifffile.PLANARCONFIG.CONTIG if vector else None,
        "metadata": None,
        "software": False,
        "resolution": tuple(_rational(10.0 / s) for s in info.spacing[:2]),
        "resolutionunit": tifffile.RESUNIT.CENTIMETER,
        "compression": "zlib" if compress else None,
    }
    if vector and info.components != 3:
        args["extrasamples"] = [0] * (info.components - (3 if rgb else 1))
    return args


def _rational(value: float) -> tuple[int, int]:
    fraction = Fraction(value).limit_denominator(2**32 - 1)
    while fraction.numerator > 2**32 - 1:
        fraction = Fraction(value).limit_denominator(max(1, fraction.denominator // 2))
        if fraction.denominator == 1:
            break
    return (max(1, min(fraction.numerator, 2**32 - 1)), fraction.denominator)


def _dtype_for(info: ImageInfo) -> np.dtype:
    return np.dtype(info.pixel_type.dtype)


def _shape_for(info: ImageInfo) -> tuple[int, ...]:
    return info.shape if info.pixel_type.is_vector and info.components > 1 else info.geometry.shape


def _patch_two_samples(path: PathType, info: ImageInfo) -> None:
    """Mark 2-sample pages RGB, as SimpleITK writes them, so that SimpleITK reads both samples."""
    if not (info.pixel_type.is_vector and info.components == 2):
        return
    tifffile = _tifffile()
    with tifffile.TiffFile(path, mode="r+b") as tif:
        for page in tif.pages:
            page.tags[262].overwrite(_RGB)


def write(path: PathType, image: Image, *, compress: bool = False) -> None:
    """Write a 2D image or a 3D stack (one page per z), atomically; ``compress=True`` uses Deflate.

    >>> import tempfile, pathlib, numpy as np, imalgebra as ia
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "f.tif"
    >>> write(p, ia.from_array(np.ones((3, 2), np.float64)), compress=True)
    >>> read_info(p).pixel_type.name
    'Float64'
    """
    from imalgebra.io.atomic import atomic_path

    pixels = check_writable(path, image, "TIFF", _WRITABLE, tuple(range(1, 256)), dimensions=(2, 3))
    info = ImageInfo(geometry=image.geometry, pixel_type=image.pixel_type, components=image.components)
    tifffile = _tifffile()
    data = pixels.reshape(_shape_for(info))
    with atomic_path(path) as tmp:
        try:
            tifffile.imwrite(tmp, data, bigtiff=data.nbytes > 2**32 - 2**25, **_write_args(info, compress))
            _patch_two_samples(tmp, info)
        except ImageIOError:
            raise
        except (ValueError, TypeError, OSError) as err:
            msg = f"cannot write {path}: {err}"
            raise ImageIOError(msg) from err


_WRITABLE = frozenset(p for p in PixelType if p is not PixelType.Unknown)


# -- streamed writing -----------------------------------------------------------------


class _TiffRegionWriter:
    """A TIFF written region by region into a temporary file; nothing appears under the target until commit.

    Uncompressed: the file is laid out first and memory-mapped, so regions may
    come in any order and from several threads (``order = "any"``).
    Compressed: pages are encoded one by one, so regions must be whole slabs
    along the last axis (z for 3D, rows for 2D) in increasing order
    (``order = "slabs"``); a 2D image is held in memory until it is complete.
    """

    def __init__(self, path: PathType, info: ImageInfo, compress: bool) -> None:
        from imalgebra.io.atomic import AtomicFiles

        if info.dimension not in (2, 3):
            msg = f"cannot write {path}: TIFF holds 2D and 3D images, this one is {info.dimension}D"
            raise ImageIOError(msg)
        self.path = path
        self.info = info
        self.compress = compress
        self.order = "slabs" if compress else "any"
        self._files = AtomicFiles([path])
        self._tmp = self._files.temps[0]
        self._lock = threading.Lock()
        self._written = 0
        self._total = info.geometry.number_of_pixels
        tifffile = _tifffile()
        dtype = _dtype_for(info)
        shape = _shape_for(info)
        args = _write_args(info, compress)
        try:
            if compress:
                self._writer = tifffile.TiffWriter(self._tmp, bigtiff=info.nbytes > 2**32 - 2**25)
                self._args = args
                self._next = 0  # next slab start along the last axis
                self._page = np.zeros(shape, dtype) if info.dimension == 2 else None
                self._array = None
            else:
                self._array = tifffile.memmap(self._tmp, shape=shape, dtype=dtype, **args)
        except Exception:
            self._files.abort()
            raise

    def write(self, region: Region, array: np.ndarray) -> None:
        self.info.geometry.region.require_contains(region, "region")
        arr = np.asarray(array, dtype=_dtype_for(self.info)).reshape(_shape_for_region(self.info, region))
        if self._array is not None:
            self._array[region.slices] = arr
            with self._lock:
                self._written += region.number_of_pixels
            return
        with self._lock:
            self._write_slab(region, arr)

    def _write_slab(self, region: Region, arr: np.ndarray) -> None:
        size = self.info.size
        last = len(size) - 1
        whole = all(region.index[i] == 0 and region.size[i] == size[i] for i in range(last))
        if not whole or region.index[last] != self._next:
            msg = (
                f"{self.path}: a compressed TIFF is written in whole slabs along the last axis, in order; "
                f"expected a slab starting at {self._next}, got index={region.index} size={region.size}"
            )
            raise ImageIOError(msg)
        if self._page is not None:  # 2D: rows into the one page
            self._page[region.slices] = arr
        else:
            for plane in arr:
                self._writer.write(plane, **self._args)
        self._next += region.size[last]
        self._written += region.number_of_pixels

    def commit(self) -> None:
        with self._lock:
            if self._written < self._total:
                self.abort()
                msg = f"cannot write {self.path}: only {self._written} of {self._total} pixels were written"
                raise ImageIOError(msg)
            try:
                if self._array is not None:
                    self._array.flush()
                    mmap = getattr(self._array, "_mmap", None)
                    self._array = None
                    if mmap is not None:
                        mmap.close()
                else:
                    if self._page is not None:
                        self._writer.write(self._page, **self._args)
                    self._writer.close()
                _patch_two_samples(self._tmp, self.info)
            except Exception:
                self.abort()
                raise
            self._files.commit()

    def abort(self) -> None:
        if self._array is not None:
            mmap = getattr(self._array, "_mmap", None)
            self._array = None
            if mmap is not None:
                mmap.close()
        elif getattr(self, "_writer", None) is not None:
            with contextlib.suppress(Exception):  # the temporary file is removed just below
                self._writer.close()
        self._files.abort()

    def __enter__(self) -> _TiffRegionWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def _shape_for_region(info: ImageInfo, region: Region) -> tuple[int, ...]:
    extra = (info.components,) if info.pixel_type.is_vector and info.components > 1 else ()
    return region.shape + extra


def open_writer(path: PathType, info: ImageInfo, *, compress: bool = False) -> _TiffRegionWriter:
    """A streamed writer for a 2D image or 3D stack described by ``info`` (see :class:`_TiffRegionWriter`).

    >>> import tempfile, pathlib, numpy as np, imalgebra as ia
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "stream.tif"
    >>> info = ImageInfo(geometry=ia.Geometry(size=(4, 3, 2)), pixel_type=ia.PixelType.UInt16)
    >>> with open_writer(p, info) as w:
    ...     w.write(ia.Region(index=(0, 0, 1), size=(4, 3, 1)), np.ones((1, 3, 4), np.uint16))
    ...     w.write(ia.Region(index=(0, 0, 0), size=(4, 3, 1)), np.zeros((1, 3, 4), np.uint16))
    >>> read_region(p, read_info(p), ia.Region(index=(0, 0, 0), size=(1, 1, 2))).ravel().tolist()
    [0, 1]
    """
    return _TiffRegionWriter(path, info, compress)


IO = FormatIO(
    name=NAME,
    extensions=EXTENSIONS,
    sniff=sniff,
    read_info=read_info,
    read_region=read_region,
    write=write,
    open_writer=open_writer,
    capabilities=Capabilities(
        header_only=True, region_read=True, streamed_write=True, pixel_types=_WRITABLE, dimensions=(2, 3)
    ),
    description="TIFF and multi-page TIFF stacks (tifffile)",
)
