"""BMP: Windows bitmaps (2D), read as SimpleITK reads them where it can.

Reading:

* every palette bitmap (1, 4 or 8 bits, also RLE4/RLE8 compressed, also a
  gray palette) is expanded to RGB: VectorUInt8 x 3, as SimpleITK does;
* 24-bit -> VectorUInt8 x 3; 16-bit (555/565) -> VectorUInt8 x 3 scaled to
  8 bits;
* 32-bit -> VectorUInt8 x 4 as SimpleITK: R, G, B and the fourth byte (the
  "reserved" byte of BI_RGB files, usually 0; the alpha mask's bits for
  BI_BITFIELDS files that have one);
* spacing 1, origin 0, identity direction: SimpleITK ignores the
  pixels-per-metre fields, so do we. No metadata.

SimpleITK refuses 1-, 4- and 16-bit files and BITMAPV4/V5 headers; we read
them (pixels equal to Pillow's decoding). SimpleITK also misreads OS/2 1.x
bitmaps (12-byte header): it takes their 3-byte palette entries as 4-byte
ones and returns wrong colours (bmpsuite ``pal8os2.bmp``); we return the
right colours, equal to the same picture stored as ``pal8.bmp``.

Uncompressed 8-, 24- and 32-bit files are decoded here with numpy (Pillow
drops the fourth byte of 32-bit files, and is ~5x slower); Pillow decodes the
rest (RLE, 1/4/16-bit). A region read decodes the whole image.

Writing (2D only; as SimpleITK writes): UInt8 as an 8-bit file with a gray
palette, VectorUInt8 x 3 as 24-bit, x 4 as 32-bit (the fourth component in
the fourth byte). Note that a UInt8 image written as BMP reads back as
VectorUInt8 x 3, in SimpleITK and here alike: the file stores a palette. The
pixels-per-metre fields get ``1000 / spacing`` (rounded), which readers that
honour them (not SimpleITK) turn back into the spacing.

Example
-------
>>> import tempfile, pathlib, numpy as np, imalgebra as ia
>>> path = pathlib.Path(tempfile.mkdtemp()) / "a.bmp"
>>> write(path, ia.from_array(np.arange(6, dtype=np.uint8).reshape(2, 3)))
>>> info = read_info(path)
>>> info.pixel_type.name, info.components
('VectorUInt8', 3)
"""

from __future__ import annotations

import os
import struct

import attrs
import numpy as np

from imalgebra.algebra.geometry import Geometry, Region
from imalgebra.algebra.image import Image
from imalgebra.algebra.pixel import PixelType
from imalgebra.errors import ImageIOError
from imalgebra.io._pillow import (
    check_claimed_size,
    check_writable,
    file_size,
    open_pillow,
    pillow_call,
    write_pixels,
)
from imalgebra.io.base import Capabilities, FormatIO, ImageInfo

__all__ = ["EXTENSIONS", "IO", "NAME", "read_info", "read_region", "sniff", "write"]

NAME = "BMPImageIO"
EXTENSIONS = (".bmp",)
PathType = str | os.PathLike[str]
_HEADER_SIZES = (12, 40, 52, 56, 64, 108, 124)
_COMPRESSIONS = {0: "BI_RGB", 1: "BI_RLE8", 2: "BI_RLE4", 3: "BI_BITFIELDS", 6: "BI_ALPHABITFIELDS"}


def sniff(head: bytes) -> bool:
    """True for "BM" followed by a known DIB header size at byte 14.

    >>> sniff(b"BM" + bytes(12) + (40).to_bytes(4, "little")), sniff(b"BMP is not enough")
    (True, False)
    """
    if len(head) < 18 or head[:2] != b"BM":
        return False
    return struct.unpack_from("<I", head, 14)[0] in _HEADER_SIZES


@attrs.frozen
class _Header:
    width: int
    height: int  # negative: rows stored top-down
    bits: int
    compression: int
    offset: int
    masks: tuple[int, int, int, int]  # R, G, B, A (A may be 0)
    dib: int = 40
    colors: int = 0  # palette entries declared (0: all 2**bits)


