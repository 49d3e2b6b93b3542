"""PNG: every shared file reads as SimpleITK reads it; round trips; interop; bad files."""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import imalgebra as ia
from imalgebra.io import png
from imalgebra.io.base import ImageInfo

PNG_FILES = [
    "png/matplotlib_Minduka_Present_Blue_Pack.png",
    "png/pngsuite_basi0g16.png",
    "png/pngsuite_basn0g01.png",
    "png/pngsuite_basn0g08.png",
    "png/pngsuite_basn0g16.png",
    "png/pngsuite_basn2c16.png",
    "png/pngsuite_basn3p04.png",
    "png/pngsuite_basn6a08.png",
    "png/pngsuite_basn6a16.png",
    "png/skimage_camera.png",
    "png/skimage_chelsea.png",
    "png/skimage_chessboard_GRAY.png",
    "png/skimage_chessboard_RGB.png",
    "png/skimage_logo.png",
    "png/skimage_microaneurysms.png",
    "itk_examples/BrainProtonDensitySlice.png",
    "itk_examples/BrainProtonDensitySliceBorder20.png",
    "itk_examples/FivePoints.png",
    "itk_examples/Point.png",
]
# SimpleITK refuses these ("Unknown PixelType"): gray+alpha and gray+tRNS have 2 components.
REFUSED_BY_SITK = ["png/pillow_i_trns.png", "png/pillow_uncompressed_la.png", "png/pngsuite_basn4a16.png"]


def read(path: Path) -> tuple[ImageInfo, np.ndarray]:
    info = png.read_info(path)
    return info, png.read_region(path, info, info.geometry.region)


def make_png(
    samples: np.ndarray,
    bit_depth: int,
    color_type: int,
    *,
    palette: np.ndarray | None = None,
    trns: bytes | None = None,
    sbit: bytes | None = None,
    text: dict[str, str] | None = None,
) -> bytes:
    """A PNG built chunk by chunk (filter 0) from raw samples: [y, x] or [y, x, channels]."""
    height, width = samples.shape[:2]
    rows = []
    flat = samples.reshape(height, -1)
    for row in flat:
        if bit_depth == 16:
            data = row.astype(">u2").tobytes()
        elif bit_depth == 8:
            data = row.astype(np.uint8).tobytes()
        else:
            per = 8 // bit_depth
            padded = np.zeros(-(-len(row) // per) * per, np.uint8)
            padded[: len(row)] = row
            packed = np.zeros(len(padded) // per, np.uint8)
            for k in range(per):
                packed |= (padded[k::per] << (8 - bit_depth * (k + 1))).astype(np.uint8)
            data = packed.tobytes()
        rows.append(b"\0" + data)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    out = png.SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0))
    if sbit is not None:
        out += chunk(b"sBIT", sbit)
    if palette is not None:
        out += chunk(b"PLTE", palette.astype(np.uint8).tobytes())
    if trns is not None:
        out += chunk(b"tRNS", trns)
    for key, value in (text or {}).items():
        out += chunk(b"tEXt", key.encode("latin-1") + b"\0" + value.encode("latin-1"))
    out += chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b"")
    return out


# -- shared files ------------------------------------------------------------


@pytest.mark.sitk
@pytest.mark.parametrize("name", PNG_FILES)
def test_shared_file_reads_as_simpleitk(testdata, sitk, name):
    path = testdata / name
    info, pixels = read(path)
    ref = sitk.ReadImage(str(path))
    assert info.pixel_type.id == ref.GetPixelID()
    assert info.components == ref.GetNumberOfComponentsPerPixel()
    assert info.size == ref.GetSize()
    assert info.spacing == ref.GetSpacing()
    assert info.origin == ref.GetOrigin()
    assert info.direction == ref.GetDirection()
    np.testing.assert_array_equal(pixels, sitk.GetArrayFromImage(ref))


@pytest.mark.parametrize("name", REFUSED_BY_SITK)
def test_files_simpleitk_refuses_read_as_libpng_decodes_them(testdata, name):
    codecs = pytest.importorskip("imagecodecs")
    path = testdata / name
    info, pixels = read(path)
    expected = codecs.png_decode(path.read_bytes())  # libpng with expand + tRNS-to-alpha, as ITK asks
    assert info.components == 2
    assert info.pixel_type.is_vector
    np.testing.assert_array_equal(pixels, expected)


