"""``kmq compare --html``: the comparison as one self-contained HTML page.

Every ``.kmq`` file is embedded and drawn by the JavaScript decoder (``js/kmq.js``, bundled into
the page), next to the same image as PNG-8, WebP, GIF and the same-PSNR JPEG (embedded as data
URLs), with the sizes, quality figures and plots. Nothing is fetched: the page works offline and
from ``file://``.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path
from typing import Any

from .._text import plural, psnr_text
from .measure import FORMATS, SHORT_NAMES, Comparison, ImageComparison

__all__ = ["bundle_js", "js_dir", "write_html"]

#: The decoder's modules, each after those it imports.
_MODULES = ("vendor/fzstd.mjs", "crc32.js", "xxh64.js", "context.js", "fast.js", "kmq.js")
_MIME = {
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".jpg": "image/jpeg",
}


def js_dir() -> Path:
    """The folder of the JavaScript decoder: ``kmcodec/_js`` in an installed wheel, else
    ``js/`` beside the package in a source checkout (or an editable install)."""
    here = Path(__file__).resolve().parents[1]
    for folder in (here / "_js", here.parent / "js"):
        if (folder / "kmq.js").is_file():
            return folder
    msg = (
        f"the JavaScript decoder (kmq.js) is in neither {here / '_js'} nor {here.parent / 'js'}:"
        " the kmcodec install is incomplete; reinstall it (pip install kmcodec)"
    )
    raise FileNotFoundError(msg)


def _module_name(path: str) -> str:
    return "__kmq_" + re.sub(r"\W", "_", Path(path).stem)


def bundle_js(folder: Path | None = None) -> str:
    """The decoder's ES modules as one classic script that defines ``window.kmq``.

    Each module becomes a function scope that returns its exports; its imports read the
    exports of the modules before it. Enough for these five modules, not a general bundler.
    """
    folder = folder or js_dir()
    parts = []
    for path in _MODULES:
        source = (folder / path).read_text(encoding="utf-8")
        exports = re.findall(
            r"^export\s+(?:async\s+)?(?:function\*?|class|const|let|var)\s+(\w+)", source, re.M
        )
        for names in re.findall(r"^export\s*\{([^}]*)\};?", source, re.M):
            exports += [n.strip() for n in names.split(",") if n.strip()]
        source = re.sub(r"^export\s*\{[^}]*\};?\s*$", "", source, flags=re.M)
        source = re.sub(r"^export\s+", "", source, flags=re.M)

        def imported(match: re.Match[str]) -> str:
            names, target = match.group(1), match.group(2)
            return f"const {{{names}}} = {_module_name(target)};"

        source = re.sub(r'^import\s*\{([^}]*)\}\s*from\s*"([^"]+)";', imported, source, flags=re.M)
        if re.search(r"^import\s", source, re.M):  # pragma: no cover - a new kind of import
            msg = f"{path}: an import this bundler does not handle"
            raise ValueError(msg)
        parts.append(
            f"const {_module_name(path)} = (() => {{\n{source}\nreturn {{ {', '.join(exports)} }};"
            "\n})();"
        )
    parts.append(f"window.kmq = {_module_name('kmq.js')};")
    return "\n".join(parts)


def _data_url(path: Path) -> str:
    mime = _MIME.get(path.suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _esc(text: Any) -> str:
    return html.escape(str(text))


_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em; color: #222; max-width: 1400px; }
table { border-collapse: collapse; margin: 0.6em 0 1em; }
td, th { padding: 2px 10px; text-align: right; border-bottom: 1px solid #eee; }
th { background: #f4f4f4; }
.row { display: flex; flex-wrap: wrap; gap: 12px; margin: 0.5em 0 1.5em; }
figure { margin: 0; }
figure canvas, figure img { display: block; max-width: 320px; height: auto;
  image-rendering: auto; border: 1px solid #ddd; }
figcaption { font-size: 12px; color: #444; max-width: 320px; }
.kmq figcaption { color: #124; font-weight: 600; }
.error { color: #b00; }
img.plot { max-width: 100%; border: 0; }
"""

_SCRIPT = """
(() => {
  let decoded = 0, errors = 0;
  for (const canvas of document.querySelectorAll("canvas[data-kmq]")) {
    const caption = canvas.parentElement.querySelector(".decode");
    try {
      const bytes = Uint8Array.from(atob(canvas.dataset.kmq), (c) => c.charCodeAt(0));
      const t0 = performance.now();
      const image = window.kmq.decode(bytes);
      const ms = performance.now() - t0;
      window.kmq.drawToCanvas(image, canvas);
      canvas.dataset.crc = String(window.kmq.crc32(new Uint8Array(image.rgba.buffer)));
      caption.textContent = `decoded here by kmq.js in ${ms.toFixed(1)} ms`;
      decoded++;
    } catch (e) {
      caption.textContent = `${e.name}: ${e.message}`;
      caption.classList.add("error");
      errors++;
    }
  }
  document.body.dataset.decoded = String(decoded);
  document.body.dataset.errors = String(errors);
})();
"""


