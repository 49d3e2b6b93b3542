"""MetaImage (.mha, .mhd + .raw): interop with SimpleITK both ways, ITK's conventions, region reads that read
only what they need, streamed writes."""

from __future__ import annotations

import importlib.util
import os
import sys
import tracemalloc
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import imalgebra as ia
from imalgebra.io import metaimage


def _load_conformance() -> Any:
    name = "imalgebra_tests_io_conformance"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("conformance.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


conformance = _load_conformance()
counted = conformance.counted  # the fixture counting bytes read by MetaImage and NRRD
PT = ia.PixelType
INTEROP_TYPES = conformance.INTEROP_TYPES
GEOMETRY = conformance.GEOMETRY
_image, _to_sitk, _assert_geometry, _pixels = (
    conformance.sample_image,
    conformance.to_sitk,
    conformance.assert_sitk_geometry,
    conformance.sample_pixels,
)


# -- interop with SimpleITK ----------------------------------------------------------------


@pytest.mark.parametrize("pixel_type", INTEROP_TYPES, ids=lambda t: t.name)
@pytest.mark.parametrize("name", ["a.mha", "a.mhd", "z.mha", "z.mhd"])
def test_simpleitk_reads_what_imalgebra_writes(sitk: Any, tmp_path: Path, pixel_type: ia.PixelType, name: str) -> None:
    image = _image(pixel_type)
    ia.write(image, tmp_path / name, compress=name.startswith("z"))
    s = sitk.ReadImage(str(tmp_path / name))
    _assert_geometry(image, s)
    if pixel_type.is_complex:  # SimpleITK reads a 2-channel MetaImage as a vector, whoever wrote it
        assert s.GetPixelID() == PT.from_dtype(pixel_type.dtype.type(0).real.dtype).vector_type.id
        assert np.array_equal(sitk.GetArrayFromImage(s).view(pixel_type.dtype)[..., 0], np.asarray(image))
    else:
        assert s.GetPixelID() == pixel_type.id
        assert s.GetNumberOfComponentsPerPixel() == image.components
        np.testing.assert_array_equal(sitk.GetArrayFromImage(s), np.asarray(image))
    assert s.GetMetaData("MyKey") == "My Value = 2"
    assert s.GetMetaData("0008|0060") == "CT"


@pytest.mark.parametrize("pixel_type", INTEROP_TYPES, ids=lambda t: t.name)
@pytest.mark.parametrize("name", ["a.mha", "a.mhd", "z.mha", "z.mhd"])
def test_imalgebra_reads_what_simpleitk_writes(sitk: Any, tmp_path: Path, pixel_type: ia.PixelType, name: str) -> None:
    image = _image(pixel_type)
    sitk.WriteImage(_to_sitk(sitk, image), str(tmp_path / name), useCompression=name.startswith("z"))
    back = ia.read(tmp_path / name)
    s = sitk.ReadImage(str(tmp_path / name))
    _assert_geometry(back, s)
    assert back.pixel_type.id == s.GetPixelID()  # complex reads as a 2-component vector in both
    np.testing.assert_array_equal(np.asarray(back), sitk.GetArrayFromImage(s))
    assert back.metadata["MyKey"] == "My Value = 2"
    assert back.metadata["0008|0060"] == "CT"


@pytest.mark.parametrize("pixel_type", [*INTEROP_TYPES, PT.LabelUInt8, PT.LabelUInt64], ids=lambda t: t.name)
def test_round_trip_keeps_every_pixel_type_exactly(tmp_path: Path, pixel_type: ia.PixelType) -> None:
    for components in (1, 2, 4) if pixel_type.is_vector else (1,):
        image = _image(pixel_type, components)
        if pixel_type.is_label:
            image = ia.Image.from_pixels(np.asarray(image) % 7, GEOMETRY, pixel_type, metadata=image.metadata)
        ia.write(image, tmp_path / "t.mha")
        back = ia.read(tmp_path / "t.mha")
        assert (back.pixel_type, back.components) == (pixel_type, components)
        np.testing.assert_array_equal(np.asarray(back), np.asarray(image))
        assert back.geometry == image.geometry
        assert dict(back.metadata) == dict(image.metadata)


def test_labels_and_one_component_vectors_read_as_scalars_in_simpleitk(sitk: Any, tmp_path: Path) -> None:
    labels = ia.Image.from_pixels(np.arange(60, dtype=np.uint16).reshape(3, 4, 5), GEOMETRY, PT.LabelUInt16)
    ia.write(labels, tmp_path / "l.mha")
    s = sitk.ReadImage(str(tmp_path / "l.mha"))
    assert s.GetPixelID() == PT.UInt16.id
    np.testing.assert_array_equal(sitk.GetArrayFromImage(s), np.asarray(labels))
    one = ia.Image.zeros((3, 2), PT.VectorFloat32, components=1)
    ia.write(one, tmp_path / "v.mha")
    assert sitk.ReadImage(str(tmp_path / "v.mha")).GetPixelID() == PT.Float32.id
    assert ia.read(tmp_path / "v.mha").pixel_type is PT.VectorFloat32


@pytest.mark.parametrize("size", [(3, 4, 2, 2), (2, 3, 2, 2, 2)])
def test_4d_and_5d_interop(sitk: Any, tmp_path: Path, size: tuple[int, ...]) -> None:
    d = len(size)
    direction = np.eye(d)[:, [*range(1, d), 0]]
    geometry = ia.Geometry(size=size, origin=range(d), spacing=[0.5 + k for k in range(d)], direction=direction.ravel())
    image = ia.Image.from_pixels(_pixels(PT.Int32, geometry.shape), geometry)
    ia.write(image, tmp_path / "n.mha")
    s = sitk.ReadImage(str(tmp_path / "n.mha"))
    _assert_geometry(image, s)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(s), np.asarray(image))
    sitk.WriteImage(s, str(tmp_path / "s.mha"))
    assert ia.read(tmp_path / "s.mha").geometry.same_space(image.geometry)


