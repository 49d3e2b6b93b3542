"""Bad files raise an ImageIOError naming the file and what is wrong: never a bare parser traceback, a hang,
or an allocation larger than the file justifies."""

from __future__ import annotations

import gzip
import os
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import imalgebra as ia

MHA = ["ObjectType = Image", "NDims = 2", "DimSize = 4 3", "ElementType = MET_SHORT"]
NRRD = ["NRRD0004", "type: short", "dimension: 2", "sizes: 4 3", "endian: little"]
PIXELS = np.arange(12, dtype="<i2").tobytes()


def _mha(path: Path, lines: list[str], data: bytes = PIXELS) -> Path:
    path.write_bytes(("\n".join(lines) + "\n").encode() + data)
    return path


def _nrrd(path: Path, lines: list[str], data: bytes = PIXELS, *, blank: bool = True) -> Path:
    path.write_bytes(("\n".join(lines) + ("\n\n" if blank else "\n")).encode() + data)
    return path


def _fails(path: Path, *phrases: str, **kwargs: object) -> ia.ImageIOError:
    with pytest.raises(ia.ImageIOError) as info:
        ia.read(path, **kwargs)
    err = info.value
    assert isinstance(err, OSError)
    text = str(err)
    assert str(path) in text, f"the message does not name the file: {text}"
    for phrase in phrases:
        assert phrase in text, f"{phrase!r} not in: {text}"
    assert err.__cause__ is None or isinstance(err.__cause__, Exception)
    return err


# -- any file -------------------------------------------------------------------------------


def test_a_missing_file(tmp_path: Path) -> None:
    _fails(tmp_path / "nope.mha", "no such file")
    _fails(tmp_path / "nodir" / "nope.mha", "no such file", "does not exist either")


@pytest.mark.parametrize("name", ["e.mha", "e.nrrd", "e.mhd", "e.xyz", "e"])
def test_an_empty_file(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"")
    _fails(tmp_path / name, "empty")


@pytest.mark.parametrize("name", ["d.mha", "d"])
def test_a_folder(tmp_path: Path, name: str) -> None:
    (tmp_path / name).mkdir()
    _fails(tmp_path / name, "folder")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads every file")
def test_an_unreadable_file(tmp_path: Path) -> None:
    path = _mha(tmp_path / "u.mha", [*MHA, "ElementDataFile = LOCAL"])
    path.chmod(0)
    try:
        _fails(path, "permission denied")
    finally:
        path.chmod(0o644)


def test_a_permission_error_is_reported_as_such(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _mha(tmp_path / "p.mha", [*MHA, "ElementDataFile = LOCAL"])
    from imalgebra.io import registry

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(registry, "open", refuse, raising=False)  # as a non-root user sees a mode-000 file
    _fails(path, "permission denied")


# -- MetaImage ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "phrase"),
    [
        ([*MHA[:2], "DimSize = ten 10", MHA[3], "ElementDataFile = LOCAL"], "DimSize must be numbers"),
        (["NDims = 7", "DimSize = 4 3", MHA[3], "ElementDataFile = LOCAL"], "DimSize needs 7 values"),
        (["NDims = 1", "DimSize = 4", MHA[3], "ElementDataFile = LOCAL"], "NDims = 1 is not supported"),
        ([*MHA[:3], "ElementType = MET_BOGUS", "ElementDataFile = LOCAL"], "ElementType 'MET_BOGUS' is not supported"),
        ([*MHA, "ElementSpacing = 0 1", "ElementDataFile = LOCAL"], "has a zero"),
        ([*MHA, "TransformMatrix = 1 0 2 0", "ElementDataFile = LOCAL"], "not invertible"),
        ([*MHA, "ElementNumberOfChannels = 0", "ElementDataFile = LOCAL"], "at least 1"),
        ([*MHA[:2], MHA[3], "ElementDataFile = LOCAL"], "no DimSize line"),
        ([*MHA, "this line has no equals sign", "ElementDataFile = LOCAL"], "is not 'Key = Value'"),
        (MHA, "no ElementDataFile line"),
        ([*MHA, "ElementDataFile = LIST", "one.raw"], "needs 3 file names"),
        ([*MHA, "ElementDataFile = s%d.raw 1 3 0"], "step of 0"),
        (["NDims = 3", "DimSize = 1 1 2000000000", MHA[3], "ElementDataFile = s%d.raw"], "would name 2000000000"),
    ],
)
def test_a_corrupt_metaimage_header(tmp_path: Path, lines: list[str], phrase: str) -> None:
    _fails(_mha(tmp_path / "c.mha", lines, b""), phrase)