def _parse(path: PathType) -> _Header:
    size = file_size(path, "BMP")
    with open(path, "rb") as f:
        head = f.read(14 + 124 + 16)
    if len(head) < 26 or head[:2] != b"BM":
        msg = f"{path}: not a BMP file (it does not start with 'BM' and a bitmap header)"
        raise ImageIOError(msg)
    offset, dib = struct.unpack_from("<II", head, 10)
    if dib not in _HEADER_SIZES or len(head) < 14 + min(dib, 40):
        msg = f"{path}: corrupt or unsupported BMP: bitmap header of {dib} bytes (known: {_HEADER_SIZES})"
        raise ImageIOError(msg)
    masks = (0, 0, 0, 0)
    colors = 0
    if dib == 12:
        width, height, planes, bits = struct.unpack_from("<HHHH", head, 18)
        compression = 0
    else:
        width, height, planes, bits, compression = struct.unpack_from("<iiHHI", head, 18)
        colors = struct.unpack_from("<I", head, 46)[0] if len(head) >= 50 else 0
        if compression in (3, 6):
            raw = head[54:70] if dib == 40 else head[54 : 54 + 16]
            count = 4 if (dib >= 56 or compression == 6) else 3
            values = struct.unpack_from(f"<{count}I", raw.ljust(16, b"\0"))
            masks = (*values, 0)[:4] if count == 3 else values  # type: ignore[assignment]
    problem = None
    if width <= 0 or height == 0:
        problem = f"image size {width} x {height}"
    elif bits not in (1, 2, 4, 8, 16, 24, 32):
        problem = f"{bits} bits per pixel"
    elif compression not in _COMPRESSIONS:
        problem = f"compression {compression} (embedded JPEG/PNG or unknown)"
    elif compression in (1, 2) and bits != {1: 8, 2: 4}[compression]:
        problem = f"{_COMPRESSIONS[compression]} with {bits} bits per pixel"
    elif offset >= size:
        problem = f"pixel data offset {offset} past the end of the {size}-byte file"
    elif planes != 1:
        problem = f"{planes} colour planes"
    if problem:
        msg = f"{path}: corrupt or unsupported BMP: {problem}"
        raise ImageIOError(msg)
    rows = abs(height)
    if compression in (1, 2):
        # a run of up to 255 pixels takes 2 bytes: bound the size the header may claim
        check_claimed_size(path, "BMP", width * rows, (size - offset) * 128 + 1024, f"{width} x {rows} pixels")
    else:
        stride = (width * bits + 31) // 32 * 4
        check_claimed_size(path, "BMP", stride * rows, size - offset, f"{width} x {rows} pixels of {bits} bits")
    return _Header(width, height, bits, compression, offset, masks, dib, colors)


def read_info(path: PathType) -> ImageInfo:
    """Size and pixel type from the bitmap header, without reading pixels.

    >>> import tempfile, pathlib, numpy as np, imalgebra as ia
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.bmp"
    >>> write(p, ia.from_array(np.zeros((2, 3, 4), np.uint8), is_vector=True))
    >>> read_info(p).size, read_info(p).components
    ((3, 2), 4)
    """
    return _info(path, _parse(path))


def _info(path: PathType, header: _Header) -> ImageInfo:
    return ImageInfo(
        geometry=Geometry(size=(header.width, abs(header.height))),
        pixel_type=PixelType.VectorUInt8,
        components=4 if header.bits == 32 else 3,
        io=NAME,
        path=str(path),
    )


def read_region(path: PathType, info: ImageInfo, region: Region) -> np.ndarray:
    """The pixels of ``region`` (decodes the whole image, then slices).

    >>> import tempfile, pathlib, numpy as np, imalgebra as ia
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "g.bmp"
    >>> write(p, ia.from_array(np.arange(6, dtype=np.uint8).reshape(2, 3)))
    >>> read_region(p, read_info(p), ia.Region(index=(1, 1), size=(1, 1))).tolist()
    [[[4, 4, 4]]]
    """
    header = _parse(path)
    actual = _info(path, header)
    if actual.shape != info.shape:
        msg = f"{path}: the file changed since its header was read ({info.shape} then {actual.shape})"
        raise ImageIOError(msg)
    if header.bits == 32:
        pixels = _decode_32(path, header)
    elif header.compression == 0 and header.bits in (8, 24):
        pixels = _decode_8_24(path, header)
    else:
        pixels = _decode_pillow(path)
    if pixels.shape != info.shape:
        msg = f"{path}: the BMP decoder returned pixels of shape {pixels.shape}, the header says {info.shape}"
        raise ImageIOError(msg)
    return np.ascontiguousarray(pixels[region.slices])


def _decode_pillow(path: PathType) -> np.ndarray:
    with open_pillow(path, "BMP", ("BMP", "DIB")) as im:
        rgb = pillow_call(path, "BMP", im.convert, "RGB")
        return np.asarray(rgb)


