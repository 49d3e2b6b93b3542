"""A conformance suite that every registered image IO passes (run by test_conformance.py).

Each check takes the :class:`~imalgebra.io.base.FormatIO` under test and a
:class:`Profile` saying what the format promises to keep (a PNG keeps no
origin; a JPEG is lossy; NIfTI stores orthonormal directions only...). The
checks:

* :func:`check_round_trip`: an image written and read back keeps its pixels,
  pixel type, components, geometry (1e-6) and, where the format stores them,
  metadata; ``read_info`` agrees with ``read``; and a region read equals the
  full read sliced, with the cropped geometry (hypothesis draws the image and
  the region, over every pixel type and dimension the IO claims);
* :func:`check_header_only`: ``read_info`` on a file with megabytes of pixels
  reads no more than a small header's worth of bytes (counted by the kernel in
  ``/proc/self/io``, so it holds whatever library the format uses);
* :func:`check_atomic_overwrite`: a write that fails at the commit leaves the
  old file byte for byte and no temporary file behind.

Import it from a test module with :func:`load` (pytest runs with
``--import-mode=importlib``, so test folders are not on ``sys.path``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import imalgebra as ia
from imalgebra.io import rawfile
from imalgebra.io.base import FormatIO

ALL_TYPES = tuple(t for t in ia.PixelType if t is not ia.PixelType.Unknown)


@attrs.frozen(kw_only=True)
class Profile:
    """What a format keeps; the defaults are the strict promise of DESIGN.md."""

    extension: str
    geometry: str = "full"  # "full": origin, spacing, direction; "xy-spacing": x/y spacing only; "none": size only
    geometry_rtol: float = 0.0  # relative tolerance on top of 1e-6 (formats storing float32 geometry)
    orthogonal_only: bool = False  # directions the format can store: orthonormal only
    space_only: bool = False  # the direction may only mix x, y, z (4D+: later axes stay identity)
    dimensions: tuple[int, ...] | None = None  # None: the IO's capabilities (up to 4)
    lossless: bool = True
    metadata: bool = False  # custom metadata keys survive a round trip
    components: tuple[int, ...] = (1, 2, 3, 4)  # component counts of vector images it can write
    pixel_types: tuple[ia.PixelType, ...] | None = None  # None: the IO's capabilities
    max_side: int = 6
    min_last_axis: tuple[tuple[int, int], ...] = ()  # (dimension, size): a thinner last axis is dropped on read
    right_handed: bool = False  # the direction must have a positive determinant
    region_read: bool = True  # read(index=, size=) works (possibly by decoding everything)
    header_image: tuple[int, ...] = (2048, 2048)  # size of the image used for the header-only check
    labels_read_as_scalar: bool = False  # a label image reads back as its unsigned scalar type

    def read_type(self, written: ia.PixelType) -> ia.PixelType:
        """The pixel type a file written with ``written`` reads back as."""
        return written.component_type if written.is_label and self.labels_read_as_scalar else written


def writable_types(io: FormatIO, profile: Profile) -> list[ia.PixelType]:
    if profile.pixel_types is not None:
        return list(profile.pixel_types)
    claimed = io.capabilities.pixel_types
    return [t for t in ALL_TYPES if claimed is None or t in claimed]


def _directions(dimension: int, orthogonal_only: bool, space_only: bool = False) -> st.SearchStrategy[np.ndarray]:
    if space_only and dimension > 3:
        full = np.eye(dimension)

        def embed(m: np.ndarray) -> np.ndarray:
            out = full.copy()
            out[:3, :3] = m
            return out

        return _directions(3, orthogonal_only).map(embed)
    eye = np.eye(dimension)

    @st.composite
    def build(draw: Any) -> np.ndarray:
        kind = draw(
            st.sampled_from(
                ["identity", "permuted", "rotated", "sheared"]
                if not orthogonal_only
                else ["identity", "permuted", "rotated"]
            )
        )
        if kind == "identity":
            return eye
        if kind == "permuted":
            perm = draw(st.permutations(range(dimension)))
            signs = draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=dimension, max_size=dimension))
            return eye[:, perm] * np.asarray(signs)
        angle = draw(st.floats(-np.pi, np.pi, allow_nan=False))
        c, s = np.cos(angle), np.sin(angle)
        m = eye.copy()
        m[:2, :2] = [[c, -s], [s, c]]
        if kind == "sheared":  # not orthogonal; columns stay unit vectors (spacing holds the lengths)
            m[0, 1] += draw(st.sampled_from([0.25, -0.4]))
            m /= np.linalg.norm(m, axis=0)
        return m

    return build()


def geometries(
    dimension: int, max_side: int, orthogonal_only: bool, space_only: bool = False
) -> st.SearchStrategy[ia.Geometry]:
    sides = st.lists(st.integers(1, max_side), min_size=dimension, max_size=dimension)
    coords = st.lists(
        st.floats(-500, 500, allow_nan=False).map(lambda v: round(v, 3)), min_size=dimension, max_size=dimension
    )
    spacings = st.lists(st.sampled_from([0.25, 0.5, 0.7, 1.0, 1.5, 2.0, 3.3]), min_size=dimension, max_size=dimension)
    return st.builds(
        lambda size, origin, spacing, direction: ia.Geometry(
            size=size, origin=origin, spacing=spacing, direction=direction.ravel()
        ),
        sides,
        coords,
        spacings,
        _directions(dimension, orthogonal_only, space_only),
    )


def _values(pixel_type: ia.PixelType, shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    if pixel_type.is_label:
        return hnp.arrays(pixel_type.dtype, shape, elements=st.integers(0, 5))
    return hnp.arrays(
        pixel_type.dtype, shape, elements=hnp.from_dtype(pixel_type.dtype, allow_nan=False, allow_infinity=False)
    )


def metadata_items() -> st.SearchStrategy[dict[str, str]]:
    keys = st.from_regex(r"k_[A-Za-z0-9_]{1,8}", fullmatch=True)
    values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12).map(str.strip)
    return st.dictionaries(keys, values, max_size=3)


def images(io: FormatIO, profile: Profile) -> st.SearchStrategy[ia.Image]:
    """Images this IO claims to write: its pixel types, dimensions (up to 4) and component counts."""
    types = writable_types(io, profile)
    dims = [d for d in (profile.dimensions or io.capabilities.dimensions) if d <= 4]

    @st.composite
    def build(draw: Any) -> ia.Image:
        pixel_type = draw(st.sampled_from(types))
        dimension = draw(st.sampled_from(dims))
        geometry = draw(geometries(dimension, profile.max_side, profile.orthogonal_only, profile.space_only))
        for dim, least in profile.min_last_axis:
            if dimension == dim and geometry.size[-1] < least:
                geometry = geometry.with_size((*geometry.size[:-1], least))
        if profile.right_handed and np.linalg.det(geometry.direction_matrix) < 0:
            flipped = geometry.direction_matrix
            flipped[:, -1] *= -1
            geometry = geometry.with_direction(flipped.ravel())
        components = draw(st.sampled_from(profile.components)) if pixel_type.is_vector else 1
        shape = geometry.shape + ((components,) if pixel_type.is_vector else ())
        pixels = draw(_values(pixel_type, shape))
        metadata = draw(metadata_items()) if profile.metadata else {}
        return ia.Image.from_pixels(pixels, geometry, pixel_type, metadata=metadata)

    return build()


def regions(size: tuple[int, ...]) -> st.SearchStrategy[tuple[tuple[int, ...], tuple[int, ...]]]:
    @st.composite
    def build(draw: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
        index = tuple(draw(st.integers(0, s - 1)) for s in size)
        extent = tuple(draw(st.integers(1, s - i)) for s, i in zip(size, index, strict=True))
        return index, extent

    return build()


@contextlib.contextmanager
def scratch() -> Iterator[Path]:
    """A fresh folder per hypothesis example (function-scoped fixtures do not reset between examples)."""
    folder = Path(tempfile.mkdtemp(prefix="imalgebra-conformance-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _close(a: tuple[float, ...], b: tuple[float, ...], what: str, rtol: float = 0.0) -> None:
    assert np.allclose(a, b, rtol=rtol, atol=1e-6), f"{what}: {a} != {b}"


def assert_same_geometry(expected: ia.Geometry, actual: ia.Geometry, profile: Profile) -> None:
    assert actual.size == expected.size, f"size {actual.size} != {expected.size}"
    rtol = profile.geometry_rtol
    if profile.geometry == "xy-spacing":
        _close(actual.spacing[:2], expected.spacing[:2], "x/y spacing", rtol)
    if profile.geometry == "full":
        _close(actual.spacing, expected.spacing, "spacing", rtol)
        _close(actual.origin, expected.origin, "origin", rtol)
        _close(actual.direction, expected.direction, "direction", rtol)


def check_round_trip(io: FormatIO, profile: Profile, image: ia.Image, data: Any) -> None:
    """Write ``image``, read it back whole and by a drawn region; everything the format keeps must match."""
    with scratch() as folder:
        path = folder / f"image{profile.extension}"
        ia.write(image, path, io=io.name)
        info = ia.read_info(path)
        back = ia.read(path)
        assert info.io == io.name, f"read_info chose {info.io}, not {io.name}"
        expected_type = profile.read_type(image.pixel_type)
        assert back.pixel_type == expected_type, f"{back.pixel_type} != {expected_type}"
        assert back.components == image.components
        assert info.pixel_type == back.pixel_type and info.components == back.components
        assert info.geometry == back.geometry
        assert_same_geometry(image.geometry, back.geometry, profile)
        if profile.lossless:
            np.testing.assert_array_equal(np.asarray(back), np.asarray(image))
        if profile.metadata:
            missing = {k: v for k, v in image.metadata.items() if back.metadata.get(k) != v}
            assert not missing, f"metadata lost or changed: {missing} (read back {dict(back.metadata)})"
        if profile.region_read:
            index, size = data.draw(regions(image.size), label="region")
            part = ia.read(path, index=index, size=size)
            region = ia.Region(index=index, size=size)
            np.testing.assert_array_equal(np.asarray(part), np.asarray(back)[region.slices])
            assert part.pixel_type == back.pixel_type
            expected = back.geometry.crop(region)
            assert part.geometry.size == expected.size
            _close(part.geometry.origin, expected.origin, "region origin", profile.geometry_rtol)
            _close(part.geometry.spacing, expected.spacing, "region spacing", profile.geometry_rtol)
            _close(part.geometry.direction, expected.direction, "region direction", profile.geometry_rtol)


def bytes_read() -> int | None:
    """Bytes this process has read through read(2)-like calls (Linux), or None."""
    try:
        with open("/proc/self/io", "rb") as f:
            for line in f.read().splitlines():
                if line.startswith(b"rchar:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def header_test_image(io: FormatIO, profile: Profile) -> ia.Image:
    """A noisy image with megabytes of pixels, of the first type the IO writes (UInt8 when it can)."""
    types = writable_types(io, profile)
    pixel_type = ia.PixelType.UInt8 if ia.PixelType.UInt8 in types else types[0]
    rng = np.random.default_rng(7)
    shape = tuple(profile.header_image[::-1])
    components = 3 if pixel_type.is_vector and 3 in profile.components else 1
    if pixel_type.is_vector:
        shape += (components,)
    if pixel_type.dtype.kind in "iu":
        hi = min(int(np.iinfo(pixel_type.dtype).max), 200)
        pixels = rng.integers(0, hi, shape).astype(pixel_type.dtype)
    else:
        pixels = rng.random(shape).astype(pixel_type.dtype)
    return ia.Image.from_pixels(pixels, ia.Geometry(size=profile.header_image), pixel_type)


def check_header_only(io: FormatIO, profile: Profile, folder: Path, limit: int = 256 * 1024) -> tuple[int, int]:
    """``read_info`` reads at most ``limit`` bytes of a file holding megabytes of pixels; returns (read, size)."""
    image = header_test_image(io, profile)
    path = folder / f"big{profile.extension}"
    ia.write(image, path, io=io.name)
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    before = bytes_read()
    if before is None:
        pytest.skip("/proc/self/io is not available to count bytes read")
    info = ia.read_info(path)
    used = bytes_read() - before  # type: ignore[operator]
    # a 2D file may read back with a trailing axis of 1 (DICOM does, as in SimpleITK)
    assert info.size[: image.dimension] == image.size and all(n == 1 for n in info.size[image.dimension :])
    assert size > 4 * limit, f"the test file is too small ({size} bytes) to tell a header read from a full read"
    assert used <= limit, f"read_info read {used} bytes of a {size}-byte file (allowed {limit})"
    return used, size


def check_atomic_overwrite(io: FormatIO, profile: Profile, folder: Path, monkeypatch: Any) -> None:
    """A write that fails at its commit leaves the previous file byte for byte, and no temporary file."""
    types = writable_types(io, profile)
    pixel_type = ia.PixelType.UInt8 if ia.PixelType.UInt8 in types else types[0]
    components = 3 if pixel_type.is_vector and 3 in profile.components else 1
    old = ia.Image.zeros((8, 6), pixel_type, components=components)
    new = old.with_pixel((1, 1), (7,) * components if pixel_type.is_vector else 7)
    path = folder / f"target{profile.extension}"
    ia.write(old, path, io=io.name)
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise OSError(28, "No space left on device (injected)")

    monkeypatch.setattr(os, "replace", refuse)
    try:
        ia.write(new, path, io=io.name)
    except OSError:
        pass
    else:
        raise AssertionError(f"{io.name}: the write succeeded although os.replace failed: it does not write atomically")
    finally:
        monkeypatch.undo()
    after = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    assert after == before, f"{io.name}: a failed write changed or left files: {sorted(set(after) ^ set(before))}"
    left = [p.name for p in folder.iterdir() if p.name.startswith(".imalgebra-tmp-")]
    assert not left, f"temporary files left behind: {left}"


# -- helpers shared by the format tests (test_metaimage.py, test_nrrd.py) ----------------------------

INTEROP_TYPES = [t for t in ia.PixelType if t is not ia.PixelType.Unknown and not t.is_label]
GEOMETRY = ia.Geometry(
    size=(5, 4, 3), origin=(1.5, -2.0, 30.25), spacing=(0.5, 0.25, 3.0), direction=(0, 1, 0, -1, 0, 0, 0, 0, 1)
)


def sample_pixels(pixel_type: ia.PixelType, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dt = pixel_type.dtype
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return rng.integers(info.min, info.max, shape, dtype=dt, endpoint=True)
    if dt.kind == "c":
        return (rng.normal(size=shape) * 1e3 + 1j * rng.normal(size=shape) * 1e3).astype(dt)
    return (rng.normal(size=shape) * 1e3).astype(dt)


def sample_image(pixel_type: ia.PixelType, components: int = 3, geometry: ia.Geometry = GEOMETRY) -> ia.Image:
    shape = geometry.shape + ((components,) if pixel_type.is_vector else ())
    return ia.Image.from_pixels(
        sample_pixels(pixel_type, shape), geometry, pixel_type, metadata={"MyKey": "My Value = 2", "0008|0060": "CT"}
    )


def to_sitk(sitk: Any, image: ia.Image) -> Any:
    s = sitk.GetImageFromArray(np.asarray(image), isVector=image.pixel_type.is_vector)
    s.SetOrigin(image.origin)
    s.SetSpacing(image.spacing)
    s.SetDirection(image.direction)
    for k, v in image.metadata.items():
        s.SetMetaData(k, v)
    return s


def assert_sitk_geometry(img: ia.Image, s: Any) -> None:
    assert img.size == s.GetSize()
    np.testing.assert_allclose(img.origin, s.GetOrigin(), atol=1e-6)
    np.testing.assert_allclose(img.spacing, s.GetSpacing(), atol=1e-6)
    np.testing.assert_allclose(img.direction, s.GetDirection(), atol=1e-6)


class CountingFile:
    """A file object that counts the bytes read through it."""

    def __init__(self, f: Any, counter: list[int]) -> None:
        self._f = f
        self._counter = counter

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        self._counter[0] += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        n = self._f.readinto(buffer)
        self._counter[0] += n or 0
        return n

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)

    def __enter__(self) -> CountingFile:
        return self

    def __exit__(self, *args: object) -> None:
        self._f.close()


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts every byte MetaImage and NRRD read through rawfile.open_binary."""
    counter = [0]
    real = rawfile.open_binary
    monkeypatch.setattr(rawfile, "open_binary", lambda path: CountingFile(real(path), counter))
    return counter


def info_of(image: ia.Image) -> ia.io.ImageInfo:
    return ia.io.ImageInfo(
        geometry=image.geometry, pixel_type=image.pixel_type, components=image.components, metadata=image.metadata
    )
