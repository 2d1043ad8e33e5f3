"""Pixels to their colour histogram: the distinct colours and how often each occurs, and back
from one label per distinct colour to one index per pixel.

k-means then works on the distinct colours weighted by their counts, which gives the same
centres as k-means on every pixel (a weighted point is the same as that many equal points) at a
fraction of the cost: the 24 Kodak photos (393,216 pixels each) have 13,000 to 72,000 distinct
colours, 33,000 in the median.

Measured on the Kodak set (one core): packing each pixel into a 24-bit code and ``np.unique``
with counts takes 2-3 ms; ``np.unique(return_inverse=True)`` took 18 ms, and
``np.bincount(minlength=2**24)`` 75 ms. Each pixel's distinct colour is found once, as the rank
of its code in a bitmap of the 2**24 codes (compiled, ``_histogram.c``): 1-2 ms, against 9 ms
for a 2**24-entry int32 table (64 MiB of pages touched), 10-30 ms for a binary search and 3 ms
for the bitmap's fixed part alone in numpy. Labels then go back to pixels by one gather (under
1 ms).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "ColorHistogram",
    "bincount",
    "color_codes",
    "colors_from_codes",
    "histogram",
    "posterize",
]

#: Values per step of :func:`bincount`.
BINCOUNT_STEP = 1 << 20


def bincount(
    values: np.ndarray, weights: np.ndarray | None = None, minlength: int = 0
) -> np.ndarray:
    """``np.bincount`` in steps of :data:`BINCOUNT_STEP` values, for per-pixel arrays.

    ``np.bincount`` converts its input to intp and its weights to float64 (16 bytes a value:
    160 MB for a 10 MP image, more than the rest of the encoder holds); in steps the copies
    are 16 MB. Counts are exact as in one call; weighted sums are float64 sums of the steps'
    sums (exact for integer weights below 2**53).
    """
    flat = values.reshape(-1)
    w = None if weights is None else weights.reshape(-1)
    if len(flat) <= BINCOUNT_STEP:
        return np.bincount(flat, weights=w, minlength=minlength)
    size = max(minlength, int(flat.max()) + 1)
    out = np.zeros(size, dtype=np.int64 if w is None else np.float64)
    for start in range(0, len(flat), BINCOUNT_STEP):
        stop = start + BINCOUNT_STEP
        out += np.bincount(flat[start:stop], None if w is None else w[start:stop], size)
    return out


def color_codes(pixels: np.ndarray) -> np.ndarray:
    """Pack each pixel's 3 or 4 uint8 channels into one uint32 (R in the highest byte used).

    Parameters
    ----------
    pixels : ndarray of uint8, shape (..., C) with C = 3 or 4

    Returns
    -------
    ndarray of uint32, shape (...)
    """
    channels = pixels.shape[-1]
    codes = pixels[..., 0].astype(np.uint32)
    for c in range(1, channels):  # in place: no temporary array of the image's size
        codes <<= np.uint32(8)
        np.bitwise_or(codes, pixels[..., c], out=codes, casting="unsafe")
    return codes


def colors_from_codes(codes: np.ndarray, channels: int) -> np.ndarray:
    """Inverse of :func:`color_codes`: uint32 codes to an (N, channels) uint8 array."""
    shifts = np.arange(8 * (channels - 1), -1, -8, dtype=np.uint32)
    return ((codes[:, None] >> shifts) & np.uint32(0xFF)).astype(np.uint8)


@dataclass
class ColorHistogram:
    """The distinct colours of an image.

    Attributes
    ----------
    colors : ndarray of uint8, shape (N, C)
        The distinct colours, in increasing order of their code.
    counts : ndarray of int64, shape (N,)
        How many pixels have each colour.
    codes : ndarray of uint32, shape (N,)
        The distinct colours' codes (see :func:`color_codes`), sorted.
    pixel_index : ndarray of int32, shape (height * width,)
        Each pixel's distinct colour (a row of ``colors``), in row-major order.
    """

    colors: np.ndarray
    counts: np.ndarray
    codes: np.ndarray
    pixel_index: np.ndarray

    def __len__(self) -> int:
        return len(self.colors)

    @property
    def channels(self) -> int:
        """3 for RGB, 4 for RGBA."""
        return int(self.colors.shape[1])

    def lookup(self, labels: np.ndarray) -> np.ndarray:
        """Spread one uint8 label per distinct colour to one per pixel.

        Parameters
        ----------
        labels : ndarray of uint8, shape (N,)

        Returns
        -------
        ndarray of uint8, shape (height * width,)
        """
        return np.asarray(labels, dtype=np.uint8)[self.pixel_index]

    def pixel_colors(self) -> np.ndarray:
        """Each pixel's colour, (height * width, C) uint8, rebuilt from the histogram."""
        return self.colors[self.pixel_index]


