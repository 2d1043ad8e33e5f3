"""Palette to index plane: which palette entry each pixel gets.

Every pixel gets the entry nearest its colour, found once per *distinct* colour and spread to
the pixels through the histogram's inverse map, so no distance is ever computed per pixel.

Then, optionally, a rate-distortion step (``smooth``): where a pixel is almost as close to its
second-nearest entry as to its nearest, and that second entry is what more of its four
neighbours hold, the pixel takes it. Such pixels are the speckle along the border between two
palette colours; removing it lengthens the runs that zstd codes, for a bounded, exactly
accounted loss of PSNR. Switches are made cheapest first (least added error per neighbour
gained) until the budget of ``smooth`` dB is spent.

Measured on 8 Kodak images and Penguins.jpg (zstd 19): a 0.02 dB budget made files 18% smaller
at K=2, 13% at K=5, 7% at K=16, 3% at K=64 and 1.5% at K=256; a plain threshold on the
distance margin saved less for the same loss.
"""

from __future__ import annotations

import numpy as np

from .histogram import ColorHistogram

__all__ = ["nearest_two", "remap", "smooth_indices"]

_BLOCK_PAIRS = 1 << 22
_SMOOTH_PASSES = 3


def nearest_two(
    points: np.ndarray, palette: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Find each point's nearest and second-nearest palette entry.

    Parameters
    ----------
    points : ndarray of uint8, shape (N, C)
    palette : ndarray of uint8, shape (K, C)

    Returns
    -------
    first, second : ndarray of intp, shape (N,)
        Nearest and second-nearest entries (equal when K == 1); ties go to the lower index.
    d1, d2 : ndarray of int64, shape (N,)
        Their exact squared distances.
    """
    pts = points.astype(np.float32)
    pal = palette.astype(np.float32)
    k = len(pal)
    half_norms = 0.5 * np.einsum("ij,ij->i", pal, pal)
    first = np.empty(len(pts), dtype=np.intp)
    second = np.empty(len(pts), dtype=np.intp)
    block = max(1, _BLOCK_PAIRS // k)
    for start in range(0, len(pts), block):
        score = pts[start : start + block] @ pal.T
        np.subtract(half_norms, score, out=score)  # argmin of this = argmin of |x - c|^2
        rows = np.arange(len(score))
        f = score.argmin(axis=1)
        first[start : start + block] = f
        if k > 1:
            score[rows, f] = np.inf
            second[start : start + block] = score.argmin(axis=1)
        else:
            second[start : start + block] = f
    p64 = points.astype(np.int64)
    pal64 = palette.astype(np.int64)
    d1 = ((p64 - pal64[first]) ** 2).sum(axis=1)
    d2 = ((p64 - pal64[second]) ** 2).sum(axis=1)
    return first, second, d1, d2


def smooth_indices(
    indices: np.ndarray, alternative: np.ndarray, margin: np.ndarray, budget: float
) -> tuple[np.ndarray, float]:
    """Switch pixels to their alternative entry where neighbours agree, within an error budget.

    Parameters
    ----------
    indices : ndarray of uint8, shape (H, W)
        Each pixel's entry (its nearest).
    alternative : ndarray of uint8, shape (H, W)
        Each pixel's second choice.
    margin : ndarray of int64, shape (H, W)
        Squared error added by switching a pixel to its alternative (>= 0).
    budget : float
        Most squared error (summed over pixels and channels) the switches may add.

    Returns
    -------
    indices : ndarray of uint8, shape (H, W)
    spent : float
        Squared error added.
    """
    idx = indices.copy()
    alt = alternative.copy()
    cost = margin.astype(np.float64)
    flat_idx, flat_alt, flat_cost = idx.reshape(-1), alt.reshape(-1), cost.reshape(-1)
    spent = 0.0
    for _ in range(_SMOOTH_PASSES):
        padded = np.pad(idx, 1, mode="edge")
        neighbours = (padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:])
        agree = np.zeros(idx.shape, dtype=np.int8)
        for n in neighbours:
            agree += (n == alt).astype(np.int8)
            agree -= (n == idx).astype(np.int8)
        candidates = np.flatnonzero(agree.reshape(-1) > 0)
        if len(candidates) == 0:
            break
        price = flat_cost[candidates] / agree.reshape(-1)[candidates]
        order = np.argsort(price, kind="stable")
        chosen = candidates[order]
        cumulative = np.cumsum(flat_cost[chosen])
        n_ok = int(np.searchsorted(cumulative, budget - spent, side="right"))
        if n_ok == 0:
            break
        chosen = chosen[:n_ok]
        spent += float(cumulative[n_ok - 1])
        old = flat_idx[chosen].copy()
        flat_idx[chosen] = flat_alt[chosen]
        flat_alt[chosen] = old
        flat_cost[chosen] = -flat_cost[chosen]  # switching back would give the error back
    return idx, spent


def remap(
    hist: ColorHistogram, palette: np.ndarray, shape: tuple[int, int], *, smooth: float = 0.0
) -> tuple[np.ndarray, float]:
    """Give every pixel a palette index.

    Parameters
    ----------
    hist : ColorHistogram
        The image's distinct colours and inverse map.
    palette : ndarray of uint8, shape (K, C)
    shape : (height, width)
    smooth : float, default=0.0
        Largest PSNR loss in dB to spend on smoothing the index plane (0: every pixel gets
        its nearest entry).

    Returns
    -------
    indices : ndarray of uint8, shape (height, width)
    sse : float
        Sum of squared errors over all pixels and channels.
    """
    first, second, d1, d2 = nearest_two(hist.colors, palette)
    sse = float(hist.counts @ d1)
    indices = first.astype(np.uint8)[hist.inverse].reshape(shape)
    if smooth > 0 and len(palette) > 1 and sse > 0:
        alternative = second.astype(np.uint8)[hist.inverse].reshape(shape)
        margin = (d2 - d1)[hist.inverse].reshape(shape)
        budget = sse * (10.0 ** (smooth / 10.0) - 1.0)
        indices, spent = smooth_indices(indices, alternative, margin, budget)
        sse += spent
    return indices, sse
