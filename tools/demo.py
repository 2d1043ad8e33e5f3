"""The main job, end to end: encode images at K = 2, 5, 10, 15, 20, decode them, print a table.

Usage::

    python tools/demo.py [IMAGE ...] [--colors 2,5,10,15,20] [--out out]

With no image, it runs on the samples committed in ``samples/``. For each image and K it writes
``OUT/<name>-k<K>.kmq``, decodes it back (and checks that the decoded pixels are the quantised
ones), and prints: K, the ``.kmq`` size in bytes and bits per pixel, the size of the same
quantised image as a 24-bit PNG (what the original experiment stored; Pillow, default settings),
the original file's size, PSNR against the original, and encode and decode times.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image

import kmcodec
from kmcodec.comparison.measure import encode_and_check

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"


#: PNG-24 sizes (KB) the original student experiment reported for its two photos, for comparison;
#: where it reported a range, the smallest value.
REPORTED_PNG24_KB = {
    "Koala.jpg": {2: 64.6, 5: 163, 10: 298, 15: 390, 20: 482},
    "Penguins.jpg": {2: 34.3, 5: 64, 10: 162, 15: 218, 20: 235},
}


def png24_size(pixels: np.ndarray) -> int:
    """Bytes of ``pixels`` saved as a true-colour PNG with Pillow's default settings."""
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.tell()


def run(paths: list[Path], ks: list[int], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    ratios: list[float] = []
    preset = kmcodec.SPEEDS[kmcodec.DEFAULT_SPEED]
    print(
        f"kmcodec {kmcodec.__version__}, default speed {kmcodec.DEFAULT_SPEED}: zstd level"
        f" {preset.narrow_level} for 1-4-bit index planes, '{preset.wide_level}' for 8-bit"
        " ones; the default file is coding 2 (fast to open) unless coding 0 (zstd rows) is smaller;"
        " the sizes of coding 0 and coding 1 (context model, the smallest) are shown beside it"
    )
    header = (
        f"{'image':<14}{'K':>4}{'kmq bytes':>11}{'coding':>7}{'coding 0':>10}{'coding 1':>10}"
        f"{'coding 2':>10}{'bpp':>7}"
        f"{'PNG-24 bytes':>14}{'kmq/PNG24':>10}"
        f"{'original':>10}{'PSNR dB':>9}{'encode s':>10}{'decode s':>10}"
    )
    for path in paths:
        reported = REPORTED_PNG24_KB.get(path.name, {})
        original = kmcodec.files.read_pixels(path)
        print(f"\n{path.name}: {original.shape[1]}x{original.shape[0]}")
        print(header + ("  vs reported PNG-24" if reported else ""))
        for k in ks:
            trial = encode_and_check(original, k, out / f"{path.stem}-k{k}.kmq")
            quantized, decoded, size = trial.quantized, trial.decoded, trial.size
            t_enc, t_dec = trial.encode_seconds, trial.decode_seconds
            png = png24_size(decoded)
            by_coding = [len(quantized.encode(coding=c)) for c in (0, 1, 2)]
            coding = int(kmcodec.read(trial.path.read_bytes()).header.coding)
            if k in reported:
                ratios.append(size / (reported[k] * 1000))
            n = original.shape[0] * original.shape[1]
            print(
                f"{path.stem[:13]:<14}{k:>4}{size:>11}{coding:>7}"
                + "".join(f"{b:>10}" for b in by_coding)
                + f"{8 * size / n:>7.3f}{png:>14}"
                f"{size / png:>10.3f}{path.stat().st_size:>10}"
                f"{kmcodec.psnr(original, decoded):>9.2f}{t_enc:>10.3f}{t_dec:>10.4f}"
                + (
                    f"  {size / (reported[k] * 1000):.3f} of {reported[k]} KB"
                    if k in reported
                    else ""
                )
            )
    if ratios:
        print(
            f"\n.kmq size / reported PNG-24 size over {len(ratios)} (image, K) pairs:"
            f" median {float(np.median(ratios)):.3f}, largest {max(ratios):.3f}"
        )
    print(f"\n.kmq files written to {out}/")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("images", nargs="*", type=Path, help="images (default: samples/*.png)")
    parser.add_argument("--colors", default="2,5,10,15,20", help="comma-separated K values")
    parser.add_argument("--out", type=Path, default=ROOT / "out", help="folder for .kmq files")
    args = parser.parse_args(argv)
    paths = args.images or sorted(SAMPLES.glob("*.png"))
    missing = [p for p in paths if not p.is_file()]
    if missing:
        hint = ""
        if any("shared" in str(p) for p in missing):
            hint = (
                " (the seed photos and the Kodak set are in ../shared/corpus beside the project's"
                " checkout, which a plain clone does not have; `make demo` with no IMAGES uses"
                " the bundled samples/)"
            )
        parser.error(f"no such file: {', '.join(map(str, missing))}{hint}")
    ks = [int(k) for k in args.colors.split(",")]
    run(paths, ks, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
