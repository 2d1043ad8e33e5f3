"""Plots and a markdown report of a :class:`kmcodec.comparison.Comparison`.

Per image: the rate-distortion curves (PSNR against bits per pixel for every format, with plain
JPEG's curve for reference), size against K, and a contact sheet of the image at each K with its
size and PSNR under each tile. For a set of images, the same curves over the medians. And
``report.md`` with the tables and the pictures. Needs matplotlib (``pip install kmcodec[tools]``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .. import codec
from .._text import psnr_text
from .measure import FORMATS, Comparison, ImageComparison

__all__ = ["FORMAT_LABELS", "write_report"]

FORMAT_LABELS = {
    "kmq": ".kmq",
    "kmq0": ".kmq coding 0 (zstd rows)",
    "kmq1": ".kmq coding 1 (smallest)",
    "kmq2": ".kmq coding 2 (fast)",
    "png24": "PNG-24",
    "png8": "PNG-8",
    "gif": "GIF",
    "webp": "WebP lossless",
    "jpeg": "JPEG, same PSNR",
}
_STYLE: dict[str, dict[str, Any]] = {
    "kmq": dict(color="#d62728", marker="o", linewidth=2.2),
    "kmq0": dict(color="#d62728", marker=".", linestyle=":"),
    "kmq1": dict(color="#8c564b", marker=".", linestyle="--"),
    "kmq2": dict(color="#e377c2", marker=".", linestyle="-."),
    "png24": dict(color="#7f7f7f", marker="s"),
    "png8": dict(color="#1f77b4", marker="^"),
    "gif": dict(color="#9467bd", marker="v"),
    "webp": dict(color="#2ca02c", marker="D"),
    "jpeg": dict(color="#ff7f0e", marker="x"),
}


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:  # pragma: no cover - the tools extra is missing
        msg = "plots need matplotlib: pip install 'kmcodec[tools]'"
        raise ImportError(msg) from None
    matplotlib.use("Agg")  # files only, no screen
    import matplotlib.pyplot as plt

    return plt


def _kb(n: float) -> str:
    return f"{n / 1000:.1f} KB" if n < 1e6 else f"{n / 1e6:.2f} MB"


def _rate_distortion(
    ax: Any, series: dict[str, list[tuple[float, float, int]]], jpeg_curve: list
) -> None:
    for name, points in series.items():
        if not points:
            continue
        x = [p[0] for p in points]
        y = [p[1] for p in points]
        ax.plot(x, y, label=FORMAT_LABELS[name], **_STYLE[name])
    if jpeg_curve:
        ax.plot(
            [c[1] for c in jpeg_curve],
            [c[2] for c in jpeg_curve],
            linestyle="--",
            color=_STYLE["jpeg"]["color"],
            alpha=0.6,
            label="JPEG, quality 5-95",
        )
    kmq = series.get("kmq", [])
    for bpp, value, k in kmq:
        ax.annotate(f"K={k}", (bpp, value), textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.set_xscale("log")
    _plain_log_ticks(ax.xaxis)
    ax.set_xlabel("bits per pixel (log scale)")
    ax.set_ylabel("PSNR (dB)")
    ax.grid(True, which="both", alpha=0.3)
    _legend_outside(ax)


def _plain_log_ticks(axis: Any) -> None:
    """Label a log axis 0.1, 0.2, 0.5, 1, 2, 5 ... instead of 10^-1, 2x10^-1, ..."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _series(
    ic: ImageComparison, measure: str = "psnr"
) -> dict[str, list[tuple[float, float, int]]]:
    series: dict[str, list[tuple[float, float, int]]] = {name: [] for name in FORMATS}
    for m in ic.measurements:
        for name, size in m.sizes.items():
            series[name].append((size.bits_per_pixel, getattr(size, measure), m.k))
    return series


def _size_by_k(ax: Any, series: dict[str, list[tuple[int, float]]], ylabel: str) -> None:
    for name, points in series.items():
        if points:
            ax.plot(
                [p[0] for p in points],
                [p[1] for p in points],
                label=FORMAT_LABELS[name],
                **_STYLE[name],
            )
    ax.set_xlabel("K (palette colours)")
    ax.set_ylabel(ylabel)
    ax.set_yscale("log")
    _plain_log_ticks(ax.yaxis)
    ax.grid(True, which="both", alpha=0.3)


