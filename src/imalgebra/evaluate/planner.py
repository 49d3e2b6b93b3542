"""The planner: cut an expression's output into regions that fit a memory budget.

A streamed evaluation computes the output region by region. For one output
region, :class:`Schedule` says which region of every node of the expression
is needed (each node's ``requested_regions``, merged into one bounding box per
node when several consumers ask for different parts), in which order the
nodes run, and when each buffer can be freed (after its last consumer).

What the planner counts, for one output region (:meth:`Schedule.peak_bytes`):
it replays that order and tracks the bytes of every buffer alive at once --
the input regions read from files, every intermediate, the output region --
plus one scratch buffer the size of the node being computed (a kernel such as
``(a - b) * 0.5`` makes one temporary). In-memory dense images cost nothing
(their regions are views); lazy file leaves that cannot read regions hold
their whole pixels once for the whole run (``fixed_bytes``). The peak times
the number of regions alive at once (``slots``: one per worker thread), plus
the fixed bytes, must fit the budget.

Regions are slabs along the slowest axis (z in 3D, y in 2D) when one slab of
thickness 1 fits, else rows (slabs along the next axis), and so on down to
single pixels. Regions are also kept near ``block_bytes`` per buffer (2 MiB by
default) so that each thread's working set stays in the CPU cache: that is
what makes region-by-region evaluation faster than whole-array numpy. A
writer that needs ``order="slabs"`` (compressed streams) gets whole slabs
along the slowest axis in increasing order, or a clear error when one slab
does not fit.

Example
-------
>>> import imalgebra as ia
>>> img = ia.Image.zeros((64, 64, 40), ia.PixelType.Float32)
>>> p = plan(img, "1 MiB")
>>> len(p.regions), p.regions[0].size, p.regions[-1].index
(1, (64, 64, 40), (0, 0, 0))
>>> parse_memory("64 MiB"), parse_memory("2 GB"), parse_memory(1024)
(67108864, 2000000000, 1024)
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from typing import Any

import attrs
import numpy as np

from imalgebra.algebra.expr import Expr, Node
from imalgebra.algebra.geometry import Region
from imalgebra.algebra.graph import toposort
from imalgebra.algebra.image import Image
from imalgebra.algebra.storage import DenseStorage
from imalgebra.errors import EvaluationError

__all__ = ["DEFAULT_BLOCK_BYTES", "Plan", "Schedule", "Step", "format_bytes", "parse_memory", "plan"]

DEFAULT_BLOCK_BYTES = 2 << 20
"""Preferred size of the largest buffer of one region (cache-sized blocks)."""

_UNITS = {
    "": 1,
    "b": 1,
    "k": 10**3,
    "kb": 10**3,
    "m": 10**6,
    "mb": 10**6,
    "g": 10**9,
    "gb": 10**9,
    "t": 10**12,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_MEMORY = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([a-zA-Z]*)\s*$")


def parse_memory(value: str | int | float) -> int:
    """Bytes from a memory size: an int, or a string such as ``"64 MiB"`` or ``"2 GB"``.

    Units (any case): B, kB/MB/GB/TB (powers of 1000, as are bare k/M/G/T) and
    KiB/MiB/GiB/TiB (powers of 1024).

    >>> parse_memory("1.5 KiB"), parse_memory("512MB"), parse_memory("3e3")
    (1536, 512000000, 3000)
    """
    if isinstance(value, bool):
        msg = f"memory must be a number of bytes or a string such as '64 MiB', got {value!r}"
        raise TypeError(msg)
    if isinstance(value, (int, float, np.integer, np.floating)):
        number = int(value)
    elif isinstance(value, str):
        match = _MEMORY.match(value)
        unit = match.group(2).lower() if match else None
        if match is None or unit not in _UNITS:
            msg = (
                f"memory={value!r} is not a memory size; write a number of bytes or a number and a unit, "
                "e.g. '64 MiB', '512 MB', '2 GiB' (units: B, kB, MB, GB, TB, KiB, MiB, GiB, TiB)"
            )
            raise ValueError(msg)
        number = int(float(match.group(1)) * _UNITS[unit])
    else:
        msg = f"memory must be a number of bytes or a string such as '64 MiB', got {type(value).__name__}"
        raise TypeError(msg)
    if number <= 0:
        msg = f"memory={value!r} must be a positive size"
        raise ValueError(msg)
    return number


def format_bytes(n: int) -> str:
    """A short human size: ``format_bytes(3 << 20) == '3.0 MiB'``.

    >>> format_bytes(3 << 20), format_bytes(512)
    ('3.0 MiB', '512 B')
    """
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"  # pragma: no cover


def _pixel_bytes(node: Node) -> int:
    components = node.components if node.pixel_type.is_vector else 1
    return components * node.pixel_type.dtype.itemsize


def buffer_nbytes(node: Node, region: Region) -> int:
    """Bytes a node's buffer for ``region`` takes (0 for views of in-memory pixels)."""
    custom = getattr(node, "region_nbytes", None)
    if custom is not None:
        return int(custom(region))
    if isinstance(node, Image) and isinstance(node.storage, DenseStorage):
        return 0
    return region.number_of_pixels * _pixel_bytes(node)


