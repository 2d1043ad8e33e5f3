"""Colour quantisation: pixels to a palette and a plane of palette indices. Knows nothing of files.

- :mod:`.pixels` -- images in (PIL or numpy), as uint8 RGB(A) arrays;
- :mod:`.histogram` -- distinct colours and their counts, posterised bins;
- :mod:`.colorspace` -- sRGB and Oklab;
- :mod:`.kmeans` -- weighted k-means (seeding, Lloyd, swaps), numpy only;
- :mod:`.perceptual` -- the palette's last step for the eye (squared error plus Oklab distance);
- :mod:`.remap` -- each pixel's palette entry, index-plane smoothing, ordered dithering;
- :mod:`.quality` -- pngquant's quality scale and error measure;
- :mod:`.quantize` -- the steps together: :func:`quantize` -> :class:`PaletteImage`.
"""

from .quantize import Effort, PaletteImage, quantize

__all__ = ["Effort", "PaletteImage", "quantize"]
