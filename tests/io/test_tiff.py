"""TIFF: shared files against SimpleITK and tifffile, every pixel type, stacks, region reads, streamed writes."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import imalgebra as ia
from imalgebra.io import tiff
from imalgebra.io.base import ImageInfo

tifffile = pytest.importorskip("tifffile")

SITK_SAME = [
    "pillow_16bit.MM.deflate.tif",
    "pillow_16bit.cropped.tif",
    "pillow_16bit.s.tif",
    "pillow_8bit.s.tif",
    "pillow_hopper_lzw.tif",
    "skimage_multipage.tif",
]
# SimpleITK reads these through libtiff's 8-bit RGBA fallback (lossy); we return the stored samples
SITK_RGBA_FALLBACK = ["pillow_tiff_16bit_RGB.tiff", "pillow_tiff_strip_planar_raw.tif", "pillow_tiff_tiled_raw.tif"]
SITK_REFUSES = ["pillow_10ct_32bit_128.tiff", "skimage_multipage_rgb.tif"]


def read(path: Path) -> tuple[ImageInfo, np.ndarray]:
    info = tiff.read_info(path)
    return info, tiff.read_region(path, info, info.geometry.region)


def stored_samples(path: Path) -> np.ndarray:
    """tifffile's decoding, pages stacked, samples last."""
    with tifffile.TiffFile(path) as tif:
        pages = []
        for page in tif.pages:
            data = page.asarray()
            if int(page.planarconfig) == 2 and page.samplesperpixel > 1:
                data = np.moveaxis(data, 0, -1)
            pages.append(data)
    return pages[0] if len(pages) == 1 else np.stack(pages)


@pytest.mark.sitk
@pytest.mark.parametrize("name", SITK_SAME)
def test_shared_file_reads_as_simpleitk(testdata, sitk, name):
    path = testdata / "tiff" / name
    info, pixels = read(path)
    ref = sitk.ReadImage(str(path))
    assert (info.pixel_type.id, info.components, info.size) == (
        ref.GetPixelID(),
        ref.GetNumberOfComponentsPerPixel(),
        ref.GetSize(),
    )
    np.testing.assert_allclose(info.spacing, ref.GetSpacing(), rtol=1e-6)  # SimpleITK rounds through float32
    assert (info.origin, info.direction) == (ref.GetOrigin(), ref.GetDirection())
    np.testing.assert_array_equal(pixels, sitk.GetArrayFromImage(ref))
    theirs = {k: ref.GetMetaData(k) for k in ref.GetMetaDataKeys() if not k.startswith("ITK_")}
    assert set(info.metadata) == set(theirs)
    for key, value in theirs.items():
        if value.isascii():  # SimpleITK shows non-UTF-8 bytes as surrogates; tifffile decodes them
            assert info.metadata[key] == value.rstrip("\0")


@pytest.mark.sitk
@pytest.mark.parametrize("name", SITK_RGBA_FALLBACK)
def test_layouts_simpleitk_reads_as_8bit_rgba_keep_their_samples(testdata, sitk, name):
    path = testdata / "tiff" / name
    info, pixels = read(path)
    np.testing.assert_array_equal(pixels, stored_samples(path))
    assert info.components == 3
    theirs = sitk.GetArrayFromImage(sitk.ReadImage(str(path)))
    assert theirs.shape[-1] == 4 and theirs.dtype == np.uint8
    ours_8bit = (pixels >> 8 if pixels.dtype == np.uint16 else pixels).astype(int)
    assert np.abs(theirs[..., :3] - ours_8bit).max() <= 1  # the same picture, at SimpleITK's 8 bits (libtiff rounds)


@pytest.mark.parametrize("name", SITK_REFUSES)
def test_files_simpleitk_refuses_read_as_tifffile_decodes(testdata, name):
    path = testdata / "tiff" / name
    _, pixels = read(path)
    np.testing.assert_array_equal(pixels, stored_samples(path))


def test_float64_planar_rgb_stack(testdata):
    info, _ = read(testdata / "tiff/skimage_multipage_rgb.tif")
    assert (info.pixel_type, info.components, info.size) == (ia.PixelType.VectorFloat64, 3, (10, 10, 2))


