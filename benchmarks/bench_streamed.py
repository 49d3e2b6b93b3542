"""Issue 6's three measurements of the streamed evaluator, side by side in one run.

1. **Memory bound.** ``ia.write(ia.open(a) - ia.open(b), out, evaluator=
   ia.Streamed(memory=M))`` on two float32 .mha files of ``--gib`` GiB each,
   for M = 128 MiB and 64 MiB: peak RSS of the whole process (each case in a
   fresh interpreter, VmHWM from /proc/self/status), against the baseline of an
   interpreter that has imported imalgebra (and numpy).
2. **Speed.** The same job on two ``--speed-gib`` GiB files, against
   SimpleITK's direct approach (ReadImage - ReadImage, WriteImage), the
   SimpleITK tour's ``streaming_subtract`` (ImageFileReader with
   SetExtractIndex/SetExtractSize per part, subtract, Paste into the result,
   5 parts, then WriteImage) and a plain numpy block loop with reused buffers
   (readinto + np.subtract(out=) + os.pwrite). Every case runs in a fresh
   interpreter; the inputs are in the page cache (they were just written);
   medians of ``--runs`` runs, with peak RSS; times start after the imports
   (and imalgebra's one-time loading of its format modules). imalgebra's writes are atomic
   (temporary file, rename); the ``durable`` row adds ``ia.io.durable_writes()``
   (fsync of the file and its folder), which the others do not do.
3. **Fusion and threads.** ``clamp((a - b) * 0.5 + c, 0, 100)`` on three
   in-memory ``--fusion-side``^3 float32 images: ``ia.Streamed(workers=2)``
   against numpy eager, and against the two-thread ``np.copyto`` bandwidth
   (the ceiling: bytes read + written per second).

Run ``python benchmarks/bench_streamed.py`` (2 GiB files: needs ~10 GiB of
free disk and ~7 GiB of RAM for SimpleITK's direct approach); smaller:
``--gib 0.5 --speed-gib 0.25``. Files go to ``--folder`` (default: a new
temporary folder, deleted at the end).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np

HEADER = (
    "ObjectType = Image\nNDims = 3\nBinaryData = True\nBinaryDataByteOrderMSB = False\nCompressedData = False\n"
    "TransformMatrix = 1 0 0 0 1 0 0 0 1\nOffset = 0 0 0\nCenterOfRotation = 0 0 0\n"
    "ElementSpacing = 1 1 1\nDimSize = {x} {y} {z}\nElementType = MET_FLOAT\nElementDataFile = LOCAL\n"
)


def make_mha(path: str, gib: float, seed: int) -> tuple[int, int, int]:
    """A float32 .mha of about ``gib`` GiB (1024 x 1024 x z), written slab by slab."""
    x = y = 1024
    z = max(1, round(gib * (1 << 30) / (x * y * 4)))
    rng = np.random.default_rng(seed)
    with open(path, "wb") as f:
        f.write(HEADER.format(x=x, y=y, z=z).encode())
        for z0 in range(0, z, 16):
            n = min(16, z - z0)
            f.write(rng.random((n, y, x), dtype=np.float32).tobytes())
    return x, y, z


# -- the cases, each run in a fresh interpreter ---------------------------------------------
PRELUDE = """
import json, os, sys, time
"""
START = """
t0 = time.perf_counter()
"""
REPORT = """
elapsed = time.perf_counter() - t0
# VmHWM: this process's own peak RSS (getrusage's ru_maxrss keeps the parent's peak across fork + exec)
with open("/proc/self/status") as status:
    peak = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
print(json.dumps({"seconds": elapsed, "peak_rss": peak}))
"""

CASES = {
    "baseline": """
import numpy, imalgebra
""",
    "baseline_sitk": """
import numpy, SimpleITK
""",
    "streamed": """
import imalgebra as ia
ia.io.registered()  # the one-time loading of the format modules, like SimpleITK's IO factories at import
# --
ia.write(ia.open(A) - ia.open(B), OUT, evaluator=ia.Streamed(memory=MEMORY))
""",
    "streamed_durable": """
