"""Quality measures between an original image and its decoded copy: MSE, PSNR, SSIM, the mean
colour difference in Oklab, and that difference as seen at a normal viewing distance (blurred
ΔE, where dithering counts as the mixture the eye sees), all in numpy."""

from __future__ import annotations

import math

import numpy as np

from .quantization.colorspace import SCALE, linear_to_oklab, srgb_to_linear, srgb_to_oklab

__all__ = ["blurred_delta_e", "delta_e_ok", "mse", "psnr", "ssim"]


def _same_shape(original: np.ndarray, decoded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(original)
    b = np.asarray(decoded)
    if a.shape != b.shape:
        msg = f"images differ in shape: {a.shape} and {b.shape}"
        raise ValueError(msg)
    return _unseen_as_zero(a), _unseen_as_zero(b)


def _unseen_as_zero(image: np.ndarray) -> np.ndarray:
    """An RGBA image with every fully transparent pixel (0, 0, 0, 0): a colour nobody sees
    does not count (the quantiser stores all of them as one such entry)."""
    if image.ndim != 3 or image.shape[2] != 4:
        return image
    clear = image[..., 3] == 0
    if not clear.any():
        return image
    out = image.copy()
    out[clear] = 0
    return out


def mse(original: np.ndarray, decoded: np.ndarray) -> float:
    """Mean squared error per channel value between two uint8 images of the same shape.

    In RGBA images a fully transparent pixel counts as (0, 0, 0, 0), whatever colour it
    carries: the colour of what cannot be seen is not compared (every measure here does so).
    """
    a, b = _same_shape(original, decoded)
    diff = a.astype(np.int32) - b.astype(np.int32)
    return float(np.mean(diff * diff, dtype=np.float64))


def psnr(original: np.ndarray, decoded: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB for 8-bit images (``inf`` if they are identical).

    ``10 * log10(255**2 / MSE)``, the MSE taken over every channel value (a fully transparent
    pixel as (0, 0, 0, 0): see :func:`mse`).
    """
    err = mse(original, decoded)
    return math.inf if err == 0 else 10 * math.log10(255.0**2 / err)


def _gaussian_taps(sigma: float, truncate: float) -> np.ndarray:
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    taps = np.exp(-0.5 * (x / sigma) ** 2)
    return taps / taps.sum()


def _blur(image: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Separable Gaussian blur of a 2-D array, edges mirrored (scipy.ndimage's "reflect")."""
    r = len(taps) // 2
    padded = np.pad(image, r, mode="symmetric")
    rows = sum(t * padded[:, i : i + image.shape[1]] for i, t in enumerate(taps))
    return sum(t * rows[i : i + image.shape[0], :] for i, t in enumerate(taps))


def ssim(original: np.ndarray, decoded: np.ndarray, *, data_range: float = 255.0) -> float:
    """Mean structural similarity (Wang et al. 2004), averaged over channels.

    The reference implementation's settings: an 11-tap Gaussian window with sigma 1.5,
    population covariances, K1 = 0.01, K2 = 0.03, and the mean taken away from a 5-pixel border.
    It agrees with ``skimage.metrics.structural_similarity(..., gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=2)`` to 1e-6.

    Parameters
    ----------
    original, decoded : ndarray of uint8, shape (H, W) or (H, W, C)
    data_range : float, default=255

    Returns
    -------
    float
        1.0 for identical images.
    """
    a, b = _same_shape(original, decoded)
    if a.ndim == 2:
        a, b = a[:, :, None], b[:, :, None]
    taps = _gaussian_taps(1.5, 3.5)
    pad = len(taps) // 2
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    scores = []
    for ch in range(a.shape[2]):
        x = a[:, :, ch].astype(np.float64)
        y = b[:, :, ch].astype(np.float64)
        ux, uy = _blur(x, taps), _blur(y, taps)
        vx = _blur(x * x, taps) - ux * ux
        vy = _blur(y * y, taps) - uy * uy
        vxy = _blur(x * y, taps) - ux * uy
        s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
        inner = s[pad : s.shape[0] - pad, pad : s.shape[1] - pad]
        scores.append(float(inner.mean(dtype=np.float64)) if inner.size else float(s.mean()))
    return float(np.mean(scores))


def delta_e_ok(original: np.ndarray, decoded: np.ndarray) -> float:
    """Mean colour difference in Oklab (Euclidean, x100: about 2 is a just-noticeable difference).

    Parameters
    ----------
    original, decoded : ndarray of uint8, shape (H, W, 3) or (H, W, 4)
        Alpha, if any, is ignored.
    """
    a, b = _same_shape(original, decoded)
    la = srgb_to_oklab(a[..., :3].reshape(-1, 3))
    lb = srgb_to_oklab(b[..., :3].reshape(-1, 3))
    return float(np.sqrt(((la - lb) ** 2).sum(axis=1)).mean() * 100 / SCALE)


#: The blur of :func:`blurred_delta_e`: a Gaussian of 1.2 pixels, about what the eye does to a
#: 96 dpi screen seen from 60 cm (a cycle of 2 pixels is near the eye's 30 cycles per degree).
BLUR_SIGMA = 1.2


def blurred_delta_e(
    original: np.ndarray, decoded: np.ndarray, *, sigma: float = BLUR_SIGMA
) -> float:
    """Mean Oklab colour difference (x100) after blurring both images as the eye does.

    Both images are converted to linear light, blurred with a Gaussian of ``sigma`` pixels
    (light mixes linearly: a dither of black and white is seen as its mean light, not its mean
    sRGB value), converted to Oklab, and compared pixel by pixel. A plain colour difference
    (:func:`delta_e_ok`) counts dithering as noise; this counts it as the mixture it looks like
    from a normal viewing distance, so an undithered image with banding scores worse than a
    dithered one with the right average colours. A simple stand-in for S-CIELAB.

    Parameters
    ----------
    original, decoded : ndarray of uint8, shape (H, W, 3) or (H, W, 4)
        Alpha, if any, is ignored.
    sigma : float, default=1.2

    Returns
    -------
    float
        0 for identical images; about 2 is a just-noticeable difference.
    """
    a, b = _same_shape(original, decoded)
    taps = _gaussian_taps(sigma, 3.5)
    total = np.zeros(a.shape[:2], dtype=np.float64)
    blurred = []
    for image in (a, b):
        linear = srgb_to_linear(image[..., :3])
        channels = [_blur(linear[..., c], taps) for c in range(3)]
        blurred.append(linear_to_oklab(np.stack(channels, axis=-1).reshape(-1, 3)))
    total = np.sqrt(((blurred[0] - blurred[1]) ** 2).sum(axis=1))
    return float(total.mean() * 100 / SCALE)
