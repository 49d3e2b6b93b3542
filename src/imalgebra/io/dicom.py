"""DICOM files (single-frame and multi-frame) read as SimpleITK's GDCMImageIO reads them, with pydicom.

pydicom parses and decodes (its pylibjpeg/Pillow plugins handle the compressed
transfer syntaxes); this module reproduces what GDCM 3.2 and ITK 5.4 then do,
so pixels, pixel type, geometry and metadata match ``sitk.ReadImage``:

* **Size**: (Columns, Rows, frames), always 3D (a single frame has depth 1).
* **Geometry**: GDCM's rules per SOP class: Image Position/Orientation
  (Patient) and Pixel Spacing at the top level, in the functional groups of
  enhanced multi-frame objects (shared, then the first frame; the z spacing
  from the frames' positions), or in the Detector Information Sequence (NM);
  Imager Pixel Spacing for CR/DX/MG/XA/RF; Spacing Between Slices, the Grid
  Frame Offset Vector (RT Dose) or the Frame Time (cine) as z spacing;
  ultrasound uses Pixel Spacing only. The direction's third column is the
  normal ``row x column``, orthogonalised as ITK does.
* **Pixel type**: from Bits Allocated and Pixel Representation; with a
  Rescale Slope/Intercept other than (1, 0) GDCM's rule picks the output:
  Float64 when slope or intercept is fractional, else the smallest integer
  type holding ``slope * [min, max] + intercept`` over the Bits Stored range
  (CT int16 with intercept -1024 reads as Int32, as in SimpleITK).
* **Colour**: YBR_FULL and YBR_FULL_422 8-bit data are converted to RGB, the
  metadata keeps the file's Photometric Interpretation (``0028|0004``);
  PALETTE COLOR is expanded to RGB (8- or 16-bit as the table);
  MONOCHROME1 is inverted to MONOCHROME2; 1-bit data reads as 0/255.
* **Metadata**: every public top-level element as ``"gggg|eeee" -> str``:
  text values as stored (padding kept, cut at the first NUL, multiple values
  joined by a backslash), binary numbers printed with 6 significant digits,
  OB/OW/OF/UN values in base64; sequences, private tags, the file meta group
  and the pixel data are left out (SimpleITK's defaults).

Deliberate differences: enhanced multi-frame files whose frames have several
orientations, or positions with gaps, are refused (ImageIOError) where
SimpleITK silently stacks them with the first frame's geometry; a zero z
spacing reads as 1.

A transfer syntax that no installed pydicom plugin decodes raises an
ImageIOError naming the syntax and the package that adds a decoder.

Writing (:func:`write`) is minimal: Secondary Capture objects that SimpleITK
reads back with the same pixels and geometry: 2D (one frame) of 8/16/32-bit
integers or RGB 8-bit, 3D (multi-frame, functional groups) of UInt8, UInt16
and Int16 (stored unsigned with intercept -32768). Other types raise.

Example
-------
>>> import tempfile, os, numpy as np, imalgebra as ia
>>> from imalgebra.io import dicom
>>> path = os.path.join(tempfile.mkdtemp(), "a.dcm")
>>> img = ia.from_array(np.arange(12, dtype=np.int16).reshape(3, 4)).with_spacing((0.5, 0.25))
>>> dicom.write(path, img)
>>> info = dicom.read_info(path)
>>> info.size, info.spacing, info.metadata["0028|0004"]
((4, 3, 1), (0.5, 0.25, 1.0), 'MONOCHROME2 ')
"""

from __future__ import annotations

import base64
import math
import os
import struct
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from imalgebra.algebra.geometry import Geometry, Region
from imalgebra.algebra.image import Image
from imalgebra.algebra.metadata import Metadata
from imalgebra.algebra.pixel import PixelType
from imalgebra.errors import ImageIOError
from imalgebra.io.atomic import atomic_path
from imalgebra.io.base import Capabilities, FormatIO, ImageInfo, PathType

__all__ = ["IO", "read_info", "read_region", "read_series", "series_metadata", "sniff", "write"]

NAME = "GDCMImageIO"
EXTENSIONS = (".dcm", ".dicom", ".dic")

# -- SOP classes, grouped as GDCM's ImageHelper treats them -------------------------------------------------------

_P = "1.2.840.10008.5.1.4.1.1."
_ENHANCED_DIRECTION = {
    _P + s
    for s in (
        "2.1",  # Enhanced CT
        "4.1",  # Enhanced MR
        "4.3",  # Enhanced MR Color
        "128.1",  # Enhanced PET
        "7.1",  # Multi-frame Single Bit SC
        "7.2",  # Multi-frame Grayscale Byte SC
        "7.3",  # Multi-frame Grayscale Word SC
        "7.4",  # Multi-frame True Color SC
        "13.1.1",  # X-Ray 3D Angiographic
        "13.1.2",  # X-Ray 3D Craniofacial
        "66.4",  # Segmentation
        "14.1",  # IVOCT for presentation
        "14.2",  # IVOCT for processing
        "13.1.3",  # Breast Tomosynthesis
        "13.1.4",  # Breast Projection X-Ray for presentation
        "13.1.5",  # Breast Projection X-Ray for processing
        "4.4",  # Legacy Converted Enhanced MR
        "2.2",  # Legacy Converted Enhanced CT
        "128.2",  # Legacy Converted Enhanced PET
    )
}
_ENHANCED_ORIGIN = _ENHANCED_DIRECTION | {_P + "77.1.5.4"}  # + Ophthalmic Tomography
_ENHANCED_RESCALE = {
    _P + s
    for s in ("2.1", "4.1", "128.1", "13.1.1", "13.1.2", "66.4", "13.1.3", "13.1.4", "13.1.5", "4.4", "2.2", "128.2")
}
_NM = _P + "20"
_RTDOSE = _P + "481.2"
_SC = _P + "7"
_MF_SC = {_P + "7.1", _P + "7.2", _P + "7.3", _P + "7.4"}
# SOP classes whose spacing ITK's GDCMImageIO takes from Pixel Spacing (or 1) with z = 1
_ITK_PIXEL_SPACING_ONLY = {
    "1.2.840.10008.5.1.1.29",  # Hardcopy Grayscale
    _P + "6.1",  # Ultrasound
    _P + "3.1",  # Ultrasound Multi-frame
    _P + "6",  # Ultrasound (retired)
    _P + "3",  # Ultrasound Multi-frame (retired)
    _P + "77.1.1.1",  # Video Endoscopic
}
_PIXEL_SPACING = {_P + s for s in ("2", "4", "481.2", "20", "128", "77.1.4", "77.1.2", "14.1", "14.2", "6.2")}
_IMAGER_PIXEL_SPACING = {_P + s for s in ("1", "1.1", "1.1.1", "1.2", "1.2.1", "1.3", "1.3.1", "12.1", "12.2", "12.3")}
_NOMINAL_SCANNED = _MF_SC | {"1.2.840.10008.5.1.1.29", "1.2.840.10008.5.1.1.30"}
_Z_SPACING_BETWEEN = {_P + s for s in ("4", "20", "6.2", "128", "2", "481.1", "6.1", "3.1", "6", "3", "7")} | (
    _IMAGER_PIXEL_SPACING
)
_MODALITY_SOP = {"CT": _P + "2", "MR": _P + "4", "NM": _NM, "PT": _P + "128", "CR": _P + "1", "US": _P + "6.1",
                 "RTDOSE": _RTDOSE, "XA": _P + "12.1", "RF": _P + "12.2", "DX": _P + "1.1", "MG": _P + "1.2",
                 "SEG": _P + "66.4"}  # fmt: skip

