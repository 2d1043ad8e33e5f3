"""The palette's last step: trade a little squared error for a smaller visible difference.

k-means minimises the squared sRGB error, which PSNR measures. The eye sees something nearer
the distance in Oklab, and a mean of distances (ΔE, :func:`kmcodec.metrics.delta_e_ok`) rather
than a mean of squares. At a k-means optimum the squared error is stationary: moving an entry,
or the border between two entries' colours, a little changes it only to second order, while the
mean Oklab distance changes to first order. So a short step towards a lower ΔE costs far less
PSNR than it gains.

This module takes that step. Starting from the k-means centres it minimises, over the entries
:math:`p_j` and each colour's choice of entry :math:`j(i)`, the mixed cost

.. math:: \\sum_i w_i \\left( \\lVert x_i - p_{j(i)} \\rVert^2
          + \\lambda \\lVert \\mathrm{ok}(x_i) - \\mathrm{ok}(p_{j(i)}) \\rVert \\right)

(:math:`x` in sRGB 0-255, :math:`\\mathrm{ok}` Oklab scaled by 255), with
:math:`\\lambda = \\text{weight} \\times` the root-mean-square error per pixel of the k-means
palette, so that the two terms keep the same balance at every palette size. Each round:

1. each colour takes the cheaper of its two nearest centres in sRGB (the entry that is nearest
   in the mixed cost is one of them for all but a few colours);
2. each entry moves to the minimum of its colours' cost, by one step of iteratively
   reweighted least squares (Weiszfeld's algorithm for the distance term) with Oklab
   linearised around the entry, :math:`\\mathrm{ok}(x) - \\mathrm{ok}(p) \\approx J (x - p)`:
   with :math:`d_i` the colours' current Oklab distances and :math:`M = J^T J`,

   .. math:: p \\leftarrow \\Big(2 W I + \\lambda M \\sum_i \\tfrac{w_i}{d_i}\\Big)^{-1}
             \\Big(2 \\sum_i w_i x_i + \\lambda M \\sum_i \\tfrac{w_i x_i}{d_i}\\Big).

The remap (:func:`.remap.remap`) then gives each pixel its entry by the same cost
(:meth:`MixedCost.choose`), and its smoothing prices a switch by it. The two candidates are
found once, for the k-means centres: the centres move by a few levels here, and searching the
final palette again changed the result by 0.04% of ΔE or less, for a search that costs three
times all of this step's rounds. Alpha, where there is one, counts in the squared term only.

The weight trades PSNR for ΔE; the default, 3, keeps the PSNR within 0.07 dB of
scikit-learn's converged k-means. The measurements behind it are in the design notes
(docs/design/how-it-works.md, "The perceptual weight, measured").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .colorspace import srgb_to_oklab, srgb_values_to_oklab
from .kmeans import nearest_two

__all__ = ["DEFAULT_WEIGHT", "ROUNDS", "MixedCost", "refine"]

#: Default weight of the Oklab distance (see the module's table).
DEFAULT_WEIGHT = 3.0
#: Rounds of choosing and moving. On 12 Kodak photos 2 rounds came within 0.1% of 4 rounds'
#: ΔE at K = 16, 64 and 256 (1 round within 0.5%); each costs 0.5-2 ms.
ROUNDS = 2
#: Smallest Oklab distance (0-255 scale) a colour's weight is computed from, so that a colour
#: lying on its entry does not take all of the weight (the usual guard in Weiszfeld's
#: algorithm).
_NEAR = 0.25
#: Step (sRGB levels) of the central differences that give Oklab's Jacobian at each entry.
_STEP = 0.5
#: Colours converted to Oklab at a time.
_BLOCK = 1 << 16


@dataclass(frozen=True)
class MixedCost:
    """How an image's colours choose their entries after :func:`refine`.

    Attributes
    ----------
    lam : float
        Factor of the Oklab distance in the cost.
    oklab : ndarray of float32, shape (N, 3)
        Every distinct colour's Oklab coordinates (scaled by 255).
    first, second : ndarray of uint8, shape (N,)
        Each colour's two candidate entries, as indices into the palette (the reserved entries,
        then the centres in their order).

    Notes
    -----
    Kept in float32 and uint8 (14 bytes a colour): a 24 MP photo has 1.4 million colours, and
    the remap holds this while it smooths.
    """

    lam: float
    oklab: np.ndarray
    first: np.ndarray
    second: np.ndarray

    def choose(
        self, colors: np.ndarray, palette: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each colour's entry (the candidate of lower cost; ties: the nearer in sRGB), the
        other candidate, and how much farther that one is in Oklab.

        Parameters
        ----------
        colors : ndarray of uint8, shape (N, C)
            The colours :func:`refine` was given.
        palette : ndarray of uint8, shape (K, C)
            The palette as stored, in the order of :attr:`first` and :attr:`second`.

        Returns
        -------
        chosen, other : ndarray of uint8, shape (N,)
        gap : ndarray of float32, shape (N,)
            Oklab distance to ``other`` less that to ``chosen`` (what the smoothing prices a
            switch by, :func:`.remap.smooth_indices`).
        """
        chosen, other, gap = _cheaper(
            colors.astype(np.float64), self.oklab, palette.astype(np.float64), self.first,
            self.second, self.lam,
        )  # fmt: skip
        return chosen, other, gap


