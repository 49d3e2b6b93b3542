"""The planner: regions cover the output once, fit the budget, prefer slabs, honour writer order."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import imalgebra as ia
from imalgebra.algebra.expr import Expr, node
from imalgebra.evaluate.planner import Schedule, format_bytes, parse_memory, plan, simulate


@node
class Twice(Expr):
    op_name = "twice"
    input_fields = ("arg",)
    arg: object

    def infer(self):
        return self.arg.geometry, self.arg.pixel_type, self.arg.components

    def compute(self, region, arg):
        return arg * 2


@node
class Pair(Expr):
    op_name = "pair"
    input_fields = ("left", "right")
    left: object
    right: object

    def infer(self):
        return self.left.geometry, self.left.pixel_type, self.left.components

    def compute(self, region, left, right):
        return left - right


@node
class Decoded(Expr):
    """A leaf whose regions cost memory (like a file read)."""

    op_name = "decoded"
    size: tuple
    pixel_type_: object = ia.PixelType.Float32

    def infer(self):
        return ia.Geometry(size=self.size), self.pixel_type_, 1

    def compute(self, region):
        return np.zeros(region.shape, self.pixel_type.dtype)


@node
class FlipX(Expr):
    op_name = "flip_x"
    input_fields = ("arg",)
    arg: object

    def infer(self):
        return self.arg.geometry, self.arg.pixel_type, self.arg.components

    def requested_regions(self, region):
        index = list(region.index)
        index[0] = self.arg.geometry.size[0] - region.index[0] - region.size[0]
        return (ia.Region(index=index, size=region.size),)

    def compute(self, region, arg):
        return arg[..., ::-1]


def covers_once(regions, full):
    seen = np.zeros(full.shape, np.int32)
    for r in regions:
        assert full.contains(r)
        seen[r.slices] += 1
    return bool((seen == 1).all())


# -- memory strings ----------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("64 MiB", 64 << 20),
        ("2 GB", 2 * 10**9),
        ("2GiB", 2 << 30),
        ("512mb", 512 * 10**6),
        ("1.5 KiB", 1536),
        ("100", 100),
        ("7 B", 7),
        (4096, 4096),
        (1e6, 10**6),
    ],
)
def test_parse_memory_reads_units(text, expected):
    assert parse_memory(text) == expected


@pytest.mark.parametrize("bad", ["", "lots", "64 MiBs", "-1 MiB", "0", "1 XB"])
def test_parse_memory_rejects_nonsense_with_the_units_it_takes(bad):
    with pytest.raises(ValueError, match=r"MiB|positive"):
        parse_memory(bad)


def test_parse_memory_rejects_other_types():
    with pytest.raises(TypeError):
        parse_memory(None)
    with pytest.raises(TypeError):
        parse_memory(True)


def test_format_bytes_is_short():
    assert format_bytes(64 << 20) == "64.0 MiB"
    assert format_bytes(3 << 30) == "3.0 GiB"


# -- what the schedule counts -------------------------------------------------
def test_schedule_counts_inputs_intermediates_output_and_one_scratch():
    leaf = Decoded(size=(10, 10))  # 400 bytes per region of 10x10 float32
    expr = Twice(arg=Twice(arg=leaf))
    steps = Schedule(expr).steps(ia.Region(index=(0, 0), size=(10, 10)))
    assert [s.nbytes for s in steps] == [400, 400, 400]
    # leaf (400) + first Twice (400) + its scratch (400); then the leaf is freed
    peak, largest = simulate(steps)
    assert peak == 1200
    assert largest == 400


def test_in_memory_images_cost_nothing_their_regions_are_views():
    img = ia.Image.zeros((10, 10), ia.PixelType.Float32)
    steps = Schedule(Twice(arg=img)).steps(img.geometry.region)
    assert [s.nbytes for s in steps] == [0, 400]


def test_shared_subtree_is_computed_once_and_freed_after_its_last_consumer():
    leaf = Decoded(size=(4, 4))
    shared = Twice(arg=leaf)
    expr = Pair(left=shared, right=Twice(arg=shared))
    steps = Schedule(expr).steps(ia.Region(index=(0, 0), size=(4, 4)))
    assert len(steps) == 4  # leaf, shared, Twice(shared), Pair
    kinds = [s.node.op_name for s in steps]
    shared_step = next(i for i, s in enumerate(steps) if s.node is shared)
    released_at = [i for i, s in enumerate(steps) if shared_step in s.release]
    assert released_at == [len(steps) - 1], kinds  # freed only after the root, its last consumer


def test_requested_regions_of_several_consumers_merge_into_one_box():
    leaf = Decoded(size=(8, 2))
    expr = Pair(left=leaf, right=FlipX(arg=leaf))
    steps = Schedule(expr).steps(ia.Region(index=(0, 0), size=(3, 2)))
    leaf_step = next(s for s in steps if s.node is leaf)
    # Pair asks x 0..2 directly, FlipX asks x 5..7: the leaf computes x 0..7 once
    assert leaf_step.region == ia.Region(index=(0, 0), size=(8, 2))


# -- plans ---------------------------------------------------------------------
@given(
    size=st.tuples(st.integers(1, 12), st.integers(1, 12), st.integers(1, 12)),
    budget=st.integers(64, 20_000),
    slots=st.integers(1, 3),
    block=st.sampled_from([None, 64, 1000]),
    depth=st.integers(0, 3),
)
def test_plan_covers_the_output_once_and_every_region_fits(size, budget, slots, block, depth):
    expr = Decoded(size=size)
    for _ in range(depth):
        expr = Twice(arg=expr)
    schedule = Schedule(expr)
    try:
        p = plan(expr, budget, slots=slots, block_bytes=block, schedule=schedule)
    except ia.EvaluationError as err:
        # only when not even one pixel fits
        one = ia.Region(index=(0, 0, 0), size=(1, 1, 1))
        assert schedule.peak_bytes(one)[0] * slots > budget, err
        return
    full = expr.geometry.region
    assert covers_once(p.regions, full)
    for r in p.regions:
        assert schedule.peak_bytes(r)[0] * slots <= budget
    assert p.total_bytes <= budget


def test_plan_prefers_slabs_along_the_slowest_axis():
    expr = Twice(arg=Decoded(size=(16, 16, 64)))  # 1 KiB per z-slice and buffer
    p = plan(expr, "12 KiB", block_bytes=None)  # 3 buffers alive: 4 slices per region
    assert {r.size[:2] for r in p.regions} == {(16, 16)}
    assert [r.index[2] for r in p.regions] == list(range(0, 64, 4))
    assert covers_once(p.regions, expr.geometry.region)


def test_plan_cuts_tiles_when_one_slab_does_not_fit():
    expr = Twice(arg=Decoded(size=(16, 16, 4)))
    p = plan(expr, 16 * 4 * 3 * 4, block_bytes=None)  # four rows of one slice
    assert all(r.size == (16, 4, 1) for r in p.regions)
    assert len(p.regions) == 16
    assert covers_once(p.regions, expr.geometry.region)


def test_plan_keeps_blocks_near_the_cache_size():
    expr = Twice(arg=Decoded(size=(256, 256, 64)))  # 256 KiB per slice
    p = plan(expr, "1 GiB", block_bytes=1 << 20)
    assert all(r.size == (256, 256, 4) for r in p.regions)


def test_plan_counts_workers():
    expr = Twice(arg=Decoded(size=(16, 16, 64)))
    one = plan(expr, "48 KiB", slots=1, block_bytes=None)
    two = plan(expr, "48 KiB", slots=2, block_bytes=None)
    assert one.regions[0].size[2] == 2 * two.regions[0].size[2]


def test_slab_order_gives_whole_slabs_in_increasing_order():
    expr = Twice(arg=Decoded(size=(8, 8, 10)))
    p = plan(expr, 8 * 8 * 4 * 3 * 3, order="slabs", block_bytes=16)
    assert all(r.size[:2] == (8, 8) for r in p.regions)
    starts = [r.index[2] for r in p.regions]
    assert starts == sorted(starts)
    assert covers_once(p.regions, expr.geometry.region)


def test_slab_order_says_when_one_slab_does_not_fit():
    expr = Twice(arg=Decoded(size=(64, 64, 4)))
    with pytest.raises(ia.EvaluationError, match=r"one slab.*raise memory to at least 48\.0 KiB.*uncompressed"):
        plan(expr, "10 KiB", order="slabs")


def test_too_small_a_budget_says_how_much_is_needed():
    expr = Twice(arg=Decoded(size=(4, 4)))
    with pytest.raises(ia.EvaluationError, match=r"too small for one pixel.*at least 24 B"):
        plan(expr, 10, slots=2)


def test_position_dependent_costs_split_only_the_regions_that_need_it():
    leaf = Decoded(size=(8, 64))
    p = plan(Pair(left=leaf, right=FlipX(arg=leaf)), 8 * 16 * 4 * 3, block_bytes=None)
    schedule = Schedule(Pair(left=leaf, right=FlipX(arg=leaf)))
    assert covers_once(p.regions, leaf.geometry.region)
    assert all(schedule.peak_bytes(r)[0] <= p.budget for r in p.regions)


def test_plan_rejects_bad_arguments():
    img = ia.Image.zeros((4, 4), ia.PixelType.UInt8)
    with pytest.raises(ValueError, match="order"):
        plan(img, 100, order="tiles")
    with pytest.raises(ValueError, match="slots"):
        plan(img, 100, slots=0)


def test_an_in_memory_image_is_one_region():
    img = ia.Image.zeros((300, 200, 100), ia.PixelType.Float64)
    p = plan(img, "1 KiB")
    assert p.regions == (img.geometry.region,)
    assert math.prod(p.regions[0].size) == img.number_of_pixels
