"""Build the compiled cores (the context coding's model and coder, the quantiser's histogram,
k-means and error diffusion); everything else is in pyproject.toml."""

from setuptools import Extension, setup

#: Each extension is one C99 file beside the Python module that uses it.
MODULES = [
    "kmcodec.format.codings._context_coder",
    "kmcodec.format.codings._fast_coder",
    "kmcodec.quantization._histogram",
    "kmcodec.quantization._kmeans",
    "kmcodec.quantization._diffuse",
]

setup(
    ext_modules=[
        Extension(
            name,
            sources=[name.replace(".", "/") + ".c"],
            extra_compile_args=["-O3", "-std=c99"],
        )
        for name in MODULES
    ]
)
