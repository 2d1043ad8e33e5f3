"""Weighted k-means: seeding, Lloyd iterations, empty clusters, weights as repeated points."""

from __future__ import annotations

import numpy as np
import pytest

from kmcodec.quantization.kmeans import (
    k_means,
    kmeans_plusplus,
    lloyd,
    nearest_two,
    split_init,
)


def _blobs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.array([[20, 20, 20], [200, 40, 40], [40, 200, 40], [40, 40, 200]], float)
    points = np.concatenate([c + rng.normal(0, 3, size=(50, 3)) for c in centres])
    return points, centres


def test_finds_well_separated_clusters() -> None:
    points, centres = _blobs()
    found, labels, inertia = k_means(points, 4, random_state=0)
    order = np.argsort(found[:, 0] * 1e6 + found[:, 1] * 1e3 + found[:, 2])
    expected = np.argsort(centres[:, 0] * 1e6 + centres[:, 1] * 1e3 + centres[:, 2])
    np.testing.assert_allclose(found[order], centres[expected], atol=2.0)
    assert len(np.unique(labels)) == 4
    assert inertia < 200 * 3 * 16  # about 3 * sigma^2 per point


def test_weights_act_as_repeated_points() -> None:
    rng = np.random.default_rng(3)
    points = rng.uniform(0, 255, size=(40, 3))
    weights = rng.integers(1, 5, size=40)
    repeated = np.repeat(points, weights, axis=0)
    seeds = points[:5]
    weighted = lloyd(points, seeds, sample_weight=weights, max_iter=50, tol=0)[0]
    plain = lloyd(repeated, seeds, max_iter=50, tol=0)[0]
    np.testing.assert_allclose(weighted, plain, rtol=1e-6, atol=1e-4)


def test_centres_are_weighted_means_of_their_points_at_convergence() -> None:
    points, _ = _blobs(1)
    weights = np.arange(1, len(points) + 1, dtype=float)
    centres, labels, _, _ = lloyd(points, points[::50], sample_weight=weights, max_iter=100, tol=0)
    for k in range(len(centres)):
        m = labels == k
        np.testing.assert_allclose(
            centres[k], np.average(points[m], axis=0, weights=weights[m]), atol=1e-3
        )


def test_empty_cluster_is_reseeded_at_a_badly_fitted_point() -> None:
    points = np.array([[0, 0, 0], [1, 0, 0], [100, 0, 0], [101, 0, 0]], float)
    # Two centres far from everything: one is left empty after the first assignment.
    seeds = np.array([[50, 0, 0], [1000, 1000, 1000]], float)
    _, labels, inertia, _ = lloyd(points, seeds, max_iter=20, tol=0)
    assert len(np.unique(labels)) == 2
    assert inertia == pytest.approx(1.0)  # {0, 1} and {100, 101}: 4 * 0.5^2


def test_kmeans_plusplus_picks_distinct_data_points_reproducibly() -> None:
    points, _ = _blobs(2)
    a, chosen = kmeans_plusplus(points, 4, random_state=5)
    b, _ = kmeans_plusplus(points, 4, random_state=5)
    np.testing.assert_array_equal(a, b)
    assert len(np.unique(a, axis=0)) == 4
    np.testing.assert_array_equal(points[chosen], a)  # the indices name the points chosen
    # One seed per blob: k-means++ spreads its draws.
    blobs = np.array([[20, 20, 20], [200, 40, 40], [40, 200, 40], [40, 40, 200]])
    labels = nearest_two(a, blobs)[0]
    assert sorted(labels) == [0, 1, 2, 3]


