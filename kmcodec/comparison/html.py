"""``kmq compare --html``: the comparison as self-contained HTML pages.

Every ``.kmq`` file is embedded and drawn by the JavaScript decoder (``js/kmq.js``, bundled into
the page), next to the original and the same image as PNG-8, WebP, GIF and the same-PSNR JPEG
(embedded as data URLs), with the sizes, quality figures and plots; a view at 1:1, 2x or 4x,
scrolled together, shows text and dithering as they are. One image makes one page,
``report.html``; several make an index (``report.html``: a line an image, the medians) and a
page an image, so that no page holds more than one image's files. Nothing is fetched: the pages
work offline and from ``file://``.
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


#: The original is embedded as PNG up to this many bytes, else as a JPEG at quality 95 (said so).
ORIGINAL_PNG_LIMIT = 2_000_000

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em; color: #222; max-width: 1400px; }
table { border-collapse: collapse; margin: 0.6em 0 1em; }
td, th { padding: 2px 10px; text-align: right; border-bottom: 1px solid #eee; }
th { background: #f4f4f4; }
.row { display: flex; flex-wrap: wrap; gap: 12px; margin: 0.5em 0 1.5em; }
figure { margin: 0; }
figure canvas, figure img { display: block; max-width: 320px; height: auto;
  image-rendering: auto; border: 1px solid #ddd; }
.zoom { margin: 0.3em 0; }
.zoom button { font: inherit; margin-right: 4px; }
.zoom button.on { font-weight: 700; }
section:not([data-zoom="0"]) .frame { width: 320px; height: 320px; overflow: auto;
  border: 1px solid #ddd; }
section:not([data-zoom="0"]) .frame canvas, section:not([data-zoom="0"]) .frame img {
  max-width: none; image-rendering: pixelated; border: 0; }
.original figcaption { font-weight: 600; }
nav a { margin-right: 1em; }
figcaption { font-size: 12px; color: #444; max-width: 320px; }
.kmq figcaption { color: #124; font-weight: 600; }
.error { color: #b00; }
img.plot { max-width: 100%; border: 0; }
"""

_SCRIPT = """
(() => {
  let decoded = 0, errors = 0;
  for (const canvas of document.querySelectorAll("canvas[data-kmq]")) {
    const caption = canvas.closest("figure").querySelector(".decode");
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
  // View at fit, 1:1, 2x or 4x; the frames of a section scroll together
  for (const section of document.querySelectorAll("section[data-zoom]")) {
    const media = [...section.querySelectorAll(".frame > canvas, .frame > img")];
    section.querySelector(".zoom").addEventListener("click", (event) => {
      const z = Number(event.target.dataset.z);
      if (Number.isNaN(z)) return;
      section.dataset.zoom = String(z);
      for (const b of section.querySelectorAll(".zoom button")) {
        b.classList.toggle("on", b === event.target);
      }
      for (const m of media) {
        const width = m.naturalWidth || m.width;
        m.style.width = z ? `${width * z}px` : "";
      }
    });
    let syncing = false;
    section.addEventListener("scroll", (event) => {
      const from = event.target;
      if (syncing || !from.classList || !from.classList.contains("frame")) return;
      syncing = true;
      for (const frame of section.querySelectorAll(".frame")) {
        if (frame !== from) {
          frame.scrollLeft = from.scrollLeft;
          frame.scrollTop = from.scrollTop;
        }
      }
      syncing = false;
    }, true);
  }
})();
"""


def _original_figure(source: str | Path) -> str:
    """The original image as a figure: PNG, or a JPEG at quality 95 where its PNG would pass
    :data:`ORIGINAL_PNG_LIMIT` bytes (the caption says which)."""
    import io

    from PIL import Image

    path = Path(source)
    with Image.open(path) as im:
        im.load()
        alpha = im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info
        pixels = im.convert("RGBA" if alpha else "RGB")
    buf = io.BytesIO()
    pixels.save(buf, format="PNG", compress_level=6)
    mime, note = "image/png", ""
    if buf.tell() > ORIGINAL_PNG_LIMIT:
        png_bytes = buf.tell()
        buf = io.BytesIO()
        pixels.convert("RGB").save(buf, format="JPEG", quality=95, subsampling=0)
        mime, note = "image/jpeg", f"; shown as JPEG q95 (its PNG would be {png_bytes:,} bytes)"
    url = f"data:{mime};base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    size = path.stat().st_size
    return (
        f'<figure class="original"><div class="frame"><img src="{url}" alt="original"></div>'
        f"<figcaption>original: {pixels.width}x{pixels.height}, {size:,} bytes on disk"
        f"{_esc(note)}</figcaption></figure>"
    )


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
    out += [
        '<section data-zoom="0"><div class="zoom">view: <button data-z="0" class="on">fit'
        '</button><button data-z="1">1:1</button><button data-z="2">2x</button>'
        '<button data-z="4">4x</button> (the views scroll together)</div>',
        f'<div class="row">{_original_figure(ic.image)}</div>',
    ]
    pixels = ic.width * ic.height
    for m in ic.measurements:
        out.append(f"<h3>K = {m.k} ({plural(m.colors, 'colour')}, PSNR {psnr_text(m.psnr)})</h3>")
        out.append('<div class="row">')
        for name in ("kmq", "png8", "webp", "gif", "jpeg"):
            found = by_suffix.get((m.k, name))
            size = m.sizes.get(name)
            if found is None or size is None:
                continue
            label = (
                f"{SHORT_NAMES[name]}: {size.bytes:,} bytes, {8 * size.bytes / pixels:.3f} bpp,"
                f" PSNR {psnr_text(size.psnr)}, SSIM {size.ssim:.4f},"
                f" blurred ΔE {size.blurred_delta_e:.3f}"
                + (f", quality {size.quality}" if size.quality else "")
            )
            if name == "kmq":
                data = base64.b64encode(found.read_bytes()).decode("ascii")
                out.append(
                    f'<figure class="kmq"><div class="frame"><canvas data-kmq="{data}"'
                    f' data-file="{_esc(found.name)}"></canvas></div><figcaption>{_esc(label)}'
                    '<br><span class="decode">not decoded (JavaScript is off)</span>'
                    "</figcaption></figure>"
                )
            else:
                out.append(
                    f'<figure><div class="frame"><img src="{_data_url(found)}"'
                    f' alt="{_esc(found.name)}"></div><figcaption>{_esc(label)}</figcaption>'
                    "</figure>"
                )
        out.append("</div>")
    out.append("</section>")
    return out


