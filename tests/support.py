"""What the test modules share (they do not import one another): the repository's paths,
helpers that make test files, and headless Chromium with a loopback HTTP server."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
VECTORS = ROOT / "spec" / "vectors"
JS = ROOT / "js"


def shifted_copies(photo: np.ndarray, folder: Path, count: int, step: int, name: str) -> Path:
    """Make ``folder`` and write ``count`` PNGs into it (``name.format(i)``), each ``photo``
    rolled sideways by ``step * i`` pixels: a folder of different images that quantise alike."""
    folder.mkdir()
    for i in range(count):
        Image.fromarray(np.roll(photo, step * i, axis=1)).save(folder / name.format(i))
    return folder


def table_after(text: str, marker: str) -> list[list[str]]:
    """The rows of the markdown table that follows an HTML comment marker in ``text``."""
    lines = text.split(f"<!-- {marker} -->", 1)[1].strip().splitlines()
    rows = []
    for line in lines[2:]:  # skip the head and the |---| line
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


NODE = shutil.which("node")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: In CI (.ci/run installs node and chromium) a missing tool is a failure, not a skip.
_IN_CI = bool(os.environ.get("CI"))


def needs(tool: str | None, what: str) -> pytest.MarkDecorator:
    """Skip where ``what`` is missing, except in CI, where the test runs and fails."""
    return pytest.mark.skipif(
        tool is None and not _IN_CI, reason=f"{what} is not installed: {what} tests skipped"
    )


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-color-profile=srgb",
]


class Server:
    """The repository's js/ and spec/ (and a folder of random files) over HTTP on loopback:
    browsers do not run ES modules from file:// pages."""

    def __init__(self, root: Path) -> None:
        import functools
        import http.server
        import threading

        self.results: list[bytes] = []
        handler = functools.partial(_QuietHandler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.results = self.results  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()


def _quiet_handler():
    import http.server

    class Handler(http.server.SimpleHTTPRequestHandler):
        extensions_map: ClassVar[dict[str, str]] = {
            **http.server.SimpleHTTPRequestHandler.extensions_map,
            ".js": "text/javascript",
            ".mjs": "text/javascript",
        }

        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:  # a page reports its result
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.server.results.append(body)  # type: ignore[attr-defined]
            self.send_response(204)
            self.end_headers()

    return Handler


_QuietHandler = _quiet_handler()


def chromium_until(tmp_path: Path, server: Server, url: str, timeout: float = 240) -> bytes:
    """Open ``url`` in headless Chromium until the page POSTs its result; return it."""
    import time

    assert CHROMIUM, "chromium is required in CI (.ci/run installs it)"
    process = subprocess.Popen(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + timeout
        while not server.results and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.2)
    finally:
        process.kill()
        process.wait()
    assert server.results, "the page posted no result"
    return server.results[0]


def screenshot(tmp_path: Path, url: str, size: tuple[int, int], budget_ms: int, mode: str) -> Any:
    """``url`` in headless Chromium at ``size`` (width, height), after ``budget_ms`` of virtual
    time, as a numpy array of PIL ``mode``."""
    import numpy as np
    from PIL import Image

    shot = tmp_path / "shot.png"
    chromium(
        tmp_path,
        f"--window-size={size[0]},{size[1]}",
        f"--virtual-time-budget={budget_ms}",
        f"--screenshot={shot}",
        url,
    )
    with Image.open(shot) as im:
        return np.asarray(im.convert(mode))


def chromium(tmp_path: Path, *args: str) -> str:
    assert CHROMIUM, "chromium is required in CI (.ci/run installs it)"
    profile = tmp_path / "profile"
    result = subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=180,
    )
    return result.stdout
