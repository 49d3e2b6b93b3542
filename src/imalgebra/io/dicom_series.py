"""DICOM series: find them in a folder, sort their files along the slice normal, check, read.

A series is the set of image files sharing a Series Instance UID (``0020|000e``,
what SimpleITK's ``GetGDCMSeriesIDs`` returns). Its files are sorted by the
position of each slice (Image Position (Patient)) along the normal of the
slices (row x column of Image Orientation (Patient)), never by file name or
Instance Number.

Reading checks what SimpleITK only warns about, or not at all, and raises an
:class:`~imalgebra.ImageIOError` naming the files instead of returning a
silently wrong volume: slices of different sizes or pixel layouts, several
orientations, duplicate positions, a missing slice or non-uniform steps (more
than 1% from the typical step), slices without a position.

The geometry follows SimpleITK's ImageSeriesReader: origin, in-plane spacing
and direction of the first slice; the slice spacing is the distance from the
first position to the last divided by (n - 1), so small jitter in the positions
reads exactly as in SimpleITK. When the slices are stacked obliquely (gantry
tilt: the first-to-last vector leaves the normal by more than 1e-3), the
direction's third column is that vector, so every slice keeps its true place
(SimpleITK forces the normal and misplaces them).

The volume's pixel type is the slices' type; when rescale parameters differ
between slices and give different types, the common type that holds them all
(Float64 if any slice is fractional). Metadata is the first slice's;
:func:`sorted_headers` (or ``ia.dicom.series_metadata``) gives every slice's.

Example
-------
>>> import tempfile, os, numpy as np, imalgebra as ia
>>> from imalgebra.io import dicom, dicom_series
>>> folder = tempfile.mkdtemp()
>>> for z in (2, 0, 1):  # written out of order, under names that sort differently
...     img = ia.from_array(np.full((2, 3), z, np.int16)).with_origin((0, 0)).with_metadata(
...         {"0020|000e": "1.2.3", "0020|0013": str(3 - z)})
...     dicom.write(os.path.join(folder, f"s{z}.dcm"), img)
>>> # (a 2D write puts each slice at z = 0; move them apart for the example)
>>> import pydicom
>>> for z in range(3):
...     p = os.path.join(folder, f"s{z}.dcm"); ds = pydicom.dcmread(p)
...     ds.ImagePositionPatient = [0, 0, 2.5 * z]; ds.save_as(p)
>>> dicom_series.series_ids(folder)
('1.2.3',)
>>> [os.path.basename(p) for p in dicom_series.series_files(folder)]
['s0.dcm', 's1.dcm', 's2.dcm']
>>> vol = dicom_series.read(dicom_series.series_files(folder))
>>> vol.size, vol.spacing, ia.to_array(vol)[:, 0, 0].tolist()
((3, 2, 3), (1.0, 1.0, 2.5), [0, 1, 2])
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from imalgebra.algebra.geometry import Geometry, Region
from imalgebra.algebra.image import Image
from imalgebra.algebra.pixel import PixelType
from imalgebra.errors import ImageIOError
from imalgebra.io.base import ImageInfo, PathType

__all__ = ["info", "read", "series_files", "series_ids", "sorted_headers"]

_ORIENTATION_TOLERANCE = 1e-4
_OBLIQUE_STACK = 1e-3


def _dicom() -> Any:
    from imalgebra.io import dicom

    return dicom


def _scan(directory: PathType, recursive: bool) -> list[Any]:
    """Headers of the DICOM image files in ``directory`` (other files are skipped)."""
    dicom = _dicom()
    folder = os.fspath(directory)
    if not os.path.isdir(folder):
        msg = f"{folder}: not a folder; series_ids and series_files take the folder holding the DICOM files"
        raise ImageIOError(msg)
    names: list[str] = []
    if recursive:
        for root, _, files in os.walk(folder):
            names.extend(os.path.join(root, f) for f in files)
    else:
        names = [os.path.join(folder, f) for f in os.listdir(folder) if os.path.isfile(os.path.join(folder, f))]
    headers = []
    for name in sorted(names):
        try:
            with open(name, "rb") as f:
                head = f.read(1024)
        except OSError:
            continue
        if not dicom.sniff(head):
            continue
        try:
            headers.append(dicom._cached_header(name))
        except ImageIOError:
            continue  # DICOMDIR, structured reports, corrupt files: not image slices
    return headers


def _series_uid(header: Any) -> str:
    return header.info.metadata.get("0020|000e", "").strip(" \0")


def series_ids(directory: PathType, *, recursive: bool = False) -> tuple[str, ...]:
    """The Series Instance UIDs of the image files in ``directory``, in order of first appearance
    (files taken by name).

    >>> import tempfile, imalgebra as ia
    >>> series_ids(tempfile.mkdtemp())
    ()
    """
    seen: dict[str, None] = {}
    for header in _scan(directory, recursive):
        seen.setdefault(_series_uid(header), None)
    return tuple(seen)


def _normal(header: Any) -> np.ndarray:
    return header.info.geometry.direction_matrix[:, 2]


def _sort(headers: list[Any]) -> list[Any]:
    """Sorted along the first slice's normal (ties: Instance Number, then file name)."""
    if not headers:
        return headers
    normal = _normal(headers[0])

    def key(h: Any) -> tuple[float, float, str]:
        position = np.asarray(h.info.geometry.origin, dtype=float)
        try:
            instance = float(h.info.metadata.get("0020|0013", "0") or 0)
        except ValueError:
            instance = 0.0
        return float(position @ normal), instance, h.path

    return sorted(headers, key=key)


