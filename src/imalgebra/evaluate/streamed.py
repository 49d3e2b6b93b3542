"""The streamed evaluator: region by region, under a memory budget, on worker threads.

``Streamed(memory="128 MiB", workers=2)`` evaluates an expression without
ever holding more than the budget of working memory: the planner
(:mod:`.planner`) cuts the output into regions whose working sets (every
input region, intermediate and output buffer alive at once, times the number
of workers) fit; each region pulls exactly the input regions that
``requested_regions`` names, from files opened lazily (``ia.open``), and
frees every intermediate after its last consumer. Results are bit-identical
to the in-memory evaluator, whatever the budget and the number of workers:
every kernel computes any region of its output exactly as that part of the
whole.

* :meth:`Streamed.write` opens the format's streamed writer and hands it each
  finished region, in plan order, so the output never sits in memory; a
  failure, Ctrl-C or kill leaves no partial file under the target name (the
  writer writes a temporary file and renames it on commit).
* :meth:`Streamed.evaluate` allocates the output image once and fills it.
* :meth:`Streamed.reduce` computes one partial per region and combines them
  in plan order (deterministic).
* Nodes with prerequisites (``rescale_intensity`` needs the min/max) get them
  from streamed reductions first, then are bound.

Choosing the next region is single-threaded; computing runs on ``workers``
threads, each task in its own copy of the caller's ``contextvars`` context
(tolerances, numpy's ``errstate``). Worker threads finish their regions in
any order, but results are written in plan order.

Example
-------
>>> import numpy as np, imalgebra as ia
>>> img = ia.from_array(np.arange(24, dtype=np.float32).reshape(2, 3, 4))
>>> s = Streamed(memory="1 KiB", workers=2, block_bytes=16)
>>> len(s.plan(img * 2 - 1).regions)       # one row of 4 float32 per region
6
>>> s.evaluate(img * 2 - 1).equals((img * 2 - 1).evaluate())   # the eager evaluator's image
True
"""

from __future__ import annotations

import contextvars
import os
import sys
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from imalgebra.algebra.expr import Node, is_node
from imalgebra.algebra.geometry import Region
from imalgebra.algebra.graph import replace, toposort
from imalgebra.algebra.image import Image
from imalgebra.errors import EvaluationError
from imalgebra.evaluate.planner import DEFAULT_BLOCK_BYTES, Plan, Schedule, format_bytes, parse_memory, plan

if TYPE_CHECKING:
    from concurrent.futures import Future

__all__ = ["BufferPool", "Streamed", "compute_region", "tune_allocator"]


_ALLOCATOR: dict[str, Any] = {}


def _glibc() -> Any:
    """glibc's malloc controls (``mallopt``, ``malloc_trim``), or None elsewhere."""
    if "libc" not in _ALLOCATOR:
        _ALLOCATOR["libc"] = None
        if sys.platform.startswith("linux"):
            import ctypes

            try:
                libc = ctypes.CDLL(None)
                libc.gnu_get_libc_version  # glibc only (musl has no dynamic thresholds to tune)  # noqa: B018
                libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
                libc.malloc_trim.argtypes = (ctypes.c_size_t,)
                _ALLOCATOR["libc"] = libc
            except (OSError, AttributeError):
                pass
    return _ALLOCATOR["libc"]


def tune_allocator() -> bool:
    """Let glibc reuse freed region buffers instead of returning them to the OS each time.

    Region by region, every kernel allocates and frees buffers of the same few
    megabytes. glibc's default (a dynamic mmap threshold that starts at
    128 KiB, and heap trimming above twice that) gives each of them back to the
    OS when freed, so the next region page-faults fresh, zeroed memory: that
    measured 3-4x the CPU time of the computation itself. This sets the mmap
    threshold to 32 MiB and the trim threshold to 64 MiB, the values glibc's
    own heuristic reaches after freeing one 32 MiB block; every streamed run
    ends with ``malloc_trim(0)``, so the memory goes back to the OS once the
    run is over. Once per process; a no-op off glibc. Returns True when tuned.
    """
    libc = _glibc()
    if libc is None:
        return False
    if not _ALLOCATOR.get("tuned"):
        m_trim_threshold, m_mmap_threshold = -1, -3
        libc.mallopt(m_mmap_threshold, 32 << 20)
        libc.mallopt(m_trim_threshold, 64 << 20)
        _ALLOCATOR["tuned"] = True
    return True