# -- the shared test data ----------------------------------------------------------------------


SHARED = [
    "itk_examples/BayesianClassifierInitializerMemberships.mhd",
    "itk_examples/BrainProtonDensity3Slices.mha",
    "itk_examples/BrainProtonDensitySliceBorder20.mhd",
    "itk_examples/BrainProtonDensitySliceShifted13x17yDirectionMinus30.mhd",
    "itk_examples/BrainProtonDensitySliceShifted13x17yDirectionPlus30.mhd",
    "itk_examples/CorpusCallosumMeanShape.mha",
    "itk_examples/ResampleImageFilterInput2x3b.mha",
    "itk_examples/itkBrainSliceComplex.mha",
    "metaimage/mayavi_foot.mha",
]


@pytest.mark.parametrize("name", SHARED)
def test_shared_files_read_as_simpleitk_reads_them(sitk: Any, testdata: Path, name: str) -> None:
    s = sitk.ReadImage(str(testdata / name))
    img = ia.read(testdata / name)
    assert img.pixel_type.id == s.GetPixelID() and img.components == s.GetNumberOfComponentsPerPixel()
    _assert_geometry(img, s)
    np.testing.assert_array_equal(np.asarray(img), sitk.GetArrayFromImage(s))
    info = ia.read_info(testdata / name)
    assert info.geometry == img.geometry and info.io == "MetaImageIO"


def test_transform_matrix_is_the_transposed_direction(testdata: Path) -> None:
    plus = ia.read_info(testdata / "itk_examples/BrainProtonDensitySliceShifted13x17yDirectionPlus30.mhd")
    c, s = np.cos(np.pi / 6), np.sin(np.pi / 6)
    np.testing.assert_allclose(plus.direction, (c, -s, s, c), atol=1e-6)  # header: 0.866 0.5 -0.5 0.866


def test_a_written_header_looks_like_simpleitk_s(tmp_path: Path) -> None:
    ia.write(_image(PT.Int16), tmp_path / "h.mha")
    text = (tmp_path / "h.mha").read_bytes().split(b"ElementDataFile = LOCAL\n")[0].decode()
    assert "TransformMatrix = 0 -1 0 1 0 0 0 0 1\n" in text
    assert "Offset = 1.5 -2 30.25\n" in text and "ElementSpacing = 0.5 0.25 3\n" in text
    assert "AnatomicalOrientation = PRI\n" in text and "ElementType = MET_SHORT\n" in text
    assert "MyKey = My Value = 2\n" in text


# -- header variants written by hand ---------------------------------------------------------


def _header(tmp_path: Path, name: str, lines: list[str], data: bytes = b"", *, local: bool = True) -> Path:
    path = tmp_path / name
    path.write_bytes(("\n".join(lines) + "\n").encode() + (data if local else b""))
    return path


