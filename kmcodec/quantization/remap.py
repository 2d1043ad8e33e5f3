"""Palette to index plane: which palette entry each pixel gets.

Every pixel gets the entry nearest its colour, found once per *distinct* colour and spread to
the pixels through the histogram's look-up table, so no distance is ever computed per pixel.
"Nearest" is measured in the colour space k-means ran in (sRGB or Oklab) against the palette as
stored (rounded sRGB), which is what a decoder will show; after the step for the eye
(:mod:`.perceptual`) it is the cheaper of two candidates by that step's cost, squared error
plus a multiple of the Oklab distance.

Two optional steps follow, both vectorised over the whole plane:

**Smoothing** (``smooth``, a PSNR budget in dB). Where a pixel is almost as close to its
second-nearest entry as to its nearest, and that second entry is what more of its four
neighbours hold, the pixel takes it. Such pixels are the speckle along the border between two
palette colours; removing it lengthens the runs that zstd codes, for a bounded, exactly
accounted loss of PSNR. Switches are made cheapest first (least added error per neighbour
gained) until the budget is spent. Measured on 8 Kodak images and Penguins.jpg (zstd 19): a
0.02 dB budget made files 18% smaller at K=2, 13% at K=5, 7% at K=16, 3% at K=64 and 1.5% at
K=256; a plain threshold on the distance margin saved less for the same loss, and switching
pixels on alternating checkerboard halves saved less than switching them all at once.

**Error diffusion** (``dither="floyd-steinberg"``, ``"sierra-lite"`` or ``"atkinson"``, with a
strength from 0 to 1): in serpentine order each pixel takes the entry nearest to its colour plus
the error diffused to it, and passes its own error on (compiled: ``_diffuse.c``). As pngquant
does, a *dither map* turns diffusion down where it would only add noise: at strong edges
(where luma changes by more than 24 levels to a neighbour diffusion fades out, gone at 96),
in flat areas of exactly one colour (the fills of graphics, where diffusion would scatter noise
into a region the eye sees as one colour), and on colours the palette already holds within a
level or two (text and lines of graphics keep their colour); the error a pixel receives is
clamped, so that an error cannot run on as a streak. Colours are compared and errors carried in
linear light, so that a dither mixes to the light of the colour it stands for. Before
diffusion the palette search counts pixels in noisy areas less (see
``quantize.importance_counts``): the palette is spent on smooth areas, where bands show.
These settings were chosen on 6 Kodak photos (every 4th) and checked on the 16 graphics.

**Ordered dithering** (``dither="bayer"``, a strength from 0 to 1). Each colour is placed on the
segment from its nearest entry to its second-nearest; a pixel takes the second entry where its
fraction along that segment exceeds the threshold of an 8x8 Bayer matrix at its position.
Regions between two palette colours become a fixed pattern mixing them in the right proportion,
the
pattern is the same wherever the mixture is (so zstd still finds repeats), and the cost is one
comparison per pixel.
"""

from __future__ import annotations

import numpy as np

from .colorspace import to_space
from .histogram import ColorHistogram, color_codes
from .kmeans import nearest_two
from .perceptual import MixedCost

__all__ = ["BAYER_8", "KERNELS", "diffuse", "dither_map", "remap", "smooth_indices"]

#: Error-diffusion kernels, by name, as the compiled core numbers them.
KERNELS = {"floyd-steinberg": 0, "sierra-lite": 1, "atkinson": 2}
#: Luma difference (0-255) to a neighbour up to which diffusion is at full strength, and the
#: width of the ramp past it down to none: strong edges stay sharp, gradients and textures get
#: dithered.
_EDGE_START, _EDGE_RAMP = 24.0, 72.0
#: Largest error, per channel and in 0-255 units, that a pixel may receive.
_ERROR_CLAMP = 48.0
#: Share of a pixel's error passed on with palettes of at most ``_DAMPED_UP_TO`` entries (as
#: libimagequant does at every size): with few entries each error is large, and passed on
#: whole it overshoots into noise. Measured on the 24 Kodak photos and the 2 seed photos
#: (blurred ΔE): better on 24 of 26 at K = 8 (median 1.691 -> 1.658) and 23 of 26 at K = 16
#: (0.895 -> 0.872), even at K = 64 (9 of 26 better, median 0.417 -> 0.415) and worse on every
#: photo at K = 256 (0.230 -> 0.233), where errors are small; so larger palettes pass it whole.
_SMALL_PALETTE_SHARE, _DAMPED_UP_TO = 15 / 16, 16
#: Distance (sRGB, 0-255 units) from a colour to its nearest entry up to which the colour is
#: held as it is (no diffused error), and the ramp past it to full diffusion.
_EXACT, _EXACT_RAMP = 1.0, 2.0