def test_gray_alpha_8bit_matches_pillow(testdata):
    from PIL import Image

    path = testdata / "png/pillow_uncompressed_la.png"
    _, pixels = read(path)
    with Image.open(path) as im:
        np.testing.assert_array_equal(pixels, np.asarray(im))


def test_palette_sbit_shifts_colours_down_like_simpleitk(testdata):
    _, pixels = read(testdata / "png/pngsuite_basn3p04.png")
    assert pixels.max() == 15  # 4 significant bits: 255 -> 15


def test_text_chunks_become_metadata(testdata):
    info = png.read_info(testdata / "png/matplotlib_Minduka_Present_Blue_Pack.png")
    assert info.metadata == {"Software": "www.inkscape.org"}


def test_phys_is_ignored_so_spacing_is_one(testdata):
    # skimage_camera.png carries pHYs (2835 px/m); SimpleITK ignores it and so do we
    assert png.read_info(testdata / "png/skimage_camera.png").spacing == (1.0, 1.0)


# -- synthetic files: every colour type, bit depth, tRNS and sBIT -------------


@st.composite
def png_files(draw):
    color_type = draw(st.sampled_from([0, 2, 3, 4, 6]))
    depths = {0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16]}[color_type]
    bit_depth = draw(st.sampled_from(depths))
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type]
    width = draw(st.integers(1, 9))
    height = draw(st.integers(1, 5))
    top = (1 << bit_depth) - 1
    palette = trns = sbit = None
    if color_type == 3:
        n = draw(st.integers(1, 1 << bit_depth))
        palette = draw(st.lists(st.integers(0, 255), min_size=3 * n, max_size=3 * n)).copy()
        palette = np.array(palette, np.uint8).reshape(n, 3)
        top = n - 1
    samples = np.array(
        draw(st.lists(st.integers(0, top), min_size=width * height * channels, max_size=width * height * channels)),
        dtype=np.uint16,
    ).reshape(height, width, channels)
    if color_type in (0, 2, 3) and draw(st.booleans()):
        if color_type == 3:
            trns = bytes(draw(st.lists(st.integers(0, 255), min_size=1, max_size=len(palette))))
        else:
            key = samples[0, 0] if draw(st.booleans()) else [draw(st.integers(0, top))] * channels
            trns = b"".join(struct.pack(">H", int(v)) for v in key)
    if draw(st.booleans()):
        nbits = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}[color_type]
        limit = 8 if color_type == 3 else bit_depth
        sbit = bytes(draw(st.lists(st.integers(1, limit), min_size=nbits, max_size=nbits)))
    return make_png(
        samples[..., 0] if channels == 1 else samples, bit_depth, color_type, palette=palette, trns=trns, sbit=sbit
    )


@pytest.mark.sitk
@settings(max_examples=60)
@given(data=png_files())
def test_synthetic_png_reads_as_simpleitk(tmp_path_factory, sitk, data):
    path = tmp_path_factory.mktemp("png") / "x.png"
    path.write_bytes(data)
    info, pixels = read(path)
    try:
        ref = sitk.ReadImage(str(path))
    except RuntimeError:
        assert info.components == 2  # SimpleITK refuses exactly the 2-component results
        return
    assert (info.pixel_type.id, info.components, info.size) == (
        ref.GetPixelID(),
        ref.GetNumberOfComponentsPerPixel(),
        ref.GetSize(),
    )
    np.testing.assert_array_equal(pixels, sitk.GetArrayFromImage(ref))


# -- round trips and interop ---------------------------------------------------


@st.composite
def writable_images(draw):
    pixel_type = draw(
        st.sampled_from([ia.PixelType.UInt8, ia.PixelType.UInt16, ia.PixelType.VectorUInt8, ia.PixelType.VectorUInt16])
    )
    components = draw(st.integers(1, 4)) if pixel_type.is_vector else 1
    width, height = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    shape = (height, width) + ((components,) if pixel_type.is_vector else ())
    dtype = pixel_type.dtype
    values = draw(
        st.lists(st.integers(0, int(np.iinfo(dtype).max)), min_size=int(np.prod(shape)), max_size=int(np.prod(shape)))
    )
    pixels = np.array(values, dtype=dtype).reshape(shape)
    return ia.Image.from_pixels(pixels, ia.Geometry(size=(width, height)), pixel_type)


