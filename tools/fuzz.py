"""Mutation fuzzing of every decoder entry point, seeded from spec/vectors.

Usage::

    python tools/fuzz.py [--inputs N] [--seed S] [--entry decode,pillow,info] [--timeout 2]

Each input is a conformance file with a few mutations: bits flipped, bytes set to edge values,
cut or extended, a chunk inserted, and header fields (width, height, colors, index_bits,
coding, stream_size, chunk_count) overwritten with edge values -- half the time with the
header CRC recomputed, and half the time, in coding 2 files, the CRC-32s of the tables and
parts, so that the mutation reaches the checks after them. Inputs run in a
worker process, in batches; a batch that takes longer than ``--timeout`` seconds an input is
re-run one input at a time to find the input that hangs. Per input the worker measures its peak
memory (Linux VmHWM, reset before each input) and compares it with what the header declares
(width x height x 4 bytes, plus Pillow's 8-byte pointer per row for the Pillow entry point)
plus 64 MB.

Each finding's whole input is saved in ``--save`` (default ``fuzz-findings/``), to be kept in
``tests/data/`` (with its expected error in ``tests/data/expected.json``).

Entry points: ``decode`` (``kmcodec.read_animation`` and every frame decoded: a still file is
one frame; documented errors: KmqError), ``pillow`` (``Image.open(f)`` and every frame loaded
through ``ImageSequence``; UnidentifiedImageError, OSError, Pillow's decompression-bomb errors)
and ``info`` (``kmq info --check``; exit codes 0, 1 or 3 and no traceback). Anything else is a
finding. Prints inputs tried, outcomes per exception type, hangs, memory findings and the peak
RSS, and exits 1 if anything undocumented happened.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import multiprocessing as mp
import random
import struct
import sys
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "spec" / "vectors"
HEADER_SIZE = 28
EDGE_U32 = (0, 1, 2, 255, 256, 65535, 65536, 1 << 24, (1 << 28) + 1, 0x7FFFFFFF, 0xFFFFFFFF)
EDGE_BYTE = (0, 1, 2, 3, 4, 7, 8, 0x7F, 0x80, 0xFE, 0xFF)
FIELDS = {  # offset, struct format
    "coding": (10, "<B"),
    "index_bits": (11, "<B"),
    "width": (12, "<I"),
    "height": (16, "<I"),
    "colors": (20, "<H"),
    "chunk_count": (22, "<H"),
    "stream_size": (24, "<I"),
}
MEMORY_SLACK = 64 << 20


def seeds() -> list[bytes]:
    manifest = json.loads((VECTORS / "manifest.json").read_text())
    cases = manifest["valid"] + manifest["invalid"] + manifest.get("animations", [])
    return [(VECTORS / c["file"]).read_bytes() for c in cases]


def _fix_header_crc(data: bytearray) -> None:
    if len(data) < HEADER_SIZE:
        return
    colors = struct.unpack_from("<H", data, 20)[0]
    entry = 4 if data[9] & 1 else 3
    end = HEADER_SIZE + colors * entry
    if end + 4 <= len(data):
        struct.pack_into("<I", data, end, zlib.crc32(bytes(data[:end])))


def _fix_fast_crcs(data: bytearray) -> None:
    """Recompute the CRC-32s of a coding 2 stream's tables and parts (spec 2.7.1), where the
    layout can still be followed, so that a mutation inside them reaches the rANS decoder."""
    if len(data) < HEADER_SIZE or data[10] != 2:
        return
    colors, chunks = struct.unpack_from("<HH", data, 20)
    pos = HEADER_SIZE + colors * (4 if data[9] & 1 else 3) + 4
    for _ in range(chunks):
        if pos + 8 > len(data):
            return
        pos += 12 + struct.unpack_from("<I", data, pos + 4)[0]
    if pos + 8 > len(data):
        return
    height = struct.unpack_from("<I", data, 16)[0]
    part_rows, table_size = struct.unpack_from("<II", data, pos)
    pos += 8
    if not part_rows or pos + table_size + 4 > len(data):
        return
    struct.pack_into("<I", data, pos + table_size, zlib.crc32(bytes(data[pos : pos + table_size])))
    pos += table_size + 4
    for _ in range(min(-(-height // part_rows), 1 << 16)):
        if pos + 8 > len(data):
            return
        size = struct.unpack_from("<I", data, pos)[0]
        if pos + 8 + size > len(data):
            return
        struct.pack_into("<I", data, pos + 4, zlib.crc32(bytes(data[pos + 8 : pos + 8 + size])))
        pos += 8 + size


def mutate(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 3, 5))):
        kind = rng.randrange(8)
        if kind == 0 and out:  # flip a bit
            i = rng.randrange(len(out))
            out[i] ^= 1 << rng.randrange(8)
        elif kind == 1 and out:  # an edge byte
            out[rng.randrange(len(out))] = rng.choice(EDGE_BYTE)
        elif kind == 2 and out:  # cut
            del out[rng.randrange(len(out)) :]
        elif kind == 3:  # extend
            out += bytes(rng.randrange(256) for _ in range(rng.choice((1, 4, 64))))
        elif kind == 4 and len(out) > HEADER_SIZE:  # a header field set to an edge value
            offset, fmt = FIELDS[rng.choice(list(FIELDS))]
            value = rng.choice(EDGE_U32) & ((1 << (8 * struct.calcsize(fmt))) - 1)
            struct.pack_into(fmt, out, offset, value)
            if rng.random() < 0.5:
                _fix_header_crc(out)
        elif kind == 5 and len(out) > 40:  # a byte inside the stream, which no CRC covers
            i = rng.randrange(len(out) // 2, len(out))
            out[i] = rng.randrange(256)
        elif kind == 6 and len(out) > 40:  # duplicate a run of bytes
            i = rng.randrange(len(out))
            j = min(len(out), i + rng.choice((1, 4, 12, 64)))
            out[i:i] = out[i:j]
        elif kind == 7 and len(out) > HEADER_SIZE:  # header CRC recomputed after any change
            _fix_header_crc(out)
    if rng.random() < 0.5:  # coding 2: its CRC-32s recomputed, so the coder sees the change
        _fix_fast_crcs(out)
    return bytes(out)


def _declared_output(data: bytes, entry: str) -> int:
    """What the header makes the entry point allocate: width x height x 4 bytes of pixels, and
    for Pillow also its 8-byte pointer per row (a 1 x 16 M image takes 128 MiB of them in
    Pillow, whatever the format)."""
    if len(data) < HEADER_SIZE:
        return 0
    width, height = struct.unpack_from("<II", data, 12)
    return width * height * 4 + (8 * height if entry == "pillow" else 0)


def _peak_reset() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _peak_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _run_one(entry: str, data: bytes, scratch: Path) -> str:
    """Run one input; return the outcome: "ok", a documented error's name, or "UNDOCUMENTED:..."."""
    import io
    import warnings

    from PIL import Image

    import kmcodec
    from kmcodec import cli

    warnings.simplefilter("ignore")  # Pillow's DecompressionBombWarning: an outcome, not noise
    try:
        if entry == "decode":
            anim = kmcodec.read_animation(data)  # a still file: its one image
            for n in range(anim.n_frames):
                anim.frame(n)
        elif entry == "pillow":
            from PIL import ImageSequence

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with Image.open(io.BytesIO(data)) as im:
                    for frame in ImageSequence.Iterator(im):
                        frame.load()
        else:
            scratch.write_bytes(data)
            out = io.StringIO()
            old = sys.stdout
            sys.stdout = out
            try:
                code = cli.main(["info", "--check", str(scratch)])
            finally:
                sys.stdout = old
            if code not in (0, 1, 3):
                return f"UNDOCUMENTED:exit {code}"
            return f"exit {code}"
    except kmcodec.KmqError as exc:
        return type(exc).__name__ if entry == "decode" else f"UNDOCUMENTED:{type(exc).__name__}"
    except (Image.UnidentifiedImageError, Image.DecompressionBombError, OSError) as exc:
        if entry == "pillow":
            return type(exc).__name__
        return f"UNDOCUMENTED:{type(exc).__name__}: {exc}"
    except Exception as exc:  # everything else is a finding
        return f"UNDOCUMENTED:{type(exc).__name__}: {exc}"
    return "ok"


