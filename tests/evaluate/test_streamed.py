"""The streamed evaluator: bit-identical to whole-image evaluation for any budget and worker count.

The property tests build random expressions from small nodes defined here
(voxelwise, casts, flips, strides, crops, paste, components, generated
sources, file leaves, a two-pass node with a min/max prerequisite), so every
kind of region mapping crosses region seams; :func:`reference` evaluates them
whole, independently of any evaluator. Tests at the end run the library's own
operators through the same checks.
"""

from __future__ import annotations

import contextvars
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import imalgebra as ia
from imalgebra.algebra.expr import Expr, Reduction, node
from imalgebra.evaluate.planner import Schedule, plan
from imalgebra.evaluate.streamed import Streamed
from imalgebra.io.base import Capabilities, FormatIO, ImageInfo
from imalgebra.io.lazy import open as open_lazy


# -- small nodes of every kind ------------------------------------------------------
def _same(arg):
    return arg.geometry, arg.pixel_type, arg.components


@node
class Sub(Expr):
    op_name = "t_sub"
    input_fields = ("left", "right")
    left: object
    right: object

    def infer(self):
        return _same(self.left)

    def compute(self, region, left, right):
        return np.subtract(left, right, dtype=self.pixel_type.dtype, casting="unsafe")


@node
class Scale(Expr):
    op_name = "t_scale"
    input_fields = ("arg",)
    arg: object

    def infer(self):
        return _same(self.arg)

    def compute(self, region, arg):
        return np.multiply(arg, 3, dtype=self.pixel_type.dtype, casting="unsafe")


@node
class ToFloat(Expr):
    op_name = "t_float"
    input_fields = ("arg",)
    arg: object

    def infer(self):
        t = ia.PixelType.VectorFloat64 if self.arg.pixel_type.is_vector else ia.PixelType.Float64
        return self.arg.geometry, t, self.arg.components

    def compute(self, region, arg):
        return arg.astype(np.float64)


@node
class Flip(Expr):
    op_name = "t_flip"
    input_fields = ("arg",)
    arg: object
    axis: int

    def infer(self):
        return _same(self.arg)

    def requested_regions(self, region):
        index = list(region.index)
        index[self.axis] = self.arg.geometry.size[self.axis] - region.index[self.axis] - region.size[self.axis]
        return (ia.Region(index=index, size=region.size),)

    def compute(self, region, arg):
        np_axis = self.arg.geometry.dimension - 1 - self.axis
        return np.flip(arg, axis=np_axis)


@node
class Stride(Expr):
    op_name = "t_stride"
    input_fields = ("arg",)
    arg: object
    axis: int
    start: int
    step: int

    def infer(self):
        size = list(self.arg.geometry.size)
        size[self.axis] = len(range(self.start, size[self.axis], self.step))
        return self.arg.geometry.with_size(size), self.arg.pixel_type, self.arg.components

    def requested_regions(self, region):
        index, size = list(region.index), list(region.size)
        index[self.axis] = self.start + region.index[self.axis] * self.step
        size[self.axis] = (region.size[self.axis] - 1) * self.step + 1
        return (ia.Region(index=index, size=size),)

    def compute(self, region, arg):
        sl = [slice(None)] * arg.ndim
        sl[self.arg.geometry.dimension - 1 - self.axis] = slice(None, None, self.step)
        return arg[tuple(sl)]


@node
class Crop(Expr):
    op_name = "t_crop"
    input_fields = ("arg",)
    arg: object
    index: tuple
    size: tuple

    def infer(self):
        return self.arg.geometry.with_size(self.size), self.arg.pixel_type, self.arg.components

    def requested_regions(self, region):
        return (region.shift(self.index),)

    def compute(self, region, arg):
        return arg


@node
class Paste(Expr):
    """``src`` written over ``dest`` at ``at``: src is requested only where it overlaps."""

    op_name = "t_paste"
    input_fields = ("dest", "src")
    dest: object
    src: object
    at: tuple

    def infer(self):
        return _same(self.dest)

    def _overlap(self, region):
        return region.intersect(ia.Region(index=self.at, size=self.src.geometry.size))

    def requested_regions(self, region):
        return (region, self._overlap(region).shift([-a for a in self.at]))

    def compute(self, region, dest, src):
        out = np.array(dest)
        inside = self._overlap(region)
        if not inside.is_empty():
            out[inside.relative_to(region).slices] = src
        return out


