"""The `kmq` command, run as a user runs it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from PIL import Image

import kmcodec


def kmq(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kmcodec.cli", *args], capture_output=True, text=True
    )


def test_encode_decode_and_info(tmp_path, photo) -> None:
    src = tmp_path / "p.png"
    Image.fromarray(photo).save(src)
    assert kmq("encode", str(src), "--colors", "8").returncode == 0
    kmq_file = tmp_path / "p.kmq"
    assert kmcodec.read(kmq_file.read_bytes()).header.colors == 8
    out = tmp_path / "back.png"
    assert kmq("decode", str(kmq_file), "-o", str(out)).returncode == 0
    np.testing.assert_array_equal(np.asarray(Image.open(out)), kmcodec.load(kmq_file))
    info = kmq("info", str(kmq_file))
    assert info.returncode == 0 and "192x128" in info.stdout and "8 colours" in info.stdout


def test_existing_output_is_not_overwritten_without_force(tmp_path, photo) -> None:
    src = tmp_path / "p.png"
    Image.fromarray(photo).save(src)
    (tmp_path / "p.kmq").write_bytes(b"keep")
    assert kmq("encode", str(src)).returncode != 0
    assert (tmp_path / "p.kmq").read_bytes() == b"keep"
    assert kmq("encode", str(src), "--force").returncode == 0


def test_corrupt_file_gives_a_message_and_failure(tmp_path) -> None:
    bad = tmp_path / "bad.kmq"
    bad.write_bytes(b"not a kmq file at all")
    result = kmq("decode", str(bad))
    assert result.returncode == 1 and "not a KMQ file" in result.stderr
