"""The in-memory evaluator: regions, fusion, shared subtrees, prerequisites, errors, laws."""

from __future__ import annotations

import weakref
from typing import Any, ClassVar

import attrs
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import imalgebra as ia
from imalgebra import PixelType as P
from imalgebra.algebra.expr import Expr, Reduction, node
from imalgebra.algebra.operand import Operand
from imalgebra.evaluate.eager import Eager, evaluate_region


def image(arr, **kw):
    return ia.from_array(np.asarray(arr), **kw)


# -- helper nodes ------------------------------------------------------------------
CALLS: list[Any] = []


@node
class Counting(Expr):
    """Identity that records each region it computes."""

    op_name = "counting"
    input_fields = ("arg",)
    voxelwise: ClassVar[bool] = True
    arg: Any
    tag: str = ""

    def infer(self):
        return self.arg.geometry, self.arg.pixel_type, self.arg.components

    def compute(self, region, arg):
        CALLS.append((self.tag, region))
        return arg


@node
class Exploding(Expr):
    op_name = "exploding"
    input_fields = ("arg",)
    arg: Any

    def infer(self):
        return self.arg.geometry, self.arg.pixel_type, self.arg.components

    def compute(self, region, arg):
        raise ZeroDivisionError("boom")


@node
class WrongDtype(Expr):
    op_name = "wrong_dtype"
    input_fields = ("arg",)
    arg: Any

    def infer(self):
        return self.arg.geometry, P.Float32, 1

    def compute(self, region, arg):
        return arg.astype(np.float64)


@node
class ShiftX(Expr):
    """Not voxelwise: output pixel x is input pixel x + 1 (one pixel narrower)."""

    op_name = "shift_x"
    input_fields = ("arg",)
    arg: Any

    def infer(self):
        g = self.arg.geometry
        size = (g.size[0] - 1, *g.size[1:])
        return g.crop(ia.Region(index=(1,) + (0,) * (g.dimension - 1), size=size)), self.arg.pixel_type, 1

    def requested_regions(self, region):
        return (region.shift((1,) + (0,) * (region.dimension - 1)),)

    def compute(self, region, arg):
        return arg


@node
class Maximum(Reduction):
    op_name = "max_value"
    arg: Any

    def partial(self, region, array):
        return array.max()

    def combine(self, partials):
        return max(partials)


@node
class DivideByMax(Expr):
    """Needs the global maximum first (like rescale_intensity)."""

    op_name = "divide_by_max"
    input_fields = ("arg",)
    arg: Any

    def infer(self):
        return self.arg.geometry, P.Float64, 1

    def prerequisites(self):
        return (Maximum(arg=self.arg),)

    def bind(self, values):
        return self.arg / float(values[0])


@attrs.frozen(eq=False)
class TrapLeaf(Operand):
    """A leaf following the protocol whose pixels must never be read."""

    geometry: ia.Geometry
    pixel_type: P = P.Float32
    components: int = 1
    key: str = "trap-leaf"
    inputs: tuple = ()

    def requested_regions(self, region):
        return ()

    def compute(self, region):
        raise AssertionError("construction must not read pixels")

    def prerequisites(self):
        return ()

    def __hash__(self):
        return hash(self.key)


# -- random expressions ---------------------------------------------------------------
def _unary(e, choice):
    ops = [
        lambda x: -x,
        lambda x: abs(x),
        lambda x: x * 3,
        lambda x: 7 - x,
        lambda x: ia.clamp(x, -50, 50),
        lambda x: ia.cast(x, P.Float32) * 0.5,
        lambda x: ia.where(x > 0, x, 1),
        lambda x: ia.sqrt(ia.abs(x)),
        lambda x: x // 3,
    ]
    return ops[choice % len(ops)](e)


BINARY_OPS = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "min": ia.minimum,
    "max": ia.maximum,
    "<": lambda a, b: a < b,
}


@st.composite
def expressions(draw, n_leaves=3):
    shape = draw(hnp.array_shapes(min_dims=2, max_dims=3, min_side=2, max_side=7))
    dtype = draw(st.sampled_from([np.int16, np.float32, np.uint8]))
    leaves = [
        ia.from_array(draw(hnp.arrays(dtype, shape, elements=st.integers(-20, 20) if dtype != np.uint8 else None)))
        for _ in range(n_leaves)
    ]
    exprs: list[Any] = list(leaves)
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.integers(0, 2))
        a = exprs[draw(st.integers(0, len(exprs) - 1))]
        if kind == 0:
            exprs.append(_unary(a, draw(st.integers(0, 20))))
        else:
            b = exprs[draw(st.integers(0, len(exprs) - 1))]
            op = draw(st.sampled_from(["+", "-", "*", "min", "max", "<"]))
            if a.pixel_type != b.pixel_type and op in ("+", "-", "*"):
                b = ia.cast(b, a.pixel_type)
            exprs.append(BINARY_OPS[op](a, b))
    root = exprs[-1]
    if isinstance(root, ia.Image):
        root = root + 1
    if draw(st.booleans()):
        root = ShiftX(arg=root) * 2  # a non-voxelwise node inside
    return root


