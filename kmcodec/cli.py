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
4   an output could not be written (exists without ``--force``, no permission, ...) or clashes
    (two inputs with one output name, an output that is an input): nothing is written for it
5   ``--frame N`` names a frame the input does not have (an input of several frames -- an
    animated GIF, APNG or WebP -- is otherwise encoded as an animation, every frame kept)
98  skipped: the ``.kmq`` file would be larger than the input (``--skip-if-larger``), as pngquant
99  the minimum of ``--quality`` could not be reached, as pngquant

With several files, every file is tried and the exit code is the first of 3, 5, 4, 1, 99, 98
that any file ended with.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from . import __version__, batch, codec, options
from ._text import plural
from .batch import FileResult
from .errors import KmqError
from .files import expand
from .format import layout

__all__ = ["main"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_READ = 3
EXIT_WRITE = 4
EXIT_ANIMATED = 5
EXIT_LARGER = 98
EXIT_QUALITY = 99
#: Ctrl-C, as shells report a process ended by SIGINT (128 + 2).
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
#: The reader of the output went away (``kmq info a.kmq | head``), as for SIGPIPE (128 + 13).
EXIT_BROKEN_PIPE = 141
#: pngquant's --speed 11: speed 10 without dithering.
PNGQUANT_FASTEST = 11
#: Which code wins when files of a batch end differently.
_PRIORITY = (EXIT_READ, EXIT_ANIMATED, EXIT_WRITE, EXIT_FAILED, EXIT_QUALITY, EXIT_LARGER)


#: The exit code of each batch status.
_EXIT_OF = {
    "ok": EXIT_OK,
    "up-to-date": EXIT_OK,
    "failed": EXIT_FAILED,
    "unreadable": EXIT_READ,
    "unwritable": EXIT_WRITE,
    "exists": EXIT_WRITE,
    "clash": EXIT_WRITE,
    "animated": EXIT_ANIMATED,
    "larger": EXIT_LARGER,
    "quality": EXIT_QUALITY,
}


def _exit_code(results: list[FileResult]) -> int:
    codes = {_EXIT_OF[r.status] for r in results}
    for code in _PRIORITY:
        if code in codes:
            return code
    return EXIT_OK


def _target(source: str, args: argparse.Namespace) -> str | None:
    if args.output:
        return None if args.output == "-" else args.output
    if source == "-":
        return None
    return str(Path(source).with_suffix("")) + args.ext


class _Progress:
    """A bar on a terminal; elsewhere (a log, CI) a line every ``every`` files, so that a long
    run shows it is moving; nothing with -q or for one file."""

    def __init__(self, total: int, quiet: bool, label: str = "kmq", every: int = 0) -> None:
        self.total, self.done, self.label, self.bar = total, 0, label, None
        self.every = (every or max(1, total // 20)) if not quiet and total > 1 else 0
        if self.every and sys.stderr.isatty():
            try:
                from tqdm import tqdm
            except ImportError:  # the progress bar is an optional extra
                pass
            else:
                self.bar = tqdm(total=total, unit="file", file=sys.stderr)

    def __call__(self, result: Any = None, name: str = "") -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)
        elif self.every and (self.done % self.every == 0 or self.done == self.total):
            what = f" {name}" if name else " files"
            print(f"{self.label}: {self.done}/{self.total}{what}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _client(args: argparse.Namespace) -> Any:
    if not args.dask:
        return None
    return batch.connect(args.dask, args.jobs)


def _cmd_encode(args: argparse.Namespace) -> int:
    inputs = list(args.inputs)
    if len(inputs) > 1 and inputs[0].isdigit() and not Path(inputs[0]).exists():
        # pngquant's spelling: kmq encode 64 photo.png
        if hasattr(args, "colors"):
            print("kmq: give the colour count once (as N first or --colors N)", file=sys.stderr)
            return EXIT_USAGE
        try:
            args.colors = options.check("colors", int(inputs[0]))
        except ValueError as exc:
            print(f"kmq: {exc}", file=sys.stderr)
            return EXIT_USAGE
        inputs = inputs[1:]
    sources = expand(inputs)
    if not sources:
        print("kmq: no image files found", file=sys.stderr)
        return EXIT_READ
    if args.output and len(sources) > 1:
        print("kmq: -o/--output takes one input file (use --ext for many)", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.output != "-":
            batch.check_kmq_suffix(args.output or args.ext)
        given = options.given_arguments(args)
        nofs = args.nofs
        if given.get("speed") == PNGQUANT_FASTEST:  # as pngquant: speed 10, no dithering
            given["speed"] = PNGQUANT_FASTEST - 1
            nofs = nofs or "dither" not in given
        if args.nofs and "dither" in given:
            raise ValueError("give --dither (or --floyd) or --nofs, not both")
        if not nofs and "dither" not in given:
            given["dither"] = True  # as pngquant: Floyd-Steinberg unless --nofs
        if args.strip:  # no ICC profile or EXIF from the input
            given["icc_profile"] = given["exif"] = b""
        options.resolve(**given)  # together (quality and target_psnr exclude each other)
    except ValueError as exc:
        print(f"kmq: {exc}", file=sys.stderr)
        return EXIT_USAGE
    t0 = time.perf_counter()
    if sources == ["-"] or (len(sources) == 1 and args.output == "-"):
        # One image whose file goes to standard output (from standard input or a file).
        data = sys.stdin.buffer.read() if sources == ["-"] else None
        result, encoded = batch.encode_file(
            sources[0],
            _target(sources[0], args),
            given,
            force=args.force,
            skip_if_larger=args.skip_if_larger,
            data=data,
            frame=args.frame,
        )
        if encoded is not None and result.target is None:
            sys.stdout.buffer.write(encoded)
            sys.stdout.buffer.flush()
        _report(result, args)
        return _exit_code([result])
    jobs = [(s, _target(s, args)) for s in sources]
    settings = dict(
        options=given, force=args.force, skip_if_larger=args.skip_if_larger, frame=args.frame
    )
    return _run_batch(batch.encode_files, jobs, settings, args, "converted", t0)


def _run_batch(
    function: Any,
    jobs: list[tuple[str, str | None]],
    settings: dict[str, Any],
    args: argparse.Namespace,
    done_word: str,
    t0: float,
) -> int:
    """Run a batch of ``kmq encode`` or ``kmq decode`` (locally or on Dask) with a progress
    line and a summary; outputs that clash are refused by name before anything is written."""
    progress = _Progress(len(jobs), args.quiet)

    def each(result: FileResult) -> None:
        progress(result)
        _report(result, args)

    client = None
    try:
        client = _client(args)
        results = batch.run_checked(
            function, jobs, settings, workers=args.jobs, client=client, progress=each
        )
    except KeyboardInterrupt as exc:
        progress.close()
        how = "terminated" if isinstance(exc, _Terminated) else "interrupted"
        print(f"kmq: {how} after {progress.done} of {len(jobs)} files", file=sys.stderr)
        return EXIT_TERMINATED if isinstance(exc, _Terminated) else EXIT_INTERRUPTED
    except (ImportError, OSError) as exc:  # no Dask, or no scheduler at that address
        progress.close()
        print(f"kmq: --dask {args.dask}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        progress.close()
        if client is not None:
            cluster = getattr(client, "cluster", None)
            client.close()
            if args.dask == "local" and cluster is not None:
                cluster.close()  # the LocalCluster this command started
    if not args.quiet and len(results) > 1:
        _summarise(results, done_word, time.perf_counter() - t0)
    return _exit_code(results)


def _summarise(results: list[FileResult], done_word: str, seconds: float) -> None:
    """The last lines of a batch: how many files were done, the bytes, then the files that
    were skipped (by --skip-if-larger) and those that failed, each under its own heading."""
    done = [r for r in results if r.status == "ok"]
    current = sum(r.status == "up-to-date" for r in results)
    bytes_in = sum(r.bytes_in for r in done)
    bytes_out = sum(r.bytes_out for r in done)
    line = f"kmq: {len(done)} of {plural(len(results), 'file')} {done_word}"
    if current:
        line += f", {current} up to date"
    if done:
        line += f", {bytes_in} bytes in, {bytes_out} bytes out"
        if bytes_in and bytes_out:
            line += f" ({bytes_out / bytes_in:.1%} of the input)"
    print(f"{line}, {seconds:.2f} s", file=sys.stderr)
    skipped = batch.failure_report(r for r in results if r.status == "larger")
    if skipped:
        print(f"kmq: skipped (larger than the input):\n{skipped}", file=sys.stderr)
    failed = batch.failure_report(r for r in results if r.status not in ("up-to-date", "larger"))
    if failed:
        print(f"kmq: not written:\n{failed}", file=sys.stderr)


def _report(result: FileResult, args: argparse.Namespace) -> None:
    if not result.ok:
        if not args.quiet or result.status not in ("larger",):
            print(f"kmq: {result.source}: {result.message}", file=sys.stderr)
    elif args.verbose and result.status == "up-to-date":
        print(f"{result.source}: up to date ({result.target})", file=sys.stderr)
    elif args.verbose:
        quality = ""
        if result.psnr:
            quality = (
                ", exact (no colour changed)"
                if result.psnr == float("inf")
                else f", PSNR {result.psnr:.2f} dB"
            )
        print(
            f"{result.source} -> {result.target or 'stdout'}: {plural(result.colors, 'colour')}"
            f"{', ' + plural(result.frames, 'frame') if result.frames > 1 else ''}"
            f"{quality}, {result.bytes_in} -> {result.bytes_out} bytes, {result.seconds:.2f} s",
            file=sys.stderr,
        )


def _bomb_error() -> type[Exception]:
    from PIL import Image

    return Image.DecompressionBombError


def _max_pixels(value: int | None) -> int | str | None:
    """The CLI's --max-pixels: absent = Pillow's rule, 0 = no limit."""
    if value is None:
        return codec.PILLOW_LIMIT
    return None if value == 0 else value


def _cmd_decode(args: argparse.Namespace) -> int:
    sources = batch.expand_kmq(args.inputs)
    if not sources:
        print("kmq: no .kmq files found", file=sys.stderr)
        return EXIT_READ
    if args.output and len(sources) > 1:
        print("kmq: -o/--output takes one input file (use --ext for many)", file=sys.stderr)
        return EXIT_USAGE
    try:  # an output format that cannot be written is bad usage, found before any work
        batch.output_format(args.output or "x" + args.ext, args.format)
    except ValueError as exc:
        print(f"kmq: {exc}", file=sys.stderr)
        return EXIT_USAGE
    max_pixels = _max_pixels(args.max_pixels)
    t0 = time.perf_counter()
    if args.frames:
        if "-" in sources:
            print("kmq: --frames reads .kmq files, not standard input", file=sys.stderr)
            return EXIT_USAGE
        results = [
            batch.decode_frames(s, args.frames, force=args.force, max_pixels=max_pixels)
            for s in sources
        ]
        for result in results:
            _report(result, args)
        return _exit_code(results)
    to_stdout = args.output == "-" or (sources == ["-"] and not args.output)
    if sources == ["-"] or to_stdout:
        # One file, from standard input or to standard output.
        data = None
        if sources == ["-"]:
            data = sys.stdin.buffer.read()
        target = None if to_stdout else args.output
        result, encoded = batch.decode_file(
            sources[0],
            target,
            force=args.force,
            max_pixels=max_pixels,
            format=args.format,
            data=data,
        )
        if encoded is not None and target is None:
            sys.stdout.buffer.write(encoded)
            sys.stdout.buffer.flush()
        _report(result, args)
        return _exit_code([result])
    jobs = [(s, args.output or batch.decoded_name(s, None, args.ext)) for s in sources]
    settings = dict(force=args.force, max_pixels=max_pixels, format=args.format)
    return _run_batch(batch.decode_files, jobs, settings, args, "decoded", t0)


def _describe(path: str, check: bool = False, max_pixels: Any = None) -> dict[str, Any]:
    data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    result: dict[str, Any] = {"file": path, "bytes": len(data)}
    try:
        head, _ = layout.split_file(data)
    except KmqError as exc:
        result.update(valid=False, error=f"{type(exc).__name__}: {exc}")
        return result
    h = head.header
    pixels = h.width * h.height
    if h.is_animated:
        try:
            result["animation"] = _describe_animation(head, data)
        except KmqError as exc:
            result.update(valid=False, error=f"{type(exc).__name__}: {exc}")
            return result
        pixels *= result["animation"]["frames"]
    result.update(
        version=h.version,
        width=h.width,
        height=h.height,
        colors=h.colors,
        palette_format="RGBA" if h.has_alpha else "RGB",
        index_bits=h.index_bits,
        coding=int(h.coding),
        coding_name=layout.Coding(h.coding).name.lower(),
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
        if h.is_animated:
            from .animation import read_animation

            anim = read_animation(data, max_pixels=max_pixels)
            for n in range(anim.n_frames):  # every layer's checksum and every index
                anim.indices(n)
        else:
            codec.read(data, max_pixels=max_pixels)  # the stream's checksum and every index
        result.update(valid=True, checksums="OK")
    except KmqError as exc:
        result.update(valid=False, checksums="FAILED", error=f"{type(exc).__name__}: {exc}")
    return result


def _describe_animation(head: layout.Head, data: bytes) -> dict[str, Any]:
    """Frames, durations, loop, key frames and the layers' codings of an animated file (its
    frame table and layer headers read, no layer decoded)."""
    from .animation import AnimationReader
    from .format import animation as fmt

    h = head.header
    stream = memoryview(data)[head.stream_offset :]
    reader = AnimationReader(head, lambda offset, size: stream[offset : offset + size])
    layers: dict[str, int] = {}
    keys = 0
    for entry in reader.table.frames:
        frame = fmt.parse_frame(
            stream[entry.offset : entry.offset + entry.size], (h.width, h.height), h.colors
        )
        keys += fmt.is_key(frame, (h.width, h.height))
        for la in frame:
            if la.kind == fmt.MOVE:
                name = "move"
            elif la.coding in tuple(layout.Coding):
                name = layout.Coding(la.coding).name.lower()
            else:
                name = str(la.coding)
            layers[name] = layers.get(name, 0) + 1
    return dict(
        frames=reader.n_frames,
        durations=reader.durations,
        loop=reader.table.loop,
        key_frames=keys,
        layers=layers,
    )


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
        anim = info.get("animation")
        coded = (
            f"{plural(info['index_bits'], 'bit')} per index,"
            f" coding {info['coding']} ({info['coding_name']})"
            if anim is None
            else "animation"
        )
        print(
            f"  KMQ version {info['version']}, {info['width']}x{info['height']},"
            f" {plural(info['colors'], 'colour')} ({info['palette_format']}), {coded}"
        )
        if anim is not None:
            loop = anim["loop"]
            plays = (
                "no loop count"
                if loop is None
                else "loops for ever"
                if loop == 0
                else f"loop {loop}"
            )
            print(
                f"  {plural(anim['frames'], 'frame')}, {sum(anim['durations'])} ms in all, {plays},"
                f" {plural(anim['key_frames'], 'key frame')}; layers: "
                + ", ".join(f"{n} {name}" for name, n in anim["layers"].items())
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
        f"{'K':>5}{'PSNR':>7}{'SSIM':>8}{'blurΔE':>8}"
        + "".join(f"{SHORT_NAMES[n] + ' B':>11}" for n in names)
        + f"{'kmq bpp':>9}{'x orig':>8}{'x raw':>7}{'JPEG q':>8}{'enc s':>7}{'dec s':>7}"
    )
    for m in ic.measurements:
        kmq = m.sizes["kmq"]
        jpeg = m.sizes.get("jpeg")
        print(
            f"{m.k:>5}{m.psnr:>7.2f}{m.ssim:>8.4f}{m.blurred_delta_e:>8.3f}"
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


def _frames_of(path: str) -> int:
    """Frames of an image file (1 for a still image, or one Pillow cannot open)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return int(getattr(im, "n_frames", 1))
    except (OSError, SyntaxError, ValueError):
        return 1


def _compare_animations(paths: list[str], args: argparse.Namespace) -> list[dict[str, Any]]:
    """Each animation stored losslessly as .kmq (default and coding 1) beside the original,
    gifsicle -O3 and animated WebP (where installed), every frame checked; a table printed."""
    from .comparison.animation import PEERS, measure_animation

    rows = []
    for path in paths:
        rows.append(measure_animation(Path(path), Path(args.out) / "animations", repeat=1))
    if args.quiet or not rows:
        return rows
    missing = [p for p in PEERS if shutil.which(p) is None]
    if missing:
        print(f"({', '.join(missing)} not installed: not measured; apt-get install gifsicle webp)")
    print(
        f"{'animation':28}{'frames':>7}{'colours':>8}{'original':>10}{'gifsicle':>10}"
        f"{'WebP':>10}{'.kmq':>10}{'kmq c1':>10}{'exact':>7}"
    )
    for r in rows:
        print(
            f"{r['file'][:27]:28}{r['frames']:>7}{r['colors']:>8}{r['gif']:>10}"
            f"{r.get('gifsicle', '-'):>10}{r.get('webp', '-'):>10}{r['kmq']:>10}{r['kmq_c1']:>10}"
            f"{'yes' if r['exact'] else 'NO':>7}"
        )
    for r in rows:
        if r.get("peers_failed"):
            print(f"({' and '.join(r['peers_failed'])} refused {r['file']}: not measured)")
    print(f"files in {Path(args.out) / 'animations'}/")
    return rows


def _compare_stopped(exc: BaseException, what: str) -> int:
    """Say why ``kmq compare`` stopped; its exit code: an input it cannot read (Pillow's
    errors, a decompression bomb) or anything else that failed."""
    if isinstance(exc, (OSError, SyntaxError, _bomb_error())):
        print(f"kmq: cannot read {what}: {exc}", file=sys.stderr)
        return EXIT_READ
    print(f"kmq: {exc}", file=sys.stderr)
    return EXIT_FAILED


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
    try:
        animations = _compare_animations([p for p in images if _frames_of(p) > 1], args)
    except (OSError, SyntaxError, _bomb_error(), ValueError, KmqError) as exc:
        return _compare_stopped(exc, "an animation")
    images = [p for p in images if _frames_of(p) <= 1]
    if not images:
        if args.json:
            Path(args.json).write_text(json.dumps({"animations": animations}, indent=2) + "\n")
        return EXIT_OK
    bar = _Progress(len(images), args.quiet, "kmq compare", every=1)

    def progress(name: str) -> None:
        bar(name=name)

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
    except (OSError, SyntaxError, _bomb_error(), ValueError, KmqError) as exc:
        return _compare_stopped(exc, "an image")
    finally:
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
        payload = result.to_json()
        if animations:
            payload["animations"] = animations
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
    files: list[Path] = []
    if not args.no_plots:
        try:
            files = write_report(result, args.out)
        except ImportError as exc:
            # asked for (the default), not made: say so and fail, as for --html
            print(
                f"kmq: no plots or report.md: {exc} (pip install matplotlib, or --no-plots)",
                file=sys.stderr,
            )
            return EXIT_FAILED
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


def _floyd(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a strength 0-1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a strength 0-1, got {text!r}")
    return value


def _pngquant_argv(argv: list[str]) -> list[str]:
    """pngquant's spellings in argparse's terms: ``--ext -fs8.png`` (a value that starts with
    ``-``, which argparse would take for an option) as ``--ext=-fs8.png``, and
    ``--floyd=STRENGTH`` as ``--dither=STRENGTH``."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] == "--ext" and i + 1 < len(argv) and argv[i + 1].startswith("-"):
            out.append("--ext=" + argv[i + 1])
            i += 2
            continue
        if argv[i].startswith("--floyd="):  # pngquant's --floyd=0.5 is our --dither=0.5
            out.append(f"--dither={_floyd(argv[i].partition('=')[2])!r}")
            i += 1
            continue
        if argv[i] == "--":
            out += argv[i:]
            break
        out.append(argv[i])
        i += 1
    return out


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
        epilog="Exit codes: 0 ok, 1 failed, 2 bad usage, 3 unreadable input, 4 output not"
        " written (exists, no permission, clashes with another file), 5 several frames,"
        " 98 skipped because larger, 99 quality not reached, 130 interrupted (Ctrl-C), 143"
        " terminated (SIGTERM).",
    )
    parser.add_argument("--version", action="version", version=f"kmq {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    enc = sub.add_parser(
        "encode",
        help="encode images as .kmq",
        description="Encode images (or folders of images) as .kmq.",
    )
    enc.add_argument(
        "inputs",
        nargs="+",
        metavar="IN",
        help="image files or folders; - reads standard input. A number first is the colour"
        " count, as pngquant's: kmq encode 64 photo.png",
    )
    out = enc.add_mutually_exclusive_group()
    out.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="output file, one input only; - writes standard output",
    )
    out.add_argument("--ext", default=layout.EXTENSION, help="output file suffix (default .kmq)")
    # every encode option, as kmcodec.options declares it (--speed also takes pngquant's 11)
    options.add_arguments(enc, extra={"speed": PNGQUANT_FASTEST})
    enc.add_argument(
        "--floyd",
        dest="dither",
        action="store_const",
        const=True,
        default=argparse.SUPPRESS,
        help="--floyd=STRENGTH, as pngquant's: Floyd-Steinberg dithering of this strength (0-1;"
        " bare --floyd: 1); the same as --dither=STRENGTH",
    )
    enc.add_argument(
        "--strip",
        action="store_true",
        help="store no metadata (the input's ICC profile and EXIF), as pngquant's --strip",
    )
    enc.add_argument(
        "--nofs",
        action="store_true",
        help="no dithering (as pngquant's --nofs); without it kmq encode dithers with"
        " Floyd-Steinberg, as pngquant does",
    )
    enc.add_argument(
        "-f",
        "--force",
        action="store_true",
        help="redo outputs newer than their input (skipped otherwise: a run resumes) and"
        " overwrite older ones",
    )
    enc.add_argument(
        "--frame",
        type=_ranged(0, 1 << 31),
        default=None,
        metavar="N",
        help="of an image with several frames (animated GIF, APNG or WebP, multi-page TIFF),"
        " encode frame N (from 0) as a still image; without it every frame is kept, as an"
        " animated .kmq file (exit 5 if there is no frame N)",
    )
    enc.add_argument(
        "--skip-if-larger",
        action="store_true",
        help="write nothing if the .kmq file is larger than the input (exit 98)",
    )
    _add_batch_arguments(enc)
    enc.set_defaults(func=_cmd_encode)

    dec = sub.add_parser(
        "decode",
        help="decode .kmq files to PNG (or any format Pillow writes), lossless",
        description="Decode .kmq files (or the .kmq files of folders) to images. Each output is"
        " the input's name plus --ext (photo.kmq -> photo.kmq.png), so that the image the .kmq"
        " file was made from is never overwritten. Output is lossless where the format can be:"
        " palette PNG, GIF, TIFF, BMP, lossless WebP; JPEG at quality 95.",
    )
    dec.add_argument(
        "inputs", nargs="+", metavar="IN.kmq", help=".kmq files or folders; - reads standard input"
    )
    dout = dec.add_mutually_exclusive_group()
    dout.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="output image, one input only, format from its extension; - writes standard"
        " output (PNG unless --format)",
    )
    dout.add_argument(
        "--ext",
        default=".png",
        help="suffix added to each input's name, naming the format (default .png:"
        " photo.kmq -> photo.kmq.png)",
    )
    dout.add_argument(
        "--frames",
        metavar="DIR",
        help="write every frame of each file as a PNG in DIR (NAME-0000.png, ...); an animation"
        " decodes to one animated file with -o a.gif, a.png (APNG) or a.webp",
    )
    dec.add_argument(
        "--format",
        help="output format by Pillow's name (PNG, WEBP, GIF, TIFF, ...) when the name's"
        " extension does not say",
    )
    dec.add_argument(
        "-f",
        "--force",
        action="store_true",
        help="redo outputs newer than their input (skipped otherwise) and overwrite older ones",
    )
    _add_max_pixels(dec)
    _add_batch_arguments(dec)
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


def _add_batch_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-j",
        "--jobs",
        type=_ranged(1, 1024),
        default=None,
        metavar="N",
        help="parallel processes (default: number of cores)",
    )
    parser.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="run on a Dask cluster: a scheduler's address (tcp://host:8786), or 'local' for a"
        " LocalCluster of -j processes (default one per core); the workers read and write the files"
        " (pip install 'kmcodec[dask]')",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    parser.add_argument("-v", "--verbose", action="store_true", help="print a line per file")


def _add_max_pixels(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-pixels",
        type=_ranged(0, 1 << 32),
        default=None,
        metavar="N",
        help="refuse images of more than N pixels (default: Pillow's MAX_IMAGE_PIXELS rule;"
        " 0: no limit)",
    )


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the signal lands so that it is handled as Ctrl-C is: the workers
    stopped, the temporary files removed, the pool's semaphores released, a summary printed."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated


def main(argv: list[str] | None = None) -> int:
    """Run the ``kmq`` command; return its exit code."""
    import signal
    import threading

    try:
        argv = _pngquant_argv(sys.argv[1:] if argv is None else argv)
    except argparse.ArgumentTypeError as exc:
        print(f"kmq: error: argument --floyd: {exc}", file=sys.stderr)
        return EXIT_USAGE
    args = build_parser().parse_args(argv)
    if threading.current_thread() is not threading.main_thread():
        return int(args.func(args))
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return int(args.func(args))
    except _Terminated:
        print("kmq: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except BrokenPipeError:
        # Quietly, as other tools do; stdout goes to /dev/null so that Python's flush at exit
        # does not fail again with "Exception ignored ... BrokenPipeError".
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
