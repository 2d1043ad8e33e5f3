"""Quality measures against independent implementations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kmcodec.metrics import blurred_delta_e, delta_e_ok, mse, psnr, ssim


def test_psnr_matches_the_formula(photo) -> None:
    rng = np.random.default_rng(0)
    noisy = np.clip(photo.astype(int) + rng.integers(-9, 10, photo.shape), 0, 255).astype(np.uint8)
    expected = 10 * np.log10(255**2 / np.mean((photo.astype(float) - noisy) ** 2))
    assert psnr(photo, noisy) == pytest.approx(expected)
    assert psnr(photo, photo) == np.inf
    assert mse(photo, photo) == 0


def test_ssim_agrees_with_scikit_image(photo) -> None:
    metrics = pytest.importorskip("skimage.metrics")
    rng = np.random.default_rng(1)
    for sigma in (3, 12, 40):
        noisy = np.clip(photo + rng.normal(0, sigma, photo.shape), 0, 255).astype(np.uint8)
        ours = ssim(photo, noisy)
        theirs = metrics.structural_similarity(
            photo,
            noisy,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=255,
            channel_axis=2,
        )
        assert abs(ours - theirs) < 0.002
    assert ssim(photo, photo) == pytest.approx(1.0)


def test_ssim_of_grey_images_and_shape_checks(photo) -> None:
    grey = photo[..., 1]
    assert ssim(grey, grey) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="shape"):
        ssim(photo, grey)


def test_delta_e_is_zero_for_identical_and_grows_with_error(photo) -> None:
    assert delta_e_ok(photo, photo) == 0
    shifted = np.clip(photo.astype(int) + 20, 0, 255).astype(np.uint8)
    slightly = np.clip(photo.astype(int) + 2, 0, 255).astype(np.uint8)
    assert delta_e_ok(photo, shifted) > delta_e_ok(photo, slightly) > 0


def test_the_colour_of_a_fully_transparent_pixel_does_not_count() -> None:
    rng = np.random.default_rng(4)
    a = rng.integers(0, 256, (16, 16, 4), dtype=np.uint8)
    a[..., 3] = np.where(rng.random((16, 16)) < 0.5, 0, 255)
    b = a.copy()
    clear = a[..., 3] == 0
    b[clear, :3] = rng.integers(0, 256, (int(clear.sum()), 3), dtype=np.uint8)
    assert mse(a, b) == 0 and psnr(a, b) == math.inf and ssim(a, b) == pytest.approx(1.0)
    assert delta_e_ok(a, b) == 0 and blurred_delta_e(a, b) == 0
    b[..., 3] = np.where(clear, 1, 255)  # almost transparent is still seen: its colour counts
    assert mse(a, b) > 0


def test_measures_leave_their_inputs_as_they_were() -> None:
    a = np.zeros((4, 4, 4), np.uint8)
    a[..., 0] = 200  # red, every pixel transparent
    kept = a.copy()
    assert psnr(a, np.zeros_like(a)) == math.inf
    np.testing.assert_array_equal(a, kept)
