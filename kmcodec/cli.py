"""The ``kmq`` command line: encode, decode and inspect ``.kmq`` files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import codec
from .errors import KmqError

__all__ = ["main"]

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_FAILED = 1


def _cmd_encode(args: argparse.Namespace) -> int:
    from PIL import Image

    status = EXIT_OK
    for src in args.inputs:
        out = Path(args.output) if args.output else Path(src).with_suffix(".kmq")
        if out.exists() and not args.force:
            print(f"kmq: {out} exists; use --force to overwrite", file=sys.stderr)
            status = EXIT_FAILED
            continue
        try:
            with Image.open(src) as im:
                codec.save(out, im, args.colors, compress_level=args.compress_level)
        except (OSError, ValueError, KmqError) as exc:
            print(f"kmq: {src}: {exc}", file=sys.stderr)
            status = EXIT_FAILED
    return status


def _cmd_decode(args: argparse.Namespace) -> int:
    from PIL import Image

    out = Path(args.output) if args.output else Path(args.input).with_suffix(".png")
    try:
        pixels = codec.load(args.input)
        Image.fromarray(pixels).save(out)
    except (OSError, ValueError, KmqError) as exc:
        print(f"kmq: {args.input}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _cmd_info(args: argparse.Namespace) -> int:
    status = EXIT_OK
    for path in args.files:
        try:
            data = Path(path).read_bytes()
            img = codec.read(data)
        except (OSError, KmqError) as exc:
            print(f"{path}: {exc}")
            status = EXIT_FAILED
            continue
        h = img.header
        bpp = 8 * len(data) / (h.width * h.height)
        print(
            f"{path}: {h.width}x{h.height}, {h.colors} colours"
            f" ({'RGBA' if h.has_alpha else 'RGB'}), {h.index_bits} bits/index,"
            f" {len(data)} bytes, {bpp:.3f} bits/pixel"
        )
    return status


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``kmq`` command."""
    parser = argparse.ArgumentParser(prog="kmq", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    enc = sub.add_parser("encode", help="encode images as .kmq")
    enc.add_argument("inputs", nargs="+", metavar="IN")
    enc.add_argument("-o", "--output", help="output file (one input only)")
    enc.add_argument("--colors", type=int, default=256, help="palette size, 1-256 (default 256)")
    enc.add_argument(
        "--compress-level", type=int, default=None, help="zstd level 1-22 (default: set by speed)"
    )
    enc.add_argument("-f", "--force", action="store_true", help="overwrite existing files")
    enc.set_defaults(func=_cmd_encode)

    dec = sub.add_parser("decode", help="decode a .kmq file to PNG (or any format Pillow writes)")
    dec.add_argument("input", metavar="IN.kmq")
    dec.add_argument("-o", "--output", help="output image; format from its extension")
    dec.set_defaults(func=_cmd_decode)

    info = sub.add_parser("info", help="print a .kmq file's header")
    info.add_argument("files", nargs="+", metavar="FILE")
    info.set_defaults(func=_cmd_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``kmq`` command; return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "output", None) and len(getattr(args, "inputs", [])) > 1:
        parser.error("-o/--output takes one input file")
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