def test_truncated_metaimage_data(tmp_path: Path) -> None:
    _fails(_mha(tmp_path / "t.mha", [*MHA, "ElementDataFile = LOCAL"], PIXELS[:-5]), "truncated or the header lies")
    compressed = zlib.compress(PIXELS)
    path = _mha(
        tmp_path / "z.mha",
        [*MHA, "CompressedData = True", f"CompressedDataSize = {len(compressed)}", "ElementDataFile = LOCAL"],
        compressed[:-6],
    )
    _fails(path, "truncated")


def test_corrupt_compressed_data(tmp_path: Path) -> None:
    noise = bytes(np.random.default_rng(0).integers(0, 256, 200, dtype=np.uint8))
    _fails(_mha(tmp_path / "n.mha", [*MHA, "CompressedData = True", "ElementDataFile = LOCAL"], noise), "corrupt")


def test_a_missing_or_odd_data_file(tmp_path: Path) -> None:
    _fails(_mha(tmp_path / "m.mhd", [*MHA, "ElementDataFile = missing.raw"], b""), "data file does not exist")
    (tmp_path / "folder.raw").mkdir()
    _fails(_mha(tmp_path / "f.mhd", [*MHA, "ElementDataFile = folder.raw"], b""), "is a folder")
    (tmp_path / "short.raw").write_bytes(PIXELS[:10])
    _fails(_mha(tmp_path / "s.mhd", [*MHA, "ElementDataFile = short.raw"], b""), "holds only 10 bytes")


@pytest.mark.parametrize("compressed", [False, True])
def test_lying_sizes_are_caught_before_allocating(tmp_path: Path, compressed: bool) -> None:
    lines = ["NDims = 3", "DimSize = 100000 100000 100000", "ElementType = MET_DOUBLE"]
    data = zlib.compress(bytes(1000)) if compressed else bytes(1000)
    if compressed:
        lines.append("CompressedData = True")
    path = _mha(tmp_path / "lie.mha", [*lines, "ElementDataFile = LOCAL"], data)
    tracemalloc.start()
    try:
        _fails(path, "header lies")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20, f"{peak} bytes allocated for a {path.stat().st_size}-byte file"


# -- NRRD ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "phrase"),
    [
        (["NRRD0004", "type: quaternion", "dimension: 2", "sizes: 4 3", "encoding: raw"], "type 'quaternion'"),
        (["NRRD0004", "type: short", "dimension: 2", "sizes: 4 3 2", "encoding: raw"], "must be 2 positive"),
        (["NRRD0004", "type: short", "dimension: 2", "sizes: 4 0", "encoding: raw"], "must be 2 positive"),
        (["NRRD0004", "type: short", "dimension: 2", "encoding: raw"], "no 'sizes:' field"),
        ([*NRRD, "encoding: lzma"], "encoding 'lzma' is not supported"),
        ([*NRRD, "encoding: raw", "space: mars", "space directions: (1,0) (0,1)"], "not a NRRD space"),
        ([*NRRD, "encoding: raw", "space dimension: 2", "space directions: (1,0)"], "needs 2 entries"),
        ([*NRRD, "encoding: raw", "space dimension: 2", "space directions: (1,0) (0,0)"], "zero vector"),
        ([*NRRD, "encoding: raw", "kinds: vector RGB-color"], "2 non-domain axes"),
        ([*NRRD, "encoding: raw", "this is not a field"], "is not 'field: value'"),
        ([*NRRD, "encoding: raw", "byte skip: -1", "encoding: gzip"], "byte skip: -1"),
        ([*NRRD[:3], "sizes: 4 900000000", "encoding: raw", "data file: s%d 0 899999999 1"], "at most 100000"),
    ],
)
def test_a_corrupt_nrrd_header(tmp_path: Path, lines: list[str], phrase: str) -> None:
    _fails(_nrrd(tmp_path / "c.nrrd", lines), phrase)