def _decode_8_24(path: PathType, header: _Header) -> np.ndarray:
    """Uncompressed 8-bit palette and 24-bit bitmaps with numpy (Pillow's BMP decoder is ~5x slower)."""
    rows = abs(header.height)
    stride = (header.width * header.bits + 31) // 32 * 4
    with open(path, "rb") as f:
        f.seek(header.offset)
        data = np.fromfile(f, dtype=np.uint8, count=stride * rows)
        palette = None
        if header.bits == 8:
            entry = 3 if header.dib == 12 else 4
            count = header.colors if 0 < header.colors <= 256 else 256
            f.seek(14 + header.dib)
            raw = np.frombuffer(f.read(count * entry), np.uint8)
            raw = raw[: len(raw) // entry * entry].reshape(-1, entry)
            palette = np.zeros((256, 3), np.uint8)
            palette[: len(raw)] = raw[:, 2::-1]  # BGR(X) -> RGB
    if data.size != stride * rows:
        msg = f"{path}: truncated BMP: {data.size} of {stride * rows} pixel bytes present"
        raise ImageIOError(msg)
    data = data.reshape(rows, stride)
    if header.height > 0:
        data = data[::-1]  # stored bottom-up
    if palette is not None:
        return palette[data[:, : header.width]]
    return data[:, : header.width * 3].reshape(rows, header.width, 3)[..., ::-1]


def _decode_32(path: PathType, header: _Header) -> np.ndarray:
    rows = abs(header.height)
    count = header.width * rows
    with open(path, "rb") as f:
        f.seek(header.offset)
        words = np.fromfile(f, dtype="<u4", count=count)
    if words.size != count:
        msg = f"{path}: truncated BMP: {words.size} of {count} pixels present"
        raise ImageIOError(msg)
    words = words.reshape(rows, header.width)
    if header.height > 0:
        words = words[::-1]  # stored bottom-up
    if header.compression == 0:
        masks = (0x00FF0000, 0x0000FF00, 0x000000FF, 0xFF000000)
    else:
        red, green, blue, alpha = header.masks
        masks = (red, green, blue, alpha or (0xFF000000 if not (red | green | blue) & 0xFF000000 else 0))
    return np.stack([_channel(words, m) for m in masks], axis=-1)


def _channel(words: np.ndarray, mask: int) -> np.ndarray:
    """The bits of ``mask`` scaled to 0..255 (8-bit masks are taken as they are)."""
    if mask == 0:
        return np.zeros(words.shape, np.uint8)
    shift = (mask & -mask).bit_length() - 1
    width = bin(mask).count("1")
    values = (words & np.uint32(mask)) >> np.uint32(shift)
    if width == 8:
        return values.astype(np.uint8)
    top = (1 << width) - 1
    return ((values.astype(np.uint64) * 255 + top // 2) // top).astype(np.uint8)


def write(path: PathType, image: Image, *, compress: bool = False) -> None:
    """Write a 2D UInt8 (gray palette), VectorUInt8 x 3 (24-bit) or x 4 (32-bit) bitmap, atomically.

    ``compress`` is ignored (SimpleITK does not read RLE bitmaps it could write).

    >>> import tempfile, pathlib, numpy as np, imalgebra as ia
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "w.bmp"
    >>> write(p, ia.from_array(np.zeros((2, 2, 3), np.uint8), is_vector=True))
    >>> read_info(p).components
    3
    """
    del compress
    pixels = check_writable(path, image, "BMP", _WRITABLE, (1, 3, 4))
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    height, width = pixels.shape[:2]
    if pixels.ndim == 2:
        bits, body = 8, pixels
        palette = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 4, axis=1)
        palette[:, 3] = 0
        table = palette.tobytes()
    else:
        bits = 8 * pixels.shape[-1]
        order = [2, 1, 0] + ([3] if pixels.shape[-1] == 4 else [])
        body = pixels[..., order].reshape(height, -1)
        table = b""
    stride = (width * bits + 31) // 32 * 4
    rows = np.zeros((height, stride), np.uint8)
    rows[:, : body.shape[1]] = body
    data = rows[::-1].tobytes()  # bottom-up
    offset = 14 + 40 + len(table)
    ppm = [round(1000.0 / s) if 1000.0 / s < 2**31 else 0 for s in image.spacing[:2]]
    info_header = struct.pack(
        "<IiiHHIIiiII", 40, width, height, 1, bits, 0, len(data), ppm[0], ppm[1], 256 if table else 0, 0
    )
    file_header = struct.pack("<2sIHHI", b"BM", offset + len(data), 0, 0, offset)
    write_pixels(path, file_header + info_header + table + data)


_WRITABLE = frozenset({PixelType.UInt8, PixelType.VectorUInt8, PixelType.LabelUInt8})

IO = FormatIO(
    name=NAME,
    extensions=EXTENSIONS,
    sniff=sniff,
    read_info=read_info,
    read_region=read_region,
    write=write,
    capabilities=Capabilities(header_only=True, region_read=False, pixel_types=_WRITABLE, dimensions=(2,)),
    description="Windows bitmap (Pillow; 32-bit decoded here)",
)
