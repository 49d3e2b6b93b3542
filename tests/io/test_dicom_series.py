"""DICOM series: found by Series Instance UID, sorted along the slice normal (not by name or
Instance Number), read as SimpleITK's ImageSeriesReader reads them, and refused with a clear
ImageIOError when they are not one volume (duplicates, gaps, mixed orientations, sizes)."""

from __future__ import annotations

import os

import numpy as np
import pytest

import imalgebra as ia
from imalgebra.io import dicom, dicom_series

pydicom = pytest.importorskip("pydicom")

SERIES = "dicom/series"


def sitk_files(sitk, folder):
    sitk.ProcessObject_SetGlobalWarningDisplay(False)
    return sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder))


# -- the shared series ------------------------------------------------------------------------------------------


@pytest.mark.sitk
@pytest.mark.parametrize("name", ["pydicom_ct2", "pydicom_ct2n", "pydicom_ct5n", "pydicom_mr700"])
def test_ids_and_file_order_match_simpleitk(testdata, sitk, name):
    folder = testdata / SERIES / name
    assert ia.dicom.series_ids(folder) == sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder))
    assert list(ia.dicom.series_files(folder)) == list(sitk_files(sitk, folder))


@pytest.mark.sitk
def test_uniform_ct_series_reads_as_simpleitk(testdata, sitk):
    folder = testdata / SERIES / "pydicom_ct5n"
    files = ia.dicom.series_files(folder)
    volume = ia.read(list(files))
    theirs = sitk.ReadImage(sitk_files(sitk, folder))
    assert volume.size == theirs.GetSize() == (16, 16, 5)
    assert volume.pixel_type.id == theirs.GetPixelID()
    np.testing.assert_allclose(volume.origin, theirs.GetOrigin(), atol=1e-6)
    np.testing.assert_allclose(volume.spacing, theirs.GetSpacing(), atol=1e-6)
    np.testing.assert_allclose(volume.direction, theirs.GetDirection(), atol=1e-6)
    np.testing.assert_array_equal(np.asarray(volume), sitk.GetArrayFromImage(theirs))
    assert volume.metadata["0020|0032"] == dicom.read_info(files[0]).metadata["0020|0032"]
    per_slice = ia.dicom.series_metadata(folder)
    assert [m["0020|0032"] for m in per_slice] == [dicom.read_info(f).metadata["0020|0032"] for f in files]


def test_series_with_a_gap_is_refused(testdata):
    """z = -99.48, 103.02, 104.27, 105.52: SimpleITK stacks them at 68.3 mm spacing."""
    with pytest.raises(ia.ImageIOError, match=r"missing slice.*202\.5"):
        ia.read(list(ia.dicom.series_files(testdata / SERIES / "pydicom_ct2")))


@pytest.mark.parametrize("name", ["pydicom_ct2n", "pydicom_mr700"])
def test_series_with_mixed_orientations_is_refused(testdata, name):
    with pytest.raises(ia.ImageIOError, match="mixed orientations"):
        ia.dicom.read_series(testdata / SERIES / name)


# -- generated series -------------------------------------------------------------------------------------------


def write_slice(path, z, *, value=None, rows=4, columns=5, series="1.2.826.0.1.3680043.8.498.1", instance=1,
                orientation=(1, 0, 0, 0, 1, 0), position=None, intercept=-1024, slope=1):  # fmt: skip
    """A small CT slice at height ``z`` along the normal of ``orientation``."""
    row, col = np.asarray(orientation[:3], float), np.asarray(orientation[3:], float)
    normal = np.cross(row, col)
    ds = pydicom.Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.SOPInstanceUID = pydicom.uid.generate_uid()
    ds.SeriesInstanceUID = series
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.2"
    ds.Modality = "CT"
    ds.InstanceNumber = instance
    ds.ImagePositionPatient = [f"{v:.6f}" for v in (position if position is not None else normal * z + [10, 20, 0])]
    ds.ImageOrientationPatient = [f"{v:.6f}" for v in orientation]
    ds.PixelSpacing = ["0.5", "0.25"]
    ds.SliceThickness = "2.5"
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleIntercept, ds.RescaleSlope = str(intercept), str(slope)
    fill = round(z * 10) if value is None else value
    ds.PixelData = (np.arange(rows * columns, dtype="<i2").reshape(rows, columns) + fill).tobytes()
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.fixture
def shuffled(tmp_path):
    """6 slices 2.5 mm apart; file names and instance numbers both disagree with the positions."""
    order = [3, 0, 5, 1, 4, 2]
    for k, z in enumerate(order):
        write_slice(tmp_path / f"img{k:02d}", 2.5 * z, instance=6 - z if z % 2 else z + 1)
    (tmp_path / "notes.txt").write_text("not DICOM")
    return tmp_path