def _contact_sheet(plt: Any, ic: ImageComparison, files: list[Path], path: Path) -> None:
    by_k = {}
    for f in files:
        others = tuple(FORMATS[c] for c in ("kmq0", "kmq1", "kmq2"))
        if f.name.endswith(".kmq") and not f.name.endswith(others):
            by_k[int(f.stem.rsplit("-k", 1)[1])] = f
    ks = [m.k for m in ic.measurements if m.k in by_k]
    if not ks:
        return
    columns = min(len(ks), 5)
    rows = math.ceil(len(ks) / columns)
    aspect = ic.height / ic.width
    fig, axes = plt.subplots(
        rows, columns, figsize=(3.2 * columns, 3.2 * rows * aspect + 0.6 * rows), squeeze=False
    )
    for ax in axes.ravel():
        ax.axis("off")
    for ax, k in zip(axes.ravel(), ks, strict=False):
        m = ic.by_k(k)
        ax.imshow(codec.load(by_k[k]), interpolation="lanczos")
        ax.set_title(f"K={k}", fontsize=10)
        ax.text(
            0.5,
            -0.04,
            f"{_kb(m.kmq_bytes)} · {psnr_text(m.psnr, 1)} · SSIM {m.ssim:.3f}",
            transform=ax.transAxes,
            ha="center",
            va="top",
            fontsize=8,
        )
    fig.suptitle(Path(ic.image).name, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _table(ic: ImageComparison) -> list[str]:
    names = [n for n in FORMATS if any(n in m.sizes for m in ic.measurements)]
    head = "| K | PSNR dB | SSIM | blurred ΔE | "
    head += " | ".join(f"{FORMAT_LABELS[n]} bytes (bpp)" for n in names)
    head += " | encode s | decode s |"
    lines = [head, "|" + "---|" * (5 + len(names) + 1)]
    for m in ic.measurements:
        cells = []
        for n in names:
            s = m.sizes.get(n)
            if s is None:
                cells.append("-")
            else:
                extra = f", q={s.quality}" if s.quality is not None else ""
                cells.append(f"{s.bytes} ({s.bits_per_pixel:.2f}{extra})")
        lines.append(
            f"| {m.k} | {psnr_text(m.psnr, unit=False)} | {m.ssim:.4f} | {m.blurred_delta_e:.3f} | "
            + " | ".join(cells)
            + f" | {m.encode_seconds:.3f} | {m.decode_seconds:.4f} |"
        )
    return lines


def _legend_outside(ax: Any) -> None:
    """The legend to the right of the plot, where it covers no data."""
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)


def size_figure(plt: Any, ic: ImageComparison, series: dict) -> Any:
    """File size in bytes against K for every format, with the original file's size."""
    fig, ax = plt.subplots(figsize=(9, 4.2))
    _size_by_k(
        ax,
        {
            n: [(k, bpp * ic.width * ic.height / 8) for bpp, _, k in pts]
            for n, pts in series.items()
        },
        "file size (bytes, log scale)",
    )
    ax.axhline(ic.original_bytes, color="black", linestyle=":", label="original file")
    _legend_outside(ax)
    ax.set_title(f"{Path(ic.image).name}: size against K")
    fig.tight_layout()
    return fig


def write_report(comparison: Comparison, out: str | Path) -> list[Path]:
    """Write the plots and ``report.md`` into ``out``; return the files written.

    ``comparison`` must have been made with ``out`` set (the contact sheets read its ``.kmq``
    files).
    """
    plt = _pyplot()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    lines = ["# kmcodec compare", ""]
    for ic in comparison.images:
        stem = Path(ic.image).stem
        series = _series(ic)
        fig, (ax, ax_eye) = plt.subplots(2, 1, figsize=(9, 9))
        _rate_distortion(ax, series, ic.jpeg_curve)
        ax.set_title(f"{Path(ic.image).name}: quality against size")
        _rate_distortion(ax_eye, _series(ic, "blurred_delta_e"), [])
        ax_eye.set_ylabel("blurred ΔE (lower is better)")
        ax_eye.set_title("what the eye sees: colour difference after a 1.2 px blur")
        fig.tight_layout()
        rd = out / f"{stem}-rate-distortion.png"
        fig.savefig(rd, dpi=110)
        plt.close(fig)
        fig = size_figure(plt, ic, series)
        sizes = out / f"{stem}-size.png"
        fig.savefig(sizes, dpi=110)
        plt.close(fig)
        sheet = out / f"{stem}-contact-sheet.png"
        _contact_sheet(plt, ic, comparison.files.get(ic.image, []), sheet)
        written += [p for p in (rd, sizes, sheet) if p.exists()]
        lines += [
            f"## {Path(ic.image).name} ({ic.width}x{ic.height}, {ic.original_bytes} bytes)",
            "",
            f"**Best K**: {ic.why}.",
            "",
            *_table(ic),
            "",
            f"![rate-distortion]({rd.name}) ![size]({sizes.name})",
            "",
        ]
        if sheet.exists():
            lines += [f"![contact sheet]({sheet.name})", ""]
    if len(comparison.images) > 1:
        medians = comparison.medians()
        names = [n for n in FORMATS if f"{n}_bpp" in medians[0]]
        fig, ax = plt.subplots(figsize=(9, 4.8))
        series = {
            n: [(row[f"{n}_bpp"], row[f"{n}_psnr"], row["k"]) for row in medians] for n in names
        }
        _rate_distortion(ax, series, [])
        ax.set_title(f"medians over {len(comparison.images)} images")
        fig.tight_layout()
        median_plot = out / "medians-rate-distortion.png"
        fig.savefig(median_plot, dpi=110)
        plt.close(fig)
        written.append(median_plot)
        lines += [
            f"## Medians over {len(comparison.images)} images",
            "",
            "| K | PSNR dB | SSIM | blurred ΔE | "
            + " | ".join(f"{FORMAT_LABELS[n]} bpp" for n in names)
            + " | encode s |",
            "|" + "---|" * (5 + len(names)),
        ]
        for row in medians:
            lines.append(
                f"| {row['k']} | {psnr_text(row['psnr'], unit=False)} | {row['ssim']:.4f} |"
                f" {row['blurred_delta_e']:.3f} | "
                + " | ".join(f"{row[f'{n}_bpp']:.3f}" for n in names)
                + f" | {row['encode_seconds']:.3f} |"
            )
        lines += ["", f"![medians]({median_plot.name})", ""]
        lines += [
            "Best K per image: "
            + ", ".join(
                f"{Path(ic.image).stem} {ic.best_k} (knee {ic.knee_k})" for ic in comparison.images
            ),
            "",
        ]
    report = out / "report.md"
    report.write_text("\n".join(lines) + "\n")
    written.append(report)
    return written
