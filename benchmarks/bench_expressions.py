"""Expression benchmarks (issue 3), all measured in one run, medians:

(a) eager ``clamp((a - b) * 0.5 + c, 0, 100)`` on three 256^3 Float32 images:
    imalgebra (eager, fused blocks) vs numpy eager, numexpr and SimpleITK,
    reported as times and ratios to numpy (target: imalgebra <= numpy);
(b) per-operation overhead: construct + evaluate one ``a + b`` on an 8x8 image
    vs SimpleITK's one ``a + b`` call (target: < 25 us median).

Run: ``python benchmarks/bench_expressions.py [--size 256] [--repeat 7]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import imalgebra as ia
from imalgebra.evaluate.eager import Eager


def median_seconds(fn: Callable[[], Any], repeat: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def median_per_call(fn: Callable[[], Any], calls: int, batches: int, clock: Callable[[], float]) -> float:
    """Median over ``batches`` of the mean time of ``calls`` calls (per-call overhead),
    after 0.3 s of warm-up (caches, allocator, CPU clock)."""
    end = time.perf_counter() + 0.3
    while time.perf_counter() < end:
        fn()
    per = []
    for _ in range(batches):
        start = clock()
        for _ in range(calls):
            fn()
        per.append((clock() - start) / calls)
    return statistics.median(per)


def bench_clamp(size: int, repeat: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    shape = (size, size, size)
    arrays = [rng.uniform(-100, 300, shape).astype(np.float32) for _ in range(3)]
    a, b, c = (ia.from_array(x) for x in arrays)
    x, y, z = arrays
    results: dict[str, float] = {}

    expr = ia.clamp((a - b) * 0.5 + c, 0, 100)
    reference = np.clip((x - y) * np.float32(0.5) + z, 0, 100)
    ours = np.asarray(ia.evaluate(expr))
    assert np.array_equal(ours, reference), "imalgebra's result differs from numpy's"
    results["imalgebra eager"] = median_seconds(lambda: ia.evaluate(ia.clamp((a - b) * 0.5 + c, 0, 100)), repeat)
    results["imalgebra eager (unfused)"] = median_seconds(lambda: Eager(block_bytes=0).evaluate(expr), repeat)
    results["numpy eager"] = median_seconds(lambda: np.clip((x - y) * np.float32(0.5) + z, 0, 100), repeat)
    try:
        import numexpr

        threads = numexpr.set_num_threads(numexpr.detect_number_of_cores())
        text = "where(t < 0, 0, where(t > 100, 100, t))".replace("t", "((x - y) * 0.5 + z)")
        check = numexpr.evaluate(text, local_dict={"x": x, "y": y, "z": z})
        assert np.allclose(check, reference)
        results[f"numexpr ({numexpr.get_num_threads()} threads)"] = median_seconds(
            lambda: numexpr.evaluate(text, local_dict={"x": x, "y": y, "z": z}), repeat
        )
        numexpr.set_num_threads(threads)
    except ImportError:
        print("numexpr not installed: skipped", file=sys.stderr)
    try:
        import SimpleITK as sitk

        sa, sb, sc = (sitk.GetImageFromArray(v) for v in arrays)
        check = sitk.GetArrayFromImage(sitk.Clamp((sa - sb) * 0.5 + sc, lowerBound=0, upperBound=100))
        assert np.allclose(check, reference)
        results["SimpleITK"] = median_seconds(
            lambda: sitk.Clamp((sa - sb) * 0.5 + sc, lowerBound=0, upperBound=100), repeat
        )
    except ImportError:
        print("SimpleITK not installed: skipped", file=sys.stderr)
    return results


def bench_overhead(calls: int, batches: int) -> dict[str, tuple[float, float]]:
    """(wall-clock, thread CPU time) medians per call: CPU time is what the call costs on a shared machine."""
    rng = np.random.default_rng(1)
    x, y = rng.random((8, 8), dtype=np.float32), rng.random((8, 8), dtype=np.float32)
    a, b = ia.from_array(x), ia.from_array(y)
    cases: dict[str, Callable[[], Any]] = {
        "imalgebra construct + evaluate a + b": lambda: ia.evaluate(a + b),
        "imalgebra construct a + b": lambda: a + b,
        "numpy x + y": lambda: x + y,
    }
    try:
        import SimpleITK as sitk

        sa, sb = sitk.GetImageFromArray(x), sitk.GetImageFromArray(y)
        cases["SimpleITK a + b"] = lambda: sa + sb
    except ImportError:
        pass
    return {
        name: (
            median_per_call(fn, calls, batches, time.perf_counter),
            median_per_call(fn, calls, batches, time.thread_time),
        )
        for name, fn in cases.items()
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256, help="side of the cubic images of benchmark (a)")
    parser.add_argument("--repeat", type=int, default=7, help="timed repeats of benchmark (a)")
    parser.add_argument("--calls", type=int, default=500, help="calls per batch in benchmark (b)")
    parser.add_argument("--batches", type=int, default=41, help="batches in benchmark (b)")
    args = parser.parse_args(argv)

    if sys.platform == "linux":  # the machine may be shared: say how busy it was
        with open("/proc/loadavg") as f:
            print(f"load average before: {' '.join(f.read().split()[:3])}")
    # (b) first: numexpr's worker threads keep spinning for a while after (a) and would slow (b) down
    print(f"(b) per-operation overhead on 8x8, median of {args.batches} batches of {args.calls} calls")
    b = bench_overhead(args.calls, args.batches)
    for name, (wall, cpu) in b.items():
        print(f"    {name:40s} {wall * 1e6:8.1f} us wall   {cpu * 1e6:8.1f} us CPU")
    print(f"(a) clamp((a - b) * 0.5 + c, 0, 100), three {args.size}^3 Float32 images, median of {args.repeat}")
    a = bench_clamp(args.size, args.repeat)
    base = a["numpy eager"]
    for name, seconds in a.items():
        print(f"    {name:34s} {seconds * 1e3:9.1f} ms   {seconds / base:5.2f} x numpy eager")


if __name__ == "__main__":
    main()
