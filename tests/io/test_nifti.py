"""NIfTI: every shared file reads as SimpleITK reads it; files go both ways with SimpleITK;
region reads read only the region; bad files raise ImageIOError naming the file."""

from __future__ import annotations

import gzip
import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import imalgebra as ia
from imalgebra.io import nifti

NIFTI_FILES = [
    "nifti/dipy_aniso_vox.nii.gz",
    "nifti/dipy_small_25.nii.gz",
    "nifti/dipy_small_64D.nii",
    "nifti/nibabel_anatomical.nii",
    "nifti/nibabel_doc_someones_epi.nii.gz",
    "nifti/nibabel_example4d.nii.gz",
    "nifti/nibabel_reoriented_anat_moved.nii",
    "nifti/nibabel_standard.nii.gz",
    "nifti/niftilib_5d_qform_ne_sform.nii.gz",
    "nifti/nilearn_image_10426.nii.gz",
    "itk_examples/KmeansTest_T1UCharRaw.nii.gz",
]

# SimpleITK shows these two as a placeholder string ('[UNKNOWN_PRINT_CHARACTERISTICS]'); we give numbers.
NOT_COMPARED = {"qfac", "qto_xyz", "ITK_original_direction", "ITK_original_spacing"}

WRITABLE = [t for t in ia.PixelType if t is not ia.PixelType.Unknown and not t.is_label]


def read(path):
    info = nifti.read_info(path)
    return info, nifti.read_region(path, info, info.geometry.region)


def assert_same_as_sitk(info, array, image, *, atol=1e-6):
    sitk = pytest.importorskip("SimpleITK")
    expected = sitk.GetArrayFromImage(image)
    assert info.size == image.GetSize()
    assert info.pixel_type.id == image.GetPixelID()
    assert info.components == image.GetNumberOfComponentsPerPixel()
    np.testing.assert_allclose(info.origin, image.GetOrigin(), atol=atol, rtol=0)
    np.testing.assert_allclose(info.spacing, image.GetSpacing(), atol=atol, rtol=0)
    np.testing.assert_allclose(info.direction, image.GetDirection(), atol=atol, rtol=0)
    assert array.dtype == expected.dtype
    np.testing.assert_array_equal(array, expected)


