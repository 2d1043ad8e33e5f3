"""The conformance files of spec/vectors: every valid one decodes, every invalid one is refused
with the error the manifest names."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import kmcodec
from kmcodec import errors

from .support import VECTORS

MANIFEST = json.loads((VECTORS / "manifest.json").read_text())


def test_manifest_lists_every_file() -> None:
    listed = {v["file"] for v in MANIFEST["valid"] + MANIFEST["invalid"] + MANIFEST["animations"]}
    on_disk = {str(p.relative_to(VECTORS)) for p in VECTORS.rglob("*.kmq")}
    assert listed == on_disk
    assert len(MANIFEST["valid"]) >= 10 and len(MANIFEST["invalid"]) >= 30


@pytest.mark.parametrize("case", MANIFEST["valid"], ids=lambda c: c["file"])
def test_valid_file_decodes_to_its_png(case: dict) -> None:
    data = (VECTORS / case["file"]).read_bytes()
    with Image.open(VECTORS / case["png"]) as im:
        expected = np.asarray(im)
    np.testing.assert_array_equal(kmcodec.decode(data), expected)


@pytest.mark.parametrize("case", MANIFEST["animations"], ids=lambda c: c["file"])
def test_valid_animation_decodes_to_its_frames(case: dict) -> None:
    anim = kmcodec.read_animation((VECTORS / case["file"]).read_bytes())
    assert anim.durations == case["durations"] and anim.loop == case["loop"]
    assert anim.n_frames == len(case["frames"])
    for n, png in reversed(list(enumerate(case["frames"]))):  # backwards: seeking too
        with Image.open(VECTORS / png) as im:
            np.testing.assert_array_equal(anim.frame(n), np.asarray(im), err_msg=png)


def _decode_every_frame(data: bytes) -> None:
    """What a conformant decoder does with a file: every frame of an animation, or the image."""
    anim = kmcodec.read_animation(data)
    for n in range(anim.n_frames):
        anim.frame(n)


@pytest.mark.parametrize("case", MANIFEST["invalid"], ids=lambda c: c["file"])
def test_invalid_file_raises_the_named_error(case: dict) -> None:
    data = (VECTORS / case["file"]).read_bytes()
    expected = getattr(errors, case["error"])
    with pytest.raises(expected) as info:
        _decode_every_frame(data) if case["file"].startswith("invalid/anim-") else kmcodec.decode(
            data
        )
    # The exact class, not merely a parent: each defect has its own error.
    assert type(info.value) is expected


def test_metadata_vector_carries_icc_exif_and_skips_unknown_chunk() -> None:
    img = kmcodec.read((VECTORS / "valid" / "metadata.kmq").read_bytes())
    assert img.icc_profile is not None and b"acsp" in img.icc_profile[:64]
    assert img.exif is not None and img.exif.startswith(b"MM\0*")
    assert img.chunks[b"zzzz"] == b"an unknown ancillary chunk"


def test_size_mismatch_frame_is_refused_before_any_allocation() -> None:
    import tracemalloc

    data = (VECTORS / "invalid" / "frame-size-mismatch.kmq").read_bytes()
    tracemalloc.start()
    with pytest.raises(errors.CorruptError, match="declares 8589934592"):
        kmcodec.decode(data)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1 << 20