def fixed_nbytes(node: Node) -> int:
    """Bytes a leaf holds for a whole run whatever the region (whole-file caches)."""
    custom = getattr(node, "fixed_nbytes", None)
    return int(custom()) if custom is not None else 0


def bounding_region(regions: Sequence[Region]) -> Region:
    """The smallest region containing every non-empty region of ``regions``."""
    full = [r for r in regions if 0 not in r.size]
    if not full:
        return regions[0]
    if len(full) == 1:
        return full[0]
    start = tuple(min(v) for v in zip(*(r.index for r in full), strict=True))
    stop = tuple(max(v) for v in zip(*(r.stop for r in full), strict=True))
    return Region(index=start, size=tuple(e - s for s, e in zip(start, stop, strict=True)))


class Step:
    """One node of one output region: compute ``node`` over ``region``.

    ``inputs`` pairs each input's step number with the region the node asked of
    it (a part of that step's region); ``release`` names the steps whose
    buffers are dead once this step has run; ``nbytes`` is this step's buffer.
    """

    __slots__ = ("at", "inputs", "nbytes", "node", "region", "release")

    def __init__(
        self,
        node: Node,
        region: Region,
        inputs: tuple[tuple[int, Region], ...],
        release: tuple[int, ...],
        nbytes: int,
        at: int = -1,
    ) -> None:
        self.at = at  # the node's position in its Schedule
        self.node = node
        self.region = region
        self.inputs = inputs
        self.release = release
        self.nbytes = nbytes

    def __repr__(self) -> str:
        op = getattr(self.node, "op_name", "") or type(self.node).__name__
        return f"Step({op}, index={self.region.index}, size={self.region.size}, nbytes={self.nbytes})"


def _is_empty(region: Region) -> bool:
    return 0 in region.size


