"""Fill README.md's results table from what ``tools/bench_size.py --json FILE`` measured.

Usage::

    python tools/bench_size.py ../shared/corpus/kodak --step 2 --jobs 1 --json r.json ...
    python tools/readme_results.py r.json

The table stands between ``<!-- results-table -->`` and ``<!-- /results-table -->``; its figures
are copied from the JSON file, never typed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from _common import rewrite_between

README = Path(__file__).resolve().parent.parent / "README.md"
#: (column of bench_size's figures, heading)
SIZES = (
    ("kmq", ".kmq default"),
    ("kmq1", "`coding=1`"),
    ("png8", "PNG-8"),
    ("webp-m6", "WebP -m 6"),
    ("jxl-e9", "JPEG XL -e 9"),
)
LOADS = (
    ("kmq2", "open .kmq"),
    ("kmq2-mt", "open .kmq threads"),
    ("png8", "open PNG-8"),
    ("webp-m6", "open WebP"),
)


def table(figures: dict) -> str:
    """The README's table: bits per pixel and opening times (ms) per K."""
    bpp, loads = figures["median_bpp"], figures["load_ms"]
    first = next(iter(bpp.values()))
    sizes = [(c, h) for c, h in SIZES if c in first]
    opens = [(c, h) for c, h in LOADS if c in next(iter(loads.values()))]
    head = ["K", *(h for _, h in sizes), *(h + " ms" for _, h in opens)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
    for k in bpp:
        cells = [k, *(f"{bpp[k][c]:.3f}" for c, _ in sizes)]
        cells += [f"{loads[k][c]:.2f}" for c, _ in opens]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    figures = json.loads(Path(args[0]).read_text())
    changed = rewrite_between(README, "results-table", table(figures))
    print("README.md: results table " + ("rewritten" if changed else "already current"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
