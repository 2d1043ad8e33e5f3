"""Pixels to a palette and a plane of palette indices (colour quantisation).

The steps, each in its own module:

1. count the image's distinct colours (:mod:`kmcodec.histogram`); if there are at most K,
   store them as they are (lossless);
2. seed K centres by variance splits on a posterised histogram, run Lloyd iterations on a
   finer posterised histogram, try swaps that move useless centres to where the error is
   largest, and finish with Lloyd iterations on the exact distinct colours
   (:mod:`kmcodec.kmeans`), in sRGB or in Oklab (:mod:`kmcodec.colorspace`);
3. round the centres to uint8 sRGB, the palette as stored, so the error measured is the error
   stored;
4. give each pixel its nearest entry, through the histogram, then optionally smooth or dither
   the index plane (:mod:`kmcodec.remap`).

``speed`` (1-10, as in pngquant: lower is slower and better) sets how much work steps 2 and 4
do; ``quality`` and ``target_psnr`` search for the fewest colours that reach a target.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

import numpy as np

from .colorspace import COLOR_SPACES, from_space, to_space
from .compression import FAST_OPTIMAL
from .errors import QualityError
from .histogram import ColorHistogram, histogram, posterize
from .kmeans import kmeans_plusplus, lloyd, refine_by_swaps, split_init
from .pixels import as_pixels, drop_opaque_alpha
from .remap import remap

__all__ = [
    "DEFAULT_SMOOTH",
    "DEFAULT_SPEED",
    "SPEEDS",
    "Quantized",
    "SpeedSettings",
    "mse_to_quality",
    "pngquant_error",
    "pngquant_error_of",
    "quality_to_mse",
    "quantize",
]

#: Default PSNR budget of the index-plane smoothing, in dB: a loss no viewer or SSIM notices, for
#: files 2-18% smaller (more at small K), see :mod:`kmcodec.remap`.
DEFAULT_SMOOTH = 0.02
#: Default speed, as pngquant's.
DEFAULT_SPEED = 4


@dataclass(frozen=True)
class SpeedSettings:
    """How much work one ``speed`` level does (see :data:`SPEEDS`).

    Attributes
    ----------
    seed_bits : int
        Bits per channel of the histogram the variance-split seeding runs on.
    coarse_bits : int
        Bits per channel of the histogram the first Lloyd iterations and the swaps run on.
    coarse_iter : int
        Lloyd iterations on that histogram.
    swaps : int
        Swap trials (:func:`kmcodec.kmeans.refine_by_swaps`) at K <= 16; fewer at larger K, in
        proportion to 1/sqrt(K), as each trial costs more and gains less there.
    exact_iter : int
        Lloyd iterations on the exact distinct colours at the end, at K <= 64; fewer at larger
        K, in proportion to (64 / K) ** 0.25, as each costs more there.
    narrow_level : int
        zstd level for index planes of 1, 2 or 4 bits per index, unless ``compress_level`` is
        given. They are half the bytes of an 8-bit plane or less, so a high level is affordable.
    wide_level : int or str
        zstd level (or preset) for 8-bit index planes, unless ``compress_level`` is given.
    """

    seed_bits: int
    coarse_bits: int
    coarse_iter: int
    swaps: int
    exact_iter: int
    narrow_level: int
    wide_level: int | str

    def compress_level(self, index_bits: int) -> int | str:
        """The zstd level for an index plane of ``index_bits`` bits per index."""
        return self.wide_level if index_bits == 8 else self.narrow_level

    def exact_iterations(self, k: int) -> int:
        """Lloyd iterations on the exact colours for a palette of ``k`` colours."""
        return round(self.exact_iter * (64 / max(k, 64)) ** 0.25)

    def swap_trials(self, k: int) -> int:
        """Swap trials for a palette of ``k`` colours."""
        return round(self.swaps * math.sqrt(16 / max(k, 16)))


#: Settings per speed, 1 (slowest, best) to 10 (fastest).
SPEEDS: dict[int, SpeedSettings] = {
    1: SpeedSettings(7, 7, 8, 60, 16, 19, 19),
    2: SpeedSettings(6, 7, 4, 40, 12, 19, 19),
    3: SpeedSettings(6, 6, 0, 20, 8, 19, 17),
    4: SpeedSettings(6, 6, 0, 10, 5, 19, FAST_OPTIMAL),
    5: SpeedSettings(6, 6, 0, 5, 4, 17, FAST_OPTIMAL),
    6: SpeedSettings(5, 6, 4, 2, 3, 16, 12),
    7: SpeedSettings(5, 5, 4, 0, 2, 12, 9),
    8: SpeedSettings(5, 5, 3, 0, 1, 9, 6),
    9: SpeedSettings(4, 5, 3, 0, 1, 6, 3),
    10: SpeedSettings(4, 5, 2, 0, 0, 3, 1),
}


def quality_to_mse(quality: int) -> float:
    """Map pngquant's 0-100 quality to a mean squared error per sRGB channel (0-255 scale).

    The curve is libimagequant's (``quality_to_mse``, "fudged to be roughly similar to quality
    of libjpeg"), converted from its unit MSE to per-channel 0-255 units (x 65536 / 6). Quality
    100 is lossless; 90 is about 42 dB PSNR, 70 about 38.5 dB, 50 about 35.5 dB.
    """
    if quality <= 0:
        return math.inf
    if quality >= 100:
        return 0.0
    fudge = max(0.0, 0.016 / (0.001 + quality) - 0.001)
    unit = fudge + 2.5 / (210.0 + quality) ** 1.2 * (100.1 - quality) / 100.0
    return unit * 65536.0 / 6.0


#: libimagequant's (pngquant 2.x) internal gamma: channels are compared as (v / 255) ** 1.21.
_LIQ_GAMMA_LUT = (np.arange(256) / 255.0) ** (0.5499 / 0.45455)
_CHUNK_PIXELS = 1 << 20


def pngquant_error(pixels: np.ndarray, palette: np.ndarray, indices: np.ndarray) -> float:
    """The error on pngquant's scale: what its ``--quality`` and ``--verbose`` "MSE" measure.

    libimagequant compares colours in its own space -- each channel through a gamma of about
    1.21 (``(v / 255) ** (0.5499 / 0.45455)``), premultiplied by alpha, with a transparent
    difference counted against black and white backgrounds -- sums the squared differences of
    R, G and B, averages over pixels and scales by 65536 / 6. Plain sRGB MSE is about twice as
    large for the same image, which put kmcodec's quality 20-30 points below pngquant's.

    Parameters
    ----------
    pixels : ndarray of uint8, shape (H, W, C)
    palette : ndarray of uint8, shape (K, C)
    indices : ndarray of uint8, shape (H, W)

    Returns
    -------
    float
    """
    lut = _LIQ_GAMMA_LUT.astype(np.float32)
    flat = pixels.reshape(-1, pixels.shape[2])
    idx = indices.reshape(-1)
    channels = pixels.shape[2]
    pal_alpha = palette[:, 3].astype(np.float32) / 255 if channels == 4 else None
    pal_f = lut[palette[:, :3]] * (pal_alpha[:, None] if pal_alpha is not None else 1.0)
    total = 0.0
    for start in range(0, len(flat), _CHUNK_PIXELS):
        px = flat[start : start + _CHUNK_PIXELS]
        q = idx[start : start + _CHUNK_PIXELS]
        if pal_alpha is None:
            diff = lut[px[:, :3]] - pal_f[q]
            total += float((diff * diff).sum(dtype=np.float64))
        else:
            a = px[:, 3].astype(np.float32) / 255
            black = lut[px[:, :3]] * a[:, None] - pal_f[q]
            white = black + (pal_alpha[q] - a)[:, None]
            total += float(np.maximum(black * black, white * white).sum(dtype=np.float64))
    return total / len(flat) * 65536.0 / 6.0


def pngquant_error_of(original: np.ndarray, quantized: np.ndarray) -> float:
    """:func:`pngquant_error` of any quantised image (from kmcodec, pngquant or a decoded file),
    given as pixels: its palette is the set of colours it uses."""
    channels = quantized.shape[2]
    palette, inverse = np.unique(quantized.reshape(-1, channels), axis=0, return_inverse=True)
    return pngquant_error(original, palette, inverse.reshape(quantized.shape[:2]))


def mse_to_quality(mse: float) -> int:
    """The highest pngquant quality (0-100) whose MSE target ``mse`` meets."""
    for q in range(100, 0, -1):
        if mse <= quality_to_mse(q) + 1e-9:
            return q
    return 0


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
    speed : int
        The speed used; its settings decide the default zstd level.
    pngquant_mse : float
        The error on pngquant's scale (see :func:`pngquant_error`), which ``quality`` and the
        ``quality`` option use.
    """

    palette: np.ndarray
    indices: np.ndarray
    mse: float
    lossless: bool
    distinct_colors: int
    speed: int = DEFAULT_SPEED
    pngquant_mse: float = 0.0

    @property
    def colors(self) -> int:
        """Number of palette entries used."""
        return len(self.palette)

    @property
    def psnr(self) -> float:
        """Peak signal-to-noise ratio in dB (``inf`` when lossless)."""
        return math.inf if self.mse == 0 else 10 * math.log10(255.0**2 / self.mse)

    @property
    def quality(self) -> int:
        """The quality reached, on pngquant's 0-100 scale and by its error measure (see
        :func:`quality_to_mse` and :func:`pngquant_error`)."""
        return mse_to_quality(self.pngquant_mse)

    def image(self) -> np.ndarray:
        """Return the quantised image as a (height, width, C) uint8 array."""
        return self.palette[self.indices]


