"""Quality targets (pngquant's quality=min-max and a PSNR target), speed, colour space, dither."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import kmcodec
from kmcodec import QualityError, quantize
from kmcodec.options import parse_quality
from kmcodec.quantization.colorspace import oklab_to_srgb, srgb_to_oklab
from kmcodec.quantization.quality import mse_to_quality, pngquant_error_of, quality_to_mse


def test_quality_scale_matches_libimagequant_and_is_monotonic() -> None:
    mses = [quality_to_mse(q) for q in range(0, 101)]
    assert mses[0] == np.inf and mses[100] == 0
    assert all(a > b for a, b in itertools.pairwise(mses[1:]))
    # libimagequant: unit MSE 2.5 / (210 + q)^1.2 * (100.1 - q) / 100 at q >= 16, x 65536 / 6
    assert quality_to_mse(80) == pytest.approx(2.5 / 290**1.2 * 20.1 / 100 * 65536 / 6)
    for q in (1, 30, 70, 99):
        assert mse_to_quality(quality_to_mse(q)) == q


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("60-80", (60, 80)),
        ("80", (0, 80)),
        ("-75", (0, 75)),
        ("0-100", (0, 100)),
        (70, (0, 70)),
        ((10, 20), (10, 20)),
    ],
)
def test_quality_is_read_as_pngquant_reads_it(text, expected) -> None:
    assert parse_quality(text) == expected


@pytest.mark.parametrize("bad", ["80-60", "abc", "101", "-", "1-2-3", (5, 200)])
def test_bad_quality_is_refused(bad) -> None:
    with pytest.raises((ValueError, TypeError)):
        parse_quality(bad)


def test_quality_target_uses_the_fewest_colours_that_reach_it(photo) -> None:
    q = quantize(photo, 256, quality="50-70")
    assert q.quality >= 70
    assert q.colors < 256
    fewer = quantize(photo, q.colors - 1)
    assert fewer.pngquant_mse > quality_to_mse(70)  # one colour less would miss the target


def test_psnr_target_uses_the_fewest_colours_that_reach_it(photo) -> None:
    q = quantize(photo, 256, target_psnr=32.0)
    assert q.psnr >= 32.0
    assert quantize(photo, q.colors - 1).psnr < 32.0


def test_unreachable_minimum_quality_raises_with_the_best_result(photo) -> None:
    with pytest.raises(QualityError, match="cannot be reached") as info:
        quantize(photo, 4, quality="95-100")
    best = info.value.result
    assert best is not None and best.colors == 4 and best.quality < 95


def test_unreachable_psnr_target_raises(photo) -> None:
    with pytest.raises(QualityError):
        quantize(photo, 2, target_psnr=40)


def test_target_between_min_and_max_returns_the_largest_palette(photo) -> None:
    q = quantize(photo, 8, quality="0-99")
    assert q.colors == 8 and q.quality < 99


def test_encode_passes_quality_through(photo) -> None:
    data = kmcodec.encode(photo, quality="40-60")
    decoded = kmcodec.decode(data)
    assert pngquant_error_of(photo, decoded) <= quality_to_mse(60)


def test_quality_is_on_pngquants_scale() -> None:
    # pngquant reports "MSE=... (Q=...)" for its own result; kmcodec's measure of that same
    # result must give the same quality within a few points, and kmcodec's own quantisation
    # must reach pngquant's quality within a few points or above it.
    import shutil
    import subprocess
    import sys

    from .support import ROOT, SAMPLES

    if shutil.which("pngquant") is None:
        pytest.skip("pngquant is not installed (apt-get install pngquant)")
    tool = ROOT / "tools" / "bench_quality_scale.py"
    result = subprocess.run(
        [sys.executable, str(tool), str(SAMPLES), "--colors", "64"],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith("kodim")]
    assert len(rows) == 3
    for name, reported, ours, own in rows:
        assert abs(int(ours) - int(reported)) <= 3, (name, ours, reported)
        assert int(own) >= int(reported) - 3, (name, own, reported)


def test_lower_speed_is_not_worse(photo_full) -> None:
    slow = quantize(photo_full, 32, speed=1)
    fast = quantize(photo_full, 32, speed=10)
    assert slow.psnr >= fast.psnr
    for speed in range(1, 11):
        assert quantize(photo_full[:64, :64], 8, speed=speed).colors == 8


@pytest.mark.parametrize("speed", [0, 11, 2.5])
def test_bad_speed_is_refused(speed) -> None:
    with pytest.raises((ValueError, TypeError), match="speed"):
        quantize(np.zeros((2, 2, 3), np.uint8), 2, speed=speed)


def test_oklab_round_trip_is_exact_after_rounding() -> None:
    rng = np.random.default_rng(0)
    colors = np.concatenate(
        [
            rng.integers(0, 256, size=(20000, 3)),
            np.repeat(np.arange(256)[:, None], 3, axis=1),
            np.eye(3, dtype=int) * 255,
        ]
    ).astype(np.uint8)
    back = np.rint(oklab_to_srgb(srgb_to_oklab(colors)))
    np.testing.assert_array_equal(back, colors)


def test_oklab_of_reference_colours() -> None:
    # Reference values from Ottosson's post: white is L=1, a=b=0; sRGB red is (0.628, 0.225, 0.126).
    lab = srgb_to_oklab(np.array([[255, 255, 255], [255, 0, 0]], np.uint8)) / 255
    np.testing.assert_allclose(lab[0], [1, 0, 0], atol=1e-4)
    np.testing.assert_allclose(lab[1], [0.62796, 0.22486, 0.12585], atol=1e-4)


def test_oklab_quantisation_stores_srgb_and_assigns_nearest_in_oklab(photo) -> None:
    q = quantize(photo, 12, color_space="oklab", smooth=0)
    assert q.palette.dtype == np.uint8 and q.palette.shape == (12, 3)
    lab_pixels = srgb_to_oklab(photo.reshape(-1, 3))
    lab_palette = srgb_to_oklab(q.palette)
    d = ((lab_pixels[:, None, :] - lab_palette[None]) ** 2).sum(-1)
    chosen = d[np.arange(len(d)), q.indices.reshape(-1)]
    np.testing.assert_allclose(chosen, d.min(axis=1), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(kmcodec.decode(q.encode()), q.image())


def test_dither_mixes_only_each_colours_two_nearest_entries(photo) -> None:
    plain = quantize(photo, 6, smooth=0)
    dithered = quantize(photo, 6, dither="bayer")
    assert not np.array_equal(plain.indices, dithered.indices)
    pixels = photo.reshape(-1, 1, 3).astype(int)
    d = ((pixels - dithered.palette[None].astype(int)) ** 2).sum(-1)
    rank = np.argsort(np.argsort(d, axis=1, kind="stable"), axis=1, kind="stable")
    chosen_rank = rank[np.arange(len(d)), dithered.indices.reshape(-1)]
    assert chosen_rank.max() <= 1
    # The reported error is the error of the decoded image.
    assert dithered.mse == pytest.approx(kmcodec.metrics.mse(photo, dithered.image()))


def test_dither_reproduces_a_gradient_on_average() -> None:
    ramp = np.repeat(np.linspace(0, 255, 256).astype(np.uint8)[None, :], 64, axis=0)
    grey = np.repeat(ramp[:, :, None], 3, axis=2)
    plain = quantize(grey, 4, smooth=0).image().astype(float)
    dithered = quantize(grey, 4, dither=True).image().astype(float)

    # Averaged over 8x8 blocks, the dithered image follows the ramp better.
    def block_error(img):
        blocks = img[..., 0].reshape(8, 8, 32, 8).mean(axis=(1, 3))
        target = grey[..., 0].astype(float).reshape(8, 8, 32, 8).mean(axis=(1, 3))
        return np.abs(blocks - target).mean()

    assert block_error(dithered) < 0.5 * block_error(plain)


@pytest.mark.parametrize("bad", ["floyd", 1.5, -0.1])
def test_bad_dither_is_refused(bad) -> None:
    with pytest.raises(ValueError, match="dither"):
        quantize(np.zeros((2, 2, 3), np.uint8), 2, dither=bad)


def test_version_one_kmeans_plus_plus_path_still_works(photo) -> None:
    a = quantize(photo, 10, init="k-means++", random_state=1)
    b = quantize(photo, 10, init="k-means++", random_state=1)
    np.testing.assert_array_equal(a.palette, b.palette)
    assert a.psnr > quantize(photo, 5).psnr