# Transfer syntaxes pydicom needs a plugin for, and the package that adds one.
_CODEC_PACKAGES = {
    "1.2.840.10008.1.2.4.50": "pylibjpeg-libjpeg (or pillow)",
    "1.2.840.10008.1.2.4.51": "pylibjpeg-libjpeg (or pillow)",
    "1.2.840.10008.1.2.4.57": "pylibjpeg-libjpeg",
    "1.2.840.10008.1.2.4.70": "pylibjpeg-libjpeg",
    "1.2.840.10008.1.2.4.80": "pylibjpeg-libjpeg",
    "1.2.840.10008.1.2.4.81": "pylibjpeg-libjpeg",
    "1.2.840.10008.1.2.4.90": "pylibjpeg-openjpeg (or pillow)",
    "1.2.840.10008.1.2.4.91": "pylibjpeg-openjpeg (or pillow)",
    "1.2.840.10008.1.2.4.201": "pylibjpeg-openjpeg",
    "1.2.840.10008.1.2.4.202": "pylibjpeg-openjpeg",
    "1.2.840.10008.1.2.4.203": "pylibjpeg-openjpeg",
    "1.2.840.10008.1.2.5": "pylibjpeg-rle (or numpy, built in)",
}
_DEFLATED = "1.2.840.10008.1.2.1.99"
_JPEG_PILLOW_FIRST = {"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51"}
_J2K = {"1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202",
        "1.2.840.10008.1.2.4.203"}  # fmt: skip