def _worker(conn, entry: str, scratch: str) -> None:
    import kmcodec  # noqa: F401  (import once, before any input is timed)

    path = Path(scratch)
    while True:
        batch = conn.recv()
        if batch is None:
            return
        results = []
        for data in batch:
            _peak_reset()
            base = _peak_kb()
            t0 = time.perf_counter()
            outcome = _run_one(entry, data, path)
            results.append((outcome, time.perf_counter() - t0, (_peak_kb() - base) * 1024))
        conn.send(results)


class Runner:
    """A worker process for one entry point, restarted after a hang."""

    def __init__(self, entry: str, scratch: Path, timeout: float) -> None:
        self.entry, self.scratch, self.timeout = entry, scratch, timeout
        self.ctx = mp.get_context("spawn")
        self._start()

    def _start(self) -> None:
        self.conn, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(
            target=_worker, args=(child, self.entry, str(self.scratch)), daemon=True
        )
        self.proc.start()

    def run(self, batch: list[bytes]) -> list | None:
        """Results per input, or None if the batch did not finish in time (worker restarted)."""
        self.conn.send(batch)
        if self.conn.poll(self.timeout * len(batch) + 5.0):
            return self.conn.recv()
        self.proc.kill()
        self.proc.join()
        self._start()
        return None

    def close(self) -> None:
        self.conn.send(None)
        self.proc.join(5)


