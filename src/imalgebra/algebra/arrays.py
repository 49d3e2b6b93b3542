"""The numpy bridge: arrays in ``[z, y, x(, c)]`` order, images in x, y, z.

Shapes and sizes match SimpleITK's GetArrayFromImage / GetImageFromArray:
an array of shape ``(10, 20, 3)`` is a 3D scalar image of size ``(3, 20, 10)``,
or with ``is_vector=True`` a 2D image of size ``(20, 10)`` with 3 components.
Unlike SimpleITK, ``is_vector`` defaults to False for every number of axes (no
"4-D arrays are vectors" guess), and views keep their image alive.

Example
-------
>>> import numpy as np, imalgebra as ia
>>> img = ia.from_array(np.zeros((10, 20, 3), np.uint8), is_vector=True)
>>> img.size, img.components, ia.to_array(img).shape
((20, 10), 3, (10, 20, 3))
"""

from __future__ import annotations

from typing import Any

import numpy as np

from imalgebra.algebra.geometry import Geometry
from imalgebra.algebra.image import Image
from imalgebra.algebra.pixel import PixelType
from imalgebra.errors import GeometryError

__all__ = ["array_view", "from_array", "to_array"]


def _image(image: Any, name: str) -> Image:
    if isinstance(image, Image):
        return image
    evaluate = getattr(image, "evaluate", None)
    if callable(evaluate):
        return evaluate()
    msg = f"{name} takes an Image or an expression, got {type(image).__name__}"
    raise TypeError(msg)


def to_array(image: Any) -> np.ndarray:
    """A writable copy of the pixels, shape ``(z, y, x)`` or ``(z, y, x, c)``.

    >>> to_array(Image.zeros((3, 2), PixelType.Int16)).shape
    (2, 3)
    """
    return np.array(np.asarray(_image(image, "to_array")), copy=True)


def array_view(image: Any) -> np.ndarray:
    """A read-only view of the pixels, no copy (label images are decoded).

    Writing raises numpy's ``ValueError: assignment destination is read-only``;
    the view holds a reference to the pixels, so it stays valid.

    >>> array_view(Image.zeros((3, 2), PixelType.Int16)).flags.writeable
    False
    """
    return np.asarray(_image(image, "array_view"))


def from_array(
    array: Any,
    is_vector: bool = False,
    *,
    pixel_type: PixelType | None = None,
    copy: bool = True,
) -> Image:
    """An image of ``array`` (``[z, y, x]``, or ``[z, y, x, c]`` when ``is_vector``).

    The geometry is the default one (origin 0, spacing 1, identity direction);
    place it with ``.with_geometry(other.geometry)``. The pixels are copied, so
    later changes to ``array`` never reach the image (``copy=False`` adopts it:
    then do not write to it). ``pixel_type`` chooses the type (a label type
    encodes runs); by default it follows the dtype. Lists work like
    ``np.asarray``; bool becomes UInt8; non-native byte order is converted.

    >>> from_array(np.zeros((10, 20, 3), np.uint8)).size
    (3, 20, 10)
    """
    arr = np.asarray(array)
    if arr.dtype.kind == "b":
        arr = arr.astype(np.uint8)
        copy = False
    spatial = arr.ndim - 1 if is_vector else arr.ndim
    if spatial < 2:
        msg = (
            f"from_array: an array of shape {arr.shape} gives a {spatial}D image"
            f"{' (the last axis holds the components)' if is_vector else ''}; images have 2 or more dimensions"
        )
        raise GeometryError(msg)
    if pixel_type is None:
        pixel_type = PixelType.from_dtype(arr.dtype, is_vector=is_vector)
    elif PixelType(pixel_type).is_vector != is_vector:
        msg = f"from_array: pixel_type {PixelType(pixel_type).name} needs is_vector={PixelType(pixel_type).is_vector}"
        raise GeometryError(msg)
    geometry = Geometry(size=arr.shape[:spatial][::-1])
    return Image.from_pixels(arr, geometry, pixel_type, copy=copy)
