"""Peak memory of streamed work on images several times larger than the budget, in a fresh interpreter.

The child process imports imalgebra and warms up (a tiny streamed write, so
every module it needs is loaded), reads its peak RSS (``VmHWM``), then streams
the big job and reads the peak again: the difference must stay within the
budget. (``getrusage``'s ``ru_maxrss`` is no use here: it keeps the parent's
peak across fork and exec.)
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import imalgebra as ia

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")

CHILD = """
import json, sys
import numpy as np
import imalgebra as ia

def peak():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))

a, b, out, memory, compress, warm = sys.argv[1:7]
streamed = ia.Streamed(memory=memory, workers=2)
small = ia.from_array(np.ones((4, 4, 4), np.float32))
ia.write(small - small, warm, evaluator=streamed, compress=int(compress))  # loads every module used below
ia.open(a)
base = peak()
ia.write(ia.open(a) - ia.open(b), out, evaluator=streamed, compress=int(compress))
print(json.dumps({"base": base, "peak": peak()}))
"""


def write_volume(path, shape, seed):
    """A float32 .mha written slab by slab through a streamed writer (never whole in memory)."""
    plane = (np.arange(shape[1] * shape[2], dtype=np.float32) % 251).reshape(shape[1], shape[2])
    info = ia.io.ImageInfo(geometry=ia.Geometry(size=shape[::-1]), pixel_type=ia.PixelType.Float32)
    writer = ia.io.get("MetaImageIO").open_writer(str(path), info)
    for z in range(0, shape[0], 8):
        n = min(8, shape[0] - z)
        region = ia.Region(index=(0, 0, z), size=(shape[2], shape[1], n))
        writer.write(region, plane * seed + np.arange(z, z + n, dtype=np.float32)[:, None, None])
    writer.commit()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("output", "compress", "memory"),
    [("diff.mha", 0, 8 << 20), ("diff.nrrd", 1, 12 << 20)],
    ids=["raw mha, any order", "gzip nrrd, slabs"],
)
def test_streamed_write_stays_within_the_budget(tmp_path, output, compress, memory):
    shape = (32, 512, 512)  # 32 MiB per float32 input: inputs 8x, output 4x the 8 MiB budget
    a, b = tmp_path / "a.mha", tmp_path / "b.mha"
    write_volume(a, shape, 1)
    write_volume(b, shape, 2)
    out = tmp_path / output
    args = [str(a), str(b), str(out), str(memory), str(compress), str(tmp_path / f"warm{out.suffix}")]
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CHILD), *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    used = figures["peak"] - figures["base"]
    print(f"{output}: {used / 2**20:.1f} MiB over the baseline ({figures['base'] / 2**20:.1f} MiB)")
    assert used <= memory, f"peak {used / 2**20:.1f} MiB over the baseline, budget {memory / 2**20:.0f} MiB"
    # and the result is right (a few slabs checked)
    for z in (0, 17, 31):
        kw = {"index": (0, 0, z), "size": (512, 512, 1)}
        want = ia.to_array(ia.read(a, **kw)) - ia.to_array(ia.read(b, **kw))
        assert np.array_equal(ia.to_array(ia.read(out, **kw)), want)


KILLED = """
import sys, time
import numpy as np
import imalgebra as ia
from imalgebra.algebra.expr import Expr, node

@node
class Slow(Expr):
    op_name = "slow"
    input_fields = ("arg",)
    arg: object

    def infer(self):
        return self.arg.geometry, self.arg.pixel_type, self.arg.components

    def compute(self, region, arg):
        time.sleep(0.02)
        return arg + 1

img = ia.from_array(np.zeros((64, 128, 128), np.float32))
print("start", flush=True)
ia.write(Slow(arg=img), sys.argv[1], evaluator=ia.Streamed(memory="256 KiB", workers=2))
print("finished", flush=True)
"""


@pytest.mark.parametrize(("signal_name", "existing"), [("SIGKILL", True), ("SIGINT", False)])
def test_an_interrupted_streamed_write_leaves_no_partial_file_under_the_target(tmp_path, signal_name, existing):
    import signal
    import time

    target = tmp_path / "out.mha"
    if existing:
        ia.write(ia.from_array(np.full((2, 2), 7, np.uint8)), target)
    before = target.read_bytes() if existing else None
    with subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(KILLED), str(target)], stdout=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout.readline().strip() == "start"
        deadline = time.monotonic() + 30
        while not any(p.name.startswith(".imalgebra-tmp-") for p in tmp_path.iterdir()):  # the write is under way
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.01)
        time.sleep(0.2)
        proc.send_signal(getattr(signal, signal_name))
        proc.wait(timeout=30)
    assert proc.returncode != 0
    if existing:
        assert target.read_bytes() == before  # the old file, untouched
    else:
        assert not target.exists()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".imalgebra-tmp-")]
    if signal_name == "SIGINT":
        assert leftovers == []  # Ctrl-C aborts the writer, which removes its temporary file