def test_truncated_nrrd_data(tmp_path: Path) -> None:
    _fails(_nrrd(tmp_path / "t.nrrd", [*NRRD, "encoding: raw"], PIXELS[:7]), "truncated or the header lies")
    _fails(_nrrd(tmp_path / "g.nrrd", [*NRRD, "encoding: gzip"], gzip.compress(PIXELS)[:-12]), "truncated")
    _fails(_nrrd(tmp_path / "a.nrrd", [*NRRD, "encoding: ascii"], b"1 2 3"), "truncated")
    _fails(_nrrd(tmp_path / "h.nrrd", [*NRRD, "encoding: hex"], b"00ff"), "truncated")
    _fails(_nrrd(tmp_path / "x.nrrd", [*NRRD, "encoding: ascii"], b"1 2 3 4 5 6 7 8 9 10 11 twelve"), "not a number")
    _fails(_nrrd(tmp_path / "n.nrrd", [*NRRD, "encoding: raw"], b"", blank=False), "holds only 0 bytes")


def test_a_missing_nrrd_data_file_or_a_line_skip_past_the_end(tmp_path: Path) -> None:
    _fails(_nrrd(tmp_path / "m.nhdr", [*NRRD, "encoding: raw", "data file: gone.raw"], b""), "does not exist")
    (tmp_path / "d.raw").write_bytes(b"one line\n" + PIXELS)
    _fails(
        _nrrd(tmp_path / "l.nhdr", [*NRRD, "encoding: raw", "line skip: 5", "data file: d.raw"], b""), "skip 5 lines"
    )


def test_not_nrrd_at_all(tmp_path: Path) -> None:
    (tmp_path / "x.nrrd").write_bytes(b"P5\n4 3\n255\n" + bytes(12))
    _fails(tmp_path / "x.nrrd", "not recognised")
    with pytest.raises(ia.ImageIOError, match="not a NRRD file"):
        ia.read(tmp_path / "x.nrrd", io="NrrdImageIO")


# -- fuzzing: whatever happens to the bytes, the error is an ImageIOError -------------------------------


_SEEDS: dict[tuple[str, bool], bytes] = {}


def _seed(folder: Path, kind: str, compressed: bool) -> bytes:
    """A valid file's bytes, written once per kind."""
    if (kind, compressed) not in _SEEDS:
        image = ia.from_array(np.arange(60, dtype=np.int16).reshape(3, 4, 5)).with_metadata({"k": "v"})
        path = folder / f"seed.{kind}"
        ia.write(image, path, compress=compressed)
        _SEEDS[(kind, compressed)] = path.read_bytes()
    return _SEEDS[(kind, compressed)]


@settings(max_examples=60)
@given(
    kind=st.sampled_from(["mha", "nrrd"]),
    compressed=st.booleans(),
    cut=st.integers(0, 400),
    flips=st.lists(st.tuples(st.integers(0, 399), st.integers(0, 255)), max_size=4),
)
def test_mangled_files_never_raise_anything_but_image_io_errors(
    tmp_path_factory: pytest.TempPathFactory, kind: str, compressed: bool, cut: int, flips: list[tuple[int, int]]
) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    data = bytearray(_seed(folder, kind, compressed))
    for at, value in flips:
        if at < len(data):
            data[at] = value
    if cut:
        del data[-cut:]
    path = folder / f"mangled.{kind}"
    path.write_bytes(bytes(data))
    try:
        ia.read(path)
        ia.read(path, index=(1, 1, 1), size=(2, 2, 1))
    except ia.ImageIOError as err:
        assert str(path) in str(err)
    except ia.ImageIndexError:
        pass  # a mangled size can make the requested region fall outside: a clear error too
