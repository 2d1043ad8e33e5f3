"""The documentation site: ``mkdocs build --strict`` (warnings are errors) builds it, and in
headless Chromium its API page shows the reference made from the docstrings and its search
finds a page. Slow (a whole site build)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .support import CHROMIUM, ROOT, Server, chromium, chromium_until, needs

pytestmark = pytest.mark.slow

MKDOCS = Path(sys.executable).parent / "mkdocs"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    if not MKDOCS.exists():
        pytest.skip("mkdocs is not installed (pip install -e '.[docs]')")
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [str(MKDOCS), "build", "--strict", "--quiet", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=dict(os.environ, NO_MKDOCS_2_WARNING="1"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def test_the_site_has_every_part_the_guide_names(site) -> None:
    for page in (
        "index.html",
        "guide.html",
        "pngquant.html",
        "web.html",
        "api.html",
        "spec.html",
        "design/codings.html",
        "benchmarks/bench_size.html",
        "changelog.html",
    ):
        assert (site / page).is_file(), page
    spec = (site / "spec.html").read_text()
    assert "Index stream, coding 2" in spec  # the spec itself, included from spec/kmq.md
    bench = (site / "benchmarks" / "bench_size.html").read_text()
    assert "Commit:" in bench and "Machine:" in bench and "bench_size-bpp.png" in bench
    assert (site / "benchmarks" / "img" / "bench_size-bpp.png").is_file()


def test_the_api_page_documents_the_public_functions_from_their_docstrings(site) -> None:
    page = (site / "api.html").read_text()
    for name in ("kmcodec.encode", "kmcodec.decode", "kmcodec.quantize", "kmcodec.errors.KmqError"):
        assert f'id="{name}"' in page, name
    assert "Quantise an image to at most" in page  # encode's docstring, rendered


@needs(CHROMIUM, "chromium")
def test_a_page_renders_and_the_search_finds_the_spec_in_the_browser(site, tmp_path) -> None:
    import json

    # Material's search runs in a web worker over the site's index, and ?q= fills its box; a
    # copy of the home page posts the links of the results it shows (in real time: a headless
    # browser's virtual time does not wait for a worker)
    probe = (
        "<script>const post = (v) => fetch('/result', {method: 'POST', body: JSON.stringify(v)});"
        "const timer = setInterval(() => { const links = [...document.querySelectorAll("
        "'.md-search-result__link')].map((a) => a.getAttribute('href'));"
        " if (links.length) { clearInterval(timer); post(links); } }, 200);"
        "setTimeout(() => post([]), 20000);</script></body>"
    )
    page = (site / "index.html").read_text()
    (site / "probe.html").write_text(page.replace("</body>", probe, 1))
    server = Server(site)
    try:
        dom = chromium(
            tmp_path, "--virtual-time-budget=10000", "--dump-dom", f"{server.url}/api.html"
        )
        assert "API reference" in dom and 'id="kmcodec.encode"' in dom
        links = json.loads(chromium_until(tmp_path, server, f"{server.url}/probe.html?q=rANS"))
    finally:
        server.close()
    from urllib.parse import urlparse

    pages = {urlparse(link).path for link in links}
    assert "/spec.html" in pages, links  # the spec's section on the rANS decoder
