"""How long `import imalgebra` takes, cold, against numpy alone and SimpleITK.

Each import runs in a fresh interpreter (``python -X importtime``); medians of
``--runs`` runs. The target is under 200 ms on the 2-core reference machine
(ITK's cold import costs about that).

Run:  python benchmarks/bench_import.py --runs 7
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys


def cold_import_ms(module: str) -> float:
    """Cumulative import time of ``module`` in a fresh interpreter, in ms."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"], capture_output=True, text=True, check=True
    )
    for line in reversed(result.stderr.splitlines()):
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3 and parts[2] == module:
            return int(parts[1]) / 1000
    raise RuntimeError(f"no importtime line for {module}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    modules = ["numpy", "imalgebra"]
    try:
        import SimpleITK  # noqa: F401

        modules.append("SimpleITK")
    except ImportError:
        pass
    print(f"{'module':12} {'median ms':>10} {'min ms':>8}")
    for module in modules:
        times = [cold_import_ms(module) for _ in range(args.runs)]
        print(f"{module:12} {statistics.median(times):10.1f} {min(times):8.1f}")


if __name__ == "__main__":
    main()