_TEXT_VRS = {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UI", "UR", "UT"}
_NUMBER_FORMATS = {"US": "H", "SS": "h", "UL": "I", "SL": "i", "FL": "f", "FD": "d"}
_BASE64_VRS = {"OB", "OW", "OF", "UN", "OB or OW", "US or OW", "US or SS or OW"}


def _pydicom() -> Any:
    try:
        import pydicom
    except ImportError:  # pragma: no cover - pydicom is an optional dependency
        msg = "reading DICOM needs pydicom: pip install 'imalgebra[io]' (or pydicom)"
        raise ImageIOError(msg) from None
    return pydicom


# -- sniffing -----------------------------------------------------------------------------------------------------


def sniff(head: bytes) -> bool:
    """True for ``DICM`` at byte 128 (Part 10 files), or a dataset that starts like DICOM
    without the preamble (group 0002 or 0008 elements, as GDCM also accepts).

    >>> sniff(bytes(128) + b"DICM" + bytes(10)), sniff(b"\\x89PNG" + bytes(200))
    (True, False)
    """
    try:
        if len(head) >= 132 and head[128:132] == b"DICM":
            return True
        if len(head) < 8:
            return False
        group, element = struct.unpack("<HH", head[:4])
        if group not in (0x0002, 0x0008) or element > 0x0100:
            return False
        vr = head[4:6]
        if vr.isalpha() and vr.isupper():
            return True  # explicit VR
        length = struct.unpack("<I", head[4:8])[0]
        return 0 < length < 1 << 16  # implicit VR: a plausible first value length
    except Exception:  # a sniffer never raises
        return False


# -- header -------------------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class _Header:
    """What decoding needs from one file, plus the ImageInfo it yields."""

    path: str
    transfer_syntax: str
    frames: int
    rows: int
    columns: int
    samples: int
    bits_allocated: int
    bits_stored: int
    signed: bool
    photometric: str
    rescale: tuple[float, float] | None  # (intercept, slope)
    stored_dtype: np.dtype
    position: tuple[float, float, float] | None  # Image Position (Patient) as in the file, for series
    orientation: tuple[float, ...] | None
    info: ImageInfo
    native: tuple[int, str] | None = None  # (file offset, numpy dtype) of uncompressed Pixel Data

    @property
    def palette(self) -> bool:
        return self.photometric == "PALETTE COLOR"


def _read_dataset(path: PathType, *, pixels: bool = False) -> Any:
    """pydicom's dataset of ``path`` (large values deferred), or ImageIOError naming the file."""
    pydicom = _pydicom()
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            head = f.read(1024)
    except FileNotFoundError:
        msg = f"{path}: no such file"
        raise ImageIOError(msg) from None
    except IsADirectoryError:
        msg = f"{path}: is a directory; for a DICOM series use ia.dicom.series_files(folder)"
        raise ImageIOError(msg) from None
    except OSError as err:
        msg = f"{path}: cannot be read ({err.strerror or err})"
        raise ImageIOError(msg) from None
    if not head:
        msg = f"{path}: the file is empty, not a DICOM file"
        raise ImageIOError(msg)
    if not sniff(head):
        msg = f"{path}: not a DICOM file (no 'DICM' marker at byte 128 and no DICOM dataset at the start)"
        raise ImageIOError(msg)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if pixels:
                return pydicom.dcmread(path, force=True)
            return pydicom.dcmread(path, force=True, defer_size=4096)
    except Exception as err:
        msg = f"{path}: corrupt or truncated DICOM file ({type(err).__name__}: {err})"
        raise ImageIOError(msg) from None


def _get(ds: Any, keyword: str, default: Any = None) -> Any:
    """A value by keyword; malformed values count as missing (never a parser traceback)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = ds.get(keyword, default)
    except Exception:
        return default
    if value is None or value == "":
        return default
    return value


def _items(value: Any) -> list[Any]:
    """A DICOM value as a list of its values (one value, a MultiValue, or nothing)."""
    if value is None:
        return []
    if isinstance(value, (str, bytes, int, float)):
        return [value]
    try:
        return list(value)
    except TypeError:
        return [value]


def _floats(value: Any, count: int | None = None) -> list[float] | None:
    try:
        items = [float(v) for v in _items(value)]
    except (TypeError, ValueError):
        return None
    if not items or (count is not None and len(items) < count):
        return None
    if not all(math.isfinite(v) for v in items):
        return None
    return items


def _first_item(ds: Any, keyword: str) -> Any:
    seq = _get(ds, keyword)
    try:
        return seq[0] if seq is not None and len(seq) > 0 else None
    except Exception:
        return None


def _functional(ds: Any, macro: str, keyword: str) -> Any:
    """``keyword`` from the functional group ``macro``: shared groups first, then the first frame."""
    for groups in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        item = _first_item(ds, groups)
        if item is None:
            continue
        inner = _first_item(item, macro)
        if inner is not None and _get(inner, keyword) is not None:
            return _get(inner, keyword)
    return None


def _sop_class(ds: Any) -> str:
    meta = getattr(ds, "file_meta", None)
    for source in (meta, ds):
        if source is None:
            continue
        uid = _get(source, "MediaStorageSOPClassUID" if source is meta else "SOPClassUID")
        if uid:
            return str(uid)
    return _MODALITY_SOP.get(str(_get(ds, "Modality", "")).strip().upper(), _SC)


def _direction_cosines(ds: Any) -> list[float] | None:
    """GDCM's GetDirectionCosinesFromDataSet: IOP, normalised when nearly unit; None when invalid."""
    iop = _floats(_get(ds, "ImageOrientationPatient"), 6)
    if iop is None:
        return None
    return _valid_cosines(iop[:6])


def _valid_cosines(values: Sequence[float]) -> list[float] | None:
    v = np.asarray(values[:6], dtype=float)

    def valid(x: np.ndarray) -> bool:
        return abs(x[:3] @ x[:3] - 1) < 1e-3 and abs(x[3:] @ x[3:] - 1) < 1e-3 and abs(x[:3] @ x[3:]) < 1e-3

    if valid(v):
        return [float(x) for x in v]
    for part in (slice(0, 3), slice(3, 6)):
        norm = np.linalg.norm(v[part])
        if norm:
            v[part] = v[part] / norm
    return [float(x) for x in v] if valid(v) else None


def _orientation(ds: Any, sop: str) -> list[float]:
    if sop in _ENHANCED_DIRECTION:
        found = _functional(ds, "PlaneOrientationSequence", "ImageOrientationPatient")
        if found is not None and (_floats(found, 6) is not None):
            return _floats(found, 6)[:6]  # type: ignore[index]
        return _direction_cosines(ds) or [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    if sop == _NM:
        item = _first_item(ds, "DetectorInformationSequence")
        if item is not None:
            return _direction_cosines(item) or [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    return _direction_cosines(ds) or [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]


def _origin(ds: Any, sop: str) -> list[float]:
    if sop in _ENHANCED_ORIGIN:
        found = _floats(_functional(ds, "PlanePositionSequence", "ImagePositionPatient"), 3)
        return found[:3] if found else [0.0, 0.0, 0.0]
    if sop == _NM:
        item = _first_item(ds, "DetectorInformationSequence")
        found = _floats(_get(item, "ImagePositionPatient"), 3) if item is not None else None
        return found[:3] if found else [0.0, 0.0, 0.0]
    found = _floats(_get(ds, "ImagePositionPatient"), 3)
    return found[:3] if found else [0.0, 0.0, 0.0]


def _frame_positions(ds: Any) -> list[list[float] | None]:
    items = _get(ds, "PerFrameFunctionalGroupsSequence")
    if items is None:
        return []
    out = []
    for item in items:
        plane = _first_item(item, "PlanePositionSequence")
        out.append(_floats(_get(plane, "ImagePositionPatient"), 3) if plane is not None else None)
    return out


def _frame_orientations(ds: Any) -> list[list[float] | None]:
    items = _get(ds, "PerFrameFunctionalGroupsSequence")
    if items is None:
        return []
    out = []
    for item in items:
        plane = _first_item(item, "PlaneOrientationSequence")
        out.append(_floats(_get(plane, "ImageOrientationPatient"), 6) if plane is not None else None)
    return out


def _pair_spacing(value: Any) -> list[float] | None:
    """A (row, column) spacing value as GDCM reads it: zeros become 1, one value serves both."""
    values = _floats(value)
    if not values:
        return None
    if len(values) == 1:
        v = values[0] or 1.0
        return [v, v]
    return [values[1] or 1.0, values[0] or 1.0]  # x = column spacing, y = row spacing


def _enhanced_z_spacing(path: str, ds: Any, cosines: list[float]) -> float | None:
    """GDCM's ComputeZSpacingFromIPP; None where GDCM gives up (no per-frame positions, gaps)."""
    positions = _frame_positions(ds)
    if not positions:
        return None
    if len(positions) == 1:
        found = _floats(_functional(ds, "PixelMeasuresSequence", "SpacingBetweenSlices"))
        return found[0] if found else 1.0
    if any(p is None for p in positions):
        return None
    normal = np.cross(cosines[:3], cosines[3:6])
    normal = normal / (np.linalg.norm(normal) or 1.0)
    distances = [float(normal @ np.asarray(p)) for p in positions]  # type: ignore[arg-type]
    unique = sorted(set(distances))
    if len(unique) != len(distances) and distances[0] == unique[0]:
        distances = unique
    if len(distances) == 1:
        return 1.0
    mean = (distances[-1] - distances[0]) / (len(distances) - 1)
    if mean == 0.0:
        return 1.0  # a time series: every frame at one position
    steps = np.diff(distances)
    if np.any(np.abs(steps - mean) > 1e-3):
        return None
    return mean


def _spacing(path: str, ds: Any, sop: str, frames: int, cosines: list[float]) -> list[float]:
    if sop in _ITK_PIXEL_SPACING_ONLY:
        return [*(_pair_spacing(_get(ds, "PixelSpacing")) or [1.0, 1.0]), 1.0]
    if sop in _ENHANCED_ORIGIN:
        pair = _pair_spacing(_functional(ds, "PixelMeasuresSequence", "PixelSpacing"))
        z = _enhanced_z_spacing(path, ds, cosines) if pair else None
        if pair is None or z is None:
            return [1.0, 1.0, 1.0]
        return [*pair, z]
    if sop == _SC:
        keyword = "PixelSpacing" if _get(ds, "PixelSpacing") is not None else "NominalScannedPixelSpacing"
    elif sop in _PIXEL_SPACING:
        keyword = "PixelSpacing"
    elif sop in _IMAGER_PIXEL_SPACING:
        keyword = "ImagerPixelSpacing"
    elif sop == _P + "481.1":
        keyword = "ImagePlanePixelSpacing"
    elif sop in _NOMINAL_SCANNED:
        keyword = "NominalScannedPixelSpacing"
    else:
        keyword = ""
    pair = (_pair_spacing(_get(ds, keyword)) if keyword else None) or [1.0, 1.0]
    z = 1.0
    if sop == _RTDOSE and _get(ds, "GridFrameOffsetVector") is not None:
        offsets = _floats(_get(ds, "GridFrameOffsetVector"))
        z = offsets[1] - offsets[0] if offsets and len(offsets) > 1 else 1.0
    elif sop in _Z_SPACING_BETWEEN and "SpacingBetweenSlices" in ds:
        found = _floats(_get(ds, "SpacingBetweenSlices"))
        z = found[0] if found else 1.0
    elif "FrameIncrementPointer" in ds:
        pointer = _get(ds, "FrameIncrementPointer")
        if pointer == 0x00181063 and _get(ds, "FrameTime") is not None:
            found = _floats(_get(ds, "FrameTime"))
            if found:
                z = found[0] if frames > 1 else (1.0 if found[0] == 0 else 0.0)
    return [*pair, z]


def _rescale(ds: Any, sop: str) -> tuple[float, float]:
    """(intercept, slope) as GDCM finds them (ITK forces the Modality LUT for every SOP class)."""
    if sop in _ENHANCED_RESCALE:
        for groups in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
            item = _first_item(ds, groups)
            inner = _first_item(item, "PixelValueTransformationSequence") if item is not None else None
            if inner is None:
                continue
            intercept = _floats(_get(inner, "RescaleIntercept"))
            slope = _floats(_get(inner, "RescaleSlope"))
            if intercept and slope:
                return intercept[0], slope[0]
    intercept, slope = 0.0, 1.0
    found = _floats(_get(ds, "RescaleIntercept"))
    if found:
        intercept = found[0]
    found = _floats(_get(ds, "RescaleSlope"))
    if found:
        slope = found[0] or 1.0
    return intercept, slope


def _stored_dtype(path: str, bits_allocated: int, signed: bool, float_data: str | None) -> np.dtype:
    if float_data == "FloatPixelData":
        return np.dtype("float32")
    if float_data == "DoubleFloatPixelData":
        return np.dtype("float64")
    if bits_allocated == 1:
        return np.dtype("uint8")
    sizes = {8: 1, 12: 2, 16: 2, 32: 4}
    if bits_allocated not in sizes:
        msg = f"{path}: Bits Allocated {bits_allocated} is not supported (1, 8, 12, 16 or 32)"
        raise ImageIOError(msg)
    return np.dtype(("i" if signed else "u") + str(sizes[bits_allocated]))


def _best_fit(bits_stored: int, signed: bool, intercept: float, slope: float) -> np.dtype:
    """gdcm::Rescaler::ComputeInterceptSlopePixelType."""
    if slope != math.trunc(slope) or intercept != math.trunc(intercept):
        return np.dtype("float64")
    if signed:
        lo, hi = -(2 ** (bits_stored - 1)), 2 ** (bits_stored - 1) - 1
    else:
        lo, hi = 0, 2**bits_stored - 1
    if slope < 0:
        lo, hi = hi, lo
    low, high = slope * lo + intercept, slope * hi + intercept
    if low >= 0:
        for dtype in ("uint8", "uint16", "uint32"):
            if high <= np.iinfo(dtype).max:
                return np.dtype(dtype)
        return np.dtype("float64")
    for dtype in ("int8", "int16", "int32"):
        if high <= np.iinfo(dtype).max and low >= np.iinfo(dtype).min:
            return np.dtype(dtype)
    return np.dtype("float64")


def _j2k_precision(ds: Any) -> tuple[int, bool] | None:
    """(bits, signed) of the first JPEG 2000 frame: GDCM trusts the codestream over Bits Stored."""
    try:
        from pydicom.encaps import generate_frames
        from pydicom.pixels.utils import get_j2k_parameters

        frame = next(generate_frames(ds.PixelData, number_of_frames=max(1, _frames(ds))))
        params = get_j2k_parameters(frame)
        if params.get("precision"):
            return int(params["precision"]), bool(params.get("is_signed"))
    except Exception:
        return None
    return None


def _frames(ds: Any) -> int:
    try:
        return max(1, int(_get(ds, "NumberOfFrames", 1)))
    except (TypeError, ValueError):
        return 1


def _header(path: PathType, ds: Any | None = None) -> _Header:
    path = os.fspath(path)
    if ds is None:
        ds = _read_dataset(path)
    metadata = file_metadata(ds)  # first: reading values below converts the raw elements
    meta = getattr(ds, "file_meta", None)
    ts = str(_get(meta, "TransferSyntaxUID", "1.2.840.10008.1.2")) if meta is not None else "1.2.840.10008.1.2"
    float_data = next((k for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData") if k in ds), None)
    rows, columns = _get(ds, "Rows"), _get(ds, "Columns")
    if float_data is None or not rows or not columns:
        msg = f"{path}: a DICOM file without an image (no Pixel Data, Rows or Columns): {_sop_name(ds)}"
        raise ImageIOError(msg)
    rows, columns = int(rows), int(columns)
    frames = _frames(ds)
    samples = int(_get(ds, "SamplesPerPixel", 1) or 1)
    bits_allocated = int(_get(ds, "BitsAllocated", 0) or 0)
    bits_stored = int(_get(ds, "BitsStored", bits_allocated) or bits_allocated)
    signed = int(_get(ds, "PixelRepresentation", 0) or 0) == 1
    photometric = str(_get(ds, "PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    sop = _sop_class(ds)
    stored = _stored_dtype(path, bits_allocated, signed, float_data if float_data != "PixelData" else None)

    # pixel type, as GDCMImageIO reports it
    single_bit = bits_allocated == 1
    intercept, slope = _rescale(ds, sop)
    rescale = None
    output = stored
    if not single_bit and samples == 1 and (slope != 1.0 or intercept != 0.0) and stored.kind in "iu":
        bits, sign = bits_stored, signed
        if ts in _J2K:
            found = _j2k_precision(ds)
            if found is not None:
                bits = found[0]
        output = _best_fit(bits, sign, intercept, slope)
        rescale = (intercept, slope)
    elif stored.kind == "f" and (slope != 1.0 or intercept != 0.0) and samples == 1:
        rescale = (intercept, slope)
    components = samples
    if photometric == "PALETTE COLOR":
        components = 3  # GDCM expands the palette into the stored type (an 8-bit index gives 8-bit RGB)
    if components not in (1,) and rescale is not None:
        rescale = None
    pixel_type = PixelType.from_dtype(output, is_vector=components > 1)

    # geometry
    cosines = _orientation(ds, sop)
    origin = _origin(ds, sop)
    spacing = _spacing(path, ds, sop, frames, cosines)
    if sop in _ENHANCED_ORIGIN:
        _check_enhanced_frames(path, ds, cosines)
    geometry = _geometry(path, (columns, rows, frames), origin, spacing, cosines)
    position = _floats(_get(ds, "ImagePositionPatient"), 3)
    orientation = _floats(_get(ds, "ImageOrientationPatient"), 6)
    info = ImageInfo(
        geometry=geometry,
        pixel_type=pixel_type,
        components=components if pixel_type.is_vector else 1,
        metadata=metadata,
        io=NAME,
        path=path,
    )
    return _Header(
        path=path,
        transfer_syntax=ts,
        frames=frames,
        rows=rows,
        columns=columns,
        samples=samples,
        bits_allocated=bits_allocated,
        bits_stored=bits_stored,
        signed=signed,
        photometric=photometric,
        rescale=rescale,
        stored_dtype=stored,
        position=tuple(position[:3]) if position else None,
        orientation=tuple(orientation[:6]) if orientation else None,
        info=info,
        native=_native_pixels(ds, ts, samples, bits_allocated, signed, photometric, rows * columns * frames),
    )


_NATIVE_SYNTAXES = {"1.2.840.10008.1.2": "<", "1.2.840.10008.1.2.1": "<", "1.2.840.10008.1.2.2": ">"}


def _native_pixels(ds: Any, ts: str, samples: int, bits: int, signed: bool, photometric: str,
                   count: int) -> tuple[int, str] | None:  # fmt: skip
    """Where uncompressed grayscale pixels lie in the file, so a slice is one read (no pydicom decode)."""
    order = _NATIVE_SYNTAXES.get(ts)
    if order is None or samples != 1 or bits not in (8, 16, 32) or (bits == 8 and order == ">"):
        return None
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        return None
    try:  # keep_deferred: pydicom would otherwise read the whole deferred pixel data to answer
        elem = ds.get_item(0x7FE00010, keep_deferred=True)
    except TypeError:  # pydicom < 3 has no keep_deferred
        elem = ds.get_item(0x7FE00010)
    except Exception:
        return None
    tell = getattr(elem, "value_tell", None)
    length = getattr(elem, "length", None)
    if tell is None or length is None or length == 0xFFFFFFFF or length < count * bits // 8:
        return None
    return int(tell), f"{order}{'i' if signed else 'u'}{bits // 8}"


_HEADERS: dict[tuple[str, int, int], _Header] = {}
_HEADERS_LIMIT = 2048


def _cached_header(path: PathType) -> _Header:
    """``_header(path)``, remembered while the file keeps its size and modification time
    (listing a series and reading it parse each file once)."""
    path = os.fspath(path)
    try:
        stat = os.stat(path)
    except OSError:
        return _header(path)  # raises the ImageIOError naming the file
    key = (os.path.abspath(path), stat.st_mtime_ns, stat.st_size)
    found = _HEADERS.get(key)
    if found is None or found.path != path:
        found = _header(path)
        if len(_HEADERS) >= _HEADERS_LIMIT:
            _HEADERS.clear()
        _HEADERS[key] = found
    return found


def _sop_name(ds: Any) -> str:
    uid = _get(ds, "SOPClassUID")
    try:
        return f"SOP class {uid.name}" if uid is not None else "no SOP class"
    except Exception:
        return f"SOP class {uid}"


def _check_enhanced_frames(path: str, ds: Any, cosines: list[float]) -> None:
    """Refuse enhanced multi-frame objects that are not one volume (several orientations, gaps)."""
    orientations = [o for o in _frame_orientations(ds) if o is not None]
    if orientations:
        first = np.asarray(orientations[0][:6])
        distinct = [o for o in orientations if np.max(np.abs(np.asarray(o[:6]) - first)) > 1e-4]
        if distinct:
            count = len({tuple(np.round(o[:6], 4)) for o in orientations})
            msg = (
                f"{path}: the frames have {count} different orientations, so they are not one volume "
                "(SimpleITK stacks them with the first frame's geometry); split the frames or reslice"
            )
            raise ImageIOError(msg)
    positions = _frame_positions(ds)
    if len(positions) > 1 and all(p is not None for p in positions):
        normal = np.cross(cosines[:3], cosines[3:6])
        distances = np.asarray(positions, dtype=float) @ (normal / (np.linalg.norm(normal) or 1.0))
        if np.ptp(distances) > 1e-6:
            _check_steps(path, np.diff(distances), "frame")


def _check_steps(path: str, steps: np.ndarray, what: str, names: Sequence[str] | None = None) -> float:
    """The uniform step between slices; raise on duplicates, gaps and non-uniform steps."""
    steps = np.asarray(steps, dtype=float)
    mean = float(np.mean(steps))
    tolerance = max(abs(mean) * 0.01, 1e-4)
    duplicate = np.flatnonzero(np.abs(steps) <= 1e-4)
    if duplicate.size:
        k = int(duplicate[0])
        where = f"{names[k]} and {names[k + 1]}" if names else f"{what}s {k} and {k + 1}"
        msg = (
            f"{path}: duplicate slice positions: {where} lie at the same position along the normal "
            "(several acquisitions or a time series in one series?); choose one set of files"
        )
        raise ImageIOError(msg)
    typical = float(steps[np.argmin(np.abs(steps))])  # a missing slice doubles a step; it never shortens one
    bad = np.flatnonzero(np.abs(steps - typical) > tolerance)
    if bad.size:
        k = int(bad[0])
        ratio = steps[k] / typical if typical else float("inf")
        kind = "a missing slice" if ratio > 1.5 else "non-uniform slice spacing"
        where = f"between {names[k]} and {names[k + 1]}" if names else f"between {what}s {k} and {k + 1}"
        msg = (
            f"{path}: {kind}: the step {where} is {steps[k]:.6g} mm where the others are {typical:.6g} mm "
            "(steps: " + ", ".join(f"{s:.6g}" for s in steps[:12]) + ("..." if steps.size > 12 else "") + ")"
        )
        raise ImageIOError(msg)
    return mean


def _geometry(path: str, size: tuple[int, int, int], origin: Sequence[float], spacing: Sequence[float],
              cosines: Sequence[float]) -> Geometry:  # fmt: skip
    row = np.asarray(cosines[:3], dtype=float)
    col = np.asarray(cosines[3:6], dtype=float)
    normal = np.cross(row, col)
    normal = normal / (np.linalg.norm(normal) or 1.0)
    row = np.cross(col, normal)
    row = row / (np.linalg.norm(row) or 1.0)
    col = np.cross(normal, row)
    direction = np.column_stack([row, col, normal])
    spacing = [float(s) for s in spacing]
    for i in range(3):
        if spacing[i] == 0.0 or not math.isfinite(spacing[i]):
            spacing[i] = 1.0
        if spacing[i] < 0:
            spacing[i] = -spacing[i]
            direction[:, i] = -direction[:, i]
    try:
        return Geometry(size=size, origin=origin, spacing=spacing, direction=direction.ravel())
    except Exception as err:
        msg = f"{path}: the DICOM header gives an unusable geometry: {err}"
        raise ImageIOError(msg) from None


# -- metadata -----------------------------------------------------------------------------------------------------


def _text(raw: bytes) -> str:
    raw = raw.split(b"\0", 1)[0]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _vr_of(tag: int, vr: str | None, pixel_representation: int) -> str:
    if not vr:
        from pydicom.datadict import dictionary_VR

        try:
            vr = dictionary_VR(tag)
        except KeyError:
            return "UN"
    if vr == "US or SS":
        return "SS" if pixel_representation == 1 else "US"
    return vr


def _format_value(vr: str, raw: bytes, little: bool) -> str | None:
    """One element's value as GDCM's StringFilter prints it (None: leave the element out)."""
    if vr == "SQ":
        return None
    if vr in _BASE64_VRS or vr in ("OB", "OW"):
        return base64.b64encode(raw).decode("ascii")
    if vr in _TEXT_VRS:
        return _text(raw)
    order = "<" if little else ">"
    if vr in _NUMBER_FORMATS:
        code = _NUMBER_FORMATS[vr]
        size = struct.calcsize(code)
        count = len(raw) // size
        values = struct.unpack(f"{order}{count}{code}", raw[: count * size])
        if vr in ("FL", "FD"):
            return "\\".join(f"{v:g}" for v in values)
        return "\\".join(str(v) for v in values)
    if vr == "AT":
        count = len(raw) // 4
        values = struct.unpack(f"{order}{2 * count}H", raw[: 4 * count])
        return "\\".join(f"({values[2 * i]:04x},{values[2 * i + 1]:04x})" for i in range(count))
    return ""


def _converted_raw(elem: Any) -> tuple[bytes, bool] | None:
    """Raw bytes of an element pydicom already converted (text VRs and numbers only)."""
    value = elem.value
    vr = elem.VR
    if vr in _TEXT_VRS:
        text = "\\".join(v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in _items(value))
        data = text.encode("utf-8")
        if len(data) % 2:
            data += b"\0" if vr == "UI" else b" "
        return data, True
    if vr in _NUMBER_FORMATS:
        items = _items(value)
        return struct.pack(f"<{len(items)}{_NUMBER_FORMATS[vr]}", *items), True
    if vr == "AT":
        items = [int(v) for v in _items(value)]
        return b"".join(struct.pack("<HH", v >> 16, v & 0xFFFF) for v in items), True
    if isinstance(value, (bytes, bytearray)):
        return bytes(value), True
    return None


def file_metadata(ds: Any) -> dict[str, str]:
    """The public top-level elements of ``ds`` as ``"gggg|eeee" -> str``, as SimpleITK shows them.

    >>> import pydicom
    >>> ds = pydicom.Dataset(); ds.Modality = "CT"; ds.Rows = 2
    >>> file_metadata(ds)
    {'0008|0060': 'CT', '0028|0010': '2'}
    """
    out: dict[str, str] = {}
    try:
        pixel_representation = int(ds.get("PixelRepresentation", 0) or 0)
    except Exception:
        pixel_representation = 0
    for tag in list(ds.keys()):
        group = tag >> 16
        if group % 2 == 1 or group == 0x0002 or tag in (0x7FE00010, 0x7FE00008, 0x7FE00009):
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                elem = ds.get_item(tag)
        except Exception:
            continue
        if elem is None:
            continue
        vr = _vr_of(int(tag), elem.VR, pixel_representation)
        if vr == "SQ":
            continue
        if getattr(elem, "is_raw", False) or type(elem).__name__ == "RawDataElement":
            raw = elem.value if elem.value is not None else b""
            little = elem.is_little_endian
        else:
            found = _converted_raw(elem)
            if found is None:
                continue
            raw, little = found
        try:
            value = _format_value(vr, bytes(raw), little)
        except (struct.error, ValueError):
            value = ""
        if value is not None:
            out[f"{group:04x}|{int(tag) & 0xFFFF:04x}"] = value
    return out


# -- reading ------------------------------------------------------------------------------------------------------


def read_info(path: PathType) -> ImageInfo:
    """Geometry, pixel type, components and metadata of a DICOM file, from its header.

    (Large values such as the pixel data are not loaded; a JPEG 2000 file has the
    first bytes of its first frame read, since GDCM takes the bit depth from there.)

    >>> import tempfile, os, imalgebra as ia
    >>> p = os.path.join(tempfile.mkdtemp(), "i.dcm")
    >>> write(p, ia.Image.zeros((4, 3), ia.PixelType.UInt16, origin=(5, 6)))
    >>> read_info(p).origin, read_info(p).pixel_type
    ((5.0, 6.0, 0.0), <PixelType.UInt16: 3>)
    """
    return _header(path).info


def _decode_error(path: str, ts: str, err: BaseException) -> ImageIOError:
    try:
        from pydicom.uid import UID

        name = UID(ts).name
    except Exception:
        name = ts
    package = _CODEC_PACKAGES.get(ts)
    text = str(err).strip() or type(err).__name__
    if package and ("plugin" in text.lower() or "missing" in text.lower() or "no pixel data handlers" in text.lower()):
        msg = f"{path}: cannot decode the pixel data: transfer syntax {name} ({ts}) needs a decoder; install {package}"
    elif package:
        msg = (
            f"{path}: decoding transfer syntax {name} ({ts}) failed: {text}; the file may be corrupt, "
            f"or need a decoder other than {package} (GDCM-based readers such as SimpleITK may read it)"
        )
    else:
        msg = f"{path}: cannot decode the pixel data (transfer syntax {name}, {ts}): {text}"
    return ImageIOError(msg)


def _decode_frames(hdr: _Header, frames: Sequence[int], ds: Any | None = None) -> np.ndarray:
    """Frames ``frames`` as stored values, shape (n, rows, columns[, samples]), GDCM's colour handling."""
    from pydicom.pixels import iter_pixels, pixel_array

    path = hdr.path
    if hdr.native is not None and ds is None and list(frames) == list(range(frames[0], frames[0] + len(frames))):
        return _read_native(hdr, frames[0], len(frames))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if hdr.transfer_syntax == _DEFLATED or ds is not None:
                source = ds if ds is not None else _read_dataset(path, pixels=True)
                arr = pixel_array(source)
                arr = arr.reshape(hdr.frames, *arr.shape[-(2 if hdr.samples == 1 else 3) :])[list(frames)]
            else:
                arr = _decode_path(path, hdr, frames, pixel_array, iter_pixels)
    except ImageIOError:
        raise
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception as err:
        raise _decode_error(path, hdr.transfer_syntax, err) from None
    per_frame = (hdr.rows, hdr.columns) + ((hdr.samples,) if hdr.samples > 1 else ())
    arr = np.asarray(arr).reshape((len(frames), *per_frame))
    if arr.dtype.byteorder not in ("=", "|"):
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr


def _read_native(hdr: _Header, first: int, count: int) -> np.ndarray:
    """Consecutive frames of uncompressed grayscale data in one read, with the unused high bits
    cleared (sign-extended for signed data) as GDCM and pydicom do."""
    offset, code = hdr.native  # type: ignore[misc]
    dtype = np.dtype(code)
    per_frame = hdr.rows * hdr.columns
    out = np.empty(per_frame * count, dtype=dtype)
    try:
        with open(hdr.path, "rb", buffering=0) as f:
            f.seek(offset + first * per_frame * dtype.itemsize)
            view = memoryview(out).cast("B")
            done = 0
            while done < len(view):
                n = f.readinto(view[done:])
                if not n:
                    msg = f"{hdr.path}: truncated DICOM file: the pixel data ends early"
                    raise ImageIOError(msg)
                done += n
    except OSError as err:
        if isinstance(err, ImageIOError):
            raise
        msg = f"{hdr.path}: cannot be read ({err.strerror or err})"
        raise ImageIOError(msg) from None
    out = out.astype(dtype.newbyteorder("="), copy=False) if dtype.byteorder not in ("=", "|") else out
    unused = hdr.bits_allocated - hdr.bits_stored
    if 0 < unused < hdr.bits_allocated:
        np.left_shift(out, unused, out=out)
        np.right_shift(out, unused, out=out)
    return out.reshape(count, hdr.rows, hdr.columns)


def _decode_path(path: str, hdr: _Header, frames: Sequence[int], pixel_array: Any, iter_pixels: Any) -> np.ndarray:
    """Decode from the file, reading only the frames needed; JPEG through Pillow first.

    (For JPEG baseline/extended, Pillow's libjpeg-turbo gives GDCM's values
    exactly where pylibjpeg's libjpeg differs by 1-3 in colour upsampling.)
    """
    pillow_first = hdr.transfer_syntax in _JPEG_PILLOW_FIRST and hdr.bits_allocated == 8
    plugins = ["pillow", ""] if pillow_first else [""]
    for k, plugin in enumerate(plugins):
        try:
            if len(frames) == hdr.frames:
                return pixel_array(path, decoding_plugin=plugin)
            return np.stack(list(iter_pixels(path, indices=list(frames), decoding_plugin=plugin)))
        except Exception:
            if k == len(plugins) - 1:
                raise
    raise AssertionError  # pragma: no cover - the loop returns or raises


def _to_output(hdr: _Header, arr: np.ndarray, ds: Any | None) -> np.ndarray:
    """Stored values -> what GDCMImageIO hands ITK: palette, single bit, MONOCHROME1, rescale, type."""
    target = hdr.info.pixel_type.dtype
    if hdr.palette:
        from pydicom.pixels import apply_color_lut

        source = ds if ds is not None else _read_dataset(hdr.path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rgb = apply_color_lut(arr, source)
        if target.itemsize == 1 and rgb.dtype.itemsize > 1:
            rgb = rgb >> 8  # a 16-bit table on 8-bit indices: GDCM keeps the high byte
        return np.ascontiguousarray(rgb, dtype=target)
    if hdr.bits_allocated == 1:
        return (arr != 0).astype(np.uint8) * np.uint8(255)
    if hdr.photometric == "MONOCHROME1" and hdr.samples == 1:
        arr = _invert(hdr, arr)
    if hdr.rescale is not None:
        intercept, slope = hdr.rescale
        if target.kind in "iu":  # integer slope and intercept; the type holds every result (GDCM's best fit)
            values = arr.astype(target)
            if slope != 1:
                values *= target.type(slope)
            if intercept:
                values += target.type(intercept)
            return values
        return arr.astype(np.float64) * slope + intercept
    return np.ascontiguousarray(arr, dtype=target) if arr.dtype != target else arr


def _invert(hdr: _Header, arr: np.ndarray) -> np.ndarray:
    """GDCM's MONOCHROME1 -> MONOCHROME2 (ImageCodec::DoInvertMonochrome)."""
    if hdr.bits_allocated == 8:
        return (np.uint8(255) - arr.view(np.uint8)).view(arr.dtype)
    if hdr.bits_allocated == 16:
        if hdr.signed:
            return (np.uint16(65535) - arr.view(np.uint16)).view(arr.dtype)
        mask = np.uint16(2**hdr.bits_stored - 1)
        return mask - np.minimum(arr.astype(np.uint16), mask)
    return arr


def read_region(path: PathType, info: ImageInfo, region: Region) -> np.ndarray:
    """The pixels of ``region`` as a ``[z, y, x(, c)]`` array of ``info.pixel_type``'s dtype.

    Only the frames the region needs are decoded (for multi-frame files not
    deflated); each needed frame is decoded whole (compressed frames have no
    random access) and cropped.
    """
    hdr = _header(path)
    geometry = hdr.info.geometry
    if region.dimension != 3 or not geometry.region.contains(region):
        msg = f"{path}: region index={region.index} size={region.size} is not inside the image size {geometry.size}"
        raise ImageIOError(msg)
    frames = list(range(region.index[2], region.stop[2]))
    arr = _decode_frames(hdr, frames)
    arr = arr[:, region.index[1] : region.stop[1], region.index[0] : region.stop[0]]
    out = _to_output(hdr, arr, None)
    if out.dtype != info.pixel_type.dtype:
        out = out.astype(info.pixel_type.dtype)
    return np.ascontiguousarray(out)


def read_series(
    paths: Sequence[PathType],
    *,
    pixel_type: PixelType | None = None,
    index: Sequence[int] | None = None,
    size: Sequence[int] | None = None,
) -> Image:
    """Read DICOM files as one volume, sorted along the slice normal (see :mod:`.dicom_series`).

    Metadata is that of the first slice; :func:`series_metadata` gives every slice's.
    ``pixel_type`` converts as SimpleITK does; ``index``/``size`` read a region
    (decoding only the slices it needs).
    """
    from imalgebra.io import dicom_series

    image = dicom_series.read(paths, index=index, size=size)
    if pixel_type is not None and PixelType(pixel_type) != image.pixel_type:
        from imalgebra.io.convert import convert

        array, _ = convert(np.asarray(image), image.pixel_type, PixelType(pixel_type), name=os.fspath(paths[0]))
        image = Image.from_pixels(array, image.geometry, PixelType(pixel_type), metadata=image.metadata, copy=False)
    return image


def series_metadata(paths: Sequence[PathType]) -> list[Metadata]:
    """Each slice's metadata, in the order the series is read (sorted along the normal)."""
    from imalgebra.io import dicom_series

    return [h.info.metadata for h in dicom_series.sorted_headers(paths)]


# -- writing ------------------------------------------------------------------------------------------------------

_WRITABLE_2D = {
    PixelType.UInt8,
    PixelType.Int8,
    PixelType.UInt16,
    PixelType.Int16,
    PixelType.UInt32,
    PixelType.Int32,
    PixelType.VectorUInt8,
}
_WRITABLE_3D = {PixelType.UInt8, PixelType.UInt16, PixelType.Int16, PixelType.VectorUInt8}
_WRITER_OWNED = {
    "0008|0016", "0008|0018", "0020|0032", "0020|0037", "0028|0030", "0018|0088", "0028|0008", "0028|0009",
}  # fmt: skip


def _ds(value: float) -> str:
    """A DS value (at most 16 characters) that keeps as much precision as fits."""
    for digits in range(16, 5, -1):
        text = f"{value:.{digits}g}"
        if len(text) <= 16:
            return text
    return f"{value:.6g}"


def _copy_metadata(ds: Any, metadata: Mapping[str, str]) -> None:
    """Public text and number tags from ``metadata`` ("gggg|eeee"); others are skipped."""
    from pydicom.datadict import dictionary_VR

    for key, value in metadata.items():
        if len(key) != 9 or key[4] != "|" or key in _WRITER_OWNED:
            continue
        try:
            group, element = int(key[:4], 16), int(key[5:], 16)
        except ValueError:
            continue
        if group % 2 == 1 or group in (0x0002, 0x0028, 0x7FE0) or group == 0xFFFC:
            continue
        tag = (group << 16) | element
        try:
            vr = dictionary_VR(tag)
        except KeyError:
            continue
        try:
            if vr in _TEXT_VRS:
                parts = value.rstrip(" \0").split("\\")
                ds.add_new(tag, vr, parts if len(parts) > 1 else parts[0])
            elif vr in ("US", "SS", "UL", "SL"):
                numbers = [int(v) for v in value.split("\\") if v.strip()]
                ds.add_new(tag, vr, numbers if len(numbers) > 1 else numbers[0])
            elif vr in ("FL", "FD"):
                numbers = [float(v) for v in value.split("\\") if v.strip()]
                ds.add_new(tag, vr, numbers if len(numbers) > 1 else numbers[0])
        except (ValueError, TypeError, IndexError, OverflowError):
            continue


def write(path: PathType, image: Image, *, compress: bool = False) -> None:
    """Write ``image`` as a DICOM Secondary Capture file that SimpleITK reads back identically.

    2D images (one frame): UInt8, Int8, UInt16, Int16, UInt32, Int32, VectorUInt8 (3 components, RGB).
    3D images (multi-frame with functional groups): UInt8, UInt16, Int16 (stored unsigned with
    Rescale Intercept -32768), VectorUInt8 (RGB). Public text and number tags in the metadata ("gggg|eeee") are
    copied (e.g. ``0008|0060`` Modality, ``0010|0010`` Patient's Name); binary values and
    sequences are not. Uncompressed (``compress`` is ignored).

    >>> import tempfile, os, numpy as np, imalgebra as ia
    >>> p = os.path.join(tempfile.mkdtemp(), "v.dcm")
    >>> vol = ia.from_array(np.arange(24, dtype=np.int16).reshape(2, 3, 4) - 10).with_spacing((1, 1, 2.5))
    >>> write(p, vol)
    >>> info = read_info(p)
    >>> info.size, info.spacing, info.pixel_type
    ((4, 3, 2), (1.0, 1.0, 2.5), <PixelType.Int16: 2>)
    """
    pydicom = _pydicom()
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    path = os.fspath(path)
    pt, d = image.pixel_type, image.dimension
    if d == 3 and image.size[2] == 1 and pt in _WRITABLE_2D:
        d = 2
    allowed = _WRITABLE_2D if d == 2 else _WRITABLE_3D if d == 3 else set()
    if pt not in allowed or (pt.is_vector and image.components != 3):
        msg = (
            f"{path}: DICOM writing supports 2D {sorted(t.name for t in _WRITABLE_2D)} (vectors: 3 components, RGB) "
            f"and 3D {sorted(t.name for t in _WRITABLE_3D)}; got a {image.dimension}D {pt.name} image with "
            f"{image.components} component(s); cast it, write one file per slice, or use .mha/.nrrd"
        )
        raise ImageIOError(msg)
    g = image.geometry
    m = g.direction_matrix
    if g.dimension == 2:
        m3 = np.eye(3)
        m3[:2, :2] = m
        origin = [*g.origin, 0.0]
        spacing = [*g.spacing, 1.0]
    else:
        m3, origin, spacing = m, list(g.origin), list(g.spacing)
    if not np.allclose(m3.T @ m3, np.eye(3), atol=1e-6) or (np.linalg.det(m3) < 0 and d == 3):
        msg = (
            f"{path}: DICOM stores an orthonormal, right-handed orientation (slices along row x column); "
            f"the direction {g.direction} cannot be written; resample first or use .mha/.nrrd"
        )
        raise ImageIOError(msg)
    if not np.allclose(m3[:, 2], np.cross(m3[:, 0], m3[:, 1]), atol=1e-6):
        msg = f"{path}: the direction {g.direction} is not right-handed; DICOM slices lie along row x column"
        raise ImageIOError(msg)

    arr = np.asarray(image)
    frames = 1 if d == 2 else g.size[2]
    arr = arr.reshape((frames, g.size[1], g.size[0]) + ((3,) if pt.is_vector else ()))
    intercept = 0.0
    component = pt.component_type
    if d == 3 and component is PixelType.Int16:
        arr = (arr.astype(np.int32) + 32768).astype(np.uint16)
        intercept = -32768.0
        component = PixelType.UInt16
    bits = component.dtype.itemsize * 8

    ds = Dataset()
    _copy_metadata(ds, image.metadata)
    ds.SOPClassUID = _SC if d == 2 else _P + ("7.4" if pt.is_vector else "7.2" if bits == 8 else "7.3")
    ds.SOPInstanceUID = generate_uid()
    for keyword, factory in (
        ("StudyInstanceUID", generate_uid),
        ("SeriesInstanceUID", generate_uid),
        ("FrameOfReferenceUID", generate_uid),
    ):
        if keyword not in ds:
            setattr(ds, keyword, factory())
    for keyword, default in (("Modality", "OT"), ("PatientName", ""), ("PatientID", ""), ("StudyID", "")):
        if keyword not in ds:
            setattr(ds, keyword, default)
    if d == 2 and "ConversionType" not in ds:
        ds.ConversionType = "WSD"
    ds.SamplesPerPixel = 3 if pt.is_vector else 1
    ds.PhotometricInterpretation = "RGB" if pt.is_vector else "MONOCHROME2"
    if pt.is_vector:
        ds.PlanarConfiguration = 0
    ds.Rows, ds.Columns = g.size[1], g.size[0]
    ds.BitsAllocated = bits
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 1 if component.dtype.kind == "i" else 0
    iop = [_ds(float(v)) for v in (*m3[:, 0], *m3[:, 1])]
    pixel_spacing = [_ds(spacing[1]), _ds(spacing[0])]
    if d == 2:
        ds.ImagePositionPatient = [_ds(float(v)) for v in origin]
        ds.ImageOrientationPatient = iop
        ds.PixelSpacing = pixel_spacing
        if g.dimension == 3:
            ds.SpacingBetweenSlices = _ds(spacing[2])  # a one-slice volume keeps its thickness
        if not pt.is_vector:
            ds.RescaleIntercept = "0"
            ds.RescaleSlope = "1"
    else:
        ds.NumberOfFrames = frames
        ds.FrameIncrementPointer = 0x52009230
        if not pt.is_vector:
            ds.RescaleIntercept = _ds(intercept)
            ds.RescaleSlope = "1"
            ds.RescaleType = "US"
        shared = Dataset()
        orientation = Dataset()
        orientation.ImageOrientationPatient = iop
        measures = Dataset()
        measures.PixelSpacing = pixel_spacing
        measures.SpacingBetweenSlices = _ds(spacing[2])
        shared.PlaneOrientationSequence = [orientation]
        shared.PixelMeasuresSequence = [measures]
        ds.SharedFunctionalGroupsSequence = [shared]
        per_frame = []
        step = m3[:, 2] * spacing[2]
        for k in range(frames):
            item, plane = Dataset(), Dataset()
            plane.ImagePositionPatient = [_ds(float(v)) for v in np.asarray(origin) + k * step]
            item.PlanePositionSequence = [plane]
            per_frame.append(item)
        ds.PerFrameFunctionalGroupsSequence = per_frame
    ds.PixelData = np.ascontiguousarray(arr, dtype=component.dtype.newbyteorder("<")).tobytes()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.preamble = b"\0" * 128
    try:
        with atomic_path(path) as tmp, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pydicom.dcmwrite(tmp, ds, enforce_file_format=True)
    except ImageIOError:
        raise
    except OSError as err:
        msg = f"{path}: cannot be written ({err.strerror or err})"
        raise ImageIOError(msg) from err
    except Exception as err:
        msg = f"{path}: cannot be written as DICOM ({type(err).__name__}: {err})"
        raise ImageIOError(msg) from err


IO = FormatIO(
    name=NAME,
    extensions=EXTENSIONS,
    sniff=sniff,
    read_info=read_info,
    read_region=read_region,
    write=write,
    capabilities=Capabilities(
        header_only=True,
        region_read=False,
        streamed_write=False,
        pixel_types=frozenset(_WRITABLE_2D),
        dimensions=(2, 3),
    ),
    aliases=("DICOMImageIO",),
    description="DICOM (pydicom): single and multi-frame files, geometry and metadata as GDCM/SimpleITK; "
    "series via ia.dicom; writes 2D/3D Secondary Capture",
)
