"""The exceptions kmcodec raises.

Every problem with a ``.kmq`` file's bytes raises a subclass of :class:`KmqError`; no exception
of construct, zstandard or numpy escapes the public API. Problems with the arguments a caller
passes raise the built-in :class:`ValueError` or :class:`TypeError`, as numpy and Pillow do; an
encode option out of its declared range or of the wrong type (:mod:`kmcodec.options`) raises
:class:`OptionError`, which is both, as scikit-learn's ``InvalidParameterError`` is.

::

    KmqError
    ├── NotKmqError          the bytes do not start with the KMQ magic number
    ├── UnsupportedError     a version, coding or critical chunk this decoder does not know
    ├── TruncatedError       the data ends before the part the header announces
    ├── CorruptError         a field breaks a rule of the spec
    │   ├── ChecksumError    a CRC-32 or the zstd content checksum does not match
    │   └── IndexRangeError  a pixel's palette index is >= the number of colours
    ├── LimitError           the image is larger than the format's pixel limit
    └── QualityError         the requested quality cannot be reached (also a ValueError)

    OptionError (ValueError, TypeError)   an encode option is out of range or of a wrong type
"""

from __future__ import annotations

__all__ = [
    "AnimatedInputError",
    "ChecksumError",
    "CorruptError",
    "IndexRangeError",
    "KmqError",
    "LimitError",
    "NotKmqError",
    "OptionError",
    "QualityError",
    "TruncatedError",
    "UnsupportedError",
]


class KmqError(Exception):
    """Base class of every error kmcodec raises about ``.kmq`` data or its limits."""


class NotKmqError(KmqError):
    """The data is not a ``.kmq`` file: the magic number is wrong or missing."""


class UnsupportedError(KmqError):
    """The file uses a format version, index coding or critical chunk this decoder does not know."""


class TruncatedError(KmqError):
    """The data ends before the header, palette, a chunk or the index stream is complete."""


class CorruptError(KmqError):
    """A field breaks a rule of the spec (zero width, reserved bit set, trailing bytes, ...)."""


class ChecksumError(CorruptError):
    """The header CRC-32, a chunk CRC-32 or the zstd content checksum does not match."""


class IndexRangeError(CorruptError):
    """A palette index in the index stream is not less than the number of palette entries."""


class LimitError(KmqError):
    """The image has more pixels than the format allows (see ``kmcodec.MAX_PIXELS``)."""


class QualityError(KmqError, ValueError):
    """Even the largest allowed palette does not reach the minimum quality asked for.

    Also a ``ValueError``: through Pillow (``im.save(f, quality="90-100")``) it is an option
    that cannot be met, and Pillow's users catch ``ValueError`` for those.

    Attributes
    ----------
    result : object or None
        The best quantisation found, so a caller can still inspect it.
    """

    def __init__(self, message: str, result: object | None = None) -> None:
        super().__init__(message)
        self.result = result


class AnimatedInputError(ValueError):
    """The input image has more than one frame (an animated GIF, APNG or WebP, a multi-page
    TIFF) and no frame was chosen: a ``.kmq`` file holds one image, and kmcodec does not drop
    frames silently. Choose one with ``frame=N`` (``kmq encode --frame N``)."""


class OptionError(ValueError, TypeError):
    """An encode option is out of its declared range or of the wrong type.

    Both a ``ValueError`` (what Pillow's users catch for a bad save option) and a ``TypeError``
    (what a wrong type raises in Python), as scikit-learn's ``InvalidParameterError`` is.
    """
