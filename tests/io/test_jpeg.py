"""JPEG: shared files against SimpleITK (exact where the decoders agree), spacing, round trips, bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import imalgebra as ia
from imalgebra.io import jpeg
from imalgebra.io.base import ImageInfo

# name -> subsampled chroma (decoders may upsample differently)
JPEG_FILES = {
    "jpeg/matplotlib_grace_hopper.jpg": True,
    "jpeg/skimage_rocket.jpg": False,
    "jpeg/pillow_hopper_gray.jpg": False,
    "jpeg/pillow_pil_sample_cmyk.jpg": False,
    "jpeg/pillow_jfif_unit_cm.jpg": False,
    "jpeg/pillow_hopper_orientation_6.jpg": True,
}


def read(path: Path) -> tuple[ImageInfo, np.ndarray]:
    info = jpeg.read_info(path)
    return info, jpeg.read_region(path, info, info.geometry.region)


@pytest.mark.sitk
@pytest.mark.parametrize("name", sorted(JPEG_FILES))
def test_shared_file_reads_as_simpleitk(testdata, sitk, name):
    path = testdata / name
    info, pixels = read(path)
    ref = sitk.ReadImage(str(path))
    assert (info.pixel_type.id, info.components, info.size) == (
        ref.GetPixelID(),
        ref.GetNumberOfComponentsPerPixel(),
        ref.GetSize(),
    )
    assert info.spacing == ref.GetSpacing()
    assert info.origin == ref.GetOrigin()
    assert info.direction == ref.GetDirection()
    diff = np.abs(sitk.GetArrayFromImage(ref).astype(int) - pixels)
    if JPEG_FILES[name]:
        # 4:2:0 chroma: libjpeg-turbo (Pillow) and ITK's libjpeg upsample differently
        assert diff.mean() < 1.5
        assert diff.max() <= 64
    else:
        assert diff.max() <= 1
        assert (diff > 0).mean() < 1e-4


def test_pixels_equal_pillows_decoding(testdata):
    from PIL import Image

    path = testdata / "jpeg/matplotlib_grace_hopper.jpg"
    _, pixels = read(path)
    with Image.open(path) as im:
        np.testing.assert_array_equal(pixels, np.asarray(im))


def test_cmyk_becomes_rgb_exactly_as_simpleitk(testdata, sitk):
    path = testdata / "jpeg/pillow_pil_sample_cmyk.jpg"
    _, pixels = read(path)
    np.testing.assert_array_equal(pixels, sitk.GetArrayFromImage(sitk.ReadImage(str(path))))


def test_jfif_density_in_cm_gives_anisotropic_spacing(testdata):
    assert jpeg.read_info(testdata / "jpeg/pillow_jfif_unit_cm.jpg").spacing == (10.0, 5.0)


def test_exif_orientation_is_ignored(testdata):
    info, pixels = read(testdata / "jpeg/pillow_hopper_orientation_6.jpg")
    assert info.size == (128, 128) and pixels.shape == (128, 128, 3)
    from PIL import Image

    with Image.open(testdata / "jpeg/pillow_hopper_orientation_6.jpg") as im:
        np.testing.assert_array_equal(pixels, np.asarray(im))  # stored order, not rotated


# -- writing -----------------------------------------------------------------------


@st.composite
def photos(draw):
    components = draw(st.sampled_from([1, 3]))
    width, height = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    base = draw(st.integers(0, 255))
    y, x = np.mgrid[0:height, 0:width]
    gray = ((base + 3 * x + 5 * y) % 256).astype(np.uint8)  # smooth enough for JPEG
    pixels = gray if components == 1 else np.stack([gray, 255 - gray, gray // 2], axis=-1)
    # pairs that one JFIF unit holds exactly (a mixed pair is rounded to whole dots per inch or cm)
    spacing = draw(
        st.sampled_from(
            [(0.1, 0.2), (0.25, 0.5), (0.5, 2.0), (1.0, 1.0), (25.4 / 72, 25.4 / 72), (25.4 / 300, 25.4 / 150)]
        )
    )
    image = ia.from_array(pixels, is_vector=components == 3)
    return image.with_spacing(spacing)


@settings(max_examples=20)
@given(image=photos())
def test_round_trip_is_close_and_keeps_type_size_and_spacing(tmp_path_factory, image):
    path = tmp_path_factory.mktemp("jpg") / "a.jpg"
    jpeg.write(path, image)
    info, pixels = read(path)
    assert (info.pixel_type, info.components, info.size) == (image.pixel_type, image.components, image.size)
    np.testing.assert_allclose(info.spacing, image.spacing, rtol=1e-6)
    assert np.abs(pixels.astype(int) - np.asarray(image)).mean() < 6


@pytest.mark.sitk
@settings(max_examples=15)
@given(image=photos())
def test_files_we_write_read_the_same_in_simpleitk(tmp_path_factory, sitk, image):
    path = tmp_path_factory.mktemp("jpg") / "a.jpg"
    jpeg.write(path, image)
    info, pixels = read(path)
    ref = sitk.ReadImage(str(path))
    assert ref.GetPixelID() == info.pixel_type.id
    np.testing.assert_allclose(ref.GetSpacing(), info.spacing, rtol=1e-12)
    assert np.abs(sitk.GetArrayFromImage(ref).astype(int) - pixels).max() <= 1  # 4:4:4: no upsampling


@pytest.mark.sitk
def test_spacing_half_mm_survives_where_simpleitk_loses_it(tmp_path, sitk):
    image = ia.Image.zeros((8, 8), ia.PixelType.UInt8, spacing=(0.5, 0.5))
    ours = tmp_path / "ours.jpg"
    jpeg.write(ours, image)
    assert sitk.ReadImage(str(ours)).GetSpacing() == (0.5, 0.5)  # stored as 20 dots/cm, unit 2
    theirs = tmp_path / "theirs.jpg"
    sitk.WriteImage(_sitk_half(sitk), str(theirs))
    assert jpeg.read_info(theirs).spacing == (1.0, 1.0)  # SimpleITK wrote density unit 0


def _sitk_half(sitk):
    img = sitk.Image(8, 8, sitk.sitkUInt8)
    img.SetSpacing((0.5, 0.5))
    return img


@pytest.mark.sitk
@pytest.mark.parametrize("vector", [False, True])
def test_files_simpleitk_writes_read_here(tmp_path, sitk, vector):
    y, x = np.mgrid[0:16, 0:20]
    arr = ((x * 7 + y * 3) % 256).astype(np.uint8)
    if vector:
        arr = np.stack([arr, arr // 2, 255 - arr], axis=-1)
    ref = sitk.GetImageFromArray(arr, isVector=vector)
    ref.SetSpacing((25.4 / 300, 25.4 / 300))
    path = tmp_path / "s.jpg"
    sitk.WriteImage(ref, str(path))
    info, pixels = read(path)
    back = sitk.ReadImage(str(path))
    assert info.pixel_type.id == back.GetPixelID()
    assert info.spacing == back.GetSpacing()
    assert np.abs(sitk.GetArrayFromImage(back).astype(int) - pixels).mean() < 1.5


@pytest.mark.parametrize(
    ("image", "words"),
    [
        (ia.Image.zeros((3, 3, 2), ia.PixelType.UInt8), "2D"),
        (ia.Image.zeros((3, 3), ia.PixelType.UInt16), "UInt16"),
        (ia.Image.zeros((3, 3), ia.PixelType.VectorUInt8, components=4), "components"),
    ],
)
def test_unwritable_images_raise_naming_the_file(tmp_path, image, words):
    path = tmp_path / "bad.jpg"
    with pytest.raises(ia.ImageIOError, match=words) as err:
        jpeg.write(path, image)
    assert str(path) in str(err.value)
    assert not path.exists()


def test_mixed_spacing_is_rounded_to_whole_dots(tmp_path):
    path = tmp_path / "mixed.jpg"
    jpeg.write(path, ia.Image.zeros((4, 4), ia.PixelType.UInt8, spacing=(25.4 / 72, 0.5)))
    np.testing.assert_allclose(jpeg.read_info(path).spacing, (25.4 / 72, 0.5), rtol=0.02)


def test_unrepresentable_spacing_writes_aspect_only(tmp_path):
    path = tmp_path / "tiny.jpg"
    jpeg.write(path, ia.Image.zeros((4, 4), ia.PixelType.UInt8, spacing=(1e-6, 1e-6)))
    assert jpeg.read_info(path).spacing == (1.0, 1.0)


# -- bad files ------------------------------------------------------------------------


def test_truncated_file_raises_naming_it(tmp_path, testdata):
    data = (testdata / "jpeg/skimage_rocket.jpg").read_bytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(ia.ImageIOError, match="truncated") as err:
        read(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("content", [b"", b"not a jpeg at all", b"\xff\xd8\xff\xe0\x00\x10JFIF"])
def test_garbage_raises_image_io_error(tmp_path, content):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(ia.ImageIOError) as err:
        read(path)
    assert str(path) in str(err.value)


def test_png_named_jpg_is_refused(tmp_path, testdata):
    path = tmp_path / "photo.jpg"
    path.write_bytes((testdata / "png/skimage_camera.png").read_bytes())
    with pytest.raises(ia.ImageIOError, match="not a readable JPEG"):
        jpeg.read_info(path)


def test_sniff():
    assert jpeg.sniff(b"\xff\xd8\xff\xdb")
    assert not jpeg.sniff(b"\xff\xd8")
    assert jpeg.IO.claims("x.JPEG") and jpeg.IO.claims("x.jpg")


# -- through the registry (ia.read / ia.write) --------------------------------------


@pytest.mark.sitk
@pytest.mark.parametrize("name", sorted(JPEG_FILES))
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
    diff = np.abs(np.asarray(image).astype(int) - sitk.GetArrayFromImage(ref))
    assert diff.mean() < (1.5 if JPEG_FILES[name] else 1e-3)


def test_ia_read_region_and_pixel_type(testdata):
    path = testdata / "jpeg/skimage_rocket.jpg"
    full = ia.read(path)
    part = ia.read(path, index=(10, 20), size=(30, 40))
    np.testing.assert_array_equal(np.asarray(part), np.asarray(full)[20:60, 10:40])
    assert part.origin == pytest.approx(full.index_to_physical((10, 20)))
    assert ia.read(path, pixel_type=ia.PixelType.VectorFloat32).pixel_type == ia.PixelType.VectorFloat32


def test_ia_write_a_slice_stack(tmp_path):
    vol = ia.from_array(np.full((2, 8, 8), 120, np.uint8))
    names = [tmp_path / f"s{k}.jpg" for k in range(2)]
    ia.write(vol, names)
    assert np.abs(np.asarray(ia.read(names)).astype(int) - 120).max() <= 1