def _release_memory() -> None:
    libc = _glibc()
    if libc is not None and _ALLOCATOR.get("tuned"):
        libc.malloc_trim(0)


def _describe(node: Node) -> str:
    from imalgebra.evaluate.eager import describe_node

    return describe_node(node)


def _empty(dtype: np.dtype, tail: tuple[int, ...], region: Region) -> np.ndarray:
    return np.empty(region.shape + tail, dtype=dtype)


def _part(buffer: np.ndarray, have: Region, want: Region, dtype: np.dtype, tail: tuple[int, ...]) -> np.ndarray:
    """The ``want`` part of a buffer that holds ``have``."""
    if want == have:
        return buffer
    if 0 in want.size:
        return _empty(dtype, tail, want)
    return buffer[want.relative_to(have).slices]


def _call(node: Node, region: Region, args: Sequence[np.ndarray], dtype: np.dtype, tail: tuple[int, ...]) -> np.ndarray:
    """``node.compute`` on one region, checked as the eager evaluator checks it."""
    try:
        array = node.compute(region, *args)
    except EvaluationError:
        raise
    except Exception as err:
        msg = f"{_describe(node)} failed on region index={region.index} size={region.size}: {type(err).__name__}: {err}"
        raise EvaluationError(msg) from err
    expected = region.shape + tail
    if not isinstance(array, np.ndarray) or array.dtype != dtype or array.shape != expected:
        got = f"{type(array).__name__} {getattr(array, 'dtype', '')} {getattr(array, 'shape', '')}"
        msg = (
            f"{_describe(node)}: its kernel returned {got} for region size {region.size}; expected "
            f"{dtype} of shape {expected} (a bug in that node's compute)"
        )
        raise EvaluationError(msg)
    if array.flags.writeable:
        array.flags.writeable = False  # kernels must not write into their inputs
    return array


