"""sRGB <-> Oklab, as k-means and the Oklab colour difference use them."""

from __future__ import annotations

import numpy as np

from kmcodec.quantization.colorspace import (
    SCALE,
    from_space,
    oklab_to_srgb,
    srgb_to_oklab,
    srgb_values_to_oklab,
    to_space,
)


def test_known_oklab_values() -> None:
    # Björn Ottosson's published values: white L=1, a=b=0; sRGB red (0.627955, 0.224863, 0.125846)
    lab = srgb_to_oklab(np.array([[255, 255, 255], [255, 0, 0], [0, 0, 0]], dtype=np.uint8))
    np.testing.assert_allclose(lab[0] / SCALE, [1.0, 0.0, 0.0], atol=1e-4)
    np.testing.assert_allclose(lab[1] / SCALE, [0.627955, 0.224863, 0.125846], atol=1e-4)
    np.testing.assert_allclose(lab[2], [0.0, 0.0, 0.0], atol=1e-9)


def test_every_grey_and_random_colours_round_trip_exactly_after_rounding() -> None:
    grey = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
    rng = np.random.default_rng(3)
    colors = np.concatenate([grey, rng.integers(0, 256, size=(5000, 3), dtype=np.uint8)])
    back = np.rint(oklab_to_srgb(srgb_to_oklab(colors)))
    np.testing.assert_array_equal(back, colors)


def test_greys_are_neutral_and_lightness_increases() -> None:
    grey = np.repeat(np.arange(0, 256, 15, dtype=np.uint8)[:, None], 3, axis=1)
    lab = srgb_to_oklab(grey)
    np.testing.assert_allclose(lab[:, 1:], 0.0, atol=1e-3)
    assert (np.diff(lab[:, 0]) > 0).all()


def test_alpha_is_carried_unchanged_through_either_space() -> None:
    rgba = np.array([[10, 20, 30, 0], [200, 100, 50, 128]], dtype=np.uint8)
    for space in ("rgb", "oklab"):
        points = to_space(rgba, space)
        assert points.shape == (2, 4)
        np.testing.assert_array_equal(points[:, 3], [0, 128])
        np.testing.assert_allclose(from_space(points, space), rgba, atol=1e-6)


def test_fractional_srgb_values_convert_as_integers_do_and_in_between() -> None:
    colors = np.random.default_rng(5).integers(0, 256, size=(500, 3)).astype(np.uint8)
    exact = srgb_to_oklab(colors)
    np.testing.assert_allclose(srgb_values_to_oklab(colors.astype(float)), exact, atol=1e-9)
    halfway = srgb_values_to_oklab(np.minimum(colors.astype(float) + 0.5, 255.0))
    upper = srgb_to_oklab(np.minimum(colors.astype(int) + 1, 255).astype(np.uint8))
    # Lightness is monotone in each channel: a half step lies between the two integers.
    assert np.all(halfway[:, 0] >= exact[:, 0] - 1e-9) and np.all(
        halfway[:, 0] <= upper[:, 0] + 1e-9
    )
    np.testing.assert_array_equal(
        srgb_values_to_oklab(np.array([[-5.0, 300.0, 128.0]])),
        srgb_to_oklab(np.array([[0, 255, 128]], dtype=np.uint8)),
    )
