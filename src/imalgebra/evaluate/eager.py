"""The in-memory evaluator: numpy kernels, whole images, one thread.

How :class:`Eager` runs an expression:

1. **Prerequisites first.** Nodes that need global values (rescaling needs the
   min/max) declare :class:`~imalgebra.algebra.expr.Reduction` prerequisites;
   they are reduced, and the nodes rebuilt with ``bind(values)``
   (:func:`resolve_prerequisites`, via :func:`~imalgebra.algebra.graph.replace`).
2. **Plan.** Starting from the output's region, each node is asked which
   region of each input it needs (``requested_regions``); a *task* is a
   (node, region) pair, and equal subtrees (same structural key, same region)
   are one task, computed once.
3. **Fuse voxelwise chains.** Consecutive voxelwise nodes (``voxelwise =
   True``: ``+ - * /``, comparisons, maths, cast, clamp, where...) are run
   together block by block (about ``block_bytes`` per block, 2 MiB by default)
   so intermediates stay in the CPU cache and are never allocated at full
   size; only results used outside the chain (and the output) are
   materialised. Every kernel computes exactly its region of the whole, so
   blocking changes no value: results are bit-identical to unblocked ones.
4. **Free early.** A materialised result is dropped as soon as its last
   consumer has run.

A kernel that raises is reported as :class:`~imalgebra.EvaluationError`
naming the node (its op and text form) and chaining the original error.
:func:`evaluate_region` computes any region of an expression through the
same machinery (``expr[x, y, z]`` uses it for one pixel).

Example
-------
>>> import numpy as np, imalgebra as ia
>>> a = ia.from_array(np.arange(12, dtype=np.int16).reshape(3, 4))
>>> e = (a + 1) * (a + 1)
>>> evaluate_region(e, ia.Region(index=(1, 1), size=(2, 1))).tolist()
[[36, 49]]
>>> Eager().evaluate(e)[1, 1] == e[1, 1] == 36
True
"""

from __future__ import annotations

import itertools
import math
import os
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import attrs
import numpy as np

from imalgebra.algebra.expr import Expr
from imalgebra.algebra.geometry import Region
from imalgebra.algebra.graph import replace, toposort
from imalgebra.algebra.image import Image
from imalgebra.algebra.metadata import Metadata
from imalgebra.algebra.rules import DTYPES, VECTORS
from imalgebra.algebra.storage import DenseStorage
from imalgebra.errors import EvaluationError, GeometryError

__all__ = ["DEFAULT", "Eager", "describe_node", "evaluate_region", "resolve_prerequisites", "run"]

DEFAULT_BLOCK_BYTES = 2 << 20


class Eager:
    """Evaluate expressions in memory with numpy (see the module docstring).

    Parameters
    ----------
    block_bytes
        About how many bytes of one array a fused voxelwise chain computes at
        a time (per intermediate). 0 disables blocking.

    >>> import imalgebra as ia
    >>> img = ia.Image.zeros((3, 3), ia.PixelType.Float32)
    >>> Eager(block_bytes=0).evaluate(img + 1)[2, 2]
    1.0
    """

    def __init__(self, block_bytes: int = DEFAULT_BLOCK_BYTES) -> None:
        self.block_bytes = int(block_bytes)

    def __repr__(self) -> str:
        return f"Eager(block_bytes={self.block_bytes})"

    def evaluate(self, expr: Any) -> Image:
        """``expr`` as an :class:`Image` (an Image is returned as it is)."""
        if isinstance(expr, Image):
            return expr
        fast = _one_small_op(expr, self.block_bytes)
        if fast is not None:
            return fast
        _require_node(expr)
        nodes = toposort(expr)
        if any(_prerequisites(n) for n in nodes):
            expr = resolve_prerequisites(expr, self)
            if isinstance(expr, Image):
                return expr
            nodes = toposort(expr)
        array = run(expr, full_region(expr.geometry), block_bytes=self.block_bytes, nodes=nodes)
        return to_image(expr, array)

    def reduce(self, reduction: Any) -> Any:
        """The value of a :class:`~imalgebra.algebra.expr.Reduction`: one partial over the whole image."""
        arg = resolve_prerequisites(reduction.arg, self)
        region = full_region(arg.geometry)
        array = run(arg, region, block_bytes=self.block_bytes)
        try:
            return reduction.finalize(reduction.combine([reduction.partial(region, array)]))
        except Exception as err:
            raise EvaluationError(f"reduction {describe_node(reduction)} failed: {type(err).__name__}: {err}") from err

    def write(self, expr: Any, path: Any, **kwargs: Any) -> Any:
        """Evaluate ``expr`` in memory, then write the image with ``ia.write``."""
        import imalgebra

        return imalgebra.write(self.evaluate(expr), path, **kwargs)  # type: ignore[attr-defined]