@node
class Compose(Expr):
    op_name = "t_compose"
    input_fields = ("first", "second")
    first: object
    second: object

    def infer(self):
        vector = ia.PixelType.from_dtype(self.first.pixel_type.dtype, is_vector=True)
        return self.first.geometry, vector, 2

    def compute(self, region, first, second):
        return np.stack([first, second], axis=-1)


@node
class Select(Expr):
    op_name = "t_select"
    input_fields = ("arg",)
    arg: object
    k: int

    def infer(self):
        return self.arg.geometry, self.arg.pixel_type.component_type, 1

    def compute(self, region, arg):
        return np.ascontiguousarray(arg[..., self.k])


@node
class Ramp(Expr):
    """A generated source: every pixel a function of its index."""

    op_name = "t_ramp"
    size: tuple

    def infer(self):
        return ia.Geometry(size=self.size), ia.PixelType.Float32, 1

    def compute(self, region):
        starts, sizes = region.index[::-1], region.size[::-1]
        grids = np.meshgrid(*[np.arange(i, i + s) for i, s in zip(starts, sizes, strict=True)], indexing="ij")
        value = sum(g * 10.0**k for k, g in enumerate(reversed(grids)))
        return np.sin(value).astype(np.float32)


@node
class MinMax(Reduction):
    op_name = "t_minmax"
    arg: object

    def partial(self, region, array):
        return (array.min(), array.max())

    def combine(self, partials):
        return (min(p[0] for p in partials), max(p[1] for p in partials))


@node
class Affine(Expr):
    op_name = "t_affine"
    input_fields = ("arg",)
    arg: object
    lo: float
    hi: float

    def infer(self):
        return self.arg.geometry, ia.PixelType.Float64, 1

    def compute(self, region, arg):
        span = self.hi - self.lo
        return (arg.astype(np.float64) - self.lo) / (span if span else 1.0)


@node
class Normalize(Expr):
    """A two-pass node: it needs the global min/max before any region."""

    op_name = "t_normalize"
    input_fields = ("arg",)
    arg: object

    def infer(self):
        return self.arg.geometry, ia.PixelType.Float64, 1

    def prerequisites(self):
        return (MinMax(arg=self.arg),)

    def bind(self, values):
        lo, hi = values[0]
        return Affine(arg=self.arg, lo=float(lo), hi=float(hi))

    def compute(self, region, arg):  # pragma: no cover - always bound first
        raise AssertionError("Normalize must be bound before evaluation")


# -- a tiny file format (.npy) with region reads and a streamed writer -----------------
def _npy_info(path):
    with open(path, "rb") as f:
        np.lib.format.read_magic(f)
        shape, _, dtype = np.lib.format.read_array_header_1_0(f)
    return ImageInfo(geometry=ia.Geometry(size=shape[::-1]), pixel_type=ia.PixelType.from_dtype(dtype), io="NpyIO")


def _npy_read_region(path, info, region):
    return np.array(np.load(path, mmap_mode="r")[region.slices])


def _npy_write(path, image, *, compress=False):
    tmp = f"{path}.tmp-{os.getpid()}-{threading.get_ident()}.npy"
    np.save(tmp, np.asarray(image))
    os.replace(tmp, path)


class NpyWriter:
    """Writes regions into a temporary memory-mapped .npy, renamed on commit; records the order."""

    def __init__(self, path, info, order):
        self.path = str(path)
        self.tmp = self.path + ".partial.npy"
        self.order = order
        self.written = []
        self.committed = self.aborted = False
        self.array = np.lib.format.open_memmap(self.tmp, mode="w+", dtype=info.pixel_type.dtype, shape=info.shape)

    def write(self, region, array):
        assert array.shape[: region.dimension] == region.shape
        self.written.append(region)
        self.array[region.slices] = array

    def commit(self):
        self.array.flush()
        del self.array
        os.replace(self.tmp, self.path)
        self.committed = True

    def abort(self):
        del self.array
        os.unlink(self.tmp)
        self.aborted = True


WRITERS: list[NpyWriter] = []


