"""Measure ``.kmq`` for real against PNG, JPEG, WebP and GIF, and pick the best K.

For each image and palette size K, :func:`compare` quantises and encodes the image as ``.kmq``,
stores the *same quantised pixels* as PNG-24 (what the original k-means experiment stored),
PNG-8, GIF and lossless WebP, writes every file to disk and measures its size there, and adds the
smallest JPEG whose PSNR reaches the ``.kmq`` file's (so a reader sees when a palette format is
the wrong tool). Quality is PSNR and SSIM against the original; times are kmcodec's encode and
decode. Then it answers the two questions of the original experiment: is there a trade-off
between quality and size (the rate-distortion curves), and what is the best K for the image
(the smallest K reaching a target, and the knee of the size-quality curve).

The plots and the report are made by :mod:`.report`.
"""

from __future__ import annotations

import io
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import codec
from ..files import expand, gif_transparency, read_pixels, write_atomic
from ..metrics import blurred_delta_e, psnr, ssim
from ..options import check, resolve

__all__ = [
    "DEFAULT_COLORS",
    "FORMATS",
    "SHORT_NAMES",
    "Comparison",
    "FormatSize",
    "ImageComparison",
    "Measurement",
    "compare",
    "knee",
    "smallest_jpeg",
]

#: The K values of the original experiment.
DEFAULT_COLORS = (2, 5, 10, 15, 20)
#: The lossless containers the quantised image is also stored in, with their file suffixes.
FORMATS = {
    "kmq": ".kmq",
    "kmq0": ".rows.kmq",
    "kmq1": ".context.kmq",
    "kmq2": ".fast.kmq",
    "png24": ".png",
    "png8": ".png8.png",
    "gif": ".gif",
    "webp": ".webp",
    "jpeg": ".jpg",
}
#: Short names for tables.
SHORT_NAMES = {
    "kmq": ".kmq",
    "kmq0": ".kmq c0",
    "kmq1": ".kmq c1",
    "kmq2": ".kmq c2",
    "png24": "PNG-24",
    "png8": "PNG-8",
    "gif": "GIF",
    "webp": "WebP-ll",
    "jpeg": "JPEG",
}
#: K values tried first by ``colors="auto"``, before narrowing down on the target.
_AUTO_START = (2, 4, 8, 16, 32, 64, 128, 256)


@dataclass
class FormatSize:
    """One stored file: its size and how it compares.

    Attributes
    ----------
    bytes : int
        Size on disk (``os.path.getsize``).
    bits_per_pixel : float
    vs_original : float
        The original file's size divided by this one (how many times smaller).
    vs_raw : float
        Raw RGB (3 bytes a pixel) divided by this one.
    psnr, ssim : float
        Against the original. Equal to the ``.kmq`` file's for the lossless containers.
    quality : int or None
        JPEG only: the quality setting found.
    blurred_delta_e : float
        The colour difference the eye sees at a normal distance
        (:func:`kmcodec.metrics.blurred_delta_e`).
    """

    bytes: int
    bits_per_pixel: float
    vs_original: float
    vs_raw: float
    psnr: float
    ssim: float
    quality: int | None = None
    blurred_delta_e: float = 0.0


@dataclass
class Measurement:
    """One image at one K."""

    k: int
    colors: int
    psnr: float
    ssim: float
    encode_seconds: float
    decode_seconds: float
    sizes: dict[str, FormatSize] = field(default_factory=dict)
    blurred_delta_e: float = 0.0

    @property
    def kmq_bytes(self) -> int:
        return self.sizes["kmq"].bytes


@dataclass
class ImageComparison:
    """Every K measured for one image, and the best K."""

    image: str
    width: int
    height: int
    original_bytes: int
    measurements: list[Measurement]
    target: str
    best_k: int | None
    knee_k: int | None
    why: str
    jpeg_curve: list[tuple[int, float, float]] = field(default_factory=list)

    def by_k(self, k: int) -> Measurement:
        return next(m for m in self.measurements if m.k == k)