DEFAULT = Eager()


def _require_node(expr: Any) -> None:
    if not (hasattr(expr, "inputs") and hasattr(expr, "key") and hasattr(expr, "geometry")):
        msg = f"cannot evaluate {type(expr).__name__} {expr!r}: expected an image or an image expression"
        raise TypeError(msg)


_REGIONS: dict[tuple[int, ...], Region] = {}


def full_region(geometry: Any) -> Region:
    """``geometry.region``, cached by size (building a Region costs microseconds)."""
    found = _REGIONS.get(geometry.size)
    if found is None:
        if len(_REGIONS) > 1024:
            _REGIONS.clear()
        found = _REGIONS[geometry.size] = geometry.region
    return found


_IMAGE_FIELDS = ("geometry", "pixel_type", "components", "storage", "metadata", "key")
_EMPTY = Metadata()
_COUNTER = itertools.count()
_PREFIX = ["image-" + uuid.uuid4().hex[:16] + "-"]


def _new_prefix() -> None:
    _PREFIX[0] = "image-" + uuid.uuid4().hex[:16] + "-"


os.register_at_fork(after_in_child=_new_prefix)  # a forked process must not repeat our keys


def _image_key() -> str:
    """A key unique to this image: a random per-process prefix and a counter (uuid4 costs microseconds)."""
    return _PREFIX[0] + str(next(_COUNTER))


_FAST_IMAGE = tuple(f.name for f in attrs.fields(Image)) == _IMAGE_FIELDS


def to_image(expr: Any, array: np.ndarray) -> Image:
    """Wrap a computed array (validated: the node's dtype and shape) as the
    expression's Image, without a copy. Metadata is empty, as after any
    SimpleITK filter."""
    if not _FAST_IMAGE or expr.pixel_type.is_label:
        return Image.from_pixels(array, expr.geometry, expr.pixel_type, copy=False)
    # the fields were validated by the node and by the kernel-output check: skip Image's re-validation
    image = object.__new__(Image)
    setattr_ = object.__setattr__
    setattr_(image, "geometry", expr.geometry)
    setattr_(image, "pixel_type", expr.pixel_type)
    setattr_(image, "components", expr.components)
    if array.flags.writeable:  # ours alone: freeze it in place instead of wrapping a read-only view
        array.flags.writeable = False
    setattr_(image, "storage", DenseStorage(array))
    setattr_(image, "metadata", _EMPTY)
    setattr_(image, "key", _PREFIX[0] + str(next(_COUNTER)))
    return image


def _one_small_op(expr: Any, block_bytes: int) -> Image | None:
    """The fast path of one voxelwise op over in-memory images (what property tests build by the
    thousand): no planning. None when it does not apply."""
    if not (getattr(expr, "voxelwise", False) and type(expr).prerequisites is Expr.prerequisites):
        return None
    inputs = expr.inputs
    arrays = []
    for leaf in inputs:
        if type(leaf) is not Image or type(leaf.storage) is not DenseStorage:
            return None
        arrays.append(leaf.storage.array)
    geometry = expr.geometry
    region = _REGIONS.get(geometry.size) or full_region(geometry)
    shape = _expected_shape(expr, region)
    if block_bytes > 0 and math.prod(shape) * DTYPES[expr.pixel_type].itemsize > block_bytes:
        return None
    try:
        out = expr.compute(region, *arrays)
    except Exception as err:
        _fail(expr, region, err)
    if out.__class__ is not np.ndarray or out.dtype != DTYPES[expr.pixel_type] or out.shape != shape:
        _bad_output(expr, region, out)
    return to_image(expr, out)


