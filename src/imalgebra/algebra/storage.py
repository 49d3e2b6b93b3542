"""How an Image keeps its pixels: a dense read-only array, or runs along x.

:class:`DenseStorage` wraps a read-only numpy array in ``[z, y, x(, c)]``
order. :class:`RunLengthStorage` keeps label images as runs of equal
non-zero values along x (background 0 is implicit), so memory is proportional
to the number of runs, not of voxels: a 512^3 segmentation of a few organs
takes kilobytes to megabytes instead of 128 MiB per byte of label.

Both answer the same questions: ``read(region)`` (an array of that region),
``pixel(np_index)``, ``with_values(np_indices, values)`` (one new storage for
many changed pixels) and ``nbytes``.

Example
-------
>>> import numpy as np
>>> s = RunLengthStorage.encode(np.array([[0, 0, 3, 3, 3, 0, 1, 1]], dtype=np.uint8))
>>> s.run_count, s.read_all().tolist()
(2, [[0, 0, 3, 3, 3, 0, 1, 1]])
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np

from imalgebra.algebra.geometry import Region

__all__ = ["DenseStorage", "PixelStorage", "RunLengthStorage", "readonly"]


def readonly(array: np.ndarray) -> np.ndarray:
    """A read-only view of ``array`` (the array itself is left writable)."""
    view = array.view()
    view.flags.writeable = False
    return view


class PixelStorage(Protocol):
    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def nbytes(self) -> int: ...
    def read(self, region: Region) -> np.ndarray: ...
    def read_all(self) -> np.ndarray: ...
    def pixel(self, np_index: tuple[int, ...]) -> np.ndarray | np.generic: ...
    def with_values(self, np_indices: tuple[np.ndarray, ...], values: np.ndarray) -> PixelStorage: ...


class DenseStorage:
    """Pixels as one read-only numpy array, ``[z, y, x(, c)]`` order."""

    __slots__ = ("array", "dtype", "shape")

    def __init__(self, array: np.ndarray) -> None:
        self.array = array if not array.flags.writeable else readonly(array)
        self.shape = array.shape
        self.dtype = array.dtype

    @property
    def nbytes(self) -> int:
        return int(self.array.nbytes)

    def read(self, region: Region) -> np.ndarray:
        return self.array[region.slices]

    def read_all(self) -> np.ndarray:
        return self.array

    def pixel(self, np_index: tuple[int, ...]) -> np.ndarray | np.generic:
        return self.array[np_index]

    def with_values(self, np_indices: tuple[np.ndarray, ...], values: np.ndarray) -> DenseStorage:
        out = self.array.copy()
        out[np_indices] = values
        return DenseStorage(out)


class RunLengthStorage:
    """Non-zero runs along x of a scalar integer array (labels).

    Rows are all pixels sharing the non-x indices, flattened in C order;
    ``row_ptr[r]:row_ptr[r + 1]`` are the runs of row ``r`` with first pixel
    ``starts``, one past the last ``stops`` and value ``values``.
    """

    __slots__ = ("dtype", "row_ptr", "shape", "starts", "stops", "values")

    def __init__(
        self,
        shape: tuple[int, ...],
        row_ptr: np.ndarray,
        starts: np.ndarray,
        stops: np.ndarray,
        values: np.ndarray,
    ) -> None:
        self.shape = tuple(shape)
        self.dtype = values.dtype
        self.row_ptr = readonly(row_ptr)
        self.starts = readonly(starts)
        self.stops = readonly(stops)
        self.values = readonly(values)

    @property
    def width(self) -> int:
        return self.shape[-1]

    @property
    def rows(self) -> int:
        return math.prod(self.shape[:-1])

    @property
    def run_count(self) -> int:
        return int(self.starts.size)

    @property
    def nbytes(self) -> int:
        return int(self.row_ptr.nbytes + self.starts.nbytes + self.stops.nbytes + self.values.nbytes)

    # -- encoding ---------------------------------------------------------
    @classmethod
    def encode(cls, array: np.ndarray, *, rows_per_block: int = 1 << 14) -> RunLengthStorage:
        """Run-length encode ``array`` (any shape, x last), a block of rows at a time
        so the temporary memory stays small for very large label volumes."""
        array = np.asarray(array)
        width = array.shape[-1]
        flat = array.reshape(-1, width)
        index_type = np.int32 if width < 2**31 - 1 else np.int64
        parts: list[tuple[np.ndarray, ...]] = []
        counts = np.zeros(flat.shape[0], dtype=np.int64)
        for first in range(0, flat.shape[0], rows_per_block):
            block = flat[first : first + rows_per_block]
            rows, starts, stops, values = _encode_block(block)
            counts[first : first + block.shape[0]] = np.bincount(rows, minlength=block.shape[0])
            parts.append((starts.astype(index_type), stops.astype(index_type), values))
        row_ptr = np.zeros(flat.shape[0] + 1, dtype=np.int64)
        np.cumsum(counts, out=row_ptr[1:])
        if parts:
            starts = np.concatenate([p[0] for p in parts])
            stops = np.concatenate([p[1] for p in parts])
            values = np.concatenate([p[2] for p in parts])
        else:
            starts = stops = np.zeros(0, index_type)
            values = np.zeros(0, array.dtype)
        return cls(array.shape, row_ptr, starts, stops, values.astype(array.dtype, copy=False))

    # -- decoding ---------------------------------------------------------
    def read_all(self) -> np.ndarray:
        return self._decode_rows(np.arange(self.rows), 0, self.width).reshape(self.shape)

    def read(self, region: Region) -> np.ndarray:
        outer_shape = self.shape[:-1]
        outer_slices = region.slices[:-1]
        rows = np.arange(self.rows).reshape(outer_shape)[outer_slices].ravel()
        x0, x1 = region.index[0], region.index[0] + region.size[0]
        return self._decode_rows(rows, x0, x1).reshape(region.shape)

    def _decode_rows(self, rows: np.ndarray, x0: int, x1: int) -> np.ndarray:
        width = x1 - x0
        out = np.zeros((rows.size, width), dtype=self.dtype)
        if rows.size == 0 or width == 0 or self.run_count == 0:
            return out
        first, last = self.row_ptr[rows], self.row_ptr[rows + 1]
        per_row = last - first
        total = int(per_row.sum())
        if total == 0:
            return out
        # run ids of every selected row, and the output row each belongs to
        out_row = np.repeat(np.arange(rows.size), per_row)
        run = np.repeat(first - np.cumsum(per_row) + per_row, per_row) + np.arange(total)
        s = np.clip(self.starts[run], x0, x1) - x0
        e = np.clip(self.stops[run], x0, x1) - x0
        keep = e > s
        out_row, s, e, v = out_row[keep], s[keep], e[keep], self.values[run[keep]]
        lengths = (e - s).astype(np.int64)
        covered = int(lengths.sum())
        flat_start = out_row.astype(np.int64) * width + s
        offsets = np.arange(covered) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        out.reshape(-1)[np.repeat(flat_start, lengths) + offsets] = np.repeat(v, lengths)
        return out

    def pixel(self, np_index: tuple[int, ...]) -> np.generic:
        row = int(np.ravel_multi_index(np_index[:-1], self.shape[:-1])) if len(self.shape) > 1 else 0
        x = np_index[-1]
        lo, hi = int(self.row_ptr[row]), int(self.row_ptr[row + 1])
        k = lo + int(np.searchsorted(self.starts[lo:hi], x, side="right")) - 1
        if k >= lo and self.starts[k] <= x < self.stops[k]:
            return self.values[k]
        return self.dtype.type(0)

    def with_values(self, np_indices: tuple[np.ndarray, ...], values: np.ndarray) -> RunLengthStorage:
        """Re-encode only the rows that change; the other runs are copied as they are."""
        np_indices = tuple(np.broadcast_arrays(*np_indices))
        values = np.broadcast_to(np.asarray(values, dtype=self.dtype), np_indices[0].shape)
        rows = (
            np.ravel_multi_index(np_indices[:-1], self.shape[:-1])
            if len(self.shape) > 1
            else np.zeros_like(np_indices[0])
        )
        changed = np.unique(rows)
        block = self._decode_rows(changed, 0, self.width)
        block[np.searchsorted(changed, rows), np_indices[-1]] = values
        new_rows, new_starts, new_stops, new_values = _encode_block(block)
        counts = np.diff(self.row_ptr).copy()
        counts[changed] = np.bincount(new_rows, minlength=changed.size)
        # keep runs of untouched rows, splice in the re-encoded ones (runs stay row-ordered)
        run_rows = np.repeat(np.arange(self.rows), np.diff(self.row_ptr))
        keep = ~np.isin(run_rows, changed)
        all_rows = np.concatenate([run_rows[keep], changed[new_rows]])
        order = np.argsort(all_rows, kind="stable")
        starts = np.concatenate([self.starts[keep], new_starts.astype(self.starts.dtype)])[order]
        stops = np.concatenate([self.stops[keep], new_stops.astype(self.stops.dtype)])[order]
        vals = np.concatenate([self.values[keep], new_values.astype(self.dtype)])[order]
        row_ptr = np.zeros(self.rows + 1, dtype=np.int64)
        np.cumsum(counts, out=row_ptr[1:])
        return RunLengthStorage(self.shape, row_ptr, starts, stops, vals)


def _encode_block(block: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Non-zero runs of a (rows, width) block: (row, start, stop, value) arrays."""
    _n_rows, width = block.shape
    if block.size == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty, np.zeros(0, block.dtype)
    change = np.empty(block.shape, dtype=bool)
    change[:, 0] = True
    np.not_equal(block[:, 1:], block[:, :-1], out=change[:, 1:])
    rows, starts = np.nonzero(change)
    values = block[rows, starts]
    stops = np.empty_like(starts)
    stops[:-1] = starts[1:]
    stops[-1] = width
    row_ends = np.empty(rows.size, dtype=bool)
    row_ends[:-1] = rows[1:] != rows[:-1]
    row_ends[-1] = True
    stops[row_ends] = width
    keep = values != 0
    return rows[keep], starts[keep], stops[keep], values[keep]
