"""Zarr: exact round trips of every pixel type with geometry and metadata, chunk-only region reads, streamed writes."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import imalgebra as ia
from imalgebra.io import zarr as zio
from imalgebra.io.base import ImageInfo

zarr = pytest.importorskip("zarr")

ALL_TYPES = [p for p in ia.PixelType if p is not ia.PixelType.Unknown]


def read(path: Path) -> tuple[ImageInfo, np.ndarray]:
    info = zio.read_info(path)
    return info, zio.read_region(path, info, info.geometry.region)


def rotation(dimension: int, angle: float) -> tuple[float, ...]:
    m = np.eye(dimension)
    c, s = np.cos(angle), np.sin(angle)
    m[:2, :2] = [[c, -s], [s, c]]
    return tuple(m.ravel())


@st.composite
def images(draw):
    pixel_type = draw(st.sampled_from(ALL_TYPES))
    components = draw(st.integers(1, 4)) if pixel_type.is_vector else 1
    dimension = draw(st.sampled_from([2, 3, 4]))
    size = tuple(draw(st.integers(1, 5)) for _ in range(dimension))
    shape = size[::-1] + ((components,) if pixel_type.is_vector else ())
    if pixel_type.is_label:
        pixels = draw(hnp.arrays(pixel_type.dtype, shape, elements=st.integers(0, 3)))
    else:
        pixels = draw(hnp.arrays(pixel_type.dtype, shape))
    geometry = ia.Geometry(
        size=size,
        origin=tuple(draw(st.floats(-1e3, 1e3)) for _ in range(dimension)),
        spacing=tuple(draw(st.floats(1e-3, 1e3)) for _ in range(dimension)),
        direction=rotation(dimension, draw(st.floats(-3.1, 3.1))),
    )
    metadata = draw(st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=20), max_size=3))
    return ia.Image.from_pixels(pixels, geometry, pixel_type, metadata=metadata)


@settings(max_examples=40)
@given(image=images(), compress=st.booleans())
def test_round_trip_is_exact_for_every_pixel_type(tmp_path_factory, image, compress):
    path = tmp_path_factory.mktemp("z") / "img.zarr"
    zio.write(path, image, compress=compress)
    info, pixels = read(path)
    assert (info.pixel_type, info.components) == (image.pixel_type, image.components)
    assert info.geometry == image.geometry  # bit for bit
    assert info.metadata == image.metadata
    np.testing.assert_array_equal(pixels, np.asarray(image))


def test_through_the_registry(tmp_path):
    image = ia.from_array(np.arange(60, dtype=np.float32).reshape(3, 4, 5)).with_spacing((0.5, 0.7, 2.5))
    path = tmp_path / "vol.zarr"
    ia.write(image, path)
    back = ia.read(path)
    assert back.geometry == image.geometry and back.pixel_type == image.pixel_type
    np.testing.assert_array_equal(np.asarray(back), np.asarray(image))
    part = ia.read(path, index=(1, 1, 1), size=(3, 2, 2))
    np.testing.assert_array_equal(np.asarray(part), np.asarray(image)[1:3, 1:3, 1:4])
    assert part.origin == image.index_to_physical((1, 1, 1))
    assert ia.read_info(path).io == "ZarrImageIO"


@settings(max_examples=25)
@given(data=st.data())
def test_region_read_equals_full_read_sliced(tmp_path_factory, data):
    size = tuple(data.draw(st.integers(1, 9)) for _ in range(3))
    arr = np.arange(int(np.prod(size)), dtype=np.int32).reshape(size[::-1])
    path = tmp_path_factory.mktemp("zr") / "r.zarr"
    zio.write(path, ia.from_array(arr), chunks=(2, 3, 4))
    index = tuple(data.draw(st.integers(0, s - 1)) for s in size)
    extent = tuple(data.draw(st.integers(1, s - i)) for s, i in zip(size, index, strict=True))
    region = ia.Region(index=index, size=extent)
    np.testing.assert_array_equal(zio.read_region(path, zio.read_info(path), region), arr[region.slices])


@pytest.mark.parametrize("compress", [False, True])
def test_region_read_touches_only_its_chunks(tmp_path, compress):
    arr = np.arange(16 * 16 * 16, dtype=np.uint16).reshape(16, 16, 16)
    path = tmp_path / "c.zarr"
    zio.write(path, ia.from_array(arr), compress=compress, chunks=(4, 4, 4))
    region = ia.Region(index=(4, 8, 12), size=(4, 4, 4))  # exactly chunk (z=3, y=2, x=1)
    kept = path / "c" / "3" / "2" / "1"
    chunk_files = [p for p in (path / "c").rglob("*") if p.is_file()]
    assert len(chunk_files) == 64
    for chunk in chunk_files:
        if chunk != kept:
            chunk.write_bytes(b"\0")  # any read of another chunk now fails
    part = zio.read_region(path, zio.read_info(path), region)
    np.testing.assert_array_equal(part, arr[region.slices])
    with pytest.raises(ia.ImageIOError, match="cannot read chunks"):
        zio.read_region(path, zio.read_info(path), ia.Region(index=(0, 0, 0), size=(5, 5, 5)))


def test_foreign_array_without_attributes(tmp_path):
    path = tmp_path / "plain.zarr"
    zarr.create_array(store=str(path), shape=(3, 4), dtype="uint16", fill_value=0)[:] = np.ones((3, 4), np.uint16)
    info, pixels = read(path)
    assert (info.size, info.spacing, info.pixel_type) == ((4, 3), (1.0, 1.0), ia.PixelType.UInt16)
    np.testing.assert_array_equal(pixels, np.ones((3, 4)))
    rgb = tmp_path / "rgb.zarr"
    zarr.create_array(store=str(rgb), shape=(3, 4, 3), dtype="uint8", dimension_names=("y", "x", "c"))
    assert zio.read_info(rgb).components == 3


def test_overwrite_replaces_the_folder_atomically(tmp_path):
    path = tmp_path / "a.zarr"
    zio.write(path, ia.Image.zeros((8, 8), ia.PixelType.UInt8), chunks=(2, 2))
    zio.write(path, ia.Image.zeros((3, 3), ia.PixelType.Float64))
    info, _ = read(path)
    assert (info.size, info.pixel_type) == ((3, 3), ia.PixelType.Float64)
    assert [p.name for p in tmp_path.iterdir()] == ["a.zarr"]


# -- streamed writing --------------------------------------------------------------------


@pytest.mark.parametrize("aligned", [True, False])
def test_streamed_writer_any_order_from_threads(tmp_path, aligned):
    size = (20, 18, 6)
    arr = np.random.default_rng(1).random(size[::-1]).astype(np.float32)
    info = ImageInfo(geometry=ia.Geometry(size=size, spacing=(1, 2, 3)), pixel_type=ia.PixelType.Float32)
    path = tmp_path / "s.zarr"
    writer = zio.open_writer(path, info, chunks=(8, 8, 2))
    assert writer.order == "any" and writer.chunk_size == (8, 8, 2)
    step = (8, 8, 2) if aligned else (7, 5, 4)  # unaligned regions share chunks: per-chunk locks
    regions = [
        ia.Region(index=(x, y, z), size=(min(step[0], 20 - x), min(step[1], 18 - y), min(step[2], 6 - z)))
        for z in range(0, 6, step[2])
        for y in range(0, 18, step[1])
        for x in range(0, 20, step[0])
    ]
    threads = [threading.Thread(target=writer.write, args=(r, arr[r.slices])) for r in reversed(regions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not path.exists()
    writer.commit()
    info_back, pixels = read(path)
    np.testing.assert_array_equal(pixels, arr)
    assert info_back.spacing == (1.0, 2.0, 3.0)


def test_incomplete_or_aborted_stream_leaves_old_target(tmp_path):
    path = tmp_path / "keep.zarr"
    zio.write(path, ia.Image.zeros((2, 2), ia.PixelType.UInt8))
    before = json.loads((path / "zarr.json").read_text())
    info = ImageInfo(geometry=ia.Geometry(size=(4, 4)), pixel_type=ia.PixelType.Int16)
    writer = zio.open_writer(path, info)
    writer.write(ia.Region(index=(0, 0), size=(4, 2)), np.ones((2, 4), np.int16))
    with pytest.raises(ia.ImageIOError, match="only 8 of 16 pixels"):
        writer.commit()
    with pytest.raises(RuntimeError), zio.open_writer(path, info) as w2:  # the writer sees the error: abort
        w2.write(ia.Region(index=(0, 0), size=(4, 4)), np.ones((4, 4), np.int16))
        raise RuntimeError("evaluation failed")
    assert json.loads((path / "zarr.json").read_text()) == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.zarr"]


# -- bad input ------------------------------------------------------------------------------


def test_missing_folder_and_plain_file(tmp_path):
    with pytest.raises(ia.ImageIOError, match="no such"):
        zio.read_info(tmp_path / "none.zarr")
    file = tmp_path / "file.zarr"
    file.write_text("x")
    with pytest.raises(ia.ImageIOError, match="not a Zarr folder"):
        zio.read_info(file)
    empty = tmp_path / "empty.zarr"
    empty.mkdir()
    with pytest.raises(ia.ImageIOError, match="not a readable Zarr array") as err:
        zio.read_info(empty)
    assert str(empty) in str(err.value)


def test_attributes_that_contradict_the_array(tmp_path):
    path = tmp_path / "bad.zarr"
    zio.write(path, ia.Image.zeros((4, 3), ia.PixelType.UInt8))
    meta = json.loads((path / "zarr.json").read_text())
    meta["attributes"]["imalgebra"]["size"] = [5, 3]
    (path / "zarr.json").write_text(json.dumps(meta))
    with pytest.raises(ia.ImageIOError, match="does not match its attributes"):
        zio.read_info(path)
    meta["attributes"]["imalgebra"]["pixel_type"] = "NoSuchType"
    (path / "zarr.json").write_text(json.dumps(meta))
    with pytest.raises(ia.ImageIOError, match="corrupt imalgebra attributes"):
        zio.read_info(path)


def test_sniff_is_false_and_extension_claims():
    assert not zio.sniff(b'{"zarr_format": 3}')
    assert zio.IO.claims("a/b/VOL.ZARR")