# -- prerequisites -------------------------------------------------------------
def resolve_prerequisites(expr: Any, evaluator: Any = None) -> Any:
    """``expr`` with every node that has prerequisites replaced by ``node.bind(values)``.

    Each distinct reduction (by key) is reduced once, with ``evaluator``
    (the default eager one when None). Returns ``expr`` itself when no node
    has prerequisites.
    """
    if not any(_prerequisites(n) for n in toposort(expr)):
        return expr
    evaluator = DEFAULT if evaluator is None else evaluator
    values: dict[str, Any] = {}

    def bind(n: Any) -> Any:
        needed = _prerequisites(n)
        if not needed:
            return None
        for r in needed:
            if r.key not in values:
                values[r.key] = evaluator.reduce(r)
        return n.bind([values[r.key] for r in needed])

    return replace(expr, bind)


def _prerequisites(n: Any) -> tuple[Any, ...]:
    method = getattr(n, "prerequisites", None)
    return tuple(method()) if method is not None else ()


# -- planning ----------------------------------------------------------------------
class _Task:
    __slots__ = ("consumers", "deps", "fusable", "is_leaf", "node", "region", "unit")

    def __init__(self, node: Any, region: Region, deps: list[_Task]) -> None:
        self.node = node
        self.region = region
        self.deps = deps
        self.consumers: list[_Task] = []
        self.is_leaf = not deps and not node.inputs
        self.fusable = (
            not self.is_leaf
            and isinstance(node, Expr)
            and getattr(node, "voxelwise", False)
            and all(d.region == region for d in deps)
        )
        self.unit = -1


def _plan(root: Any, region: Region) -> list[_Task]:
    """Tasks (node, region), children before parents; one task per (key, region)."""
    index: dict[tuple[str, Region], _Task] = {}
    requested: dict[tuple[str, Region], tuple[Region, ...]] = {}
    order: list[_Task] = []
    stack: list[tuple[Any, Region, bool]] = [(root, region, False)]
    while stack:
        n, r, expanded = stack.pop()
        tk = (n.key, r)
        if tk in index:
            continue
        inputs = n.inputs
        if tk not in requested:
            requested[tk] = tuple(n.requested_regions(r)) if inputs else ()
            if len(requested[tk]) != len(inputs):
                msg = (
                    f"{describe_node(n)}: requested_regions gave {len(requested[tk])} regions for {len(inputs)} inputs"
                )
                raise EvaluationError(msg)
        regions = requested[tk]
        if expanded:
            task = _Task(n, r, [index[(c.key, cr)] for c, cr in zip(inputs, regions, strict=True)])
            index[tk] = task
            order.append(task)
            continue
        stack.append((n, r, True))
        for c, cr in zip(reversed(inputs), reversed(regions), strict=True):
            if (c.key, cr) not in index:
                stack.append((c, cr, False))
    for task in order:
        for d in {id(d): d for d in task.deps}.values():
            d.consumers.append(task)
    return order


def _units(order: list[_Task], fuse: bool) -> list[list[_Task]]:
    """Execution units in order: a non-fusable task alone, or a fused voxelwise group."""
    units: list[list[_Task]] = []
    for task in order:
        if task.is_leaf:
            continue  # leaves have no dependencies: read on first use (unit -1 runs "before" everything)
        if fuse and task.fusable:
            groups = {d.unit for d in task.deps if d.fusable}
            if groups:
                g = max(groups)
                if all(d.unit <= g for d in task.deps):
                    task.unit = g
                    units[g].append(task)
                    continue
        task.unit = len(units)
        units.append([task])
    return units