def sample(pixel_type, shape, rng):
    dtype = pixel_type.dtype
    if pixel_type.is_complex:
        return (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(dtype)
    if dtype.kind == "f":
        return rng.normal(size=shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)


ROTATION = np.array([[0.8660254037844386, -0.5, 0.0], [0.5, 0.8660254037844386, 0.0], [0.0, 0.0, 1.0]])


def oblique_geometry(size):
    d = len(size)
    direction = np.eye(d)
    k = min(d, 3)
    direction[:k, :k] = ROTATION[:k, :k] if k == 3 else ROTATION[:2, :2]
    return ia.Geometry(
        size=size,
        origin=(1.5, -2.25, 3.0, 4.0, 5.0)[:d],
        spacing=(0.5, 0.75, 2.0, 3.0, 1.5)[:d],
        direction=direction.ravel(),
    )


# -- shared files ---------------------------------------------------------------------------------------------


@pytest.mark.sitk
@pytest.mark.parametrize("name", NIFTI_FILES)
def test_shared_file_reads_as_simpleitk_reads_it(testdata, sitk, name):
    path = testdata / name
    info, array = read(path)
    sitk.ProcessObject_SetGlobalWarningDisplay(False)
    image = sitk.ReadImage(str(path))
    assert_same_as_sitk(info, array, image)
    expected = {k: image.GetMetaData(k) for k in image.GetMetaDataKeys() if k not in NOT_COMPARED}
    assert {k: v for k, v in info.metadata.items() if k not in NOT_COMPARED} == expected


def test_nifti2_file_matches_nibabel(testdata):
    nib = pytest.importorskip("nibabel")
    path = testdata / "nifti/nibabel_example_nifti2.nii.gz"
    info, array = read(path)
    img = nib.load(str(path))
    assert info.size == (32, 20, 12, 2) and info.pixel_type is ia.PixelType.Int16
    np.testing.assert_array_equal(array, np.asarray(img.dataobj).T)
    affine = img.header.get_sform()  # sform code 1: ITK's rule prefers it
    lps = np.diag([-1.0, -1.0, 1.0]) @ affine[:3, :3]
    direction = np.asarray(info.direction).reshape(4, 4)[:3, :3]
    np.testing.assert_allclose(direction * np.asarray(info.spacing[:3]), lps, atol=1e-5)
    np.testing.assert_allclose(info.origin[:3], [-affine[0, 3], -affine[1, 3], affine[2, 3]], atol=1e-5)
    assert info.spacing[3] == 2000.0
    assert info.metadata["nifti_type"] == "3"


def test_sheared_sform_that_simpleitk_refuses_is_read_as_it_is(testdata):
    """ITK: 'No orthonormal definition found' (qform code 0, sheared sform); we keep the affine."""
    nib = pytest.importorskip("nibabel")
    path = testdata / "nifti/dipy_S0_10slices.nii.gz"
    info, array = read(path)
    img = nib.load(str(path))
    assert info.size == (128, 128, 10)
    matrix = np.asarray(info.direction).reshape(3, 3) * np.asarray(info.spacing)
    np.testing.assert_allclose(matrix, np.diag([-1.0, -1.0, 1.0]) @ img.affine[:3, :3], atol=1e-4)
    np.testing.assert_array_equal(array, np.asarray(img.dataobj)[..., 0].T)


def test_5d_file_uses_the_sform_and_reads_float32_after_rescale(testdata):
    info, array = read(testdata / "nifti/niftilib_5d_qform_ne_sform.nii.gz")
    assert info.size == (23, 17, 11, 7, 3)
    assert info.pixel_type is ia.PixelType.Float32  # int32 on disk, scl_slope 0.25: SimpleITK reports float
    assert info.direction[:3] == (-1.0, 0.0, 0.0)
    assert info.spacing == (0.25, 0.5, 1.0, 2.0, 4.0)
    assert array.dtype == np.float32


# -- both ways with SimpleITK ---------------------------------------------------------------------------------


@pytest.mark.sitk
@pytest.mark.parametrize("ext", [".nii", ".nii.gz"])
@pytest.mark.parametrize("pixel_type", WRITABLE, ids=lambda t: t.name)
def test_round_trip_both_ways_with_simpleitk(tmp_path, sitk, ext, pixel_type):
    rng = np.random.default_rng(pixel_type.id)
    for size in ((5, 4), (5, 4, 3), (5, 4, 3, 2)):
        shape = size[::-1] + ((3,) if pixel_type.is_vector else ())
        array = sample(pixel_type, shape, rng)
        geometry = oblique_geometry(size)
        image = ia.Image.from_pixels(array, geometry, pixel_type)
        ours = tmp_path / f"ours{len(size)}{ext}"  # distinct stems: SimpleITK opens x.nii when asked for x.nii.gz
        nifti.write(ours, image)
        assert_same_as_sitk(geometry_info(geometry, pixel_type, image.components), array, sitk.ReadImage(str(ours)))

        theirs = sitk.GetImageFromArray(array, isVector=pixel_type.is_vector)
        theirs.SetOrigin(geometry.origin)
        theirs.SetSpacing(geometry.spacing)
        theirs.SetDirection(geometry.direction)
        path = tmp_path / f"theirs{len(size)}{ext}"
        sitk.WriteImage(theirs, str(path))
        info, back = read(path)
        assert_same_as_sitk(info, back, theirs)


def geometry_info(geometry, pixel_type, components):
    return nifti.ImageInfo(geometry=geometry, pixel_type=pixel_type, components=components)


@pytest.mark.sitk
def test_5d_round_trip_with_simpleitk(tmp_path, sitk):
    array = np.arange(2 * 3 * 4 * 5 * 6, dtype=np.int16).reshape(2, 3, 4, 5, 6)
    image = ia.Image.from_pixels(array, oblique_geometry((6, 5, 4, 3, 2)))
    with pytest.raises(ia.ImageIOError, match="5th"):
        nifti.write(tmp_path / "five.nii", image)  # NIfTI has no place for origin[4]
    image = image.with_origin((*image.origin[:4], 0.0))
    nifti.write(tmp_path / "five.nii", image)
    theirs = sitk.ReadImage(str(tmp_path / "five.nii"))
    assert_same_as_sitk(geometry_info(image.geometry, image.pixel_type, 1), array, theirs)


@pytest.mark.sitk
def test_header_written_like_simpleitk(tmp_path, sitk):
    """Same header fields as SimpleITK writes, within one float32 rounding for the quaternion and sform."""
    rng = np.random.default_rng(3)
    for k in range(20):
        q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        if k % 2:
            q[:, 0] *= -1  # left-handed: qfac -1
        geometry = ia.Geometry(size=(3, 4, 5), origin=rng.normal(size=3) * 100, spacing=rng.uniform(0.3, 3, 3),
                               direction=q.ravel())  # fmt: skip
        nifti.write(tmp_path / "ours.nii", ia.Image.zeros(geometry.size, ia.PixelType.UInt8).with_geometry(geometry))
        theirs = sitk.Image(geometry.size, sitk.sitkUInt8)
        theirs.SetOrigin(geometry.origin)
        theirs.SetSpacing(geometry.spacing)
        theirs.SetDirection(geometry.direction)
        sitk.WriteImage(theirs, str(tmp_path / "theirs.nii"))
        layout = nifti._dtype(nifti._N1_FIELDS, "<")
        a = np.frombuffer((tmp_path / "ours.nii").read_bytes()[:348], layout)[0]
        b = np.frombuffer((tmp_path / "theirs.nii").read_bytes()[:348], layout)[0]
        for name in layout.names:
            if a[name].dtype.kind == "S":
                assert a[name] == b[name], name
            else:
                np.testing.assert_allclose(a[name], b[name], atol=3e-7, rtol=0, err_msg=name)


def nib_header(nib, data, rng):
    """A NIfTI-1 header with random qform/sform codes and affines (nibabel builds it, SimpleITK reads it)."""
    header = nib.Nifti1Header()
    zooms = rng.uniform(0.5, 3, size=data.ndim)
    header.set_data_shape(data.shape)
    header.set_zooms(zooms)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    if rng.random() < 0.3:
        q = np.eye(3)[rng.permutation(3)] * rng.choice([-1, 1], size=3)
    affine = np.eye(4)
    affine[:3, :3] = q * zooms[:3]
    affine[:3, 3] = rng.normal(size=3) * 50
    sform = affine.copy()
    mode = rng.choice(["same", "other", "shear", "scale"])
    if mode == "other":
        q2, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        sform[:3, :3] = q2 * zooms[:3]
    elif mode == "shear":
        sform[0, 1] += 0.5
    elif mode == "scale":
        sform[:3, :3] *= 1.5
    header.set_qform(affine, code=int(rng.choice([0, 1, 2, 3, 4])))
    header.set_sform(sform, code=int(rng.choice([0, 1, 2, 3, 4])))
    if rng.random() < 0.2:
        header["pixdim"][1] *= -1
    if rng.random() < 0.3:
        header.set_xyzt_units(str(rng.choice(["meter", "mm", "micron"])), str(rng.choice(["sec", "msec", "usec"])))
    header["scl_slope"], header["scl_inter"] = (rng.choice([0.5, 2.0, 0.0, 1.0]), 3.0) if rng.random() < 0.3 else (1, 0)
    return header


@pytest.mark.sitk
def test_qform_sform_rules_match_simpleitk_on_random_headers(tmp_path, sitk):
    """Codes, affines that agree or not, shears, scales, negative pixdim, units, scaling: as ITK decides.

    (Not covered: qform and sform that differ by 1e-7..1e-4 with both codes set and the sform
    code not 1; there ITK's choice hangs on the signs of an SVD and flips from file to file.)
    """
    nib = pytest.importorskip("nibabel")
    sitk.ProcessObject_SetGlobalWarningDisplay(False)
    rng = np.random.default_rng(5)
    compared = 0
    for k in range(80):
        data = rng.integers(0, 100, size=(3, 4, 5) if k % 4 else (3, 4, 5, 2)).astype(np.int16)
        header = nib_header(nib, data, rng)
        path = tmp_path / f"h{k}.nii"
        nib.save(nib.Nifti1Image(data, None, header), str(path))
        try:
            theirs = sitk.ReadImage(str(path))
        except RuntimeError:  # "No orthonormal definition found": checked in the sheared-sform test
            continue
        info, array = read(path)
        assert_same_as_sitk(info, array, theirs, atol=2e-6)
        compared += 1
    assert compared > 50


@pytest.mark.sitk
@pytest.mark.parametrize(
    ("dtype", "slope", "inter", "expected"),
    [
        ("int16", 2.0, 1.0, ia.PixelType.Float32),
        ("uint8", 0.37, 7.7, ia.PixelType.Float32),
        ("int32", 0.3, 1.7, ia.PixelType.Float32),
        ("float64", 2.0, 1.0, ia.PixelType.Float64),
        ("int16", 0.0, 5.0, ia.PixelType.Float32),  # slope 0 counts as 1; the intercept still applies
        ("int16", 1.0, 0.0, ia.PixelType.Int16),
    ],
)
def test_scl_slope_and_inter_as_simpleitk(tmp_path, sitk, dtype, slope, inter, expected):
    nib = pytest.importorskip("nibabel")
    rng = np.random.default_rng(0)
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    data = rng.integers(info.min, info.max, size=(4, 3, 2)).astype(dtype) if info else rng.normal(size=(4, 3, 2))
    img = nib.Nifti1Image(data, np.eye(4))
    img.header["scl_slope"], img.header["scl_inter"] = slope, inter
    path = tmp_path / "scaled.nii"
    nib.save(img, str(path))
    found, array = read(path)
    assert found.pixel_type is expected
    assert_same_as_sitk(found, array, sitk.ReadImage(str(path)))


@pytest.mark.sitk
def test_rgb24_reads_as_vector_uint8_like_simpleitk(tmp_path, sitk):
    nib = pytest.importorskip("nibabel")
    values = np.random.default_rng(0).integers(0, 255, size=(4, 3, 2, 3)).astype(np.uint8)
    rgb = np.zeros((4, 3, 2), dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
    rgb["R"], rgb["G"], rgb["B"] = values[..., 0], values[..., 1], values[..., 2]
    nib.save(nib.Nifti1Image(rgb, np.diag([2.0, 3.0, 4.0, 1.0])), str(tmp_path / "rgb.nii"))
    info, array = read(tmp_path / "rgb.nii")
    assert info.pixel_type is ia.PixelType.VectorUInt8 and info.components == 3
    assert_same_as_sitk(info, array, sitk.ReadImage(str(tmp_path / "rgb.nii")))


def test_vector_intent_with_scaling_reads_vector_float32(tmp_path):
    """(SimpleITK 2.5.7 crashes with free(): invalid pointer on this file; nibabel is the oracle.)"""
    nib = pytest.importorskip("nibabel")
    data = np.random.default_rng(1).integers(0, 100, size=(4, 3, 2, 1, 3)).astype(np.int16)
    img = nib.Nifti1Image(data, np.eye(4))
    img.header.set_intent("vector")
    img.header.set_slope_inter(2.0, 1.0)
    nib.save(img, str(tmp_path / "vec.nii"))
    info, array = read(tmp_path / "vec.nii")
    assert info.pixel_type is ia.PixelType.VectorFloat32 and info.size == (4, 3, 2)
    expected = np.asarray(nib.load(str(tmp_path / "vec.nii")).dataobj)[:, :, :, 0, :].transpose(2, 1, 0, 3)
    np.testing.assert_array_equal(array, expected.astype(np.float32))


def test_symmetric_matrix_intent_reads_in_itk_component_order(tmp_path):
    """NIfTI stores the lower triangle row by row (xx, xy, yy, xz, yz, zz); ITK the upper (xx, xy, xz, yy, yz, zz)."""
    nib = pytest.importorskip("nibabel")
    data = np.broadcast_to(np.arange(6, dtype=np.float32), (2, 2, 2, 1, 6)).copy()
    img = nib.Nifti1Image(data, np.eye(4))
    img.header.set_intent("symmetric matrix")
    nib.save(img, str(tmp_path / "sym.nii"))
    info, array = read(tmp_path / "sym.nii")
    assert info.pixel_type is ia.PixelType.VectorFloat32 and info.components == 6
    assert array[0, 0, 0].tolist() == [0, 1, 3, 2, 4, 5]


@pytest.mark.sitk
def test_two_file_pair_written_by_simpleitk(tmp_path, sitk):
    array = np.arange(60, dtype=np.int16).reshape(3, 4, 5)
    theirs = sitk.GetImageFromArray(array)
    theirs.SetOrigin((1.0, 2.0, 3.0))
    theirs.SetSpacing((0.5, 1.0, 2.0))
    sitk.WriteImage(theirs, str(tmp_path / "pair.hdr"))
    assert (tmp_path / "pair.img").exists()
    info, back = read(tmp_path / "pair.hdr")
    assert_same_as_sitk(info, back, theirs)
    assert info.metadata["nifti_type"] == "2"


def test_reads_the_gz_file_it_is_given_even_beside_a_nii(tmp_path):
    """SimpleITK 2.5.7 opens x.nii when asked for x.nii.gz if both exist; we read the file named."""
    nifti.write(tmp_path / "x.nii", ia.Image.zeros((2, 2), ia.PixelType.UInt8))
    nifti.write(tmp_path / "x.nii.gz", ia.from_array(np.ones((2, 2), np.uint8)))
    assert read(tmp_path / "x.nii.gz")[1].tolist() == [[1, 1], [1, 1]]


# -- our own round trips ---------------------------------------------------------------------------------------


@st.composite
def nifti_images(draw):
    dimension = draw(st.integers(2, 4))
    pixel_type = draw(st.sampled_from(WRITABLE))
    if pixel_type.is_vector and dimension > 4:
        dimension = 4
    size = tuple(draw(st.lists(st.integers(1, 5), min_size=dimension, max_size=dimension)))
    f32 = st.floats(-1000, 1000, width=32, allow_subnormal=False)
    origin = draw(st.lists(f32, min_size=dimension, max_size=dimension))
    spacing = draw(st.lists(st.floats(2**-6, 100, width=32), min_size=dimension, max_size=dimension))
    k = min(dimension, 3)
    angles = draw(st.lists(st.floats(-np.pi, np.pi), min_size=3, max_size=3))
    a, b, c = angles
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    ry = np.array([[np.cos(c), 0, np.sin(c)], [0, 1, 0], [-np.sin(c), 0, np.cos(c)]])
    rotation = rz @ rx @ ry if k == 3 else rz[:2, :2]
    if draw(st.booleans()):
        rotation = rotation @ np.diag([-1.0] + [1.0] * (k - 1))
    direction = np.eye(dimension)
    direction[:k, :k] = rotation
    components = draw(st.integers(1, 4)) if pixel_type.is_vector else 1
    shape = size[::-1] + ((components,) if pixel_type.is_vector else ())
    seed = draw(st.integers(0, 2**32 - 1))
    array = sample(pixel_type, shape, np.random.default_rng(seed))
    geometry = ia.Geometry(size=size, origin=origin, spacing=spacing, direction=direction.ravel())
    return ia.Image.from_pixels(array, geometry, pixel_type)


@given(image=nifti_images(), gz=st.booleans())
def test_round_trip_keeps_pixels_type_and_geometry(tmp_path_factory, image, gz):
    # as ITK reads NIfTI: trailing axes of size 1 beyond z (beyond y for vector images) are dropped
    assume(image.size[-1] > 1 or image.dimension <= (2 if image.pixel_type.is_vector else 3))
    path = tmp_path_factory.mktemp("rt") / ("img.nii.gz" if gz else "img.nii")
    nifti.write(path, image)
    info, array = read(path)
    assert info.pixel_type is image.pixel_type and info.components == image.components
    assert info.size == image.size
    np.testing.assert_array_equal(array, np.asarray(image))
    # NIfTI stores geometry as float32: about 7 significant digits
    np.testing.assert_allclose(info.origin, image.origin, rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(info.spacing, image.spacing, rtol=1e-6)
    np.testing.assert_allclose(info.direction, image.direction, atol=1e-6)


def test_description_and_aux_file_are_kept_other_metadata_is_not(tmp_path):
    image = ia.Image.zeros(
        (2, 2), ia.PixelType.UInt8, metadata={"ITK_FileNotes": "hello", "aux_file": "a.txt", "k": "v"}
    )
    nifti.write(tmp_path / "m.nii", image)
    metadata = nifti.read_info(tmp_path / "m.nii").metadata
    assert metadata["descrip"] == metadata["ITK_FileNotes"] == "hello"
    assert metadata["aux_file"] == "a.txt"
    assert "k" not in metadata
    assert (metadata["qform_code"], metadata["sform_code"]) == ("1", "1")


def test_displacement_intent_is_kept(tmp_path):
    image = ia.Image.zeros((2, 2, 2), ia.PixelType.VectorFloat32, components=3, metadata={"intent_code": "1006"})
    nifti.write(tmp_path / "d.nii", image)
    assert nifti.read_info(tmp_path / "d.nii").metadata["intent_code"] == "1006"


# -- region reads ----------------------------------------------------------------------------------------------


@st.composite
def regions(draw, size):
    index = [draw(st.integers(0, s - 1)) for s in size]
    extent = [draw(st.integers(1, s - i)) for s, i in zip(size, index, strict=True)]
    return ia.Region(index=index, size=extent)


@pytest.fixture(scope="module")
def volumes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("regions")
    rng = np.random.default_rng(7)
    out = {}
    for name, pixel_type, size, components in [
        ("scalar", ia.PixelType.Int16, (9, 7, 5), 1),
        ("vector", ia.PixelType.VectorFloat32, (6, 5, 4), 3),
        ("time", ia.PixelType.UInt8, (5, 4, 3, 3), 1),
    ]:
        shape = size[::-1] + ((components,) if pixel_type.is_vector else ())
        image = ia.Image.from_pixels(sample(pixel_type, shape, rng), ia.Geometry(size=size), pixel_type)
        for ext in (".nii", ".nii.gz"):
            path = folder / f"{name}{ext}"
            nifti.write(path, image)
            out[name, ext] = (path, np.asarray(image))
    return out


@pytest.mark.parametrize("ext", [".nii", ".nii.gz"])
@pytest.mark.parametrize("name", ["scalar", "vector", "time"])
@given(data=st.data())
def test_region_read_equals_full_read_sliced(volumes, name, ext, data):
    path, full = volumes[name, ext]
    info = nifti.read_info(path)
    region = data.draw(regions(info.size))
    np.testing.assert_array_equal(nifti.read_region(path, info, region), full[region.slices])


class CountingFile:
    def __init__(self, f, counter):
        self.f, self.counter = f, counter

    def readinto(self, buffer):
        n = self.f.readinto(buffer)
        self.counter["bytes"] += n or 0
        self.counter["reads"] += 1
        return n

    def read(self, n=-1):
        data = self.f.read(n)
        self.counter["bytes"] += len(data)
        self.counter["reads"] += 1
        return data

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


@pytest.fixture
def counter(monkeypatch):
    """Counts the bytes read through nifti's opener (the row-reading path: memory maps are off)."""
    counts = {"bytes": 0, "reads": 0}
    real = nifti._open
    monkeypatch.setattr(nifti, "_open", lambda path: CountingFile(real(path), counts))
    monkeypatch.setattr(nifti, "_USE_MMAP", False)
    return counts


LIMITED = """
import os, resource, sys
import numpy as np
import imalgebra as ia
from imalgebra.io import nifti
path = sys.argv[1]
info = nifti.read_info(path)
with open("/proc/self/statm") as f:
    used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
limit = used + (512 << 20)  # the 4 GiB file cannot fit in what is left
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
part = ia.read(path, index=(1000, 1000, 300), size=(64, 64, 64))
assert part.size == (64, 64, 64) and int(np.asarray(part)[10, 20, 30]) == 0
try:
    ia.read(path)
except MemoryError:
    print("region ok, full read refused")
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux to limit the address space")
def test_region_of_a_file_larger_than_the_memory_allowed(tmp_path):
    """A 4 GiB file (sparse), a process allowed 512 MiB more than it uses: the region reads, the whole does not."""
    import subprocess
    import sys

    info = nifti.ImageInfo(geometry=ia.Geometry(size=(2048, 2048, 512)), pixel_type=ia.PixelType.Int16)
    header = nifti._build_header("big.nii", info)
    path = tmp_path / "big.nii"
    with open(path, "wb") as f:
        f.write(header)
        f.truncate(len(header) + 2048 * 2048 * 512 * 2)
    run = subprocess.run([sys.executable, "-c", LIMITED, str(path)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "region ok, full read refused" in run.stdout


def test_region_read_of_uncompressed_file_reads_only_the_region(tmp_path, counter):
    size = (8192, 32, 16)  # rows of 16 KiB: the gaps between a region's rows are too wide to merge
    image = ia.Image.zeros(size, ia.PixelType.Int16).with_pixel((100, 10, 5), 7)
    nifti.write(tmp_path / "big.nii", image)
    file_size = os.path.getsize(tmp_path / "big.nii")
    info = nifti.read_info(tmp_path / "big.nii")
    header_bytes = counter["bytes"]
    assert header_bytes <= 540  # the header only
    region = ia.Region(index=(90, 8, 4), size=(64, 16, 4))
    part = nifti.read_region(tmp_path / "big.nii", info, region)
    assert part[1, 2, 10] == 7
    pixel_bytes = counter["bytes"] - 2 * header_bytes
    assert pixel_bytes == 64 * 16 * 4 * 2  # exactly the region's pixels
    assert pixel_bytes < file_size / 500


def test_region_read_merges_close_rows(tmp_path, counter):
    """Rows 1 KiB apart are read as one span per slice: few reads, bytes bounded by the slice span."""
    nifti.write(tmp_path / "m.nii", ia.Image.zeros((512, 64, 64), ia.PixelType.Int16))
    info = nifti.read_info(tmp_path / "m.nii")
    counter.update(bytes=0, reads=0)
    nifti.read_region(tmp_path / "m.nii", info, ia.Region(index=(10, 10, 10), size=(32, 32, 8)))
    assert counter["reads"] <= 8 + 2  # one read per z slice (+ the header)
    assert counter["bytes"] <= 540 + 8 * (31 * 1024 + 64)


def test_header_only_read_touches_no_pixel(tmp_path, counter):
    nifti.write(tmp_path / "h.nii", ia.Image.zeros((256, 256, 16), ia.PixelType.Float32))
    nifti.read_info(tmp_path / "h.nii")
    assert counter["bytes"] <= 540


# -- streamed writing ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pixel_type", [ia.PixelType.Int16, ia.PixelType.VectorUInt8])
@pytest.mark.parametrize("ext", [".nii", ".nii.gz"])
def test_streamed_writer(tmp_path, ext, pixel_type):
    size = (6, 5, 4)
    components = 3 if pixel_type.is_vector else 1
    shape = size[::-1] + ((components,) if pixel_type.is_vector else ())
    array = sample(pixel_type, shape, np.random.default_rng(0))
    geometry = oblique_geometry(size)
    info = nifti.ImageInfo(geometry=geometry, pixel_type=pixel_type, components=components)
    path = tmp_path / f"s{ext}"
    writer = nifti.open_writer(path, info)
    slabs = [ia.Region(index=(0, 0, z), size=(6, 5, 1)) for z in range(4)]
    if writer.order == "any":
        slabs = slabs[::-1]
    for region in slabs:
        writer.write(region, array[region.slices])
        assert not path.exists()
    writer.commit()
    found, back = read(path)
    np.testing.assert_array_equal(back, array)
    assert found.geometry.same_space(geometry, coordinate=1e-5)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_streamed_writer_any_order_takes_small_boxes(tmp_path):
    array = np.arange(4 * 5 * 6, dtype=np.int32).reshape(4, 5, 6)
    info = nifti.ImageInfo(geometry=ia.Geometry(size=(6, 5, 4)), pixel_type=ia.PixelType.Int32)
    writer = nifti.open_writer(tmp_path / "b.nii", info)
    for x in (3, 0):
        for y in (0, 2):
            region = ia.Region(index=(x, y, 0), size=(3, 3 if y == 2 else 2, 4))
            writer.write(region, array[region.slices])
    writer.commit()
    np.testing.assert_array_equal(read(tmp_path / "b.nii")[1], array)


def test_gz_stream_refuses_out_of_order_slabs_and_abort_leaves_nothing(tmp_path):
    info = nifti.ImageInfo(geometry=ia.Geometry(size=(4, 4, 4)), pixel_type=ia.PixelType.UInt8)
    writer = nifti.open_writer(tmp_path / "o.nii.gz", info)
    assert writer.order == "slabs"
    with pytest.raises(ia.ImageIOError, match="whole slabs"):
        writer.write(ia.Region(index=(0, 0, 1), size=(4, 4, 1)), np.zeros((1, 4, 4), np.uint8))
    writer.abort()
    assert list(tmp_path.iterdir()) == []


# -- errors ----------------------------------------------------------------------------------------------------


def valid_bytes(tmp_path):
    nifti.write(tmp_path / "ok.nii", ia.from_array(np.arange(60, dtype=np.int16).reshape(3, 4, 5)))
    return (tmp_path / "ok.nii").read_bytes()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b"", "empty"),
        (lambda b: b[:200], "truncated NIfTI header"),
        (lambda b: b[:400], "truncated NIfTI data"),
        (lambda b: b"\x00" * 400, "not a NIfTI file"),
        (lambda b: b[:344] + b"\0\0\0\0" + b[348:], "Analyze"),
        (lambda b: b[:40] + struct.pack("<h", 9) + b[42:], "dim\\[0\\]"),
        (lambda b: b[:70] + struct.pack("<h", 1536) + b[72:], "float128"),
        (lambda b: b[:42] + struct.pack("<h", 30000) + b[44:], "truncated NIfTI data"),
    ],
)
def test_bad_files_raise_imageioerror_naming_the_file(tmp_path, mutate, message):
    data = mutate(valid_bytes(tmp_path))
    path = tmp_path / "bad.nii"
    path.write_bytes(data)
    with pytest.raises(ia.ImageIOError, match=message) as err:
        read(path)
    assert str(path) in str(err.value)


def test_gz_with_a_lying_size_is_refused_before_allocating(tmp_path):
    raw = bytearray(valid_bytes(tmp_path))
    raw[42:48] = struct.pack("<hhh", 30000, 30000, 30000)  # claims 54 TB
    path = tmp_path / "lie.nii.gz"
    path.write_bytes(gzip.compress(bytes(raw)))
    info = nifti.read_info(path)
    with pytest.raises(ia.ImageIOError, match="cannot hold"):
        nifti.read_region(path, info, info.geometry.region)


def test_truncated_gz_stream(tmp_path):
    nifti.write(tmp_path / "t.nii.gz", ia.from_array(np.random.default_rng(0).normal(size=(20, 30, 40))))
    data = (tmp_path / "t.nii.gz").read_bytes()
    (tmp_path / "t.nii.gz").write_bytes(data[: len(data) // 2])
    info = nifti.read_info(tmp_path / "t.nii.gz")
    with pytest.raises(ia.ImageIOError, match=r"t\.nii\.gz"):
        nifti.read_region(tmp_path / "t.nii.gz", info, info.geometry.region)


def test_missing_directory_and_gz_name_without_gzip(tmp_path):
    with pytest.raises(ia.ImageIOError, match="no such file"):
        nifti.read_info(tmp_path / "nope.nii")
    with pytest.raises(ia.ImageIOError, match="directory"):
        nifti.read_info(tmp_path)
    (tmp_path / "plain.nii.gz").write_bytes(valid_bytes(tmp_path))
    with pytest.raises(ia.ImageIOError, match="gzip"):
        nifti.read_info(tmp_path / "plain.nii.gz")


def test_pair_without_its_img_file(tmp_path):
    nib = pytest.importorskip("nibabel")
    nib.save(nib.Nifti1Pair(np.zeros((2, 2, 2), np.uint8), np.eye(4)), str(tmp_path / "p.hdr"))
    os.remove(tmp_path / "p.img")
    with pytest.raises(ia.ImageIOError, match=r"p\.img"):
        nifti.read_info(tmp_path / "p.hdr")


def test_write_refuses_what_nifti_cannot_hold(tmp_path):
    sheared = ia.Image.zeros((2, 2, 2), ia.PixelType.UInt8, direction=(1, 0.5, 0, 0, 1, 0, 0, 0, 1))
    with pytest.raises(ia.ImageIOError, match="not orthonormal"):
        nifti.write(tmp_path / "s.nii", sheared)
    mixed = np.eye(4)
    mixed[[2, 3]] = mixed[[3, 2]]
    with pytest.raises(ia.ImageIOError, match="4th"):
        nifti.write(tmp_path / "t.nii", ia.Image.zeros((2, 2, 2, 2), ia.PixelType.UInt8, direction=mixed.ravel()))
    with pytest.raises(ia.ImageIOError, match=r"\.nii or \.nii\.gz"):
        nifti.write(tmp_path / "x.hdr", ia.Image.zeros((2, 2), ia.PixelType.UInt8))
    with pytest.raises(ia.ImageIOError, match="79"):
        nifti.write(
            tmp_path / "d.nii", ia.Image.zeros((2, 2), ia.PixelType.UInt8, metadata={"ITK_FileNotes": "x" * 80})
        )
    with pytest.raises(ia.ImageIOError, match="does not exist"):
        nifti.write(tmp_path / "no" / "x.nii", ia.Image.zeros((2, 2), ia.PixelType.UInt8))
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    old = ia.Image.zeros((4, 4), ia.PixelType.UInt8)
    nifti.write(tmp_path / "keep.nii", old)
    before = (tmp_path / "keep.nii").read_bytes()

    def fail(f, data):
        f.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(nifti, "_write_array", fail)
    with pytest.raises(ia.ImageIOError, match="No space left"):
        nifti.write(tmp_path / "keep.nii", ia.from_array(np.ones((4, 4), np.uint8)))
    assert (tmp_path / "keep.nii").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.nii"]


def test_sniff():
    good = valid_header()
    assert nifti.sniff(good)
    assert nifti.sniff(gzip.compress(good + bytes(1000))[:1024])
    assert not nifti.sniff(b"\x89PNG\r\n\x1a\n" + bytes(400))
    assert not nifti.sniff(b"")
    assert not nifti.sniff(b"\x1f\x8b garbage")


def valid_header():
    return nifti._build_header(
        "x.nii", nifti.ImageInfo(geometry=ia.Geometry(size=(2, 2)), pixel_type=ia.PixelType.UInt8)
    )


def test_io_object():
    assert nifti.IO.name == "NiftiImageIO"
    assert nifti.IO.claims("a.NII.GZ") and nifti.IO.claims("b.nii") and not nifti.IO.claims("c.mha")
    assert nifti.IO.capabilities.region_read and nifti.IO.capabilities.streamed_write


def test_copy_of_shared_file_reads_identically(testdata, tmp_path):
    """A shared file copied elsewhere and gunzipped reads the same (plain and gzip paths agree)."""
    source = testdata / "nifti/nibabel_example4d.nii.gz"
    with gzip.open(source) as f, open(tmp_path / "e.nii", "wb") as out:
        shutil.copyfileobj(f, out)
    a_info, a = read(source)
    b_info, b = read(tmp_path / "e.nii")
    assert a_info.geometry == b_info.geometry
    np.testing.assert_array_equal(a, b)
    part = ia.Region(index=(10, 20, 3, 1), size=(30, 40, 5, 1))
    np.testing.assert_array_equal(nifti.read_region(source, a_info, part), b[part.slices])
    assert Path(source).exists()


def test_multi_member_gzip_reads_whole(tmp_path):
    """Concatenated gzip members (as some tools write in parallel) are one stream."""
    nifti.write(tmp_path / "plain.nii", ia.from_array(np.arange(6000, dtype=np.int32).reshape(10, 20, 30)))
    data = (tmp_path / "plain.nii").read_bytes()
    (tmp_path / "multi.nii.gz").write_bytes(gzip.compress(data[:5000]) + gzip.compress(data[5000:]))
    info, array = read(tmp_path / "multi.nii.gz")
    np.testing.assert_array_equal(array, np.arange(6000, dtype=np.int32).reshape(10, 20, 30))
    part = nifti.read_region(tmp_path / "multi.nii.gz", info, ia.Region(index=(3, 4, 5), size=(6, 7, 2)))
    np.testing.assert_array_equal(part, array[5:7, 4:11, 3:9])
