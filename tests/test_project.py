"""The project's own promises: README == CI, the tour runs, import stays light, arrows point one way."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "imalgebra"
OPTIONAL = {
    "hypothesis",
    "dask",
    "distributed",
    "pydicom",
    "nibabel",
    "tifffile",
    "PIL",
    "zarr",
    "tqdm",
    "SimpleITK",
    "numexpr",
    "psutil",
    "scipy",
    "pylibjpeg",
}


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    first_screen = text.split("## A taste")[0]
    return re.findall(r"```bash\n(.+?)\n```", first_screen)


def test_readme_first_screen_gives_the_two_commands_and_ci_runs_them_verbatim():
    commands = readme_commands()
    assert len(commands) == 2
    demo, tests = commands
    assert "examples/image_basics.py" in demo and "pytest" in tests
    ci = (ROOT / ".ci" / "run").read_text()
    assert demo.split(" && ")[0] in ci and demo.split(" && ")[1] in ci
    assert tests in ci


def test_the_tour_runs_offline_and_finishes():
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "image_basics.py")], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip().endswith("Done.")
    assert "Traceback" not in result.stderr


def test_import_loads_no_optional_engine_or_format_library():
    code = "import sys, imalgebra; print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    loaded = set(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    )
    assert loaded & OPTIONAL == set()


def _module_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in tree.body:  # module level only: a lazy import inside a function is a deliberate dispatch
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted((SRC / "algebra").rglob("*.py")), ids=lambda p: p.name)
def test_algebra_imports_neither_io_nor_evaluate_nor_testing(path):
    bad = {
        n
        for n in _module_level_imports(path)
        if n.startswith(("imalgebra.io", "imalgebra.evaluate", "imalgebra.testing", "imalgebra.cli"))
    }
    assert bad == set(), f"{path.relative_to(ROOT)} imports {bad}: algebra/ must not depend on them"


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_optional_libraries_are_imported_lazily(path):
    eager = {n.split(".")[0] for n in _module_level_imports(path)} & OPTIONAL
    if path.parent.name == "testing" and path.name == "strategies.py":
        eager -= {"hypothesis"}  # importing the strategies module is asking for hypothesis
    assert eager == set(), f"{path.relative_to(ROOT)} imports {eager} at module level"


def test_ruff_is_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed")
    result = subprocess.run(
        [ruff, "check", "src", "tests", "examples", "benchmarks"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_public_name_resolves_and_evaluate_stays_the_function():
    code = (
        "import imalgebra as ia, imalgebra.evaluate.eager, imalgebra.evaluate.streamed; "
        "missing = [n for n in ia.__all__ if getattr(ia, n, None) is None]; "
        "print(missing, callable(ia.evaluate), type(ia.evaluate).__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["[]", "True", "function"]
