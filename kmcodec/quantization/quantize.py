"""Pixels to a palette and a plane of palette indices (colour quantisation).

The steps, each in its own module:

1. count the image's distinct colours (:mod:`.histogram`); if there are at most K,
   store them as they are (lossless);
2. seed K centres by variance splits on a posterised histogram, run Lloyd iterations on a
   finer posterised histogram, try swaps that move useless centres to where the error is
   largest, and finish with Lloyd iterations on the exact distinct colours
   (:mod:`.kmeans`), in sRGB or in Oklab (:mod:`.colorspace`);
3. in sRGB, move the centres a little to lower the eye's colour difference as well as the
   squared error (:mod:`.perceptual`, ``perceptual``; 0 leaves them);
4. round the centres to uint8 sRGB, the palette as stored, so the error measured is the error
   stored;
5. give each pixel its entry through the histogram (the nearest, or the cheaper of its two
   nearest by step 3's cost), then optionally smooth or dither the index plane
   (:mod:`.remap`).

An :class:`Effort` (chosen by the speed preset) sets how much work step 2 does; ``quality`` and
``target_psnr`` search for the fewest colours that reach a target. Nothing here knows of files:
:mod:`kmcodec.codec` takes the result from here to the format.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import QualityError
from .colorspace import from_space, to_space
from .histogram import BINCOUNT_STEP, ColorHistogram, bincount, histogram, posterize
from .kmeans import initial_centers, k_means, lloyd, refine_by_swaps
from .perceptual import refine
from .pixels import as_pixels, drop_opaque_alpha
from .quality import mse_to_quality, pngquant_error, quality_to_mse
from .remap import dither_maps, remap

__all__ = ["Effort", "PaletteImage", "quantize"]


#: Palette size above which the search before error diffusion is cut short
#: (:meth:`Effort.for_diffusion`). Measured on the 24 Kodak photos at K = 64 and 256: blurred
#: ΔE of the dithered result 0.3775 / 0.2277 with the full search, 0.3806 / 0.2281 without
#: swaps and with 2 exact iterations, 38-62 ms less per photo; at K = 8 and 16 the full search
#: was 3% better (1.691 vs 1.740, 0.895 vs 0.924).
DIFFUSION_LIGHT_ABOVE = 16
#: Pixels from which an image gets every swap trial above K = 64 (see
#: :meth:`Effort.swap_trials`): 512x512.
SWAP_FULL_PIXELS = 512 * 512
#: Fewest bins a centre in the coarse histogram above K = 64 (see :class:`Effort`).
COARSE_BINS_PER_CENTRE = 128


@dataclass(frozen=True)
class Effort:
    """How much work the palette search does (the speed presets, :data:`kmcodec.SPEEDS`, choose
    one per speed).

    Attributes
    ----------
    seed_bits : int
        Bits per channel of the histogram the variance-split seeding runs on.
    coarse_bits : int
        Bits per channel of the histogram the first Lloyd iterations and the swaps run on.
    coarse_iter : int
        Lloyd iterations on that histogram.
    swaps : int
        Swap trials (:func:`~kmcodec.quantization.kmeans.refine_by_swaps`) at K <= 16; fewer at
        larger K, in proportion to 1/sqrt(K), as each trial costs more and gains less there.
    exact_iter : int
        Lloyd iterations on the exact distinct colours at the end, at K <= 64; fewer at larger
        K, in proportion to (64 / K) ** 0.25, as each costs more there; four times as many
        where two seedings are tried (they are cheap there and stop early at ``tol``).
    two_seeds_max : int, default=0
        Largest K at which a second seeding is tried (greedy k-means++ on the coarse
        histogram, with ``max(coarse_iter, 4)`` Lloyd iterations there); both are finished and
        the one with the lower error kept. At small K one seeding alone lands, on some images,
        in an optimum 0.05-0.08 dB worse than k-means++'s (docs/design/how-it-works.md:
        "Seeding, and how far k-means can go").

    Notes
    -----
    Above K = 64, on images of at least :data:`SWAP_FULL_PIXELS` pixels (smaller ones get
    fewer swap trials, see :meth:`swap_trials`), the coarse histogram keeps one bit more per
    channel (at most 8) where it has fewer than :data:`COARSE_BINS_PER_CENTRE` bins a centre:
    with 6 bits a Kodak photo has 4,000-22,000 bins, 14-86 per centre at K = 256, too few to
    place them well (the error was up to 0.21 dB above k-means++'s); a 24 MP photo has
    59,000 (230 a centre), and 7 bits would give it 330,000 bins to swap on, for no gain.
    """

    seed_bits: int
    coarse_bits: int
    coarse_iter: int
    swaps: int
    exact_iter: int
    two_seeds_max: int = 0

    def for_diffusion(self, k: int) -> Effort:
        """The effort spent before error diffusion: above :data:`DIFFUSION_LIGHT_ABOVE` colours
        no swaps and at most 2 Lloyd iterations on the exact colours, as a dither hides what
        more would gain there (see :data:`DIFFUSION_LIGHT_ABOVE`)."""
        if k <= DIFFUSION_LIGHT_ABOVE:
            return self
        return replace(self, swaps=0, exact_iter=min(self.exact_iter, 2))

    def exact_iterations(self, k: int) -> int:
        """Lloyd iterations on the exact colours for a palette of ``k`` colours."""
        if k <= self.two_seeds_max:
            return 4 * self.exact_iter
        return round(self.exact_iter * (64 / max(k, 64)) ** 0.25)

    def swap_trials(self, k: int, pixels: float = math.inf) -> int:
        """Swap trials for a palette of ``k`` colours, on an image of ``pixels`` pixels.

        Above K = 64 an image smaller than :data:`SWAP_FULL_PIXELS` gets fewer, in proportion
        to its size: a trial costs two Lloyd iterations over the coarse histogram, whose bins
        are a large share of a small image's pixels (42% on 256x256 crops of Kodak photos,
        5-17% on the whole photos), and there eight trials made the encoder slower than
        pngquant (see docs/design/how-it-works.md, "Seeding, and how far k-means can go")."""
        trials = round(self.swaps * math.sqrt(16 / max(k, 16)))
        if k > 64 and pixels < SWAP_FULL_PIXELS:
            trials = round(trials * pixels / SWAP_FULL_PIXELS)
        return trials


@dataclass
class PaletteImage:
    """The result of quantising an image: a palette, an index plane, and how close they are.

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
    pngquant_mse : float
        The error on pngquant's scale (see :func:`pngquant_error`), which ``quality`` and the
        ``quality`` option use. Measured on first use (7-8 ms for a 768x512 photo that an
        encode does not need), from the input kept until then.
    """

    palette: np.ndarray
    indices: np.ndarray
    mse: float
    lossless: bool
    distinct_colors: int
    _source: np.ndarray | None = field(default=None, repr=False, compare=False)
    _pngquant_mse: float | None = field(default=None, repr=False, compare=False)

    @property
    def pngquant_mse(self) -> float:
        if self._pngquant_mse is None:
            if self.lossless or self._source is None:
                self._pngquant_mse = 0.0
            else:
                self._pngquant_mse = pngquant_error(self._source, self.palette, self.indices)
            self._source = None
        return self._pngquant_mse

    @property
    def colors(self) -> int:
        """Number of palette entries used."""
        return len(self.palette)

    def __repr__(self) -> str:
        # one line: the arrays would fill a screen
        from .._text import plural, psnr_text

        height, width = self.indices.shape
        return (
            f"{type(self).__name__}({width}x{height}, {plural(self.colors, 'colour')},"
            f" PSNR {psnr_text(self.psnr)})"
        )

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


#: Luma noise (standard deviation over 3x3, 0-255 units) at which a pixel counts half for the
#: palette search when error diffusion will follow.
NOISE_HALF = 4.0


def importance_counts(hist: ColorHistogram, pixels: np.ndarray) -> np.ndarray:
    """Each distinct colour's weight for the palette search before error diffusion: the sum of
    its pixels' ``noise`` weights (:func:`.remap.dither_maps` with :data:`NOISE_HALF`), each
    1 / (1 + noise / NOISE_HALF), noise being the standard deviation of luma over the pixel's
    3x3 neighbourhood.

    Where an image is noisy (foliage, grain, texture) the eye does not see which of several
    near colours a pixel got, and the dither hides the rest; in smooth areas (sky, skin) too few
    entries show as bands. So, as pngquant does with its noise map, the palette is spent
    where it is seen. Edges and flat fills (where :func:`.remap.dither_map` is 0) count fully,
    so a graphic gets the palette it gets undithered.
    """
    # A band of rows at a time (each with the row above and below, which its 3x3 sums read):
    # the weights are never a plane of floats (4 bytes a pixel).
    height, width = pixels.shape[:2]
    step = max(1, BINCOUNT_STEP // width)
    counts = np.zeros(len(hist), dtype=np.float64)
    for top in range(0, height, step):
        bottom = min(height, top + step)
        lo, hi = max(top - 1, 0), min(bottom + 1, height)
        noise = dither_maps(pixels[lo:hi], NOISE_HALF, dither=False)[1]
        assert noise is not None
        weights = noise[top - lo : top - lo + bottom - top]
        counts += np.bincount(
            hist.pixel_index[top * width : bottom * width],
            weights=weights.reshape(-1),
            minlength=len(hist),
        )
    return counts


def _palette_search(
    points: np.ndarray,
    weights: np.ndarray,
    bins: np.ndarray,
    k: int,
    effort: Effort,
    init: str,
    random_state: int | None,
    max_iter: int | None,
    tol: float,
) -> np.ndarray:
    """Run k-means on weighted points; return k (or fewer) centres in the points' space.

    The steps of :class:`Effort`: variance-split seeds on the seeding histogram (and at
    K <= ``two_seeds_max`` k-means++ seeds on the coarse one), Lloyd iterations and swaps on
    the coarse histogram, Lloyd iterations on the exact colours; of two seedings the one with
    the lower error is kept.
    """
    if init != "split":
        # The version-1 quantiser, kept for comparison: greedy k-means++ on the exact colours,
        # then Lloyd until the centres move less than ``tol``.
        return k_means(
            points,
            k,
            sample_weight=weights,
            init=init,
            max_iter=max_iter or 100,
            tol=tol,
            random_state=random_state,
        )[0]
    seed_points, seed_weights = posterize(points, weights, effort.seed_bits, bins=bins)
    coarse_iter = effort.coarse_iter
    two_seeds = k <= effort.two_seeds_max
    pixels = float(weights.sum())  # the pixel count (less with dithering's weights)
    if coarse_iter or effort.swap_trials(k, pixels) or two_seeds:
        bits = effort.coarse_bits
        if bits == effort.seed_bits:
            coarse_points, coarse_weights = seed_points, seed_weights
        else:
            coarse_points, coarse_weights = posterize(points, weights, bits, bins=bins)
        few_bins = len(coarse_points) < COARSE_BINS_PER_CENTRE * k
        if k > 64 and bits < 8 and few_bins and pixels >= SWAP_FULL_PIXELS:
            coarse_points, coarse_weights = posterize(points, weights, bits + 1, bins=bins)
    else:
        coarse_points, coarse_weights = seed_points[:0], seed_weights[:0]  # not used
    if len(seed_points) < k:
        seed_points, seed_weights = points, weights
    seeds = [initial_centers(seed_points, k, "split", sample_weight=seed_weights)]
    if two_seeds and len(coarse_points) > k:
        coarse_iter = max(coarse_iter, 4)
        seeds.append(
            initial_centers(coarse_points, k, "k-means++", sample_weight=coarse_weights,
                            random_state=0)
        )  # fmt: skip
    exact_iter = effort.exact_iterations(k) if max_iter is None else max_iter
    finished = []  # (error, centres) of each seeding
    for centers in seeds:
        if coarse_iter and len(coarse_points) > len(centers):
            centers = lloyd(
                coarse_points,
                centers,
                sample_weight=coarse_weights,
                max_iter=coarse_iter,
                tol=tol,
            )[0]
        trials = effort.swap_trials(k, pixels)
        if trials and len(coarse_points) > len(centers):
            centers, _ = refine_by_swaps(
                coarse_points, centers, sample_weight=coarse_weights, trials=trials
            )
        if len(seeds) == 1 and not exact_iter:
            return centers  # nothing to finish, nothing to choose between
        centers, _, error, _ = lloyd(
            points, centers, sample_weight=weights, max_iter=exact_iter, tol=tol
        )
        finished.append((error, centers))
    return min(finished, key=lambda pair: pair[0])[1]  # ties: the first seeding


def posterize_colors(colors: np.ndarray, bits: int) -> np.ndarray:
    """Colours (uint8, any shape) with ``bits`` low bits of each channel dropped, as pngquant's
    ``--posterize``: the kept high bits are repeated into the low ones, so that 0 and 255 stay
    exact (``0xAB`` with 4 bits -> ``0xAA``), for displays of fewer bits a channel."""
    if not bits:
        return colors
    high = colors & np.uint8((0xFF << bits) & 0xFF)
    return high | (high >> np.uint8(8 - bits))


def _quantize_k(
    pixels: np.ndarray,
    hist: ColorHistogram,
    k: int,
    *,
    effort: Effort,
    color_space: str,
    init: str,
    random_state: int | None,
    max_iter: int | None,
    tol: float,
    smooth: float,
    dither: tuple[str, float] | None,
    perceptual: float,
    posterize: int = 0,
) -> PaletteImage:
    height, width, channels = pixels.shape
    n = len(hist)
    exact = n <= k
    if exact:
        palette = hist.colors
        indices = hist.lookup(np.arange(n, dtype=np.uint8)).reshape(height, width)
        sse = 0.0
        if posterize:  # the image's own colours, at fewer bits: merged where they meet
            coarse = posterize_colors(palette, posterize)
            diff = coarse.astype(np.float64) - hist.colors
            sse = float(hist.counts @ np.einsum("ij,ij->i", diff, diff))
            palette, merged = np.unique(coarse, axis=0, return_inverse=True)
            indices = merged.reshape(-1).astype(np.uint8)[indices]
            exact = sse == 0.0
    else:
        colors = hist.colors
        counts = hist.counts.astype(np.float64)
        if dither and dither[0] != "bayer":
            # (The dither map is made by the diffusion's loop, a row at a time.)
            counts = importance_counts(hist, pixels)
            effort = effort.for_diffusion(k)
        held = 0
        if channels == 4 and colors[0, 3] == 0 and k > 1:
            # Reserve an exact entry for full transparency (it sorts first: its code is 0).
            held, k = 1, k - 1
        fixed = colors[:held]
        points = to_space(colors[held:], color_space)
        centers = _palette_search(
            points, counts[held:], colors[held:], k, effort, init, random_state, max_iter, tol
        )
        del points  # 24 bytes a distinct colour
        mixed = None
        if color_space == "rgb":  # (in Oklab the search already followed the eye)
            centers, mixed = refine(colors, counts, centers, perceptual, held=held)
        del counts  # 8 bytes a distinct colour; the remap counts by hist.counts
        rounded = np.clip(np.rint(from_space(centers, color_space)), 0, 255).astype(np.uint8)
        if posterize:
            rounded = posterize_colors(rounded, posterize)
        if mixed is None:
            palette = np.unique(np.concatenate([fixed, rounded]), axis=0)
        else:  # in the order the mixed cost's candidates refer to
            palette = np.concatenate([fixed, rounded])
        kernel, strength = dither or ("bayer", 0.0)
        indices, sse = remap(
            hist,
            palette,
            (height, width),
            color_space=color_space,
            smooth=0.0 if dither else smooth,
            dither=strength,
            kernel=kernel,
            pixels=pixels,
            perceptual=mixed,
        )
        del mixed
    # Most used entry first: a canonical order that does not depend on how k-means ran.
    usage = bincount(indices, minlength=len(palette))
    order = np.argsort(-usage, kind="stable")
    order = order[usage[order] > 0]  # entries no pixel uses are dropped
    rank = np.zeros(len(palette), dtype=np.uint8)
    rank[order] = np.arange(len(order))
    palette, indices = np.ascontiguousarray(palette[order]), rank[indices]
    return PaletteImage(
        palette=palette,
        indices=indices,
        mse=sse / (height * width * channels),
        lossless=exact,
        distinct_colors=n,
        _source=None if exact else pixels,
    )


def quantize(
    image: object,
    colors: int,
    *,
    effort: Effort,
    quality: tuple[int, int] | None,
    target_psnr: float | None,
    color_space: str,
    dither: tuple[str, float] | None,
    smooth: float,
    init: str,
    max_iter: int | None,
    tol: float,
    random_state: int | None,
    perceptual: float,
    posterize: int = 0,
    max_pixels: int | None = None,
) -> PaletteImage:
    """Reduce an image to at most ``colors`` colours with k-means.

    The options are those of :func:`kmcodec.quantize`, already checked and normalised by
    :mod:`kmcodec.options` (which declares their meaning, range and default): ``effort`` is
    the speed preset's, ``quality`` a (minimum, target) pair, ``dither`` a (kernel, strength) pair
    or None.

    Parameters
    ----------
    image : PIL.Image.Image or array_like
        See :func:`~kmcodec.quantization.pixels.as_pixels`.
    colors : int
        Largest palette size, 1 to 256.
    max_pixels : int, optional
        Refuse larger images (with :class:`~kmcodec.errors.LimitError`) before converting them.

    Returns
    -------
    PaletteImage
        Fully transparent pixels all map to one entry (0, 0, 0, 0); an alpha channel that is
        255 everywhere is dropped.

    Raises
    ------
    QualityError
        ``quality``'s minimum or ``target_psnr`` cannot be reached with ``colors`` colours.
    """
    pixels = drop_opaque_alpha(as_pixels(image, max_pixels))
    if pixels.shape[2] == 4:
        pixels = pixels.copy()
        pixels[pixels[:, :, 3] == 0] = 0  # every fully transparent pixel is the same colour
    hist = histogram(pixels)

    def run(n_colors: int) -> PaletteImage:
        return _quantize_k(
            pixels,
            hist,
            n_colors,
            effort=effort,
            color_space=color_space,
            init=init,
            random_state=random_state,
            max_iter=max_iter,
            tol=tol,
            smooth=smooth,
            dither=dither,
            perceptual=perceptual,
            posterize=posterize,
        )

    k = colors
    if quality is None and target_psnr is None:
        return run(k)
    if quality is not None:
        minimum, target = quality
        target_mse, floor_mse = quality_to_mse(target), quality_to_mse(minimum)
        wanted = f"minimum quality {minimum}"

        def error(q: PaletteImage) -> float:
            return q.pngquant_mse  # pngquant's measure, on pngquant's scale
    else:
        target_mse = floor_mse = 255.0**2 / 10 ** (float(target_psnr) / 10)  # type: ignore[arg-type]
        wanted = f"PSNR {target_psnr} dB"

        def error(q: PaletteImage) -> float:
            return q.mse

    best = run(k)
    if error(best) > floor_mse:
        reached = f"quality {best.quality}" if quality is not None else f"{best.psnr:.2f} dB"
        msg = f"{wanted} cannot be reached with {k} colours (reached {reached})"
        raise QualityError(msg, result=best)
    if error(best) > target_mse or best.lossless:
        return best
    return _fewest_colors(run, best, k, target_mse, error)


def _fewest_colors(run, best: PaletteImage, k: int, target_mse: float, error) -> PaletteImage:
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
