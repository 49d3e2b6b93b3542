"""The registry and the public read / read_info / write: choosing an IO, forcing one, regions, pixel_type
conversion as SimpleITK does it, stacks, expressions."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import imalgebra as ia
from imalgebra.io import registry

PT = ia.PixelType


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The registry with its cache cleared (restored afterwards)."""
    monkeypatch.setattr(registry, "_loaded", None)
    return registry


def _vol(tmp_path: Path, name: str = "v.mha") -> tuple[ia.Image, Path]:
    image = ia.from_array(np.arange(60, dtype=np.int16).reshape(3, 4, 5)).with_origin((1, 2, 3))
    path = tmp_path / name
    ia.write(image, path)
    return image, path


# -- the registry ----------------------------------------------------------------------------


def test_registered_names_in_priority_order() -> None:
    names = ia.io.registered()
    assert names[:2] == ("MetaImageIO", "NrrdImageIO")
    order = ["MetaImageIO", "NrrdImageIO", "NiftiImageIO", "GDCMImageIO", "PNGImageIO", "JPEGImageIO", "BMPImageIO",
             "TIFFImageIO", "ZarrImageIO"]  # fmt: skip
    assert list(names) == [n for n in order if n in names]
    assert ia.io.registered is registry.registered and ia.read is registry.read and ia.write is registry.write


def test_get_accepts_aliases_and_any_case_and_lists_the_names_when_unknown() -> None:
    assert ia.io.get("nrrdimageio").name == "NrrdImageIO"
    if "GDCMImageIO" in ia.io.registered():
        assert ia.io.get("DICOMImageIO").name == "GDCMImageIO"
    with pytest.raises(ia.ImageIOError, match="no image IO called 'NopeIO'; registered: MetaImageIO, NrrdImageIO"):
        ia.io.get("NopeIO")


def test_a_missing_format_module_is_skipped_but_a_broken_one_fails_loudly(
    fresh_registry: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry, "MODULES", ("metaimage", "not_written_yet", "nrrd"))
    assert registry.registered() == ("MetaImageIO", "NrrdImageIO")

    real = importlib.import_module

    def broken(name: str, *args: Any) -> Any:
        if name == "imalgebra.io.nrrd":
            raise ModuleNotFoundError("No module named 'somedependency'", name="somedependency")
        return real(name, *args)

    monkeypatch.setattr(registry, "_loaded", None)
    monkeypatch.setattr(registry.importlib, "import_module", broken)
    with pytest.raises(ModuleNotFoundError, match="somedependency"):
        registry.registered()


