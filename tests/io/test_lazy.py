"""Lazy file leaves: ``ia.open`` reads the header now and just the asked regions later."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

import imalgebra as ia
from imalgebra.algebra.expr import is_node
from imalgebra.io.base import Capabilities, FormatIO, ImageInfo
from imalgebra.io.lazy import FileLeaf
from imalgebra.io.lazy import open as open_lazy


class Counting:
    """A tiny .npy image IO that counts its region reads."""

    def __init__(self, region_read=True, delay=0.0, name="CountingNpyIO"):
        self.calls = []
        self.delay = delay
        self.io = FormatIO(
            name=name,
            extensions=(".npy",),
            sniff=lambda head: head.startswith(b"\x93NUMPY"),
            read_info=self.read_info,
            read_region=self.read_region,
            capabilities=Capabilities(region_read=region_read),
        )

    def read_info(self, path):
        with open(path, "rb") as f:
            np.lib.format.read_magic(f)
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        return ImageInfo(
            geometry=ia.Geometry(size=shape[::-1], spacing=(0.5,) * len(shape)),
            pixel_type=ia.PixelType.from_dtype(dtype),
            metadata={"source": "npy"},
            io="CountingNpyIO",
            path=str(path),
        )

    def read_region(self, path, info, region):
        self.calls.append(region)
        if self.delay:
            time.sleep(self.delay)
        return np.array(np.load(path, mmap_mode="r")[region.slices])


@pytest.fixture
def volume(tmp_path):
    path = tmp_path / "vol.npy"
    pixels = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)
    np.save(path, pixels)
    return path, pixels


def test_open_reads_the_header_only(volume):
    path, pixels = volume
    counting = Counting()
    leaf = open_lazy(path, io=counting.io)
    assert counting.calls == []
    assert isinstance(leaf, FileLeaf) and is_node(leaf)
    assert leaf.size == (6, 5, 4) and leaf.shape == pixels.shape
    assert leaf.pixel_type is ia.PixelType.Int16 and leaf.components == 1
    assert leaf.spacing == (0.5, 0.5, 0.5) and leaf.geometry.size == (6, 5, 4)
    assert leaf.metadata["source"] == "npy"
    assert leaf.inputs == () and leaf.prerequisites() == ()
    assert leaf.nbytes == pixels.nbytes and leaf.dtype == np.int16


def test_a_region_reads_just_that_region_read_only(volume):
    path, pixels = volume
    counting = Counting()
    leaf = open_lazy(path, io=counting.io)
    region = ia.Region(index=(1, 2, 3), size=(4, 2, 1))
    assert leaf.requested_regions(region) == ()
    got = leaf.compute(region)
    assert np.array_equal(got, pixels[3:4, 2:4, 1:5])
    assert not got.flags.writeable
    assert counting.calls == [region]
    # the region (16 bytes) and, for a format without a raw layout, its span in the file (10 pixels)
    assert leaf.region_nbytes(region) == 8 * 2 + 10 * 2 and leaf.fixed_nbytes() == 0


def test_a_region_outside_the_file_is_refused(volume):
    path, _ = volume
    counting = Counting()
    leaf = open_lazy(path, io=counting.io)
    with pytest.raises(ia.GeometryError, match=r"vol\.npy"):
        leaf.compute(ia.Region(index=(5, 0, 0), size=(2, 1, 1)))
    # an empty region reads nothing, wherever it is (a consumer that needs no part of the file)
    assert leaf.compute(ia.Region(index=(9, 0, 0), size=(0, 1, 1))).shape == (1, 1, 0)
    assert counting.calls == []


def test_formats_without_region_reads_are_read_whole_once_by_many_threads(volume):
    path, pixels = volume
    counting = Counting(region_read=False, delay=0.05)
    leaf = open_lazy(path, io=counting.io)
    assert leaf.fixed_nbytes() == pixels.nbytes and leaf.region_nbytes(leaf.geometry.region) == 0
    results = []
    barrier = threading.Barrier(8)

    def read(z):
        barrier.wait()
        results.append((z, leaf.compute(ia.Region(index=(0, 0, z), size=(6, 5, 1)))))

    threads = [threading.Thread(target=read, args=(z % 4,)) for z in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counting.calls == [leaf.geometry.region]
    for z, got in results:
        assert np.array_equal(got, pixels[z : z + 1])


def test_the_key_names_the_file_its_state_and_the_io(volume):
    path, _ = volume
    io = Counting().io
    a, b = open_lazy(path, io=io), open_lazy(str(path), io=io)
    assert a.key == b.key and a.equals(b) and hash(a) == hash(b)
    assert open_lazy(path, io=Counting(name="OtherIO").io).key != a.key
    np.save(path, np.zeros((4, 5, 7), np.int16))  # another size
    assert open_lazy(path, io=io).key != a.key


def test_a_rewritten_file_of_the_same_size_gets_a_new_key(volume):
    path, pixels = volume
    io = Counting().io
    before = open_lazy(path, io=io)
    np.save(path, pixels + 1)
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert open_lazy(path, io=io).key != before.key


def test_paths_are_resolved(volume, monkeypatch):
    path, _ = volume
    monkeypatch.chdir(path.parent)
    leaf = open_lazy("vol.npy", io=Counting().io)
    assert leaf.path == str(path.resolve())
    assert leaf.to_json_leaf() == {"kind": "file", "path": str(path.resolve()), "io": "CountingNpyIO"}
    assert "vol.npy" in repr(leaf) and "vol.npy" in str(leaf)


def test_a_missing_file_names_the_file(tmp_path):
    with pytest.raises(ia.ImageIOError, match=r"nothing\.npy"):
        open_lazy(tmp_path / "nothing.npy", io=Counting().io)


def test_truth_value_is_ambiguous(volume):
    path, _ = volume
    with pytest.raises(TypeError, match="ambiguous"):
        bool(open_lazy(path, io=Counting().io))


def test_leaves_evaluate_like_images(volume):
    from imalgebra.evaluate import evaluate
    from imalgebra.evaluate.streamed import Streamed

    path, pixels = volume
    leaf = open_lazy(path, io=Counting().io)
    expr = leaf - leaf * 2
    assert is_node(expr)
    expected = pixels - pixels * 2
    assert np.array_equal(ia.to_array(evaluate(expr)), expected)
    assert np.array_equal(ia.to_array(Streamed(memory="1 KiB", workers=2, block_bytes=64).evaluate(expr)), expected)
    assert np.array_equal(ia.to_array(leaf.evaluate()), pixels)


def test_region_costs_count_what_raw_and_compressed_readers_allocate(tmp_path):
    img = ia.from_array(np.zeros((8, 16, 32), np.float32))
    ia.write(img, tmp_path / "raw.mha")
    ia.write(img, tmp_path / "zip.mha", compress=True)
    raw, packed = ia.open(tmp_path / "raw.mha"), ia.open(tmp_path / "zip.mha")
    slab = ia.Region(index=(0, 0, 2), size=(32, 16, 3))  # one contiguous run
    rows = ia.Region(index=(0, 4, 2), size=(32, 2, 1))  # one contiguous run too
    box = ia.Region(index=(4, 4, 2), size=(8, 8, 2))  # 16 runs over a span
    assert raw.region_nbytes(slab) == slab.number_of_pixels * 4
    assert raw.region_nbytes(rows) == rows.number_of_pixels * 4
    span = ((2 + 1) * 512 + 11 * 32 + 11) - (2 * 512 + 4 * 32 + 4) + 1
    assert raw.region_nbytes(box) == (box.number_of_pixels + span) * 4
    assert packed.region_nbytes(slab) == 2 * slab.number_of_pixels * 4 + (17 << 20)
