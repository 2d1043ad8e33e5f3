"""How long ``import kmcodec`` takes, next to its dependencies alone.

Usage::

    python tools/bench_import.py [--runs 9]

Each figure is the fastest of ``--runs`` fresh Python processes (the first import, as a script
or a Pillow user pays it). The goal: ``import kmcodec`` under 250 ms on this machine.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

CODE = "import time; t = time.perf_counter(); {0}; print(time.perf_counter() - t)"
SETS = {
    "numpy, PIL.Image, zstandard, construct": "import numpy, PIL.Image, zstandard, construct",
    "kmcodec": "import kmcodec",
    "kmcodec + kmcodec.cli": "import kmcodec, kmcodec.cli",
}


def fastest(statement: str, runs: int) -> float:
    times = [
        float(
            subprocess.run(
                [sys.executable, "-c", CODE.format(statement)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        for _ in range(runs)
    ]
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args(argv)
    print(f"fastest of {args.runs} fresh processes, ms")
    results = {name: fastest(stmt, args.runs) for name, stmt in SETS.items()}
    for name, seconds in results.items():
        print(f"  {name:<42}{seconds * 1000:8.1f}")
    verdict = "met" if results["kmcodec"] < 0.25 else "NOT met"
    print(f"goal: import kmcodec < 250 ms: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