@settings(max_examples=40)
@given(image=writable_images())
def test_round_trip_keeps_pixels_and_type(tmp_path_factory, image):
    path = tmp_path_factory.mktemp("rt") / "img.png"
    png.write(path, image)
    info, pixels = read(path)
    expected = np.asarray(image)
    if image.components == 1 and image.pixel_type.is_vector:
        expected = expected[..., 0]  # a 1-component vector is stored as gray
        assert info.pixel_type == image.pixel_type.component_type
    else:
        assert info.pixel_type == image.pixel_type
    assert info.components == image.components
    np.testing.assert_array_equal(pixels, expected)


@pytest.mark.sitk
@settings(max_examples=25)
@given(image=writable_images())
def test_files_we_write_read_identically_in_simpleitk(tmp_path_factory, sitk, image):
    path = tmp_path_factory.mktemp("interop") / "img.png"
    png.write(path, image, compress=True)
    info, pixels = read(path)
    if image.components == 2:
        with pytest.raises(RuntimeError):
            sitk.ReadImage(str(path))
        return
    ref = sitk.ReadImage(str(path))
    assert (ref.GetPixelID(), ref.GetNumberOfComponentsPerPixel()) == (info.pixel_type.id, info.components)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(ref), pixels)


@pytest.mark.sitk
@pytest.mark.parametrize(
    ("pixel_id", "components"),
    [
        ("sitkUInt8", 1),
        ("sitkUInt16", 1),
        ("sitkVectorUInt8", 3),
        ("sitkVectorUInt8", 4),
        ("sitkVectorUInt16", 3),
        ("sitkVectorUInt16", 4),
    ],
)
def test_files_simpleitk_writes_read_identically_here(tmp_path, sitk, pixel_id, components):
    rng = np.random.default_rng(components)
    dtype = np.uint16 if "16" in pixel_id else np.uint8
    shape = (7, 9) + ((components,) if "Vector" in pixel_id else ())
    arr = rng.integers(0, np.iinfo(dtype).max, shape, endpoint=True).astype(dtype)
    ref = sitk.GetImageFromArray(arr, isVector="Vector" in pixel_id)
    path = tmp_path / "sitk.png"
    sitk.WriteImage(ref, str(path))
    info, pixels = read(path)
    assert info.pixel_type.id == getattr(sitk, pixel_id)
    np.testing.assert_array_equal(pixels, arr)


def test_region_read_equals_full_read_sliced(testdata):
    path = testdata / "png/skimage_chelsea.png"
    info, full = read(path)
    region = ia.Region(index=(10, 20), size=(30, 5))
    np.testing.assert_array_equal(png.read_region(path, info, region), full[20:25, 10:40])


# -- writing errors and safety ------------------------------------------------


@pytest.mark.parametrize(
    ("image", "words"),
    [
        (ia.Image.zeros((3, 3, 3), ia.PixelType.UInt8), "2D"),
        (ia.Image.zeros((3, 3), ia.PixelType.Int16), "Int16"),
        (ia.Image.zeros((3, 3), ia.PixelType.Float32), "Float32"),
        (ia.Image.zeros((3, 3), ia.PixelType.VectorUInt8, components=5), "components"),
    ],
)
def test_unwritable_images_raise_naming_the_file(tmp_path, image, words):
    path = tmp_path / "bad.png"
    with pytest.raises(ia.ImageIOError, match=words) as err:
        png.write(path, image)
    assert str(path) in str(err.value)
    assert not path.exists()


def test_failed_write_leaves_existing_file_untouched(tmp_path, monkeypatch):
    path = tmp_path / "keep.png"
    png.write(path, ia.Image.zeros((2, 2), ia.PixelType.UInt8))
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(png, "_encode", boom)
    with pytest.raises(RuntimeError):
        png.write(path, ia.Image.zeros((5, 5), ia.PixelType.UInt8))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.png"]


def test_sixteen_bit_colour_without_imagecodecs_names_the_package(tmp_path, monkeypatch):
    path = tmp_path / "c16.png"
    path.write_bytes(make_png(np.zeros((2, 2, 3), np.uint16), 16, 2))
    monkeypatch.setitem(sys.modules, "imagecodecs", None)
    info = png.read_info(path)
    with pytest.raises(ia.ImageIOError, match="pip install imagecodecs"):
        png.read_region(path, info, info.geometry.region)


# -- bad files -------------------------------------------------------------------


def test_empty_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ia.ImageIOError, match="empty"):
        png.read_info(path)


