"""Why the context coder's inner loop is a C extension and not numba: the measured costs.

Usage::

    python tools/bench_compiled.py [--pixels N]

Two measurements:

1. The shipped decoder (``kmcodec.format.codings._context_coder``, the whole model of spec 2.6)
   on a K = 16 plane: the extension's import time, its first call and its throughput in decisions/s.
2. The same small kernel -- the heart of it: a binary range decoder (spec 2.6.2) driven by
   adaptive counters (spec 2.6.3) chosen by a context -- written once in C (built here with the
   system's ``cc -O3``, called through ctypes) and once in Python compiled by numba (when
   installed; numba is not a dependency of kmcodec): import, first call (numba compiles then)
   and throughput, side by side.
"""

from __future__ import annotations

import argparse
import ctypes
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

KERNEL_PY = """
import numpy as np

def kernel(data, ctx, out):
    rate = np.empty(256, np.int64)
    for n in range(256):
        rate[n] = 131072 // (2 * n + 3)
    p = np.full(65536, 32768, np.int64)
    cnt = np.zeros(65536, np.int64)
    rng = 0xFFFFFFFF
    code = (data[0] << 24) | (data[1] << 16) | (data[2] << 8) | data[3]
    pos = 4
    for i in range(len(ctx)):
        c = ctx[i]
        bound = (rng >> 16) * p[c]
        if code < bound:
            rng = bound
            bit = 1
        else:
            code -= bound
            rng -= bound
            bit = 0
        while rng < (1 << 24):
            rng = (rng << 8) & 0xFFFFFFFF
            nxt = data[pos] if pos < len(data) else 0
            pos += 1
            code = ((code << 8) | nxt) & 0xFFFFFFFF
        target = 65536 if bit else 0
        q = p[c] + (((target - p[c]) * rate[cnt[c]]) >> 16)
        p[c] = min(max(q, 32), 65504)
        if cnt[c] < 255:
            cnt[c] += 1
        out[i] = bit
    return pos
"""

KERNEL_C = r"""
#include <stdint.h>
#include <stdlib.h>
int64_t kernel(const uint8_t *data, int64_t len, const int64_t *ctx, int64_t n, uint8_t *out) {
    int64_t rate[256];
    for (int i = 0; i < 256; i++) rate[i] = 131072 / (2 * i + 3);
    int64_t *p = malloc(65536 * sizeof(int64_t)), *cnt = calloc(65536, sizeof(int64_t));
    for (int i = 0; i < 65536; i++) p[i] = 32768;
    uint32_t rng = 0xFFFFFFFFu;
    uint32_t code = ((uint32_t)data[0] << 24) | (data[1] << 16) | (data[2] << 8) | data[3];
    int64_t pos = 4;
    for (int64_t i = 0; i < n; i++) {
        int64_t c = ctx[i];
        uint32_t bound = (rng >> 16) * (uint32_t)p[c];
        int bit;
        if (code < bound) { rng = bound; bit = 1; }
        else { code -= bound; rng -= bound; bit = 0; }
        while (rng < (1u << 24)) {
            rng <<= 8;
            code = (code << 8) | (pos < len ? data[pos] : 0);
            pos++;
        }
        int64_t target = bit ? 65536 : 0;
        int64_t q = p[c] + (((target - p[c]) * rate[cnt[c]]) >> 16);
        p[c] = q < 32 ? 32 : q > 65504 ? 65504 : q;
        if (cnt[c] < 255) cnt[c]++;
        out[i] = (uint8_t)bit;
    }
    free(p); free(cnt);
    return pos;
}
"""


def _seconds_in_fresh_python(setup: str, statement: str) -> float:
    code = f"{setup}\nimport time\nt = time.perf_counter()\n{statement}\n"
    code += "print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout)