def _open_writer(order):
    def open_writer(path, info, *, compress=False):
        writer = NpyWriter(path, info, "slabs" if compress else order)
        WRITERS.append(writer)
        return writer

    return open_writer


NPY = FormatIO(
    name="NpyIO",
    extensions=(".npy",),
    sniff=lambda head: head.startswith(b"\x93NUMPY"),
    read_info=_npy_info,
    read_region=_npy_read_region,
    write=_npy_write,
    open_writer=_open_writer("any"),
    capabilities=Capabilities(region_read=True, streamed_write=True),
)
NPY_WHOLE = FormatIO(
    name="NpyWholeIO",
    extensions=(".npy",),
    sniff=lambda head: False,
    read_info=_npy_info,
    read_region=_npy_read_region,
    write=_npy_write,
    capabilities=Capabilities(region_read=False),
)


# -- whole-image reference ----------------------------------------------------------
def reference(expr):
    """Evaluate ``expr`` whole, recursively, with nothing but the nodes' own methods."""
    if isinstance(expr, ia.Image):
        return np.asarray(expr)
    if getattr(expr, "prerequisites", None) and expr.prerequisites():
        values = []
        for r in expr.prerequisites():
            array = reference(r.arg)
            region = r.arg.geometry.region
            values.append(r.finalize(r.combine([r.partial(region, array)])))
        return reference(expr.bind(values))
    full = expr.geometry.region
    if not expr.inputs:
        return np.asarray(expr.compute(full))
    arrays = [reference(c)[r.slices] for c, r in zip(expr.inputs, expr.requested_regions(full), strict=True)]
    return np.asarray(expr.compute(full, *arrays))


# -- random expressions -----------------------------------------------------------
def _images(draw, size):
    shape = size[::-1]
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    kind = draw(st.sampled_from(["f32", "i16", "u8", "label", "ramp", "file", "whole_file"]))
    if kind == "f32":
        return ia.from_array(rng.normal(size=shape).astype(np.float32))
    if kind == "i16":
        return ia.from_array(rng.integers(-30000, 30000, size=shape, dtype=np.int16))
    if kind == "u8":
        return ia.from_array(rng.integers(0, 255, size=shape, dtype=np.uint8))
    if kind == "label":
        pixels = (rng.random(shape) > 0.6).astype(np.uint8) * 3
        return ia.Image.from_pixels(pixels, ia.Geometry(size=size), ia.PixelType.LabelUInt8)
    if kind == "ramp":
        return Ramp(size=tuple(size))
    path = Path(_FOLDER[0]) / f"leaf-{rng.integers(1 << 62)}.npy"
    np.save(path, rng.normal(size=shape).astype(np.float32))
    return open_lazy(path, io=NPY if kind == "file" else NPY_WHOLE)


_FOLDER: list[str] = []


@pytest.fixture(scope="module", autouse=True)
def _leaf_folder(tmp_path_factory):
    if not _FOLDER:
        _FOLDER.append(str(tmp_path_factory.mktemp("leaves")))


def _fit_to(draw, e, size):
    """``e`` cropped to ``size`` (which is no larger on any axis)."""
    if tuple(e.geometry.size) == tuple(size):
        return e
    index = tuple(draw(st.integers(0, n - m)) for n, m in zip(e.geometry.size, size, strict=True))
    return Crop(arg=e, index=index, size=tuple(size))


