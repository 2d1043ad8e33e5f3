"""Distinct colours, their counts, the look-up back to pixels, and posterised bins."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from kmcodec.quantization.histogram import color_codes, colors_from_codes, histogram, posterize


def test_counts_the_distinct_colours_of_a_small_image() -> None:
    pixels = np.array(
        [[[1, 2, 3], [1, 2, 3], [9, 9, 9]], [[0, 0, 0], [1, 2, 3], [9, 9, 9]]], dtype=np.uint8
    )
    hist = histogram(pixels)
    assert hist.colors.tolist() == [[0, 0, 0], [1, 2, 3], [9, 9, 9]]
    assert hist.counts.tolist() == [1, 3, 2]
    assert len(hist) == 3 and hist.channels == 3
    # each distinct colour's label, spread back to its pixels
    assert hist.lookup(np.array([7, 8, 9])).reshape(2, 3).tolist() == [[8, 8, 9], [7, 8, 9]]


@given(arrays(np.uint8, st.tuples(st.integers(1, 9), st.integers(1, 9), st.sampled_from([3, 4]))))
def test_histogram_matches_numpy_unique_and_lookup_rebuilds_the_image(pixels) -> None:
    hist = histogram(pixels)
    flat = pixels.reshape(-1, pixels.shape[2])
    colors, counts = np.unique(flat, axis=0, return_counts=True)
    # codes sort as big-endian RGB(A), as np.unique's rows do
    np.testing.assert_array_equal(hist.colors, colors)
    np.testing.assert_array_equal(hist.counts, counts)
    assert int(hist.counts.sum()) == flat.shape[0]
    if len(hist) <= 256:
        labels = hist.lookup(np.arange(len(hist), dtype=np.uint8))
        np.testing.assert_array_equal(hist.colors[labels], flat)


def test_codes_round_trip_for_rgb_and_rgba() -> None:
    rng = np.random.default_rng(1)
    for channels in (3, 4):
        colors = rng.integers(0, 256, size=(50, channels), dtype=np.uint8)
        np.testing.assert_array_equal(colors_from_codes(color_codes(colors), channels), colors)
    assert int(color_codes(np.array([[1, 2, 3]], np.uint8))[0]) == 0x010203


def test_posterize_merges_bins_into_weighted_means() -> None:
    points = np.array([[0, 0, 0], [15, 0, 0], [255, 255, 255]], dtype=np.float64)
    weights = np.array([1.0, 3.0, 2.0])
    means, totals = posterize(points, weights, 4)  # 0 and 15 share the top 4 bits
    assert totals.tolist() == [4.0, 2.0]
    np.testing.assert_allclose(means, [[11.25, 0, 0], [255, 255, 255]])
    # keeping all 8 bits merges nothing
    means8, totals8 = posterize(points, weights, 8)
    np.testing.assert_array_equal(means8, points)
    np.testing.assert_array_equal(totals8, weights)


@given(st.integers(0, 2**32 - 1), st.sampled_from([3, 4]))
def test_each_pixel_finds_its_distinct_colour(seed, channels) -> None:
    rng = np.random.default_rng(seed)
    # many colours, spread over the whole code space and clustered, as in photos
    spread = rng.integers(0, 256, size=(300, 200, channels), dtype=np.uint8)
    clustered = np.clip(rng.normal(128, 6, size=(300, 200, channels)), 0, 255).astype(np.uint8)
    pixels = np.concatenate([spread, clustered])
    hist = histogram(pixels)
    flat = pixels.reshape(-1, channels)
    np.testing.assert_array_equal(hist.colors[hist.pixel_index], flat)
    np.testing.assert_array_equal(hist.pixel_colors(), flat)
