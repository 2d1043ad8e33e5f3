"""The JavaScript decoder (js/kmq.js) against the spec's vectors and the Python encoder, in Node
and in headless Chromium. Skipped, with the reason, where node or chromium is missing
(.ci/run installs both, so CI always runs them)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import kmcodec
from kmcodec.format.codings import index_bits_allowed

from .support import (
    CHROMIUM,
    JS,
    NODE,
    ROOT,
    VECTORS,
    Server,
    chromium,
    chromium_until,
    needs,
    screenshot,
)


def _rgba(pixels: np.ndarray) -> bytes:
    if pixels.shape[2] == 3:
        pixels = np.concatenate([pixels, np.full((*pixels.shape[:2], 1), 255, np.uint8)], axis=2)
    return np.ascontiguousarray(pixels).tobytes()


def random_files(folder: Path, count: int = 240, seed: int = 11) -> int:
    """Write ``count`` random .kmq files (and their pixels as raw RGBA) into ``folder``."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        k = int(rng.choice([1, 2, 3, 4, 5, 15, 16, 17, 64, 100, 200, 255, 256]))
        width, height = int(rng.integers(1, 70)), int(rng.integers(1, 50))
        channels = int(rng.choice([3, 4]))
        palette = rng.integers(0, 256, size=(k, channels), dtype=np.uint8)
        plane = rng.integers(0, k, size=(height, width), dtype=np.uint8)
        if rng.random() < 0.6:  # structure: runs and repeated rows, as real images have
            plane = np.repeat(plane[:, : max(1, width // 4)], 4, axis=1)[:, :width]
            plane = np.pad(plane, ((0, 0), (0, width - plane.shape[1])), mode="edge")
            plane[1::3] = plane[::3][: len(plane[1::3])]
        coding = int(rng.integers(0, 2))
        bits = int(rng.choice(index_bits_allowed(k)))
        data = kmcodec.encode_indexed(palette, plane, coding=coding, index_bits=bits)
        (folder / f"{i:03d}.kmq").write_bytes(data)
        (folder / f"{i:03d}.rgba").write_bytes(_rgba(kmcodec.decode(data)))
    for i in range(count, count + 24):  # animations: every frame's pixels, one after another
        k = int(rng.choice([2, 5, 40, 200, 300]))
        width, height = int(rng.integers(1, 60)), int(rng.integers(1, 40))
        palette = rng.integers(0, 256, size=(k, int(rng.choice([3, 4]))), dtype=np.uint8)
        planes = [rng.integers(0, k, size=(height, width))]
        for _ in range(int(rng.integers(1, 6))):
            keep = rng.random((height, width)) < rng.choice([0.3, 0.9, 1.0])
            before = planes[-1]
            if rng.random() < 0.4:  # a scroll or a pan: MOVE layers
                before = np.roll(before, int(rng.integers(-3, 4)), axis=int(rng.integers(0, 2)))
            planes.append(np.where(keep, before, rng.integers(0, k, size=(height, width))))
        frames = [palette[p] for p in planes]
        data = kmcodec.encode_animation(frames, 50, colors=65535, coding=int(rng.integers(0, 3)))
        anim = kmcodec.read_animation(data)
        (folder / f"{i:03d}.kmq").write_bytes(data)
        (folder / f"{i:03d}.rgba").write_bytes(b"".join(_rgba(f) for f in anim))
    return count + 24


@needs(NODE, "node")
def test_node_decodes_every_vector_and_random_files(tmp_path) -> None:
    expected = tmp_path / "expected"
    expected.mkdir()
    for png in VECTORS.glob("valid/*.png"):
        with Image.open(png) as im:
            pixels = np.asarray(im.convert("RGBA"))
        (expected / f"valid_{png.stem}.kmq.rgba").write_bytes(pixels.tobytes())
    folder = tmp_path / "random"
    folder.mkdir()
    random_files(folder)
    assert NODE, "node is required in CI (.ci/run installs it)"
    env = dict(os.environ, KMQ_EXPECTED=str(expected), KMQ_RANDOM=str(folder))
    result = subprocess.run(
        [NODE, "--test", "test/"], cwd=JS, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout and "# skipped 0" in result.stdout
    assert "decoded 264 random files" in result.stdout


@pytest.fixture
def served(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "js").symlink_to(JS)
    (root / "spec").symlink_to(ROOT / "spec")
    server = Server(root)
    yield root, server
    server.close()


@needs(CHROMIUM, "chromium")
def test_browser_decodes_every_vector_and_random_files(tmp_path, served) -> None:
    import json

    root, server = served
    folder = root / "random"
    folder.mkdir()
    count = random_files(folder, count=200, seed=12)
    names = sorted(p.name for p in folder.glob("*.kmq"))
    (folder / "list.json").write_text(json.dumps(names))
    page = f"{server.url}/js/test/browser.html?random=/random/list.json"
    result = json.loads(chromium_until(tmp_path, server, page))
    manifest = json.loads((VECTORS / "manifest.json").read_text())
    assert result["failures"] == []
    assert result["valid"] == len(manifest["valid"])
    assert result["invalid"] == len(manifest["invalid"])
    assert result["animations"] == len(manifest["animations"])
    assert result["random"] == count == 224


@needs(CHROMIUM, "chromium")
def test_viewer_draws_the_file_as_the_png_shows_it(tmp_path, served) -> None:
    _, server = served
    url = server.url
    page = f"{url}/js/viewer.html?bare=1&src=/spec/vectors/valid/context-patterns.kmq"
    pixels = screenshot(tmp_path, page, (320, 240), 10000, "RGB")
    with Image.open(VECTORS / "valid" / "context-patterns.png") as im:
        expected = np.asarray(im.convert("RGB"))
    h, w = expected.shape[:2]
    np.testing.assert_array_equal(pixels[:h, :w], expected)
    assert (pixels[h:, :] == 255).all()  # the page is white around the image


def _compare_html(tmp_path: Path, sample: str, box: tuple[int, int, int, int], ks: str) -> Path:
    """Run ``kmq compare --html`` on a crop of a sample; return its output folder."""
    from kmcodec import cli

    image = tmp_path / "in.png"
    with Image.open(ROOT / "samples" / sample) as im:
        im.crop(box).save(image)
    out = tmp_path / "cmp"
    args = ["compare", str(image), "--colors", ks, "--out", str(out), "--html", "-q"]
    assert cli.main(args) == 0
    return out


def test_html_report_bundles_the_decoder_and_embeds_every_file(tmp_path) -> None:
    import re

    from kmcodec.comparison.html import bundle_js

    script = bundle_js()
    assert not re.search(r"^\s*(import|export)\s", script, re.M)  # one classic script
    assert script.rstrip().endswith("window.kmq = __kmq_kmq;")
    out = _compare_html(tmp_path, "kodim23.png", (200, 150, 392, 278), "4,16")
    page = (out / "report.html").read_text()
    assert page.count("data-kmq=") == 2
    assert page.count("data:image/webp;base64,") == 2 and page.count("data:image/png;base64,") >= 5
    assert "original: 192x128" in page  # the original, beside the quantised files
    assert "http" not in page.split("<script>", 1)[0]  # nothing to fetch: works offline


@needs(CHROMIUM, "chromium")
def test_html_report_decodes_every_kmq_file_offline_in_the_browser(tmp_path) -> None:
    import re
    import zlib

    out = _compare_html(tmp_path, "kodim05.png", (100, 100, 292, 228), "2,8,64")
    dom = chromium(
        tmp_path, "--virtual-time-budget=20000", "--dump-dom", (out / "report.html").as_uri()
    )
    body = re.search(r'<body data-decoded="(\d+)" data-errors="(\d+)"', dom)
    assert body and body.groups() == ("3", "0"), dom[:500]
    # every canvas holds exactly the pixels kmcodec decodes from the same file
    for name, crc in re.findall(r'data-file="([^"]+)" data-crc="(\d+)"', dom):
        pixels = kmcodec.decode((out / "files" / name).read_bytes())
        assert zlib.crc32(_rgba(pixels)) == int(crc), name
    assert len(re.findall(r"data-crc=", dom)) == 3


@needs(CHROMIUM, "chromium")
@pytest.mark.parametrize(
    ("vector", "title", "error"),
    [
        ("valid/fast-200-colors.kmq", "fast-200-colors.kmq: 33x9, 200 colours", None),
        ("invalid/fast-bad-part-checksum.kmq", "error: ChecksumError", "ChecksumError"),
    ],
)
def test_viewer_decodes_in_a_worker(tmp_path, served, vector, title, error) -> None:
    import json

    _, server = served
    page = f"{server.url}/js/viewer.html?report=/result&src=/spec/vectors/{vector}"
    result = json.loads(chromium_until(tmp_path, server, page))
    assert result["title"] == title
    assert result["where"] == "in a worker"
    assert (result.get("error") or {}).get("name") == error


@needs(CHROMIUM, "chromium")
def test_viewer_steps_through_an_animation_decoded_frame_by_frame_in_a_worker(
    tmp_path, served
) -> None:
    import json

    _, server = served
    vector = "valid/anim-300-colors.kmq"
    page = f"{server.url}/js/viewer.html?report=/result&src=/spec/vectors/{vector}"
    result = json.loads(chromium_until(tmp_path, server, page))
    assert result["title"] == "anim-300-colors.kmq: 12x9, 300 colours, 4 frames"
    assert result["where"] == "in a worker" and result.get("error") is None
    assert result["frames"] == result["shown"] == 4


@needs(CHROMIUM, "chromium")
def test_viewer_shows_the_frame_of_an_animation_that_is_corrupt(tmp_path, served) -> None:
    import json

    _, server = served
    vector = "invalid/anim-layer-checksum.kmq"
    page = f"{server.url}/js/viewer.html?report=/result&src=/spec/vectors/{vector}"
    result = json.loads(chromium_until(tmp_path, server, page))
    assert result["frames"] == 2 and result["shown"] == 1  # frame 0 shown, frame 1 refused


def test_html_report_of_several_images_is_an_index_and_a_page_an_image(tmp_path) -> None:
    from kmcodec import cli

    folder = tmp_path / "in"
    folder.mkdir()
    for i, box in enumerate([(0, 0, 96, 64), (100, 100, 196, 164), (300, 200, 396, 264)]):
        with Image.open(ROOT / "samples" / "kodim05.png") as im:
            im.crop(box).save(folder / f"p{i}.png")
    out = tmp_path / "cmp"
    assert (
        cli.main(["compare", str(folder), "--colors", "4,16", "--out", str(out), "--html", "-q"])
        == 0
    )
    index = (out / "report.html").read_text()
    pages = sorted(out.glob("report-*.html"))
    assert len(pages) == 3
    for page in pages:
        assert f'href="{page.name}"' in index
        text = page.read_text()
        assert text.count("data-kmq=") == 2 and 'href="report.html"' in text
        assert len(text) < 3 * 2**20  # one image's files a page
    assert "data-kmq=" not in index and "window.kmq" not in index  # the index stays small


@needs(CHROMIUM, "chromium")
def test_html_report_views_the_files_at_1_to_1_scrolled_together(tmp_path) -> None:
    out = _compare_html(tmp_path, "kodim23.png", (0, 0, 400, 300), "16")
    page = out / "report.html"
    # click "2x", scroll one frame, and read where the others are
    probe = (
        "<script>addEventListener('load', () => setTimeout(() => {"
        "document.querySelector('.zoom button[data-z=\"2\"]').click();"
        "const frames = [...document.querySelectorAll('.frame')];"
        "frames[1].scrollLeft = 150; frames[1].scrollTop = 90;"
        "frames[1].dispatchEvent(new Event('scroll'));"
        "setTimeout(() => { document.body.dataset.probe = frames.map((f) =>"
        " `${f.scrollLeft},${f.scrollTop},${f.firstElementChild.getBoundingClientRect().width}`)"
        ".join(' '); }, 200); }, 500));</script></body>"
    )
    page.write_text(page.read_text().replace("</body>", probe))
    dom = chromium(tmp_path, "--virtual-time-budget=20000", "--dump-dom", page.as_uri())
    import re

    probe_value = re.search(r'data-probe="([^"]+)"', dom)
    assert probe_value, dom[:300]
    cells = [tuple(map(float, c.split(","))) for c in probe_value.group(1).split()]
    assert len(cells) >= 6  # the original, .kmq, PNG-8, WebP, GIF, JPEG
    assert {c[:2] for c in cells} == {(150.0, 90.0)}, cells  # every frame scrolled together
    assert {c[2] for c in cells} == {800.0}  # 400 pixels wide at 2x


@needs(CHROMIUM, "chromium")
def test_viewer_says_not_found_for_a_missing_file(tmp_path, served) -> None:
    import json

    _root, server = served
    page = f"{server.url}/js/viewer.html?report=/result&src=/spec/vectors/no-such-file.kmq"
    result = json.loads(chromium_until(tmp_path, server, page))
    assert result["title"] == "error: not found"


@needs(CHROMIUM, "chromium")
def test_viewer_from_a_file_url_says_why_nothing_happens(tmp_path) -> None:
    dom = chromium(
        tmp_path, "--virtual-time-budget=5000", "--dump-dom", (JS / "viewer.html").as_uri()
    )
    assert 'id="noscript"' in dom and "python -m http.server" in dom


@needs(CHROMIUM, "chromium")
def test_viewer_shows_no_empty_boxes_before_a_file_is_opened(tmp_path, served) -> None:
    _root, server = served
    pixels = screenshot(tmp_path, f"{server.url}/js/viewer.html", (900, 700), 5000, "L")
    assert pixels.shape == (700, 900)
    # the title and the drop zone at the top; below them, nothing but the white page
    assert (pixels[250:, :] == 255).all()
    assert (pixels[:200, :] < 200).any()  # the drop zone's dashed border is drawn
