"""Error diffusion (Floyd-Steinberg and kin) with a dither map, and the blurred ΔE it aims at."""

from __future__ import annotations

import numpy as np
import pytest

import kmcodec
from kmcodec.metrics import blurred_delta_e, delta_e_ok
from kmcodec.quantization.colorspace import srgb_to_linear
from kmcodec.quantization.remap import KERNELS, diffuse, dither_map


def _ramp(width: int = 256, height: int = 64) -> np.ndarray:
    x = np.linspace(0, 255, width)
    grey = np.repeat(np.rint(x)[None, :], height, axis=0).astype(np.uint8)
    return np.dstack([grey, (grey * 0.6).astype(np.uint8), 255 - grey])


@pytest.mark.parametrize("space", ["srgb", "linear"])
def test_without_error_every_pixel_gets_its_exact_nearest_entry(photo, space) -> None:
    palette = kmcodec.quantize(photo, 24).palette
    idx, sse = diffuse(photo, palette, weights=np.zeros(photo.shape[:2], np.float32), space=space)
    assert sse == float(((photo.astype(int) - palette[idx].astype(int)) ** 2).sum())
    conv = (lambda v: srgb_to_linear(v) * 255) if space == "linear" else (lambda v: v * 1.0)
    a, p = conv(photo).reshape(-1, 3), conv(palette)
    d = ((a[:, None, :] - p[None]) ** 2).sum(-1)
    got = d[np.arange(len(a)), idx.reshape(-1)]
    np.testing.assert_allclose(got, d.min(axis=1), rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize(("k", "channels"), [(256, 3), (100, 3), (7, 3), (256, 4), (40, 4)])
def test_the_cell_grid_finds_the_exact_nearest_entry_where_entries_crowd(k, channels) -> None:
    # Dark entries crowd in linear light, where the compiled loop compares colours; its grid
    # of cells must still give every colour its exact nearest entry.
    rng = np.random.default_rng(k + channels)
    palette = np.unique((rng.uniform(0, 1, (k, channels)) ** 2.5 * 255).astype(np.uint8), axis=0)
    pixels = (rng.uniform(0, 1, (48, 64, channels)) ** 2 * 255).astype(np.uint8)
    idx, _ = diffuse(pixels, palette, weights=np.zeros((48, 64), np.float32))
    lin = srgb_to_linear(np.arange(256) / 1.0) * 255

    def conv(v: np.ndarray) -> np.ndarray:
        out = v.astype(np.float64)
        out[..., :3] = lin[v[..., :3]]
        return out

    a, p = conv(pixels).reshape(-1, channels), conv(palette)
    d = ((a[:, None, :] - p[None]) ** 2).sum(-1)
    got = d[np.arange(len(a)), idx.reshape(-1)]
    np.testing.assert_allclose(got, d.min(axis=1), rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_each_kernel_renders_a_gradient_closer_to_the_eye(kernel) -> None:
    ramp = _ramp()
    plain = kmcodec.quantize(ramp, 4)
    dithered = kmcodec.quantize(ramp, 4, dither=kernel)
    assert blurred_delta_e(ramp, dithered.image()) < 0.6 * blurred_delta_e(ramp, plain.image())
    # ...while each pixel, seen alone, is further from its colour: that is what dithering is
    assert delta_e_ok(ramp, dithered.image()) > delta_e_ok(ramp, plain.image())


def test_strength_scales_the_diffusion() -> None:
    ramp = _ramp()
    values = [
        blurred_delta_e(ramp, kmcodec.quantize(ramp, 4, dither=s).image()) for s in (0.25, 1.0)
    ]
    plain = blurred_delta_e(ramp, kmcodec.quantize(ramp, 4).image())
    assert values[1] < values[0] < plain


def test_flat_fills_and_held_colours_are_not_dithered() -> None:
    # A graphic: flat fills and hard edges, 3 colours, quantised to 2.
    image = np.zeros((64, 64, 3), np.uint8)
    image[:, 20:] = (200, 40, 40)
    image[30:, 40:] = (190, 50, 45)
    m = dither_map(image)
    assert (m[5:-5, 3:15] == 0).all()  # inside a fill
    plain = kmcodec.encode(image, 2)
    assert kmcodec.encode(image, 2, dither=True) == plain


def test_edges_between_two_fills_are_not_dithered_but_gradients_are() -> None:
    image = np.zeros((32, 64, 3), np.uint8)
    image[:, 32:] = (90, 90, 90)  # a soft step between two fills (below the edge threshold)
    image[10:12, 5:25] = (60, 60, 60)  # a line inside the left fill
    image[20:22, 20:45] = (60, 60, 60)  # a line across the step: three colours meet there
    m = dither_map(image)
    assert (m[:8, 28:36] == 0).all()  # the step: two colours around every pixel
    assert (m[9:13, 3:27] == 0).all()  # the first line and its surround: two colours
    assert (m[19:23, 31:33] > 0).all()  # where the second line crosses the step: three
    ramp = np.tile(np.linspace(0, 120, 64).astype(np.uint8)[None, :, None], (8, 1, 3))
    assert (dither_map(ramp)[:, 2:-2] == 1).all()  # a gradient: three values in every 3x3


def test_dithering_is_deterministic_and_handles_alpha(photo) -> None:
    rgba = np.dstack([photo, np.where(photo[..., 1] > 100, 255, 0).astype(np.uint8)])
    a = kmcodec.encode(rgba, 12, dither=True)
    assert a == kmcodec.encode(rgba, 12, dither=True)
    out = kmcodec.decode(a)
    assert out.shape[2] == 4
    assert (out[..., 3][rgba[..., 3] == 0] == 0).all()  # transparent stays transparent


def test_blurred_delta_e_sees_a_dither_as_its_mixture_of_light() -> None:
    checker = (np.indices((64, 64)).sum(axis=0) % 2 * 255).astype(np.uint8)
    checker = np.dstack([checker] * 3)
    # the grey of the same light (linear 0.5) is sRGB 188; sRGB 128 is much darker
    same_light = np.full_like(checker, 188)
    dark = np.full_like(checker, 128)
    assert blurred_delta_e(same_light, checker) < 1.0
    assert blurred_delta_e(dark, checker) > 10 * blurred_delta_e(same_light, checker)
    assert blurred_delta_e(checker, checker) == 0.0


def test_small_palettes_pass_on_fifteen_sixteenths_of_the_error(photo) -> None:
    from kmcodec.quantization import remap as rm

    weights = np.ones(photo.shape[:2], np.float32)
    for k, share in ((8, 15 / 16), (16, 15 / 16), (40, 1.0)):
        palette = kmcodec.quantize(photo, k).palette
        got, _ = diffuse(photo, palette, weights=weights)
        saved = rm._SMALL_PALETTE_SHARE
        try:
            rm._SMALL_PALETTE_SHARE = 1.0  # the loop's own strength, undamped
            want, _ = diffuse(photo, palette, weights=weights, strength=share)
        finally:
            rm._SMALL_PALETTE_SHARE = saved
        assert np.array_equal(got, want)
