"""Fuzz findings, kept as tests/data/crash-<sha1>.kmq: each gives its documented error."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent / "data"
EXPECTED = json.loads((HERE / "expected.json").read_text())

SCRIPT = """
import sys
import kmcodec
try:
    kmcodec.decode(open(sys.argv[1], "rb").read())
except kmcodec.KmqError as e:
    print(type(e).__name__)
else:
    print("decoded")
"""


def test_every_finding_is_listed_and_named_by_its_sha1() -> None:
    assert sorted(EXPECTED) == sorted(p.name for p in HERE.glob("crash-*.kmq"))
    for name in EXPECTED:
        assert name == f"crash-{hashlib.sha1((HERE / name).read_bytes()).hexdigest()}.kmq"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_fuzz_finding_gives_its_documented_error(name: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(HERE / name)],
        capture_output=True,
        text=True,
        timeout=60,  # a finding that hangs again fails here instead of stopping the suite
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == EXPECTED[name]