import imalgebra as ia
ia.io.registered()
# --
with ia.io.durable_writes():
    ia.write(ia.open(A) - ia.open(B), OUT, evaluator=ia.Streamed(memory=MEMORY))
""",
    "sitk_direct": """
import SimpleITK as sitk
# --
sitk.WriteImage(sitk.ReadImage(A) - sitk.ReadImage(B), OUT)
""",
    "sitk_streaming_subtract": """
import SimpleITK as sitk

def streaming_subtract(image1_file_name, image2_file_name, parts):
    # the SimpleITK image-basics tour: read matching parts of both files, subtract, paste into the result
    reader = sitk.ImageFileReader()
    reader.SetFileName(image1_file_name)
    reader.ReadImageInformation()
    image_size = reader.GetSize()
    result_img = sitk.Image(image_size, reader.GetPixelID(), reader.GetNumberOfComponents())
    result_img.SetSpacing(reader.GetSpacing())
    result_img.SetOrigin(reader.GetOrigin())
    result_img.SetDirection(reader.GetDirection())
    extract_size = list(image_size)
    extract_size[-1] = extract_size[-1] // parts
    current_index = [0] * reader.GetDimension()
    for i in range(parts):
        if i == (parts - 1):
            extract_size[-1] = image_size[-1] - current_index[-1]
        reader.SetFileName(image1_file_name)
        reader.SetExtractIndex(current_index)
        reader.SetExtractSize(extract_size)
        sub_image1 = reader.Execute()
        reader.SetFileName(image2_file_name)
        reader.SetExtractIndex(current_index)
        reader.SetExtractSize(extract_size)
        sub_image2 = reader.Execute()
        result_img = sitk.Paste(result_img, sub_image1 - sub_image2, extract_size, [0, 0, 0], current_index)
        current_index[-1] += extract_size[-1]
    return result_img

# --
sitk.WriteImage(streaming_subtract(A, B, 5), OUT)
""",
    "numpy_blocks": """
import numpy as np

def header(path):
    with open(path, "rb") as f:
        head = f.read(4096)
    end = head.index(b"ElementDataFile = LOCAL\\n") + len(b"ElementDataFile = LOCAL\\n")
    dims = [int(v) for v in head.split(b"DimSize = ")[1].split(b"\\n")[0].split()]
    return head[:end], end, dims

