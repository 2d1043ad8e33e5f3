"""The words numbers are shown in, shared by the CLI and the reports."""

from __future__ import annotations

from kmcodec._text import plural, psnr_text


def test_plural_is_singular_for_one_only() -> None:
    assert [plural(n, "colour") for n in (0, 1, 2)] == ["0 colours", "1 colour", "2 colours"]


def test_an_infinite_psnr_reads_lossless() -> None:
    assert psnr_text(float("inf")) == "lossless"
    assert psnr_text(float("inf"), unit=False) == "lossless"
    assert psnr_text(36.7449) == "36.74 dB"
    assert psnr_text(36.7449, 1, unit=False) == "36.7"
