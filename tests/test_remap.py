"""Palette to index plane: nearest entries, smoothing within its budget, ordered dithering."""

from __future__ import annotations

import numpy as np
import pytest

from kmcodec.quantization.colorspace import srgb_to_oklab
from kmcodec.quantization.histogram import histogram
from kmcodec.quantization.remap import remap


@pytest.fixture(scope="module")
def case(photo):
    rng = np.random.default_rng(5)
    palette = np.unique(rng.integers(0, 256, size=(12, 3), dtype=np.uint8), axis=0)
    return photo, histogram(photo), palette


def _brute(pixels: np.ndarray, palette: np.ndarray, space: str = "rgb") -> np.ndarray:
    flat = pixels.reshape(-1, 3)
    a, b = (flat, palette) if space == "rgb" else (srgb_to_oklab(flat), srgb_to_oklab(palette))
    d = ((a[:, None, :].astype(np.float64) - b[None].astype(np.float64)) ** 2).sum(-1)
    return d.argmin(axis=1).reshape(pixels.shape[:2])


@pytest.mark.parametrize("space", ["rgb", "oklab"])
def test_every_pixel_gets_its_nearest_entry_and_the_sse_is_exact(case, space) -> None:
    photo, hist, palette = case
    indices, sse = remap(hist, palette, photo.shape[:2], color_space=space)
    brute = _brute(photo, palette, space)
    d = ((photo.reshape(-1, 3).astype(np.float64) - palette[indices.reshape(-1)]) ** 2).sum()
    assert sse == d
    if space == "rgb":
        # ties may differ in index but not in distance
        chosen = ((photo - palette[indices].astype(np.float64)) ** 2).sum(-1)
        best = ((photo - palette[brute].astype(np.float64)) ** 2).sum(-1)
        np.testing.assert_array_equal(chosen, best)
    else:
        assert (indices == brute).mean() > 0.999


@pytest.mark.parametrize("budget_db", [0.01, 0.1, 0.5])
def test_smoothing_spends_at_most_its_budget_and_makes_the_plane_smoother(case, budget_db) -> None:
    photo, hist, palette = case
    exact, sse0 = remap(hist, palette, photo.shape[:2])
    smooth, sse = remap(hist, palette, photo.shape[:2], smooth=budget_db)
    loss_db = 10 * np.log10(sse / sse0)
    assert 0 <= loss_db <= budget_db + 1e-9
    changes = lambda p: int((p[:, 1:] != p[:, :-1]).sum() + (p[1:] != p[:-1]).sum())  # noqa: E731
    assert changes(smooth) < changes(exact)


def test_dither_strength_zero_is_the_nearest_entry_and_one_mixes_two_entries(case) -> None:
    photo, hist, palette = case
    exact, _ = remap(hist, palette, photo.shape[:2])
    none, _ = remap(hist, palette, photo.shape[:2], dither=1e-9)
    assert (none == exact).mean() > 0.999
    full, sse = remap(hist, palette, photo.shape[:2], dither=1.0)
    assert 0.05 < (full != exact).mean() < 0.6
    d = ((photo.astype(np.float64) - palette[full]) ** 2).sum()
    assert sse == d


@pytest.mark.parametrize("channels", [3, 4])
def test_held_distance_is_the_distance_to_the_nearest_entry_up_to_its_reach(channels) -> None:
    from kmcodec.quantization.remap import _held_distance

    rng = np.random.default_rng(channels)
    palette = np.unique(rng.integers(0, 256, size=(40, channels), dtype=np.uint8), axis=0)
    palette[0] = 255  # entries at the edge of the cube
    near = palette[rng.integers(0, len(palette), 300)].astype(int)
    near = np.clip(near + rng.integers(-3, 4, (300, channels)), 0, 255)
    far = rng.integers(0, 256, (300, channels))
    colors = np.unique(np.concatenate([near, far]).astype(np.uint8), axis=0)
    diff = colors[:, None, :].astype(float) - palette[None].astype(float)
    d = np.sqrt((diff**2).sum(-1)).min(axis=1)
    np.testing.assert_allclose(_held_distance(colors, palette, 3.0), np.minimum(d, 3.0))