# -- execution ---------------------------------------------------------------------
def describe_node(n: Any) -> str:
    """The op and text form of a node, for error messages (never raises)."""
    op = getattr(n, "op_name", "") or type(n).__name__
    text = ""
    if type(n).__str__ is not object.__str__:
        try:
            text = str(n)
        except Exception:
            text = ""
    if not text:
        try:
            params = getattr(n, "params", {})
            shown = ", ".join(f"{k}={v!r}" for k, v in params.items() if k != "tolerance")
            text = f"{op}({shown})" if shown else op
        except Exception:
            text = op
    return f"node {op!r} ({text})"


def _expected_shape(n: Any, region: Region) -> tuple[int, ...]:
    shape = region.size[::-1]
    return (*shape, n.components) if n.pixel_type in VECTORS else shape


def _fail(n: Any, region: Region, err: Exception) -> None:
    if isinstance(err, EvaluationError):
        raise err
    msg = f"{describe_node(n)} failed on region index={region.index} size={region.size}: {type(err).__name__}: {err}"
    raise EvaluationError(msg) from err


def _bad_output(n: Any, region: Region, out: Any) -> None:
    got = f"{type(out).__name__} {getattr(out, 'dtype', '')} {getattr(out, 'shape', '')}"
    msg = (
        f"{describe_node(n)}: its kernel returned {got} for region size {region.size}; expected "
        f"{n.pixel_type.dtype} of shape {_expected_shape(n, region)} (a bug in that node's compute)"
    )
    raise EvaluationError(msg)


def _compute(task: _Task, region: Region, arrays: Sequence[np.ndarray]) -> np.ndarray:
    n = task.node
    try:
        out = n.compute(region) if task.is_leaf else n.compute(region, *arrays)
    except Exception as err:
        _fail(n, region, err)
    if not isinstance(out, np.ndarray) or out.dtype != DTYPES[n.pixel_type] or out.shape != _expected_shape(n, region):
        _bad_output(n, region, out)
    return out


def run(
    root: Any, region: Region, *, block_bytes: int = DEFAULT_BLOCK_BYTES, nodes: list[Any] | None = None
) -> np.ndarray:
    """The array of ``region`` of ``root`` (prerequisites must be resolved already;
    ``nodes`` is ``toposort(root)`` when the caller has it)."""
    if nodes is None:
        nodes = toposort(root)
    if all(not n.inputs or getattr(n, "voxelwise", False) for n in nodes):
        if len(nodes) == 1:
            return _compute(_Task(root, region, []), region, ())
        if block_bytes <= 0 or region.number_of_pixels * max(map(_node_bytes, nodes)) <= block_bytes:
            return _run_small(nodes, region)
        order = _voxelwise_plan(nodes, region)
    else:
        order = _plan(root, region)
    units = _units(order, fuse=block_bytes > 0)
    results = _Results()
    remaining = {id(t): len(t.consumers) for t in order}
    root_task = order[-1]

    def release(task: _Task) -> None:
        for d in {id(d): d for d in task.deps}.values():
            remaining[id(d)] -= 1
            if remaining[id(d)] == 0 and d is not root_task:
                results.pop(id(d), None)

    for unit in units:
        if len(unit) == 1 and not (unit[0].fusable and _big(unit[0], block_bytes)):
            task = unit[0]
            results[id(task)] = _compute(task, task.region, [results.need(d) for d in task.deps])
            release(task)
            continue
        _run_group(unit, results, block_bytes, root_task)
        for task in unit:
            release(task)
    if len(order) == 1:
        return results.need(root_task)
    return results[id(root_task)]


