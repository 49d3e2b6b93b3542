"""NRRD (.nrrd, .nhdr): interop with SimpleITK both ways, teem's encodings and layouts, LPS/RAS, region reads."""

from __future__ import annotations

import bz2
import gzip
import importlib.util
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import imalgebra as ia
from imalgebra.io import nrrd


def _load_conformance() -> Any:
    name = "imalgebra_tests_io_conformance"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("conformance.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


helpers = _load_conformance()  # shared: sample images, SimpleITK conversion, the byte counter
counted = helpers.counted
PT = ia.PixelType
INTEROP_TYPES = helpers.INTEROP_TYPES
GEOMETRY = helpers.GEOMETRY


@pytest.mark.parametrize("pixel_type", INTEROP_TYPES, ids=lambda t: t.name)
@pytest.mark.parametrize("name", ["a.nrrd", "a.nhdr", "z.nrrd", "z.nhdr"])
def test_simpleitk_reads_what_imalgebra_writes(sitk: Any, tmp_path: Path, pixel_type: ia.PixelType, name: str) -> None:
    image = helpers.sample_image(pixel_type)
    ia.write(image, tmp_path / name, compress=name.startswith("z"))
    s = sitk.ReadImage(str(tmp_path / name))
    helpers.assert_sitk_geometry(image, s)
    assert s.GetPixelID() == pixel_type.id
    assert s.GetNumberOfComponentsPerPixel() == image.components
    np.testing.assert_array_equal(sitk.GetArrayFromImage(s), np.asarray(image))
    assert s.GetMetaData("MyKey") == "My Value = 2"
    assert s.GetMetaData("0008|0060") == "CT"


@pytest.mark.parametrize("pixel_type", INTEROP_TYPES, ids=lambda t: t.name)
@pytest.mark.parametrize("name", ["a.nrrd", "a.nhdr", "z.nrrd", "z.nhdr"])
def test_imalgebra_reads_what_simpleitk_writes(sitk: Any, tmp_path: Path, pixel_type: ia.PixelType, name: str) -> None:
    image = helpers.sample_image(pixel_type)
    sitk.WriteImage(helpers.to_sitk(sitk, image), str(tmp_path / name), useCompression=name.startswith("z"))
    back = ia.read(tmp_path / name)
    s = sitk.ReadImage(str(tmp_path / name))
    helpers.assert_sitk_geometry(back, s)
    assert back.pixel_type.id == s.GetPixelID() == pixel_type.id
    np.testing.assert_array_equal(np.asarray(back), np.asarray(image))
    assert back.metadata["MyKey"] == "My Value = 2"
    assert back.metadata["0008|0060"] == "CT"


def test_labels_round_trip_here_and_read_as_unsigned_in_simpleitk(sitk: Any, tmp_path: Path) -> None:
    labels = ia.Image.from_pixels(np.arange(60, dtype=np.uint8).reshape(3, 4, 5) % 5, GEOMETRY, PT.LabelUInt8)
    ia.write(labels, tmp_path / "l.nrrd")
    assert ia.read(tmp_path / "l.nrrd").pixel_type is PT.LabelUInt8
    s = sitk.ReadImage(str(tmp_path / "l.nrrd"))
    assert s.GetPixelID() == PT.UInt8.id
    np.testing.assert_array_equal(sitk.GetArrayFromImage(s), np.asarray(labels))


def test_metadata_escapes_line_breaks_and_backslashes_as_itk(sitk: Any, tmp_path: Path) -> None:
    image = ia.Image.zeros((2, 2), PT.UInt8).with_metadata({"note": "two\nlines \\ and more", "k": ""})
    ia.write(image, tmp_path / "m.nrrd")
    assert sitk.ReadImage(str(tmp_path / "m.nrrd")).GetMetaData("note") == "two\nlines \\ and more"
    assert dict(ia.read(tmp_path / "m.nrrd").metadata) == dict(image.metadata)
    with pytest.raises(ia.ImageIOError, match="metadata key"):
        ia.write(image.with_metadata({"a:=b": "x"}), tmp_path / "bad.nrrd")


# -- shared test data -----------------------------------------------------------------------

SHARED = [
    "itk_examples/BrainProtonDensitySliceBorder20.nhdr",
    "itk_examples/BrainProtonDensitySliceShifted13x17yDirectionPlus30.nhdr",
    "nrrd/nrrdjs_example1.nrrd",
    "nrrd/nrrdjs_example2.nrrd",
    "nrrd/nrrdjs_example3.nrrd",
]


@pytest.mark.parametrize("name", SHARED)
def test_shared_files_read_as_simpleitk_reads_them(sitk: Any, testdata: Path, name: str) -> None:
    s = sitk.ReadImage(str(testdata / name))
    img = ia.read(testdata / name)
    assert img.pixel_type.id == s.GetPixelID() and img.components == s.GetNumberOfComponentsPerPixel()
    helpers.assert_sitk_geometry(img, s)
    np.testing.assert_array_equal(np.asarray(img), sitk.GetArrayFromImage(s))


def test_a_4d_ras_file_with_a_none_direction_reads_where_itk_refuses(testdata: Path) -> None:
    img = ia.read(testdata / "nrrd/nrrdjs_example4.nrrd")  # ITK: "doesn't match dimension of space"
    assert img.size == (4, 3, 2, 2)
    assert img.origin == (-1.0, -2.0, 3.0, 0.0)  # RAS (1, 2, 3) in LPS
    assert img.spacing == (1.0, 0.5, 0.3, 1.0)
    np.testing.assert_array_equal(img.geometry.direction_matrix, np.diag([-1.0, -1.0, 1.0, 1.0]))
    assert ia.to_array(img).ravel().tolist() == list(range(1, 25)) * 2


# -- headers written by hand ------------------------------------------------------------------


def _nrrd(path: Path, fields: list[str], data: bytes = b"") -> Path:
    path.write_bytes(("\n".join(["NRRD0005", *fields]) + "\n\n").encode() + data)
    return path


VALUES = np.arange(24, dtype=np.int16).reshape(2, 3, 4) * 3 - 20
BASE = ["type: short", "dimension: 3", "sizes: 4 3 2"]


@pytest.mark.parametrize(
    ("encoding", "data"),
    [
        ("raw", VALUES.astype("<i2").tobytes()),
        ("gzip", gzip.compress(VALUES.astype("<i2").tobytes())),
        ("gz", gzip.compress(VALUES.astype("<i2").tobytes())),
        ("bzip2", bz2.compress(VALUES.astype("<i2").tobytes())),
        ("ascii", " ".join(map(str, VALUES.ravel())).encode()),
        ("text", "\n".join(map(str, VALUES.ravel())).encode()),
        ("hex", VALUES.astype("<i2").tobytes().hex().encode()),
    ],
)
def test_encodings(tmp_path: Path, encoding: str, data: bytes) -> None:
    path = _nrrd(tmp_path / "e.nrrd", [*BASE, "endian: little", f"encoding: {encoding}"], data)
    np.testing.assert_array_equal(ia.to_array(ia.read(path)), VALUES)
    part = ia.read(path, index=(1, 1, 1), size=(3, 2, 1))
    np.testing.assert_array_equal(ia.to_array(part), VALUES[1:, 1:, 1:])


def test_big_endian_byte_skip_and_line_skip(tmp_path: Path) -> None:
    big = _nrrd(tmp_path / "b.nrrd", [*BASE, "endian: big", "encoding: raw"], VALUES.astype(">i2").tobytes())
    np.testing.assert_array_equal(ia.to_array(ia.read(big)), VALUES)
    (tmp_path / "d.raw").write_bytes(b"line one\nline two\nXXXX" + VALUES.astype("<i2").tobytes())
    skip = _nrrd(
        tmp_path / "s.nhdr",
        [*BASE, "endian: little", "encoding: raw", "line skip: 2", "byte skip: 4", "data file: d.raw"],
    )
    np.testing.assert_array_equal(ia.to_array(ia.read(skip)), VALUES)
    end = _nrrd(tmp_path / "t.nhdr", [*BASE, "endian: little", "encoding: raw", "byte skip: -1", "data file: d.raw"])
    np.testing.assert_array_equal(ia.to_array(ia.read(end)), VALUES)
    gz = tmp_path / "g.raw.gz"
    gz.write_bytes(gzip.compress(b"HDR!" + VALUES.astype("<i2").tobytes()))
    skipped = _nrrd(
        tmp_path / "g.nhdr", [*BASE, "endian: little", "encoding: gzip", "byte skip: 4", "data file: g.raw.gz"]
    )
    np.testing.assert_array_equal(ia.to_array(ia.read(skipped)), VALUES)


def test_detached_data_in_a_list_of_files_or_a_pattern(tmp_path: Path) -> None:
    for k in range(2):
        VALUES[k].astype("<i2").tofile(tmp_path / f"part{k:03d}.raw")
    listing = "\n".join(["NRRD0004", *BASE, "endian: little", "encoding: raw", "data file: LIST 2"])
    (tmp_path / "l.nhdr").write_text(listing + "\npart000.raw\npart001.raw\n")
    pattern = _nrrd(tmp_path / "p.nhdr", [*BASE, "endian: little", "encoding: raw", "data file: part%03d.raw 0 1 1 2"])
    for path in (tmp_path / "l.nhdr", pattern):
        np.testing.assert_array_equal(ia.to_array(ia.read(path)), VALUES)
        np.testing.assert_array_equal(ia.to_array(ia.read(path, index=(2, 0, 1), size=(2, 3, 1))), VALUES[1:, :, 2:])


SPACE = ["space directions: (0,2,0) (-1,0,0) (0,0,3)", "space origin: (10,20,30)"]


@pytest.mark.parametrize("space", ["right-anterior-superior", "RAS", "left-posterior-superior", "scanner-xyz"])
def test_spaces_convert_to_lps_as_itk(sitk: Any, tmp_path: Path, space: str) -> None:
    path = _nrrd(
        tmp_path / "s.nrrd", [*BASE, "endian: little", "encoding: raw", f"space: {space}", *SPACE], VALUES.tobytes()
    )
    helpers.assert_sitk_geometry(ia.read(path), sitk.ReadImage(str(path)))


def test_left_anterior_superior_negates_y_where_itk_negates_x(tmp_path: Path) -> None:
    path = _nrrd(
        tmp_path / "las.nrrd", [*BASE, "endian: little", "encoding: raw", "space: LAS", *SPACE], VALUES.tobytes()
    )
    img = ia.read(path)
    assert img.origin == (10.0, -20.0, 30.0)  # anterior 20 is posterior -20; left stays left
    np.testing.assert_allclose(img.direction, (0, -1, 0, -1, 0, 0, 0, 0, 1))


@pytest.mark.parametrize(
    "fields",
    [
        ["spacings: 0.5 2 3", "axis mins: 1 2 3", "centers: cell cell node"],
        ["spacings: 0.5 2 3", "axis mins: 1 2 3", "axis maxs: 3 8 9", "centers: node cell cell"],
        ["space dimension: 3", "space directions: (0.5,0,0) (0,2,0) (0,0,3)"],
    ],
)
def test_geometry_without_a_named_space_matches_simpleitk(sitk: Any, tmp_path: Path, fields: list[str]) -> None:
    path = _nrrd(tmp_path / "n.nrrd", [*BASE, "endian: little", "encoding: raw", *fields], VALUES.tobytes())
    helpers.assert_sitk_geometry(ia.read(path), sitk.ReadImage(str(path)))


@pytest.mark.parametrize("kind", ["RGB-color", "vector", "3-vector", "list"])
def test_a_component_axis_anywhere_is_moved_last_as_itk(sitk: Any, tmp_path: Path, kind: str) -> None:
    planar = np.arange(3 * 2 * 4, dtype=np.uint8).reshape(3, 2, 4)  # components slowest: planar RGB
    path = _nrrd(
        tmp_path / "c.nrrd",
        ["type: uchar", "dimension: 3", "sizes: 4 2 3", f"kinds: domain domain {kind}", "encoding: raw"],
        planar.tobytes(),
    )
    img = ia.read(path)
    s = sitk.ReadImage(str(path))
    assert img.pixel_type is PT.VectorUInt8 and img.components == 3 == s.GetNumberOfComponentsPerPixel()
    np.testing.assert_array_equal(np.asarray(img), sitk.GetArrayFromImage(s))
    np.testing.assert_array_equal(np.asarray(ia.read(path, index=(1, 1), size=(2, 1))), np.asarray(img)[1:2, 1:3])


def test_data_files_outside_the_header_folder_need_allow_outside(tmp_path: Path) -> None:
    inner = tmp_path / "inner"
    inner.mkdir()
    VALUES.astype("<i2").tofile(tmp_path / "out.raw")
    path = _nrrd(inner / "o.nhdr", [*BASE, "endian: little", "encoding: raw", "data file: ../out.raw"])
    with pytest.raises(ia.ImageIOError, match=r"data file '\.\./out\.raw' points outside"):
        ia.read(path)
    np.testing.assert_array_equal(ia.to_array(ia.read(path, allow_outside=True)), VALUES)


# -- region reads and streamed writes -----------------------------------------------------------


def test_a_region_read_reads_only_the_bytes_it_needs(tmp_path: Path, counted: list[int]) -> None:
    vol = ia.from_array(np.arange(128**3, dtype=np.int16).reshape(128, 128, 128))
    for name in ("v.nrrd", "v.nhdr"):
        ia.write(vol, tmp_path / name)
        counted[0] = 0
        assert ia.read_info(tmp_path / name).size == (128, 128, 128)
        assert counted[0] < 2048
        counted[0] = 0
        part = ia.read(tmp_path / name, index=(32, 40, 50), size=(32, 32, 32))
        assert np.array_equal(ia.to_array(part), ia.to_array(vol)[50:82, 40:72, 32:64])
        assert counted[0] < 128**3 * 2 / 16


def test_streamed_writes(tmp_path: Path) -> None:
    image = helpers.sample_image(PT.VectorUInt16, components=3, geometry=GEOMETRY.with_size((6, 5, 4)))
    info = helpers.info_of(image)
    writer = nrrd.open_writer(tmp_path / "s.nhdr", info)
    for z in (3, 1, 0, 2):
        writer.write(ia.Region(index=(0, 0, z), size=(6, 5, 1)), np.asarray(image)[z : z + 1])
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == []
    writer.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.nhdr", "s.raw"]
    np.testing.assert_array_equal(np.asarray(ia.read(tmp_path / "s.nhdr")), np.asarray(image))
    gz = nrrd.open_writer(tmp_path / "g.nrrd", info, compress=True)
    assert gz.order == "slabs"
    gz.write(ia.Region(index=(0, 0, 0), size=(6, 5, 4)), np.asarray(image))
    gz.commit()
    back = ia.read(tmp_path / "g.nrrd")
    np.testing.assert_array_equal(np.asarray(back), np.asarray(image))
    assert back.metadata == image.metadata and back.geometry == image.geometry


@pytest.mark.parametrize("size", [(3, 4, 2, 2), (2, 3, 2, 2, 2)])
def test_4d_and_5d_interop(sitk: Any, tmp_path: Path, size: tuple[int, ...]) -> None:
    d = len(size)
    direction = np.eye(d)[:, [*range(1, d), 0]]
    geometry = ia.Geometry(size=size, origin=range(d), spacing=[0.5 + k for k in range(d)], direction=direction.ravel())
    image = ia.Image.from_pixels(helpers.sample_pixels(PT.Float32, geometry.shape), geometry)
    ia.write(image, tmp_path / "n.nrrd")
    s = sitk.ReadImage(str(tmp_path / "n.nrrd"))
    helpers.assert_sitk_geometry(image, s)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(s), np.asarray(image))
    sitk.WriteImage(s, str(tmp_path / "s.nrrd"))
    back = ia.read(tmp_path / "s.nrrd")
    assert back.geometry.same_space(image.geometry)
    np.testing.assert_array_equal(np.asarray(back), np.asarray(image))