@pytest.mark.sitk
def test_sorted_by_position_and_read_as_simpleitk(shuffled, sitk):
    files = ia.dicom.series_files(shuffled)
    heights = [float(pydicom.dcmread(f).ImagePositionPatient[2]) for f in files]
    assert heights == [0.0, 2.5, 5.0, 7.5, 10.0, 12.5]
    assert list(files) == list(sitk_files(sitk, shuffled))
    volume = ia.read(list(reversed(files)))  # the order of the list does not matter
    theirs = sitk.ReadImage(list(files))
    assert volume.pixel_type is ia.PixelType.Int32
    np.testing.assert_array_equal(np.asarray(volume), sitk.GetArrayFromImage(theirs))
    assert volume.geometry.same_space(
        ia.Geometry(
            size=theirs.GetSize(),
            origin=theirs.GetOrigin(),
            spacing=theirs.GetSpacing(),
            direction=theirs.GetDirection(),
        )
    )
    assert [m["0020|0013"] for m in ia.dicom.series_metadata(shuffled)] == [
        pydicom.dcmread(f).get_item(0x00200013).value.decode() for f in files
    ]


@pytest.mark.sitk
def test_oblique_series_with_jitter_matches_simpleitk(tmp_path, sitk):
    orientation = (0.8660254, 0.5, 0.0, -0.0, 0.0, -1.0)  # rotated about z, coronal-ish
    rng = np.random.default_rng(1)
    for k in range(5):
        write_slice(tmp_path / f"s{k}", 3.0 * k + rng.uniform(-2e-4, 2e-4), orientation=orientation)
    files = ia.dicom.series_files(tmp_path)
    volume = ia.read(list(files))
    theirs = sitk.ReadImage(sitk_files(sitk, tmp_path))
    np.testing.assert_allclose(volume.origin, theirs.GetOrigin(), atol=1e-6)
    np.testing.assert_allclose(volume.spacing, theirs.GetSpacing(), atol=1e-6)
    np.testing.assert_allclose(volume.direction, theirs.GetDirection(), atol=1e-6)
    np.testing.assert_array_equal(np.asarray(volume), sitk.GetArrayFromImage(theirs))


def test_tilted_stack_keeps_every_slice_in_place(tmp_path):
    """Gantry tilt: positions step along (0, 0.5, 2.5), not the normal (0, 0, 1)."""
    for k in range(4):
        write_slice(tmp_path / f"t{k}", 0, position=(10.0, 20.0 + 0.5 * k, 2.5 * k))
    volume = ia.read(list(ia.dicom.series_files(tmp_path)))
    for k in range(4):
        np.testing.assert_allclose(volume.index_to_physical((0, 0, k)), (10.0, 20.0 + 0.5 * k, 2.5 * k), atol=1e-6)


def test_duplicate_positions_are_refused(tmp_path):
    for k, z in enumerate([0, 2.5, 2.5, 5.0]):
        write_slice(tmp_path / f"d{k}", z)
    with pytest.raises(ia.ImageIOError, match=r"duplicate slice positions: d[12] and d[12]"):
        ia.read(list(ia.dicom.series_files(tmp_path)))