def test_pages_of_different_sizes_are_refused_not_cropped(testdata):
    # page 2 is 20 x 20, pages 0-1 are 10 x 10: SimpleITK silently reads page 2 into a 10 x 10 slice
    path = testdata / "tiff/pillow_multipage-mmap.tiff"
    with pytest.raises(ia.ImageIOError, match=r"page 2 .*20 x 20.* differs from page 0") as err:
        tiff.read_info(path)
    assert str(path) in str(err.value)


@pytest.mark.sitk
def test_palette_expansion_follows_simpleitk(tmp_path, sitk):
    index = np.array([[0, 1, 2], [3, 1, 0]], np.uint8)
    cases = {}
    colour = np.zeros((3, 256), np.uint16)
    colour[:, 1], colour[:, 2], colour[:, 3] = [10, 20, 30], [100, 200, 250], [255, 0, 255]
    cases["colour8"] = colour
    cases["colour16"] = colour * 257
    cases["gray16"] = np.tile(np.arange(256, dtype=np.uint16) * 3, (3, 1))
    for name, cmap in cases.items():
        path = tmp_path / f"{name}.tif"
        tifffile.imwrite(path, index, photometric="palette", colormap=cmap, metadata=None)
        info, pixels = read(path)
        ref = sitk.ReadImage(str(path))
        assert (info.pixel_type.id, info.components) == (ref.GetPixelID(), ref.GetNumberOfComponentsPerPixel()), name
        np.testing.assert_array_equal(pixels, sitk.GetArrayFromImage(ref))


@pytest.mark.sitk
@pytest.mark.parametrize(
    ("unit", "expected"), [(None, (12.7, 6.35)), (1, (1.0, 1.0)), (2, (12.7, 6.35)), (3, (5.0, 2.5))]
)
def test_resolution_units_give_simpleitks_spacing(tmp_path, sitk, unit, expected):
    path = tmp_path / "r.tif"
    tifffile.imwrite(path, np.zeros((4, 5), np.uint8), resolution=(2.0, 4.0), resolutionunit=unit, metadata=None)
    assert tiff.read_info(path).spacing == pytest.approx(expected)
    assert sitk.ReadImage(str(path)).GetSpacing() == pytest.approx(expected)


def test_bilevel_page_reads_as_zero_one(tmp_path):
    path = tmp_path / "bits.tif"
    mask = np.array([[0, 1, 1], [1, 0, 0]], bool)
    tifffile.imwrite(path, mask, photometric="minisblack", bitspersample=1, metadata=None)
    info, pixels = read(path)
    assert info.pixel_type == ia.PixelType.UInt8
    np.testing.assert_array_equal(pixels, mask.astype(np.uint8))


# -- round trips over every pixel type -------------------------------------------

ALL_TYPES = [p for p in ia.PixelType if p is not ia.PixelType.Unknown]
SITK_TIFF_TYPES = {np.dtype(t) for t in ("uint8", "int8", "uint16", "int16", "uint32", "int32", "float32")}


@st.composite
def images(draw, dimensions=(2, 3)):
    pixel_type = draw(st.sampled_from(ALL_TYPES))
    components = draw(st.integers(1, 5)) if pixel_type.is_vector else 1
    dimension = draw(st.sampled_from(dimensions))
    size = tuple(draw(st.integers(1, 6)) for _ in range(dimension))
    shape = size[::-1] + ((components,) if pixel_type.is_vector else ())
    dtype = pixel_type.dtype
    if dtype.kind == "c":
        real = draw(hnp.arrays(np.float32, shape, elements=st.floats(-1e6, 1e6, width=32)))
        pixels = (real + 1j * real[::-1]).astype(dtype)
    else:
        pixels = draw(hnp.arrays(dtype, shape))
    spacing = tuple(draw(st.sampled_from([0.25, 0.5, 1.0, 0.7, 25.4 / 96])) for _ in range(dimension))
    return ia.Image.from_pixels(pixels, ia.Geometry(size=size, spacing=spacing), pixel_type)


def expected_type(image: ia.Image) -> ia.PixelType:
    if image.pixel_type.is_label:
        return image.pixel_type.component_type
    if image.pixel_type.is_vector and image.components == 1:
        return image.pixel_type.component_type
    return image.pixel_type


