"""Images in, pixel arrays out: the entry of the data's way through kmcodec.

Everything kmcodec encodes passes through :func:`as_pixels`, which turns a PIL image or a numpy
array into a C-contiguous ``(height, width, 3)`` or ``(height, width, 4)`` uint8 array and
rejects what the format cannot hold, with a clear message.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import LimitError

__all__ = ["PIL_MODES", "as_pixels", "check_size", "drop_opaque_alpha"]

#: Pillow modes kmcodec converts (to RGB, or to RGBA when they carry alpha or transparency).
PIL_MODES = ("1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX")


def check_size(width: int, height: int, max_pixels: int | None = None) -> None:
    """Raise ``ValueError`` for an empty image and ``LimitError`` above ``max_pixels``."""
    if width < 1 or height < 1:
        msg = f"an image must be at least 1x1 pixels, got {width}x{height}"
        raise ValueError(msg)
    if max_pixels is not None and width * height > max_pixels:
        msg = f"{width}x{height} is more than the {max_pixels} pixels a KMQ file may hold"
        raise LimitError(msg)


def _from_pil(image: Any, max_pixels: int | None) -> np.ndarray:
    mode = image.mode
    if mode not in PIL_MODES:
        msg = (
            f"cannot encode a mode {mode!r} image as KMQ; convert it first, e.g."
            f" image.convert('RGB') (supported modes: {', '.join(PIL_MODES)})"
        )
        raise ValueError(msg)
    width, height = image.size
    check_size(width, height, max_pixels)
    has_alpha = (
        mode in ("LA", "La", "PA", "RGBA", "RGBa")
        or "transparency" in image.info
        or _palette_has_alpha(image)
    )
    target = "RGBA" if has_alpha else "RGB"
    width, height = image.size
    image.load()
    # Strip by strip: np.asarray of a whole image goes through tobytes() (two copies of the
    # pixels at once) and a convert() a third, each 3-4 bytes a pixel; in strips of about
    # 1 MB only the array is made whole. A conversion to RGB or RGBA is pixel by pixel, so
    # strips convert as the whole image would.
    out = np.empty((height, width, len(target)), dtype=np.uint8)
    step = max(1, _STRIP_BYTES // (4 * width))
    for top in range(0, height, step):
        strip = image.crop((0, top, width, min(height, top + step)))
        if mode != target:
            strip = strip.convert(target)
        out[top : top + step] = np.asarray(strip, dtype=np.uint8)
    return out


def _palette_has_alpha(image: Any) -> bool:
    """Whether a "P" image's palette is itself RGBA (``Image.quantize`` of an RGBA image,
    DDS): its alpha is then in the palette, not in ``info["transparency"]``."""
    return image.mode == "P" and getattr(image.palette, "mode", "RGB") == "RGBA"


#: Bytes of Pillow's image per strip that :func:`_from_pil` converts.
_STRIP_BYTES = 1 << 20


def as_pixels(image: Any, max_pixels: int | None = None) -> np.ndarray:
    """Return an image as a C-contiguous uint8 array of shape (height, width, 3 or 4).

    Parameters
    ----------
    image : PIL.Image.Image or array_like
        A PIL image in one of :data:`PIL_MODES`, or a uint8 array of shape (height, width, 3),
        (height, width, 4) or (height, width) (grey, repeated into RGB).
    max_pixels : int, optional
        Refuse an image of more pixels, before converting it.

    Returns
    -------
    ndarray of uint8
        RGB, or RGBA when the input has an alpha channel or a transparent colour.

    Raises
    ------
    TypeError
        The array is not uint8.
    ValueError
        Wrong shape or Pillow mode, or an empty image.
    LimitError
        More than ``max_pixels`` pixels.
    """
    if hasattr(image, "mode") and hasattr(image, "size") and hasattr(image, "convert"):
        pixels = _from_pil(image, max_pixels)
    else:
        pixels = np.asarray(image)
        if pixels.dtype != np.uint8:
            msg = (
                f"pixel arrays must be uint8, got {pixels.dtype} (scale and use .astype(np.uint8))"
            )
            raise TypeError(msg)
        if pixels.ndim == 2:
            pixels = np.repeat(pixels[:, :, None], 3, axis=2)
        if pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
            msg = f"pixel arrays must have shape (H, W, 3), (H, W, 4) or (H, W), got {pixels.shape}"
            raise ValueError(msg)
        check_size(pixels.shape[1], pixels.shape[0], max_pixels)
    return np.ascontiguousarray(pixels)


def drop_opaque_alpha(pixels: np.ndarray) -> np.ndarray:
    """Return RGB pixels if an RGBA array is fully opaque, else the array unchanged.

    Like pngquant, an alpha channel that is 255 everywhere is not worth storing.
    """
    if pixels.shape[2] == 4 and bool((pixels[:, :, 3] == 255).all()):
        return np.ascontiguousarray(pixels[:, :, :3])
    return pixels
