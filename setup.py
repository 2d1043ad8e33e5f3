"""Build the compiled cores (the context coding's model and coder, the quantiser's histogram,
k-means and error diffusion); everything else is in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "kmcodec.format.codings._context_coder",
            sources=["kmcodec/format/codings/_context_coder.c"],
            extra_compile_args=["-O3", "-std=c99"],
        ),
        Extension(
            "kmcodec.quantization._histogram",
            sources=["kmcodec/quantization/_histogram.c"],
            extra_compile_args=["-O3", "-std=c99"],
        ),
        Extension(
            "kmcodec.quantization._kmeans",
            sources=["kmcodec/quantization/_kmeans.c"],
            extra_compile_args=["-O3", "-std=c99"],
        ),
        Extension(
            "kmcodec.quantization._diffuse",
            sources=["kmcodec/quantization/_diffuse.c"],
            extra_compile_args=["-O3", "-std=c99"],
        ),
    ]
)