class BufferPool:
    """Free buffers by (shape, dtype), reused region after region by one worker thread.

    Kernels with ``compute_into`` write into buffers taken from here instead of
    allocating new arrays; a buffer goes back when its last consumer has run.
    """

    __slots__ = ("free",)

    def __init__(self) -> None:
        self.free: dict[tuple[tuple[int, ...], np.dtype], list[np.ndarray]] = {}

    def take(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        found = self.free.get((shape, dtype))
        return found.pop() if found else np.empty(shape, dtype=dtype)

    def give(self, array: np.ndarray) -> None:
        self.free.setdefault((array.shape, array.dtype), []).append(array)


def _call_into(node: Node, region: Region, args: Sequence[np.ndarray], out: np.ndarray) -> None:
    try:
        node.compute_into(region, out, *args)
    except EvaluationError:
        raise
    except Exception as err:
        msg = f"{_describe(node)} failed on region index={region.index} size={region.size}: {type(err).__name__}: {err}"
        raise EvaluationError(msg) from err


def compute_region(
    schedule: Schedule, region: Region, *, out: np.ndarray | None = None, pool: BufferPool | None = None
) -> np.ndarray:
    """``region`` of the schedule's root: every node computed once over the part that is needed.

    Intermediates are dropped as soon as their last consumer has run. Nodes
    whose ``supports_into`` is true have ``compute_into(region, out, *arrays)``
    (the same kernel, writing into a given array): the root writes straight
    into ``out`` when it is given (it is then returned), intermediates into
    buffers of ``pool``, given back after their last consumer; the other
    nodes return new arrays from ``compute``.

    >>> import numpy as np, imalgebra as ia
    >>> img = ia.from_array(np.arange(12, dtype=np.int16).reshape(3, 4))
    >>> compute_region(Schedule(img), ia.Region(index=(1, 1), size=(2, 2))).tolist()
    [[5, 6], [9, 10]]
    """
    steps = schedule.steps(region)
    dtypes, tails, into = schedule.dtypes, schedule.tails, schedule.into
    buffers: list[np.ndarray | None] = [None] * len(steps)
    pooled: dict[int, np.ndarray] = {}
    last = len(steps) - 1
    for k, step in enumerate(steps):
        at = step.at
        if 0 in step.region.size:
            array = _empty(dtypes[at], tails[at], step.region)
        else:
            args = []
            for i, want in step.inputs:
                buffer = buffers[i]
                assert buffer is not None
                child = steps[i]
                args.append(_part(buffer, child.region, want, dtypes[child.at], tails[child.at]))
            node = step.node
            target = None
            if step.inputs and into[at]:
                if k == last and out is not None:
                    target = out
                elif k != last and pool is not None:
                    target = pooled[k] = pool.take(step.region.shape + tails[at], dtypes[at])
            if target is None:
                array = _call(node, step.region, args, dtypes[at], tails[at])
            else:
                _call_into(node, step.region, args, target)
                array = target if target is out else target.view()
                if array is not out:
                    array.flags.writeable = False  # consumers must not write into their inputs
        buffers[k] = array
        for done in step.release:
            buffers[done] = None
            if pool is not None and done in pooled:
                pool.give(pooled.pop(done))
    result = buffers[-1]
    assert result is not None
    return result


class _Cancelled(Exception):
    """Raised in a worker whose run was stopped by another region's failure."""


class _Gate:
    """Turns for in-order writes, and the first failure of a run."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.turn = 0
        self.failed = False
        self.error: BaseException | None = None

    def fail(self, error: BaseException | None) -> None:
        with self.cond:
            if error is not None and self.error is None and not isinstance(error, _Cancelled):
                self.error = error
            self.failed = True
            self.cond.notify_all()

    def wait_turn(self, index: int) -> None:
        with self.cond:
            while self.turn != index and not self.failed:
                self.cond.wait()
            if self.failed:
                raise _Cancelled

    def advance(self) -> None:
        with self.cond:
            self.turn += 1
            self.cond.notify_all()


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _prerequisites(node: Node) -> tuple[Any, ...]:
    get = getattr(node, "prerequisites", None)
    return tuple(get()) if get is not None else ()


def _metadata(root: Node) -> Any:
    return getattr(root, "metadata", None)


class Streamed:
    """Evaluate expressions region by region under a memory budget, on worker threads.

    Parameters
    ----------
    memory
        The working-memory budget: bytes or a string such as ``"64 MiB"``,
        ``"2 GB"``. It bounds every buffer the evaluation allocates (input
        regions, intermediates, output regions, whole files of formats
        without region reads) with 1/8 kept as headroom for thread stacks and
        allocator slack (:attr:`buffer_budget`); the output image of
        :meth:`evaluate` is the result, not working memory, and comes on top.
    workers
        Threads computing regions (default: the number of CPUs, at most 8).
    progress
        Show a progress bar (tqdm) while regions are computed.
    block_bytes
        Preferred size of the largest buffer of a region (cache-sized blocks
        are what makes fused region-by-region evaluation fast); None makes
        regions as large as the budget allows.
    tune_malloc
        On glibc, let freed region buffers be reused rather than returned to
        the OS after every region (see :func:`tune_allocator`; process-wide,
        once); the memory is trimmed back when each run ends.

    Examples
    --------
    >>> import numpy as np, imalgebra as ia
    >>> img = ia.from_array(np.arange(64, dtype=np.float32).reshape(4, 4, 4))
    >>> s = Streamed(memory="1 MiB", workers=2, block_bytes=64)
    >>> ia.to_array(s.evaluate(img + 1))[3, 3].tolist()
    [61.0, 62.0, 63.0, 64.0]
    >>> len(s.plan(img + 1).regions)    # 4 slabs of one 64-byte plane each
    4
    """

    def __init__(
        self,
        memory: str | int = "512 MiB",
        workers: int | None = None,
        progress: bool = False,
        *,
        block_bytes: int | None = DEFAULT_BLOCK_BYTES,
        tune_malloc: bool = True,
    ) -> None:
        self.memory = parse_memory(memory)
        self.tune_malloc = bool(tune_malloc)
        if workers is None:
            workers = min(os.cpu_count() or 1, 8)
        if int(workers) < 1:
            msg = f"workers must be >= 1, got {workers}"
            raise ValueError(msg)
        self.workers = int(workers)
        self.progress = bool(progress)
        self.block_bytes = block_bytes

    @property
    def buffer_budget(self) -> int:
        """The part of ``memory`` the planner fills with buffers: 7/8 of it.

        The rest is headroom for what cannot be counted buffer by buffer: the
        worker threads' stacks, the allocator's slack between regions, Python
        objects (measured: about 1.5-2 MiB for two workers).
        """
        return self.memory - self.memory // 8

    def __repr__(self) -> str:
        return f"Streamed(memory={format_bytes(self.memory)!r}, workers={self.workers}, progress={self.progress})"

    # -- public -----------------------------------------------------------
    def plan(self, expr: Node, *, order: str = "any") -> Plan:
        """The regions this evaluator would cut ``expr``'s output into (prerequisites bound)."""
        root = self._bind(_require_node(expr), {})
        return plan(root, self.buffer_budget, slots=self.workers, order=order, block_bytes=self.block_bytes)

    def evaluate(self, expr: Node) -> Image:
        """``expr`` as an in-memory Image, computed region by region.

        >>> import numpy as np, imalgebra as ia
        >>> img = ia.from_array(np.arange(6, dtype=np.uint8).reshape(2, 3))
        >>> Streamed(memory="1 MiB").evaluate(img).equals(img)
        True
        """
        expr = _require_node(expr)
        if isinstance(expr, Image):
            return expr
        root = self._bind(expr, {})
        if isinstance(root, Image):
            return root
        out = np.empty(root.shape, dtype=root.pixel_type.dtype)

        def destination(region: Region) -> np.ndarray:
            return out[region.slices]

        def finish(index: int, region: Region, array: np.ndarray, gate: _Gate) -> None:
            if array.base is not out:  # the root kernel did not write into the output itself
                out[region.slices] = array

        self._run(root, finish, order="any", desc="evaluate", destination=destination)
        return Image.from_pixels(out, root.geometry, root.pixel_type, copy=False)  # as the eager evaluator

    def reduce(self, reduction: Any) -> Any:
        """The value of a reduction (statistics...), combining one partial per region in plan order."""
        return self._reduce(reduction, {})

    def write(self, expr: Node, path: Any, io: Any = None, compress: bool | int = False) -> None:
        """Evaluate ``expr`` into the file ``path``, each finished region going straight to disk.

        Formats with a streamed writer (``open_writer``: MetaImage, NRRD,
        NIfTI, TIFF...) never hold the whole output; for the others (and for
        a list of paths, one file per slice) the whole image is evaluated
        first, which must fit the budget, then written. Nothing appears under
        ``path`` unless the whole write succeeds. ``ia.write(expr, path,
        evaluator=Streamed(...))`` calls this.

        >>> import numpy as np, os, tempfile, imalgebra as ia
        >>> img = ia.from_array(np.arange(60, dtype=np.float32).reshape(3, 4, 5))
        >>> path = os.path.join(tempfile.mkdtemp(), "twice.mha")
        >>> Streamed(memory="4 KiB", workers=2).write(img * 2, path)
        >>> ia.read(path).equals(ia.evaluate(img * 2))
        True
        """
        root = self._bind(_require_node(expr), {})
        if isinstance(path, (list, tuple)):
            self._write_whole(root, None, path, compress, io)
            return
        fmt = _writer_io(path, io)
        _check_capabilities(fmt, root, path)
        if fmt.open_writer is None:
            self._write_whole(root, fmt, path, compress, io)
            return
        from imalgebra.io.base import ImageInfo

        info = ImageInfo(
            geometry=root.geometry,
            pixel_type=root.pixel_type,
            components=root.components,
            metadata=_metadata(root),
            io=fmt.name,
            path=os.fspath(path),
        )
        writer = fmt.open_writer(path, info, compress=compress)
        try:

            def finish(index: int, region: Region, array: np.ndarray, gate: _Gate) -> None:
                gate.wait_turn(index)
                writer.write(region, array)
                gate.advance()

            self._run(root, finish, order=getattr(writer, "order", "any"), desc=f"write {os.fspath(path)}")
        except BaseException:
            writer.abort()
            raise
        writer.commit()

    # -- internals --------------------------------------------------------
    def _write_whole(self, root: Node, fmt: Any, path: Any, compress: bool | int, io: Any) -> None:
        """Evaluate whole (it must fit the budget), then write with ``ia.write``."""
        from imalgebra.io.registry import write

        if isinstance(root, Image):  # already in memory: nothing to evaluate
            write(root, path, io=io, compress=compress)
            return
        nbytes = int(np.prod(root.shape, dtype=np.int64)) * root.pixel_type.dtype.itemsize
        spare = self.buffer_budget - nbytes
        if spare <= 0:
            what = (
                f"{fmt.name} has no streamed writer" if fmt is not None else "a list of files is written slice by slice"
            )
            msg = (
                f"cannot write {_shown(path)}: {what}, so the image must be evaluated whole first, but the whole "
                f"image ({format_bytes(nbytes)}) does not fit memory={format_bytes(self.memory)}; raise memory or "
                "write to a format with streamed writes (.mha, .nrrd, .nii, .tif)"
            )
            raise EvaluationError(msg)
        inner = Streamed(
            memory=spare,
            workers=self.workers,
            progress=self.progress,
            block_bytes=self.block_bytes,
            tune_malloc=self.tune_malloc,
        )
        write(inner.evaluate(root), path, io=io, compress=compress)

    def _bind(self, expr: Node, values: dict[str, Any]) -> Node:
        """``expr`` with every node's prerequisites reduced (streamed) and bound."""
        if not any(_prerequisites(n) for n in toposort(expr)):
            return expr

        def swap(node: Node) -> Node | None:
            wanted = _prerequisites(node)
            if not wanted:
                return None
            got = []
            for reduction in wanted:
                if reduction.key not in values:
                    values[reduction.key] = self._reduce(reduction, values)
                got.append(values[reduction.key])
            return node.bind(got)

        return replace(expr, swap)

    def _reduce(self, reduction: Any, values: dict[str, Any]) -> Any:
        inputs = tuple(reduction.inputs)
        if len(inputs) != 1:
            msg = f"{_describe(reduction)} has {len(inputs)} inputs; reductions take one image expression"
            raise EvaluationError(msg)
        root = self._bind(_require_node(inputs[0]), values)

        def finish(index: int, region: Region, array: np.ndarray, gate: _Gate) -> Any:
            return reduction.partial(region, array)

        partials = self._run(root, finish, order="any", desc=getattr(reduction, "op_name", "reduce"))
        return reduction.finalize(reduction.combine(partials))

    def _run(
        self,
        root: Node,
        finish: Callable[..., Any],
        *,
        order: str,
        desc: str,
        destination: Callable[[Region], np.ndarray] | None = None,
    ) -> list[Any]:
        """Compute every region of ``root`` and hand it to ``finish`` (in a worker); results in plan order."""
        schedule = Schedule(root)
        regions = plan(
            root, self.buffer_budget, slots=self.workers, order=order, block_bytes=self.block_bytes, schedule=schedule
        ).regions
        gate = _Gate()
        if self.tune_malloc and len(regions) > 1:
            tune_allocator()

        local = threading.local()  # one buffer pool per worker thread, for kernels with compute_into

        def task(index: int, region: Region) -> Any:
            if gate.failed:
                raise _Cancelled
            try:
                pool = getattr(local, "pool", None)
                if pool is None:
                    pool = local.pool = BufferPool()
                out = destination(region) if destination is not None else None
                return finish(index, region, compute_region(schedule, region, out=out, pool=pool), gate)
            except BaseException as err:
                gate.fail(err)
                raise

        bar = self._bar(len(regions), desc)
        results: list[Any] = [None] * len(regions)
        try:
            if self.workers == 1 or len(regions) == 1:
                for index, region in enumerate(regions):
                    results[index] = task(index, region)
                    bar.update(1)
            else:
                self._run_threads(regions, task, results, bar, gate)
        except _Cancelled:
            assert gate.error is not None
            raise gate.error from None
        finally:
            bar.close()
            _release_memory()
        return results

    def _run_threads(
        self, regions: Sequence[Region], task: Callable[..., Any], results: list[Any], bar: Any, gate: _Gate
    ) -> None:
        from concurrent.futures import ThreadPoolExecutor  # imported here: `import imalgebra` stays light

        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="imalgebra-streamed")
        pending: deque[tuple[int, Future[Any]]] = deque()
        window = 2 * self.workers  # queued tasks hold no buffers; this only bounds bookkeeping

        def collect() -> None:
            index, future = pending.popleft()
            results[index] = future.result()
            bar.update(1)

        try:
            for index, region in enumerate(regions):
                context = contextvars.copy_context()  # one fresh copy per task: a context runs one task at a time
                pending.append((index, pool.submit(context.run, task, index, region)))
                while len(pending) >= window:
                    collect()
            while pending:
                collect()
        except BaseException as err:
            gate.fail(err)
            for _, future in pending:
                future.cancel()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _bar(self, total: int, desc: str) -> Any:
        if not self.progress:
            return _NoBar()
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, unit="region", leave=False)