def _run_small(nodes: list[Any], region: Region) -> np.ndarray:
    """Every node voxelwise and the region small: one pass in order, no blocking, no bookkeeping."""
    results: dict[str, np.ndarray] = {}
    for n in nodes:
        inputs = n.inputs
        if not inputs:
            storage = getattr(n, "storage", None)
            if storage.__class__ is DenseStorage and region is _REGIONS.get(n.geometry.size):
                results[n.key] = storage.array  # the whole of an in-memory image
            else:
                results[n.key] = _compute(_Task(n, region, []), region, ())
            continue
        arrays = [results[c.key] for c in inputs]
        try:
            out = n.compute(region, *arrays)
        except Exception as err:
            _fail(n, region, err)
        if (
            out.__class__ is not np.ndarray
            or out.dtype != DTYPES[n.pixel_type]
            or out.shape != _expected_shape(n, region)
        ):
            _bad_output(n, region, out)
        results[n.key] = out
    return results[nodes[-1].key]


def _voxelwise_plan(nodes: list[Any], region: Region) -> list[_Task]:
    """Tasks of an all-voxelwise graph: every node at ``region`` (no region requests needed)."""
    tasks: dict[str, _Task] = {}
    for n in nodes:
        tasks[n.key] = _Task(n, region, [tasks[c.key] for c in n.inputs])
    order = list(tasks.values())
    for task in order:
        for d in {id(d): d for d in task.deps}.values():
            d.consumers.append(task)
    return order


def _node_bytes(n: Any) -> int:
    return DTYPES[n.pixel_type].itemsize * (n.components if n.pixel_type in VECTORS else 1)


class _Results(dict):
    """Task id -> array; a leaf (an image, a file) is read when first needed."""

    def need(self, task: _Task) -> np.ndarray:
        found = self.get(id(task))
        if found is None:
            found = self[id(task)] = _compute(task, task.region, ())
        return found


def _bytes_per_pixel(task: _Task) -> int:
    return _node_bytes(task.node)


def _big(task: _Task, block_bytes: int) -> bool:
    return block_bytes > 0 and task.region.number_of_pixels * _bytes_per_pixel(task) > block_bytes


