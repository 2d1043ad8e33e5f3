"""The quantiser: exact when it can be, better with more colours, deterministic, alpha-aware,
and the index-plane smoothing spends no more PSNR than asked."""

from __future__ import annotations

import math

import numpy as np
import pytest

import kmcodec
from kmcodec import quantize


def _k_colour_image(k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    colours = rng.integers(0, 256, size=(k, 3), dtype=np.uint8)
    while len(np.unique(colours, axis=0)) < k:
        colours = rng.integers(0, 256, size=(k, 3), dtype=np.uint8)
    idx = rng.integers(0, k, size=(37, 23))
    idx.flat[:k] = np.arange(k)
    return colours[idx], colours


@pytest.mark.parametrize("k", [1, 2, 7, 64, 256])
def test_image_of_exactly_k_colours_comes_back_exact(k: int) -> None:
    image, _ = _k_colour_image(k)
    q = quantize(image, k)
    assert q.lossless and q.mse == 0 and q.psnr == math.inf
    assert len(q.palette) == k
    np.testing.assert_array_equal(kmcodec.decode(kmcodec.encode(image, k)), image)


def test_k_larger_than_distinct_colours_keeps_only_those() -> None:
    image, colours = _k_colour_image(5)
    q = quantize(image, 200)
    assert q.colors == 5 and q.lossless
    assert {tuple(c) for c in q.palette} == {tuple(c) for c in colours}


def test_one_pixel_and_one_colour_images() -> None:
    one = np.array([[[9, 8, 7]]], np.uint8)
    assert kmcodec.decode(kmcodec.encode(one, 1)).tolist() == [[[9, 8, 7]]]
    flat = np.full((20, 30, 3), 77, np.uint8)
    q = quantize(flat, 16)
    assert q.colors == 1 and q.lossless
    np.testing.assert_array_equal(kmcodec.decode(kmcodec.encode(flat)), flat)


def test_psnr_rises_with_k_on_a_photo(photo: np.ndarray) -> None:
    values = [quantize(photo, k).psnr for k in (2, 5, 10, 15, 20, 64)]
    assert values == sorted(values)
    assert values[-1] - values[0] > 10


def test_reported_mse_is_the_error_of_the_decoded_file(photo: np.ndarray) -> None:
    q = quantize(photo, 12)
    decoded = kmcodec.decode(q.encode())
    np.testing.assert_array_equal(decoded, q.image())
    assert q.mse == pytest.approx(kmcodec.metrics.mse(photo, decoded), rel=1e-12)
    assert q.psnr == pytest.approx(kmcodec.psnr(photo, decoded), rel=1e-12)


def test_palette_is_rounded_before_the_final_assignment(photo: np.ndarray) -> None:
    q = quantize(photo, 8, smooth=0, perceptual=0)
    # Every pixel has its nearest entry of the stored (integer) palette.
    d = ((photo.reshape(-1, 1, 3).astype(int) - q.palette[None].astype(int)) ** 2).sum(-1)
    chosen = d[np.arange(len(d)), q.indices.reshape(-1)]
    np.testing.assert_array_equal(chosen, d.min(axis=1))


@pytest.mark.parametrize("budget", [0.01, 0.05, 0.2])
def test_smoothing_spends_at_most_its_psnr_budget_and_saves_bytes(photo, budget) -> None:
    exact = quantize(photo, 6, smooth=0)
    smooth = quantize(photo, 6, smooth=budget)
    loss = exact.psnr - smooth.psnr
    assert 0 <= loss <= budget + 1e-9
    np.testing.assert_array_equal(np.sort(smooth.palette, axis=0), np.sort(exact.palette, axis=0))
    assert len(smooth.encode()) < len(exact.encode())


def test_same_input_and_options_give_byte_identical_files(photo: np.ndarray) -> None:
    a = kmcodec.encode(photo, 10, random_state=3)
    b = kmcodec.encode(photo.copy(), 10, random_state=3)
    assert a == b


def test_transparent_pixels_share_one_transparent_entry() -> None:
    rng = np.random.default_rng(1)
    rgba = rng.integers(0, 256, size=(30, 30, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    rgba[:10, :, 3] = 0  # fully transparent rows with random RGB
    q = quantize(rgba, 8)
    assert q.palette.shape[1] == 4
    transparent = q.palette[q.indices[:10]]
    assert (transparent == 0).all()
    assert (q.palette[:, 3] == 0).sum() == 1
    assert (q.palette[q.indices[10:], 3] == 255).all()


def test_opaque_alpha_is_dropped() -> None:
    rgba = np.full((4, 4, 4), 255, np.uint8)
    assert quantize(rgba, 4).palette.shape[1] == 3


def test_pil_images_in_every_supported_mode() -> None:
    from PIL import Image

    base = Image.radial_gradient("L").resize((40, 30))
    for mode in ("1", "L", "LA", "P", "RGB", "RGBA", "RGBX"):
        im = base.convert(mode)
        pixels = kmcodec.decode(kmcodec.encode(im, 16))
        assert pixels.shape[:2] == (30, 40)


def test_a_second_seeding_at_small_k_never_ends_worse_than_one(photo: np.ndarray) -> None:
    from dataclasses import replace

    from kmcodec.quantization.histogram import histogram
    from kmcodec.quantization.kmeans import nearest_two
    from kmcodec.quantization.quantize import _palette_search

    hist = histogram(photo)
    points, weights = hist.colors.astype(np.float64), hist.counts.astype(np.float64)
    two = kmcodec.SPEEDS[kmcodec.DEFAULT_SPEED].effort
    one = replace(two, two_seeds_max=0)
    assert two.two_seeds_max >= 8

    def error(effort, k):
        centres = _palette_search(points, weights, hist.colors, k, effort, "split", None, None, 0.1)
        return float(weights @ nearest_two(points, centres)[2])

    for k in (2, 5, 8, 16):
        assert error(two, k) <= error(one, k) * (1 + 1e-12)


def test_the_search_before_error_diffusion_is_cut_short_only_at_large_k() -> None:
    effort = kmcodec.SPEEDS[kmcodec.DEFAULT_SPEED].effort
    assert effort.for_diffusion(16) is effort
    light = effort.for_diffusion(64)
    assert light.swap_trials(64) == 0 and light.exact_iterations(64) <= 2


def test_the_coarse_histogram_gains_a_bit_only_where_large_palettes_lack_bins(
    photo: np.ndarray, monkeypatch
) -> None:
    import importlib

    from kmcodec.quantization.histogram import histogram, posterize

    qz = importlib.import_module("kmcodec.quantization.quantize")
    hist = histogram(photo)
    points, weights = hist.colors.astype(np.float64), hist.counts.astype(np.float64)
    effort = kmcodec.SPEEDS[kmcodec.DEFAULT_SPEED].effort
    used: list[int] = []

    def spy(p, w, bits, *, bins=None):
        used.append(bits)
        return posterize(p, w, bits, bins=bins)

    def finer(k: int) -> bool:
        used.clear()
        qz._palette_search(points, weights, hist.colors, k, effort, "split", None, None, 0.1)
        return effort.coarse_bits + 1 in used

    monkeypatch.setattr(qz, "posterize", spy)
    six = len(posterize(points, weights, effort.coarse_bits)[0])
    assert six < qz.COARSE_BINS_PER_CENTRE * 100  # this small crop lacks bins at K = 100
    assert not finer(100)  # but it is small: fewer swap trials, on the 6-bit histogram
    monkeypatch.setattr(qz, "SWAP_FULL_PIXELS", 1)  # as if it were large
    assert finer(100) and not finer(64)
    monkeypatch.setattr(qz, "COARSE_BINS_PER_CENTRE", 1)  # as if it had bins enough
    assert not finer(100)


def test_small_images_get_fewer_swap_trials_above_64_colours() -> None:
    from kmcodec.quantization.quantize import SWAP_FULL_PIXELS

    effort = kmcodec.SPEEDS[kmcodec.DEFAULT_SPEED].effort
    full = effort.swap_trials(256)
    assert effort.swap_trials(256, SWAP_FULL_PIXELS) == full
    assert effort.swap_trials(256, SWAP_FULL_PIXELS / 4) == round(full / 4)
    assert effort.swap_trials(64, 100.0) == effort.swap_trials(64)


@pytest.mark.parametrize("bits", [1, 2, 3, 4])
def test_posterize_drops_low_bits_and_keeps_black_and_white(bits) -> None:
    from kmcodec.quantization.quantize import posterize_colors

    values = np.arange(256, dtype=np.uint8)
    out = posterize_colors(values, bits)
    assert out[0] == 0 and out[255] == 255
    assert len(np.unique(out)) == 1 << (8 - bits)
    np.testing.assert_array_equal(out >> bits, values >> bits)  # the high bits are kept


def test_posterize_of_an_image_with_few_colours_merges_what_meets_and_is_not_lossless() -> None:
    pixels = np.array([[[0, 17, 34], [1, 18, 35], [255, 255, 255]]], dtype=np.uint8)
    q = kmcodec.quantize(pixels, 4, posterize=4)
    assert len(q.palette) == 2 and not q.lossless
    np.testing.assert_array_equal(q.palette[q.indices[0, 0]], [0, 17, 34])
    assert q.indices[0, 0] == q.indices[0, 1]
    assert kmcodec.quantize(pixels, 4).lossless
