"""Shared fixtures: paths to the repository's sample images and conformance files."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import settings
from PIL import Image

from .support import SAMPLES

settings.register_profile("ci", max_examples=200, deadline=None)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    """A real photo from the samples, cropped to 192x128 to keep tests quick."""
    with Image.open(SAMPLES / "kodim23.png") as im:
        return np.asarray(im.convert("RGB"))[200:328, 300:492].copy()


@pytest.fixture(scope="session")
def photo_full() -> np.ndarray:
    """A whole 768x512 Kodak photo."""
    with Image.open(SAMPLES / "kodim23.png") as im:
        return np.asarray(im.convert("RGB"))
