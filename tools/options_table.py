"""Rewrite the user guide's table of encode options from ``kmcodec.options`` (declared once).

Usage::

    python tools/options_table.py

The table stands between ``<!-- options-table -->`` and ``<!-- /options-table -->``;
``tests/test_options.py`` checks that it is the declaration's.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from kmcodec.options import markdown_table

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "guide.md"


def main() -> int:
    text = GUIDE.read_text()
    new = re.sub(
        r"<!-- options-table -->\n.*?<!-- /options-table -->",
        lambda _: f"<!-- options-table -->\n{markdown_table()}<!-- /options-table -->",
        text,
        flags=re.S,
    )
    GUIDE.write_text(new)
    print("docs/guide.md: options table " + ("rewritten" if new != text else "already current"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