@dataclass
class Comparison:
    """The result of :func:`compare` over one or more images."""

    images: list[ImageComparison]
    files: dict[str, list[Path]] = field(default_factory=dict)

    def medians(self) -> list[dict[str, Any]]:
        """Per K (of those every image has), the median of each measure across images."""
        ks = sorted(set.intersection(*({m.k for m in ic.measurements} for ic in self.images)))
        rows = []
        for k in ks:
            ms = [ic.by_k(k) for ic in self.images]
            row: dict[str, Any] = {
                "k": k,
                "images": len(ms),
                "psnr": float(np.median([m.psnr for m in ms])),
                "ssim": float(np.median([m.ssim for m in ms])),
                "blurred_delta_e": float(np.median([m.blurred_delta_e for m in ms])),
                "encode_seconds": float(np.median([m.encode_seconds for m in ms])),
                "decode_seconds": float(np.median([m.decode_seconds for m in ms])),
            }
            for name in FORMATS:
                sizes = [m.sizes[name] for m in ms if name in m.sizes]
                if sizes:
                    row[f"{name}_bpp"] = float(np.median([s.bits_per_pixel for s in sizes]))
                    row[f"{name}_psnr"] = float(np.median([s.psnr for s in sizes]))
                    row[f"{name}_vs_original"] = float(np.median([s.vs_original for s in sizes]))
            rows.append(row)
        return rows

    def records(self) -> list[dict[str, Any]]:
        """One flat record per (image, K, format), for CSV."""
        out = []
        for ic in self.images:
            for m in ic.measurements:
                for name, s in m.sizes.items():
                    out.append(
                        dict(
                            image=ic.image,
                            width=ic.width,
                            height=ic.height,
                            original_bytes=ic.original_bytes,
                            k=m.k,
                            colors=m.colors,
                            format=name,
                            encode_seconds=m.encode_seconds,
                            decode_seconds=m.decode_seconds,
                            **asdict(s),
                        )
                    )
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "images": [asdict(ic) for ic in self.images],
            "medians": self.medians() if len(self.images) > 1 else [],
        }


def _save(pixels: np.ndarray, q: Any, name: str, path: Path, jpeg_quality: int = 0) -> None:
    from PIL import Image

    if name in ("kmq0", "kmq1", "kmq2"):
        write_atomic(path, q.encode(coding=int(name[-1])))
    elif name == "png24":
        Image.fromarray(pixels).save(path, format="PNG")
    elif name == "png8":
        p = Image.fromarray(q.indices, mode="P")
        p.putpalette(q.palette[:, :3].tobytes())
        if q.palette.shape[1] == 4:
            p.info["transparency"] = q.palette[:, 3].tobytes()
        p.save(path, format="PNG", optimize=True)
    elif name == "gif":
        # GIF holds one transparent entry and no partial alpha: entries under half opaque
        # become that one, the rest opaque (where that changes what is seen, _measure
        # measures the GIF read back)
        indices = q.indices
        extra: dict[str, Any] = {}
        if q.palette.shape[1] == 4 and (clear := q.palette[:, 3] < 128).any():
            extra["transparency"] = t = int(clear.argmax())
            indices = np.where(clear[indices], t, indices).astype(np.uint8)
        p = Image.fromarray(indices, mode="P")
        p.putpalette(q.palette[:, :3].tobytes())
        p.save(path, format="GIF", **extra)
    elif name == "webp":
        Image.fromarray(pixels).save(path, format="WEBP", lossless=True)
    elif name == "jpeg":
        Image.fromarray(pixels).save(path, format="JPEG", quality=jpeg_quality)
    else:  # pragma: no cover
        raise ValueError(name)


def _jpeg(original: np.ndarray, quality: int) -> tuple[bytes, np.ndarray]:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(original[..., :3]).save(buf, format="JPEG", quality=quality)
    data = buf.getvalue()
    with Image.open(io.BytesIO(data)) as im:
        return data, np.asarray(im.convert("RGB"))