def test_not_a_png(tmp_path, testdata):
    path = tmp_path / "photo.png"
    path.write_bytes((testdata / "jpeg/pillow_hopper_gray.jpg").read_bytes())
    with pytest.raises(ia.ImageIOError, match="not a PNG") as err:
        png.read_info(path)
    assert str(path) in str(err.value)


def test_truncated_file(tmp_path, testdata):
    data = (testdata / "png/skimage_camera.png").read_bytes()
    for cut in (20, 100, len(data) // 2):
        path = tmp_path / f"cut{cut}.png"
        path.write_bytes(data[:cut])
        with pytest.raises(ia.ImageIOError, match="truncated") as err:
            info = png.read_info(path)
            png.read_region(path, info, info.geometry.region)
        assert str(path) in str(err.value)


def test_corrupt_image_data_reads_header_but_not_pixels(tmp_path):
    data = bytearray(make_png(np.arange(64, dtype=np.uint8).reshape(8, 8), 8, 0))
    start = data.index(b"IDAT") + 4
    data[start + 2 : start + 12] = b"\xff" * 10  # corrupt the deflate stream, keep the chunk layout
    path = tmp_path / "corrupt.png"
    path.write_bytes(bytes(data))
    info = png.read_info(path)  # header only: fine
    assert info.size == (8, 8)
    with pytest.raises(ia.ImageIOError) as err:
        png.read_region(path, info, info.geometry.region)
    assert str(path) in str(err.value)


def test_header_claiming_huge_image_is_refused_before_allocating(tmp_path):
    data = bytearray(make_png(np.zeros((2, 2), np.uint8), 8, 0))
    data[16:24] = struct.pack(">II", 60000, 60000)  # 3.6 GB of pixels from a 70-byte file
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path = tmp_path / "bomb.png"
    path.write_bytes(bytes(data))
    with pytest.raises(ia.ImageIOError, match="truncated or its header is corrupt"):
        png.read_info(path)


def test_folder_named_png(tmp_path):
    folder = tmp_path / "dir.png"
    folder.mkdir()
    with pytest.raises(ia.ImageIOError, match="folder"):
        png.read_info(folder)


def test_sniff():
    assert png.sniff(png.SIGNATURE + b"rest")
    assert not png.sniff(b"\xff\xd8\xff\xe0")
    assert not png.sniff(b"")
    assert png.IO.name == "PNGImageIO" and png.IO.claims("A.PNG")


# -- through the registry (ia.read / ia.write) --------------------------------------


@pytest.mark.sitk
@pytest.mark.parametrize("name", PNG_FILES)
def test_ia_read_matches_simpleitk(testdata, sitk, name):
    path = testdata / name
    image = ia.read(path)
    ref = sitk.ReadImage(str(path))
    assert (image.pixel_type.id, image.components, image.size) == (
        ref.GetPixelID(),
        ref.GetNumberOfComponentsPerPixel(),
        ref.GetSize(),
    )
    assert (image.spacing, image.origin, image.direction) == (ref.GetSpacing(), ref.GetOrigin(), ref.GetDirection())
    np.testing.assert_array_equal(np.asarray(image), sitk.GetArrayFromImage(ref))


def test_ia_write_and_read_a_slice_stack(tmp_path):
    vol = ia.from_array(np.arange(3 * 4 * 5, dtype=np.uint16).reshape(3, 4, 5) * 1000)
    names = [tmp_path / f"slice{k}.png" for k in range(3)]
    ia.write(vol, names)
    back = ia.read(names)
    assert (back.pixel_type, back.size) == (ia.PixelType.UInt16, (5, 4, 3))
    np.testing.assert_array_equal(np.asarray(back), np.asarray(vol))


def test_png_content_with_a_jpg_name_reads_as_png(tmp_path, testdata):
    path = tmp_path / "really_a_png.jpg"
    path.write_bytes((testdata / "png/skimage_camera.png").read_bytes())
    assert ia.read_info(path).io == "PNGImageIO"
    with pytest.raises(ia.ImageIOError, match="JPEGImageIO"):
        ia.read(path, io="JPEGImageIO")


def test_ia_write_refuses_what_png_cannot_hold(tmp_path):
    with pytest.raises(ia.ImageIOError, match="Float32"):
        ia.write(ia.Image.zeros((4, 4), ia.PixelType.Float32), tmp_path / "f.png")
    assert list(tmp_path.iterdir()) == []
