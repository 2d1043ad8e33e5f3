"""`make demo`'s script runs end to end and prints the table it promises."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from PIL import Image

from .support import ROOT


def test_demo_encodes_decodes_and_prints_the_table(tmp_path) -> None:
    src = tmp_path / "small.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, size=(24, 32, 3), dtype=np.uint8)).save(src)
    out = tmp_path / "out"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools" / "demo.py"),
            str(src),
            "--out",
            str(out),
            "--colors",
            "2,5",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "kmq bytes" in result.stdout and "PNG-24 bytes" in result.stdout
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith("small ")]
    assert [r[1] for r in rows] == ["2", "5"]
    for k, row in zip((2, 5), rows, strict=True):
        size = (out / f"small-k{k}.kmq").stat().st_size
        assert int(row[2]) == size
        coding, by_coding = int(row[3]), [int(b) for b in row[4:7]]
        assert coding in (0, 2)  # the default keeps coding 2 unless coding 0 is smaller
        assert by_coding[coding] == size
        assert size <= by_coding[2] and by_coding[1] <= by_coding[2]
        assert float(row[7]) == round(8 * size / (24 * 32), 3)


def test_demo_says_where_the_seed_photos_come_from() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "demo.py"), "../shared/corpus/seed/missing.jpg"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "../shared/corpus" in result.stderr
    assert "samples/" in result.stderr


def test_make_experiment_says_where_the_seed_photos_come_from(tmp_path) -> None:
    result = subprocess.run(
        ["make", "-s", "-o", ".venv/.installed-run", "experiment", f"SEED={tmp_path}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode != 0 and "needs the seed photos" in result.stdout
