"""Pixels to a palette and a plane of palette indices (colour quantisation).

The steps: count the image's distinct colours (:mod:`kmcodec.histogram`); if there are at most
K, store them as they are (lossless); otherwise run weighted k-means on the distinct colours
(:mod:`kmcodec.kmeans`), round the centres to uint8 (so the error measured is the error
stored), assign every distinct colour to its nearest rounded entry, and map each pixel through
its distinct colour, never computing distances per pixel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .histogram import histogram
from .kmeans import k_means
from .pixels import as_pixels, drop_opaque_alpha
from .remap import remap

__all__ = ["DEFAULT_SMOOTH", "Quantized", "quantize"]

#: Default PSNR budget of the index-plane smoothing, in dB: a loss no viewer or SSIM notices, for
#: files 2-18% smaller (more at small K), see :mod:`kmcodec.remap`.
DEFAULT_SMOOTH = 0.02


@dataclass
class Quantized:
    """The result of quantising an image.

    Attributes
    ----------
    palette : ndarray of uint8, shape (K, 3) or (K, 4)
        The palette, most used entry first. RGBA when the image has transparency.
    indices : ndarray of uint8, shape (height, width)
        Each pixel's palette index.
    mse : float
        Mean squared error per channel against the input, over the channels stored.
    lossless : bool
        True if the image had at most ``colors`` distinct colours and is stored exactly.
    distinct_colors : int
        Number of distinct colours in the input.
    """

    palette: np.ndarray
    indices: np.ndarray
    mse: float
    lossless: bool
    distinct_colors: int

    @property
    def colors(self) -> int:
        """Number of palette entries used."""
        return len(self.palette)

    @property
    def psnr(self) -> float:
        """Peak signal-to-noise ratio in dB (``inf`` when lossless)."""
        return math.inf if self.mse == 0 else 10 * math.log10(255.0**2 / self.mse)

    def image(self) -> np.ndarray:
        """Return the quantised image as a (height, width, C) uint8 array."""
        return self.palette[self.indices]


def _check_colors(colors: int) -> int:
    if isinstance(colors, bool) or not isinstance(colors, (int, np.integer)):
        msg = f"colors must be an integer from 1 to 256, got {colors!r}"
        raise TypeError(msg)
    if not 1 <= colors <= 256:
        msg = f"colors must be 1 to 256, got {colors}"
        raise ValueError(msg)
    return int(colors)


def quantize(
    image: object,
    colors: int = 256,
    *,
    init: str = "k-means++",
    max_iter: int = 100,
    tol: float = 0.1,
    random_state: int | None = 0,
    smooth: float = DEFAULT_SMOOTH,
) -> Quantized:
    """Reduce an image to at most ``colors`` colours with k-means.

    Parameters
    ----------
    image : PIL.Image.Image or array_like
        See :func:`kmcodec.pixels.as_pixels`.
    colors : int, default=256
        Largest palette size, 1 to 256.
    init : {"k-means++"}, default="k-means++"
        How k-means is seeded.
    max_iter : int, default=100
        Most Lloyd iterations.
    tol : float, default=0.1
        Lloyd stops once no centre moves more than this (0-255 colour units).
    random_state : int or None, default=0
        Seed of the k-means++ draws. The default makes results reproducible; None draws fresh
        entropy on each call.
    smooth : float, default=0.02
        Largest PSNR loss, in dB, to spend on making the index plane cheaper to compress (see
        :mod:`kmcodec.remap`); 0 gives every pixel its nearest palette entry.

    Returns
    -------
    Quantized

    Notes
    -----
    Fully transparent pixels (alpha 0) all map to one palette entry (0, 0, 0, 0): their RGB is
    not kept. An alpha channel that is 255 everywhere is dropped.
    """
    k = _check_colors(colors)
    if not smooth >= 0:
        msg = f"smooth must be a PSNR budget in dB >= 0, got {smooth!r}"
        raise ValueError(msg)
    pixels = drop_opaque_alpha(as_pixels(image))
    height, width, channels = pixels.shape
    if channels == 4:
        pixels = pixels.copy()
        pixels[pixels[:, :, 3] == 0] = 0  # every fully transparent pixel is the same colour
    hist = histogram(pixels)
    n = len(hist)
    if n <= k:
        palette = hist.colors
        indices = hist.inverse.astype(np.uint8).reshape(height, width)
        sse = 0.0
    else:
        points = hist.colors.astype(np.float32)
        fixed = np.zeros((0, channels), dtype=np.uint8)
        if channels == 4 and hist.colors[0, 3] == 0 and k > 1:
            # Reserve an exact entry for full transparency (it sorts first: its code is 0).
            fixed = hist.colors[:1]
            points, weights, k_free = points[1:], hist.counts[1:], k - 1
        else:
            weights, k_free = hist.counts, k
        centers, _, _ = k_means(
            points,
            k_free,
            sample_weight=weights,
            init=init,
            max_iter=max_iter,
            tol=tol,
            random_state=random_state,
        )
        rounded = np.clip(np.rint(centers), 0, 255).astype(np.uint8)
        palette = np.unique(np.concatenate([fixed, rounded]), axis=0)
        indices, sse = remap(hist, palette, (height, width), smooth=smooth)
    # Most used entry first: a canonical order that does not depend on how k-means ran.
    usage = np.bincount(indices.reshape(-1), minlength=len(palette))
    order = np.argsort(-usage, kind="stable")
    order = order[usage[order] > 0]  # entries no pixel uses are dropped
    rank = np.zeros(len(palette), dtype=np.uint8)
    rank[order] = np.arange(len(order))
    palette = np.ascontiguousarray(palette[order])
    indices = rank[indices]
    return Quantized(
        palette=palette,
        indices=indices,
        mse=sse / (height * width * channels),
        lossless=n <= k,
        distinct_colors=n,
    )
