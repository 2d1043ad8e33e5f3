"""The benchmark tools run end to end on a small folder and print what they measured."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from .conftest import ROOT


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, photo):
    folder = tmp_path_factory.mktemp("corpus")
    Image.fromarray(photo).save(folder / "a.png")
    return folder


def tool(name: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / name), *args], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_bench_quantize(corpus) -> None:
    out = tool("bench_quantize.py", str(corpus), "--colors", "4", "--no-sklearn")
    assert "Median PSNR" in out and "kmcodec" in out and "Pillow MEDIANCUT" in out
    assert ("pngquant" in out) and ("time/pngquant" in out)


def test_bench_options(corpus) -> None:
    out = tool(
        "bench_options.py", str(corpus), "--colors", "4", "--variant", "oklab=color_space=oklab"
    )
    assert "oklab" in out and "SSIM" in out


def test_bench_decode(corpus) -> None:
    out = tool("bench_decode.py", str(corpus), "--colors", "4", "--large", "0", "--repeat", "2")
    assert "kmq load ms" in out and "goal" in out


def test_bench_index_coding(corpus) -> None:
    out = tool("bench_index_coding.py", str(corpus), "--colors", "3", "--levels", "1")
    rows = [line.split() for line in out.splitlines() if line.strip().startswith("3 ")]
    assert {r[1] for r in rows} >= {"2", "3", "4", "8"}  # every width that holds 3 colours


def test_bench_large_small_size(corpus) -> None:
    out = tool("bench_large.py", "--size", "320x240", "--colors", "16")
    assert "peak memory" in out and "MiB" in out


def test_make_vectors_reproduces_the_committed_files(tmp_path) -> None:
    tool("make_vectors.py", "--out", str(tmp_path))
    committed = ROOT / "spec" / "vectors"
    for path in committed.rglob("*.kmq"):
        assert (tmp_path / path.relative_to(committed)).read_bytes() == path.read_bytes(), path
    for path in committed.rglob("*.png"):
        a = np.asarray(Image.open(path))
        b = np.asarray(Image.open(tmp_path / path.relative_to(committed)))
        np.testing.assert_array_equal(a, b)


def test_bench_size(corpus) -> None:
    out = tool("bench_size.py", str(corpus), "--colors", "4,16", "--repeat", "1")
    assert "median bits per pixel" in out and ".kmq c1" in out and "Image.open(f).load()" in out
    rows = [line.split() for line in out.splitlines() if line.strip().startswith(("4 ", "16 "))]
    first = rows[0]
    # coding 0, coding 1, and the default is the smaller of the two
    assert float(first[3]) == min(float(first[1]), float(first[2]))


def test_bench_compiled() -> None:
    out = tool("bench_compiled.py", "--pixels", "4096")
    assert "the shipped decoder" in out and "M decisions/s" in out


def test_fuzz_bounded_run_finds_nothing() -> None:
    # A few thousand mutated conformance files through every decoder entry point: only
    # documented errors, no hang, no memory beyond the declared output + 64 MB.
    out = tool("fuzz.py", "--inputs", "1500", "--seed", "7")
    assert "no findings" in out
    for entry in ("decode", "pillow", "info"):
        assert f"{entry}: 1500 inputs" in out
