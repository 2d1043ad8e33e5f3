"""sRGB <-> Oklab, for running k-means in a perceptual colour space.

Oklab (Björn Ottosson, 2020) is built so that Euclidean distances follow perceived colour
differences far better than distances between sRGB values do. kmcodec scales it by 255, so that
lightness L runs from 0 to 255 like an sRGB channel and tolerances mean the same in both spaces.

References
----------
.. [1] B. Ottosson, "A perceptual color space for image processing", 2020,
   https://bottosson.github.io/posts/oklab/
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "COLOR_SPACES",
    "SCALE",
    "from_space",
    "oklab_to_srgb",
    "srgb_to_oklab",
    "srgb_values_to_oklab",
    "to_space",
]

#: Oklab coordinates are multiplied by this, so L spans 0-255.
SCALE = 255.0

_RGB_TO_LMS = np.array(
    [
        [0.4122214708, 0.5363325363, 0.0514459929],
        [0.2119034982, 0.6806995451, 0.1073969566],
        [0.0883024619, 0.2817188376, 0.6299787005],
    ]
)
_LMS_TO_LAB = np.array(
    [
        [0.2104542553, 0.7936177850, -0.0040720468],
        [1.9779984951, -2.4285922050, 0.4505937099],
        [0.0259040371, 0.7827717662, -0.8086757660],
    ]
)


def _inverse(m: np.ndarray) -> np.ndarray:
    """Inverse of a 3x3 matrix by cofactors (``np.linalg.inv`` at import would start
    OpenBLAS's threads, which then spin; see :func:`.kmeans._dot`)."""
    cof = np.array([np.cross(m[1], m[2]), np.cross(m[2], m[0]), np.cross(m[0], m[1])])
    return cof.T / float(np.einsum("i,i->", m[0], cof[0]))


_LAB_TO_LMS = _inverse(_LMS_TO_LAB)
_LMS_TO_RGB = _inverse(_RGB_TO_LMS)


def _decode(v: np.ndarray) -> np.ndarray:
    """sRGB values, 0 to 1, to linear light (the sRGB transfer function)."""
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


# sRGB decoding of every 8-bit value, computed once.
_DECODE = _decode(np.arange(256) / 255.0)


def _encode(linear: np.ndarray) -> np.ndarray:
    linear = np.clip(linear, 0.0, 1.0)
    return 255.0 * np.where(
        linear <= 0.0031308, 12.92 * linear, 1.055 * np.power(linear, 1 / 2.4) - 0.055
    )


def _times(colors: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``colors @ matrix.T`` for (N, 3) colours, without BLAS (whose threads spin after a long
    product and take CPU from other processes; see :func:`.kmeans._dot`)."""
    return np.einsum("nj,ij->ni", colors, matrix)


def srgb_to_linear(colors: np.ndarray) -> np.ndarray:
    """uint8 sRGB values to linear light, 0 to 1 (float64), by table."""
    return _DECODE[np.asarray(colors, dtype=np.uint8)]


def linear_to_oklab(linear: np.ndarray) -> np.ndarray:
    """Linear-light RGB, shape (N, 3), to Oklab scaled by :data:`SCALE`."""
    lms = np.cbrt(_times(np.asarray(linear, dtype=np.float64), _RGB_TO_LMS))
    return SCALE * _times(lms, _LMS_TO_LAB)


def srgb_to_oklab(colors: np.ndarray) -> np.ndarray:
    """Convert uint8 sRGB colours to Oklab scaled by :data:`SCALE`.

    Parameters
    ----------
    colors : ndarray of uint8, shape (N, 3)

    Returns
    -------
    ndarray of float64, shape (N, 3)
        L in 0-255, a and b roughly in -100..100.
    """
    return linear_to_oklab(_DECODE[np.asarray(colors, dtype=np.uint8)])


def srgb_values_to_oklab(values: np.ndarray) -> np.ndarray:
    """Convert sRGB values on the 0-255 scale that need not be integers (such as k-means
    centres) to Oklab scaled by :data:`SCALE`; clipped to 0-255 first.

    Parameters
    ----------
    values : ndarray of float, shape (N, 3)

    Returns
    -------
    ndarray of float64, shape (N, 3)
        Equal to :func:`srgb_to_oklab` at integer values.
    """
    return linear_to_oklab(
        _decode(np.clip(np.asarray(values, dtype=np.float64), 0.0, 255.0) / 255.0)
    )


def oklab_to_srgb(lab: np.ndarray) -> np.ndarray:
    """Convert scaled Oklab back to sRGB values on the 0-255 scale (float, clipped to gamut).

    Parameters
    ----------
    lab : ndarray of shape (N, 3)

    Returns
    -------
    ndarray of float64, shape (N, 3)
        Round with ``np.rint`` to store.
    """
    lms = _times(np.asarray(lab, dtype=np.float64) / SCALE, _LAB_TO_LMS)
    return _encode(_times(lms**3, _LMS_TO_RGB))


#: The colour spaces k-means can run in.
COLOR_SPACES = ("rgb", "oklab")


def to_space(colors: np.ndarray, color_space: str) -> np.ndarray:
    """uint8 sRGB(A) colours to float points in ``color_space`` ("rgb" or "oklab").

    Alpha, if any, is carried along unchanged as a fourth coordinate (0-255).
    """
    if color_space == "rgb":
        return colors.astype(np.float64)
    lab = srgb_to_oklab(colors[:, :3])
    if colors.shape[1] == 4:
        lab = np.concatenate([lab, colors[:, 3:].astype(np.float64)], axis=1)
    return lab


def from_space(points: np.ndarray, color_space: str) -> np.ndarray:
    """Inverse of :func:`to_space`, to sRGB(A) on the 0-255 scale (float, not yet rounded)."""
    if color_space == "rgb":
        return points
    rgb = oklab_to_srgb(points[:, :3])
    if points.shape[1] == 4:
        rgb = np.concatenate([rgb, points[:, 3:]], axis=1)
    return rgb