def _require_node(expr: Any) -> Node:
    if not is_node(expr):
        msg = f"Streamed evaluates image expressions, images and opened files, got {type(expr).__name__}"
        raise TypeError(msg)
    return expr


def _shown(path: Any) -> str:
    if isinstance(path, (list, tuple)):
        return f"{len(path)} files ({os.fspath(path[0])}...)" if path else "an empty list of files"
    return os.fspath(path)


def _check_capabilities(fmt: Any, root: Node, path: Any) -> None:
    """Refuse, before anything is computed, what the format cannot store (as ``ia.write`` does)."""
    from imalgebra.errors import ImageIOError

    caps = fmt.capabilities
    if caps.pixel_types is not None and root.pixel_type not in caps.pixel_types:
        names = ", ".join(sorted(p.name for p in caps.pixel_types))
        msg = (
            f"cannot write {os.fspath(path)}: {fmt.name} cannot store {root.pixel_type.name} pixels; it stores "
            f"{names} (cast first with ia.cast, or choose another format such as .mha or .nrrd)"
        )
        raise ImageIOError(msg)
    if root.geometry.dimension not in caps.dimensions:
        msg = (
            f"cannot write {os.fspath(path)}: {fmt.name} stores {'/'.join(map(str, caps.dimensions))}D images, "
            f"not {root.geometry.dimension}D"
        )
        raise ImageIOError(msg)


def _writer_io(path: Any, io: Any) -> Any:
    """The image IO that writes ``path`` (``io``: a FormatIO, a name, or None to choose by extension)."""
    from imalgebra.io.base import FormatIO

    if isinstance(io, FormatIO):
        return io
    from imalgebra.io import registry

    return registry.writer_for(path, io)
