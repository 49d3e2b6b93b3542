"""JPEG: 8-bit gray and colour photographs (2D), read and written with Pillow.

Reading follows SimpleITK (ITK's JPEGImageIO):

* gray -> UInt8, colour -> VectorUInt8 x 3;
* CMYK (Adobe, e.g. Photoshop files) -> VectorUInt8 x 3 with ITK's
  conversion ``R = C' * K' // 255`` on the stored (inverted) samples, i.e.
  ``(255 - C) * (255 - K) // 255`` on true CMYK; equal to SimpleITK bit for
  bit;
* spacing from the JFIF density: ``25.4 / dpi`` mm for dots per inch,
  ``10 / density`` for dots per cm; density unit 0 (an aspect ratio only) or
  no JFIF segment gives spacing 1. Origin 0, identity direction;
* the EXIF orientation tag is ignored, as SimpleITK ignores it (the pixels
  come in stored order, not rotated for display).

Pixel values: JPEG leaves the chroma upsampling of subsampled (4:2:0, 4:2:2)
files to the decoder, and Pillow's libjpeg-turbo upsamples differently from
the libjpeg inside SimpleITK. Gray and 4:4:4 files decode identically (at most
a rare +-1 from the inverse DCT); subsampled colour files differ by a mean
below 1 grey level, up to ~50 at sharp colour edges (measured on
``grace_hopper.jpg``: mean 0.40, max 43). Neither is wrong; the JPEG
standard does not fix the upsampling filter.

Writing: UInt8, or VectorUInt8 with 1 or 3 components, 2D only; quality 95
(SimpleITK's default) with no chroma subsampling (4:4:4), so any decoder
gives back the same pixels. ``compress`` is ignored (JPEG is always lossy).
Spacing is stored as a JFIF density in dots per inch or per cm, whichever
rounds closer (as ITK chooses; ITK then writes unit 0 for centimetres, which
readers ignore, so SimpleITK loses e.g. spacing 0.5; we write unit 2).
Densities are whole numbers up to 65535, so spacing survives only
approximately, and origin, direction and metadata are not stored.

A region read decodes the whole image and slices it.

Example
-------
>>> import tempfile, pathlib, numpy as np, imalgebra as ia
>>> path = pathlib.Path(tempfile.mkdtemp()) / "a.jpg"
>>> write(path, ia.from_array(np.full((8, 8), 100, np.uint8)).with_spacing((0.5, 0.5)))
>>> info = read_info(path)
>>> info.pixel_type.name, info.spacing
('UInt8', (0.5, 0.5))
"""

from __future__ import annotations

import io
import os
import struct

import numpy as np

from imalgebra.algebra.geometry import Geometry, Region
from imalgebra.algebra.image import Image
from imalgebra.algebra.pixel import PixelType
from imalgebra.errors import ImageIOError
from imalgebra.io._pillow import check_writable, open_pillow, pillow_call, require, write_pixels
from imalgebra.io.base import Capabilities, FormatIO, ImageInfo

__all__ = ["EXTENSIONS", "IO", "NAME", "read_info", "read_region", "sniff", "write"]

NAME = "JPEGImageIO"
EXTENSIONS = (".jpg", ".jpeg")
QUALITY = 95
PathType = str | os.PathLike[str]
_FORMATS = ("JPEG",)  # JPEG's factory also opens MPO files (their first frame)
_COMPONENTS = {"L": 1, "RGB": 3, "YCbCr": 3, "CMYK": 3}


def sniff(head: bytes) -> bool:
    """True when ``head`` starts with a JPEG start-of-image marker followed by another marker.

    >>> sniff(b"\\xff\\xd8\\xff\\xe0\\x00\\x10JFIF"), sniff(b"\\x89PNG")
    (True, False)
    """
    return bytes(head[:3]) == b"\xff\xd8\xff"


def _spacing(im_info: dict) -> tuple[float, float]:
    unit = im_info.get("jfif_unit", 0)
    density = im_info.get("jfif_density", (0, 0))
    if unit in (1, 2) and density[0] > 0 and density[1] > 0:
        scale = 25.4 if unit == 1 else 10.0
        return (scale / density[0], scale / density[1])
    return (1.0, 1.0)


def read_info(path: PathType) -> ImageInfo:
    """Size, pixel type and spacing from the JPEG headers, without decoding pixels.

    >>> import tempfile, pathlib, numpy as np, imalgebra as ia
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.jpg"
    >>> write(p, ia.from_array(np.zeros((4, 6, 3), np.uint8), is_vector=True))
    >>> read_info(p).size, read_info(p).components
    ((6, 4), 3)
    """
    with open_pillow(path, "JPEG", _FORMATS) as im:
        return _info(path, im)