@st.composite
def expressions(draw, max_steps=6):
    dims = draw(st.sampled_from([2, 3]))
    size = tuple(draw(st.integers(1, 9)) for _ in range(dims))
    pool = [_images(draw, size)]
    for _ in range(draw(st.integers(0, max_steps))):
        e = draw(st.sampled_from(pool))
        op = draw(st.sampled_from(["sub", "scale", "float", "flip", "stride", "crop", "paste", "vector", "norm"]))
        if e.pixel_type.is_vector and op in ("sub", "paste", "norm", "vector"):
            e = Select(arg=e, k=draw(st.integers(0, 1)))
        if e.pixel_type.is_label and op in ("sub", "scale"):
            e = ToFloat(arg=e)
        if op == "sub":
            other = _images(draw, e.geometry.size) if draw(st.booleans()) else draw(st.sampled_from(pool))
            if other.pixel_type.is_vector:
                other = Select(arg=other, k=0)
            common = tuple(min(a, b) for a, b in zip(e.geometry.size, other.geometry.size, strict=True))
            if len(common) != e.geometry.dimension or other.geometry.dimension != e.geometry.dimension:
                continue
            left, right = _fit_to(draw, e, common), _fit_to(draw, other, common)
            if left.pixel_type is not right.pixel_type or left.pixel_type.is_label:
                left, right = ToFloat(arg=left), ToFloat(arg=right)
            pool.append(Sub(left=left, right=right))
        elif op == "scale":
            pool.append(Scale(arg=e))
        elif op == "float":
            pool.append(ToFloat(arg=e))
        elif op == "flip":
            pool.append(Flip(arg=e, axis=draw(st.integers(0, e.geometry.dimension - 1))))
        elif op == "stride":
            axis = draw(st.integers(0, e.geometry.dimension - 1))
            n = e.geometry.size[axis]
            start = draw(st.integers(0, n - 1))
            pool.append(Stride(arg=e, axis=axis, start=start, step=draw(st.integers(1, 3))))
        elif op == "crop":
            size = tuple(draw(st.integers(1, n)) for n in e.geometry.size)
            pool.append(_fit_to(draw, e, size))
        elif op == "paste":
            src = draw(st.sampled_from(pool))
            if src.pixel_type.is_vector:
                src = Select(arg=src, k=0)
            if src.geometry.dimension != e.geometry.dimension:
                continue
            if src.pixel_type is not e.pixel_type:
                e, src = ToFloat(arg=e), ToFloat(arg=src)
            at = tuple(
                draw(st.integers(-n + 1, m - 1)) for n, m in zip(src.geometry.size, e.geometry.size, strict=True)
            )
            pool.append(Paste(dest=e, src=src, at=at))
        elif op == "vector":
            scalar = ToFloat(arg=e)
            pool.append(Compose(first=scalar, second=Scale(arg=scalar)))
        elif op == "norm":
            pool.append(Normalize(arg=e if not e.pixel_type.is_label else ToFloat(arg=e)))
    return pool[-1]


def _min_budget(expr, workers):
    """A workable budget: the largest one-pixel working set per worker, doubled."""
    bound = Streamed(memory=1 << 40)._bind(expr, {})
    schedule = Schedule(bound)
    pixels = (ia.Region(index=i[::-1], size=(1,) * bound.geometry.dimension) for i in np.ndindex(bound.geometry.shape))
    worst = max(schedule.peak_bytes(r)[0] for r in pixels)
    return (2 * workers * (worst + 64) + schedule.fixed_bytes) * 8 // 7 + 8  # Streamed keeps 1/8 as headroom


def assert_same_image(image, expected_array, expr):
    assert isinstance(image, ia.Image)
    assert image.geometry == expr.geometry
    assert image.pixel_type is expr.pixel_type
    got = ia.to_array(image)
    assert got.dtype == expected_array.dtype
    assert np.array_equal(got, expected_array, equal_nan=True)


# -- properties --------------------------------------------------------------------
@settings(max_examples=60)
@given(
    expr=expressions(), factor=st.integers(1, 400), workers=st.sampled_from([1, 2]), block=st.sampled_from([None, 32])
)
def test_streamed_equals_whole_image_evaluation_bit_for_bit(expr, factor, workers, block):
    budget = _min_budget(expr, workers) * factor
    streamed = Streamed(memory=budget, workers=workers, block_bytes=block)
    assert_same_image(streamed.evaluate(expr), reference(expr), expr)


@settings(max_examples=30)
@given(expr=expressions(), factor=st.integers(1, 50))
def test_streamed_equals_the_eager_evaluator(expr, factor):
    from imalgebra.evaluate import evaluate

    budget = _min_budget(expr, 2) * factor
    got = Streamed(memory=budget, workers=2, block_bytes=64).evaluate(expr)
    assert got.equals(evaluate(expr))