@st.composite
def regions(draw, size):
    index = tuple(draw(st.integers(0, s - 1)) for s in size)
    extent = tuple(draw(st.integers(1, s - i)) for s, i in zip(size, index, strict=True))
    return ia.Region(index=index, size=extent)


# -- tests ---------------------------------------------------------------------------------
@given(data=st.data())
def test_any_region_equals_that_region_of_the_whole(data):
    e = data.draw(expressions())
    whole = ia.to_array(ia.evaluate(e))
    region = data.draw(regions(e.geometry.size))
    part = evaluate_region(e, region)
    np.testing.assert_array_equal(part, whole[region.slices])


@given(data=st.data(), block_bytes=st.sampled_from([1, 16, 64, 200]))
def test_fused_blocks_are_bit_identical_to_whole_arrays(data, block_bytes):
    e = data.draw(expressions())
    expected = np.asarray(Eager(block_bytes=0).evaluate(e))
    got = np.asarray(Eager(block_bytes=block_bytes).evaluate(e))
    np.testing.assert_array_equal(got, expected)
    assert got.dtype == expected.dtype


def test_construction_never_evaluates():
    leaf = TrapLeaf(ia.Geometry(size=(4, 4)))
    e = ia.clamp((leaf - leaf) * 0.5 + leaf, 0, 100)
    e = ia.where(e > 3, ia.exp(e), ia.cast(e, P.Float32)) // 2
    assert e.pixel_type is P.Float32 and e.geometry.size == (4, 4)
    with pytest.raises(ia.EvaluationError, match="construction must not read pixels"):
        ia.evaluate(e)


def test_equal_subtrees_are_computed_once():
    CALLS.clear()
    a = image(np.arange(12, dtype=np.int16).reshape(3, 4))
    shared = Counting(arg=a, tag="s")
    twin = Counting(arg=a, tag="s")  # another object, the same structure
    e = (shared + twin) * shared - twin
    out = ia.evaluate(e)
    assert [c[0] for c in CALLS] == ["s"]
    x = np.arange(12, dtype=np.int16).reshape(3, 4)
    assert ia.to_array(out).tolist() == ((x + x) * x - x).tolist()


def test_intermediates_are_freed_after_their_last_consumer():
    seen: dict[str, Any] = {}

    @node
    class Record(Expr):
        op_name = "record"
        input_fields = ("arg",)
        arg: Any

        def infer(self):
            return self.arg.geometry, P.Float64, 1

        def compute(self, region, arg):
            out = arg.astype(np.float64)
            seen["ref"] = weakref.ref(out)
            return out

    @node
    class Check(Expr):
        op_name = "check"
        input_fields = ("arg",)
        arg: Any

        def infer(self):
            return self.arg.geometry, self.arg.pixel_type, 1

        def compute(self, region, arg):
            seen["alive"] = seen["ref"]() is not None
            return arg

    a = image(np.ones((64, 64), np.float32))
    ia.evaluate(Check(arg=Record(arg=a) + 1))
    assert seen["alive"] is False


def test_prerequisites_are_reduced_first():
    a = image(np.array([[1.0, 2.0], [4.0, 8.0]]))
    e = DivideByMax(arg=a) + 1
    assert ia.to_array(ia.evaluate(e)).tolist() == [[1.125, 1.25], [1.5, 2.0]]
    assert evaluate_region(e, ia.Region(index=(1, 1), size=(1, 1))).tolist() == [[2.0]]
    assert Eager().reduce(Maximum(arg=a * 2)) == 16.0


def test_kernel_errors_name_the_node_and_chain_the_cause():
    a = image(np.ones((2, 3), np.float32))
    with pytest.raises(ia.EvaluationError) as info:
        ia.evaluate(Exploding(arg=a + 1) * 2)
    text = str(info.value)
    assert "'exploding'" in text and "ZeroDivisionError: boom" in text
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    with pytest.raises(ia.EvaluationError, match="bug in that node's compute"):
        ia.evaluate(WrongDtype(arg=a))


