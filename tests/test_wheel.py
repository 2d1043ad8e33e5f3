"""The wheel and the sdist a user gets: built with ``python -m build``, the wheel installed
non-editable into a fresh venv (binary packages only: no compiler needed), then every README
command run from there. Slow (a build and an install from the package index): ``make
test-quick`` skips it, ``make test`` and CI run it."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from .support import ROOT, SAMPLES

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    return out


def test_the_wheel_holds_the_browser_decoder_the_licence_and_the_type_marker(dist) -> None:
    (wheel,) = dist.glob("kmcodec-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("kmq.js", "fast.js", "context.js", "worker.js", "viewer.html", "vendor/fzstd.mjs"):
        assert f"kmcodec/_js/{name}" in names
    assert "kmcodec/py.typed" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert any(n.startswith("kmcodec/format/codings/_fast_coder") for n in names)


def test_the_sdist_holds_the_spec_the_tests_and_the_c_sources(dist) -> None:
    (sdist,) = dist.glob("kmcodec-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    for name in (
        "spec/kmq.md",
        "spec/vectors/manifest.json",
        "tests/conftest.py",
        "kmcodec/format/codings/_fast_coder.c",
        "kmcodec/quantization/_kmeans.c",
        "js/kmq.js",
        "LICENSE",
        "CHANGELOG.md",
    ):
        assert name in names, name
    assert not any("node_modules" in n for n in names)


def _readme_blocks(language: str, after: str) -> list[str]:
    """The README's fenced ``language`` blocks in the section whose heading is ``after``."""
    import re

    text = (ROOT / "README.md").read_text()
    section = text.split(f"## {after}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, re.S)


def test_readme_commands_work_from_the_installed_wheel(dist, tmp_path) -> None:
    (wheel,) = dist.glob("kmcodec-*.whl")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    bindir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / "python"
    # binary packages only, and no compiler on PATH: what a user without one gets
    path = os.pathsep.join([str(bindir), "/usr/bin", "/bin"])
    env = dict(os.environ, PATH=path, CC="false", PIP_DISABLE_PIP_VERSION_CHECK="1")
    env.pop("PYTHONPATH", None)
    install = [str(python), "-m", "pip", "install", "-q", "--only-binary", ":all:"]
    subprocess.run([*install, f"{wheel}[tools]"], check=True, env=env, capture_output=True)
    work = tmp_path / "work"
    (work / "photos").mkdir(parents=True)
    with Image.open(SAMPLES / "kodim23.png") as im:
        photo = im.crop((200, 150, 392, 278))
    photo.save(work / "photo.png")
    for i in range(2):
        photo.rotate(90 * i).save(work / "photos" / f"p{i}.png")
    frames = [photo.quantize(8).rotate(5 * i) for i in range(3)]
    frames[0].save(work / "anim.gif", save_all=True, append_images=frames[1:], duration=80)

    def run(command: list[str] | str) -> subprocess.CompletedProcess:
        result = subprocess.run(
            command,
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            shell=isinstance(command, str),
        )
        assert result.returncode == 0, (command, result.stdout[-2000:], result.stderr[-2000:])
        return result

    # "From a terminal", every line as written (comments dropped)
    (block,) = _readme_blocks("sh", "From a terminal")
    lines = [line.split("  #", 1)[0].strip() for line in block.splitlines()]
    assert len([line for line in lines if line]) >= 6
    for line in filter(None, lines):
        run(line)
    assert (work / "photo.kmq").exists() and (work / "photo.kmq.png").exists()
    assert (work / "photos" / "p0.kmq").exists() and (work / "anim.kmq").exists()
    page = (work / "kmq-compare" / "report.html").read_text()
    assert "window.kmq" in page  # the browser decoder came with the wheel
    # the Python of "Install" and "From Python", as written, after a prelude of inputs
    prelude = (
        "import kmcodec\nfrom PIL import Image\n"
        "assert 'site-packages' in kmcodec.__file__, kmcodec.__file__\n"
        "image = Image.open('photo.png')\n"
        "frames = [image, image.rotate(90)]\n"
    )
    for section in ("Install", "From Python"):
        for code in _readme_blocks("python", section):
            run([str(python), "-c", prelude + code])
    with Image.open(work / "photo.kmq") as im:
        assert im.mode == "P" and im.size == (192, 128)
        assert np.asarray(im.convert("RGB")).std() > 0
