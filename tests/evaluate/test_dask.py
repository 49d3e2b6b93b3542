"""Dask: blocks of ``to_dask`` are evaluated regions; the Dask evaluator matches the eager one."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import imalgebra as ia
from imalgebra.algebra.expr import Expr, node

pytest.importorskip("dask")

from imalgebra.evaluate.dask import DaskEvaluator, chunk_count, to_dask


def _images():
    rng = np.random.default_rng(3)
    f = ia.from_array(rng.normal(5, 2, size=(7, 9, 10)).astype(np.float32), copy=False)
    g = ia.from_array(rng.normal(0, 1, size=(7, 9, 10)).astype(np.float32), copy=False)
    i = ia.from_array(rng.integers(-200, 200, size=(7, 9, 10), dtype=np.int16), copy=False)
    return f, g, i


F, G, N = _images()
CASES = {
    "voxelwise": ia.clamp((F - G) * 0.5 + F, 0, 6),
    "integers": N * N - (N > 0),
    "slicing": (F - G)[::-2, 1::3, 2:6],
    "paste": ia.paste(F, G[2:5, 1:4, 0:2] * 10, destination_index=(4, 5, 3)),
    "vector": ia.compose(F, G) * 2,
    "source": ia.gabor(size=(11, 7, 5), frequency=0.2),
    "rescale": ia.rescale_intensity(F * G, 0, 1),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("chunks", [None, 3, (2, 4, 5), "auto"])
def test_to_dask_blocks_equal_the_eager_image(name, chunks):
    expr = CASES[name]
    arr = to_dask(expr, chunks=chunks)
    expected = ia.to_array(ia.evaluate(expr))
    assert arr.shape == expected.shape and arr.dtype == expected.dtype
    got = arr.compute(scheduler="threads")
    assert np.array_equal(got, expected)


@node
class Counted(Expr):
    op_name = "t_counted"
    input_fields = ("arg",)
    arg: object
    calls: list

    def infer(self):
        return self.arg.geometry, ia.PixelType.Float64, 1

    def compute(self, region, arg):
        self.calls.append(region)
        return arg.astype(np.float64)


def test_to_dask_builds_the_graph_without_computing_anything():
    calls = []
    expr = Counted(arg=F, calls=calls)
    arr = to_dask(expr, chunks=(1, 9, 10))
    assert calls == []
    assert arr.dtype == np.float64 and chunk_count(arr) == 7
    assert float(arr[3].sum().compute()) == pytest.approx(float(ia.to_array(F)[3].astype(np.float64).sum()))
    assert len(calls) == 1  # one block computed for one slab


def test_vector_components_are_one_chunk():
    arr = to_dask(CASES["vector"], chunks=2)
    assert arr.chunks[-1] == (2,)
    assert arr.shape == (7, 9, 10, 2)


def test_default_chunks_are_slabs_along_the_slowest_axis():
    arr = to_dask(CASES["voxelwise"])
    assert arr.chunks[1:] == ((9,), (10,))


@pytest.mark.parametrize("name", ["voxelwise", "slicing", "rescale", "vector"])
def test_dask_evaluator_evaluates_like_eager(name):
    expr = CASES[name]
    assert DaskEvaluator(chunks=3).evaluate(expr).equals(ia.evaluate(expr))


def test_dask_evaluator_reduces_statistics_from_block_partials():
    got = ia.statistics(CASES["voxelwise"], evaluator=DaskEvaluator(chunks=2))
    want = ia.statistics(CASES["voxelwise"])
    assert (got.minimum, got.maximum, got.count) == (want.minimum, want.maximum, want.count)
    assert got.mean == pytest.approx(want.mean, rel=1e-12)
    assert got.sigma == pytest.approx(want.sigma, rel=1e-12)


@pytest.mark.parametrize(("suffix", "compress"), [(".mha", False), (".nrrd", True), (".png", False)])
def test_dask_evaluator_writes_blocks_in_order(tmp_path, suffix, compress):
    expr = CASES["integers"] if suffix != ".png" else ia.cast(ia.clamp(F * 20, 0, 255), ia.PixelType.UInt8)[:, :, 3]
    path = tmp_path / f"out{suffix}"
    ia.write(expr, path, compress=compress, evaluator=DaskEvaluator(chunks=(2, 3, 10) if suffix != ".png" else 4))
    back, expected = ia.read(path), ia.evaluate(expr)
    assert back.pixel_type is expected.pixel_type
    assert np.array_equal(ia.to_array(back), ia.to_array(expected))
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_file_leaves_pickle_and_read_again(tmp_path):
    ia.write(F, tmp_path / "f.mha")
    leaf = ia.open(tmp_path / "f.mha")
    again = pickle.loads(pickle.dumps(leaf))
    assert again.equals(leaf)
    assert np.array_equal(again.compute(again.geometry.region), ia.to_array(F))


@pytest.mark.slow
def test_a_distributed_client_runs_the_graph(tmp_path):
    distributed = pytest.importorskip("distributed")
    ia.write(F, tmp_path / "f.mha")
    # distributed pickles the graph even in-process; every node survives pickling
    expr = ia.sqrt(ia.clamp(ia.open(tmp_path / "f.mha")[::2, 1:, :], 1, 6))
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as client:
        got = DaskEvaluator(client, chunks=2).evaluate(expr)
    assert got.equals(ia.evaluate(expr))


def test_binary_nodes_survive_pickling_for_distributed_workers():
    expr = F * 2 - G
    again = pickle.loads(pickle.dumps(expr))
    assert ia.evaluate(again).equals(ia.evaluate(expr))


def test_dask_tokenizes_nodes_by_their_structural_key():
    from dask.base import tokenize

    big = ia.Image.zeros((256, 256, 64), ia.PixelType.Float32)
    assert tokenize(big) == tokenize(big) != tokenize(ia.Image.zeros((256, 256, 64), ia.PixelType.Float32))
    assert tokenize(big + 1) == tokenize(big + 1) != tokenize(big + 2)
    from imalgebra.algebra.ops.reductions import Sum

    assert tokenize(Sum(arg=big)) == tokenize(Sum(arg=big)) != tokenize(Sum(arg=big + 1))


_CLUSTER_SCRIPT = """
import sys, numpy as np, imalgebra as ia
from distributed import Client, LocalCluster
folder = sys.argv[1]
a = ia.from_array(np.random.default_rng(0).random((16, 32, 32), dtype=np.float32))
ia.write(a, folder + "/a.mha")
ia.write(a * 2, folder + "/b.nii.gz")
diff = (ia.open(folder + "/a.mha") - ia.open(folder + "/b.nii.gz")) * 0.5 + 1
expr = ia.rescale_intensity(ia.clamp(diff, 0, 100), out_min=0, out_max=1)
if __name__ == "__main__":
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      host="127.0.0.1") as cluster, Client(cluster) as client:
        got = ia.DaskEvaluator(client, chunks=(32, 32, 4)).evaluate(expr)
        ia.write(expr, folder + "/out.zarr", evaluator=ia.DaskEvaluator(client))
    print("evaluate", got.equals(ia.evaluate(expr)))
    print("zarr", ia.read(folder + "/out.zarr").equals(ia.evaluate(expr)))
"""


@pytest.mark.slow
def test_a_cluster_of_worker_processes_gives_the_eager_result(tmp_path):
    """File leaves, voxelwise nodes and a two-pass rescale travel to two worker processes on loopback."""
    import subprocess
    import sys

    pytest.importorskip("distributed")
    script = tmp_path / "cluster.py"
    script.write_text(_CLUSTER_SCRIPT)
    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=180, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["evaluate", "True", "zarr", "True"]
