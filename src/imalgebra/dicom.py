"""DICOM series for users: ``ia.dicom.series_ids(folder)``, ``series_files``, ``read_series``, ``series_metadata``.

A folder of DICOM files may hold several series (Series Instance UID,
``0020|000e``). ``series_files`` lists one series' files sorted along the slice
normal by Image Position (Patient) (not by file name or Instance Number);
``ia.read(files)`` (or :func:`read_series`) reads them as one volume and raises
an :class:`~imalgebra.ImageIOError` for duplicate positions, a missing slice,
mixed orientations or mismatched sizes. See :mod:`imalgebra.io.dicom_series`.

Example
-------
>>> import tempfile, imalgebra as ia
>>> ia.dicom.series_ids(tempfile.mkdtemp())
()
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

__all__ = ["read_series", "series_files", "series_ids", "series_metadata"]


def series_ids(directory: str | os.PathLike[str], *, recursive: bool = False) -> tuple[str, ...]:
    """The Series Instance UIDs of the DICOM image files in ``directory`` (SimpleITK's GetGDCMSeriesIDs)."""
    from imalgebra.io import dicom_series

    return dicom_series.series_ids(directory, recursive=recursive)


def series_files(
    directory: str | os.PathLike[str], series_id: str | None = None, *, recursive: bool = False
) -> tuple[str, ...]:
    """One series' files sorted along the slice normal (``series_id`` may be omitted for a single series)."""
    from imalgebra.io import dicom_series

    return dicom_series.series_files(directory, series_id, recursive=recursive)


def read_series(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    series_id: str | None = None,
    *,
    pixel_type: Any = None,
    index: Sequence[int] | None = None,
    size: Sequence[int] | None = None,
) -> Any:
    """Read a series as one volume: ``source`` is a list of files, or a folder (with ``series_id``
    when it holds several series). Metadata is the first slice's; see :func:`series_metadata`."""
    from imalgebra.io import dicom

    files = series_files(source, series_id) if isinstance(source, (str, os.PathLike)) else source
    return dicom.read_series(files, pixel_type=pixel_type, index=index, size=size)


def series_metadata(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], series_id: str | None = None
) -> list[Any]:
    """Every slice's metadata (``"gggg|eeee" -> str``), in the order the volume's slices are read."""
    from imalgebra.io import dicom

    files = series_files(source, series_id) if isinstance(source, (str, os.PathLike)) else source
    return dicom.series_metadata(files)