def _check_int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        msg = f"{name} must be an integer from {low} to {high}, got {value!r}"
        raise TypeError(msg)
    if not low <= value <= high:
        msg = f"{name} must be {low} to {high}, got {value}"
        raise ValueError(msg)
    return int(value)


def parse_quality(quality: object) -> tuple[int, int]:
    """Read a quality option as pngquant does: ``"min-max"``, ``"max"``, an int or a pair.

    Returns
    -------
    (minimum, target) : tuple of int, each 0 to 100, minimum <= target
    """
    if isinstance(quality, str):
        m = re.fullmatch(r"\s*(\d{1,3})?\s*(?:-\s*(\d{1,3}))?\s*", quality)
        if not m or (m.group(1) is None and m.group(2) is None):
            msg = f"quality must look like 'min-max', 'max' or '-max' (0-100), got {quality!r}"
            raise ValueError(msg)
        if m.group(2) is None:
            low, high = 0, int(m.group(1))
        else:
            low, high = int(m.group(1) or 0), int(m.group(2))
    elif isinstance(quality, (tuple, list)) and len(quality) == 2:
        low, high = quality
    else:
        low, high = 0, quality
    low = _check_int("minimum quality", low, 0, 100)
    high = _check_int("quality", high, 0, 100)
    if low > high:
        msg = f"minimum quality {low} is above the target {high}"
        raise ValueError(msg)
    return low, high