def test_importing_imalgebra_does_not_import_the_format_modules() -> None:
    import subprocess
    import sys

    code = (
        "import sys, imalgebra; before = sorted(m for m in sys.modules if m.startswith('imalgebra.io.')); "
        "imalgebra.io.registered(); print(before, 'imalgebra.io.metaimage' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split("]")[0] == "["  # nothing of io/ loads with the package
    assert out.strip().endswith("True")  # the registry loads the formats when first asked


# -- choosing an IO for reading ------------------------------------------------------------------


def test_content_wins_over_the_extension(tmp_path: Path) -> None:
    image, path = _vol(tmp_path, "v.nrrd")
    (tmp_path / "misnamed.mha").write_bytes(path.read_bytes())
    (tmp_path / "noext").write_bytes(path.read_bytes())
    for p in (tmp_path / "misnamed.mha", tmp_path / "noext"):
        assert ia.read_info(p).io == "NrrdImageIO"
        np.testing.assert_array_equal(ia.to_array(ia.read(p)), ia.to_array(image))
    assert registry.reader_for(tmp_path / "misnamed.mha").name == "NrrdImageIO"


def test_forcing_an_io_that_cannot_read_the_file_names_both(tmp_path: Path) -> None:
    _, path = _vol(tmp_path, "v.nrrd")
    with pytest.raises(ia.ImageIOError) as err:
        ia.read(path, io="MetaImageIO")
    text = str(err.value)
    assert str(path) in text and "io=MetaImageIO" in text and "looks like NrrdImageIO" in text
    assert ia.read(path, io="NrrdImageIO").size == (5, 4, 3)


def test_disagreeing_extension_and_content_are_reported(tmp_path: Path) -> None:
    bad = tmp_path / "x.nii"
    bad.write_bytes(b"NRRD0004\ntype: nonsense\n\n")
    with pytest.raises(ia.ImageIOError, match=r"named like NiftiImageIO but its content looks like NrrdImageIO"):
        ia.read(bad)
    unknown = tmp_path / "y.mha"
    unknown.write_bytes(b"\x01\x02garbage" * 10)
    with pytest.raises(ia.ImageIOError, match=r"named like MetaImageIO but its content is not recognised"):
        ia.read(unknown)
    neither = tmp_path / "z.xyz"
    neither.write_bytes(b"\x01\x02garbage" * 10)
    with pytest.raises(ia.ImageIOError, match=r"cannot tell the image format.*registered: MetaImageIO"):
        ia.read(neither)


# -- regions ----------------------------------------------------------------------------------


def test_index_alone_reads_to_the_end_and_size_alone_starts_at_zero(tmp_path: Path) -> None:
    image, path = _vol(tmp_path)
    tail = ia.read(path, index=(1, 2, 1))
    assert tail.size == (4, 2, 2) and tail.origin == (2.0, 4.0, 4.0)
    np.testing.assert_array_equal(ia.to_array(tail), ia.to_array(image)[1:, 2:, 1:])
    head = ia.read(path, size=(2, 2, 2))
    np.testing.assert_array_equal(ia.to_array(head), ia.to_array(image)[:2, :2, :2])
    assert head.geometry == image.geometry.crop(ia.Region(index=(0, 0, 0), size=(2, 2, 2)))


def test_bad_regions_say_what_is_wrong(tmp_path: Path) -> None:
    _, path = _vol(tmp_path)
    with pytest.raises(
        ia.ImageIndexError, match=r"index=\(3, 0, 0\) size=\(3, 1, 1\) is not inside .*size=\(5, 4, 3\)"
    ):
        ia.read(path, index=(3, 0, 0), size=(3, 1, 1))
    with pytest.raises(ia.ImageIndexError, match=r"has 0 on axis z.*not supported.*\[:, :, 0\]"):
        ia.read(path, index=(0, 0, 1), size=(5, 4, 0))
    with pytest.raises(ia.ImageIndexError, match="needs 3 values"):
        ia.read(path, index=(0, 0), size=(2, 2))
    with pytest.raises(ia.ImageIndexError, match="not inside"):
        ia.read(path, index=(-1, 0, 0), size=(1, 1, 1))


# -- pixel_type conversion on read, against SimpleITK -------------------------------------------------

SOURCES = {
    "int16": np.array([[[-5, 300, 1000], [1, 2, 3]]], dtype=np.int16),
    "float64": np.array([[[300.7, -1.5, 70000.2], [0.5, 2.25, -7.0]]]),
    "vector2": np.array([[[[10, 20], [1, 2], [3, 4]], [[0, 0], [5, 5], [255, 2]]]], dtype=np.float32),
    "vector2u8": np.array([[[[10, 255], [100, 128], [3, 4]], [[200, 200], [5, 255], [255, 2]]]], dtype=np.uint8),
    "vector3": np.array(
        [[[[10, 20, 30], [200, 100, 50], [255, 255, 255]], [[0, 0, 0], [9, 8, 7], [1, 1, 1]]]], np.uint8
    ),
    "vector4": np.array([[[[10, 20, 30, 40], [1000, 2000, 3000, 65535]] * 2] * 2], dtype=np.uint16),
    "vector4u8": np.array([[[[10, 20, 30, 255], [200, 100, 50, 128]] * 2] * 2], dtype=np.uint8),
    "vector5": np.array([[[[10, 20, 30, 40, 50]] * 3] * 2], dtype=np.float32),
    "complex": np.array([[[1 + 2j, 3 - 4j, 5j], [1, 2, 3]]], dtype=np.complex64),
}
TARGETS = [PT.UInt8, PT.Int8, PT.Int16, PT.UInt32, PT.Float32, PT.Float64, PT.ComplexFloat32, PT.VectorUInt8,
           PT.VectorFloat64]  # fmt: skip


@pytest.mark.parametrize("source", list(SOURCES))
@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name)
def test_pixel_type_on_read_converts_as_simpleitk(sitk: Any, tmp_path: Path, source: str, target: ia.PixelType) -> None:
    arr = SOURCES[source]
    s = sitk.GetImageFromArray(arr, isVector=source.startswith("vector"))
    sitk.WriteImage(s, str(tmp_path / "s.nrrd"))
    if source == "complex" and not (target.is_complex or target.is_vector):
        with pytest.raises(ia.PixelTypeError, match=r"real \* imaginary"):
            ia.read(tmp_path / "s.nrrd", pixel_type=target)
        return
    ours = ia.read(tmp_path / "s.nrrd", pixel_type=target)
    theirs = sitk.ReadImage(str(tmp_path / "s.nrrd"), target.id)
    assert ours.pixel_type.id == theirs.GetPixelID()
    assert ours.components == theirs.GetNumberOfComponentsPerPixel()
    expected = sitk.GetArrayFromImage(theirs)  # (SimpleITK drops the axis of a one-component vector)
    np.testing.assert_array_equal(np.asarray(ours).reshape(expected.shape), expected)


def test_pixel_type_accepts_names_and_ids(tmp_path: Path) -> None:
    _, path = _vol(tmp_path)
    assert ia.read(path, pixel_type="Float32").pixel_type is PT.Float32
    assert ia.read(path, pixel_type=1).pixel_type is PT.UInt8


