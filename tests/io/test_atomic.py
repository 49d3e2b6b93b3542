"""Safe writes: nothing under the target name until the write is complete; failures leave the old file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import imalgebra as ia
from imalgebra.io import atomic
from imalgebra.io.atomic import TEMP_PREFIX, AtomicFiles, atomic_path, atomic_paths


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_atomic_path_writes_a_temporary_file_beside_the_target_with_its_suffix(tmp_path: Path) -> None:
    target = tmp_path / "out.nii.gz"
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path
        assert tmp.name.startswith(TEMP_PREFIX) and tmp.name.endswith("out.nii.gz")
        assert tmp.exists() and not target.exists()
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    assert _names(tmp_path) == ["out.nii.gz"]


def test_a_failure_inside_the_block_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "a.mha"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("killed")
    assert target.read_bytes() == b"old"
    assert _names(tmp_path) == ["a.mha"]


def test_a_failing_rename_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "a.raw"
    target.write_bytes(b"old")

    def refuse(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(ia.ImageIOError, match="No space left"), atomic_path(target) as tmp:
        tmp.write_bytes(b"new")
    monkeypatch.undo()
    assert target.read_bytes() == b"old"
    assert _names(tmp_path) == ["a.raw"]


def test_two_files_are_committed_data_first_header_last(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    order: list[str] = []
    real = os.replace

    def record(src: os.PathLike[str], dst: os.PathLike[str]) -> None:
        order.append(Path(dst).name)
        real(src, dst)

    monkeypatch.setattr(os, "replace", record)
    with atomic_paths(tmp_path / "x.raw", tmp_path / "x.mhd") as (raw, header):
        raw.write_bytes(b"1234")
        header.write_bytes(b"ElementDataFile = x.raw\n")
    assert order == ["x.raw", "x.mhd"]


def test_a_missing_folder_is_an_image_io_error(tmp_path: Path) -> None:
    with pytest.raises(ia.ImageIOError, match="does not exist"), atomic_path(tmp_path / "nope" / "a.mha"):
        pass


def test_writing_over_a_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.mha").mkdir()
    with pytest.raises(ia.ImageIOError, match="folder"), atomic_path(tmp_path / "a.mha"):
        pass


def test_the_new_file_gets_the_umask_mode_not_a_private_one(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "m.bin") as tmp:
            tmp.write_bytes(b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "m.bin").stat().st_mode & 0o777 == 0o644


def test_a_folder_target_is_replaced_whole(tmp_path: Path) -> None:
    target = tmp_path / "store.zarr"
    target.mkdir()
    (target / "old").write_text("old")
    with atomic_path(target, directory=True) as tmp:
        assert not tmp.exists()
        tmp.mkdir()
        (tmp / "new").write_text("new")
    assert _names(target) == ["new"]
    assert _names(tmp_path) == ["store.zarr"]


def test_commit_twice_is_an_error_and_abort_after_commit_is_harmless(tmp_path: Path) -> None:
    files = AtomicFiles([tmp_path / "a.bin"])
    files.temps[0].write_bytes(b"a")
    files.commit()
    files.abort()
    assert (tmp_path / "a.bin").read_bytes() == b"a"
    with pytest.raises(ia.ImageIOError, match="already"):
        files.commit()


def test_every_format_write_goes_through_a_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    real = atomic.AtomicFiles.commit

    def spy(self: AtomicFiles) -> None:
        seen.extend(t.name for t in self.targets)
        real(self)

    monkeypatch.setattr(atomic.AtomicFiles, "commit", spy)
    img = ia.Image.zeros((4, 3), ia.PixelType.UInt8)
    for name in ("a.mha", "b.mhd", "c.nrrd", "d.nhdr"):
        ia.write(img, tmp_path / name)
    assert seen == ["a.mha", "b.raw", "b.mhd", "c.nrrd", "d.raw", "d.nhdr"]


_WRITER = """
import sys, numpy as np, imalgebra as ia
img = ia.from_array(np.full((32, 256, 512), int(sys.argv[2]), np.int16))
print("ready", flush=True)
while True:
    ia.write(img, sys.argv[1])
"""


@pytest.mark.slow
def test_killing_a_writer_never_leaves_a_torn_file(tmp_path: Path) -> None:
    target = tmp_path / "vol.mha"
    ia.write(ia.from_array(np.full((32, 256, 512), 1, np.int16)), target)
    rng = np.random.default_rng(3)
    for trial in range(4):
        with subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(target), str(trial + 2)], stdout=subprocess.PIPE, text=True
        ) as proc:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            time.sleep(float(rng.uniform(0.0, 0.2)))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        back = ia.read(target)  # the old file or a complete new one, never a torn one
        values = np.unique(np.asarray(back))
        assert len(values) == 1 and 1 <= values[0] <= trial + 2
    for leftover in tmp_path.glob(f"{TEMP_PREFIX}*"):  # a kill leaves its temporary (never the target)
        leftover.unlink()


def test_fsync_happens_only_under_durable_writes(tmp_path, monkeypatch):
    from imalgebra.io import atomic

    synced: list[str] = []
    monkeypatch.setattr(atomic, "fsync_path", lambda p: synced.append(str(p)))
    with atomic.atomic_path(tmp_path / "fast.bin") as tmp:
        tmp.write_bytes(b"x")
    assert synced == []
    with atomic.durable_writes(), atomic.atomic_path(tmp_path / "safe.bin") as tmp:
        tmp.write_bytes(b"y")
    assert any(".imalgebra-tmp-" in p for p in synced) and str(tmp_path) in synced
    assert (tmp_path / "safe.bin").read_bytes() == b"y"