@settings(max_examples=40)
@given(image=images(), compress=st.booleans())
def test_round_trip_every_pixel_type(tmp_path_factory, image, compress):
    path = tmp_path_factory.mktemp("rt") / "img.tif"
    tiff.write(path, image, compress=compress)
    info, pixels = read(path)
    assert info.pixel_type == expected_type(image)
    size = image.size[:2] if image.dimension == 3 and image.depth == 1 else image.size  # one page reads as 2D
    assert (info.components, info.size) == (image.components, size)
    np.testing.assert_allclose(info.spacing[:2], image.spacing[:2], rtol=1e-9)
    if info.dimension == 3:
        assert info.spacing[2] == 1.0  # TIFF has no z spacing (as in SimpleITK)
    expected = np.asarray(image).reshape(pixels.shape)
    np.testing.assert_array_equal(pixels, expected)


@pytest.mark.sitk
@settings(max_examples=30)
@given(image=images())
def test_files_we_write_read_identically_in_simpleitk(tmp_path_factory, sitk, image):
    path = tmp_path_factory.mktemp("interop") / "img.tif"
    tiff.write(path, image)
    info, pixels = read(path)
    if np.dtype(image.pixel_type.dtype) not in SITK_TIFF_TYPES:
        with pytest.raises(RuntimeError):  # 64-bit and complex samples: SimpleITK cannot read them
            sitk.ReadImage(str(path))
        return
    ref = sitk.ReadImage(str(path))
    assert (ref.GetPixelID(), ref.GetNumberOfComponentsPerPixel(), ref.GetSize()) == (  # both: 1 page -> 2D
        info.pixel_type.id,
        info.components,
        info.size,
    )
    np.testing.assert_allclose(ref.GetSpacing(), info.spacing, rtol=1e-6)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(ref), pixels)


@pytest.mark.sitk
@pytest.mark.parametrize(
    ("pixel_id", "components", "dims"),
    [
        ("sitkUInt8", 1, 2),
        ("sitkInt8", 1, 3),
        ("sitkUInt16", 1, 3),
        ("sitkInt16", 1, 2),
        ("sitkUInt32", 1, 2),
        ("sitkInt32", 1, 3),
        ("sitkFloat32", 1, 3),
        ("sitkVectorUInt8", 3, 2),
        ("sitkVectorUInt8", 4, 3),
        ("sitkVectorFloat32", 2, 2),
        ("sitkVectorUInt16", 5, 2),
    ],
)
def test_files_simpleitk_writes_read_identically_here(tmp_path, sitk, pixel_id, components, dims):
    rng = np.random.default_rng(7)
    size = (5, 4, 3)[:dims]
    img = (
        sitk.Image(size, getattr(sitk, pixel_id), components)
        if components > 1
        else sitk.Image(size, getattr(sitk, pixel_id))
    )
    arr = sitk.GetArrayFromImage(img)
    arr = (rng.random(arr.shape) * 100).astype(arr.dtype)
    ref = sitk.GetImageFromArray(arr, isVector=components > 1)
    ref.SetSpacing((0.5, 0.3, 2.0)[:dims])
    path = tmp_path / "s.tif"
    sitk.WriteImage(ref, str(path), useCompression=dims == 3)
    info, pixels = read(path)
    back = sitk.ReadImage(str(path))
    assert (info.pixel_type.id, info.components, info.size) == (
        back.GetPixelID(),
        back.GetNumberOfComponentsPerPixel(),
        back.GetSize(),
    )
    np.testing.assert_allclose(info.spacing, back.GetSpacing(), rtol=1e-6)
    np.testing.assert_array_equal(pixels, arr)


def test_four_dimensional_images_are_refused(tmp_path):
    path = tmp_path / "x.tif"
    with pytest.raises(ia.ImageIOError, match="2D or 3D"):
        tiff.write(path, ia.Image.zeros((2, 2, 2, 2), ia.PixelType.UInt8))
    assert not path.exists()


# -- region reads ------------------------------------------------------------------------


