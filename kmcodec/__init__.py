"""kmcodec: palette images by k-means colour quantisation, in the ``.kmq`` file format.

Quick use::

    import kmcodec
    data = kmcodec.encode(image, colors=16)   # PIL image or (H, W, 3|4) uint8 array -> bytes
    pixels = kmcodec.decode(data)             # -> (H, W, 3|4) uint8 array
    kmcodec.save("photo.kmq", image, colors=16)
    pixels = kmcodec.load("photo.kmq")
    q = kmcodec.quantize(image, colors=16)    # palette, indices, PSNR, ... then q.encode()

Importing kmcodec registers the ``.kmq`` format with Pillow, so ``Image.open("a.kmq")`` and
``im.save("a.kmq", colors=16)`` work too. The encode options are listed in
:mod:`kmcodec.options`; the format is specified in ``spec/kmq.md``.

The package follows the data's way: :mod:`kmcodec.quantization` (pixels to palette and
indices), :mod:`kmcodec.format` (its ``codings`` of the index plane, and the file ``layout``),
:mod:`kmcodec.codec` (the two joined), then the Pillow plugin, the ``kmq`` command
(:mod:`kmcodec.cli`) and the measurements of :mod:`kmcodec.comparison`, imported when used.
"""

from __future__ import annotations

from typing import Any

from .animation import Animation, encode_animation, read_animation
from .codec import (
    KmqImage,
    Quantized,
    decode,
    decode_indexed,
    encode,
    encode_indexed,
    load,
    quantize,
    read,
    save,
)
from .errors import (
    AnimatedInputError,
    ChecksumError,
    CorruptError,
    IndexRangeError,
    KmqError,
    LimitError,
    NotKmqError,
    OptionError,
    QualityError,
    TruncatedError,
    UnsupportedError,
)
from .format.layout import EXTENSION, MAX_PIXELS, MIME_TYPE, VERSION
from .metrics import psnr
from .options import DEFAULT_SMOOTH, DEFAULT_SPEED, OPTIONS, SPEEDS, SpeedPreset
from .pillow_plugin import register

#: The package's version; pyproject.toml reads it from here.
__version__ = "0.1.0"

register()  # Image.open("a.kmq") and im.save("a.kmq") work once kmcodec is imported


def __dir__() -> list[str]:
    # the API only: not the submodules and names the package uses itself
    return sorted([*__all__, "__version__"])


def compare(*args: Any, **kwargs: Any) -> Any:
    """Measure .kmq against PNG, JPEG, WebP and GIF: see :func:`kmcodec.comparison.compare`
    (imported on first use, so ``import kmcodec`` does not pay for it)."""
    from .comparison import compare as _compare

    return _compare(*args, **kwargs)


__all__ = [
    "DEFAULT_SMOOTH",
    "DEFAULT_SPEED",
    "EXTENSION",
    "MAX_PIXELS",
    "MIME_TYPE",
    "OPTIONS",
    "SPEEDS",
    "VERSION",
    "AnimatedInputError",
    "Animation",
    "ChecksumError",
    "CorruptError",
    "IndexRangeError",
    "KmqError",
    "KmqImage",
    "LimitError",
    "NotKmqError",
    "OptionError",
    "QualityError",
    "Quantized",
    "SpeedPreset",
    "TruncatedError",
    "UnsupportedError",
    "compare",
    "decode",
    "decode_indexed",
    "encode",
    "encode_animation",
    "encode_indexed",
    "load",
    "psnr",
    "quantize",
    "read",
    "read_animation",
    "register",
    "save",
]
