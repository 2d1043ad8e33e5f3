"""Weighted k-means on colour points, written with numpy only.

The points are an image's distinct colours and the weights their pixel counts (see
:mod:`kmcodec.histogram`), so each Lloyd iteration costs O(distinct colours * K) rather than
O(pixels * K). The API follows scikit-learn's ``k_means`` and ``kmeans_plusplus``.

References
----------
.. [1] D. Arthur and S. Vassilvitskii, "k-means++: the advantages of careful seeding",
   SODA 2007.
.. [2] S. P. Lloyd, "Least squares quantization in PCM", IEEE Trans. Inf. Theory 28(2), 1982.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["assign", "k_means", "kmeans_plusplus", "lloyd"]

#: Distances are computed for at most this many (point, centre) pairs at once, which bounds the
#: temporary memory at about 16 MB of float32 whatever the image size.
_BLOCK_PAIRS = 1 << 22


def _as_rng(random_state: int | np.random.Generator | None) -> np.random.Generator:
    if isinstance(random_state, np.random.Generator):
        return random_state
    return np.random.default_rng(random_state)


def assign(
    points: np.ndarray, centers: np.ndarray, *, return_distances: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Find the nearest centre of each point (squared Euclidean distance).

    Parameters
    ----------
    points : ndarray of float32, shape (N, D)
    centers : ndarray, shape (K, D)
    return_distances : bool, default=True
        Also return each point's squared distance to its centre.

    Returns
    -------
    labels : ndarray of intp, shape (N,)
        The index of the nearest centre; ties go to the lowest index.
    distances : ndarray of float32, shape (N,)
        Squared distances to those centres (empty if ``return_distances`` is False).
    """
    points = np.asarray(points, dtype=np.float32)
    centers = np.asarray(centers, dtype=np.float32)
    n = len(points)
    # |x - c|^2 = |x|^2 - 2 x.c + |c|^2; the |x|^2 term does not change the argmin.
    half_norms = 0.5 * np.einsum("ij,ij->i", centers, centers)
    labels = np.empty(n, dtype=np.intp)
    dist = np.empty(n if return_distances else 0, dtype=np.float32)
    block = max(1, _BLOCK_PAIRS // max(1, len(centers)))
    for start in range(0, n, block):
        x = points[start : start + block]
        score = x @ centers.T
        np.subtract(half_norms, score, out=score)  # |c|^2/2 - x.c, same argmin as |x - c|^2
        lab = score.argmin(axis=1)
        labels[start : start + block] = lab
        if return_distances:
            best = np.take_along_axis(score, lab[:, None], axis=1)[:, 0]
            d = 2.0 * best + np.einsum("ij,ij->i", x, x)
            dist[start : start + block] = np.maximum(d, 0.0)
    return labels, dist


def _sq_dist_to(points: np.ndarray, center: np.ndarray) -> np.ndarray:
    diff = points - center
    return np.einsum("ij,ij->i", diff, diff)


def kmeans_plusplus(
    points: np.ndarray,
    n_clusters: int,
    *,
    sample_weight: np.ndarray | None = None,
    random_state: int | np.random.Generator | None = None,
    n_local_trials: int | None = None,
) -> np.ndarray:
    """Choose initial centres by greedy weighted k-means++.

    Each new centre is drawn with probability proportional to ``weight * D(x)^2``, where D is the
    distance to the nearest centre chosen so far; of ``n_local_trials`` such draws the one that
    lowers the total weighted error most is kept (the greedy variant scikit-learn uses).

    Parameters
    ----------
    points : ndarray of shape (N, D)
    n_clusters : int
        Number of centres, at most N.
    sample_weight : ndarray of shape (N,), default=None
        Weight of each point (its pixel count); all ones if None.
    random_state : int, Generator or None, default=None
        Seeds the draws, for reproducible results.
    n_local_trials : int, default=None
        Draws per centre; ``2 + int(log(n_clusters))`` if None.

    Returns
    -------
    ndarray of float64, shape (n_clusters, D)
    """
    x = np.asarray(points, dtype=np.float64)
    n = len(x)
    if not 1 <= n_clusters <= n:
        msg = f"n_clusters must be 1 to the number of points ({n}), got {n_clusters}"
        raise ValueError(msg)
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    rng = _as_rng(random_state)
    trials = n_local_trials if n_local_trials is not None else 2 + int(math.log(n_clusters))
    centers = np.empty((n_clusters, x.shape[1]))
    cum_w = np.cumsum(w)
    first = min(int(np.searchsorted(cum_w, rng.uniform() * cum_w[-1], side="right")), n - 1)
    centers[0] = x[first]
    closest = _sq_dist_to(x, x[first])
    for c in range(1, n_clusters):
        cum = np.cumsum(w * closest)
        draws = rng.uniform(size=trials) * cum[-1]
        candidates = np.minimum(np.searchsorted(cum, draws, side="right"), n - 1)
        best_pot, best_dist, best_id = math.inf, closest, candidates[0]
        for cand in candidates:  # a few trials per centre, each vectorised over all points
            d = np.minimum(closest, _sq_dist_to(x, x[cand]))
            pot = float(w @ d)
            if pot < best_pot:
                best_pot, best_dist, best_id = pot, d, cand
        centers[c] = x[best_id]
        closest = best_dist
    return centers


def lloyd(
    points: np.ndarray,
    centers: np.ndarray,
    *,
    sample_weight: np.ndarray | None = None,
    max_iter: int = 100,
    tol: float = 0.1,
) -> tuple[np.ndarray, np.ndarray, float, int]:
    """Refine centres with weighted Lloyd iterations.

    Each iteration assigns every point to its nearest centre and moves each centre to the
    weighted mean of its points. A centre left with no points is moved to the point with the
    largest weighted error, so no palette entry is wasted.

    Parameters
    ----------
    points : ndarray of shape (N, D)
    centers : ndarray of shape (K, D)
        Initial centres.
    sample_weight : ndarray of shape (N,), default=None
    max_iter : int, default=100
        Most iterations to run.
    tol : float, default=0.1
        Stop once no centre moves more than this (Euclidean, in the points' units: 0-255 for
        colours).

    Returns
    -------
    centers : ndarray of float64, shape (K, D)
    labels : ndarray of intp, shape (N,)
    inertia : float
        Weighted sum of squared distances to the nearest centre.
    n_iter : int
        Iterations run.
    """
    x32 = np.asarray(points, dtype=np.float32)
    n, dims = x32.shape
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    c = np.array(centers, dtype=np.float64)
    k = len(c)
    labels, dist = assign(x32, c)
    n_iter = 0
    while n_iter < max_iter:
        n_iter += 1
        weight = np.bincount(labels, weights=w, minlength=k)
        sums = np.stack(
            [np.bincount(labels, weights=w * x32[:, j], minlength=k) for j in range(dims)], axis=1
        )
        empty = np.flatnonzero(weight == 0)
        if len(empty):
            # Re-seed each empty cluster at one of the worst-fitted points (largest weighted
            # error), taking that point's weight away from the cluster it leaves.
            worst = np.argsort(-(w * dist), kind="stable")[: len(empty)]
            for e, p in zip(empty, worst, strict=False):
                weight[labels[p]] -= w[p]
                sums[labels[p]] -= w[p] * x32[p]
                weight[e], sums[e] = w[p], w[p] * x32[p]
        new = c.copy()
        filled = weight > 0
        new[filled] = sums[filled] / weight[filled, None]
        shift = float(np.sqrt(((new - c) ** 2).sum(axis=1).max()))
        c = new
        labels, dist = assign(x32, c)
        if shift <= tol:
            break
    inertia = float(w @ dist)
    return c, labels, inertia, n_iter


def k_means(
    points: np.ndarray,
    n_clusters: int,
    *,
    sample_weight: np.ndarray | None = None,
    init: str | np.ndarray = "k-means++",
    max_iter: int = 100,
    tol: float = 0.1,
    random_state: int | np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Cluster weighted points with k-means.

    Parameters
    ----------
    points : ndarray of shape (N, D)
    n_clusters : int
        Number of clusters, 1 to N.
    sample_weight : ndarray of shape (N,), default=None
    init : {"k-means++"} or ndarray of shape (n_clusters, D), default="k-means++"
        How to seed: greedy weighted k-means++, or the given centres.
    max_iter : int, default=100
    tol : float, default=0.1
        See :func:`lloyd`.
    random_state : int, Generator or None, default=None

    Returns
    -------
    centers : ndarray of float64, shape (n_clusters, D)
    labels : ndarray of intp, shape (N,)
    inertia : float
    """
    if isinstance(init, str):
        if init != "k-means++":
            msg = f"init must be 'k-means++' or an array of centres, got {init!r}"
            raise ValueError(msg)
        seeds = kmeans_plusplus(
            points, n_clusters, sample_weight=sample_weight, random_state=random_state
        )
    else:
        seeds = np.asarray(init, dtype=np.float64)
        if seeds.shape != (n_clusters, np.shape(points)[1]):
            msg = f"init has shape {seeds.shape}, expected ({n_clusters}, {np.shape(points)[1]})"
            raise ValueError(msg)
    centers, labels, inertia, _ = lloyd(
        points, seeds, sample_weight=sample_weight, max_iter=max_iter, tol=tol
    )
    return centers, labels, inertia
