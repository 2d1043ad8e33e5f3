"""Quality measures between an original image and its decoded copy."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["mse", "psnr"]


def mse(original: np.ndarray, decoded: np.ndarray) -> float:
    """Mean squared error per channel value between two uint8 images of the same shape."""
    a = np.asarray(original)
    b = np.asarray(decoded)
    if a.shape != b.shape:
        msg = f"images differ in shape: {a.shape} and {b.shape}"
        raise ValueError(msg)
    diff = a.astype(np.int32) - b.astype(np.int32)
    return float(np.mean(diff * diff, dtype=np.float64))


def psnr(original: np.ndarray, decoded: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB for 8-bit images (``inf`` if they are identical).

    ``10 * log10(255**2 / MSE)``, the MSE taken over every channel value.
    """
    err = mse(original, decoded)
    return math.inf if err == 0 else 10 * math.log10(255.0**2 / err)