def _best(fn, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def shipped_decoder(pixels: int) -> None:
    from kmcodec.format.codings import context as context_coding

    ext = next((ROOT / "kmcodec" / "format" / "codings").glob("_context_coder*.so"), None)
    rng = np.random.default_rng(0)
    side = int(pixels**0.5)
    y, x = np.mgrid[0:side, 0:side]
    plane = ((x // 9 + y // 7 + rng.integers(0, 2, (side, side))) % 16).astype(np.uint8)
    stream = context_coding.encode(plane, 16)
    t_import = float("nan")
    if ext is not None:
        t_import = _seconds_in_fresh_python(
            "import numpy, importlib.util as u",
            "u.module_from_spec(u.spec_from_file_location("
            f"'kmcodec.format.codings._context_coder', {str(ext)!r}))",
        )
    t0 = time.perf_counter()
    context_coding.decode(stream, side, side, 16)
    first = time.perf_counter() - t0
    best = _best(lambda: context_coding.decode(stream, side, side, 16))
    print(f"1. the shipped decoder, {side}x{side} plane at K = 16 ({len(stream)} bytes)")
    print(f"   import of the extension {1e3 * t_import:.2f} ms, first call {1e3 * first:.1f} ms,")
    print(f"   then {1e3 * best:.1f} ms a call ({plane.size / best / 1e6:.1f} M pixels/s)")


def kernels(decisions: int) -> None:
    rng = np.random.default_rng(1)
    ctx = rng.integers(0, 4096, decisions).astype(np.int64)
    data = rng.integers(0, 256, decisions // 4 + 16).astype(np.uint8)
    out = np.empty(decisions, np.uint8)
    print(f"\n2. the same kernel, {decisions} decisions")
    print(f"   {'':<8}{'import ms':>11}{'first call ms':>15}{'M decisions/s':>15}")
    cc = shutil.which("cc") or shutil.which("gcc")
    results = {}
    if cc is None:
        print("   C: no C compiler on PATH, skipped")
    else:
        with tempfile.TemporaryDirectory() as tmp:
            src, lib = Path(tmp) / "k.c", Path(tmp) / "k.so"
            src.write_text(KERNEL_C)
            subprocess.run([cc, "-O3", "-shared", "-fPIC", str(src), "-o", str(lib)], check=True)
            t_import = _seconds_in_fresh_python("import ctypes", f"ctypes.CDLL({str(lib)!r})")
            k = ctypes.CDLL(str(lib)).kernel
            k.restype = ctypes.c_int64
            ptr = ctypes.c_void_p

            def run_c() -> int:
                return k(
                    ptr(data.ctypes.data),
                    ctypes.c_int64(len(data)),
                    ptr(ctx.ctypes.data),
                    ctypes.c_int64(len(ctx)),
                    ptr(out.ctypes.data),
                )

            t0 = time.perf_counter()
            run_c()
            first = time.perf_counter() - t0
            results["C"] = out.copy()
            best = _best(run_c)
            print(
                f"   {'C':<8}{1e3 * t_import:>11.2f}{1e3 * first:>15.1f}"
                f"{decisions / best / 1e6:>15.1f}"
            )
    try:
        import numba
    except ImportError:
        print("   numba: not installed (pip install numba), skipped")
        return
    t_import = _seconds_in_fresh_python("import numpy", "import numba")
    namespace: dict = {}
    exec(KERNEL_PY, namespace)  # our own kernel text, compiled by numba below
    kernel = numba.njit(cache=False)(namespace["kernel"])
    data64 = data.astype(np.int64)
    t0 = time.perf_counter()
    kernel(data64, ctx, out)
    first = time.perf_counter() - t0
    best = _best(lambda: kernel(data64, ctx, out))
    print(
        f"   {'numba':<8}{1e3 * t_import:>11.2f}{1e3 * first:>15.1f}{decisions / best / 1e6:>15.1f}"
    )
    if "C" in results and not np.array_equal(results["C"], out):
        raise SystemExit("the C and numba kernels disagree")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pixels", type=int, default=768 * 512)
    args = parser.parse_args(argv)
    shipped_decoder(args.pixels)
    kernels(2 * args.pixels)
    return 0


if __name__ == "__main__":
    sys.exit(main())
