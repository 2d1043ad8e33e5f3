"""Numbers in the words a person reads: the CLI's messages and the comparison's reports share
these, so that "1 colour" and a lossless PSNR read the same everywhere."""

from __future__ import annotations

import math

__all__ = ["plural", "psnr_text"]


def plural(n: int, word: str) -> str:
    """``n`` and ``word``, with an "s" unless ``n`` is 1: "1 colour", "16 colours"."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def psnr_text(value: float, digits: int = 2, *, unit: bool = True) -> str:
    """A PSNR as a reader wants it: "lossless" where no pixel differs (the PSNR is infinite),
    else the value to ``digits`` places, with " dB" if ``unit``."""
    if math.isinf(value):
        return "lossless"
    return f"{value:.{digits}f}" + (" dB" if unit else "")
