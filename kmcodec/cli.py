"""The ``kmq`` command: encode images as ``.kmq``, decode them, and inspect them.

Options follow pngquant's names where the meaning is the same (``--quality min-max``,
``--speed``, ``-f/--force``, ``--skip-if-larger``, ``--ext``, ``-o/--output``, ``-q``, ``-v``,
``-`` for standard input and output).

Exit codes
----------
0   every file was converted (or inspected) successfully
1   a file failed for another reason (corrupt ``.kmq`` file, out of memory, ...)
2   bad usage (unknown option, bad value)
3   an input could not be read (missing, unreadable, not an image)
4   an output could not be written (exists without ``--force``, no permission, ...)
98  skipped: the ``.kmq`` file would be larger than the input (``--skip-if-larger``), as pngquant
99  the minimum of ``--quality`` could not be reached, as pngquant

With several files, every file is tried and the exit code is the first of 3, 4, 1, 99, 98 that
any file ended with.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import io
import json
import multiprocessing
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__, codec, options
from .errors import KmqError, QualityError
from .files import expand, open_image, write_atomic
from .format import layout

__all__ = ["main"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_READ = 3
EXIT_WRITE = 4
EXIT_LARGER = 98
EXIT_QUALITY = 99
#: Ctrl-C, as shells report a process ended by SIGINT (128 + 2).
EXIT_INTERRUPTED = 130
#: Which code wins when files of a batch end differently.
_PRIORITY = (EXIT_READ, EXIT_WRITE, EXIT_FAILED, EXIT_QUALITY, EXIT_LARGER)


@dataclass
class Outcome:
    """What happened to one input file."""

    source: str
    target: str | None
    status: int
    bytes_in: int = 0
    bytes_out: int = 0
    colors: int = 0
    psnr: float = 0.0
    seconds: float = 0.0
    message: str = ""


def _exit_code(outcomes: list[Outcome]) -> int:
    codes = {o.status for o in outcomes}
    for code in _PRIORITY:
        if code in codes:
            return code
    return EXIT_OK


def _bomb_error() -> type[Exception]:
    from PIL import Image

    return Image.DecompressionBombError


def _encode_one(
    source: str, target: str | None, job: dict[str, Any], data: bytes | None
) -> tuple[Outcome, bytes | None]:
    """Encode one image. With ``target`` None the encoded bytes are returned, not written."""
    t0 = time.perf_counter()
    force = job["force"]
    outcome = Outcome(source=source, target=target, status=EXIT_OK)
    try:
        outcome.bytes_in = len(data) if data is not None else os.path.getsize(source)
        im = open_image(data if data is not None else source)
    except (OSError, SyntaxError, ValueError, _bomb_error()) as exc:
        outcome.status, outcome.message = EXIT_READ, f"cannot read image: {exc}"
        return outcome, None
    if target is not None and os.path.exists(target) and not force:
        outcome.status, outcome.message = EXIT_WRITE, f"{target} exists; use --force to overwrite"
        return outcome, None
    try:
        q = codec.quantize(im, **job["options"])
        encoded = q.encode()
    except QualityError as exc:
        outcome.status, outcome.message = EXIT_QUALITY, str(exc)
        return outcome, None
    except (ValueError, TypeError, KmqError, MemoryError) as exc:
        outcome.status, outcome.message = EXIT_FAILED, str(exc)
        return outcome, None
    outcome.colors, outcome.psnr = q.colors, q.psnr
    outcome.bytes_out = len(encoded)
    if job["skip_if_larger"] and len(encoded) > outcome.bytes_in:
        outcome.status = EXIT_LARGER
        outcome.message = (
            f"skipped: {len(encoded)} bytes would be larger than the input's {outcome.bytes_in}"
        )
        return outcome, None
    if target is not None:
        try:
            write_atomic(target, encoded)
        except OSError as exc:
            outcome.status, outcome.message = EXIT_WRITE, f"cannot write {target}: {exc}"
            return outcome, None
    outcome.seconds = time.perf_counter() - t0
    return outcome, encoded


def _worker_init(parent: int) -> None:
    """Run in each worker process: die with the parent, leave Ctrl-C to it."""
    import signal
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:  # Linux: the kernel kills this process when its parent dies
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)

    def watch() -> None:  # elsewhere: notice that the parent is gone
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _encode_worker(task: tuple[str, str | None, dict[str, Any]]) -> Outcome:
    source, target, job = task
    return _encode_one(source, target, job, None)[0]


def _target(source: str, args: argparse.Namespace) -> str | None:
    if args.output:
        return None if args.output == "-" else args.output
    if source == "-":
        return None
    return str(Path(source).with_suffix("")) + args.ext


def _progress(total: int, quiet: bool) -> Any:
    if quiet or total < 2 or not sys.stderr.isatty():
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # the progress bar is an optional extra
        return None
    return tqdm(total=total, unit="file", file=sys.stderr)


def _cmd_encode(args: argparse.Namespace) -> int:
    sources = expand(args.inputs)
    if not sources:
        print("kmq: no image files found", file=sys.stderr)
        return EXIT_READ
    if args.output and len(sources) > 1:
        print("kmq: -o/--output takes one input file (use --ext for many)", file=sys.stderr)
        return EXIT_USAGE
    try:
        given = options.given_arguments(args)
        options.resolve(**given)  # together (quality and target_psnr exclude each other)
    except ValueError as exc:
        print(f"kmq: {exc}", file=sys.stderr)
        return EXIT_USAGE
    job = dict(options=given, force=args.force, skip_if_larger=args.skip_if_larger)
    t0 = time.perf_counter()
    outcomes: list[Outcome] = []
    if sources == ["-"] or (len(sources) == 1 and args.output == "-"):
        # One image whose file goes to standard output (from standard input or a file).
        data = sys.stdin.buffer.read() if sources == ["-"] else None
        outcome, encoded = _encode_one(sources[0], _target(sources[0], args), job, data)
        if encoded is not None and outcome.target is None:
            sys.stdout.buffer.write(encoded)
            sys.stdout.buffer.flush()
        outcomes.append(outcome)
    else:
        jobs = [(s, _target(s, args), job) for s in sources]
        workers = min(args.jobs or os.cpu_count() or 1, len(jobs))
        bar = _progress(len(jobs), args.quiet)
        if workers <= 1:
            results = map(_encode_worker, jobs)
            pool = None
        else:
            pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_init,
                initargs=(os.getpid(),),
            )
            results = pool.map(_encode_worker, jobs)
        try:
            for outcome in results:
                outcomes.append(outcome)
                if bar is not None:
                    bar.update(1)
                _report(outcome, args)
        except KeyboardInterrupt:
            # Ctrl-C: stop the workers (they ignore SIGINT, so none prints a traceback), keep
            # what was written (every file is complete: writes are atomic) and say so.
            if pool is not None:
                for process in list(getattr(pool, "_processes", {}).values()):
                    process.terminate()
                pool.shutdown(wait=False, cancel_futures=True)
                pool = None
            if bar is not None:
                bar.close()
                bar = None
            print(f"kmq: interrupted after {len(outcomes)} of {len(jobs)} files", file=sys.stderr)
            return EXIT_INTERRUPTED
        finally:
            if pool is not None:
                pool.shutdown()
            if bar is not None:
                bar.close()
    if len(outcomes) == 1 and (sources == ["-"] or args.output == "-"):
        _report(outcomes[0], args)
    if not args.quiet and len(outcomes) > 1:
        done = [o for o in outcomes if o.status == EXIT_OK]
        bytes_in = sum(o.bytes_in for o in done)
        bytes_out = sum(o.bytes_out for o in done)
        ratio = bytes_in / bytes_out if bytes_out else 0.0
        print(
            f"kmq: {len(done)} of {len(outcomes)} files converted, {bytes_in} bytes in,"
            f" {bytes_out} bytes out, ratio {ratio:.2f}, {time.perf_counter() - t0:.2f} s",
            file=sys.stderr,
        )
    return _exit_code(outcomes)


def _report(outcome: Outcome, args: argparse.Namespace) -> None:
    if outcome.status != EXIT_OK:
        if not args.quiet or outcome.status not in (EXIT_LARGER,):
            print(f"kmq: {outcome.source}: {outcome.message}", file=sys.stderr)
    elif args.verbose:
        print(
            f"{outcome.source} -> {outcome.target or 'stdout'}: {outcome.colors} colours,"
            f" PSNR {outcome.psnr:.2f} dB, {outcome.bytes_in} -> {outcome.bytes_out} bytes,"
            f" {outcome.seconds:.2f} s",
            file=sys.stderr,
        )


#: Formats that store a palette image as it is (with its transparency), so the decoded file
#: stays as small as the palette allows.
_PALETTE_FORMATS = frozenset({"PNG", "GIF", "TIFF", "BMP", "WEBP"})


def _pillow_image(image: codec.KmqImage, fmt: str) -> Any:
    """The decoded file as a Pillow image: mode "P" with its palette (and alpha as tRNS) for
    formats that keep palettes, else RGB or RGBA."""
    from PIL import Image

    if fmt.upper() in _PALETTE_FORMATS:
        im = Image.fromarray(image.indices, mode="P")
        im.putpalette(image.palette[:, :3].tobytes())
        if image.palette.shape[1] == 4:
            im.info["transparency"] = image.palette[:, 3].tobytes()
    else:
        im = Image.fromarray(image.image())
        if im.mode == "RGBA" and fmt.upper() in ("JPEG", "PPM"):
            im = im.convert("RGB")  # formats without alpha: drop it, as Pillow users would
    if image.icc_profile:
        im.info["icc_profile"] = image.icc_profile
    return im


def _max_pixels(value: int | None) -> int | str | None:
    """The CLI's --max-pixels: absent = Pillow's rule, 0 = no limit."""
    if value is None:
        return codec.PILLOW_LIMIT
    return None if value == 0 else value


def _cmd_decode(args: argparse.Namespace) -> int:
    from PIL import Image

    source = args.input
    try:
        data = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        print(f"kmq: {source}: cannot read: {exc}", file=sys.stderr)
        return EXIT_READ
    try:
        image = codec.read(data, max_pixels=_max_pixels(args.max_pixels))
    except KmqError as exc:
        print(f"kmq: {source}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    target = args.output or ("-" if source == "-" else str(Path(source).with_suffix(".png")))
    buf = io.BytesIO()
    try:
        fmt = args.format or (
            None
            if target == "-"
            else Image.registered_extensions().get(Path(target).suffix.lower())
        )
        if fmt is None:
            fmt = "PNG"
        im = _pillow_image(image, fmt)
        save_options = {"icc_profile": image.icc_profile} if image.icc_profile else {}
        if image.exif:
            save_options["exif"] = layout.exif_from_chunk(image.exif)
        im.save(buf, format=fmt, **save_options)
    except (ValueError, OSError, KeyError) as exc:
        print(f"kmq: cannot write {target}: {exc}", file=sys.stderr)
        return EXIT_WRITE
    if target == "-":
        sys.stdout.buffer.write(buf.getvalue())
        sys.stdout.buffer.flush()
        return EXIT_OK
    if os.path.exists(target) and not args.force:
        print(f"kmq: {target} exists; use --force to overwrite", file=sys.stderr)
        return EXIT_WRITE
    try:
        write_atomic(target, buf.getvalue())
    except OSError as exc:
        print(f"kmq: cannot write {target}: {exc}", file=sys.stderr)
        return EXIT_WRITE
    return EXIT_OK


def _describe(path: str, check: bool = False, max_pixels: Any = None) -> dict[str, Any]:
    data = Path(path).read_bytes()
    result: dict[str, Any] = {"file": path, "bytes": len(data)}
    try:
        head, _ = layout.split_file(data)
    except KmqError as exc:
        result.update(valid=False, error=f"{type(exc).__name__}: {exc}")
        return result
    h = head.header
    pixels = h.width * h.height
    result.update(
        version=h.version,
        width=h.width,
        height=h.height,
        colors=h.colors,
        palette_format="RGBA" if h.has_alpha else "RGB",
        index_bits=h.index_bits,
        coding=int(h.coding),
        coding_name=h.coding.name.lower(),
        stream_bytes=h.stream_size,
        chunks={k.decode("ascii"): len(v) for k, v in head.chunks.items()},
        bits_per_pixel=8 * len(data) / pixels,
        ratio_to_raw_rgb=3 * pixels / len(data),
        palette=[
            bytes(head.palette[i : i + h.channels]).hex()
            for i in range(0, len(head.palette), h.channels)
        ],
    )
    if not check:
        # The header, palette and chunk CRCs were checked; the stream is not decoded.
        result.update(valid=True, checksums="not checked (--check decodes the stream)")
        return result
    try:
        codec.read(data, max_pixels=max_pixels)  # checks the stream's checksum and every index
        result.update(valid=True, checksums="OK")
    except KmqError as exc:
        result.update(valid=False, checksums="FAILED", error=f"{type(exc).__name__}: {exc}")
    return result


def _swatch(palette: list[str]) -> str:
    if os.environ.get("COLORTERM", "").lower() in ("truecolor", "24bit") and sys.stdout.isatty():
        cells = []
        for entry in palette:
            r, g, b = (int(entry[i : i + 2], 16) for i in (0, 2, 4))
            cells.append(f"\x1b[48;2;{r};{g};{b}m  \x1b[0m")
        return "".join(cells)
    return " ".join(palette)


def _cmd_info(args: argparse.Namespace) -> int:
    infos = []
    status = EXIT_OK
    for path in args.files:
        try:
            info = _describe(path, args.check, _max_pixels(args.max_pixels))
        except OSError as exc:
            info = {"file": path, "valid": False, "error": f"cannot read: {exc}"}
            status = EXIT_READ
        if not info.get("valid") and status == EXIT_OK:
            status = EXIT_FAILED
        infos.append(info)
    if args.json:
        print(json.dumps(infos if len(infos) > 1 else infos[0], indent=2))
        return status
    for info in infos:
        if "width" not in info:
            print(f"{info['file']}: {info['error']}")
            continue
        print(f"{info['file']}:")
        print(
            f"  KMQ version {info['version']}, {info['width']}x{info['height']},"
            f" {info['colors']} colours ({info['palette_format']}),"
            f" {info['index_bits']} bits per index, coding {info['coding']} ({info['coding_name']})"
        )
        print(
            f"  {info['bytes']} bytes, {info['bits_per_pixel']:.3f} bits per pixel,"
            f" {info['ratio_to_raw_rgb']:.1f}:1 against raw RGB"
        )
        if info["chunks"]:
            print("  chunks: " + ", ".join(f"{k} ({v} bytes)" for k, v in info["chunks"].items()))
        palette = info["palette"]
        for start in range(0, len(palette), 16):
            label = "palette:" if start == 0 else ""
            print(f"  {label:<9}{_swatch(palette[start : start + 16])}")
        print(
            f"  checksums: {info['checksums']}" + (f" ({info['error']})" if "error" in info else "")
        )
    return status


def _print_comparison(ic: Any) -> None:
    from .comparison import FORMATS, SHORT_NAMES

    print(f"{Path(ic.image).name}: {ic.width}x{ic.height}, original {ic.original_bytes} bytes")
    names = [n for n in FORMATS if any(n in m.sizes for m in ic.measurements)]
    print(
        f"{'K':>5}{'PSNR':>7}{'SSIM':>8}"
        + "".join(f"{SHORT_NAMES[n] + ' B':>11}" for n in names)
        + f"{'kmq bpp':>9}{'x orig':>8}{'x raw':>7}{'JPEG q':>8}{'enc s':>7}{'dec s':>7}"
    )
    for m in ic.measurements:
        kmq = m.sizes["kmq"]
        jpeg = m.sizes.get("jpeg")
        print(
            f"{m.k:>5}{m.psnr:>7.2f}{m.ssim:>8.4f}"
            + "".join(f"{m.sizes[n].bytes if n in m.sizes else '-':>11}" for n in names)
            + f"{kmq.bits_per_pixel:>9.3f}{kmq.vs_original:>8.2f}{kmq.vs_raw:>7.1f}"
            + f"{jpeg.quality if jpeg else '-':>8}{m.encode_seconds:>7.3f}{m.decode_seconds:>7.3f}"
        )
    print(f"  best K: {ic.why}")


def _print_medians(medians: list[dict[str, Any]]) -> None:
    from .comparison import FORMATS, SHORT_NAMES

    names = [n for n in FORMATS if f"{n}_bpp" in medians[0]]
    print(
        f"{'K':>5}{'PSNR':>7}{'SSIM':>8}" + "".join(f"{SHORT_NAMES[n] + ' bpp':>12}" for n in names)
    )
    for row in medians:
        cells = "".join(f"{row[f'{n}_bpp']:>12.3f}" for n in names)
        print(f"{row['k']:>5}{row['psnr']:>7.2f}{row['ssim']:>8.4f}{cells}")


#: The encode options ``kmq compare`` takes (K and quality targets are its own).
_COMPARE_OPTIONS = ("speed", "color_space")


def _cmd_compare(args: argparse.Namespace) -> int:
    from .comparison import compare
    from .comparison.report import write_report

    if args.colors == "auto":
        colors: Any = "auto"
    else:
        try:
            colors = [int(k) for k in args.colors.split(",")]
        except ValueError:
            print(
                f"kmq: --colors must be 'auto' or numbers like 2,5,10, got {args.colors!r}",
                file=sys.stderr,
            )
            return EXIT_USAGE
    images = expand(args.images)
    missing = [p for p in images if not Path(p).is_file()]
    if missing:
        print(f"kmq: cannot read {', '.join(missing)}", file=sys.stderr)
        return EXIT_READ
    bar = _progress(len(images), args.quiet)
    done = [0]

    def progress(name: str) -> None:
        # A bar on a terminal; elsewhere (a log, CI) one line per image, so a long run
        # shows that it is moving.
        done[0] += 1
        if bar is not None:
            bar.update(1)
        elif not args.quiet and len(images) > 1:
            print(f"kmq compare: {done[0]}/{len(images)} {name}", file=sys.stderr, flush=True)

    try:
        result = compare(
            images,
            colors,
            out=args.out,
            target_ssim=args.target_ssim,
            target_psnr=args.target_psnr,
            progress=progress,
            **options.given_arguments(args, _COMPARE_OPTIONS),
        )
    except (OSError, SyntaxError, _bomb_error()) as exc:
        print(f"kmq: cannot read an image: {exc}", file=sys.stderr)
        return EXIT_READ
    except (ValueError, KmqError) as exc:
        print(f"kmq: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        if bar is not None:
            bar.close()
    if not args.quiet:
        for ic in result.images:
            _print_comparison(ic)
            print()
        if len(result.images) > 1:
            print(f"medians over {len(result.images)} images")
            _print_medians(result.medians())
    if args.csv:
        import csv

        records = result.records()
        with open(args.csv, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(records[0]))
            writer.writeheader()
            writer.writerows(records)
    if args.json:
        Path(args.json).write_text(json.dumps(result.to_json(), indent=2) + "\n")
    files: list[Path] = []
    if not args.no_plots:
        try:
            files = write_report(result, args.out)
        except ImportError as exc:
            print(f"kmq: no plots: {exc}", file=sys.stderr)
        else:
            if not args.quiet:
                print(f"report and {len(files) - 1} plots written to {args.out}/ (report.md)")
    if args.html:
        from .comparison.html import write_html

        try:
            page = write_html(result, args.out, files)
        except FileNotFoundError as exc:
            print(f"kmq: no HTML report: {exc}", file=sys.stderr)
            return EXIT_FAILED
        if not args.quiet:
            print(f"HTML report (self-contained, decodes the .kmq files with kmq.js): {page}")
    return EXIT_OK


def _ranged(low: int, high: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be {low} to {high}, got {value}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``kmq`` command."""
    parser = argparse.ArgumentParser(
        prog="kmq",
        description="Encode images as .kmq palette images, decode and inspect them.",
        epilog="Exit codes: 0 ok, 1 failed, 2 bad usage, 3 unreadable input, 4 cannot write, "
        "98 skipped because larger, 99 quality not reached.",
    )
    parser.add_argument("--version", action="version", version=f"kmq {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    enc = sub.add_parser(
        "encode",
        help="encode images as .kmq",
        description="Encode images (or folders of images) as .kmq.",
    )
    enc.add_argument(
        "inputs", nargs="+", metavar="IN", help="image files or folders; - reads standard input"
    )
    out = enc.add_mutually_exclusive_group()
    out.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="output file, one input only; - writes standard output",
    )
    out.add_argument("--ext", default=layout.EXTENSION, help="output file suffix (default .kmq)")
    options.add_arguments(enc)  # every encode option, as kmcodec.options declares it
    enc.add_argument("-f", "--force", action="store_true", help="overwrite existing files")
    enc.add_argument(
        "--skip-if-larger",
        action="store_true",
        help="write nothing if the .kmq file is larger than the input (exit 98)",
    )
    enc.add_argument(
        "-j",
        "--jobs",
        type=_ranged(1, 1024),
        default=None,
        metavar="N",
        help="parallel processes (default: number of cores)",
    )
    enc.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    enc.add_argument("-v", "--verbose", action="store_true", help="print a line per file")
    enc.set_defaults(func=_cmd_encode)

    dec = sub.add_parser("decode", help="decode a .kmq file to PNG (or any format Pillow writes)")
    dec.add_argument("input", metavar="IN.kmq", help="- reads standard input")
    dec.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="output image, format from its extension; - writes standard output (PNG)",
    )
    dec.add_argument(
        "--format", help="output format name for Pillow (default: from the extension, else PNG)"
    )
    dec.add_argument("-f", "--force", action="store_true", help="overwrite an existing file")
    _add_max_pixels(dec)
    dec.set_defaults(func=_cmd_decode)

    cmp = sub.add_parser(
        "compare",
        help="size and quality against PNG, JPEG, WebP and GIF, with plots and the best K",
        description="Encode images at several K; measure every format's size on disk, PSNR and "
        "SSIM; pick the best K; write plots and report.md into --out.",
    )
    cmp.add_argument("images", nargs="+", metavar="IMAGE", help="image files or folders")
    cmp.add_argument(
        "--colors",
        default="2,5,10,15,20",
        help="K values, e.g. 2,5,10, or 'auto' (default 2,5,10,15,20)",
    )
    cmp.add_argument(
        "--out",
        default="kmq-compare",
        help="folder for the files, plots and report.md (default kmq-compare)",
    )
    cmp.add_argument(
        "--target-ssim",
        type=float,
        default=0.95,
        help="quality the best K must reach (default SSIM 0.95)",
    )
    cmp.add_argument(
        "--target-psnr",
        type=float,
        default=None,
        metavar="DB",
        help="use a PSNR target instead of SSIM",
    )
    options.add_arguments(cmp, _COMPARE_OPTIONS)
    cmp.add_argument("--csv", help="write every measurement to this CSV file")
    cmp.add_argument("--json", help="write the results to this JSON file")
    cmp.add_argument("--no-plots", action="store_true", help="skip the plots and report.md")
    cmp.add_argument(
        "--html",
        action="store_true",
        help="also write report.html: one self-contained page that draws each .kmq file with"
        " the JavaScript decoder beside PNG-8, WebP, GIF and JPEG",
    )
    cmp.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    cmp.set_defaults(func=_cmd_compare)

    info = sub.add_parser("info", help="header, palette, size and checksums of .kmq files")
    info.add_argument("files", nargs="+", metavar="FILE")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.add_argument(
        "--check",
        action="store_true",
        help="also decode the index stream to verify its checksum and indices",
    )
    _add_max_pixels(info)
    info.set_defaults(func=_cmd_info)
    return parser


def _add_max_pixels(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-pixels",
        type=_ranged(0, 1 << 32),
        default=None,
        metavar="N",
        help="refuse images of more than N pixels (default: Pillow's MAX_IMAGE_PIXELS rule;"
        " 0: no limit)",
    )


def main(argv: list[str] | None = None) -> int:
    """Run the ``kmq`` command; return its exit code."""
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