def series_files(directory: PathType, series_id: str | None = None, *, recursive: bool = False) -> tuple[str, ...]:
    """The files of one series in ``directory``, sorted along the slice normal.

    ``series_id`` may be omitted when the folder holds one series.

    >>> import tempfile
    >>> try:
    ...     series_files(tempfile.mkdtemp())
    ... except Exception as err:
    ...     print(type(err).__name__)
    ImageIOError
    """
    headers = _scan(directory, recursive)
    ids = list(dict.fromkeys(_series_uid(h) for h in headers))
    if series_id is None:
        if len(ids) != 1:
            found = ", ".join(ids) if ids else "none"
            msg = f"{os.fspath(directory)}: holds {len(ids)} DICOM series ({found}); pass series_id= to choose one"
            raise ImageIOError(msg)
        series_id = ids[0]
    chosen = [h for h in headers if _series_uid(h) == series_id.strip()]
    if not chosen:
        found = ", ".join(ids) if ids else "none"
        msg = f"{os.fspath(directory)}: no DICOM series {series_id!r} here (series found: {found})"
        raise ImageIOError(msg)
    return tuple(h.path for h in _sort(chosen))


def _headers(paths: Sequence[PathType]) -> list[Any]:
    dicom = _dicom()
    if isinstance(paths, (str, os.PathLike)):
        msg = f"{os.fspath(paths)}: give a list of files (ia.dicom.series_files(folder) lists a folder's series)"
        raise ImageIOError(msg)
    names = [os.fspath(p) for p in paths]
    if not names:
        msg = "read_series: the list of files is empty"
        raise ImageIOError(msg)
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        msg = f"read_series: {twice} is listed more than once"
        raise ImageIOError(msg)
    return [dicom._cached_header(n) for n in names]


def sorted_headers(paths: Sequence[PathType]) -> list[Any]:
    """The files' headers sorted along the normal and checked to form one volume."""
    headers = _headers(paths)
    if len(headers) == 1:
        return headers
    first = headers[0]
    for h in headers:
        if h.frames != 1:
            msg = (
                f"{h.path}: holds {h.frames} frames; a series is a list of single-frame files "
                "(read a multi-frame file on its own with ia.read(path))"
            )
            raise ImageIOError(msg)
        if (h.rows, h.columns) != (first.rows, first.columns):
            msg = (
                f"{h.path}: size mismatch: {h.columns} x {h.rows} pixels where {first.path} has "
                f"{first.columns} x {first.rows}; these files are not one volume"
            )
            raise ImageIOError(msg)
        if h.info.components != first.info.components or h.info.pixel_type.is_vector != first.info.pixel_type.is_vector:
            msg = (
                f"{h.path}: {h.info.components} component(s) per pixel where {first.path} has "
                f"{first.info.components}; these files are not one volume"
            )
            raise ImageIOError(msg)
        if h.position is None:
            msg = f"{h.path}: no Image Position (Patient) (0020,0032); cannot place the slice in a series"
            raise ImageIOError(msg)
    directions = [h.info.geometry.direction_matrix for h in headers]
    odd = [h for h, d in zip(headers, directions, strict=True)
           if np.max(np.abs(d - directions[0])) > _ORIENTATION_TOLERANCE]  # fmt: skip
    if odd:
        count = len({tuple(np.round(d.ravel(), 4)) for d in directions})
        msg = (
            f"{first.path}: mixed orientations: the files have {count} different Image Orientation (Patient) "
            f"values (e.g. {odd[0].path}); they are not one volume (SimpleITK stacks them anyway); "
            "read each orientation's files separately"
        )
        raise ImageIOError(msg)
    ordered = _sort(headers)
    normal = _normal(ordered[0])
    distances = np.array([np.asarray(h.info.geometry.origin) @ normal for h in ordered])
    _dicom()._check_steps(
        ordered[0].path, np.diff(distances), "slice", names=[os.path.basename(h.path) for h in ordered]
    )
    return ordered