def _cheaper(
    x: np.ndarray,
    oklab: np.ndarray,
    p: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    lam: float,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, ...]:
    """Of two candidate entries per colour, the one of lower mixed cost (ties: ``a``), the
    other and the Oklab gap between them (the other's distance less the chosen one's); with
    ``weights``, instead of the gap, each entry's sums of w, w x, w / d and w x / d over the
    colours that took it (d: the Oklab distance, at least :data:`_NEAR`). Compiled
    (``_kmeans.c``): in numpy the gathers of every colour's two entries took 6 ms a round on a
    photo."""
    from . import _kmeans

    n, dims = x.shape
    k = len(p)
    centers = np.ascontiguousarray(p, dtype=np.float64)
    lab = np.ascontiguousarray(srgb_values_to_oklab(centers[:, :3]))
    chosen = np.empty(n, dtype=np.uint8)
    other = np.empty(n, dtype=np.uint8)
    if weights is None:
        w: bytes | np.ndarray = b""
        gap: np.ndarray | bytearray = np.empty(n, dtype=np.float32)
        count: np.ndarray | bytearray
        sums: np.ndarray | bytearray
        inv: np.ndarray | bytearray
        inv_sums: np.ndarray | bytearray
        count = sums = inv = inv_sums = bytearray()  # not written
    else:
        w = np.ascontiguousarray(weights, dtype=np.float64)
        gap = bytearray()  # not written
        count, inv = np.empty(k), np.empty(k)
        sums, inv_sums = np.empty((k, dims)), np.empty((k, dims))
    _kmeans.cheaper(
        np.ascontiguousarray(x, dtype=np.float64), np.ascontiguousarray(oklab, dtype=np.float32),
        w, n, dims, centers, lab, k, float(lam), np.ascontiguousarray(a, dtype=np.uint8),
        np.ascontiguousarray(b, dtype=np.uint8), chosen, other, gap, _NEAR, count, sums, inv,
        inv_sums,
    )  # fmt: skip
    if weights is None:
        return chosen, other, np.asarray(gap)
    return chosen, np.asarray(count), np.asarray(sums), np.asarray(inv), np.asarray(inv_sums)


