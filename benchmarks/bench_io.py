"""File I/O speed and memory against SimpleITK: whole reads and writes, and region reads.

Part 1: read and write an N^3 Int16 volume as .mha, .nii and .nii.gz with
imalgebra and with SimpleITK in the same run; the ratio is imalgebra's time
over SimpleITK's (target: no slower than 1.2x). Every file read was written by
SimpleITK, so both read the same bytes. imalgebra's writes are atomic and
``fsync`` the data (SimpleITK's do neither); the "no fsync" row shows what the
durability costs on this disk.

Part 2: a 64^3 region from the middle of the uncompressed .mha / .nrrd / .nii:
the speed-up over reading the whole file (target: at least 50x; SimpleITK's
ExtractIndex/ExtractSize manages about 80x, nibabel's array proxy about 400x)
and the extra memory the region read needs.

Every measurement runs in a fresh interpreter: after one warm-up run (reads), its time
is the best of ``--repeat`` runs, its memory the peak resident set above what
the process held before (Linux ``/proc/self/status`` VmHWM, reset through
``clear_refs``). The files are in the page cache, so reads measure the
library, not the disk; writes include handing the data to the kernel (and,
for imalgebra, waiting for the disk in ``fsync``).

Run:  python benchmarks/bench_io.py --size 512        (the issue's size; ~1 GB of files)
      python benchmarks/bench_io.py --size 128        (a quick check)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

FORMATS = (".mha", ".nii", ".nii.gz")
REGION_FORMATS = (".mha", ".nrrd", ".nii")


# -- memory ------------------------------------------------------------------------------


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current resident set
    except OSError:
        pass


# -- the worker: one measurement in a fresh interpreter --------------------------------------------


def _volume(folder: Path) -> np.ndarray:
    return np.load(folder / "volume.npy")


def _case(name: str, folder: Path, region: int) -> Any:
    """Return a zero-argument callable doing the measured work (inputs prepared, not timed)."""
    lib, action, ext = name.split(":")
    size = int(np.load(folder / "volume.npy", mmap_mode="r").shape[0])
    start = (size - region) // 2
    if lib == "imalgebra" or lib == "imalgebra-nofsync":
        import imalgebra as ia

        if lib == "imalgebra-nofsync":
            from imalgebra.io import atomic

            atomic.fsync_path = lambda _path: None  # what the durability costs
        if action == "write":
            image = ia.from_array(_volume(folder), copy=False).with_spacing((0.5, 0.5, 1.5))
            return lambda: ia.write(image, folder / f"out-ia{ext}")
        if action == "read":
            return lambda: ia.read(folder / f"ref{ext}")
        return lambda: ia.read(folder / f"ref{ext}", index=(start,) * 3, size=(region,) * 3)
    if lib == "sitk":
        import SimpleITK as sitk

        if action == "write":
            image = sitk.GetImageFromArray(_volume(folder))
            image.SetSpacing((0.5, 0.5, 1.5))
            return lambda: sitk.WriteImage(image, str(folder / f"out-sitk{ext}"))
        if action == "read":
            return lambda: sitk.ReadImage(str(folder / f"ref{ext}"))

        def region_read() -> Any:
            reader = sitk.ImageFileReader()
            reader.SetFileName(str(folder / f"ref{ext}"))
            reader.SetExtractIndex((start,) * 3)
            reader.SetExtractSize((region,) * 3)
            return reader.Execute()

        return region_read
    if lib == "nibabel":
        import nibabel as nib

        if action == "read":
            return lambda: np.array(nib.load(folder / f"ref{ext}").dataobj)  # a copy: reads through the memory map
        cut = slice(start, start + region)
        return lambda: np.asarray(nib.load(folder / f"ref{ext}").dataobj[cut, cut, cut])
    raise ValueError(name)


def worker(name: str, folder: Path, region: int, repeat: int) -> None:
    run = _case(name, folder, region)
    if ":write:" not in name:  # (writes are not warmed up: each one costs a whole volume on disk)
        run()  # warm up reads: format registries, lazy imports, the page cache (the result is dropped)
    times = []
    before = _status("VmRSS")
    _reset_peak()
    for _ in range(repeat):
        for old in folder.glob("out-*"):  # every write makes a new file (replacing one costs ext4 a flush)
            old.unlink()
        t0 = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - t0)
        del result
    peak = max(_status("VmHWM") - before, 0)
    print(json.dumps({"seconds": min(times), "peak": peak}))


def measure(name: str, folder: Path, region: int, repeat: int) -> dict[str, float] | None:
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", name, "--folder", str(folder), "--region", str(region),
         "--repeat", str(repeat)],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        print(f"  {name} failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- the driver ------------------------------------------------------------------------------


def prepare(folder: Path, size: int, extensions: set[str]) -> None:
    """A smooth Int16 volume with noise (compresses like a scan, not like zeros), written by SimpleITK."""
    import SimpleITK as sitk

    z, y, x = np.ogrid[:size, :size, :size]
    rng = np.random.default_rng(0)
    vol = (
        1000 * np.sin(x / 17.0) * np.cos(y / 23.0)
        + 800 * np.sin(z / 11.0)
        + rng.normal(0, 30, (size, size, size)).astype(np.float32)
    ).astype(np.int16)
    np.save(folder / "volume.npy", vol)
    image = sitk.GetImageFromArray(vol)
    image.SetSpacing((0.5, 0.5, 1.5))
    for ext in sorted(extensions):
        sitk.WriteImage(image, str(folder / f"ref{ext}"))
        (folder / f"ref{ext}").read_bytes()  # into the page cache


def _mb(n: float) -> str:
    return f"{n / 2**20:8.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512, help="side of the Int16 cube (default 512)")
    parser.add_argument("--region", type=int, default=64, help="side of the region read (default 64)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best is kept")
    parser.add_argument("--folder", type=Path, default=None, help="where to put the files (default: a temp folder)")
    parser.add_argument("--parts", default="read,write,region", help="which tables: read, write, region")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.folder, args.region, args.repeat)
        return

    folder = args.folder or Path(tempfile.mkdtemp(prefix="bench-io-"))
    folder.mkdir(parents=True, exist_ok=True)
    region = min(args.region, args.size)
    try:
        print(f"Int16 volume {args.size}^3 ({args.size**3 * 2 / 2**20:.0f} MiB), best of {args.repeat}, in {folder}")
        parts = args.parts.split(",")
        needed = {
            *(FORMATS if "read" in parts or "write" in parts else ()),
            *(REGION_FORMATS if "region" in parts else ()),
        }
        prepare(folder, args.size, needed)
        print(f"\n{'operation':22} {'imalgebra s':>12} {'SimpleITK s':>12} {'ratio':>6} {'ia MB':>8} {'sitk MB':>8}")
        for action in [a for a in ("read", "write") if a in parts]:
            for ext in FORMATS:
                ours = measure(f"imalgebra:{action}:{ext}", folder, region, args.repeat)
                theirs = measure(f"sitk:{action}:{ext}", folder, region, args.repeat)
                if ours and theirs:
                    print(
                        f"{action + ' ' + ext:22} {ours['seconds']:12.3f} {theirs['seconds']:12.3f} "
                        f"{ours['seconds'] / theirs['seconds']:6.2f} {_mb(ours['peak'])} {_mb(theirs['peak'])}"
                    )
                if action == "write":
                    quick = measure(f"imalgebra-nofsync:write:{ext}", folder, region, args.repeat)
                    if quick and theirs:
                        print(
                            f"{'  (no fsync) ' + ext:22} {quick['seconds']:12.3f} {theirs['seconds']:12.3f} "
                            f"{quick['seconds'] / theirs['seconds']:6.2f} {_mb(quick['peak'])} {_mb(theirs['peak'])}"
                        )
        if "region" not in parts:
            return
        print(f"\nregion {region}^3 from the middle: speed-up = full read time / region read time")
        print(f"{'file':8} {'library':10} {'full s':>9} {'region s':>10} {'speed-up':>9} {'region MB':>10}")
        for ext in REGION_FORMATS:
            for lib in ("imalgebra", "sitk", "nibabel"):
                if lib == "nibabel" and not ext.startswith(".nii"):
                    continue
                full = measure(f"{lib}:read:{ext}", folder, region, args.repeat)
                part = measure(f"{lib}:region:{ext}", folder, region, max(args.repeat, 30))  # cheap: more runs
                if full and part:
                    print(
                        f"{ext:8} {lib:10} {full['seconds']:9.4f} {part['seconds']:10.5f} "
                        f"{full['seconds'] / part['seconds']:9.0f} {_mb(part['peak']):>10}"
                    )
    finally:
        if args.folder is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