class Schedule:
    """The evaluation order of an expression, reused for every output region.

    Built once per expression (a toposort), it answers :meth:`steps` (what to
    compute for one output region) and :meth:`peak_bytes` (the most bytes alive
    at once while doing it).

    >>> import imalgebra as ia
    >>> s = Schedule(ia.Image.zeros((8, 8), ia.PixelType.UInt8))
    >>> [step.region.size for step in s.steps(ia.Region(index=(0, 2), size=(8, 3)))]
    [(8, 3)]
    """

    def __init__(self, root: Node) -> None:
        self.root = root
        self.nodes: list[Node] = toposort(root)
        where = {n.key: i for i, n in enumerate(self.nodes)}
        self.children: list[tuple[int, ...]] = [tuple(where[c.key] for c in n.inputs) for n in self.nodes]
        self.distinct_children: list[tuple[int, ...]] = [tuple(dict.fromkeys(k)) for k in self.children]
        self.fixed_bytes = sum(fixed_nbytes(n) for n in self.nodes)
        # per node, what a region costs: a custom count, nothing (views of in-memory pixels) or bytes per pixel
        self._custom = [getattr(n, "region_nbytes", None) for n in self.nodes]
        self._free = [isinstance(n, Image) and isinstance(n.storage, DenseStorage) for n in self.nodes]
        self._pixel_bytes = [_pixel_bytes(n) for n in self.nodes]
        # voxelwise graphs (every node asks its inputs for the very region it computes) reuse one
        # template of steps, and their costs depend on the region's size only
        self.identity = all(
            not kids or type(n).requested_regions is Expr.requested_regions
            for n, kids in zip(self.nodes, self.children, strict=True)
        )
        self._template: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
        if self.identity:
            last_use = {}
            for i, kids in enumerate(self.distinct_children):
                for child in kids:
                    last_use[child] = i
            for i, kids in enumerate(self.children):
                release = tuple(sorted(c for c in self.distinct_children[i] if last_use[c] == i))
                self._template.append((kids, release))
        self._costs: dict[tuple[int, ...], tuple[int, int]] = {}
        self.dtypes = [n.pixel_type.dtype for n in self.nodes]
        self.tails = [(n.components,) if n.pixel_type.is_vector else () for n in self.nodes]
        # nodes whose kernel can write into a given buffer (``supports_into`` and ``compute_into``)
        self.into = [bool(getattr(n, "supports_into", False)) and hasattr(n, "compute_into") for n in self.nodes]

    def _nbytes(self, i: int, region: Region) -> int:
        custom = self._custom[i]
        if custom is not None:
            return int(custom(region))
        if self._free[i]:
            return 0
        return math.prod(region.size) * self._pixel_bytes[i]

    def steps(self, region: Region) -> list[Step]:
        """The steps computing ``region`` of the root, children first, root last."""
        if self.identity and not _is_empty(region):
            return [
                Step(node, region, tuple((c, region) for c in kids), release, self._nbytes(i, region), i)
                for i, (node, (kids, release)) in enumerate(zip(self.nodes, self._template, strict=True))
            ]
        count = len(self.nodes)
        requests: list[list[Region]] = [[] for _ in range(count)]
        requests[count - 1].append(region)
        needed: list[Region | None] = [None] * count
        asked: list[tuple[Region, ...]] = [()] * count
        children = self.children
        for i in range(count - 1, -1, -1):
            wanted_here = requests[i]
            if not wanted_here:
                continue
            box = wanted_here[0] if len(wanted_here) == 1 else bounding_region(wanted_here)
            needed[i] = box
            kids = children[i]
            if not kids or _is_empty(box):
                continue
            node = self.nodes[i]
            wanted = tuple(node.requested_regions(box))
            if len(wanted) != len(kids):
                msg = (
                    f"{_describe(node)}.requested_regions returned {len(wanted)} regions "
                    f"for {len(kids)} inputs; it must return one region per input"
                )
                raise EvaluationError(msg)
            asked[i] = wanted
            for child, want in zip(kids, wanted, strict=True):
                requests[child].append(want)
        order = [i for i in range(count) if needed[i] is not None]
        number = {i: s for s, i in enumerate(order)}
        remaining = dict.fromkeys(order, 0)
        for i in order:
            if asked[i]:
                for child in self.distinct_children[i]:
                    remaining[child] += 1
        steps: list[Step] = []
        for i in order:
            box = needed[i]
            assert box is not None
            release: list[int] = []
            if asked[i]:
                for child in self.distinct_children[i]:
                    remaining[child] -= 1
                    if remaining[child] == 0:
                        release.append(number[child])
                inputs = tuple((number[c], r) for c, r in zip(children[i], asked[i], strict=True))
            else:
                inputs = ()
            release.sort()
            nbytes = 0 if _is_empty(box) else self._nbytes(i, box)
            steps.append(Step(self.nodes[i], box, inputs, tuple(release), nbytes, i))
        return steps

    def peak_bytes(self, region: Region) -> tuple[int, int]:
        """(most bytes alive at once, largest single buffer) for one output region."""
        if not self.identity:
            return simulate(self.steps(region))
        found = self._costs.get(region.size)
        if found is None:
            found = self._costs[region.size] = simulate(self.steps(region))
        return found


