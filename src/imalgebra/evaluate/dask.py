"""Dask: an expression as a dask array whose blocks are evaluated regions, and a Dask evaluator.

:func:`to_dask` lowers the region plan to a dask graph: one task per block,
each computing that region of the expression with the streamed evaluator's
region kernel (:func:`~imalgebra.evaluate.streamed.compute_region`: it pulls
just the input regions it needs, e.g. from lazily opened files). The
expression itself is one key of the graph, so it is shipped to each worker
once, not per task. The dtype and shape are given from the expression's
static pixel type and geometry: nothing is probed or computed to build the
array. Nodes with prerequisites (``rescale_intensity``) are bound first, by
reductions computed with Dask.

:class:`DaskEvaluator` runs expressions on a ``distributed`` client (or on
dask's local threads) with the same protocol as the other evaluators:
``evaluate``, ``reduce`` (one partial per block, combined in block order) and
``write`` (blocks computed in batches on the cluster and written in order by
the format's streamed writer, so the output never sits whole in the client).

dask is imported only when these functions run (``import imalgebra`` stays
light). Distributed clusters with worker processes need the expression to
pickle: in-memory images travel with the graph, file leaves are reopened by
path on the workers (the files must be reachable there).

Example
-------
>>> import numpy as np, imalgebra as ia
>>> img = ia.from_array(np.arange(24, dtype=np.float32).reshape(2, 3, 4))
>>> arr = to_dask(img * 2 + 1, chunks=(1, 3, 4))
>>> arr.dtype, arr.chunks
(dtype('float32'), ((1, 1), (3,), (4,)))
>>> float(arr.sum().compute())
576.0
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from imalgebra.algebra.expr import Node, is_node
from imalgebra.algebra.geometry import Region
from imalgebra.algebra.image import Image
from imalgebra.evaluate.planner import Schedule, parse_memory, plan

__all__ = ["DaskEvaluator", "to_dask"]

DEFAULT_CHUNK_MEMORY = "128 MiB"
"""Working memory per block when ``chunks`` is not given (dask's usual chunk size)."""


def _require(expr: Any) -> Node:
    if not is_node(expr):
        msg = f"to_dask takes an image expression, an image or an opened file, got {type(expr).__name__}"
        raise TypeError(msg)
    return expr


def _default_chunks(root: Node, memory: int) -> tuple[int, ...]:
    """Slabs along the slowest axis sized by the planner (numpy order, components last)."""
    first = plan(root, memory, slots=1, block_bytes=None).regions[0]
    return first.shape + ((root.components,) if root.pixel_type.is_vector else ())


def _block_region(starts: Sequence[int], sizes: Sequence[int]) -> Region:
    """The region (x, y, z order) of a block given in numpy order."""
    return Region(index=tuple(starts)[::-1], size=tuple(sizes)[::-1])


def _compute_block(root: Node, region: Region) -> np.ndarray:
    from imalgebra.evaluate.streamed import compute_region

    return compute_region(Schedule(root), region)


def _partial_block(reduction: Any, root: Node, region: Region) -> Any:
    return reduction.partial(region, _compute_block(root, region))


def _finish(reduction: Any, *partials: Any) -> Any:
    return reduction.finalize(reduction.combine(list(partials)))


def _blocks(chunks: tuple[tuple[int, ...], ...], dimension: int) -> list[tuple[tuple[int, ...], Region]]:
    """(block index, region) for every block, in C order (the slowest axis outermost)."""
    spatial = chunks[:dimension]
    starts = [np.concatenate(([0], np.cumsum(c)[:-1])).astype(int).tolist() for c in spatial]
    out = []
    for index in np.ndindex(*(len(c) for c in spatial)):
        begin = [starts[a][i] for a, i in enumerate(index)]
        size = [spatial[a][i] for a, i in enumerate(index)]
        out.append((tuple(index), _block_region(begin, size)))
    return out


def to_dask(expr: Any, chunks: Any = None, *, evaluator: Any = None) -> Any:
    """A dask array of ``expr``'s pixels, ``[z, y, x(, c)]``, each block an evaluated region.

    Parameters
    ----------
    expr
        An image expression, an Image or an opened file (``ia.open``).
    chunks
        dask chunks in numpy order (an int, a tuple per axis, ``"auto"``...);
        a vector image's component axis is always one chunk. By default,
        slabs along the slowest axis whose working set is about 128 MiB.
    evaluator
        Who reduces prerequisites (``rescale_intensity``'s min/max) before
        the graph is built; a :class:`DaskEvaluator` by default.

    >>> import numpy as np, imalgebra as ia
    >>> rgb = ia.compose(*[ia.from_array(np.full((4, 6), v, np.uint8)) for v in (1, 2, 3)])
    >>> arr = to_dask(rgb, chunks=2)
    >>> arr.shape, arr.chunks[-1], arr[3, 5].compute().tolist()
    ((4, 6, 3), (3,), [1, 2, 3])
    """
    import dask.array as da
    from dask.highlevelgraph import HighLevelGraph

    from imalgebra.evaluate.eager import resolve_prerequisites

    root = resolve_prerequisites(_require(expr), evaluator if evaluator is not None else DaskEvaluator())
    dtype = root.pixel_type.dtype
    shape = root.shape
    dimension = root.geometry.dimension
    if chunks is None:
        chunks = _default_chunks(root, parse_memory(DEFAULT_CHUNK_MEMORY))
    if root.pixel_type.is_vector:
        if isinstance(chunks, tuple) and len(chunks) == dimension:
            chunks = (*chunks, root.components)
        elif not isinstance(chunks, tuple):
            chunks = (chunks,) * dimension + (root.components,)
    normal = da.core.normalize_chunks(chunks, shape, dtype=dtype)
    if root.pixel_type.is_vector and len(normal[-1]) != 1:
        normal = (*normal[:-1], (root.components,))
    token = f"{root.key}-{abs(hash(normal)):x}"
    name = f"imalgebra-{token}"
    root_key = f"imalgebra-expr-{token}"
    tail = (0,) if root.pixel_type.is_vector else ()
    layer: dict[Any, Any] = {root_key: root}
    for index, region in _blocks(normal, dimension):
        layer[(name, *index, *tail)] = (_compute_block, root_key, region)
    graph = HighLevelGraph.from_collections(name, layer, dependencies=())
    meta = np.empty((0,) * len(shape), dtype=dtype)
    return da.Array(graph, name, normal, dtype=dtype, meta=meta)


class DaskEvaluator:
    """Evaluate expressions with Dask: on a ``distributed`` client, or dask's local threads.

    Parameters
    ----------
    client
        A ``distributed.Client``; None runs on dask's threaded scheduler.
    chunks
        Block shape passed to :func:`to_dask` (default: slabs of ~128 MiB).
    batch
        How many blocks :meth:`write` computes at a time before writing them
        in order (bounds the client's memory; default: twice the cluster's
        threads).

    >>> import numpy as np, imalgebra as ia
    >>> img = ia.from_array(np.arange(12, dtype=np.int16).reshape(3, 4))
    >>> DaskEvaluator(chunks=1).evaluate(img * 2).equals((img * 2).evaluate())
    True
    """

    def __init__(self, client: Any = None, *, chunks: Any = None, batch: int | None = None) -> None:
        self.client = client
        self.chunks = chunks
        self.batch = batch

    def __repr__(self) -> str:
        return f"DaskEvaluator(client={self.client!r})"

    def _compute(self, *collections: Any) -> tuple[Any, ...]:
        import dask

        if self.client is not None:
            return tuple(self.client.compute(list(collections), sync=True))
        return dask.compute(*collections, scheduler="threads")

    def evaluate(self, expr: Any) -> Image:
        """``expr`` as an in-memory Image (blocks computed by Dask, assembled here)."""
        from imalgebra.evaluate.eager import resolve_prerequisites

        expr = _require(expr)
        if isinstance(expr, Image):
            return expr
        root = resolve_prerequisites(expr, self)
        (pixels,) = self._compute(to_dask(root, self.chunks, evaluator=self))
        return Image.from_pixels(np.asarray(pixels), root.geometry, root.pixel_type, copy=False)

    def reduce(self, reduction: Any) -> Any:
        """A reduction's value: one partial per block (on the workers), combined in block order."""
        from dask import delayed

        from imalgebra.evaluate.eager import resolve_prerequisites

        arg = resolve_prerequisites(_require(reduction.arg), self)
        arr = to_dask(arg, self.chunks, evaluator=self)
        root = delayed(arg, pure=True, traverse=False)
        partials = [
            delayed(_partial_block, pure=True, traverse=False)(reduction, root, region)
            for _, region in _blocks(arr.chunks, arg.geometry.dimension)
        ]
        total = delayed(_finish, pure=True, traverse=False)(reduction, *partials)
        (value,) = self._compute(total)
        return value

    def write(self, expr: Any, path: Any, io: Any = None, compress: bool | int = False) -> None:
        """Compute ``expr`` block by block on Dask and stream the blocks, in order, into ``path``.

        Formats without a streamed writer (and lists of paths) are evaluated
        whole, then written with ``ia.write``.
        """
        from imalgebra.evaluate.eager import resolve_prerequisites
        from imalgebra.evaluate.streamed import _check_capabilities, _writer_io
        from imalgebra.io.base import ImageInfo
        from imalgebra.io.registry import write as write_image

        root = resolve_prerequisites(_require(expr), self)
        fmt = None if isinstance(path, (list, tuple)) else _writer_io(path, io)
        if fmt is None or fmt.open_writer is None:
            write_image(self.evaluate(root), path, io=io, compress=compress)
            return
        _check_capabilities(fmt, root, path)
        arr = to_dask(root, self.chunks, evaluator=self)
        info = ImageInfo(
            geometry=root.geometry,
            pixel_type=root.pixel_type,
            components=root.components,
            metadata=getattr(root, "metadata", None),
            io=fmt.name,
            path=os.fspath(path),
        )
        writer = fmt.open_writer(path, info, compress=compress)
        try:
            if getattr(writer, "order", "any") == "slabs":
                arr = self._slabs(arr, root)
            blocks = _blocks(arr.chunks, root.geometry.dimension)
            tail = (0,) if root.pixel_type.is_vector else ()
            step = self.batch or self._default_batch()
            for first in range(0, len(blocks), step):
                batch = blocks[first : first + step]
                arrays = self._compute(*(arr.blocks[(*index, *tail)] for index, _ in batch))
                for (_, region), array in zip(batch, arrays, strict=True):
                    writer.write(region, np.asarray(array))
        except BaseException:
            writer.abort()
            raise
        writer.commit()

    def _slabs(self, arr: Any, root: Node) -> Any:
        """Rechunk to whole slabs along the slowest axis (compressed streams take slabs in order)."""
        if all(len(c) == 1 for c in arr.chunks[1:]):
            return arr
        thickness = max(1, max(arr.chunks[0]))
        return to_dask(root, (thickness, *arr.shape[1:]), evaluator=self)

    def _default_batch(self) -> int:
        if self.client is not None:
            try:
                return max(1, 2 * sum(self.client.nthreads().values()))
            except Exception:  # pragma: no cover - an unusual client
                return 8
        return max(1, 2 * (os.cpu_count() or 1))


def chunk_count(arr: Any) -> int:
    """The number of blocks of a dask array (for reports and tests)."""
    return math.prod(len(c) for c in arr.chunks)