def _metrics(palette: np.ndarray) -> np.ndarray:
    """Each entry's :math:`M = J^T J`, J the Jacobian of sRGB -> Oklab there (by central
    differences of :data:`_STEP` levels, one-sided at 0 and 255); (K, C, C), the alpha row and
    column 0."""
    k, channels = palette.shape
    rgb = palette[:, :3]
    steps = _STEP * np.eye(3)
    high = np.minimum(rgb[None] + steps[:, None], 255.0)  # (3, K, 3): channel c stepped up
    low = np.maximum(rgb[None] - steps[:, None], 0.0)
    ends = srgb_values_to_oklab(np.concatenate([high, low]).reshape(-1, 3)).reshape(2, 3, k, 3)
    span = np.einsum("ckc->ck", high - low)  # the step actually taken in each channel
    jac = np.moveaxis((ends[0] - ends[1]) / span[:, :, None], 0, -1)  # (K, 3 Oklab, 3 sRGB)
    m = np.zeros((k, channels, channels))
    m[:, :3, :3] = np.einsum("kji,kjl->kil", jac, jac)
    return m


def refine(
    colors: np.ndarray,
    weights: np.ndarray,
    centers: np.ndarray,
    weight: float = DEFAULT_WEIGHT,
    *,
    held: int = 0,
    rounds: int = ROUNDS,
) -> tuple[np.ndarray, MixedCost | None]:
    """Move k-means centres to lower the mixed cost (see the module's docstring).

    Parameters
    ----------
    colors : ndarray of uint8, shape (N, C)
        Distinct colours, sRGB(A).
    weights : ndarray of float64, shape (N,)
        Their weights, all positive: pixel counts, or before error diffusion the palette
        search's importance counts (:func:`.quantize.importance_counts`).
    centers : ndarray of float64, shape (K, C)
        k-means centres in sRGB(A), 0-255; at most 256 with the reserved entries.
    weight : float, default=DEFAULT_WEIGHT
        Weight of the Oklab distance; 0 returns the centres as they are.
    held : int, default=0
        The first ``held`` colours are held by as many reserved entries placed before the
        centres in the palette (the fully transparent entry); they take no part here.
    rounds : int, default=ROUNDS

    Returns
    -------
    centers : ndarray of float64, shape (K, C)
        The centres moved, within 0-255 (not yet rounded).
    cost : MixedCost or None
        How the colours choose their entries in the palette ``[reserved entries, centres]``;
        None if nothing was done (``weight`` 0, fewer than 2 centres, or no more colours than
        centres): then each colour takes its nearest entry.
    """
    k, channels = centers.shape
    if weight <= 0 or k < 2 or len(colors) - held <= k:
        return centers, None
    x = colors[held:].astype(np.float64)
    w = np.ascontiguousarray(weights[held:], dtype=np.float64)
    nearest, next_nearest, d1, _ = nearest_two(x, centers)
    lam = weight * float(np.sqrt(np.einsum("i,i->", w, d1) / w.sum()))  # no BLAS
    del d1
    first, second = nearest.astype(np.uint8), next_nearest.astype(np.uint8)
    del nearest, next_nearest
    oklab = np.empty((len(colors), 3), dtype=np.float32)
    for start in range(0, len(colors), _BLOCK):  # without float64 temporaries of every colour
        oklab[start : start + _BLOCK] = srgb_to_oklab(colors[start : start + _BLOCK, :3])
    p = np.array(centers, dtype=np.float64)
    eye = np.eye(channels)
    for _ in range(rounds):
        _, count, sums, inverse, near_sums = _cheaper(
            x, oklab[held:], np.rint(p), first, second, lam, w
        )
        kept = count > 0
        m = _metrics(p)
        a = 2 * count[:, None, None] * eye + lam * m * inverse[:, None, None]
        b = 2 * sums + lam * np.einsum("kij,kj->ki", m, near_sums)
        p[kept] = np.linalg.solve(a[kept], b[kept][:, :, None])[:, :, 0]
        np.clip(p, 0.0, 255.0, out=p)
    own = np.arange(held, dtype=np.uint8)  # a reserved colour keeps its entry
    cost = MixedCost(
        lam, oklab, np.concatenate([own, first + held]), np.concatenate([own, second + held])
    )
    return p, cost