def simulate(steps: Sequence[Step]) -> tuple[int, int]:
    """Replay ``steps``: (peak of the bytes alive at once incl. one scratch buffer, largest buffer)."""
    live = peak = largest = 0
    for step in steps:
        live += step.nbytes
        scratch = step.nbytes if step.inputs else 0
        peak = max(peak, live + scratch)
        largest = max(largest, step.nbytes)
        for done in step.release:
            live -= steps[done].nbytes
    return peak, largest


def _describe(node: Node) -> str:
    return getattr(node, "op_name", "") or type(node).__name__


@attrs.frozen
class Plan:
    """The regions of a streamed evaluation and the memory they were sized for.

    ``region_bytes``: the largest working set of one region (see the module
    docstring); ``slots``: how many regions are alive at once; ``fixed_bytes``:
    held for the whole run. ``region_bytes * slots + fixed_bytes <= budget``.
    """

    regions: tuple[Region, ...]
    region_bytes: int
    fixed_bytes: int
    slots: int
    budget: int
    order: str

    @property
    def total_bytes(self) -> int:
        """The most working memory the plan uses at once."""
        return self.region_bytes * self.slots + self.fixed_bytes


def _slab(full: Region, level: int, start: int, thickness: int, outer: Sequence[int]) -> Region:
    """A region full on axes < level, [start, start+thickness) on ``level``, one index above."""
    index = list(full.index)
    size = list(full.size)
    index[level] = full.index[level] + start
    size[level] = thickness
    for axis, pos in zip(range(level + 1, full.dimension), outer, strict=True):
        index[axis] = full.index[axis] + pos
        size[axis] = 1
    return Region(index=index, size=size)