def _palette_search(
    points: np.ndarray,
    weights: np.ndarray,
    bins: np.ndarray,
    k: int,
    settings: SpeedSettings,
    init: str,
    random_state: int | None,
    max_iter: int | None,
    tol: float,
) -> np.ndarray:
    """Run k-means on weighted points; return k (or fewer) centres in the points' space."""
    if init == "k-means++":
        # The version-1 quantiser, kept for comparison: greedy k-means++ on the exact colours,
        # then Lloyd until the centres move less than ``tol``.
        seeds = kmeans_plusplus(points, k, sample_weight=weights, random_state=random_state)
        return lloyd(points, seeds, sample_weight=weights, max_iter=max_iter or 100, tol=tol)[0]
    seed_points, seed_weights = posterize(points, weights, settings.seed_bits, bins=bins)
    if len(seed_points) < k:
        seed_points, seed_weights = points, weights
    centers = split_init(seed_points, k, sample_weight=seed_weights)
    coarse_points, coarse_weights = posterize(points, weights, settings.coarse_bits, bins=bins)
    if settings.coarse_iter and len(coarse_points) > len(centers):
        centers = lloyd(
            coarse_points,
            centers,
            sample_weight=coarse_weights,
            max_iter=settings.coarse_iter,
            tol=tol,
        )[0]
    trials = settings.swap_trials(k)
    if trials and len(coarse_points) > len(centers):
        centers, _ = refine_by_swaps(
            coarse_points, centers, sample_weight=coarse_weights, trials=trials
        )
    exact_iter = settings.exact_iterations(k) if max_iter is None else max_iter
    if exact_iter:
        centers = lloyd(points, centers, sample_weight=weights, max_iter=exact_iter, tol=tol)[0]
    return centers