def test_big_endian_ascii_element_size_and_image_position(tmp_path: Path) -> None:
    values = (np.arange(12).reshape(3, 4) * 1000).astype(">i4")
    msb = _header(
        tmp_path,
        "msb.mha",
        [
            "NDims = 2",
            "DimSize = 4 3",
            "ElementByteOrderMSB = True",
            "ElementType = MET_INT",
            "ElementDataFile = LOCAL",
        ],
        values.tobytes(),
    )
    np.testing.assert_array_equal(ia.to_array(ia.read(msb)), values)
    text = _header(
        tmp_path,
        "text.mha",
        ["NDims = 2", "DimSize = 4 3", "BinaryData = False", "ElementSize = 2 3", "ImagePosition = 5 6",
         "Offset = 1 1", "ElementType = MET_FLOAT", "ElementDataFile = LOCAL"],
        " ".join(str(v / 4) for v in range(12)).encode(),
    )  # fmt: skip
    img = ia.read(text)
    assert img.spacing == (2.0, 3.0) and img.origin == (5.0, 6.0)
    np.testing.assert_array_equal(ia.to_array(img), np.arange(12).reshape(3, 4) / 4)


def test_negative_spacing_flips_the_direction_as_itk(sitk: Any, tmp_path: Path) -> None:
    path = _header(
        tmp_path,
        "neg.mha",
        ["NDims = 2", "DimSize = 2 2", "ElementSpacing = -2 1", "ElementType = MET_UCHAR", "ElementDataFile = LOCAL"],
        bytes(4),
    )
    s = sitk.ReadImage(str(path))
    img = ia.read(path)
    _assert_geometry(img, s)
    assert img.direction == (-1.0, 0.0, 0.0, 1.0)


def test_header_size_minus_one_reads_the_data_at_the_end(tmp_path: Path) -> None:
    (tmp_path / "d.raw").write_bytes(b"JUNKJUNK" + bytes(range(6)))
    path = _header(
        tmp_path,
        "e.mhd",
        ["NDims = 2", "DimSize = 3 2", "HeaderSize = -1", "ElementType = MET_UCHAR", "ElementDataFile = d.raw"],
    )
    assert ia.to_array(ia.read(path)).ravel().tolist() == list(range(6))


def test_element_data_file_list_and_pattern(tmp_path: Path) -> None:
    vol = np.arange(2 * 3 * 4, dtype=np.int16).reshape(2, 3, 4)
    for k in range(2):
        vol[k].tofile(tmp_path / f"slice{k + 1:02d}.raw")
    listing = "\n".join(["NDims = 3", "DimSize = 4 3 2", "ElementType = MET_SHORT", "ElementDataFile = LIST 2D"])
    (tmp_path / "l.mhd").write_text(listing + "\nslice01.raw\nslice02.raw\n")
    pattern = _header(
        tmp_path,
        "p.mhd",
        ["NDims = 3", "DimSize = 4 3 2", "ElementType = MET_SHORT", "ElementDataFile = slice%02d.raw 1 2 1"],
    )
    for path in (tmp_path / "l.mhd", pattern):
        np.testing.assert_array_equal(ia.to_array(ia.read(path)), vol)
        part = ia.read(path, index=(1, 1, 1), size=(2, 2, 1))
        np.testing.assert_array_equal(ia.to_array(part), vol[1:2, 1:3, 1:3])


def test_a_gzipped_data_file_is_found_as_metaio_does(tmp_path: Path) -> None:
    import gzip

    (tmp_path / "g.raw.gz").write_bytes(gzip.compress(bytes(range(6))))
    path = _header(
        tmp_path, "g.mhd", ["NDims = 2", "DimSize = 3 2", "ElementType = MET_UCHAR", "ElementDataFile = g.raw"]
    )
    assert ia.to_array(ia.read(path)).ravel().tolist() == list(range(6))