@settings(max_examples=30)
@given(data=st.data(), compress=st.booleans(), vector=st.booleans())
def test_region_read_equals_full_read_sliced(tmp_path_factory, data, compress, vector):
    size = (
        data.draw(st.integers(1, 9)),
        data.draw(st.integers(1, 9)),
        data.draw(st.integers(2, 4)),
    )  # depth 1 reads as 2D
    shape = size[::-1] + ((3,) if vector else ())
    arr = np.arange(int(np.prod(shape)), dtype=np.uint16).reshape(shape)
    path = tmp_path_factory.mktemp("region") / "r.tif"
    tiff.write(path, ia.from_array(arr, is_vector=vector), compress=compress)
    index = tuple(data.draw(st.integers(0, s - 1)) for s in size)
    extent = tuple(data.draw(st.integers(1, s - i)) for s, i in zip(size, index, strict=True))
    region = ia.Region(index=index, size=extent)
    info = tiff.read_info(path)
    np.testing.assert_array_equal(tiff.read_region(path, info, region), arr[region.slices])


def test_uncompressed_region_read_touches_only_the_rows_it_needs(tmp_path, monkeypatch):
    arr = np.arange(64 * 256 * 256, dtype=np.uint16).reshape(64, 256, 256)
    path = tmp_path / "big.tif"
    tiff.write(path, ia.from_array(arr))
    info = tiff.read_info(path)
    region = ia.Region(index=(10, 20, 30), size=(16, 8, 4))
    counted = []
    original = tifffile.FileHandle.read

    def counting_read(self, size=-1):
        out = original(self, size)
        counted.append(len(out))
        return out

    class CountingFile:
        def __init__(self, *args, **kwargs):
            self._f = open(*args, **kwargs)  # noqa: SIM115 - closed by __exit__

        def read(self, size=-1):
            out = self._f.read(size)
            counted.append(len(out))
            return out

        def __getattr__(self, name):
            return getattr(self._f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._f.close()

    monkeypatch.setattr(tifffile.FileHandle, "read", counting_read)
    monkeypatch.setattr(tiff, "open", CountingFile, raising=False)  # the module's own reads
    part = tiff.read_region(path, info, region)
    np.testing.assert_array_equal(part, arr[region.slices])
    pixel_bytes = 4 * 8 * 256 * 2  # 4 pages x 8 whole rows
    assert pixel_bytes <= sum(counted) < pixel_bytes + 64 * 1024  # plus the page headers, far below the 8 MiB file
    assert path.stat().st_size > 8_000_000


# -- streamed writing ----------------------------------------------------------------------


@pytest.mark.parametrize("components", [1, 2, 3])
def test_streamed_uncompressed_writer_accepts_any_order_from_threads(tmp_path, components):
    size = (12, 10, 8)
    shape = size[::-1] + ((components,) if components > 1 else ())
    arr = np.random.default_rng(0).integers(0, 60000, shape).astype(np.uint16)
    pixel_type = ia.PixelType.VectorUInt16 if components > 1 else ia.PixelType.UInt16
    info = ImageInfo(
        geometry=ia.Geometry(size=size, spacing=(0.5, 0.5, 3.0)), pixel_type=pixel_type, components=components
    )
    path = tmp_path / "stream.tif"
    writer = tiff.open_writer(path, info)
    assert writer.order == "any"
    regions = [ia.Region(index=(x, y, z), size=(6, 5, 4)) for z in (4, 0) for y in (5, 0) for x in (0, 6)]
    threads = [threading.Thread(target=writer.write, args=(r, arr[r.slices])) for r in regions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not path.exists()  # nothing under the target before commit
    writer.commit()
    got, pixels = read(path)
    np.testing.assert_array_equal(pixels, arr)
    assert got.spacing == pytest.approx((0.5, 0.5, 1.0))
    assert [p.name for p in tmp_path.iterdir()] == ["stream.tif"]


def test_streamed_compressed_writer_takes_slabs_in_order(tmp_path):
    arr = np.arange(5 * 4 * 3, dtype=np.float32).reshape(5, 4, 3)
    info = ImageInfo(geometry=ia.Geometry(size=(3, 4, 5)), pixel_type=ia.PixelType.Float32)
    path = tmp_path / "slabs.tif"
    writer = tiff.open_writer(path, info, compress=True)
    assert writer.order == "slabs"
    writer.write(ia.Region(index=(0, 0, 0), size=(3, 4, 2)), arr[0:2])
    with pytest.raises(ia.ImageIOError, match="in order"):
        writer.write(ia.Region(index=(0, 0, 3), size=(3, 4, 2)), arr[3:5])
    writer.write(ia.Region(index=(0, 0, 2), size=(3, 4, 3)), arr[2:5])
    writer.commit()
    _, pixels = read(path)
    np.testing.assert_array_equal(pixels, arr)
    with tifffile.TiffFile(path) as tif:
        assert all(int(p.compression) == 8 for p in tif.pages)


def test_streamed_2d_compressed_writer_takes_row_slabs(tmp_path):
    arr = np.arange(6 * 5, dtype=np.int32).reshape(6, 5)
    info = ImageInfo(geometry=ia.Geometry(size=(5, 6)), pixel_type=ia.PixelType.Int32)
    path = tmp_path / "rows.tif"
    with tiff.open_writer(path, info, compress=True) as writer:
        writer.write(ia.Region(index=(0, 0), size=(5, 2)), arr[0:2])
        writer.write(ia.Region(index=(0, 2), size=(5, 4)), arr[2:6])
    np.testing.assert_array_equal(read(path)[1], arr)


def test_aborted_or_incomplete_stream_leaves_old_file(tmp_path):
    path = tmp_path / "keep.tif"
    tiff.write(path, ia.Image.zeros((2, 2), ia.PixelType.UInt8))
    before = path.read_bytes()
    info = ImageInfo(geometry=ia.Geometry(size=(4, 4, 2)), pixel_type=ia.PixelType.UInt8)
    writer = tiff.open_writer(path, info)
    writer.write(ia.Region(index=(0, 0, 0), size=(4, 4, 1)), np.ones((1, 4, 4), np.uint8))
    with pytest.raises(ia.ImageIOError, match="only 16 of 32 pixels"):
        writer.commit()
    writer2 = tiff.open_writer(path, info, compress=True)
    writer2.abort()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.tif"]


# -- bad files ------------------------------------------------------------------------------


def test_truncated_file(tmp_path, testdata):
    data = (testdata / "tiff/pillow_tiff_tiled_raw.tif").read_bytes()
    path = tmp_path / "cut.tif"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ia.ImageIOError) as err:
        read(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("content", [b"", b"II*\0", b"II*\0\xff\xff\xff\x7f" + bytes(20), b"plain text, not tiff"])
def test_garbage(tmp_path, content):
    path = tmp_path / "bad.tif"
    path.write_bytes(content)
    with pytest.raises(ia.ImageIOError) as err:
        read(path)
    assert str(path) in str(err.value)


def test_sniff():
    assert tiff.sniff(b"II*\0") and tiff.sniff(b"MM\0*") and tiff.sniff(b"II+\0")
    assert not tiff.sniff(b"BM") and not tiff.sniff(b"")
    assert tiff.IO.claims("stack.TIFF") and tiff.IO.capabilities.streamed_write


# -- through the registry (ia.read / ia.write) --------------------------------------


@pytest.mark.sitk
@pytest.mark.parametrize("name", SITK_SAME)
def test_ia_read_matches_simpleitk(testdata, sitk, name):
    path = testdata / "tiff" / name
    image = ia.read(path)
    ref = sitk.ReadImage(str(path))
    assert (image.pixel_type.id, image.components, image.size) == (
        ref.GetPixelID(),
        ref.GetNumberOfComponentsPerPixel(),
        ref.GetSize(),
    )
    np.testing.assert_allclose(image.spacing, ref.GetSpacing(), rtol=1e-6)
    assert (image.origin, image.direction) == (ref.GetOrigin(), ref.GetDirection())
    np.testing.assert_array_equal(np.asarray(image), sitk.GetArrayFromImage(ref))


def test_ia_write_read_and_region_read(tmp_path):
    vol = ia.from_array(np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)).with_spacing((0.5, 0.25, 3.0))
    path = tmp_path / "v.tiff"
    ia.write(vol, path)
    back = ia.read(path)
    assert back.size == vol.size and back.spacing == pytest.approx((0.5, 0.25, 1.0))
    part = ia.read(path, index=(1, 2, 3), size=(2, 2, 1))
    np.testing.assert_array_equal(np.asarray(part), np.asarray(vol)[3:4, 2:4, 1:3])
    assert ia.io.get("TIFFImageIO").capabilities.region_read
