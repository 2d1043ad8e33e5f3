"""The package installs the way pip users expect, without warnings from setuptools."""

from __future__ import annotations

import tomllib

from .conftest import ROOT


def test_license_is_an_spdx_string_not_a_deprecated_table() -> None:
    # setuptools >= 77 warns, twice per install, about `license = { text = ... }` (PEP 639).
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "MIT"
    assert any(r.startswith("setuptools>=77") for r in project["build-system"]["requires"])


def test_the_compiled_coder_is_built_by_setup_py() -> None:
    text = (ROOT / "setup.py").read_text()
    assert "kmcodec.format.codings._context_coder" in text
    assert "kmcodec/format/codings/_context_coder.c" in text