def write_html(comparison: Comparison, out: str | Path, plots: list[Path] | None = None) -> Path:
    """Write ``report.html`` (and, for several images, a page an image) into ``out``; return
    the path of ``report.html``.

    ``comparison`` must have been made with ``out`` set (the pages embed its files); ``plots``
    are the report's figures (from :func:`.report.write_report`), embedded under each image
    whose file name they start with, the medians on ``report.html``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plots = [p for p in plots or [] if p.suffix == ".png"]
    script = bundle_js()
    intro = (
        "<p>Each <code>.kmq</code> file below is embedded in this page and decoded by"
        " <code>kmq.js</code>, the JavaScript decoder, as the page opens; beside it the original"
        " and the same quantised pixels as PNG-8, WebP (lossless) and GIF, and the smallest JPEG"
        " that reaches the same PSNR, decoded by the browser. Sizes are the files' sizes on"
        " disk. <i>view</i> shows them at 1:1, 2x or 4x, scrolled together.</p>"
    )

    def sections(ic: ImageComparison) -> list[str]:
        stem = Path(ic.image).stem
        mine = [p for p in plots if p.name.startswith(f"{stem}-") and "contact-sheet" not in p.name]
        return _image_section(ic, comparison.files.get(ic.image, []), mine)

    medians = [p for p in plots if p.name.startswith("medians")]
    path = out / "report.html"
    if len(comparison.images) == 1:
        body = ["<h1>kmcodec compare</h1>", intro, *sections(comparison.images[0])]
        path.write_text(_page("kmcodec compare", body, script), encoding="utf-8")
        return path
    index = [
        "<h1>kmcodec compare</h1>",
        f"<p>{len(comparison.images)} images; each has a page of its own, with every file"
        " decoded in the browser.</p>",
        "<table><tr><th>image</th><th>size</th><th>best K</th><th>.kmq bytes at that K</th>"
        "<th>PSNR dB</th></tr>",
    ]
    for i, ic in enumerate(comparison.images):
        name = f"report-{i + 1:03d}-{re.sub(r'[^A-Za-z0-9_.-]', '_', Path(ic.image).stem)}.html"
        back = '<nav><a href="report.html">&larr; all images</a></nav>'
        body = [back, "<h1>kmcodec compare</h1>", intro, *sections(ic)]
        (out / name).write_text(_page(Path(ic.image).name, body, script), encoding="utf-8")
        best = next((m for m in ic.measurements if m.k == ic.best_k), None)
        kmq = best.sizes.get("kmq") if best else None
        index.append(
            f'<tr><td style="text-align:left"><a href="{name}">{_esc(Path(ic.image).name)}</a>'
            f"</td><td>{ic.width}x{ic.height}</td><td>{ic.best_k}</td>"
            f"<td>{f'{kmq.bytes:,}' if kmq else '-'}</td>"
            f"<td>{psnr_text(best.psnr, unit=False) if best else '-'}</td></tr>"
        )
    index.append("</table>")
    if medians:
        index.append(f"<h2>Medians over {len(comparison.images)} images</h2>")
        index += [f'<img class="plot" src="{_data_url(p)}" alt="medians">' for p in medians]
    path.write_text(_page("kmcodec compare", index, None), encoding="utf-8")
    return path


def _page(title: str, body: list[str], script: str | None) -> str:
    """A whole page: ``body`` and, with ``script`` (the bundled decoder), the decoding."""
    scripts = f"\n<script>\n{script}\n</script>\n<script>{_SCRIPT}</script>" if script else ""
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_esc(title)}</title>"
        f"<style>{_STYLE}</style></head><body>\n" + "\n".join(body) + scripts + "\n</body></html>\n"
    )