@settings(max_examples=30)
@given(expr=expressions(), factor=st.integers(1, 100), workers=st.sampled_from([1, 2]), compress=st.booleans())
def test_streamed_write_equals_whole_image_and_goes_in_plan_order(tmp_path_factory, expr, factor, workers, compress):
    folder = tmp_path_factory.mktemp("out")
    path = folder / "out.npy"
    budget = _min_budget(expr, workers) * factor
    streamed = Streamed(memory=budget, workers=workers, block_bytes=64)
    WRITERS.clear()
    try:
        streamed.write(expr, path, io=NPY, compress=compress)
    except ia.EvaluationError as err:
        assert compress and "one slab" in str(err)  # slabs may not fit a budget sized for pixels
        assert not path.exists()
        return
    writer = WRITERS[-1]
    assert writer.committed
    order = "slabs" if compress else "any"
    assert writer.written == list(streamed.plan(expr, order=order).regions)
    if compress:
        full = expr.geometry.region
        assert all(r.size[:-1] == full.size[:-1] for r in writer.written)
    assert np.array_equal(np.load(path), reference(expr), equal_nan=True)
    assert sorted(p.name for p in folder.iterdir()) == ["out.npy"]


@settings(max_examples=20)
@given(expr=expressions(max_steps=4), factor=st.integers(1, 100), workers=st.sampled_from([1, 2]))
def test_streamed_reduction_combines_partials_of_every_region(expr, factor, workers):
    from imalgebra.evaluate import reduce

    if expr.pixel_type.is_vector:
        expr = Select(arg=expr, k=0)
    budget = _min_budget(expr, workers) * factor
    got = Streamed(memory=budget, workers=workers, block_bytes=64).reduce(MinMax(arg=expr))
    whole = reference(expr)
    assert got == (whole.min(), whole.max())
    assert got == reduce(MinMax(arg=expr))


# -- examples ---------------------------------------------------------------------
def small_float(shape=(6, 7, 8), seed=0):
    return ia.from_array(np.random.default_rng(seed).normal(size=shape).astype(np.float32))


def test_an_image_evaluates_to_itself():
    img = small_float()
    assert Streamed(memory="1 MiB").evaluate(img) is img


def test_prerequisites_are_reduced_streamed_then_bound():
    img = small_float()
    expr = Sub(left=Normalize(arg=img), right=Normalize(arg=Scale(arg=img)))
    got = Streamed(memory=4000, workers=2, block_bytes=64).evaluate(expr)
    assert np.array_equal(ia.to_array(got), reference(expr))


def test_file_leaves_are_read_by_region_only(tmp_path):
    path = tmp_path / "a.npy"
    np.save(path, np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6))
    calls = []

    def counting(p, info, region):
        calls.append(region)
        return _npy_read_region(p, info, region)

    io = FormatIO(
        name="CountingNpy",
        extensions=(".npy",),
        sniff=lambda h: False,
        read_info=_npy_info,
        read_region=counting,
        capabilities=Capabilities(region_read=True),
    )
    leaf = open_lazy(path, io=io)
    expr = Stride(arg=Flip(arg=leaf, axis=2), axis=0, start=1, step=2)
    s = Streamed(memory=600, workers=1, block_bytes=None)
    got = s.evaluate(expr)
    assert len(calls) == len(s.plan(expr).regions) > 1
    assert sum(r.number_of_pixels for r in calls) == 4 * 5 * 5  # x 1..5 only: the stride skips x=0
    assert np.array_equal(ia.to_array(got), reference(expr))


def test_a_file_without_region_reads_is_read_once_even_by_several_threads(tmp_path):
    path = tmp_path / "w.npy"
    np.save(path, np.arange(8 * 8 * 16, dtype=np.float32).reshape(16, 8, 8))
    calls = []

    def counting(p, info, region):
        calls.append(region)
        return _npy_read_region(p, info, region)

    io = FormatIO(
        name="WholeNpy",
        extensions=(".npy",),
        sniff=lambda h: False,
        read_info=_npy_info,
        read_region=counting,
        capabilities=Capabilities(region_read=False),
    )
    leaf = open_lazy(path, io=io)
    s = Streamed(memory=8 * 8 * 16 * 4 + 2000, workers=2, block_bytes=256)
    got = s.evaluate(Scale(arg=leaf))
    assert len(s.plan(Scale(arg=leaf)).regions) > 4
    assert np.array_equal(ia.to_array(got), np.arange(8 * 8 * 16, dtype=np.float32).reshape(16, 8, 8) * 3)
    assert calls == [leaf.geometry.region]