def _image_section(ic: ImageComparison, files: list[Path], plots: list[Path]) -> list[str]:
    by_suffix: dict[tuple[int, str], Path] = {}
    for path in files:
        for name, suffix in FORMATS.items():
            k = re.search(r"-k(\d+)" + re.escape(suffix) + "$", path.name)
            if k and (int(k.group(1)), name) not in by_suffix:
                by_suffix[(int(k.group(1)), name)] = path
    names = [n for n in FORMATS if any(n in m.sizes for m in ic.measurements)]
    out = [
        f"<h2>{_esc(Path(ic.image).name)} ({ic.width}x{ic.height},"
        f" {ic.original_bytes:,} bytes)</h2>",
        f"<p><b>Best K</b>: {_esc(ic.why)}.</p>",
        "<table><tr><th>K</th><th>PSNR dB</th><th>SSIM</th><th>blurred ΔE</th>"
        + "".join(f"<th>{_esc(SHORT_NAMES[n])} bytes</th>" for n in names)
        + "</tr>",
    ]
    for m in ic.measurements:
        cells = "".join(
            f"<td>{m.sizes[n].bytes:,}</td>" if n in m.sizes else "<td>-</td>" for n in names
        )
        out.append(
            f"<tr><td>{m.k}</td><td>{psnr_text(m.psnr, unit=False)}</td><td>{m.ssim:.4f}</td>"
            f"<td>{m.blurred_delta_e:.3f}</td>{cells}</tr>"
        )
    out.append("</table>")
    out += [f'<img class="plot" src="{_data_url(p)}" alt="{_esc(p.stem)}">' for p in plots]
    pixels = ic.width * ic.height
    for m in ic.measurements:
        out.append(f"<h3>K = {m.k} ({plural(m.colors, 'colour')}, PSNR {psnr_text(m.psnr)})</h3>")
        out.append('<div class="row">')
        for name in ("kmq", "png8", "webp", "gif", "jpeg"):
            path = by_suffix.get((m.k, name))
            size = m.sizes.get(name)
            if path is None or size is None:
                continue
            label = (
                f"{SHORT_NAMES[name]}: {size.bytes:,} bytes, {8 * size.bytes / pixels:.3f} bpp,"
                f" PSNR {psnr_text(size.psnr)}, SSIM {size.ssim:.4f},"
                f" blurred ΔE {size.blurred_delta_e:.3f}"
                + (f", quality {size.quality}" if size.quality else "")
            )
            if name == "kmq":
                data = base64.b64encode(path.read_bytes()).decode("ascii")
                out.append(
                    f'<figure class="kmq"><canvas data-kmq="{data}" data-file="{_esc(path.name)}">'
                    f'</canvas><figcaption>{_esc(label)}<br><span class="decode">not decoded'
                    " (JavaScript is off)</span></figcaption></figure>"
                )
            else:
                out.append(
                    f'<figure><img src="{_data_url(path)}" alt="{_esc(path.name)}">'
                    f"<figcaption>{_esc(label)}</figcaption></figure>"
                )
        out.append("</div>")
    return out


def write_html(comparison: Comparison, out: str | Path, plots: list[Path] | None = None) -> Path:
    """Write ``report.html`` into ``out`` and return its path.

    ``comparison`` must have been made with ``out`` set (the page embeds its files); ``plots``
    are the report's figures (from :func:`.report.write_report`), embedded under each image
    whose file name they start with.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plots = [p for p in plots or [] if p.suffix == ".png"]
    body = [
        "<h1>kmcodec compare</h1>",
        "<p>Each <code>.kmq</code> file below is embedded in this page and decoded by"
        " <code>kmq.js</code>, the JavaScript decoder, as the page opens; beside it the same"
        " quantised pixels as PNG-8, WebP (lossless) and GIF, and the smallest JPEG that reaches"
        " the same PSNR, decoded by the browser. Sizes are the files' sizes on disk.</p>",
    ]
    for ic in comparison.images:
        stem = Path(ic.image).stem
        mine = [p for p in plots if p.name.startswith(f"{stem}-") and "contact-sheet" not in p.name]
        body += _image_section(ic, comparison.files.get(ic.image, []), mine)
    medians = [p for p in plots if p.name.startswith("medians")]
    if medians:
        body.append(f"<h2>Medians over {len(comparison.images)} images</h2>")
        body += [f'<img class="plot" src="{_data_url(p)}" alt="medians">' for p in medians]
    page = (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<title>kmcodec compare</title>"
        f"<style>{_STYLE}</style></head><body>\n"
        + "\n".join(body)
        + f"\n<script>\n{bundle_js()}\n</script>\n<script>{_SCRIPT}</script>\n</body></html>\n"
    )
    path = out / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