def _quantize_k(
    pixels: np.ndarray,
    hist: ColorHistogram,
    k: int,
    *,
    speed: int,
    color_space: str,
    init: str,
    random_state: int | None,
    max_iter: int | None,
    tol: float,
    smooth: float,
    dither: float,
) -> Quantized:
    height, width, channels = pixels.shape
    n = len(hist)
    if n <= k:
        palette = hist.colors
        indices = hist.lookup(np.arange(n, dtype=np.uint8)).reshape(height, width)
        sse = 0.0
    else:
        colors = hist.colors
        counts = hist.counts.astype(np.float64)
        fixed = np.zeros((0, channels), dtype=np.uint8)
        if channels == 4 and colors[0, 3] == 0 and k > 1:
            # Reserve an exact entry for full transparency (it sorts first: its code is 0).
            fixed, colors, counts, k = colors[:1], colors[1:], counts[1:], k - 1
        points = to_space(colors, color_space)
        centers = _palette_search(
            points, counts, colors, k, SPEEDS[speed], init, random_state, max_iter, tol
        )
        rounded = np.clip(np.rint(from_space(centers, color_space)), 0, 255).astype(np.uint8)
        palette = np.unique(np.concatenate([fixed, rounded]), axis=0)
        indices, sse = remap(
            hist,
            palette,
            (height, width),
            color_space=color_space,
            smooth=0.0 if dither else smooth,
            dither=dither,
        )
    # Most used entry first: a canonical order that does not depend on how k-means ran.
    usage = np.bincount(indices.reshape(-1), minlength=len(palette))
    order = np.argsort(-usage, kind="stable")
    order = order[usage[order] > 0]  # entries no pixel uses are dropped
    rank = np.zeros(len(palette), dtype=np.uint8)
    rank[order] = np.arange(len(order))
    palette, indices = np.ascontiguousarray(palette[order]), rank[indices]
    return Quantized(
        palette=palette,
        indices=indices,
        mse=sse / (height * width * channels),
        lossless=n <= k,
        distinct_colors=n,
        speed=speed,
        pngquant_mse=0.0 if n <= k else pngquant_error(pixels, palette, indices),
    )


def _check_dither(dither: object) -> float:
    if dither is None or dither is False:
        return 0.0
    if dither is True or dither in ("bayer", "ordered"):
        return 1.0
    if isinstance(dither, (int, float)) and not isinstance(dither, bool) and 0 <= dither <= 1:
        return float(dither)
    msg = f"dither must be False, True, 'bayer' or a strength from 0 to 1, got {dither!r}"
    raise ValueError(msg)