def _run_group(unit: list[_Task], results: _Results, block_bytes: int, root_task: _Task) -> None:
    """Run a fused voxelwise group block by block; materialise what leaves the group."""
    members = {id(t) for t in unit}
    region = unit[0].region
    outputs = [t for t in unit if t is root_task or any(id(c) not in members for c in t.consumers)]
    per_pixel = max(_bytes_per_pixel(t) for t in unit)
    target = max(1, block_bytes // per_pixel) if block_bytes > 0 else region.number_of_pixels
    blocks = list(_blocks(region, target))
    if len(blocks) == 1:
        local: dict[int, np.ndarray] = {}
        for task in unit:
            arrays = [local[id(d)] if id(d) in members else results.need(d) for d in task.deps]
            local[id(task)] = _compute(task, region, arrays)
        for task in outputs:
            results[id(task)] = local[id(task)]
        return
    full = {id(t): np.empty(_expected_shape(t.node, region), dtype=DTYPES[t.node.pixel_type]) for t in outputs}
    slot = {id(t): i for i, t in enumerate(unit)}
    last_use: dict[int, int] = {}  # member slot -> the slot of its last in-group consumer
    for i, task in enumerate(unit):
        for d in task.deps:
            if id(d) in slot:
                last_use[slot[id(d)]] = i
    steps = []
    for i, task in enumerate(unit):
        n = task.node
        sources = [(True, slot[id(d)]) if id(d) in slot else (False, results.need(d)) for d in task.deps]
        comps = (n.components,) if n.pixel_type in VECTORS else ()
        dying = sorted({j for j, used in last_use.items() if used == i})
        steps.append((task, _into(n), sources, full.get(id(task)), dying, i in last_use, DTYPES[n.pixel_type], comps))
    pool: dict[tuple[Any, ...], list[np.ndarray]] = {}  # free scratch buffers, reused from block to block
    m = len(unit)
    for block in blocks:
        sl = block.relative_to(region).slices
        block_shape = block.size[::-1]
        values: list[Any] = [None] * m
        owned = [False] * m  # whether values[i] is a scratch buffer of ours
        for i, (task, write, sources, out_full, dying, keep, dtype, comps) in enumerate(steps):
            arrays = [values[ref] if inside else ref[sl] for inside, ref in sources]
            own = False
            if write is not None:
                if out_full is not None:
                    out = out_full[sl]
                else:
                    own = True
                    out = None
                    shape = block_shape + comps
                    for j in dying:  # compute in place into a scratch input that dies here
                        if owned[j] and values[j].shape == shape and values[j].dtype == dtype:
                            out, owned[j] = values[j], False
                            break
                    if out is None:
                        free = pool.get((shape, dtype.str))
                        out = free.pop() if free else np.empty(shape, dtype=dtype)
                try:
                    result = write(block, out, *arrays)
                except Exception as err:
                    _fail(task.node, block, err)
            else:
                result = _compute(task, block, arrays)
                if out_full is not None:
                    out_full[sl] = result
                for inside, ref in sources:  # a kernel may return a view of its input: never reuse that buffer
                    if inside and owned[ref] and np.may_share_memory(result, values[ref]):
                        owned[ref] = False
            for j in dying:
                if owned[j]:
                    _give(pool, values[j])
                    owned[j] = False
                values[j] = None
            if keep:
                values[i], owned[i] = result, own
            elif own:
                _give(pool, result)
    results.update(full)


def _into(n: Any) -> Any:
    """The node's ``compute_into`` when it can write into a given buffer (an optional protocol extension)."""
    method = getattr(n, "compute_into", None)
    return method if method is not None and getattr(n, "supports_into", False) else None


def _give(pool: dict[tuple[Any, ...], list[np.ndarray]], buffer: np.ndarray) -> None:
    pool.setdefault((buffer.shape, buffer.dtype.str), []).append(buffer)


def _blocks(region: Region, target: int) -> Iterator[Region]:
    """Cut ``region`` into boxes of at most about ``target`` pixels, x fastest
    (contiguous slabs of the numpy array)."""
    size, index = region.size, region.index
    dim = len(size)
    inner, k = 1, 0
    while k < dim and inner * size[k] <= target:
        inner *= size[k]
        k += 1
    if k == dim:
        yield region
        return
    step = max(1, target // inner)
    outer = [range(index[a], index[a] + size[a]) for a in range(k + 1, dim)]
    for rest in _product(outer):
        for start in range(index[k], index[k] + size[k], step):
            length = min(step, index[k] + size[k] - start)
            yield Region(
                index=(*tuple(index[:k]), start, *rest),
                size=tuple(size[:k]) + (length,) + (1,) * len(rest),
            )


def _product(ranges: list[range]) -> Iterator[tuple[int, ...]]:
    if not ranges:
        yield ()
        return
    # the outermost (last) axis varies slowest, as numpy's memory order
    for combo in itertools.product(*reversed(ranges)):
        yield tuple(reversed(combo))


# -- regions -----------------------------------------------------------------------
def evaluate_region(expr: Any, region: Region, evaluator: Any = None) -> np.ndarray:
    """The array (``[z, y, x(, c)]``) of ``region`` of ``expr``, pulling only the
    input regions each node requests. Equal to that region of the whole result.

    Prerequisites are reduced first (with ``evaluator``, the eager one when None).

    >>> import numpy as np, imalgebra as ia
    >>> a = ia.from_array(np.arange(16, dtype=np.uint8).reshape(4, 4))
    >>> evaluate_region(a * 2, ia.Region(index=(2, 3), size=(2, 1))).tolist()
    [[28, 30]]
    """
    if not isinstance(region, Region):
        msg = f"region must be an ia.Region, got {type(region).__name__}"
        raise GeometryError(msg)
    expr.geometry.region.require_contains(region, "region")
    if math.prod(region.size) == 0:
        shape = _expected_shape(expr, region)
        return np.empty(shape, dtype=expr.pixel_type.dtype)
    expr = resolve_prerequisites(expr, evaluator)
    block_bytes = getattr(evaluator, "block_bytes", None)  # another evaluator's setting may mean something else
    if not isinstance(evaluator, Eager) or not isinstance(block_bytes, int):
        block_bytes = DEFAULT_BLOCK_BYTES
    return run(expr, region, block_bytes=block_bytes)
