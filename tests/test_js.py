"""The JavaScript decoder (js/kmq.js) against the spec's vectors and the Python encoder, in Node
and in headless Chromium. Skipped, with the reason, where node or chromium is missing
(.ci/run installs both, so CI always runs them)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import kmcodec
from kmcodec.format.codings import index_bits_allowed

from .conftest import ROOT, VECTORS

JS = ROOT / "js"
NODE = shutil.which("node")


def _rgba(pixels: np.ndarray) -> bytes:
    if pixels.shape[2] == 3:
        pixels = np.concatenate([pixels, np.full(pixels.shape[:2] + (1,), 255, np.uint8)], axis=2)
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
    return count


@pytest.mark.skipif(NODE is None, reason="node is not installed: the JS decoder is not tested")
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
    env = dict(os.environ, KMQ_EXPECTED=str(expected), KMQ_RANDOM=str(folder))
    result = subprocess.run(
        [NODE, "--test", "test/"], cwd=JS, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout and "# skipped 0" in result.stdout
    assert "decoded 240 random files" in result.stdout
