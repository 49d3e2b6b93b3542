"""Shared helpers for the 2D raster formats (PNG, JPEG, BMP) and TIFF.

Each format module keeps its own decoding rules; this module holds what they
share: importing an optional library with an error that names the package,
opening a file with Pillow so that its exceptions (and its
decompression-bomb guard) become :class:`~imalgebra.ImageIOError` naming the
file, the checks a 2D writer makes, and small numpy helpers.

Pillow's decompression-bomb guard: Pillow warns above
``PIL.Image.MAX_IMAGE_PIXELS`` pixels (89 million by default) and refuses
twice that. imalgebra reads files the caller chose, so the warning is not
raised; the refusal becomes an ImageIOError that says how to raise the limit.
Formats add their own check that the file is large enough for the pixels its
header claims (see :func:`check_claimed_size`).

Example
-------
>>> require("numpy", "numpy", "PNG").__name__
'numpy'
"""

from __future__ import annotations

import contextlib
import importlib
import os
import struct
import warnings
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from imalgebra.algebra.image import Image
from imalgebra.algebra.pixel import PixelType
from imalgebra.errors import ImageIOError

__all__ = [
    "check_claimed_size",
    "check_writable",
    "file_size",
    "open_pillow",
    "pillow_call",
    "pillow_error",
    "require",
    "write_pixels",
]

PathType = str | os.PathLike[str]


def require(module: str, package: str, what: str) -> Any:
    """Import ``module`` or raise an ImageIOError naming ``package`` and the extra that installs it.

    >>> require("numpy", "numpy", "PNG").__name__
    'numpy'
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        msg = f"{what} needs the '{package}' package: pip install {package} (or pip install 'imalgebra[io]')"
        raise ImageIOError(msg) from err


def file_size(path: PathType, what: str) -> int:
    """The size of ``path`` in bytes; a clear ImageIOError when it is missing, a folder or empty."""
    try:
        st = os.stat(path)
    except FileNotFoundError as err:
        msg = f"{path}: no such file"
        raise ImageIOError(msg) from err
    except OSError as err:
        msg = f"{path}: cannot read: {err.strerror or err}"
        raise ImageIOError(msg) from err
    if os.path.isdir(path):
        msg = f"{path}: is a folder, not a {what} file"
        raise ImageIOError(msg)
    if st.st_size == 0:
        msg = f"{path}: the file is empty (0 bytes), not a {what} file"
        raise ImageIOError(msg)
    return st.st_size


def check_claimed_size(path: PathType, what: str, claimed: int, available: int, detail: str) -> None:
    """Refuse a header that claims more bytes than ``available`` can hold (a lying or truncated file).

    >>> check_claimed_size("a.png", "PNG", 100, 200, "")
    """
    if claimed > available:
        msg = (
            f"{path}: the {what} header claims {detail} ({claimed} bytes) but the file can hold "
            f"at most {available}; the file is truncated or its header is corrupt"
        )
        raise ImageIOError(msg)


def pillow_error(path: PathType, what: str, err: BaseException) -> ImageIOError:
    """An ImageIOError for an exception Pillow raised while reading ``path``."""
    pil_image = importlib.import_module("PIL.Image")
    if isinstance(err, pil_image.DecompressionBombError):
        msg = (
            f"{path}: {err}; raise the limit with `PIL.Image.MAX_IMAGE_PIXELS = <pixels>` "
            "(or None) if you trust this file"
        )
        return ImageIOError(msg)
    text = str(err) or type(err).__name__
    if "truncated" in text.lower():
        return ImageIOError(f"{path}: the {what} data is truncated ({text})")
    return ImageIOError(f"{path}: not a readable {what} file ({text})")


_PILLOW_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    struct.error,
    zlib.error,
)


@contextlib.contextmanager
def open_pillow(path: PathType, what: str, formats: tuple[str, ...]) -> Iterator[Any]:
    """Open ``path`` with Pillow (only ``formats``); a failure to open becomes an ImageIOError.

    Decode inside the block with :func:`pillow_call`. Pillow's
    DecompressionBombWarning is silenced (its refusal above twice the limit
    still applies and becomes an ImageIOError).
    """
    pil_image = require("PIL.Image", "pillow", what)
    file_size(path, what)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pil_image.DecompressionBombWarning)
        try:
            im = pil_image.open(path, formats=list(formats))
        except (*_PILLOW_ERRORS, pil_image.DecompressionBombError) as err:
            raise pillow_error(path, what, err) from err
        with im:
            yield im


def pillow_call(path: PathType, what: str, func: Callable[..., Any], *args: Any) -> Any:
    """Call ``func(*args)`` (a Pillow decode); its exceptions become an ImageIOError naming ``path``."""
    pil_image = require("PIL.Image", "pillow", what)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pil_image.DecompressionBombWarning)
        try:
            return func(*args)
        except (*_PILLOW_ERRORS, pil_image.DecompressionBombError) as err:
            raise pillow_error(path, what, err) from err


def check_writable(
    path: PathType,
    image: Image,
    what: str,
    pixel_types: frozenset[PixelType],
    components: tuple[int, ...],
    dimensions: tuple[int, ...] = (2,),
) -> np.ndarray:
    """Check that ``image`` fits the format and return its pixels as a numpy array.

    Raises ImageIOError naming the file, what the format holds, and how to fix it.
    """
    if image.dimension not in dimensions:
        dims = " or ".join(f"{d}D" for d in dimensions)
        fix = "take a slice (img[:, :, k]) or write a list of file names, one per slice"
        msg = f"cannot write {path}: {what} holds {dims} images, this one is {image.dimension}D {image.size}; {fix}"
        raise ImageIOError(msg)
    if image.pixel_type not in pixel_types:
        names = ", ".join(sorted(p.name for p in pixel_types))
        msg = (
            f"cannot write {path}: {what} holds {names}, not {image.pixel_type.name}; "
            "cast the image first, or choose a format that holds it (.mha, .nrrd, .nii, .tif)"
        )
        raise ImageIOError(msg)
    if image.components not in components:
        allowed = ", ".join(str(c) for c in components)
        msg = (
            f"cannot write {path}: {what} holds {allowed} components per pixel, this image has "
            f"{image.components}; select components first, or write .mha/.nrrd/.tif"
        )
        raise ImageIOError(msg)
    return np.asarray(image)


def write_pixels(path: PathType, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file beside it, then rename)."""
    from imalgebra.io.atomic import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