def test_pixel_access_computes_only_that_pixel():
    CALLS.clear()
    a = image(np.arange(20, dtype=np.int32).reshape(4, 5))
    e = Counting(arg=a, tag="p") * 10
    assert e[3, 2] == 130
    assert e[-1, -1] == 190
    assert [c[1].size for c in CALLS] == [(1, 1), (1, 1)]
    v = ia.from_array(np.arange(6, dtype=np.float32).reshape(1, 2, 3), is_vector=True)
    assert (v + 1)[1, 0] == (4.0, 5.0, 6.0)
    with pytest.raises(ia.ImageIndexError):
        e[5, 0]


def test_images_evaluate_to_themselves_and_other_things_are_refused():
    a = image(np.ones((2, 2)))
    assert ia.evaluate(a) is a
    with pytest.raises(TypeError, match="expected an image"):
        ia.evaluate(3)


def test_results_are_read_only_images_with_the_expression_geometry():
    a = ia.Image.zeros((3, 2), P.Int16, spacing=(0.5, 2.0), origin=(1.0, 2.0))
    out = ia.evaluate(a + 1)
    assert out.geometry == a.geometry and out.pixel_type is P.Int16 and len(out.metadata) == 0
    with pytest.raises(ValueError):
        np.asarray(out)[0, 0] = 5
    assert out.key != ia.evaluate(a + 1).key


def test_label_results_are_label_images():
    a = image(np.array([[0, 2], [2, 5]], np.int16))
    labels = ia.evaluate(ia.cast(a, P.LabelUInt8))
    assert labels.pixel_type is P.LabelUInt8
    assert ia.to_array(labels).tolist() == [[0, 2], [2, 5]]


def test_non_voxelwise_nodes_pull_shifted_regions():
    a = image(np.arange(12, dtype=np.int16).reshape(3, 4))
    e = ShiftX(arg=a * 2) + 1
    assert e.geometry.size == (3, 3)
    expected = (np.arange(12).reshape(3, 4) * 2 + 1)[:, 1:]
    assert ia.to_array(ia.evaluate(e)).tolist() == expected.tolist()
    assert ia.to_array(Eager(block_bytes=4).evaluate(e)).tolist() == expected.tolist()


# -- laws (wrap-around integer arithmetic) -----------------------------------------------------
ints = st.sampled_from([np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64])


@st.composite
def three(draw):
    dtype = draw(ints)
    shape = draw(hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=4))
    return [ia.from_array(draw(hnp.arrays(dtype, shape))) for _ in range(3)]


def same(x, y):
    return np.array_equal(np.asarray(ia.evaluate(x)), np.asarray(ia.evaluate(y)))


@given(three())
def test_integer_addition_and_multiplication_commute_and_associate_with_wrap_around(abc):
    a, b, c = abc
    assert same(a + b, b + a) and same(a * b, b * a)
    assert same((a + b) + c, a + (b + c)) and same((a * b) * c, a * (b * c))
    assert same(a * (b + c), a * b + a * c)


@given(three())
def test_x_minus_x_is_zero_and_where_of_equal_branches_is_the_branch(abc):
    a, b, _ = abc
    zero = ia.evaluate(a - a)
    assert not np.asarray(zero).any() and zero.pixel_type is a.pixel_type
    assert same(ia.where(b > 0, a, a), a + 0)


def test_a_kernel_returning_a_view_of_a_scratch_input_is_never_overwritten():
    x = np.arange(4096, dtype=np.float32).reshape(64, 64)
    a = ia.from_array(x)
    t1 = a - 1  # written into a scratch buffer
    t2 = Counting(arg=t1, tag="view")  # returns its input: a view of t1's buffer
    t3 = t1 * 2  # t1's last use: may be computed in place, but t2 aliases it
    e = t2 + t3
    for block_bytes in (0, 256, 4096):
        got = ia.to_array(Eager(block_bytes=block_bytes).evaluate(e))
        np.testing.assert_array_equal(got, (x - 1) + (x - 1) * 2)


def test_writing_an_expression_with_the_eager_evaluator(tmp_path):
    a = image(np.arange(12, dtype=np.int16).reshape(3, 4))
    path = tmp_path / "out.mha"
    ia.write(a * 2, path, evaluator=Eager())
    assert ia.to_array(ia.read(path)).tolist() == (np.arange(12).reshape(3, 4) * 2).tolist()
    ia.write(a, tmp_path / "same.nrrd", evaluator=Eager())  # an image with an evaluator: written as it is
    assert ia.to_array(ia.read(tmp_path / "same.nrrd")).tolist() == ia.to_array(a).tolist()


def test_evaluate_region_reduces_prerequisites_with_another_evaluator():
    a = image(np.array([[1.0, 2.0], [4.0, 8.0]]))
    e = DivideByMax(arg=a)
    streamed = ia.Streamed(memory="1 MiB")
    assert evaluate_region(e, ia.Region(index=(0, 1), size=(2, 1)), streamed).tolist() == [[0.5, 1.0]]
