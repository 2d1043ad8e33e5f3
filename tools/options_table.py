"""Rewrite the user guide's table of encode options from ``kmcodec.options`` (declared once).

Usage::

    python tools/options_table.py

The table stands between ``<!-- options-table -->`` and ``<!-- /options-table -->``;
``tests/test_options.py`` checks that it is the declaration's.
"""

from __future__ import annotations

import sys
from pathlib import Path

from _common import rewrite_between

from kmcodec.options import markdown_table

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "guide.md"


def main() -> int:
    changed = rewrite_between(GUIDE, "options-table", markdown_table())
    print("docs/guide.md: options table " + ("rewritten" if changed else "already current"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