def quantize(
    image: object,
    colors: int = 256,
    *,
    speed: int = DEFAULT_SPEED,
    quality: object = None,
    target_psnr: float | None = None,
    color_space: str = "rgb",
    dither: object = False,
    smooth: float = DEFAULT_SMOOTH,
    init: str = "split",
    max_iter: int | None = None,
    tol: float = 0.1,
    random_state: int | None = 0,
) -> Quantized:
    """Reduce an image to at most ``colors`` colours with k-means.

    Parameters
    ----------
    image : PIL.Image.Image or array_like
        See :func:`kmcodec.pixels.as_pixels`.
    colors : int, default=256
        Largest palette size, 1 to 256.
    speed : int, default=4
        1 (slowest, best) to 10 (fastest), as in pngquant; see :data:`SPEEDS`.
    quality : str, int or (int, int), optional
        pngquant's ``min-max`` on its 0-100 scale (see :func:`quality_to_mse`): use the fewest
        colours (up to ``colors``) that reach ``max``; raise :class:`~kmcodec.QualityError` if
        even ``colors`` colours stay below ``min``.
    target_psnr : float, optional
        Use the fewest colours (up to ``colors``) whose PSNR reaches this many dB; raise
        :class:`~kmcodec.QualityError` if ``colors`` colours do not reach it.
    color_space : {"rgb", "oklab"}, default="rgb"
        Space k-means runs in and "nearest" is measured in. "rgb" minimises squared error in
        sRGB values, so PSNR; "oklab" follows perceived colour differences (see README).
    dither : bool, "bayer" or float, default=False
        Ordered (8x8 Bayer) dithering between each colour's two nearest entries; a float sets
        its strength (0-1). Turns smoothing off.
    smooth : float, default=0.02
        Largest PSNR loss, in dB, to spend on making the index plane cheaper to compress (see
        :mod:`kmcodec.remap`); 0 gives every pixel its nearest palette entry.
    init : {"split", "k-means++"}, default="split"
        "split" is the fast path described above; "k-means++" is the version-1 quantiser
        (greedy weighted k-means++ on the exact colours, then Lloyd), kept for comparison.
    max_iter : int, optional
        Lloyd iterations on the exact colours (default: set by ``speed``; 100 for k-means++).
    tol : float, default=0.1
        Lloyd stops once no centre moves more than this (0-255 colour units).
    random_state : int or None, default=0
        Seed of the k-means++ draws (the "split" path draws nothing).

    Returns
    -------
    Quantized

    Raises
    ------
    QualityError
        ``quality``'s minimum or ``target_psnr`` cannot be reached with ``colors`` colours.

    Notes
    -----
    Fully transparent pixels (alpha 0) all map to one palette entry (0, 0, 0, 0): their RGB is
    not kept. An alpha channel that is 255 everywhere is dropped.
    """
    k = _check_int("colors", colors, 1, 256)
    speed = _check_int("speed", speed, 1, 10)
    if color_space not in COLOR_SPACES:
        msg = f"color_space must be 'rgb' or 'oklab', got {color_space!r}"
        raise ValueError(msg)
    if init not in ("split", "k-means++"):
        msg = f"init must be 'split' or 'k-means++', got {init!r}"
        raise ValueError(msg)
    if not (isinstance(smooth, (int, float)) and smooth >= 0):
        msg = f"smooth must be a PSNR budget in dB >= 0, got {smooth!r}"
        raise ValueError(msg)
    strength = _check_dither(dither)
    if quality is not None and target_psnr is not None:
        msg = "give quality or target_psnr, not both"
        raise ValueError(msg)
    pixels = drop_opaque_alpha(as_pixels(image))
    if pixels.shape[2] == 4:
        pixels = pixels.copy()
        pixels[pixels[:, :, 3] == 0] = 0  # every fully transparent pixel is the same colour
    hist = histogram(pixels)
    options = dict(
        speed=speed,
        color_space=color_space,
        init=init,
        random_state=random_state,
        max_iter=max_iter,
        tol=tol,
        smooth=smooth,
        dither=strength,
    )

    def run(n_colors: int) -> Quantized:
        return _quantize_k(pixels, hist, n_colors, **options)  # type: ignore[arg-type]

    if quality is None and target_psnr is None:
        return run(k)
    if quality is not None:
        minimum, target = parse_quality(quality)
        target_mse, floor_mse = quality_to_mse(target), quality_to_mse(minimum)
        wanted = f"minimum quality {minimum}"

        def error(q: Quantized) -> float:
            return q.pngquant_mse  # pngquant's measure, on pngquant's scale
    else:
        target_mse = floor_mse = 255.0**2 / 10 ** (float(target_psnr) / 10)  # type: ignore[arg-type]
        wanted = f"PSNR {target_psnr} dB"

        def error(q: Quantized) -> float:
            return q.mse

    best = run(k)
    if error(best) > floor_mse:
        reached = f"quality {best.quality}" if quality is not None else f"{best.psnr:.2f} dB"
        msg = f"{wanted} cannot be reached with {k} colours (reached {reached})"
        raise QualityError(msg, result=best)
    if error(best) > target_mse or best.lossless:
        return best
    return _fewest_colors(run, best, k, target_mse, error)


def _fewest_colors(run, best: Quantized, k: int, target_mse: float, error) -> Quantized:
    """Binary search for the smallest palette whose error is at most ``target_mse``."""
    low, high = 1, k  # run(high) meets the target; every size below ``low`` fails
    results = {k: best}
    while low < high:
        mid = (low + high) // 2
        results[mid] = run(mid)
        if error(results[mid]) <= target_mse:
            high = mid
        else:
            low = mid + 1
    return replace(results[high])