@pytest.mark.parametrize("name", ["../outside.raw", "/tmp/outside.raw", "sub/../../outside.raw"])
def test_data_files_outside_the_header_folder_need_allow_outside(tmp_path: Path, name: str) -> None:
    inner = tmp_path / "inner"
    inner.mkdir()
    data = tmp_path / "outside.raw" if not name.startswith("/") else Path(name)
    data.write_bytes(bytes(range(6)))
    try:
        path = _header(
            inner, "x.mhd", ["NDims = 2", "DimSize = 3 2", "ElementType = MET_UCHAR", f"ElementDataFile = {name}"]
        )
        with pytest.raises(ia.ImageIOError, match=r"outside the header's folder.*allow_outside=True"):
            ia.read(path)
        with pytest.raises(ia.ImageIOError, match="outside"):
            ia.read_info(path)
        assert ia.to_array(ia.read(path, allow_outside=True)).ravel().tolist() == list(range(6))
    finally:
        if name.startswith("/"):
            data.unlink()


def test_metadata_that_a_header_cannot_hold_is_refused_before_writing(tmp_path: Path) -> None:
    img = ia.Image.zeros((2, 2), PT.UInt8)
    for bad in ({"a=b": "x"}, {"k": "two\nlines"}, {" padded": "x"}):
        with pytest.raises(ia.ImageIOError, match="metadata"):
            ia.write(img.with_metadata(bad), tmp_path / "m.mha")
    assert list(tmp_path.iterdir()) == []
    ia.write(img.with_metadata({"NDims": "7", "ElementSpacing": "9 9"}), tmp_path / "r.mha")  # fields: not written
    assert ia.read(tmp_path / "r.mha").dimension == 2


def test_upper_case_extensions_are_honoured(tmp_path: Path) -> None:
    img = ia.Image.zeros((2, 2), PT.UInt8)
    ia.write(img, tmp_path / "A.MHA")
    ia.write(img, tmp_path / "B.MHD")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["A.MHA", "B.MHD", "B.raw"]
    assert b"ElementDataFile = LOCAL" in (tmp_path / "A.MHA").read_bytes()


# -- region reads ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["r.mha", "r.mhd", "z.mha"])
def test_region_read_equals_full_read_sliced_with_cropped_geometry(tmp_path: Path, name: str) -> None:
    image = _image(PT.VectorInt16, components=2, geometry=GEOMETRY.with_size((9, 8, 7)))
    ia.write(image, tmp_path / name, compress=name.startswith("z"))
    rng = np.random.default_rng(0)
    for _ in range(30):
        index = tuple(int(rng.integers(0, s)) for s in image.size)
        size = tuple(int(rng.integers(1, s - i + 1)) for s, i in zip(image.size, index, strict=True))
        part = ia.read(tmp_path / name, index=index, size=size)
        region = ia.Region(index=index, size=size)
        np.testing.assert_array_equal(np.asarray(part), np.asarray(image)[region.slices])
        assert part.geometry == image.geometry.crop(region)


def test_a_region_read_reads_only_the_bytes_it_needs(tmp_path: Path, counted: list[int]) -> None:
    vol = ia.from_array(np.arange(128**3, dtype=np.int16).reshape(128, 128, 128))
    ia.write(vol, tmp_path / "v.mha")
    size = (tmp_path / "v.mha").stat().st_size
    counted[0] = 0
    info = ia.read_info(tmp_path / "v.mha")
    header = counted[0]
    assert header < 2048, f"read_info read {header} bytes"
    counted[0] = 0
    part = ia.read(tmp_path / "v.mha", index=(32, 40, 50), size=(32, 32, 32))
    assert np.array_equal(ia.to_array(part), ia.to_array(vol)[50:82, 40:72, 32:64])
    assert counted[0] < size / 16, f"a 32^3 region read {counted[0]} of {size} bytes"
    assert info.size == (128, 128, 128)


def test_a_region_of_a_64_gib_file_reads_in_kilobytes_of_memory(tmp_path: Path, counted: list[int]) -> None:
    side = 4096
    raw = tmp_path / "huge.raw"
    with open(raw, "wb") as f:
        f.truncate(side**3)  # a sparse 64 GiB file: no disk used
        for x, y, z, value in [(1000, 2000, 3000, 7), (1015, 2010, 3012, 9)]:
            f.seek(x + side * (y + side * z))
            f.write(bytes([value]))
    header = _header(
        tmp_path, "huge.mhd", ["NDims = 3", f"DimSize = {side} {side} {side}", "ElementType = MET_UCHAR",
                               "ElementDataFile = huge.raw"]
    )  # fmt: skip
    tracemalloc.start()
    try:
        part = ia.read(header, index=(1000, 2000, 3000), size=(16, 16, 16))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    arr = ia.to_array(part)
    assert arr[0, 0, 0] == 7 and arr[12, 10, 15] == 9 and arr.sum() == 16
    assert peak < 4 * 2**20, f"peak memory {peak} bytes"
    assert counted[0] < 8 * 2**20, f"read {counted[0]} bytes of a {side**3}-byte file"