def _info(path: PathType, im: object) -> ImageInfo:
    mode = im.mode  # type: ignore[attr-defined]
    if mode not in _COMPONENTS:
        msg = f"{path}: JPEG with Pillow mode {mode!r} is not supported (gray, RGB/YCbCr and CMYK are)"
        raise ImageIOError(msg)
    components = _COMPONENTS[mode]
    width, height = im.size  # type: ignore[attr-defined]
    return ImageInfo(
        geometry=Geometry(size=(width, height), spacing=_spacing(im.info)),  # type: ignore[attr-defined]
        pixel_type=PixelType.UInt8 if components == 1 else PixelType.VectorUInt8,
        components=components,
        io=NAME,
        path=str(path),
    )


def read_region(path: PathType, info: ImageInfo, region: Region) -> np.ndarray:
    """The pixels of ``region`` (decodes the whole image, then slices).

    >>> import tempfile, pathlib, numpy as np, imalgebra as ia
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "g.jpg"
    >>> write(p, ia.from_array(np.full((4, 4), 7, np.uint8)))
    >>> read_region(p, read_info(p), ia.Region(index=(1, 1), size=(2, 1))).tolist()
    [[7, 7]]
    """
    with open_pillow(path, "JPEG", _FORMATS) as im:
        actual = _info(path, im)
        if actual.shape != info.shape:
            msg = f"{path}: the file changed since its header was read ({info.shape} then {actual.shape})"
            raise ImageIOError(msg)
        pillow_call(path, "JPEG", im.load)
        pixels = np.asarray(im)
        if im.mode == "YCbCr":
            pixels = np.asarray(pillow_call(path, "JPEG", im.convert, "RGB"))
        elif im.mode == "CMYK":
            pixels = _cmyk_to_rgb(pixels)
    if pixels.shape != info.shape:
        msg = f"{path}: the JPEG decoder returned pixels of shape {pixels.shape}, the header says {info.shape}"
        raise ImageIOError(msg)
    return np.ascontiguousarray(pixels[region.slices])


def _cmyk_to_rgb(cmyk: np.ndarray) -> np.ndarray:
    """ITK's CMYK -> RGB: ``(255 - C) * (255 - K) // 255`` per channel (on Pillow's true CMYK values)."""
    ink = 255 - cmyk.astype(np.uint16)
    return (ink[..., :3] * ink[..., 3:4] // 255).astype(np.uint8)


def _density(spacing: tuple[float, ...]) -> tuple[int, int, int]:
    """(unit, x density, y density) for the JFIF segment: inches or cm, whichever rounds closer."""
    best = (0, 1, 1)
    best_error = float("inf")
    for unit, scale in ((1, 25.4), (2, 10.0)):
        exact = [scale / s for s in spacing[:2]]
        rounded = [round(v) for v in exact]
        if min(rounded) < 1 or max(rounded) > 65535:
            continue
        error = sum(abs(scale / r - s) / s for r, s in zip(rounded, spacing[:2], strict=True))
        if error < best_error:
            best, best_error = (unit, rounded[0], rounded[1]), error
    return best


def _set_jfif(path: PathType, data: bytes, density: tuple[int, int, int]) -> bytes:
    if data[2:4] != b"\xff\xe0" or data[6:11] != b"JFIF\0":
        msg = f"cannot write {path}: the JPEG encoder wrote no JFIF segment to hold the spacing"
        raise ImageIOError(msg)
    return data[:13] + struct.pack(">BHH", *density) + data[18:]


def write(path: PathType, image: Image, *, compress: bool = False) -> None:
    """Write a 2D UInt8 gray or VectorUInt8 RGB image as a quality-95, 4:4:4 JPEG (atomically).

    >>> import tempfile, pathlib, numpy as np, imalgebra as ia
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "w.jpg"
    >>> write(p, ia.from_array(np.full((2, 2, 3), 200, np.uint8), is_vector=True))
    >>> read_info(p).pixel_type.name
    'VectorUInt8'
    """
    del compress  # JPEG is always lossy-compressed
    pixels = check_writable(path, image, "JPEG", _WRITABLE, (1, 3))
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    pil_image = require("PIL.Image", "pillow", "writing JPEG")
    height, width = pixels.shape[:2]
    if max(width, height) > 65535:
        msg = f"cannot write {path}: JPEG holds at most 65535 pixels per side, this image is {width} x {height}"
        raise ImageIOError(msg)
    mode = "L" if pixels.ndim == 2 else "RGB"
    im = pil_image.frombytes(mode, (width, height), np.ascontiguousarray(pixels).tobytes())
    buffer = io.BytesIO()
    im.save(buffer, format="JPEG", quality=QUALITY, subsampling=0)
    write_pixels(path, _set_jfif(path, buffer.getvalue(), _density(image.spacing)))


_WRITABLE = frozenset({PixelType.UInt8, PixelType.VectorUInt8, PixelType.LabelUInt8})

IO = FormatIO(
    name=NAME,
    extensions=EXTENSIONS,
    sniff=sniff,
    read_info=read_info,
    read_region=read_region,
    write=write,
    capabilities=Capabilities(header_only=True, region_read=False, pixel_types=_WRITABLE, dimensions=(2,)),
    description="JPEG (Pillow)",
)
