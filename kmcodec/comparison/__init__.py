"""Measurement and reports: ``.kmq`` against PNG, JPEG, WebP and GIF on real files
(:mod:`.measure`), and the plots and markdown report of a comparison (:mod:`.report`).
Imported only when used (``kmq compare``, :func:`kmcodec.compare`)."""

from .measure import (
    DEFAULT_COLORS,
    FORMATS,
    SHORT_NAMES,
    Comparison,
    FormatSize,
    ImageComparison,
    Measurement,
    compare,
    knee,
    smallest_jpeg,
)

__all__ = [
    "DEFAULT_COLORS",
    "FORMATS",
    "SHORT_NAMES",
    "Comparison",
    "FormatSize",
    "ImageComparison",
    "Measurement",
    "compare",
    "knee",
    "smallest_jpeg",
]
