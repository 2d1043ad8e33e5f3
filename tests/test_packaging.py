"""The package installs the way pip users expect, without warnings from setuptools."""

from __future__ import annotations

import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib

from .support import ROOT


def test_license_is_an_spdx_string_not_a_deprecated_table() -> None:
    # setuptools >= 77 warns, twice per install, about `license = { text = ... }` (PEP 639).
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "MIT"
    assert any(r.startswith("setuptools>=77") for r in project["build-system"]["requires"])


def test_every_c_file_is_built_by_setup_py_and_imports() -> None:
    import ast
    import importlib

    tree = ast.parse((ROOT / "setup.py").read_text())
    listed = next(
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and node.targets[0].id == "MODULES"
    )
    sources = {str(p.relative_to(ROOT)) for p in (ROOT / "kmcodec").rglob("*.c")}
    assert {name.replace(".", "/") + ".c" for name in listed} == sources
    assert "kmcodec.format.codings._context_coder" in listed
    for name in listed:  # built by the install, not merely present
        assert importlib.import_module(name).__file__.endswith((".so", ".pyd"))


def test_test_modules_do_not_import_one_another() -> None:
    import re

    for path in (ROOT / "tests").glob("test_*.py"):
        text = path.read_text()
        assert not re.search(r"^\s*from \.(test_\w+|conftest) import", text, re.M), path.name
        assert not re.search(r"^\s*from \. import test_", text, re.M), path.name


def test_one_version_string_for_the_package_the_command_and_the_browser_decoder() -> None:
    import json
    import subprocess
    import sys

    import kmcodec

    assert json.loads((ROOT / "js" / "package.json").read_text())["version"] == kmcodec.__version__
    out = subprocess.run(
        [sys.executable, "-m", "kmcodec", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"kmq {kmcodec.__version__}"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" in project["dynamic"]  # read from kmcodec.__version__, not repeated