def test_a_whole_file_that_does_not_fit_says_so(tmp_path):
    path = tmp_path / "w.npy"
    np.save(path, np.zeros((64, 64), np.float32))
    leaf = open_lazy(path, io=NPY_WHOLE)
    with pytest.raises(ia.EvaluationError, match="read whole because their format cannot read regions"):
        Streamed(memory="8 KiB").evaluate(Scale(arg=leaf))


VAR: contextvars.ContextVar[float] = contextvars.ContextVar("VAR", default=1.0)


@node
class ScaleByContext(Expr):
    op_name = "t_ctx"
    input_fields = ("arg",)
    arg: object

    def infer(self):
        return _same(self.arg)

    def compute(self, region, arg):
        VAR.set(VAR.get() + 1)  # a task's own context: never leaks into another task
        return (arg * (VAR.get() - 1)).astype(arg.dtype)


def test_worker_threads_see_the_callers_context_variables():
    img = small_float((8, 8, 32))
    token = VAR.set(5.0)
    try:
        got = Streamed(memory="1 MiB", workers=2, block_bytes=256).evaluate(ScaleByContext(arg=img))
    finally:
        VAR.reset(token)
    assert np.array_equal(ia.to_array(got), ia.to_array(img) * np.float32(5.0))
    assert VAR.get() == 1.0


@node
class Boom(Expr):
    op_name = "t_boom"
    input_fields = ("arg",)
    arg: object
    at: int

    def infer(self):
        return _same(self.arg)

    def compute(self, region, arg):
        if region.index[-1] <= self.at < region.stop[-1]:
            raise ValueError("kernel exploded")
        return arg


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_kernel_names_its_node_and_leaves_no_file(tmp_path, workers):
    img = small_float((40, 8, 8))
    path = tmp_path / "out.npy"
    WRITERS.clear()
    with pytest.raises(ia.EvaluationError, match=r"t_boom.*kernel exploded"):
        Streamed(memory="1 MiB", workers=workers, block_bytes=256).write(Boom(arg=img, at=30), path, io=NPY)
    assert WRITERS[-1].aborted and not WRITERS[-1].committed
    assert list(tmp_path.iterdir()) == []


def test_a_failing_write_aborts_the_writer(tmp_path):
    class Failing(NpyWriter):
        def write(self, region, array):
            if len(self.written) == 3:
                raise OSError("disk full")
            super().write(region, array)

    made = []

    def open_writer(path, info, *, compress=False):
        made.append(Failing(path, info, "any"))
        return made[-1]

    io = FormatIO(
        name="FailingNpy",
        extensions=(".npy",),
        sniff=lambda h: False,
        read_info=_npy_info,
        read_region=_npy_read_region,
        open_writer=open_writer,
    )
    with pytest.raises(OSError, match="disk full"):
        Streamed(memory="1 MiB", workers=2, block_bytes=256).write(
            Scale(arg=small_float((40, 8, 8))), tmp_path / "o.npy", io=io
        )
    assert made[0].aborted
    assert list(tmp_path.iterdir()) == []


def test_formats_without_streamed_writes_evaluate_whole_when_it_fits(tmp_path):
    io = FormatIO(
        name="PlainNpy",
        extensions=(".npy",),
        sniff=lambda h: False,
        read_info=_npy_info,
        read_region=_npy_read_region,
        write=_npy_write,
    )
    img = small_float((8, 8, 8))
    Streamed(memory="1 MiB").write(Scale(arg=img), tmp_path / "o.npy", io=io)
    assert np.array_equal(np.load(tmp_path / "o.npy"), ia.to_array(img) * 3)
    with pytest.raises(ia.EvaluationError, match=r"PlainNpy has no streamed writer.*does not fit memory"):
        Streamed(memory="1 KiB").write(Scale(arg=img), tmp_path / "p.npy", io=io)
    assert not (tmp_path / "p.npy").exists()


def test_progress_bar_only_when_asked(capsys):
    pytest.importorskip("tqdm")
    img = small_float((8, 8, 16))
    Streamed(memory="1 MiB", workers=2, block_bytes=256).evaluate(Scale(arg=img))
    assert capsys.readouterr().err == ""
    Streamed(memory="1 MiB", workers=2, block_bytes=256, progress=True).evaluate(Scale(arg=img))
    assert "region" in capsys.readouterr().err