def smallest_jpeg(
    original: np.ndarray, target_psnr: float
) -> tuple[int, bytes, float, np.ndarray] | None:
    """The lowest JPEG quality (Pillow, 4:2:0) whose PSNR reaches ``target_psnr``.

    Binary search over quality 1-100, taking PSNR to rise with quality (it does, to within noise;
    the result is checked, and the search returns None if even quality 100 falls short).

    Returns
    -------
    (quality, jpeg bytes, psnr, decoded pixels) or None
    """
    rgb = original[..., :3]
    found: tuple[int, bytes, float, np.ndarray] | None = None

    def reaches(q: int) -> bool:
        nonlocal found
        data, decoded = _jpeg(rgb, q)
        value = psnr(rgb, decoded)
        if value < target_psnr:
            return False
        found = (q, data, value, decoded)  # only the best so far is kept, not every probe
        return True

    if not reaches(100):
        return None
    low, high = 1, 100  # quality ``high`` reaches the target, held in ``found``
    while low < high:
        mid = (low + high) // 2
        if reaches(mid):
            high = mid
        else:
            low = mid + 1
    return found


#: JPEG qualities of the reference curve drawn in the rate-distortion plots.
_JPEG_CURVE = (5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95)


def _jpeg_curve(original: np.ndarray, original_bytes: int) -> list[tuple[int, float, float]]:
    """(quality, bits per pixel, PSNR) of plain JPEGs of the original, for the plots."""
    n = original.shape[0] * original.shape[1]
    curve = []
    for quality in _JPEG_CURVE:
        data, decoded = _jpeg(original[..., :3], quality)
        curve.append((quality, 8 * len(data) / n, psnr(original[..., :3], decoded)))
    return curve


def knee(points: Sequence[tuple[float, float, int]]) -> int | None:
    """The K at the knee of a size-quality curve: where more bytes stop buying much quality.

    ``points`` are (bits per pixel, quality, K). Both axes are scaled to 0-1 over the points and
    the knee is the point farthest above the straight line from the smallest file to the best
    quality (the "Kneedle" rule of Satopää et al., 2011).
    """
    pts = sorted(p for p in points if math.isfinite(p[1]))
    if len(pts) < 3:
        return pts[-1][2] if pts else None
    x = np.array([p[0] for p in pts])
    y = np.array([p[1] for p in pts])
    xs = (x - x[0]) / (x[-1] - x[0]) if x[-1] > x[0] else np.zeros_like(x)
    ys = (y - y[0]) / (y[-1] - y[0]) if y[-1] > y[0] else np.zeros_like(y)
    return int(pts[int(np.argmax(ys - xs))][2])


@dataclass
class Trial:
    """One image quantised, encoded, written, read back and checked (:func:`encode_and_check`).

    Attributes
    ----------
    quantized : kmcodec.Quantized
    path : Path
        The ``.kmq`` file written.
    size : int
        Its size on disk in bytes.
    decoded : ndarray
        The pixels :func:`kmcodec.load` read back (equal to ``quantized.image()``).
    encode_seconds, decode_seconds : float
        Quantise + encode, and load, times.
    """

    quantized: Any
    path: Path
    size: int
    decoded: np.ndarray
    encode_seconds: float
    decode_seconds: float


def encode_and_check(pixels: np.ndarray, k: int, path: Path, **options: Any) -> Trial:
    """Quantise ``pixels`` to ``k`` colours, write the ``.kmq`` file to ``path``, load it back
    and check that it decodes to exactly the quantised image; time both ways."""
    t0 = time.perf_counter()
    q = codec.quantize(pixels, k, **options)
    data = q.encode()
    encode_seconds = time.perf_counter() - t0
    write_atomic(path, data)
    t0 = time.perf_counter()
    decoded = codec.load(path)
    decode_seconds = time.perf_counter() - t0
    if not np.array_equal(decoded, q.image()):  # pragma: no cover - a codec bug
        msg = f"{path}: the decoded file differs from the quantised image"
        raise RuntimeError(msg)
    return Trial(q, path, os.path.getsize(path), decoded, encode_seconds, decode_seconds)


