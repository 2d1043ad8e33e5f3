"""Build the compiled core of the context coding; everything else is in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "kmcodec.format.codings._context_coder",
            sources=["kmcodec/format/codings/_context_coder.c"],
            extra_compile_args=["-O3", "-std=c99"],
        )
    ]
)
