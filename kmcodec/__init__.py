"""kmcodec: palette images by k-means colour quantisation, in the ``.kmq`` file format.

Quick use::

    import kmcodec
    data = kmcodec.encode(image, colors=16)   # PIL image or (H, W, 3|4) uint8 array -> bytes
    pixels = kmcodec.decode(data)             # -> (H, W, 3|4) uint8 array
    kmcodec.save("photo.kmq", image, colors=16)
    pixels = kmcodec.load("photo.kmq")

Importing kmcodec registers the ``.kmq`` format with Pillow, so ``Image.open("a.kmq")`` and
``im.save("a.kmq", colors=16)`` work too. The format is specified in ``spec/kmq.md``.
"""

from __future__ import annotations

from .codec import (
    KmqImage,
    decode,
    decode_indexed,
    encode,
    encode_indexed,
    encode_quantized,
    load,
    read,
    save,
)
from .comparison import compare
from .container import EXTENSION, MAX_PIXELS, MIME_TYPE, VERSION
from .errors import (
    ChecksumError,
    CorruptError,
    IndexRangeError,
    KmqError,
    LimitError,
    NotKmqError,
    QualityError,
    TruncatedError,
    UnsupportedError,
)
from .metrics import psnr
from .pillow_plugin import register
from .quantize import DEFAULT_SMOOTH, DEFAULT_SPEED, SPEEDS, Quantized, SpeedSettings, quantize

__version__ = "0.1.0"

register()  # Image.open("a.kmq") and im.save("a.kmq") work once kmcodec is imported

__all__ = [
    "DEFAULT_SMOOTH",
    "DEFAULT_SPEED",
    "EXTENSION",
    "MAX_PIXELS",
    "MIME_TYPE",
    "SPEEDS",
    "VERSION",
    "ChecksumError",
    "CorruptError",
    "IndexRangeError",
    "KmqError",
    "KmqImage",
    "LimitError",
    "NotKmqError",
    "QualityError",
    "Quantized",
    "SpeedSettings",
    "TruncatedError",
    "UnsupportedError",
    "compare",
    "decode",
    "decode_indexed",
    "encode",
    "encode_indexed",
    "encode_quantized",
    "load",
    "psnr",
    "quantize",
    "read",
    "register",
    "save",
]