def test_bad_arguments_say_what_is_wrong():
    with pytest.raises(ValueError, match="workers"):
        Streamed(workers=0)
    with pytest.raises(ValueError, match="MiB"):
        Streamed(memory="a lot")
    with pytest.raises(TypeError, match="image expressions"):
        Streamed().evaluate(np.zeros((2, 2)))


def test_streamed_is_an_evaluator_for_ia_evaluate():
    from imalgebra.evaluate import evaluate

    img = small_float()
    assert evaluate(Scale(arg=img), Streamed(memory="64 KiB", workers=2)).equals(evaluate(Scale(arg=img)))


def test_plan_is_exposed_for_inspection():
    img = small_float((16, 16, 16))
    p = Streamed(memory="1 MiB", workers=2, block_bytes=1024).plan(Scale(arg=img))
    assert p == plan(Scale(arg=img), (1 << 20) * 7 // 8, slots=2, block_bytes=1024)


# -- the library's own nodes, every kind, streamed ------------------------------------------
def _library_cases():
    rng = np.random.default_rng(7)
    f = ia.from_array(rng.normal(10, 5, size=(9, 10, 11)).astype(np.float32), copy=False).with_spacing((0.5, 1, 2))
    g = ia.from_array(rng.normal(0, 3, size=(9, 10, 11)).astype(np.float32), copy=False).with_spacing((0.5, 1, 2))
    i = ia.from_array(rng.integers(-300, 300, size=(9, 10, 11), dtype=np.int16), copy=False).with_spacing((0.5, 1, 2))
    small = ia.from_array(rng.normal(size=(3, 4, 5)).astype(np.float32), copy=False)
    label = ia.cast(i > 100, ia.PixelType.LabelUInt8)
    rgb = ia.compose(f, g, f * g)
    return {
        "arithmetic": (f - g) * 0.5 + f / (g + 100) - f // 3 + f % 2.5,
        "integer wrap and compare": (i * i + 7) - (i > 3) * i,
        "maths": ia.sqrt(ia.abs(f)) + ia.exp(g / 10) - ia.atan2(f, g) + ia.round(ia.log(ia.abs(g) + 1)),
        "cast and clamp": ia.cast(ia.clamp((f - g) * 10, 0, 255), ia.PixelType.UInt8) + ia.cast(i, ia.PixelType.UInt8),
        "where": ia.where(f > g, f, g - 1),
        "components": ia.select_component(rgb, 2) - ia.select_component(rgb * 2, 0),
        "vector": rgb * 0.5 + rgb,
        "extract": ia.extract(f - g, (2, 1, 3), (5, 6, 4)),
        "strided slicing": (f - g)[1::3, ::2, 2:8:2],
        "flipped slicing": (f * 2)[::-1, 8:1:-2, ::-1],
        "a plane": (f + g)[:, :, 4],
        "paste": ia.paste(f - g, small * 3, destination_index=(6, 2, 5)),
        "label": label,
        "gabor": ia.gabor(size=(20, 12, 9), frequency=0.1),
        "gaussian": ia.gaussian(size=(20, 12, 9), sigma=(4, 3, 2), normalized=True) - ia.gaussian(size=(20, 12, 9)),
        "rescale_intensity": ia.rescale_intensity(f - g, 0, 255),
        "rescale of a rescale": ia.rescale_intensity(ia.rescale_intensity(i, -1, 1) * f, 0, 1),
    }


LIBRARY = _library_cases()


@pytest.mark.parametrize("name", list(LIBRARY))
@pytest.mark.parametrize("workers", [1, 2])
def test_every_library_node_kind_streams_bit_identically(name, workers):
    from imalgebra.evaluate import evaluate

    expr = LIBRARY[name]
    budget = max(_min_budget(expr, workers), 3000)
    got = Streamed(memory=budget, workers=workers, block_bytes=64).evaluate(expr)
    assert len(Streamed(memory=budget, workers=workers, block_bytes=64).plan(expr).regions) > 1
    assert got.equals(evaluate(expr)), name


@pytest.mark.parametrize("name", ["arithmetic", "strided slicing", "rescale_intensity", "gabor"])
def test_library_nodes_write_streamed_to_every_streaming_format(tmp_path, name):
    expr = LIBRARY[name]
    expected = ia.evaluate(expr)
    for suffix, compress in ((".mha", False), (".nrrd", True), (".nii.gz", True), (".nii", False), (".tif", False)):
        path = tmp_path / f"out{suffix}"
        ia.write(expr, path, compress=compress, evaluator=Streamed(memory="6 KiB", workers=2, block_bytes=256))
        back = ia.read(path)
        assert np.array_equal(ia.to_array(back), ia.to_array(expected)), suffix
        assert back.pixel_type is expected.pixel_type, suffix


def test_statistics_streamed_combine_partials_of_every_region():
    expr = LIBRARY["arithmetic"]
    streamed = ia.statistics(expr, evaluator=Streamed(memory="4 KiB", workers=2, block_bytes=64))
    whole = ia.statistics(expr)
    assert (streamed.minimum, streamed.maximum, streamed.count) == (whole.minimum, whole.maximum, whole.count)
    for field in ("mean", "sum", "variance", "sigma"):
        assert getattr(streamed, field) == pytest.approx(getattr(whole, field), rel=1e-12)


def test_api_md_streamed_write_line_runs_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a = ia.from_array(np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6))
    ia.write(a, "a.mha")
    ia.write(a * 0.5, "b.mha")
    ia.write(ia.open("a.mha") - ia.open("b.mha"), "diff.mha", evaluator=ia.Streamed(memory="64 MiB", progress=True))
    assert ia.read("diff.mha").equals(ia.evaluate(a - a * 0.5))