def _pixel_type(headers: list[Any]) -> PixelType:
    types = {h.info.pixel_type for h in headers}
    if len(types) == 1:
        return types.pop()
    dtypes = [t.dtype for t in types]
    common = np.dtype("float64") if any(d.kind == "f" for d in dtypes) else np.result_type(*dtypes)
    return PixelType.from_dtype(common, is_vector=headers[0].info.pixel_type.is_vector)


def _geometry(headers: list[Any]) -> Geometry:
    first = headers[0].info.geometry
    if len(headers) == 1:
        return first
    start = np.asarray(first.origin)
    stop = np.asarray(headers[-1].info.geometry.origin)
    vector = stop - start
    distance = float(np.linalg.norm(vector))
    spacing = list(first.spacing)
    direction = first.direction_matrix
    spacing[2] = distance / (len(headers) - 1)
    unit = vector / distance
    if np.max(np.abs(unit - direction[:, 2])) > _OBLIQUE_STACK:
        direction[:, 2] = unit  # tilted stack: keep each slice where it is
    return Geometry(size=(first.size[0], first.size[1], len(headers)), origin=first.origin, spacing=spacing,
                    direction=direction.ravel())  # fmt: skip


def info(paths: Sequence[PathType]) -> ImageInfo:
    """The volume's header: geometry, pixel type, components, first slice's metadata."""
    headers = sorted_headers(paths)
    first = headers[0]
    return ImageInfo(
        geometry=_geometry(headers),
        pixel_type=_pixel_type(headers),
        components=first.info.components,
        metadata=first.info.metadata,
        io=first.info.io,
        path=first.path,
    )


def read(paths: Sequence[PathType], *, index: Sequence[int] | None = None, size: Sequence[int] | None = None) -> Image:
    """Read ``paths`` as one volume (sorted along the normal, checked; see the module notes).

    ``index``/``size`` (x, y, z) read a region: only the slices it covers are decoded.
    """
    dicom = _dicom()
    headers = sorted_headers(paths)
    if len(headers) == 1 and headers[0].frames > 1:
        hdr = headers[0]
        region = _region(hdr.info.geometry, index, size, hdr.path)
        array = dicom.read_region(hdr.path, hdr.info, region)
        geometry = hdr.info.geometry.crop(region)
        return Image.from_pixels(array, geometry, hdr.info.pixel_type, metadata=hdr.info.metadata, copy=False)
    pixel_type = _pixel_type(headers)
    geometry = _geometry(headers)
    region = _region(geometry, index, size, headers[0].path)
    shape = region.shape + ((headers[0].info.components,) if pixel_type.is_vector else ())
    out = np.empty(shape, dtype=pixel_type.dtype)
    x0, x1, y0, y1 = region.index[0], region.stop[0], region.index[1], region.stop[1]
    for k, hdr in enumerate(headers[region.index[2] : region.stop[2]]):
        pixels = dicom._decode_frames(hdr, [0])[:, y0:y1, x0:x1]
        out[k] = dicom._to_output(hdr, pixels, None)[0]
    if region != geometry.region:
        geometry = geometry.crop(region)
    return Image.from_pixels(out, geometry, pixel_type, metadata=headers[region.index[2]].info.metadata, copy=False)


def _region(geometry: Geometry, index: Sequence[int] | None, size: Sequence[int] | None, name: str) -> Region:
    if index is None and size is None:
        return geometry.region
    start = tuple(index) if index is not None else (0,) * geometry.dimension
    extent = tuple(size) if size is not None else tuple(s - i for s, i in zip(geometry.size, start, strict=True))
    try:
        region = Region(index=start, size=extent)
    except Exception as err:
        msg = f"{name}: bad region index={index} size={size}: {err}"
        raise ImageIOError(msg) from None
    if region.dimension != geometry.dimension or not geometry.region.contains(region) or region.is_empty():
        msg = f"{name}: region index={start} size={extent} is not inside the volume of size {geometry.size}"
        raise ImageIOError(msg)
    return region
