"""Stacks: a list of 2D files read as the z slices of a 3D image, and the reverse.

Reading (``ia.read([f0, f1, ...])`` when the files are not DICOM): every file
must hold a 2D image of the same size, pixel type and components (else an
:class:`~imalgebra.ImageIOError` names the odd file). The 3D geometry follows
SimpleITK's ``ReadImage(list)``: x and y from the first file, z spacing 1 and
z origin 0, the 2D direction in the upper-left block; the metadata is the
first file's. Files of one z slice of a 3D image are stacked the same way, with
the z spacing taken from the first-to-last distance of their origins (ITK's
ImageSeriesReader rule) when it is not zero. A region read (``index=``,
``size=``) opens only the files of the region's slices, each read by region.

Writing (``ia.write(vol, [f0, f1, ...])``): one 2D file per z slice
(``vol[:, :, k]``, which keeps the slice's x/y origin, spacing and direction),
each written atomically. The number of paths must equal the depth. The series
as a whole is not atomic: a failure stops at the slice that failed and says
how many were written.

Example
-------
>>> import tempfile, os, numpy as np, imalgebra as ia
>>> folder = tempfile.mkdtemp()
>>> vol = ia.from_array(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
>>> names = [os.path.join(folder, f"s{k}.mha") for k in range(2)]
>>> write_stack(vol, names)
>>> back = read_stack(names)
>>> back.size, ia.to_array(back).tolist() == ia.to_array(vol).tolist()
((4, 3, 2), True)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from imalgebra.algebra.geometry import Geometry
from imalgebra.algebra.image import Image
from imalgebra.algebra.pixel import PixelType
from imalgebra.errors import GeometryError, ImageIOError
from imalgebra.io.base import FormatIO, ImageInfo

__all__ = ["read_stack", "read_stack_info", "write_stack"]


def _slice_infos(paths: list[str], io: str | FormatIO | None, allow_outside: bool) -> list[ImageInfo]:
    from imalgebra.io.registry import read_info

    infos = [read_info(p, io=io, allow_outside=allow_outside) for p in paths]
    first = infos[0]
    for path, info in zip(paths, infos, strict=True):
        flat = info.dimension == 2 or (info.dimension == 3 and info.size[2] == 1)
        if not flat:
            msg = (
                f"{path}: a stack is made of 2D images, but this file holds a {info.dimension}D image of size "
                f"{info.size}; read it on its own"
            )
            raise ImageIOError(msg)
        if (
            info.size[:2] != first.size[:2]
            or info.pixel_type != first.pixel_type
            or info.components != first.components
        ):
            msg = (
                f"{path}: cannot stack it with {paths[0]}: size {info.size[:2]} {info.pixel_type.name} "
                f"x{info.components} vs {first.size[:2]} {first.pixel_type.name} x{first.components}; "
                "all slices must match"
            )
            raise ImageIOError(msg)
    return infos


def _stack_geometry(infos: list[ImageInfo]) -> Geometry:
    first = infos[0]
    n = len(infos)
    g = first.geometry
    if g.dimension == 3:
        origin = np.asarray(g.origin)
        direction = g.direction_matrix
        spacing = list(g.spacing)
        if n > 1:
            step = (np.asarray(infos[-1].origin) - origin) / (n - 1)
            distance = float(np.linalg.norm(step))
            if distance > 0:
                spacing[2] = distance
                direction[:, 2] = step / distance
        try:
            return Geometry(size=(*g.size[:2], n), origin=origin, spacing=spacing, direction=direction.ravel())
        except GeometryError:
            pass  # slices along an in-plane axis: fall back to the plain stack below
    direction = np.eye(3)
    direction[:2, :2] = g.direction_matrix[:2, :2]
    return Geometry(
        size=(*g.size[:2], n), origin=(*g.origin[:2], 0.0), spacing=(*g.spacing[:2], 1.0), direction=direction.ravel()
    )


def read_stack_info(
    paths: Sequence[str | os.PathLike[str]], *, io: str | FormatIO | None = None, allow_outside: bool = False
) -> ImageInfo:
    """The header of the 3D image that :func:`read_stack` reads (every file's header is read)."""
    names = [os.fspath(p) for p in paths]
    if not names:
        msg = "read_info: the list of files is empty"
        raise ImageIOError(msg)
    infos = _slice_infos(names, io, allow_outside)
    first = infos[0]
    return ImageInfo(
        geometry=_stack_geometry(infos),
        pixel_type=first.pixel_type,
        components=first.components,
        metadata=first.metadata,
        io=first.io,
        path=names[0],
    )


def read_stack(
    paths: Sequence[str | os.PathLike[str]],
    *,
    io: str | FormatIO | None = None,
    pixel_type: PixelType | None = None,
    index: Sequence[int] | None = None,
    size: Sequence[int] | None = None,
    allow_outside: bool = False,
) -> Image:
    """Read 2D files as the z slices of one 3D image (see the module docstring for the geometry)."""
    from imalgebra.io.registry import _region, read_with

    names = [os.fspath(p) for p in paths]
    if not names:
        msg = "read: the list of files is empty"
        raise ImageIOError(msg)
    infos = _slice_infos(names, io, allow_outside)
    first = infos[0]
    geometry = _stack_geometry(infos)
    stacked = ImageInfo(geometry=geometry, pixel_type=first.pixel_type, components=first.components)
    region = _region(stacked, names[0], index, size)
    slabs = []
    for k in range(region.index[2], region.index[2] + region.size[2]):
        info = infos[k]
        plane = (region.index[0], region.index[1]) + ((0,) if info.dimension == 3 else ())
        extent = (region.size[0], region.size[1]) + ((1,) if info.dimension == 3 else ())
        image = read_with(info, names[k], pixel_type=pixel_type, index=plane, size=extent)
        array = np.asarray(image)
        slabs.append(array[0] if info.dimension == 3 else array)
        pt = image.pixel_type
    array = np.stack(slabs, axis=0)
    out_geometry = geometry if region == geometry.region else geometry.crop(region)
    return Image.from_pixels(array, out_geometry, pt, metadata=first.metadata, copy=False)


def write_stack(
    image: Image, paths: Sequence[str | os.PathLike[str]], *, io: str | FormatIO | None = None, compress: Any = False
) -> None:
    """Write a 3D image as one 2D file per z slice (``len(paths)`` must equal the depth)."""
    from imalgebra.io.registry import write

    names = [os.fspath(p) for p in paths]
    if image.dimension != 3:
        msg = (
            f"writing to a list of {len(names)} paths needs a 3D image (one 2D file per z slice); "
            f"this image is {image.dimension}D of size {image.size}: write it to a single path"
        )
        raise ImageIOError(msg)
    if len(names) != image.depth:
        msg = f"the image has {image.depth} z slices but {len(names)} paths were given; give one path per slice"
        raise ImageIOError(msg)
    for k, name in enumerate(names):
        try:
            write(image[:, :, k], name, io=io, compress=compress)
        except ImageIOError as err:
            msg = f"writing slice {k} of {len(names)} failed ({k} written before it): {err}"
            raise ImageIOError(msg) from err