def _measure(
    original: np.ndarray,
    k: int,
    folder: Path,
    stem: str,
    original_bytes: int,
    formats: Iterable[str],
    options: dict[str, Any],
) -> tuple[Measurement, list[Path]]:
    height, width = original.shape[:2]
    n = width * height
    kmq_path = folder / f"{stem}-k{k}{FORMATS['kmq']}"
    trial = encode_and_check(original, k, kmq_path, **options)
    q, decoded = trial.quantized, trial.decoded
    encode_seconds, decode_seconds = trial.encode_seconds, trial.decode_seconds
    value_psnr = psnr(original, decoded)
    value_ssim = ssim(original, decoded)
    value_blur = blurred_delta_e(original, decoded)
    m = Measurement(k, q.colors, value_psnr, value_ssim, encode_seconds, decode_seconds)
    m.blurred_delta_e = value_blur
    written = [kmq_path]

    def record(
        name: str, path: Path, p: float, s: float, blur: float, quality: int | None = None
    ) -> None:
        size = os.path.getsize(path)
        m.sizes[name] = FormatSize(
            size, 8 * size / n, original_bytes / size, 3 * n / size, p, s, quality, blur
        )

    record("kmq", kmq_path, value_psnr, value_ssim, value_blur)
    for name in formats:
        if name in ("kmq", "jpeg"):
            continue
        path = folder / f"{stem}-k{k}{FORMATS[name]}"
        _save(decoded, q, name, path)
        written.append(path)
        if name == "gif" and gif_transparency(q.palette) is None:
            from PIL import Image

            with Image.open(path) as gif:
                shown = np.asarray(gif.convert("RGBA"))[..., : original.shape[2]]
            p, s, b = psnr(original, shown), ssim(original, shown), blurred_delta_e(original, shown)
            record(name, path, p, s, b)
        else:
            record(name, path, value_psnr, value_ssim, value_blur)
    if "jpeg" in formats:
        found = smallest_jpeg(original, value_psnr)
        if found is not None:
            quality, jpeg_data, jpeg_psnr, jpeg_pixels = found
            path = folder / f"{stem}-k{k}{FORMATS['jpeg']}"
            path.write_bytes(jpeg_data)
            written.append(path)
            record(
                "jpeg",
                path,
                jpeg_psnr,
                ssim(original[..., :3], jpeg_pixels),
                blurred_delta_e(original[..., :3], jpeg_pixels),
                quality,
            )
    return m, written


def _target(
    target_ssim: float, target_psnr: float | None
) -> tuple[Callable[[Measurement], bool], str]:
    """The test a K must pass to count as good enough, and its description."""
    if target_psnr is not None:
        return (lambda m: m.psnr >= target_psnr), f"PSNR >= {target_psnr:g} dB"
    return (lambda m: m.ssim >= target_ssim), f"SSIM >= {target_ssim:g}"