def plan(
    root: Node,
    memory: str | int,
    *,
    slots: int = 1,
    order: str = "any",
    block_bytes: int | None = DEFAULT_BLOCK_BYTES,
    schedule: Schedule | None = None,
) -> Plan:
    """Cut ``root``'s output into regions whose working sets, ``slots`` at once, fit ``memory``.

    Parameters
    ----------
    root
        The expression (its prerequisites already bound).
    memory
        The budget: bytes or a string such as ``"64 MiB"``.
    slots
        Regions alive at once (the number of worker threads).
    order
        ``"any"``, or ``"slabs"`` for writers that take whole slabs along the
        slowest axis in increasing order.
    block_bytes
        Preferred largest buffer per region (cache-sized blocks); None: as
        large as the budget allows.

    >>> import imalgebra as ia
    >>> img = ia.Image.zeros((100, 100), ia.PixelType.LabelUInt8)   # RLE: regions are decoded
    >>> p = plan(img, 100 * 20, block_bytes=None)    # 20 rows of 100 bytes
    >>> len(p.regions), p.regions[0].size
    (5, (100, 20))
    """
    budget = parse_memory(memory)
    if order not in ("any", "slabs"):
        msg = f"order must be 'any' or 'slabs', got {order!r}"
        raise ValueError(msg)
    if slots < 1:
        msg = f"slots must be >= 1, got {slots}"
        raise ValueError(msg)
    schedule = schedule or Schedule(root)
    full = root.geometry.region
    fixed = schedule.fixed_bytes
    per_slot = (budget - fixed) // slots
    if per_slot <= 0:
        msg = (
            f"memory={format_bytes(budget)} is too small: the expression holds {format_bytes(fixed)} for the whole "
            "run (files read whole because their format cannot read regions); raise the budget or convert the "
            "files to a format with region reads (MetaImage, NRRD)"
        )
        raise EvaluationError(msg)
    cap = block_bytes if block_bytes else None

    def cost(region: Region) -> tuple[int, int]:
        return schedule.peak_bytes(region)

    def thickest(level: int, with_cap: bool) -> int:
        """The thickest slab at ``level`` (from index 0) that fits."""
        outer = [0] * (full.dimension - 1 - level)

        def fits(t: int) -> bool:
            peak, largest = cost(_slab(full, level, 0, t, outer))
            return peak <= per_slot and (not with_cap or cap is None or largest <= cap)

        return _largest(fits, full.size[level])

    dimension = full.dimension
    lowest = dimension - 1 if order == "slabs" else 0
    level = dimension - 1
    while True:
        thickness = 0
        if cap is not None and level >= 1:
            # cache-sized blocks: cut finer (down to rows) while one slab is above the cap
            thickness = thickest(level, True)
            if thickness == 0 and level - 1 >= max(lowest, 1):
                level -= 1
                continue
        if thickness == 0:
            thickness = thickest(level, False)
        if thickness > 0 or level == lowest:
            break
        level -= 1
    if thickness == 0:
        need, _ = cost(_slab(full, level, 0, 1, [0] * (dimension - 1 - level)))
        what = "one slab of thickness 1" if order == "slabs" else "one pixel"
        msg = (
            f"memory={format_bytes(budget)} is too small for {what} of this expression: that needs "
            f"{format_bytes(need)} per region x {slots} worker(s)"
            + (f" + {format_bytes(fixed)} of whole files" if fixed else "")
            + f"; raise memory to at least {format_bytes(need * slots + fixed)}"
            + (" or write uncompressed (streamed compressed writes take whole slabs)" if order == "slabs" else "")
        )
        raise EvaluationError(msg)
    regions: list[Region] = []
    peak_seen = 0
    for outer in _outer_indices(full, level):
        for start in range(0, full.size[level], thickness):
            region = _slab(full, level, start, min(thickness, full.size[level] - start), outer)
            for piece, peak in _fit(region, level, lowest, per_slot, cost):
                regions.append(piece)
                peak_seen = max(peak_seen, peak)
    return Plan(
        regions=tuple(regions), region_bytes=peak_seen, fixed_bytes=fixed, slots=slots, budget=budget, order=order
    )


def _largest(ok: Any, upper: int) -> int:
    """The largest t in [1, upper] with ok(t) (ok is monotone), or 0."""
    if ok(upper):
        return upper
    if not ok(1):
        return 0
    lo, hi = 1, upper  # ok(lo), not ok(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid
    return lo


def _outer_indices(full: Region, level: int) -> Iterator[tuple[int, ...]]:
    """Positions on the axes slower than ``level``, slowest axis outermost (x, y, z order)."""
    axes = range(level + 1, full.dimension)
    for combo in np.ndindex(*(full.size[a] for a in reversed(axes))):
        yield tuple(reversed(combo))


def _fit(region: Region, level: int, lowest: int, per_slot: int, cost: Any) -> Iterator[tuple[Region, int]]:
    """``region``, split in halves until every piece's working set fits (position-dependent nodes)."""
    stack = [(region, level)]
    out: list[tuple[Region, int]] = []
    while stack:
        piece, axis = stack.pop()
        peak, _ = cost(piece)
        if peak <= per_slot:
            out.append((piece, peak))
            continue
        while axis >= lowest and piece.size[axis] == 1:
            axis -= 1
        if axis < lowest:
            msg = (
                f"memory budget of {format_bytes(per_slot)} per worker is too small for region "
                f"index={piece.index} size={piece.size}, which needs {format_bytes(peak)}; raise memory"
            )
            raise EvaluationError(msg)
        half = piece.size[axis] // 2
        first_size = list(piece.size)
        first_size[axis] = half
        second_index = list(piece.index)
        second_index[axis] += half
        second_size = list(piece.size)
        second_size[axis] -= half
        # pushed in reverse so pieces come out in increasing order
        stack.append((Region(index=second_index, size=second_size), axis))
        stack.append((Region(index=piece.index, size=first_size), axis))
    yield from out
