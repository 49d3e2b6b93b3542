"""Every registered image IO passes the conformance suite (tests/io/conformance.py).

IOs appear here as they register (``ia.io.registered()``). The profiles say what
each format is known to keep; an IO without a profile is held to the strict
default (lossless, full geometry) with its first extension.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import imalgebra as ia


def _load_conformance() -> Any:
    name = "imalgebra_tests_io_conformance"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("conformance.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


conformance = _load_conformance()
Profile = conformance.Profile

PROFILES = {
    "MetaImageIO": Profile(extension=".mha", metadata=True),
    "NrrdImageIO": Profile(extension=".nrrd", metadata=True),
    # NIfTI stores geometry as float32 (qoffset, srow): origins of hundreds of mm keep ~1e-5
    # (and a last axis of size 1 may be dropped on read: 4D t=1, vector images with z=1, as ITK does)
    "NiftiImageIO": Profile(
        extension=".nii", orthogonal_only=True, space_only=True, geometry_rtol=1e-6, min_last_axis=((3, 2), (4, 2))
    ),
    # a DICOM file is a slice (or frames) in 3D space: 2D images read back 3D, as in SimpleITK
    "GDCMImageIO": Profile(
        extension=".dcm",
        orthogonal_only=True,
        dimensions=(3,),
        min_last_axis=((3, 2),),
        right_handed=True,
        header_image=(1024, 1024, 4),
        components=(3,),
        pixel_types=(ia.PixelType.UInt8, ia.PixelType.UInt16, ia.PixelType.Int16, ia.PixelType.VectorUInt8),
    ),
    "PNGImageIO": Profile(extension=".png", geometry="none", components=(3, 4), labels_read_as_scalar=True),
    "JPEGImageIO": Profile(
        extension=".jpg", geometry="none", lossless=False, components=(3,), labels_read_as_scalar=True
    ),
    # BMP: a gray image reads back as 3-component RGB (as in SimpleITK), so only RGB(A) round-trips
    "BMPImageIO": Profile(
        extension=".bmp", geometry="none", components=(3, 4), pixel_types=(ia.PixelType.VectorUInt8,)
    ),
    # TIFF keeps x/y spacing only; one page reads 2D; one sample per pixel reads as a scalar
    "TIFFImageIO": Profile(
        extension=".tif",
        geometry="xy-spacing",
        min_last_axis=((3, 2),),
        components=(2, 3, 4),
        labels_read_as_scalar=True,
    ),
    "ZarrImageIO": Profile(extension=".zarr", metadata=True),
}


# Known gaps of other IOs, as strict xfails: fixing the IO makes the test XPASS, which fails until removed here.
KNOWN_GAPS: dict[tuple[str, str], str] = {}


def _params(names: list[str] | tuple[str, ...], check: str) -> list:
    return [
        pytest.param(n, marks=pytest.mark.xfail(reason=KNOWN_GAPS[(n, check)], strict=True))
        if (n, check) in KNOWN_GAPS
        else n
        for n in names
    ]


def _profile(name: str) -> Profile:
    return PROFILES.get(name) or Profile(extension=ia.io.get(name).extensions[0])


NAMES = ia.io.registered()
WRITERS = [n for n in NAMES if ia.io.get(n).write is not None or ia.io.get(n).open_writer is not None]


@pytest.mark.parametrize("name", _params(WRITERS, "round_trip"))
def test_round_trip_keeps_what_the_format_promises(name: str) -> None:
    io = ia.io.get(name)
    profile = _profile(name)

    @settings(max_examples=30 if name in ("MetaImageIO", "NrrdImageIO") else 15)
    @given(image=conformance.images(io, profile), data=st.data())
    def run(image: ia.Image, data: st.DataObject) -> None:
        conformance.check_round_trip(io, profile, image, data)

    run()


@pytest.mark.parametrize("name", _params(WRITERS, "header_only"))
def test_header_only_read_touches_no_pixel_bytes(name: str, tmp_path: Path) -> None:
    used, size = conformance.check_header_only(ia.io.get(name), _profile(name), tmp_path)
    assert used < size


@pytest.mark.parametrize("name", _params(WRITERS, "atomic"))
def test_failed_overwrite_leaves_the_old_file(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conformance.check_atomic_overwrite(ia.io.get(name), _profile(name), tmp_path, monkeypatch)


@pytest.mark.parametrize("name", NAMES)
def test_every_io_has_a_name_extensions_and_a_sniffer_that_never_raises(name: str) -> None:
    io = ia.io.get(name)
    assert io.extensions and all(e.startswith(".") for e in io.extensions)
    for head in (b"", b"\x00" * 1024, b"NRRD0004\n", b"garbage" * 200, bytes(range(256)) * 4):
        assert io.sniff(head) in (True, False)