#: Passes of switching; a third pass saved nothing more on the Kodak set (K = 5 to 256).
_SMOOTH_PASSES = 2


def _bayer(n: int) -> np.ndarray:
    m = np.zeros((1, 1), dtype=np.int64)
    while len(m) < n:
        m = np.block([[4 * m, 4 * m + 2], [4 * m + 3, 4 * m + 1]])
    return m


#: Thresholds of the 8x8 Bayer matrix, (i + 0.5) / 64 for i = 0..63.
BAYER_8 = (_bayer(8) + 0.5) / 64.0


def smooth_indices(
    indices: np.ndarray,
    alternative: np.ndarray,
    pixels: np.ndarray,
    palette: np.ndarray,
    budget: float,
    *,
    perceptual: tuple[float, np.ndarray, np.ndarray] | None = None,
    pixel_colors: np.ndarray | None = None,
    in_place: bool = False,
) -> tuple[np.ndarray, float]:
    """Switch pixels to their alternative entry where neighbours agree, within an error budget.

    Parameters
    ----------
    indices : ndarray of uint8, shape (H, W)
        Each pixel's entry (its nearest).
    alternative : ndarray of uint8, shape (H, W)
        Each pixel's second choice.
    pixels : ndarray of uint8, shape (H * W, C)
        Each pixel's colour.
    palette : ndarray of uint8, shape (K, C)
    budget : float
        Most squared error (summed over pixels and channels) the switches may add.
    perceptual : (lam, chosen, gap), optional
        Price a switch by the eye's cost the entries were chosen by
        (:class:`.perceptual.MixedCost`): squared error plus ``lam`` times the Oklab distance;
        per distinct colour, ``chosen`` is the entry it was given and ``gap`` how much farther
        in Oklab its other candidate is. Priced by squared error alone, a pixel given an entry
        for the eye would be switched back first, for free. The budget stays in squared error
        (spending it in the mixed cost lost more PSNR and gained no ΔE: at K = 16 on 8 Kodak
        photos -0.040 dB / -1.72% ΔE against -0.030 dB / -1.81%).
    pixel_colors : ndarray of int, shape (H * W,), optional
        Each pixel's distinct colour (needed with ``perceptual``).
    in_place : bool, default False
        Switch in ``indices`` and ``alternative`` themselves (no copies: 2 bytes a pixel).

    Returns
    -------
    indices : ndarray of uint8, shape (H, W)
    spent : float
        Squared error added.
    """
    idx = indices if in_place else indices.copy()
    alt = alternative if in_place else alternative.copy()
    flat_idx, flat_alt = idx.reshape(-1), alt.reshape(-1)
    pal = palette.astype(np.int32)
    norms = (pal * pal).sum(axis=1, dtype=np.int32)  # costs fit in int32: 4 bytes, not 8
    channels = pal.shape[1]
    columns = [np.ascontiguousarray(pal[:, c]) for c in range(channels)]
    spent = 0.0
    agree = np.empty(idx.shape, dtype=np.int8)
    flat_agree = agree.reshape(-1)
    blocks = range(0, len(flat_idx), _SMOOTH_BLOCK)

    def switches(start: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The candidates among pixels ``start`` .. ``start + _SMOOTH_BLOCK`` (where more
        neighbours hold the alternative than the own entry): positions, costs, prices."""
        block = flat_agree[start : start + _SMOOTH_BLOCK]
        candidates = np.flatnonzero(block > 0).astype(np.int32) + np.int32(start)
        # The error a switch adds, for the candidates only:
        # |x - p[alt]|^2 - |x - p[idx]|^2 = |p[alt]|^2 - |p[idx]|^2 - 2 x.(p[alt] - p[idx]),
        # negative for a pixel switched earlier, whose switching back gives error back.
        a, i = flat_alt[candidates], flat_idx[candidates]
        dot = np.zeros(len(candidates), dtype=np.int32)
        for c in range(channels):  # one channel at a time: 2x faster than (n, C) arrays
            x = pixels[candidates, c].astype(np.int32)
            dot += x * (columns[c][a] - columns[c][i])
        cost = norms[a] - norms[i] - 2 * dot
        price_of = cost  # what a switch is ranked by
        if perceptual is not None and pixel_colors is not None:
            lam, chosen_entry, gap = perceptual
            colour = pixel_colors[candidates]
            # Leaving the entry chosen for the colour costs its Oklab gap; going back to it
            # gives the gap back. In place and in float32.
            price_of = gap[colour]
            np.negative(price_of, out=price_of, where=i != chosen_entry[colour])
            price_of *= np.float32(lam)
            price_of += cost
        # Cheapest per neighbour gained first, ties in pixel order. The price is rounded to a
        # quarter, so the cheapest prefix is found from a histogram of prices instead of a
        # sort of all candidates (less time and memory).
        price = np.clip(price_of * 4 // flat_agree[candidates] + 1, 0, 65535).astype(np.uint16)
        return candidates, cost, price

    def switch(chosen: np.ndarray) -> None:
        flat_idx[chosen], flat_alt[chosen] = flat_alt[chosen], flat_idx[chosen].copy()

    # Each pass a block of pixels at a time, twice: the histogram of prices (summed costs),
    # then the switches below the cut. Nothing per candidate is kept for the whole image (a
    # 24 MP photo has millions of candidates): a switch's cost and price depend only on its
    # pixel and the agreement counted before the pass.
    for _ in range(_SMOOTH_PASSES):
        _agreement(idx, alt, agree)
        by_price = np.zeros(65536, dtype=np.float64)
        found = 0
        for start in blocks:
            candidates, cost, price = switches(start)
            found += len(candidates)
            by_price += np.bincount(price, weights=cost, minlength=65536)
        if found == 0:
            break
        np.cumsum(by_price, out=by_price)
        # Price 0 holds the negative costs (switching back), so the running cost is rising
        # from price 1 on: the first price at which it exceeds the budget is the cut.
        over = np.flatnonzero(by_price[1:] > budget - spent)
        cut = int(over[0]) + 1 if len(over) else 65536
        spent_below = float(by_price[cut - 1]) if cut > 0 else 0.0
        taken = 0
        tied, tied_cost = [], []
        for start in blocks:
            candidates, cost, price = switches(start)
            chosen = candidates[price < cut]
            taken += len(chosen)
            switch(chosen)
            if cut < 65536:
                at = price == cut
                tied.append(candidates[at])  # in pixel order
                tied_cost.append(cost[at])
        if cut < 65536:
            room = budget - spent - spent_below
            costs = np.concatenate(tied_cost)
            n_tied = int(np.searchsorted(np.cumsum(costs, dtype=np.int64), room, side="right"))
            switch(np.concatenate(tied)[:n_tied])
            taken += n_tied
            spent_below += float(costs[:n_tied].sum())
        if taken == 0:
            break
        spent += spent_below
    return idx, spent


def _agreement(idx: np.ndarray, alt: np.ndarray, out: np.ndarray) -> None:
    """Into ``out`` (int8, like ``idx``): per pixel, how many of its four neighbours (the edge
    repeated outside the image) hold its alternative entry less how many hold its own. In
    blocks of rows, so that the temporaries are a block's, not the image's."""
    height = idx.shape[0]
    step = max(1, _SMOOTH_BLOCK // max(1, idx.shape[1]))
    for top in range(0, height, step):
        bottom = min(height, top + step)
        # Rows top-1 .. bottom, the image's first and last rows repeated beyond its edges.
        block = idx[max(top - 1, 0) : min(bottom + 1, height)]
        padded = np.pad(block, ((top == 0, bottom == height), (1, 1)), mode="edge")
        own, other, agree = idx[top:bottom], alt[top:bottom], out[top:bottom]
        agree[...] = 0
        for n in (padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:]):
            agree += n == other
            agree -= n == own


#: Pixels per block of :func:`_agreement` and of the smoothing's passes.
_SMOOTH_BLOCK = 1 << 20


def dither_map(pixels: np.ndarray) -> np.ndarray:
    """How much diffused error each pixel takes, 0 to 1 (float32, shape (H, W)).

    1 in gradients and textures; less at edges (the largest luma difference to the four
    neighbours above ``_EDGE_START``, falling to 0 over ``_EDGE_RAMP`` levels); 0 where a pixel
    and its eight neighbours hold one or two colours in all: flat fills and the edges between
    two of them (text, lines, borders), which a dither would only fray. Luma is
    ``0.299 R + 0.587 G + 0.114 B``; the image's edges are extended by repeating them.
    Compiled (``_diffuse.c``).
    """
    dmap = dither_maps(pixels)[0]
    assert dmap is not None
    return dmap


def dither_maps(
    pixels: np.ndarray, noise_half: float | None = None, *, dither: bool = True
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """:func:`dither_map`, and with ``noise_half`` each pixel's weight for the palette search
    before error diffusion: ``1 / (1 + noise / noise_half)`` where the map is above 0, else 1,
    noise being the standard deviation of luma over the pixel's 3x3 neighbourhood (see
    :func:`kmcodec.quantization.quantize.importance_counts`). Both float32 (H, W), in one pass;
    ``dither=False`` makes only the weights (the map is None): 4 bytes a pixel less.
    """
    from . import _diffuse

    if not dither and noise_half is None:
        msg = "dither_maps: nothing to make (dither=False and no noise_half)"
        raise ValueError(msg)
    px = np.ascontiguousarray(pixels, dtype=np.uint8)
    height, width, channels = px.shape
    dmap = np.empty((height, width), dtype=np.float32) if dither else None
    noise = None if noise_half is None else np.empty((height, width), dtype=np.float32)
    _diffuse.maps(
        px, width, height, channels, _EDGE_START, _EDGE_RAMP, float(noise_half or 1.0),
        bytearray() if dmap is None else dmap, bytearray() if noise is None else noise,
    )  # fmt: skip
    return dmap, noise


def diffuse(
    pixels: np.ndarray,
    palette: np.ndarray,
    *,
    kernel: str = "floyd-steinberg",
    strength: float = 1.0,
    space: str = "linear",
    weights: np.ndarray | None = None,
    scale: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    """Error-diffusion remap of ``pixels`` (H, W, C) to ``palette`` (K, C), with the dither
    map of :func:`dither_map`; returns the (H, W) uint8 indices and their sum of squared
    errors against the pixels (sRGB levels, every channel; counted in the same loop).
    With at most 16 entries 15/16 of each error is passed on (``_SMALL_PALETTE_SHARE``).

    ``space`` is where colours are compared and the error is carried: "linear" (linear light,
    so that a dither mixes to the light of the colour it stands for) or "srgb". ``weights``
    (H, W float) replaces the dither map; ``scale`` (H, W uint8) multiplies it by ``scale /
    255``, the product made by the compiled loop a row at a time (no plane of floats).
    """
    from . import _diffuse
    from .colorspace import srgb_to_linear

    height, width, channels = pixels.shape
    px = np.ascontiguousarray(pixels, dtype=np.uint8)
    # The pixels stay uint8: the compiled loop converts each through this table, so no float
    # copy of the image is made (12-16 bytes a pixel, 300 MB at 24 MP).
    levels = np.arange(256, dtype=np.uint8)
    lut = srgb_to_linear(levels) * 255.0 if space == "linear" else levels.astype(np.float64)
    lut = np.ascontiguousarray(lut, dtype=np.float32)
    pal = np.asarray(palette, dtype=np.uint8)
    fpal = np.concatenate([lut[pal[:, :3]], pal[:, 3:].astype(np.float32)], axis=1)
    fpal = np.ascontiguousarray(fpal, dtype=np.float32)
    extra: tuple = ()
    row_weights: np.ndarray | bytearray
    if weights is not None:
        row_weights = np.ascontiguousarray(weights, dtype=np.float32)
    elif scale is not None:  # the dither map made row by row in the loop, times scale / 255
        row_weights = bytearray()
        extra = (np.ascontiguousarray(scale, dtype=np.uint8), _EDGE_START, _EDGE_RAMP)
    else:
        row_weights = dither_map(px)
    out = np.empty((height, width), dtype=np.uint8)
    sse = _diffuse.diffuse(
        px,
        width,
        height,
        channels,
        lut,
        fpal,
        np.ascontiguousarray(pal),
        len(fpal),
        row_weights,
        KERNELS[kernel],
        float(strength) * (_SMALL_PALETTE_SHARE if len(pal) <= _DAMPED_UP_TO else 1.0),
        _ERROR_CLAMP,
        out,
        *extra,
    )
    return out, float(sse)


def _plane_sse(pixels: np.ndarray, palette: np.ndarray, indices: np.ndarray) -> float:
    """Sum of squared errors of an index plane against the pixels, a band of rows at a time (no
    int64 copy of the whole image)."""
    total = 0
    rows = max(1, (1 << 20) // max(1, pixels.shape[1]))
    for start in range(0, pixels.shape[0], rows):
        diff = palette[indices[start : start + rows]].astype(np.int32)
        diff -= pixels[start : start + rows]
        np.square(diff, out=diff)  # at most 255^2: int32 holds it
        total += int(diff.sum(dtype=np.int64))
    return float(total)


def _held_distance(colors: np.ndarray, palette: np.ndarray, reach: float) -> np.ndarray:
    """Each colour's distance (sRGB levels, every channel) to the nearest palette entry, or
    ``reach`` where none is nearer than that.

    Only the colours near an entry are looked for: every integer colour within ``reach`` of
    an entry (93 per entry in RGB at 3 levels) is listed with its distance, and the image's
    colours are looked up in that list; no search of the palette per colour.
    """
    channels = colors.shape[1]
    span = np.arange(-int(np.ceil(reach)) + 1, int(np.ceil(reach)))
    offsets = np.stack(np.meshgrid(*[span] * channels, indexing="ij"), axis=-1)
    offsets = offsets.reshape(-1, channels)
    d2 = (offsets * offsets).sum(axis=1)
    offsets, d2 = offsets[d2 < reach * reach], d2[d2 < reach * reach]
    near = palette.astype(np.int64)[:, None, :] + offsets[None, :, :]
    inside = ((near >= 0) & (near <= 255)).all(axis=2)
    codes = color_codes(near[inside].astype(np.uint8))
    dists = np.broadcast_to(d2, inside.shape)[inside]
    order = np.lexsort((dists, codes))  # by code, nearest first
    codes, dists = codes[order], dists[order]
    first = np.ones(len(codes), dtype=bool)
    first[1:] = codes[1:] != codes[:-1]
    codes, dists = codes[first], dists[first]
    wanted = color_codes(colors)
    at = np.minimum(np.searchsorted(codes, wanted), len(codes) - 1)
    found = codes[at] == wanted
    out = np.full(len(colors), float(reach))
    out[found] = np.sqrt(dists[at[found]])
    return out


def _rgb_sq(colors: np.ndarray, palette: np.ndarray, labels: np.ndarray) -> np.ndarray:
    diff = colors.astype(np.int64) - palette[labels].astype(np.int64)
    return (diff * diff).sum(axis=1)


def remap(
    hist: ColorHistogram,
    palette: np.ndarray,
    shape: tuple[int, int],
    *,
    color_space: str = "rgb",
    smooth: float = 0.0,
    dither: float = 0.0,
    kernel: str = "bayer",
    pixels: np.ndarray | None = None,
    perceptual: MixedCost | None = None,
) -> tuple[np.ndarray, float]:
    """Give every pixel a palette index.

    Parameters
    ----------
    hist : ColorHistogram
        The image's distinct colours and per-pixel codes.
    palette : ndarray of uint8, shape (K, C)
    shape : (height, width)
    color_space : {"rgb", "oklab"}, default="rgb"
        Space in which "nearest" is measured.
    smooth : float, default=0.0
        Largest PSNR loss in dB to spend on smoothing the index plane (0: off). Ignored when
        dithering.
    dither : float, default=0.0
        Strength of dithering, 0 (off) to 1.
    kernel : {"bayer", "floyd-steinberg", "sierra-lite", "atkinson"}, default="bayer"
        Ordered dithering, or error diffusion with that kernel (which needs ``pixels``).
    pixels : ndarray of uint8, shape (height, width, C), optional
        The image (error diffusion works on pixels, not on the histogram).
    perceptual : MixedCost, optional
        Choose each colour's entry by the eye's cost that :func:`.perceptual.refine` made the
        palette for (``palette`` in the order it was given), instead of the nearest; also
        prices the smoothing's switches. Not with dithering.

    Returns
    -------
    indices : ndarray of uint8, shape (height, width)
    sse : float
        Sum of squared errors in sRGB over all pixels and channels.
    """
    height, width = shape
    if dither > 0 and len(palette) > 1 and kernel != "bayer":
        assert pixels is not None, "error diffusion needs the pixels"
        # Colours the palette already holds (nearly) exactly are left alone: in graphics, fills
        # and text keep their colour; where the nearest entry is off by more, as in a photo's
        # gradients between entries, the error is diffused.
        off = _held_distance(hist.colors, palette, _EXACT + _EXACT_RAMP)
        ramp = np.clip((off - _EXACT) / _EXACT_RAMP, 0.0, 1.0)
        closeness = hist.lookup(np.rint(ramp * 255).astype(np.uint8)).reshape(height, width)
        del off, ramp
        # the dither map times closeness / 255, made by the loop a row at a time
        return diffuse(pixels, palette, kernel=kernel, strength=dither, scale=closeness)
    if dither > 0 and len(palette) > 1:
        first, second, _, _ = nearest_two(
            to_space(hist.colors, color_space), to_space(palette, color_space)
        )
        return _dither(hist, palette, shape, first, second, dither, pixels)
    if perceptual is not None:
        first, second, gap = perceptual.choose(hist.colors, palette)
    else:
        first, second, _, _ = nearest_two(
            to_space(hist.colors, color_space), to_space(palette, color_space)
        )
    sse = float(hist.counts @ _rgb_sq(hist.colors, palette, first))
    indices = hist.lookup(first.astype(np.uint8)).reshape(height, width)
    if smooth > 0 and len(palette) > 1 and sse > 0:
        alternative = hist.lookup(second.astype(np.uint8)).reshape(height, width)
        pricing = None if perceptual is None else (perceptual.lam, first, gap)
        budget = sse * (10.0 ** (smooth / 10.0) - 1.0)
        indices, spent = smooth_indices(
            indices,
            alternative,
            hist.pixel_colors() if pixels is None else pixels.reshape(height * width, -1),
            palette,
            budget,
            perceptual=pricing,
            pixel_colors=hist.pixel_index,
            in_place=True,
        )
        sse += spent
    return indices, sse


def _dither(
    hist: ColorHistogram,
    palette: np.ndarray,
    shape: tuple[int, int],
    first: np.ndarray,
    second: np.ndarray,
    strength: float,
    pixels: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    height, width = shape
    p1 = palette[first].astype(np.float64)
    step = palette[second].astype(np.float64) - p1
    length = (step * step).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = ((hist.colors - p1) * step).sum(axis=1) / length
    t = np.nan_to_num(np.clip(t * strength, 0.0, 1.0))
    # Fractions in 1/256 steps are plenty against 64 thresholds, and fit the uint8 table.
    fraction = hist.lookup(np.rint(t * 255).astype(np.uint8)).reshape(height, width)
    thresholds = np.tile(BAYER_8 * 255, (height // 8 + 1, width // 8 + 1))[:height, :width]
    take_second = fraction > thresholds
    indices = np.where(
        take_second,
        hist.lookup(second.astype(np.uint8)).reshape(height, width),
        hist.lookup(first.astype(np.uint8)).reshape(height, width),
    )
    if pixels is None:
        pixels = hist.pixel_colors().reshape(height, width, -1)
    return indices, _plane_sse(pixels, palette, indices)
