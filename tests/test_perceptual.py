"""The palette's last step for the eye (kmcodec.quantization.perceptual): the mixed cost of
squared sRGB error and Oklab distance, lowered by moving the k-means centres, and each colour's
choice of entry by it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import kmcodec
from kmcodec.metrics import delta_e_ok
from kmcodec.quantization import _kmeans
from kmcodec.quantization.colorspace import srgb_to_oklab, srgb_values_to_oklab
from kmcodec.quantization.histogram import histogram
from kmcodec.quantization.kmeans import lloyd, nearest_two
from kmcodec.quantization.perceptual import refine
from kmcodec.quantization.remap import smooth_indices


def _costs(colors: np.ndarray, palette: np.ndarray, labels: np.ndarray, lam: float) -> np.ndarray:
    """Each colour's mixed cost with the entry ``labels`` gives it (numpy, from the
    definition)."""
    x, p = colors.astype(float), palette.astype(float)
    sq = ((x - p[labels]) ** 2).sum(axis=1)
    ok = srgb_to_oklab(colors[:, :3]) - srgb_values_to_oklab(p[:, :3])[labels]
    return sq + lam * np.sqrt((ok**2).sum(axis=1))


def _centres(photo: np.ndarray, k: int):
    hist = histogram(photo)
    weights = hist.counts.astype(float)
    seeds = hist.colors[np.linspace(0, len(hist) - 1, k).astype(int)].astype(float)
    centers = lloyd(hist.colors.astype(float), seeds, sample_weight=weights, max_iter=30)[0]
    return hist, weights, centers


def test_weight_zero_leaves_the_centres_and_gives_the_nearest_entry(photo: np.ndarray) -> None:
    hist, weights, centers = _centres(photo, 8)
    moved, cost = refine(hist.colors, weights, centers, 0.0)
    assert moved is centers and cost is None
    q = kmcodec.quantize(photo, 8, perceptual=0, smooth=0)
    d = ((photo.reshape(-1, 1, 3).astype(int) - q.palette[None].astype(int)) ** 2).sum(-1)
    np.testing.assert_array_equal(d[np.arange(len(d)), q.indices.reshape(-1)], d.min(axis=1))


@pytest.mark.parametrize("k", [4, 16, 64])
def test_refine_lowers_the_mixed_cost_it_is_for(photo: np.ndarray, k: int) -> None:
    hist, weights, centers = _centres(photo, k)
    moved, cost = refine(hist.colors, weights, centers, 3.0)
    assert cost is not None and cost.lam > 0
    # Before: the rounded k-means centres, each colour taking the cheaper of its two nearest.
    start = np.rint(centers).astype(np.uint8)
    first, second, _, _ = nearest_two(hist.colors.astype(float), start.astype(float))
    lam = cost.lam
    take = _costs(hist.colors, start, second, lam) < _costs(hist.colors, start, first, lam)
    before = weights @ _costs(hist.colors, start, np.where(take, second, first), lam)
    palette = np.rint(moved).astype(np.uint8)
    chosen, _, _ = cost.choose(hist.colors, palette)
    after = weights @ _costs(hist.colors, palette, chosen, cost.lam)
    assert after < before


def test_each_colour_takes_the_cheaper_of_its_two_candidates(photo: np.ndarray) -> None:
    hist, weights, centers = _centres(photo, 16)
    moved, cost = refine(hist.colors, weights, centers, 5.0)
    palette = np.rint(moved).astype(np.uint8)
    chosen, other, gap = cost.choose(hist.colors, palette)
    pairs = np.sort(np.stack([chosen, other]), axis=0)
    np.testing.assert_array_equal(pairs, np.sort(np.stack([cost.first, cost.second]), axis=0))
    mine = _costs(hist.colors, palette, chosen, cost.lam)
    theirs = _costs(hist.colors, palette, other, cost.lam)
    assert np.all(mine <= theirs + 1e-9)
    lab = srgb_to_oklab(palette)
    expected = np.sqrt(((cost.oklab - lab[other]) ** 2).sum(axis=1)) - np.sqrt(
        ((cost.oklab - lab[chosen]) ** 2).sum(axis=1)
    )
    np.testing.assert_allclose(gap, expected, atol=1e-4)
    assert np.any(chosen != cost.first)  # the eye's cost changed some choices


@pytest.mark.parametrize("k", [8, 32])
def test_the_default_lowers_delta_e_for_a_little_psnr(photo: np.ndarray, k: int) -> None:
    plain = kmcodec.quantize(photo, k, perceptual=0)
    eye = kmcodec.quantize(photo, k)
    assert delta_e_ok(photo, eye.image()) < delta_e_ok(photo, plain.image())
    assert eye.psnr > plain.psnr - 0.15
    assert eye.mse == pytest.approx(kmcodec.metrics.mse(photo, eye.image()), rel=1e-12)


def test_transparent_pixels_keep_their_reserved_entry(photo: np.ndarray) -> None:
    rgba = np.dstack([photo, np.full(photo.shape[:2], 255, np.uint8)])
    rgba[:40, :40] = 0
    rgba[40:80, :, 3] = 128
    q = kmcodec.quantize(rgba, 12)
    out = q.image()
    assert np.all(out[:40, :40] == 0)
    assert np.all(out[40:80, 40:, 3] > 0)  # no visible pixel became transparent
    assert len(q.palette) == 12


def test_the_same_options_give_the_same_bytes(photo: np.ndarray) -> None:
    assert kmcodec.encode(photo, 24) == kmcodec.encode(photo.copy(), 24)


@given(
    st.lists(st.tuples(*[st.integers(0, 255)] * 4, st.integers(1, 50)), min_size=3, max_size=60),
    st.integers(2, 8),
    st.floats(0.1, 20),
    st.booleans(),
)
def test_refine_keeps_centres_in_range_and_choices_valid(colors, k, weight, alpha) -> None:
    channels = 4 if alpha else 3
    arr, first = np.unique(
        np.array([c[:channels] for c in colors], dtype=np.uint8), axis=0, return_index=True
    )
    weights = np.array([colors[i][4] for i in first], dtype=float)  # each colour's pixel count
    if len(arr) <= k:
        return
    centers = arr[np.linspace(0, len(arr) - 1, k).astype(int)].astype(float) + 0.3
    moved, cost = refine(arr, weights, centers, weight)
    assert moved.shape == centers.shape
    assert np.all((moved >= 0) & (moved <= 255)) and np.all(np.isfinite(moved))
    chosen, other, _ = cost.choose(arr, np.rint(moved).astype(np.uint8))
    assert chosen.max() < k and other.max() < k
    assert np.all((chosen == cost.first) | (chosen == cost.second))


def test_the_compiled_choice_refuses_bad_buffers() -> None:
    x = np.zeros((4, 3))
    lab = np.zeros((4, 3), dtype=np.float32)
    cen = np.zeros((2, 3))
    a = np.zeros(4, dtype=np.uint8)
    out1, out2 = np.empty(4, dtype=np.uint8), np.empty(4, dtype=np.uint8)
    empty = [bytearray()] * 4
    gap = np.empty(4, dtype=np.float32)

    def call(n=4, lab=lab, a=a, weights=b"", gap=gap) -> None:
        args = (x, lab, weights, n, 3, cen, cen, 2, 1.0, a, a, out1, out2, gap, 0.25, *empty)
        _kmeans.cheaper(*args)

    call()
    with pytest.raises(ValueError, match="cheaper"):
        call(a=a + 2)  # a candidate beyond the palette
    with pytest.raises(ValueError, match="cheaper"):
        call(n=5)  # more points than given
    with pytest.raises(ValueError, match="cheaper"):
        call(lab=lab.astype(np.float64))  # Oklab in float32
    with pytest.raises(ValueError, match="cheaper"):
        call(weights=np.ones(4))  # weights without their sums
    with pytest.raises(ValueError, match="cheaper"):
        call(gap=np.empty(3, dtype=np.float32))  # a gap for too few points


def test_smoothing_does_not_switch_back_an_entry_chosen_for_the_eye_first() -> None:
    # Two pixels could switch to the entry their neighbours hold (with no budget). Pixel A got
    # entry 1 for the eye although entry 0 is nearer in sRGB: switching back gives 20 of
    # squared error back. Pixel B has its nearest entry, 1: switching costs 40.
    palette = np.array([[100, 100, 100], [110, 100, 100]], dtype=np.uint8)
    colours = np.array([[100, 100, 100], [104, 100, 100], [107, 100, 100]], dtype=np.uint8)
    plane = np.zeros((3, 7), dtype=np.int64)  # which colour each pixel has
    plane[1, 1], plane[1, 5] = 1, 2  # A, B
    indices = np.where(plane > 0, 1, 0).astype(np.uint8)
    alternative = np.where(plane > 0, 0, 1).astype(np.uint8)
    pixels = colours[plane.reshape(-1)]
    plain, _ = smooth_indices(indices, alternative, pixels, palette, 0.0)
    assert plain[1, 1] == 0 and plain[1, 5] == 1  # A switched back, for free
    # Priced with the eye's cost (lam 10; A's other entry is 10 farther in Oklab, B's 0.5):
    # A's switch costs -20 + 100, B's 40 + 5; B comes first and exceeds the budget.
    gap = np.array([1.0, 10.0, 0.5])
    priced, spent = smooth_indices(
        indices, alternative, pixels, palette, 0.0,
        perceptual=(10.0, np.array([0, 1, 1], np.uint8), gap.astype(np.float32)),
        pixel_colors=plane.reshape(-1),
    )  # fmt: skip
    assert priced[1, 1] == 1 and priced[1, 5] == 1 and spent == 0
