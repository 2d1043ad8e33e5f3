"""Build the compiled cores (the codings' models and coders, the quantiser's histogram, k-means
and error diffusion) and put the browser decoder (``js/``) into the package; everything else is
in pyproject.toml."""

from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

#: Each extension is one C99 file beside the Python module that uses it.
MODULES = [
    "kmcodec.format.codings._context_coder",
    "kmcodec.format.codings._fast_coder",
    "kmcodec.quantization._histogram",
    "kmcodec.quantization._kmeans",
    "kmcodec.quantization._diffuse",
]

#: What ``kmq compare --html`` embeds and ``kmcodec.comparison.html.js_dir`` serves: the
#: browser decoder's modules, its worker and the viewer, copied from ``js/`` into
#: ``kmcodec/_js/`` of the wheel (a source checkout reads ``js/`` itself).
JS_FILES = [
    "kmq.js",
    "fast.js",
    "context.js",
    "crc32.js",
    "xxh64.js",
    "worker.js",
    "viewer.html",
    "README.md",
    "vendor/fzstd.mjs",
    "vendor/LICENSE-fzstd",
]


class BuildPy(build_py):
    """build_py that also copies the browser decoder into the package."""

    def run(self) -> None:
        super().run()
        root = Path(__file__).resolve().parent
        target = Path(self.build_lib) / "kmcodec" / "_js"
        for name in JS_FILES:
            self.mkpath(str((target / name).parent))
            self.copy_file(str(root / "js" / name), str(target / name))


class BuildExt(build_ext):
    """Flags by compiler: gcc and clang take C99 and -O3; MSVC compiles C99 as it is."""

    def build_extensions(self) -> None:
        msvc = self.compiler.compiler_type == "msvc"
        args = ["/O2"] if msvc else ["-O3", "-std=c99"]
        for ext in self.extensions:
            ext.extra_compile_args = args
        super().build_extensions()


setup(
    ext_modules=[
        Extension(name, sources=[name.replace(".", "/") + ".c"], depends=["kmcodec/_portable.h"])
        for name in MODULES
    ],
    cmdclass={"build_py": BuildPy, "build_ext": BuildExt},
)