def fuzz(entry: str, inputs: int, seed: int, timeout: float, batch: int = 200) -> dict:
    rng = random.Random(f"{seed}-{entry}")
    pool = seeds()
    scratch = Path(f"/tmp/kmq-fuzz-{entry}-{seed}.kmq")
    runner = Runner(entry, scratch, timeout)
    outcomes: collections.Counter = collections.Counter()
    findings: list[str] = []
    found: list[bytes] = []  # the inputs of the findings, whole
    hangs = 0
    memory = 0
    peak = 0
    done = 0
    t0 = time.perf_counter()
    try:
        while done < inputs:
            datas = [mutate(rng.choice(pool), rng) for _ in range(min(batch, inputs - done))]
            results = runner.run(datas)
            if results is None:  # find the input that hangs, one at a time
                results = []
                for data in datas:
                    one = runner.run([data])
                    if one is None:
                        hangs += 1
                        findings.append(f"hang: {data[:64].hex()}")
                        found.append(data)
                        results.append(("HANG", timeout, 0))
                    else:
                        results.extend(one)
            for data, (outcome, seconds, grown) in zip(datas, results, strict=True):
                outcomes[
                    outcome.split(":")[0] if outcome.startswith("UNDOCUMENTED") else outcome
                ] += 1
                if outcome.startswith("UNDOCUMENTED"):
                    findings.append(f"{outcome[:200]} ({data[:48].hex()})")
                    found.append(data)
                if seconds > timeout and outcome != "HANG":
                    hangs += 1
                    findings.append(f"slow: {seconds:.2f} s ({data[:48].hex()})")
                    found.append(data)
                if grown > _declared_output(data, entry) + MEMORY_SLACK:
                    memory += 1
                    findings.append(f"memory: {grown >> 20} MB ({data[:48].hex()})")
                    found.append(data)
                peak = max(peak, grown)
            done += len(datas)
    finally:
        runner.close()
        scratch.unlink(missing_ok=True)
    return dict(
        entry=entry,
        inputs=done,
        seconds=time.perf_counter() - t0,
        outcomes=outcomes,
        hangs=hangs,
        memory=memory,
        peak=peak,
        findings=findings,
        found=found,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=10000, help="inputs per entry point")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--entry", default="decode,pillow,info")
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds an input may take")
    parser.add_argument(
        "--save",
        type=Path,
        default=Path("fuzz-findings"),
        help="folder for the findings' whole inputs (keep them in tests/data/)",
    )
    args = parser.parse_args(argv)
    bad = 0
    for entry in args.entry.split(","):
        r = fuzz(entry, args.inputs, args.seed, args.timeout)
        print(f"{entry}: {r['inputs']} inputs in {r['seconds']:.1f} s")
        for name, count in sorted(r["outcomes"].items(), key=lambda kv: -kv[1]):
            print(f"  {count:>8}  {name}")
        print(
            f"  hangs over {args.timeout:g} s: {r['hangs']}; over the memory bound: {r['memory']};"
            f" largest peak-RSS growth for one input: {r['peak'] / 2**20:.1f} MB"
        )
        for finding in r["findings"][:20]:
            print(f"  FINDING {finding}")
        for data in r["found"]:
            args.save.mkdir(parents=True, exist_ok=True)
            path = args.save / f"crash-{hashlib.sha1(data).hexdigest()}.kmq"
            path.write_bytes(data)
            print(f"  saved {path}")
        bad += len(r["findings"])
    print("no findings" if not bad else f"{bad} findings")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