def test_missing_slice_is_refused(tmp_path):
    for k, z in enumerate([0, 2.5, 5.0, 10.0, 12.5]):
        write_slice(tmp_path / f"m{k}", z)
    with pytest.raises(ia.ImageIOError, match="missing slice: the step between m2 and m3 is 5 mm"):
        ia.read(list(ia.dicom.series_files(tmp_path)))


def test_mismatched_sizes_are_refused(tmp_path):
    write_slice(tmp_path / "a", 0)
    write_slice(tmp_path / "b", 2.5, rows=6)
    with pytest.raises(ia.ImageIOError, match="size mismatch"):
        ia.read([tmp_path / "a", tmp_path / "b"])


def test_mixed_orientations_are_refused(tmp_path):
    write_slice(tmp_path / "a", 0)
    write_slice(tmp_path / "b", 2.5, orientation=(1, 0, 0, 0, 0, -1))
    with pytest.raises(ia.ImageIOError, match="mixed orientations"):
        ia.read([tmp_path / "a", tmp_path / "b"])


def test_slices_with_different_rescale_share_a_type(tmp_path):
    write_slice(tmp_path / "a", 0, intercept=0, slope=1)
    write_slice(tmp_path / "b", 2.5, intercept=0, slope=0.5)
    volume = ia.read([tmp_path / "a", tmp_path / "b"])
    assert volume.pixel_type is ia.PixelType.Float64
    assert np.asarray(volume)[1, 0, 1] == (1 + 25) * 0.5


def test_several_series_in_one_folder(tmp_path):
    for k in range(3):
        write_slice(tmp_path / f"a{k}", 2.5 * k, series="1.2.3.4")
        write_slice(tmp_path / f"b{k}", 1.0 * k, series="1.2.3.5")
    assert ia.dicom.series_ids(tmp_path) == ("1.2.3.4", "1.2.3.5")
    with pytest.raises(ia.ImageIOError, match="holds 2 DICOM series"):
        ia.dicom.series_files(tmp_path)
    assert [os.path.basename(f) for f in ia.dicom.series_files(tmp_path, "1.2.3.5")] == ["b0", "b1", "b2"]
    assert ia.dicom.read_series(tmp_path, "1.2.3.4").spacing[2] == 2.5
    with pytest.raises(ia.ImageIOError, match=r"no DICOM series '9\.9'"):
        ia.dicom.series_files(tmp_path, "9.9")


def test_region_read_decodes_only_the_slices_it_needs(shuffled, monkeypatch):
    files = list(ia.dicom.series_files(shuffled))
    full = np.asarray(ia.read(files))
    decoded = []
    real = dicom._decode_frames

    def spy(hdr, frames, ds=None):
        decoded.append(os.path.basename(hdr.path))
        return real(hdr, frames, ds)

    monkeypatch.setattr(dicom, "_decode_frames", spy)
    part = ia.read(files, index=(1, 1, 2), size=(3, 2, 3))
    assert decoded == [os.path.basename(f) for f in files[2:5]]
    np.testing.assert_array_equal(np.asarray(part), full[2:5, 1:3, 1:4])
    assert part.origin == ia.read(files).index_to_physical((1, 1, 2))


def test_lists_that_are_not_a_series(tmp_path, testdata):
    with pytest.raises(ia.ImageIOError, match="empty"):
        dicom.read_series([])
    write_slice(tmp_path / "a", 0)
    with pytest.raises(ia.ImageIOError, match="more than once"):
        dicom.read_series([tmp_path / "a", tmp_path / "a"])
    with pytest.raises(ia.ImageIOError, match="not a folder"):
        ia.dicom.series_ids(tmp_path / "a")
    multi = testdata / "dicom/multiframe/emri_small.dcm"
    with pytest.raises(ia.ImageIOError, match="10 frames"):
        dicom.read_series([tmp_path / "a", multi])
    one = dicom.read_series([multi])
    assert one.size == (64, 64, 10)


def test_info_of_a_series(shuffled):
    files = ia.dicom.series_files(shuffled)
    info = dicom_series.info(files)
    assert info.size == (5, 4, 6) and info.spacing == (0.25, 0.5, 2.5)
    assert info.pixel_type is ia.PixelType.Int32
