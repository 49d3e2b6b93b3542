"""BMP: shared files against SimpleITK (and Pillow where SimpleITK refuses or errs), writing, bad files."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import imalgebra as ia
from imalgebra.io import bmp
from imalgebra.io.base import ImageInfo

SITK_READS = [
    "pillow_bmpsuite_pal8.bmp",
    "pillow_bmpsuite_pal8rle.bmp",
    "pillow_bmpsuite_pal8topdown.bmp",
    "pillow_bmpsuite_rgb24.bmp",
    "pillow_bmpsuite_rgb32.bmp",
]
SITK_REFUSES = [
    "pillow_bmpsuite_pal1.bmp",
    "pillow_bmpsuite_pal4.bmp",
    "pillow_bmpsuite_pal8v5.bmp",
    "pillow_bmpsuite_rgb16-565.bmp",
]


def read(path: Path) -> tuple[ImageInfo, np.ndarray]:
    info = bmp.read_info(path)
    return info, bmp.read_region(path, info, info.geometry.region)


@pytest.mark.sitk
@pytest.mark.parametrize("name", SITK_READS)
def test_shared_file_reads_as_simpleitk(testdata, sitk, name):
    path = testdata / "bmp" / name
    info, pixels = read(path)
    ref = sitk.ReadImage(str(path))
    assert (info.pixel_type.id, info.components, info.size) == (
        ref.GetPixelID(),
        ref.GetNumberOfComponentsPerPixel(),
        ref.GetSize(),
    )
    assert (info.spacing, info.origin, info.direction) == (ref.GetSpacing(), ref.GetOrigin(), ref.GetDirection())
    np.testing.assert_array_equal(pixels, sitk.GetArrayFromImage(ref))


@pytest.mark.parametrize("name", SITK_REFUSES)
def test_files_simpleitk_refuses_read_as_pillow_decodes_them(testdata, name):
    from PIL import Image

    path = testdata / "bmp" / name
    info, pixels = read(path)
    assert (info.pixel_type, info.components) == (ia.PixelType.VectorUInt8, 3)
    with Image.open(path) as im:
        np.testing.assert_array_equal(pixels, np.asarray(im.convert("RGB")))


@pytest.mark.sitk
def test_os2_palette_reads_right_where_simpleitk_gets_colours_wrong(testdata, sitk):
    # bmpsuite stores one picture in every file: pal8os2 (3-byte palette entries) must equal pal8
    _, os2 = read(testdata / "bmp/pillow_bmpsuite_pal8os2.bmp")
    _, pal8 = read(testdata / "bmp/pillow_bmpsuite_pal8.bmp")
    np.testing.assert_array_equal(os2, pal8)
    wrong = sitk.GetArrayFromImage(sitk.ReadImage(str(testdata / "bmp/pillow_bmpsuite_pal8os2.bmp")))
    assert not np.array_equal(wrong, pal8)  # SimpleITK reads 4-byte entries: documented difference


def test_32bit_fourth_byte_is_kept(testdata):
    _, pixels = read(testdata / "bmp/pillow_bmpsuite_rgb32.bmp")
    assert pixels.shape[-1] == 4
    _, rgb24 = read(testdata / "bmp/pillow_bmpsuite_rgb24.bmp")
    np.testing.assert_array_equal(pixels[..., :3], rgb24)


def _bitfields_bmp(pixels_argb: np.ndarray, masks: tuple[int, int, int, int], header: int = 124) -> bytes:
    height, width = pixels_argb.shape
    data = pixels_argb.astype("<u4")[::-1].tobytes()
    dib = struct.pack("<IiiHHIIiiII", header, width, height, 1, 32, 3, len(data), 0, 0, 0, 0)
    dib += struct.pack("<4I", *masks)
    dib = dib.ljust(header, b"\0")
    offset = 14 + header
    return struct.pack("<2sIHHI", b"BM", offset + len(data), 0, 0, offset) + dib + data


def test_32bit_bitfields_with_alpha_mask(tmp_path):
    argb = np.array([[0x80112233, 0xFF445566], [0x00778899, 0x10AABBCC]], np.uint32)
    path = tmp_path / "argb.bmp"
    path.write_bytes(_bitfields_bmp(argb, (0x00FF0000, 0x0000FF00, 0x000000FF, 0xFF000000)))
    _, pixels = read(path)
    assert pixels[0, 0].tolist() == [0x11, 0x22, 0x33, 0x80]
    assert pixels[1, 1].tolist() == [0xAA, 0xBB, 0xCC, 0x10]


# -- writing ---------------------------------------------------------------------------


@st.composite
def bitmaps(draw):
    components = draw(st.sampled_from([1, 3, 4]))
    width, height = draw(st.integers(1, 13)), draw(st.integers(1, 7))
    shape = (height, width) + ((components,) if components > 1 else ())
    values = draw(st.lists(st.integers(0, 255), min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
    return ia.from_array(np.array(values, np.uint8).reshape(shape), is_vector=components > 1)


@settings(max_examples=30)
@given(image=bitmaps())
def test_round_trip(tmp_path_factory, image):
    path = tmp_path_factory.mktemp("bmp") / "a.bmp"
    bmp.write(path, image)
    info, pixels = read(path)
    expected = np.asarray(image)
    if image.components == 1:
        expected = np.repeat(expected[..., None], 3, axis=-1)  # a gray palette reads back as RGB
    assert info.pixel_type == ia.PixelType.VectorUInt8
    np.testing.assert_array_equal(pixels, expected)


@pytest.mark.sitk
@settings(max_examples=20)
@given(image=bitmaps())
def test_files_we_write_read_identically_in_simpleitk(tmp_path_factory, sitk, image):
    path = tmp_path_factory.mktemp("bmp") / "a.bmp"
    bmp.write(path, image)
    info, pixels = read(path)
    ref = sitk.ReadImage(str(path))
    assert (ref.GetPixelID(), ref.GetNumberOfComponentsPerPixel()) == (info.pixel_type.id, info.components)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(ref), pixels)


@pytest.mark.sitk
@pytest.mark.parametrize("components", [1, 3, 4])
def test_files_simpleitk_writes_read_identically_here(tmp_path, sitk, components):
    rng = np.random.default_rng(components)
    arr = rng.integers(0, 256, (5, 7) + ((components,) if components > 1 else ()), dtype=np.uint8)
    path = tmp_path / "s.bmp"
    sitk.WriteImage(sitk.GetImageFromArray(arr, isVector=components > 1), str(path))
    info, pixels = read(path)
    ref = sitk.ReadImage(str(path))
    assert (ref.GetPixelID(), ref.GetNumberOfComponentsPerPixel()) == (info.pixel_type.id, info.components)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(ref), pixels)


@pytest.mark.parametrize(
    ("image", "words"),
    [
        (ia.Image.zeros((3, 3, 2), ia.PixelType.UInt8), "2D"),
        (ia.Image.zeros((3, 3), ia.PixelType.Int16), "Int16"),
        (ia.Image.zeros((3, 3), ia.PixelType.VectorUInt8, components=2), "components"),
    ],
)
def test_unwritable_images_raise_naming_the_file(tmp_path, image, words):
    path = tmp_path / "bad.bmp"
    with pytest.raises(ia.ImageIOError, match=words) as err:
        bmp.write(path, image)
    assert str(path) in str(err.value)


# -- bad files ----------------------------------------------------------------------------


def test_truncated_file(tmp_path, testdata):
    data = (testdata / "bmp/pillow_bmpsuite_rgb24.bmp").read_bytes()
    path = tmp_path / "cut.bmp"
    path.write_bytes(data[:1000])
    with pytest.raises(ia.ImageIOError, match="truncated") as err:
        bmp.read_info(path)
    assert str(path) in str(err.value)


def test_lying_header_is_refused_before_allocating(tmp_path, testdata):
    data = bytearray((testdata / "bmp/pillow_bmpsuite_pal8rle.bmp").read_bytes())
    data[18:26] = struct.pack("<ii", 50000, 50000)  # RLE claims 2.5 G pixels from 9 KB
    path = tmp_path / "bomb.bmp"
    path.write_bytes(bytes(data))
    with pytest.raises(ia.ImageIOError, match="header is corrupt"):
        bmp.read_info(path)


@pytest.mark.parametrize("content", [b"", b"BM", b"BM" + bytes(30), b"hello world, not a bitmap"])
def test_garbage(tmp_path, content):
    path = tmp_path / "bad.bmp"
    path.write_bytes(content)
    with pytest.raises(ia.ImageIOError) as err:
        bmp.read_info(path)
    assert str(path) in str(err.value)


def test_sniff(testdata):
    assert bmp.sniff((testdata / "bmp/pillow_bmpsuite_pal8os2.bmp").read_bytes()[:64])
    assert not bmp.sniff(b"BMxxxxxxxxxxxxxxxxxxxxxxxxxx")
    assert bmp.IO.claims("A.BMP")


# -- through the registry (ia.read / ia.write) --------------------------------------


@pytest.mark.sitk
@pytest.mark.parametrize("name", SITK_READS)
def test_ia_read_matches_simpleitk(testdata, sitk, name):
    path = testdata / "bmp" / name
    image = ia.read(path)
    ref = sitk.ReadImage(str(path))
    assert (image.pixel_type.id, image.components, image.size) == (
        ref.GetPixelID(),
        ref.GetNumberOfComponentsPerPixel(),
        ref.GetSize(),
    )
    assert (image.spacing, image.origin, image.direction) == (ref.GetSpacing(), ref.GetOrigin(), ref.GetDirection())
    np.testing.assert_array_equal(np.asarray(image), sitk.GetArrayFromImage(ref))


def test_ia_write_uint8_reads_back_as_rgb_like_simpleitk(tmp_path):
    image = ia.from_array(np.arange(12, dtype=np.uint8).reshape(3, 4))
    ia.write(image, tmp_path / "g.bmp")
    back = ia.read(tmp_path / "g.bmp")
    assert (back.pixel_type, back.components) == (ia.PixelType.VectorUInt8, 3)
    assert ia.read(tmp_path / "g.bmp", pixel_type=ia.PixelType.UInt8).pixel_type == ia.PixelType.UInt8
