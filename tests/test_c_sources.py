"""The compiled cores are portable C: they compile with -Wall -Wextra -Werror by gcc and clang
(whichever are here), compiler-specific features only behind kmcodec/_portable.h, and setup.py
passes gcc's flags to gcc and clang only, not to MSVC."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
import types
from pathlib import Path

import pytest

from .support import ROOT

SOURCES = sorted((ROOT / "kmcodec").rglob("*.c"))
STRICT = ["-fsyntax-only", "-std=c99", "-Wall", "-Wextra", "-Werror", "-Wvla"]


@pytest.mark.parametrize("compiler", ["gcc", "clang"])
def test_every_c_file_compiles_with_every_warning_as_an_error(compiler) -> None:
    if shutil.which(compiler) is None:
        pytest.skip(f"{compiler} is not installed (.ci/run installs it)")
    include = sysconfig.get_paths()["include"]
    for source in SOURCES:
        result = subprocess.run(
            [compiler, *STRICT, f"-I{include}", str(source)], capture_output=True, text=True
        )
        assert result.returncode == 0, f"{source.name}:\n{result.stderr}"


def test_compiler_specific_features_are_only_behind_the_portable_header() -> None:
    assert SOURCES
    for source in SOURCES:
        text = re.sub(r"/\*.*?\*/|//[^\n]*", "", source.read_text(), flags=re.S)
        assert "__attribute__" not in text, source.name
        assert "__builtin_" not in text, source.name
        assert "__forceinline" not in text, source.name


def _setup_module() -> types.ModuleType:
    """setup.py's contents, with setup() itself a no-op."""
    import setuptools

    module = types.ModuleType("kmcodec_setup")
    module.__file__ = str(ROOT / "setup.py")
    real = setuptools.setup
    setuptools.setup = lambda **kwargs: None
    try:
        exec(compile((ROOT / "setup.py").read_text(), "setup.py", "exec"), module.__dict__)
    finally:
        setuptools.setup = real
    return module


@pytest.mark.parametrize(("kind", "flag"), [("unix", "-std=c99"), ("msvc", "/O2")])
def test_each_compiler_gets_flags_it_understands(kind, flag, monkeypatch) -> None:
    from setuptools import Distribution, Extension

    module = _setup_module()
    command = module.BuildExt(Distribution())
    command.compiler = types.SimpleNamespace(compiler_type=kind)
    command.extensions = [Extension("x", sources=["x.c"])]
    monkeypatch.setattr(
        sys.modules["setuptools.command.build_ext"].build_ext, "build_extensions", lambda self: None
    )
    command.build_extensions()
    (args,) = {tuple(e.extra_compile_args) for e in command.extensions}
    assert flag in args
    if kind == "msvc":
        assert not any(a.startswith("-") for a in args)


def test_cibuildwheel_lists_linux_macos_and_windows_builds() -> None:
    if shutil.which("cibuildwheel", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("cibuildwheel is not installed (pip install -e '.[dev]' installs it)")
    tool = str(Path(sys.executable).parent / "cibuildwheel")
    for platform, tag in (("linux", "manylinux_x86_64"), ("macos", "macosx"), ("windows", "win")):
        result = subprocess.run(
            [tool, "--print-build-identifiers", "--platform", platform, str(ROOT)],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stderr
        ids = result.stdout.split()
        assert any(tag in i for i in ids), (platform, ids)
        assert {i.split("-")[0] for i in ids} >= {"cp310", "cp311", "cp312", "cp313"}
