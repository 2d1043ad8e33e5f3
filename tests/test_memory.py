"""The encoder's memory: what it allocates per pixel, measured with tracemalloc (numpy reports
its arrays to it), not assumed. The whole-process figures against pngquant are
``tools/bench_large.py``'s."""

from __future__ import annotations

import importlib
import tracemalloc

import numpy as np
import pytest
from PIL import Image

import kmcodec
from kmcodec.quantization import histogram as histogram_module
from kmcodec.quantization import remap as remap_module
from kmcodec.quantization.pixels import as_pixels

from .support import SAMPLES

# (kmcodec.quantization.quantize is also the name of a function the package exports)
quantize_module = importlib.import_module("kmcodec.quantization.quantize")


def _peak(function, *args, **kwargs) -> int:
    """The most bytes traced at once while ``function`` runs, above what was before it."""
    tracemalloc.start()
    try:
        function(*args, **kwargs)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def large_few_colours() -> np.ndarray:
    """A 3 MP photo with about 10,000 distinct colours (5 bits a channel, smooth): the
    per-pixel arrays dominate, not the per-colour ones."""
    with Image.open(SAMPLES / "kodim23.png") as im:
        big = np.asarray(im.convert("RGB").resize((2000, 1500), Image.Resampling.BILINEAR))
    return np.ascontiguousarray(big & 0xF8)


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 65,536 pixels, so that at a test's size the blocks' temporaries are as small
    a part of the peak as a 24 MP photo's 1 M-pixel blocks are of its."""
    monkeypatch.setattr(histogram_module, "BINCOUNT_STEP", 1 << 16)
    monkeypatch.setattr(quantize_module, "BINCOUNT_STEP", 1 << 16)
    monkeypatch.setattr(remap_module, "_SMOOTH_BLOCK", 1 << 16)


@pytest.mark.parametrize("dither", [False, True])
def test_the_encoder_allocates_under_12_bytes_a_pixel(
    large_few_colours, small_blocks, dither
) -> None:
    # Before: 13 bytes a pixel undithered, 28 dithered on this image (float planes for the
    # dither map and weights, int64 bincount copies, the smoothing's whole-image
    # temporaries); now about 10, most of it the histogram's pixel codes, their sorted copy
    # and each pixel's colour rank (4 bytes each).
    pixels = large_few_colours
    peak = _peak(kmcodec.encode, pixels, 256, dither=dither)
    assert peak / (pixels.shape[0] * pixels.shape[1]) < 12


def test_a_pil_image_becomes_pixels_without_two_copies_of_it(large_few_colours) -> None:
    # np.asarray(image) goes through tobytes(): the bytes twice at once (chunks, then joined).
    rgb = Image.fromarray(large_few_colours)
    size = large_few_colours.nbytes
    assert _peak(as_pixels, rgb) < 1.25 * size
    palette_image = rgb.quantize(64)
    assert _peak(as_pixels, palette_image) < 1.25 * size  # converted strip by strip
    np.testing.assert_array_equal(
        as_pixels(palette_image), np.asarray(palette_image.convert("RGB"))
    )


def test_importance_counts_need_no_plane_of_weights(large_few_colours, small_blocks) -> None:
    pixels = large_few_colours
    hist = histogram_module.histogram(pixels)
    peak = _peak(quantize_module.importance_counts, hist, pixels)
    assert peak < 0.5 * pixels.shape[0] * pixels.shape[1]  # a float32 plane is 4 bytes a pixel
    # and the counts are those of the whole plane at once
    noise = remap_module.dither_maps(pixels, quantize_module.NOISE_HALF)[1]
    want = np.bincount(hist.pixel_index, weights=noise.reshape(-1), minlength=len(hist))
    np.testing.assert_allclose(quantize_module.importance_counts(hist, pixels), want, rtol=1e-12)


def test_diffusion_with_the_map_made_row_by_row_equals_the_plane(photo) -> None:
    palette = kmcodec.quantize(photo, 16).palette
    closeness = (np.arange(photo.shape[0] * photo.shape[1]) % 256).astype(np.uint8)
    closeness = closeness.reshape(photo.shape[:2])
    dmap = remap_module.dither_map(photo)
    weights = dmap * (closeness.astype(np.float32) / np.float32(255))
    want = remap_module.diffuse(photo, palette, weights=weights)
    got = remap_module.diffuse(photo, palette, scale=closeness)
    np.testing.assert_array_equal(got[0], want[0])
    assert got[1] == want[1]


def test_working_in_blocks_gives_the_file_it_gives_whole(photo, monkeypatch) -> None:
    plain, dithered = kmcodec.encode(photo, 16), kmcodec.encode(photo, 16, dither=True)
    monkeypatch.setattr(remap_module, "_SMOOTH_BLOCK", 1000)  # blocks of part of a row
    monkeypatch.setattr(histogram_module, "BINCOUNT_STEP", 777)
    monkeypatch.setattr(quantize_module, "BINCOUNT_STEP", 777)
    assert kmcodec.encode(photo, 16) == plain
    assert kmcodec.encode(photo, 16, dither=True) == dithered
