"""How fast the imalgebra.testing strategies generate examples.

Target (issue 5): 100 examples of an 8^3 image in well under a second.
Run: ``/work/venv/bin/python benchmarks/bench_strategies.py``.
Each case runs a ``@given`` test that does nothing with its example, with
hypothesis' database, deadline and health checks off, ``derandomize=True`` so
runs are comparable, and reports the best of ``REPEATS`` runs in CPU seconds
per 100 examples (CPU time, because other processes share this machine),
as hypothesis generates them: its own engine's overhead included, which the
baseline case shows alone.
"""

from __future__ import annotations

import time

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import imalgebra as ia
from imalgebra.testing import strategies as ist

EXAMPLES = 100
REPEATS = 5
SETTINGS = settings(
    max_examples=EXAMPLES,
    database=None,
    deadline=None,
    derandomize=True,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def seconds_per_100(strategy: st.SearchStrategy, check=None) -> tuple[float, int]:
    count = 0

    @SETTINGS
    @given(strategy)
    def run(value):
        nonlocal count
        count += 1
        if check is not None:
            check(value)

    best = float("inf")
    for _ in range(REPEATS):
        count = 0
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return best * EXAMPLES / max(count, 1), count


def _is_8_cubed(img: ia.Image) -> None:
    assert img.size == (8, 8, 8), img


CUBE = ist.geometries(dimensions=3, min_side=8, max_side=8)
CASES = {
    "baseline: a tuple of 10 integers (hypothesis' engine alone)": (st.tuples(*[st.integers(0, 10)] * 10), None),
    "8^3 image, one real scalar type (Float32)": (
        ist.images(pixel_types=ia.PixelType.Float32, geometries=CUBE),
        _is_8_cubed,
    ),
    "8^3 image, any real scalar type": (
        ist.images(pixel_types=ist.pixel_types(scalar=True), geometries=CUBE),
        _is_8_cubed,
    ),
    "8^3 image, any pixel type (vectors, labels, complex)": (
        ist.images(geometries=CUBE),
        _is_8_cubed,
    ),
    "API.md: images(scalar, dimensions=3, max_side=8)": (
        ist.images(pixel_types=ist.pixel_types(scalar=True), dimensions=3, max_side=8),
        None,
    ),
    "geometries() (defaults)": (ist.geometries(), None),
    "same_space_images(n=3)": (ist.same_space_images(n=3), None),
    "nearly_same_space()": (ist.nearly_same_space(), None),
    "expressions(max_depth=4) (built, not evaluated)": (ist.expressions(max_depth=4), None),
}


def main() -> None:
    print(f"seconds per {EXAMPLES} examples (best of {REPEATS}):")
    for name, (strategy, check) in CASES.items():
        seconds, count = seconds_per_100(strategy, check)
        print(f"  {seconds:7.3f} s  {name}  ({count} examples)")


if __name__ == "__main__":
    main()
