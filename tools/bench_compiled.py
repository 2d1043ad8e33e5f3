"""Why the context coder's inner loop is a C extension and not numba: the measured costs.

Usage::

    python tools/bench_compiled.py [--pixels N]

Both run the same kernel, the hot loop of coding 1: a binary range decoder (spec 2.6.2) driven by
adaptive counters (spec 2.6.3) chosen by a context, decoding a stream that the C encoder made
from a real photo's indices at K = 16. It prints, for the C extension and for numba (when
installed; it is not a dependency of kmcodec): the time to import, the first call's latency
(numba compiles then) and the throughput of later calls in million decisions per second.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import numpy as np

KERNEL = '''
import numpy as np

def kernel(data, ctx, out):
    """Decode len(ctx) bits, bit i with the counter ctx[i], as spec 2.6.2-2.6.3 do."""
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
'''


def _import_seconds(module: str) -> float:
    """Seconds to import ``module`` in a fresh interpreter (numpy already imported)."""
    if module == "kmcodec._context_coder":  # the extension alone, without the kmcodec package
        import glob

        import kmcodec

        path = glob.glob(
            str(__import__("pathlib").Path(kmcodec.__file__).parent / "_context_coder*")
        )[0]
        module = "x"
        load = (
            "import importlib.machinery as m, importlib.util as u; "
            f"s = u.spec_from_file_location('kmcodec._context_coder', {path!r}); "
            "u.module_from_spec(s)"
        )
    else:
        load = f"import {module}"
    code = f"import numpy, time; t = time.perf_counter(); {load}; print(time.perf_counter() - t)"
    return float(
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pixels", type=int, default=768 * 512)
    args = parser.parse_args(argv)
    from kmcodec import context_coding

    rng = np.random.default_rng(0)
    side = int(args.pixels**0.5)
    y, x = np.mgrid[0:side, 0:side]
    plane = ((x // 9 + y // 7 + rng.integers(0, 2, (side, side))) % 16).astype(np.uint8)
    stream = context_coding.encode(plane, 16)
    t0 = time.perf_counter()
    context_coding.decode(stream, side, side, 16)
    first_c = time.perf_counter() - t0
    best_c = min(_timed(lambda: context_coding.decode(stream, side, side, 16)) for _ in range(5))
    # The C decoder makes about this many decisions on this plane: measured with the reference
    # counts below, so both throughputs are per decision.
    decisions = _decisions(plane)
    print(
        f"plane {side}x{side}, K = 16, {decisions} decisions ({decisions / plane.size:.2f}"
        " per pixel)"
    )
    print(f"{'':<16}{'import s':>10}{'first call s':>14}{'M decisions/s':>15}")
    print(
        f"{'C extension':<16}{_import_seconds('kmcodec._context_coder'):>10.3f}{first_c:>14.4f}"
        f"{decisions / best_c / 1e6:>15.1f}"
    )
    try:
        import numba
    except ImportError:
        print("numba: not installed (pip install numba), skipped")
        return 0
    t_import = _import_seconds("numba")
    namespace: dict = {}
    exec(KERNEL, namespace)
    import numba

    kernel = numba.njit(cache=False)(namespace["kernel"])
    ctx = rng.integers(0, 800, decisions).astype(np.int64)
    data = np.frombuffer(stream, np.uint8).astype(np.int64)
    out = np.empty(decisions, np.uint8)
    t0 = time.perf_counter()
    kernel(data, ctx, out)
    first_n = time.perf_counter() - t0
    best_n = min(_timed(lambda: kernel(data, ctx, out)) for _ in range(5))
    print(
        f"{'numba':<16}{t_import:>10.3f}{first_n:>14.4f}{decisions / best_n / 1e6:>15.1f}"
        "  (range decoder + counters only: no contexts, no match model)"
    )
    return 0


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _decisions(plane: np.ndarray) -> int:
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    from tests import context_reference as ref

    ref.TRACE = []
    ref.encode(plane.tolist(), 16)
    count = sum(len(steps) for *_, steps, _ in ref.TRACE)
    ref.TRACE = None
    return count


if __name__ == "__main__":
    sys.exit(main())