# --
head, offset, (x, y, z) = header(A)
slab = max(1, (4 << 20) // (x * y * 4))
buf_a = np.empty((slab, y, x), np.float32)
buf_b = np.empty_like(buf_a)
buf_o = np.empty_like(buf_a)
with open(A, "rb", buffering=0) as fa, open(B, "rb", buffering=0) as fb:
    fd = os.open(OUT, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.pwrite(fd, head, 0)
    for z0 in range(0, z, slab):
        n = min(slab, z - z0)
        a, b, o = buf_a[:n], buf_b[:n], buf_o[:n]
        fa.seek(offset + z0 * x * y * 4); fa.readinto(memoryview(a).cast("B"))
        fb.seek(offset + z0 * x * y * 4); fb.readinto(memoryview(b).cast("B"))
        np.subtract(a, b, out=o)
        os.pwrite(fd, memoryview(o).cast("B"), offset + z0 * x * y * 4)
    os.close(fd)
""",
}


def run_case(name: str, **values: str) -> dict[str, float]:
    setup, _, work = CASES[name].partition("# --\n")
    code = PRELUDE + "".join(f"{k} = {v!r}\n" for k, v in values.items()) + setup + START + work + REPORT
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"case {name} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def mib(n: float) -> str:
    return f"{n / (1 << 20):8.1f} MiB"


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def memory_bound(folder: str, gib: float) -> None:
    a, b, out = (os.path.join(folder, n) for n in ("mem_a.mha", "mem_b.mha", "mem_out.mha"))
    size = make_mha(a, gib, 1)
    make_mha(b, gib, 2)
    base = run_case("baseline")["peak_rss"]
    print(f"\n## 1. Memory bound: two {gib:g} GiB float32 .mha files {size}, streamed subtract written to .mha")
    print(f"   baseline (python + numpy + imalgebra imported): {mib(base)}")
    print(f"   {'memory':>10} | {'peak RSS':>12} | {'over baseline':>13} | {'budget met':>10} | seconds")
    for memory in ("128 MiB", "64 MiB"):
        r = run_case("streamed", A=a, B=b, OUT=out, MEMORY=memory)
        over = r["peak_rss"] - base
        budget = int(memory.split()[0]) << 20
        print(f"   {memory:>10} | {mib(r['peak_rss'])} | {mib(over)} | {over <= budget!s:>10} | {r['seconds']:.2f}")
        check_output(a, b, out)
        os.unlink(out)
    os.unlink(a)
    os.unlink(b)


def check_output(a: str, b: str, out: str) -> None:
    """Spot-check the result: first and last slab equal a - b."""
    import imalgebra as ia

    info = ia.read_info(out)
    for z in (0, info.size[2] - 1):
        kw = {"index": (0, 0, z), "size": (info.size[0], info.size[1], 1)}
        want = ia.to_array(ia.read(a, **kw)) - ia.to_array(ia.read(b, **kw))
        if not np.array_equal(ia.to_array(ia.read(out, **kw)), want):
            raise AssertionError(f"{out}: slab {z} differs from a - b")


def speed(folder: str, gib: float, runs: int, memory: str) -> None:
    a, b, out = (os.path.join(folder, n) for n in ("speed_a.mha", "speed_b.mha", "speed_out.mha"))
    size = make_mha(a, gib, 3)
    make_mha(b, gib, 4)
    names = ["streamed", "streamed_durable", "numpy_blocks", "sitk_direct", "sitk_streaming_subtract"]
    labels = {
        "streamed": f"imalgebra Streamed({memory!r}), 2 workers",
        "streamed_durable": "  the same, durable (fsync)",
        "numpy_blocks": "numpy block loop, reused buffers",
        "sitk_direct": "SimpleITK ReadImage - ReadImage",
        "sitk_streaming_subtract": "SimpleITK tour streaming_subtract(5)",
    }
    times: dict[str, list[float]] = {n: [] for n in names}
    peaks: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(runs):
        for name in names:  # interleaved, so load changes hit every case alike
            r = run_case(name, A=a, B=b, OUT=out, MEMORY=memory)
            times[name].append(r["seconds"])
            peaks[name].append(r["peak_rss"])
            if name == "streamed":
                check_output(a, b, out)
            os.unlink(out)
    ours = statistics.median(times["streamed"])
    print(f"\n## 2. Speed: two {gib:g} GiB float32 .mha files {size}, result written to .mha; medians of {runs} runs")
    print(f"   {'case':<40} | {'seconds':>7} | {'vs imalgebra':>12} | {'peak RSS':>12}")
    for name in names:
        t = statistics.median(times[name])
        print(f"   {labels[name]:<40} | {t:7.2f} | {t / ours:11.2f}x | {mib(max(peaks[name]))}")
    sitk, tour, loop = (statistics.median(times[k]) for k in ("sitk_direct", "sitk_streaming_subtract", "numpy_blocks"))
    for label, mine in (("atomic (default)", ours), ("durable (fsync)", statistics.median(times["streamed_durable"]))):
        print(
            f"   {label}: SimpleITK direct / ours = {sitk / mine:.2f}x (target >= 3), streaming_subtract / ours = "
            f"{tour / mine:.2f}x (target >= 5), numpy loop / ours = {loop / mine:.2f}"
        )
    os.unlink(a)
    os.unlink(b)


def fusion(side: int, runs: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import imalgebra as ia

    rng = np.random.default_rng(0)
    arrays = [(rng.random((side, side, side), dtype=np.float32) * 200).astype(np.float32) for _ in range(3)]
    a, b, c = (ia.from_array(x, copy=False) for x in arrays)
    na, nb, nc = (np.asarray(i) for i in (a, b, c))
    expr = ia.clamp((a - b) * 0.5 + c, 0, 100)
    streamed = ia.Streamed(memory="1 GiB", workers=2)
    single = ia.Streamed(memory="1 GiB", workers=1)

    def numpy_eager():
        return np.clip((na - nb) * 0.5 + nc, 0, 100)

    def copy2():
        out = np.empty_like(na)
        half = side // 2
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda s: np.copyto(out[s], na[s]), [slice(0, half), slice(half, side)]))
        return out

    cases = {
        "numpy eager": numpy_eager,
        "imalgebra eager (ia.evaluate)": lambda: ia.evaluate(expr),
        "imalgebra Streamed(workers=1)": lambda: single.evaluate(expr),
        "imalgebra Streamed(workers=2)": lambda: streamed.evaluate(expr),
        "np.copyto on 2 threads (ceiling)": copy2,
    }
    if not np.array_equal(ia.to_array(streamed.evaluate(expr)), numpy_eager()):
        raise AssertionError("streamed clamp((a - b) * 0.5 + c, 0, 100) differs from numpy")
    wall: dict[str, list[float]] = {k: [] for k in cases}
    cpu: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(runs):
        for name, fn in cases.items():  # interleaved, so load changes hit every case alike
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    med = {k: statistics.median(v) for k, v in wall.items()}
    nbytes = na.nbytes
    moved = {k: (2 if k.startswith("np.copyto") else 4) * nbytes for k in cases}  # bytes read + written
    print(f"\n## 3. Fusion and threads: clamp((a - b) * 0.5 + c, 0, 100) on three {side}^3 float32 images in memory")
    print(f"   medians of {runs} runs; CPU = user + system time of all threads")
    print(f"   {'case':<40} | {'seconds':>7} | {'CPU s':>6} | {'GB/s moved':>10}")
    for name in cases:
        rate = moved[name] / med[name] / 1e9
        print(f"   {name:<40} | {med[name]:7.3f} | {statistics.median(cpu[name]):6.3f} | {rate:10.2f}")
    ours, copy = "imalgebra Streamed(workers=2)", "np.copyto on 2 threads (ceiling)"
    fraction = (moved[ours] / med[ours]) / (moved[copy] / med[copy])
    print(
        f"   streamed vs numpy eager: {med['numpy eager'] / med[ours]:.2f}x (target >= 3); "
        f"fraction of copy bandwidth: {fraction:.2f} (target >= 0.6)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=2.0, help="size of each input of the memory case (GiB)")
    parser.add_argument("--speed-gib", type=float, default=1.0, help="size of each input of the speed case (GiB)")
    parser.add_argument("--memory", default="128 MiB", help="budget of the speed case")
    parser.add_argument("--runs", type=int, default=3, help="runs per case (medians)")
    parser.add_argument("--fusion-side", type=int, default=512, help="side of the fusion case's cubes")
    parser.add_argument("--folder", default=None, help="where to put the files (default: a temporary folder)")
    parser.add_argument("--only", choices=["memory", "speed", "fusion"], action="append", help="run only these parts")
    args = parser.parse_args()
    parts = args.only or ["memory", "speed", "fusion"]
    folder = args.folder or tempfile.mkdtemp(prefix="bench_streamed-")
    os.makedirs(folder, exist_ok=True)
    free = shutil.disk_usage(folder).free / (1 << 30)
    need = max(3 * args.gib if "memory" in parts else 0, 3 * args.speed_gib if "speed" in parts else 0)
    print(f"# bench_streamed: {load()}; {free:.0f} GiB free in {folder} (needs ~{need:.1f} GiB)")
    if free < need + 1:
        sys.exit(f"not enough free disk in {folder}: {free:.1f} GiB, need {need + 1:.1f}")
    try:
        if "memory" in parts:
            memory_bound(folder, args.gib)
        if "speed" in parts:
            speed(folder, args.speed_gib, args.runs, args.memory)
        if "fusion" in parts:
            fusion(args.fusion_side, args.runs)
    finally:
        if args.folder is None:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"\n# done: {load()}")


if __name__ == "__main__":
    main()