def test_compressed_region_reads_stop_decoding_after_the_region(tmp_path: Path, counted: list[int]) -> None:
    rng = np.random.default_rng(1)
    vol = ia.from_array(rng.integers(0, 1000, (96, 96, 96), dtype=np.int16))
    ia.write(vol, tmp_path / "c.mha", compress=True)
    size = (tmp_path / "c.mha").stat().st_size
    counted[0] = 0
    part = ia.read(tmp_path / "c.mha", index=(0, 0, 2), size=(96, 96, 4))
    assert np.array_equal(ia.to_array(part), ia.to_array(vol)[2:6])
    assert counted[0] < size / 4


# -- streamed writing -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["s.mha", "s.mhd"])
def test_streamed_raw_writes_accept_regions_in_any_order(tmp_path: Path, name: str) -> None:
    image = _image(PT.VectorFloat32, components=2, geometry=GEOMETRY.with_size((6, 5, 4)))
    writer = metaimage.open_writer(tmp_path / name, conformance.info_of(image))
    assert writer.order == "any"
    boxes = [ia.Region(index=(x, y, z), size=(3, 5, 2)) for z in (2, 0) for x in (3, 0) for y in (0,)]
    for box in boxes:
        writer.write(box, np.asarray(image)[box.slices])
    assert not (tmp_path / name).exists()
    writer.commit()
    back = ia.read(tmp_path / name)
    np.testing.assert_array_equal(np.asarray(back), np.asarray(image))
    assert back.geometry == image.geometry


def test_streamed_compressed_writes_need_slabs_in_order(tmp_path: Path) -> None:
    image = _image(PT.Int16, geometry=GEOMETRY.with_size((6, 5, 4)))
    writer = metaimage.open_writer(tmp_path / "c.mha", conformance.info_of(image), compress=True)
    assert writer.order == "slabs"
    with pytest.raises(ia.ImageIOError, match="in order"):
        writer.write(ia.Region(index=(0, 0, 2), size=(6, 5, 2)), np.asarray(image)[2:])
    with pytest.raises(ia.ImageIOError, match="whole slabs"):
        writer.write(ia.Region(index=(0, 0, 0), size=(3, 5, 2)), np.asarray(image)[:2, :, :3])
    for z in range(4):
        writer.write(ia.Region(index=(0, 0, z), size=(6, 5, 1)), np.asarray(image)[z : z + 1])
    writer.commit()
    np.testing.assert_array_equal(np.asarray(ia.read(tmp_path / "c.mha")), np.asarray(image))
    raw = (tmp_path / "c.mha").read_bytes()
    head, data = raw.split(b"ElementDataFile = LOCAL\n")
    size = int(head.split(b"CompressedDataSize = ")[1].split(b"\n")[0])
    assert size == len(data) and zlib.decompress(data) == np.asarray(image).astype("<i2").tobytes()


def test_an_aborted_streamed_write_leaves_nothing(tmp_path: Path) -> None:
    image = _image(PT.UInt8, geometry=GEOMETRY.with_size((6, 5, 4)))
    (tmp_path / "keep.mhd").write_text("old header")
    with (
        pytest.raises(RuntimeError),
        metaimage.open_writer(tmp_path / "keep.mhd", conformance.info_of(image)) as writer,
    ):
        writer.write(ia.Region(index=(0, 0, 0), size=(6, 5, 1)), np.asarray(image)[:1])
        raise RuntimeError("evaluation failed")
    assert sorted(os.listdir(tmp_path)) == ["keep.mhd"]
    assert (tmp_path / "keep.mhd").read_text() == "old header"
    incomplete = metaimage.open_writer(tmp_path / "c.mha", conformance.info_of(image), compress=True)
    incomplete.write(ia.Region(index=(0, 0, 0), size=(6, 5, 1)), np.asarray(image)[:1])
    with pytest.raises(ia.ImageIOError, match="only 1 of 4 slabs"):
        incomplete.commit()
    assert sorted(os.listdir(tmp_path)) == ["keep.mhd"]