def test_nearest_matches_brute_force_and_breaks_ties_low() -> None:
    rng = np.random.default_rng(4)
    points = rng.integers(0, 256, size=(500, 3)).astype(np.float32)
    centres = rng.integers(0, 256, size=(17, 3)).astype(np.float32)
    labels, second, dist, _ = nearest_two(points, centres)
    brute = ((points[:, None] - centres[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(dist, brute.min(axis=1))
    np.testing.assert_array_equal(brute[np.arange(500), labels], brute.min(axis=1))
    assert (labels != second).all()
    tie = nearest_two(np.array([[5.0, 0, 0]]), np.array([[0.0, 0, 0], [10.0, 0, 0]]))[0]
    assert tie.tolist() == [0]
    # at K = 256 and with ties (each centre twice): the same as the brute force
    centres = np.repeat(rng.integers(0, 256, size=(128, 3)), 2, axis=0).astype(np.float64)
    first, second, d1, d2 = nearest_two(points, centres)
    brute = ((points[:, None] - centres[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(first, brute.argmin(axis=1))
    np.testing.assert_array_equal(second, first + 1)  # its twin, the higher index
    np.testing.assert_array_equal(d1, brute.min(axis=1))
    np.testing.assert_array_equal(d2, d1)


def test_bad_arguments() -> None:
    points, _ = _blobs()
    with pytest.raises(ValueError, match="n_clusters"):
        kmeans_plusplus(points, 0)
    with pytest.raises(ValueError, match="init"):
        k_means(points, 2, init="random-ish")
    with pytest.raises(ValueError, match="shape"):
        k_means(points, 2, init=np.zeros((3, 3)))


def _split_reference(points: np.ndarray, k: int, weights: np.ndarray) -> np.ndarray:
    """split_init's algorithm written plainly: cut the box of largest error (ties: the box made
    first) along its axis of largest variance at the best of 256 equal steps."""
    boxes = [(np.arange(len(points)), 0)]
    made = 1
    done = []
    while boxes and len(boxes) + len(done) < k:

        def error(b):
            x, w = points[b[0]], weights[b[0]]
            mean = (w[:, None] * x).sum(0) / w.sum()
            return (w[:, None] * (x - mean) ** 2).sum()

        box = boxes.pop(max(range(len(boxes)), key=lambda i: (error(boxes[i]), -boxes[i][1])))
        members = box[0]
        x, w = points[members], weights[members]
        mean = (w[:, None] * x).sum(0) / w.sum()
        axis = int(np.argmax((w[:, None] * (x - mean) ** 2).sum(0)))
        low, high = x[:, axis].min(), x[:, axis].max()
        if error(box) <= 1e-9 or high <= low:
            done.append(box)
            continue
        steps = np.minimum(((x[:, axis] - low) * (256 / (high - low))).astype(int), 255)
        best, cut = -np.inf, 0
        for s in range(256):
            left = steps <= s
            if not left.any() or left.all():
                continue
            parts = [(w[m][:, None] * x[m]).sum(0) for m in (left, ~left)]
            score = sum(p @ p / w[m].sum() for p, m in zip(parts, (left, ~left), strict=True))
            if score > best:
                best, cut = score, s
        boxes += [(members[steps <= cut], made), (members[steps > cut], made + 1)]
        made += 2
    return np.array(
        [(weights[m][:, None] * points[m]).sum(0) / weights[m].sum() for m, _ in boxes + done]
    )


@pytest.mark.parametrize("dims", [1, 3, 4])
def test_split_init_cuts_the_worst_box_at_its_best_step(dims: int) -> None:
    rng = np.random.default_rng(dims)
    points = np.round(rng.gamma(2.0, 30.0, size=(300, dims)))
    weights = rng.integers(1, 9, size=300).astype(float)
    found = split_init(points, 12, sample_weight=weights)
    expected = _split_reference(points, 12, weights)
    np.testing.assert_allclose(np.sort(found, axis=0), np.sort(expected, axis=0), rtol=1e-9)


def test_split_init_returns_fewer_centres_only_when_points_run_out() -> None:
    points = np.array([[1.0, 2, 3]] * 5 + [[9.0, 9, 9]] * 5)
    found = split_init(points, 4)
    np.testing.assert_array_equal(np.sort(found, axis=0), [[1, 2, 3], [9, 9, 9]])
    assert len(split_init(points[:1], 1)) == 1
    with pytest.raises(ValueError, match="n_clusters"):
        split_init(points, 11)
    with pytest.raises(ValueError, match="dimensions"):
        split_init(np.zeros((10, 5)), 2)


def _plain_lloyd(points, centers, weights, iterations):
    """Lloyd's algorithm without bounds: every point against every centre."""
    centers = centers.copy()
    for _ in range(iterations):
        d = ((points[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)
        labels = d.argmin(axis=1)
        for k in range(len(centers)):
            members = labels == k
            if members.any():
                w = weights[members]
                centers[k] = (w[:, None] * points[members]).sum(0) / w.sum()
    d = ((points[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)
    return centers, d.argmin(axis=1)


@pytest.mark.parametrize(("k", "dims"), [(2, 3), (16, 3), (64, 3), (40, 4)])
def test_lloyd_with_bounds_matches_plain_lloyd(k: int, dims: int) -> None:
    rng = np.random.default_rng(k)
    points = rng.normal(128, 40, size=(3000, dims))
    weights = rng.integers(1, 20, size=3000).astype(float)
    seeds = split_init(points, k, sample_weight=weights)
    for iterations in (1, 3, 8):
        centers, labels, _, n_iter = lloyd(
            points, seeds, sample_weight=weights, max_iter=iterations, tol=0
        )
        expected, expected_labels = _plain_lloyd(points, seeds, weights, n_iter)
        assert n_iter == iterations
        np.testing.assert_allclose(centers, expected, rtol=0, atol=1e-9)
        np.testing.assert_array_equal(labels, expected_labels)


def test_swap_moves_keep_labels_and_bounds_exact() -> None:
    from kmcodec.quantization.kmeans import _Nearest

    rng = np.random.default_rng(5)
    points = np.round(rng.gamma(3.0, 25.0, size=(2000, 3)))
    weights = np.ones(2000)
    near = _Nearest(points, split_init(points, 24))
    for step in range(20):
        a, b = rng.choice(24, size=2, replace=False)
        near.replace(a, b, rng.uniform(0, 255, 3), near.centers[b] + rng.normal(0, 5, 3))
        if step % 3 == 0:
            near.iterate(weights, 2, 0.0)
        d = np.sqrt(((points[:, None, :] - near.centers[None, :, :]) ** 2).sum(axis=2))
        ordered = np.sort(d, axis=1)
        np.testing.assert_array_equal(near.labels, d.argmin(axis=1))
        assert np.all(near.upper >= ordered[:, 0] - 1e-9)
        assert np.all(near.lower <= ordered[:, 1] + 1e-9)


def test_principal_axis_is_the_top_eigenvector_even_with_close_eigenvalues() -> None:
    from kmcodec.quantization.kmeans import _principal_axis

    rng = np.random.default_rng(3)
    for i in range(300):
        a = rng.normal(size=(3, 3)) * rng.uniform(0.01, 100, size=3)
        cov = a @ a.T
        if i % 3 == 0:  # two nearly equal top eigenvalues: slow for plain power iteration
            w, v = np.linalg.eigh(cov)
            w[-2] = w[-1] * (1 - 1e-3)
            cov = (v * w) @ v.T
        w, v = np.linalg.eigh(cov)
        axis = _principal_axis(cov)
        assert abs(np.linalg.norm(axis) - 1) < 1e-9
        # the variance along it is the largest (where two are this close, any axis in their
        # plane splits as well)
        assert axis @ cov @ axis >= w[-1] * (1 - 1e-6)
        if i % 3:
            assert abs(axis @ v[:, -1]) > 1 - 1e-9
    assert np.isfinite(_principal_axis(np.zeros((3, 3)))).all()


def test_compiled_distances_equal_numpy_and_refuse_bad_labels() -> None:
    from kmcodec.quantization import _kmeans

    rng = np.random.default_rng(9)
    x = rng.uniform(0, 255, size=(500, 4))
    c = rng.uniform(0, 255, size=(7, 4))
    labels = rng.integers(0, 7, size=500).astype(np.int64)
    out = np.empty(500)
    _kmeans.distances(x, 500, c, 7, 4, labels, out)
    np.testing.assert_array_equal(out, ((x - c[labels]) ** 2).sum(axis=1))
    with pytest.raises(ValueError, match="distances"):
        _kmeans.distances(x, 500, c, 7, 4, np.where(labels == 0, 7, labels), out)
    with pytest.raises(ValueError, match="distances"):
        _kmeans.distances(x, 500, c, 7, 4, labels, np.empty(499))
