"""The ``imalgebra`` command line: inspect, convert and compute images from a shell.

Commands::

    imalgebra info FILE...                    header only: size, pixel type, geometry, metadata keys
    imalgebra formats                         the image IOs, their extensions and capabilities
    imalgebra convert IN OUT [--pixel-type T] [--compress]
    imalgebra eval EXPR -i a=IN [-i b=IN ...] -o OUT [--memory 256MiB] [--workers 2] [--progress]

``eval`` parses ``EXPR`` with :func:`imalgebra.parse` (never ``eval``), opens
each input lazily and streams the result to ``OUT`` under the memory budget,
so it works on images larger than memory.

Example
-------
>>> import os, tempfile, imalgebra as ia
>>> folder = tempfile.mkdtemp()
>>> a = os.path.join(folder, "a.mha")
>>> ia.write(ia.Image.zeros((4, 3), ia.PixelType.Int16), a)
>>> main(["eval", "a + 1", "-i", f"a={a}", "-o", os.path.join(folder, "b.nrrd")])
0
>>> ia.read(os.path.join(folder, "b.nrrd"))[0, 0]
1
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _info(args: argparse.Namespace) -> int:
    import imalgebra as ia

    for path in args.files:
        info = ia.read_info(path)
        print(f"{path}  ({info.io})")
        print(f"  pixel type  {info.pixel_type.name} ({info.pixel_type.description}), components {info.components}")
        print(f"  size        {info.size}")
        print(f"  spacing     {info.spacing}")
        print(f"  origin      {info.origin}")
        print(f"  direction   {info.direction}")
        keys = list(info.metadata)
        shown = ", ".join(keys[: args.keys]) + (" ..." if len(keys) > args.keys else "")
        print(f"  metadata    {len(keys)} keys{': ' + shown if keys else ''}")
    return 0


def _formats(_args: argparse.Namespace) -> int:
    import imalgebra as ia

    print(f"{'name':14} {'extensions':32} {'header':>6} {'region':>6} {'stream':>6}")
    for name in ia.io.registered():
        fmt = ia.io.get(name)
        caps = fmt.capabilities
        flags = ["yes" if v else "-" for v in (caps.header_only, caps.region_read, caps.streamed_write)]
        print(f"{name:14} {' '.join(fmt.extensions):32} {flags[0]:>6} {flags[1]:>6} {flags[2]:>6}")
    return 0


def _convert(args: argparse.Namespace) -> int:
    import imalgebra as ia

    image = ia.read(args.input, pixel_type=args.pixel_type)
    ia.write(image, args.output, compress=args.compress)
    return 0


def _eval(args: argparse.Namespace) -> int:
    import imalgebra as ia

    leaves = {}
    for item in args.input:
        name, sep, path = item.partition("=")
        if not sep or not name.isidentifier():
            print(f"imalgebra eval: -i takes NAME=PATH (e.g. -i a=scan.mha), got {item!r}", file=sys.stderr)
            return 2
        leaves[name] = ia.open(path)
    expr = ia.parse(args.expression, **leaves)
    evaluator = ia.Streamed(memory=args.memory, workers=args.workers, progress=args.progress)
    ia.write(expr, args.output, evaluator=evaluator, compress=args.compress)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imalgebra", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    info = commands.add_parser("info", help="print what a file's header says")
    info.add_argument("files", nargs="+")
    info.add_argument("--keys", type=int, default=12, help="metadata keys to list (default 12)")
    info.set_defaults(run=_info)

    formats = commands.add_parser("formats", help="list the image IOs")
    formats.set_defaults(run=_formats)

    convert = commands.add_parser("convert", help="read a file and write it in another format or pixel type")
    convert.add_argument("input")
    convert.add_argument("output")
    convert.add_argument("--pixel-type", help="e.g. Float32, UInt8 (SimpleITK's conversion rules)")
    convert.add_argument("--compress", action="store_true")
    convert.set_defaults(run=_convert)

    ev = commands.add_parser("eval", help="compute an expression over files, streamed")
    ev.add_argument("expression", help="e.g. 'clamp((a - b) * 0.5, 0, 100)'")
    ev.add_argument("-i", "--input", action="append", default=[], metavar="NAME=PATH")
    ev.add_argument("-o", "--output", required=True)
    ev.add_argument("--memory", default="256 MiB", help="memory budget (default 256 MiB)")
    ev.add_argument("--workers", type=int, default=2)
    ev.add_argument("--progress", action="store_true")
    ev.add_argument("--compress", action="store_true")
    ev.set_defaults(run=_eval)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (errors print one line, status 1)."""
    from imalgebra.errors import ImageAlgebraError

    args = _parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (ImageAlgebraError, OSError, ValueError, TypeError) as err:
        print(f"imalgebra {args.command}: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