def compare(
    images: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    colors: Sequence[int] | str = DEFAULT_COLORS,
    *,
    out: str | os.PathLike[str] | None = None,
    target_ssim: float = 0.95,
    target_psnr: float | None = None,
    formats: Iterable[str] = tuple(FORMATS),
    progress: Callable[[str], None] | None = None,
    **quantize_options: Any,
) -> Comparison:
    """Encode images at several K and measure every format's real size and quality.

    Parameters
    ----------
    images : path or sequence of paths
        Image files, or folders of them.
    colors : sequence of int or "auto", default=(2, 5, 10, 15, 20)
        The K values to measure. "auto" measures K = 2, 4, 8, ..., 256, then narrows down by
        bisection on the smallest K reaching the target, without trying every K.
    out : path, optional
        Folder to keep the encoded files in (in its subfolder ``files``); a temporary folder if
        None.
    target_ssim : float, default=0.95
        The quality the best K must reach, as SSIM.
    target_psnr : float, optional
        Use a PSNR target (dB) instead of SSIM.
    formats : iterable of str
        Which of :data:`FORMATS` to store; "kmq" is always measured.
    progress : callable, optional
        Called with each image's name once it is measured.
    **quantize_options
        Passed to :func:`kmcodec.quantize` (speed, color_space, dither, ...).

    Returns
    -------
    Comparison
    """
    paths = _expand(images)
    if not paths:
        msg = "no images to compare"
        raise ValueError(msg)
    formats = tuple(dict.fromkeys(["kmq", *formats]))
    unknown = set(formats) - set(FORMATS)
    if unknown:
        msg = f"unknown formats {sorted(unknown)}; choose from {list(FORMATS)}"
        raise ValueError(msg)
    auto = colors == "auto"
    resolve(**quantize_options)  # a bad option fails here, not after the first image
    if not auto:
        ks = sorted({check("colors", k) for k in colors})
        if not ks:
            msg = "colors must name at least one K"
            raise ValueError(msg)
    tmp = None
    if out is None:
        tmp = tempfile.TemporaryDirectory()
        folder = Path(tmp.name)
    else:
        folder = Path(out) / "files"
        folder.mkdir(parents=True, exist_ok=True)
    good, label = _target(target_ssim, target_psnr)
    result = Comparison(images=[])
    try:
        for path in paths:
            comparison, written = _compare_one(
                path, None if auto else ks, folder, formats, good, label, quantize_options
            )
            result.images.append(comparison)
            result.files[str(path)] = written
            if progress is not None:
                progress(path.name)
    finally:
        if tmp is not None:
            tmp.cleanup()
            result.files = {}
    return result


def _compare_one(
    path: Path,
    ks: list[int] | None,
    folder: Path,
    formats: tuple[str, ...],
    good: Callable[[Measurement], bool],
    label: str,
    options: dict[str, Any],
) -> tuple[ImageComparison, list[Path]]:
    """Measure one image at the given K values (None: search K automatically)."""
    original = read_pixels(path)
    original_bytes = os.path.getsize(path)
    measured: dict[int, Measurement] = {}
    written: list[Path] = []

    def run(k: int) -> Measurement:
        if k not in measured:
            m, files = _measure(original, k, folder, path.stem, original_bytes, formats, options)
            measured[k] = m
            written.extend(files)
        return measured[k]

    for k in _AUTO_START if ks is None else ks:
        run(k)
    reached = [k for k, m in measured.items() if good(m)]
    best = min(reached) if reached else None
    if ks is None and best is not None:
        # Bisect between the largest K measured below the target and the first above it.
        below = [k for k in measured if k < best]
        low, high = (max(below) + 1 if below else 1), best
        while low < high:
            mid = (low + high) // 2
            if good(run(mid)):
                high = mid
            else:
                low = mid + 1
        best = high
    knee_k = knee([(m.sizes["kmq"].bits_per_pixel, m.psnr, k) for k, m in measured.items()])
    why = (
        f"K={best} is the smallest K measured whose {label}"
        if best is not None
        else f"no K measured reaches {label}"
    ) + (
        f"; K={knee_k} is the knee of the PSNR-size curve, past which bytes buy little"
        if knee_k is not None
        else ""
    )
    height, width = original.shape[:2]
    comparison = ImageComparison(
        image=str(path),
        width=width,
        height=height,
        original_bytes=original_bytes,
        measurements=[measured[k] for k in sorted(measured)],
        target=label,
        best_k=best,
        knee_k=knee_k,
        why=why,
        jpeg_curve=_jpeg_curve(original, original_bytes) if "jpeg" in formats else [],
    )
    return comparison, written


def _expand(images: Any) -> list[Path]:
    items = [images] if isinstance(images, (str, os.PathLike)) else list(images)
    return [Path(p) for p in expand(items)]