def test_json_round_trip_of_file_leaves_evaluates_streamed(tmp_path):
    a = ia.from_array(np.arange(60, dtype=np.int16).reshape(3, 4, 5))
    ia.write(a, tmp_path / "a.nrrd")
    expr = ia.open(tmp_path / "a.nrrd") * 3 - 1
    again = ia.from_json(expr.to_json())
    assert again.equals(expr)
    assert Streamed(memory="1 KiB", workers=2, block_bytes=32).evaluate(again).equals(ia.evaluate(a * 3 - 1))


@node
class AddInto(Expr):
    """A voxelwise node whose kernel can write into a given buffer (``compute_into``)."""

    op_name = "t_add_into"
    input_fields = ("left", "right")
    supports_into = True
    left: object
    right: object
    calls: list

    def infer(self):
        return _same(self.left)

    def compute(self, region, left, right):
        self.calls.append("compute")
        return np.add(left, right)

    def compute_into(self, region, out, left, right):
        self.calls.append("into")
        assert not left.flags.writeable and not right.flags.writeable
        np.add(left, right, out=out)


@pytest.mark.parametrize("workers", [1, 2])
def test_kernels_with_compute_into_write_into_the_output_and_reused_buffers(workers):
    calls = []
    f, g = small_float((16, 6, 7), 1), small_float((16, 6, 7), 2)
    inner = AddInto(left=f, right=g, calls=calls)
    expr = AddInto(left=Scale(arg=inner), right=AddInto(left=inner, right=f, calls=calls), calls=calls)
    streamed = Streamed(memory="64 KiB", workers=workers, block_bytes=6 * 7 * 4 * 2)
    want = reference(expr)
    calls.clear()
    got = streamed.evaluate(expr)
    assert np.array_equal(ia.to_array(got), want)
    regions = len(streamed.plan(expr).regions)
    assert regions == 8 and calls.count("compute") == 0 and calls.count("into") == 3 * regions
    calls.clear()
    # written to a file: the root has nowhere to write into, intermediates still use the pool
    WRITERS.clear()
    streamed.write(expr, Path(_FOLDER[0]) / "into.npy", io=NPY)
    assert calls.count("compute") == regions and calls.count("into") == 2 * regions
    assert np.array_equal(np.load(Path(_FOLDER[0]) / "into.npy"), want)


def test_buffer_pool_hands_back_what_it_was_given():
    from imalgebra.evaluate.streamed import BufferPool

    pool = BufferPool()
    first = pool.take((2, 3), np.dtype(np.float32))
    pool.give(first)
    assert pool.take((2, 3), np.dtype(np.float32)) is first
    assert pool.take((2, 3), np.dtype(np.float32)) is not first