def histogram(pixels: np.ndarray) -> ColorHistogram:
    """Count the distinct colours of a (height, width, C) uint8 image.

    Parameters
    ----------
    pixels : ndarray of uint8, shape (height, width, 3 or 4)

    Returns
    -------
    ColorHistogram
    """
    pixel_codes = color_codes(pixels).reshape(-1)
    codes, counts = np.unique(pixel_codes, return_counts=True)
    return ColorHistogram(
        colors=colors_from_codes(codes, pixels.shape[-1]),
        counts=counts.astype(np.int64),
        codes=codes,
        pixel_index=_rank(codes, pixel_codes, pixels.shape[-1]),
    )


def _rank(codes: np.ndarray, pixel_codes: np.ndarray, channels: int) -> np.ndarray:
    """Each pixel code's position in the sorted distinct ``codes``, as int32."""
    if channels != 3:
        # 32-bit RGBA codes are too many for a bitmap: binary search.
        return np.searchsorted(codes, pixel_codes).astype(np.int32)
    from . import _histogram  # a bitmap of the 2**24 codes, and each pixel's rank in it

    rank = np.empty(len(pixel_codes), dtype=np.int32)
    _histogram.rank24(codes, len(codes), pixel_codes, len(pixel_codes), rank)
    return rank


def _rank_of_codes(code: np.ndarray, code_bits: int) -> np.ndarray:
    """Each code's rank among the distinct codes, ascending: ``np.unique``'s inverse. Where the
    codes span at most 2**22 values, by a table of that size (4 bytes a point, not the 40 of
    ``np.unique``'s sort)."""
    if code_bits > 22:
        return np.unique(code, return_inverse=True)[1].reshape(-1)
    present = np.zeros(1 << code_bits, dtype=bool)
    present[code] = True
    rank = np.cumsum(present, dtype=np.int32)
    rank -= 1
    return rank[code]


def posterize(
    points: np.ndarray, weights: np.ndarray, bits: int, *, bins: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Merge points whose colours agree in the top ``bits`` bits of every channel.

    Each merged point is the weighted mean of the points it replaces (not the centre of its
    bin), and carries their total weight, so weighted means over merged points equal those
    over the originals.

    Parameters
    ----------
    points : ndarray, shape (N, D)
        The points to merge (colours, or the same colours in another colour space).
    weights : ndarray, shape (N,)
    bits : int
        Bits kept per channel, 1 to 8.
    bins : ndarray of uint8, shape (N, C), optional
        The sRGB(A) colours of the points, which decide the bins; ``points`` if None.

    Returns
    -------
    means : ndarray of float64, shape (M, D)
    totals : ndarray of float64, shape (M,)
    """
    source = points if bins is None else bins
    channels = source.shape[1]
    # Each point's bin as one code of bits x channels <= 32 bits, a channel at a time (no
    # (N, C) int64 copy: 24-32 bytes a point, with millions of distinct colours in a photo).
    code = np.zeros(len(source), dtype=np.uint32)
    for c in range(channels):
        column = source[:, c]
        if column.dtype != np.uint8:
            column = np.clip(column, 0, 255).astype(np.uint8)
        code <<= np.uint32(bits)
        code |= column >> np.uint8(8 - bits)
    inverse = _rank_of_codes(code, bits * channels)
    totals = np.bincount(inverse, weights=weights)
    sums = np.stack(
        [np.bincount(inverse, weights=weights * points[:, c]) for c in range(points.shape[1])],
        axis=1,
    )
    return sums / totals[:, None], totals