def test_label_types_read_integer_pixels_exactly_where_simpleitk_refuses(tmp_path: Path) -> None:
    image, path = _vol(tmp_path)
    labels = ia.read(path, pixel_type=PT.LabelUInt8)
    assert labels.pixel_type is PT.LabelUInt8
    np.testing.assert_array_equal(ia.to_array(labels), ia.to_array(image))
    ia.write(image - 10, tmp_path / "neg.mha")
    with pytest.raises(ia.PixelTypeError, match="do not fit"):
        ia.read(tmp_path / "neg.mha", pixel_type=PT.LabelUInt16)
    ia.write(ia.from_array(np.array([[0.5, 1.0]])), tmp_path / "f.mha")
    with pytest.raises(ia.PixelTypeError, match="whole numbers"):
        ia.read(tmp_path / "f.mha", pixel_type=PT.LabelUInt8)


# -- writing ----------------------------------------------------------------------------------


def test_unknown_extensions_list_the_supported_ones(tmp_path: Path) -> None:
    img = ia.Image.zeros((2, 2), PT.UInt8)
    with pytest.raises(ia.ImageIOError, match=r"no image IO writes \.xyz; supported: \.mha \.mhd \.nrrd \.nhdr"):
        ia.write(img, tmp_path / "a.xyz")
    with pytest.raises(ia.ImageIOError, match="no extension"):
        ia.write(img, tmp_path / "noext")
    ia.write(img, tmp_path / "forced.xyz", io="MetaImageIO")  # SimpleITK writes forced.mhd + .raw here
    assert ia.read(tmp_path / "forced.xyz").size == (2, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["forced.xyz"]


def test_extensions_match_in_any_case(tmp_path: Path) -> None:
    img = ia.Image.zeros((2, 2), PT.UInt8)
    for name in ("a.MHA", "b.Mha", "c.NRRD", "d.Nhdr"):
        ia.write(img, tmp_path / name)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.MHA", "b.Mha", "c.NRRD", "d.Nhdr", "d.raw"]


def test_writing_a_type_the_format_cannot_hold_says_which_it_can(tmp_path: Path) -> None:
    if "PNGImageIO" not in ia.io.registered():
        pytest.skip("PNG is not registered")
    with pytest.raises(ia.ImageIOError, match=r"PNGImageIO cannot store Float64 pixels; it stores .*UInt8"):
        ia.write(ia.Image.zeros((2, 2), PT.Float64), tmp_path / "a.png")
    assert list(tmp_path.iterdir()) == []


def test_compress_accepts_a_level(tmp_path: Path) -> None:
    img = ia.from_array(np.zeros((64, 64), np.uint8))
    ia.write(img, tmp_path / "a.nrrd", compress=1)
    assert b"encoding: gzip" in (tmp_path / "a.nrrd").read_bytes()
    with pytest.raises(ia.ImageIOError, match="compress"):
        ia.write(img, tmp_path / "b.nrrd", compress="yes")


def test_an_expression_is_evaluated_then_written(tmp_path: Path) -> None:
    image, _ = _vol(tmp_path)
    ia.write(image * 2 + 1, tmp_path / "e.nrrd")
    np.testing.assert_array_equal(ia.to_array(ia.read(tmp_path / "e.nrrd")), ia.to_array(image) * 2 + 1)
    with pytest.raises(TypeError, match="Image or an image expression"):
        ia.write(np.zeros((2, 2)), tmp_path / "x.mha")


def test_an_evaluator_is_handed_the_write(tmp_path: Path) -> None:
    calls = []

    class Recorder:
        def write(self, expr: Any, path: Any, **kwargs: Any) -> None:
            calls.append((expr, path, kwargs))

    image, _ = _vol(tmp_path)
    expr = image + 1
    ia.write(expr, tmp_path / "out.mha", io="MetaImageIO", compress=True, evaluator=Recorder())
    assert calls == [(expr, tmp_path / "out.mha", {"io": "MetaImageIO", "compress": True})]


def test_writing_over_the_file_a_lazy_leaf_reads_keeps_it_readable_until_done(tmp_path: Path) -> None:
    if not hasattr(ia, "open"):
        pytest.skip("ia.open is not available yet")
    image, path = _vol(tmp_path)
    ia.write(ia.open(path) * 3, path)
    np.testing.assert_array_equal(ia.to_array(ia.read(path)), ia.to_array(image) * 3)
    if hasattr(ia, "Streamed"):
        ia.write(ia.open(path) + 1, path, evaluator=ia.Streamed(memory="64 KiB"))
        np.testing.assert_array_equal(ia.to_array(ia.read(path)), ia.to_array(image) * 3 + 1)


# -- stacks -----------------------------------------------------------------------------------


@pytest.mark.parametrize("ext", [".mha", ".nrrd", ".png"])
def test_a_3d_image_written_to_a_list_is_one_file_per_slice_and_reads_back_as_a_stack(tmp_path: Path, ext: str) -> None:
    if ext == ".png" and "PNGImageIO" not in ia.io.registered():
        pytest.skip("PNG is not registered")
    vol = ia.from_array(np.arange(60, dtype=np.uint8).reshape(3, 4, 5)).with_spacing((0.5, 0.25, 9.0))
    vol = vol.with_origin((1.0, 2.0, 3.0))
    names = [tmp_path / f"s{k}{ext}" for k in range(3)]
    ia.write(vol, names)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(n.name for n in names)
    one = ia.read(names[1])
    assert one.size == (5, 4)
    np.testing.assert_array_equal(ia.to_array(one), ia.to_array(vol)[1])
    back = ia.read(names)
    np.testing.assert_array_equal(ia.to_array(back), ia.to_array(vol))
    if ext != ".png":  # SimpleITK's stack: x/y from the first file, z spacing 1, z origin 0
        assert back.spacing == (0.5, 0.25, 1.0) and back.origin == (1.0, 2.0, 0.0)
        assert ia.read_info(names).size == (5, 4, 3)
    part = ia.read(names, index=(1, 1, 1), size=(2, 2, 2))
    np.testing.assert_array_equal(ia.to_array(part), ia.to_array(vol)[1:3, 1:3, 1:3])


def test_a_stack_region_opens_only_the_files_of_its_slices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vol = ia.from_array(np.arange(5 * 4 * 3, dtype=np.int16).reshape(5, 4, 3))
    names = [tmp_path / f"s{k}.mha" for k in range(5)]
    ia.write(vol, names)
    read: list[str] = []
    monkeypatch.setattr(registry, "_call", _spy(registry._call, read))
    part = ia.read(names, index=(0, 0, 3), size=(3, 4, 2))
    np.testing.assert_array_equal(ia.to_array(part), ia.to_array(vol)[3:5])
    assert sorted(read) == [str(names[3]), str(names[4])]


def _spy(call: Any, seen: list[str]) -> Any:
    def wrapped(io: Any, path: str, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if what == "read the pixels":
            seen.append(path)
        return call(io, path, what, fn, *args, **kwargs)

    return wrapped


def test_stack_mistakes_are_clear(tmp_path: Path) -> None:
    vol = ia.from_array(np.zeros((3, 4, 5), np.uint8))
    with pytest.raises(ia.ImageIOError, match="3 z slices but 2 paths"):
        ia.write(vol, [tmp_path / "a.mha", tmp_path / "b.mha"])
    with pytest.raises(ia.ImageIOError, match="needs a 3D image"):
        ia.write(ia.Image.zeros((2, 2), PT.UInt8), [tmp_path / "a.mha"])
    ia.write(ia.Image.zeros((2, 2), PT.UInt8), tmp_path / "a.mha")
    ia.write(ia.Image.zeros((3, 2), PT.UInt8), tmp_path / "b.mha")
    with pytest.raises(ia.ImageIOError, match=r"b\.mha: cannot stack it with .*a\.mha"):
        ia.read([tmp_path / "a.mha", tmp_path / "b.mha"])
    with pytest.raises(ia.ImageIOError, match="empty"):
        ia.read([])


def test_a_list_of_dicom_files_goes_to_the_series_reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if "GDCMImageIO" not in ia.io.registered():
        pytest.skip("DICOM is not registered")
    from imalgebra.io import dicom

    files = []
    for k in range(2):
        path = tmp_path / f"slice{k}"  # no extension: found by content
        ia.write(ia.Image.zeros((4, 4), PT.UInt16), path, io="GDCMImageIO")
        files.append(path)
    seen = []
    result = ia.Image.zeros((4, 4, 2), PT.UInt16)

    def fake(paths: list[str], **kwargs: Any) -> ia.Image:
        seen.append((paths, kwargs))
        return result

    monkeypatch.setattr(dicom, "read_series", fake)
    assert ia.read(files) is result
    assert seen == [([str(f) for f in files], {})]
    ia.read(files, index=(0, 0, 0), size=(2, 2, 1))
    assert seen[-1][1] == {"index": (0, 0, 0), "size": (2, 2, 1)}


def test_read_info_of_a_dicom_series_agrees_with_read(testdata: Path) -> None:
    if "GDCMImageIO" not in ia.io.registered():
        pytest.skip("DICOM is not registered")
    files = sorted((testdata / "dicom/series/pydicom_ct5n").iterdir())
    info = ia.read_info(files)
    image = ia.read(files)
    assert info.size == image.size == (16, 16, 5)
    assert info.geometry == image.geometry and info.pixel_type == image.pixel_type
