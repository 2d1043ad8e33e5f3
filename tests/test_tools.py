"""The benchmark tools run end to end on a small folder and print what they measured."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import kmcodec

from .support import ROOT

#: Each tool runs in a subprocess on real images: make test-quick skips them.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, photo):
    folder = tmp_path_factory.mktemp("corpus")
    Image.fromarray(photo).save(folder / "a.png")
    return folder


def tool(name: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / name), *args], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _row(out: str, first: str) -> list[str]:
    """The fields of the first output line whose first field is ``first``."""
    return next(line.split() for line in out.splitlines() if line.split()[:1] == [first])


def test_bench_quantize(corpus, photo) -> None:
    import shutil

    out = tool("bench_quantize.py", str(corpus), "--colors", "16", "--no-sklearn")
    rows = {}
    for line in out.split("Medians per K", 1)[1].splitlines()[2:]:
        number = r"\s+([\d.-]+)"
        m = re.match(r"\s*16\s+(.+?)\s{2,}([\d.]+)" + number * 4, line)
        if m:
            rows[m.group(1).strip()] = [float(v) if v != "-" else None for v in m.groups()[1:]]
    psnr, delta_e, blurred, bpp, seconds = rows["kmcodec"]
    assert delta_e > blurred > 0 and seconds > 0
    q = kmcodec.quantize(photo, 16)
    # the figures printed are the ones measured: kmcodec at K=16 on this image, redone here
    assert psnr == pytest.approx(q.psnr, abs=0.006)
    assert bpp == pytest.approx(8 * len(q.encode()) / photo[..., 0].size, abs=0.0006)
    d_psnr, _, d_blurred, _, _ = rows["kmcodec dithered"]
    assert d_blurred < blurred and d_psnr < psnr  # what dithering trades
    assert rows["Pillow MEDIANCUT"][0] < psnr
    # Each goal line's verdict follows from the figure it prints, and the figure from the table.
    m = re.search(
        r"PSNR margin over the best peer \((.+?)\) ([+-][\d.]+) dB"
        r" \(goal >= \+([\d.]+)\): (met|NOT met)",
        out,
    )
    assert m, out
    who, margin, need, verdict = m.group(1), float(m.group(2)), float(m.group(3)), m.group(4)
    assert verdict == ("met" if margin >= need else "NOT met")
    assert margin == pytest.approx(psnr - rows[who][0], abs=0.011)
    m = re.search(
        r"seeding: worst image against k-means\+\+ ([+-][\d.]+) dB"
        r" \(goal >= -0.05\): (met|NOT met)",
        out,
    )
    assert m, out
    assert m.group(2) == ("met" if float(m.group(1)) >= -0.05 else "NOT met")
    m = re.search(
        r"dithered blurred ΔE ([\d.]+) = ([\d.]+)x pngquant's ([\d.]+) \(goal <= 0.9x\),"
        r" ([\d.]+) bpp vs pngquant\+optipng ([\d.]+) \(goal <=\): (met|NOT met)",
        out,
    )
    assert bool(m) == (shutil.which("pngquant") is not None), out
    if m:
        d_blur, ratio, p_blur, d_bpp, p_bpp = map(float, m.groups()[:5])
        assert d_blur == pytest.approx(rows["kmcodec dithered"][2], abs=0.0006)
        assert ratio == pytest.approx(d_blur / p_blur, abs=0.006)
        assert m.group(6) == ("met" if d_blur <= 0.9 * p_blur and d_bpp <= p_bpp else "NOT met")


def test_bench_quantize_gives_pngquant_a_png_of_a_jpeg(tmp_path, photo) -> None:
    import shutil

    if not shutil.which("pngquant"):
        pytest.skip("pngquant not installed")
    Image.fromarray(photo).save(tmp_path / "a.jpg", quality=90)
    out = tool("bench_quantize.py", str(tmp_path), "--colors", "8", "--no-sklearn")
    assert re.search(r"^\s*8\s+pngquant\s+[\d.]+", out, re.M)


def test_bench_options(corpus, photo) -> None:
    out = tool(
        "bench_options.py", str(corpus), "--colors", "4", "--variant", "oklab=color_space=oklab"
    )
    _, variant, psnr, ssim, delta_e, bpp, seconds = _row(out, "4")
    assert variant == "oklab"
    q = kmcodec.quantize(photo, 4, color_space="oklab")
    assert float(psnr) == pytest.approx(q.psnr, abs=0.006)
    assert 0 < float(ssim) <= 1 and float(delta_e) > 0 and float(seconds) > 0
    assert float(bpp) == pytest.approx(8 * len(q.encode()) / photo[..., 0].size, abs=0.0006)


def test_bench_decode(corpus, photo) -> None:
    out = tool("bench_decode.py", str(corpus), "--colors", "4", "--large", "0", "--repeat", "2")
    row = next(line for line in out.splitlines() if "), median" in line)
    kmq_ms, png_ms, ratio, kmq_bytes, png_bytes = (float(v) for v in row.split()[-5:])
    assert kmq_ms > 0 and png_ms > 0
    # the ratio is of the unrounded times; the times are printed to 0.01 ms
    assert (kmq_ms - 0.005) / (png_ms + 0.005) <= ratio <= (kmq_ms + 0.005) / (png_ms - 0.005)
    assert kmq_bytes == len(kmcodec.encode(photo, 4))
    assert 0 < kmq_bytes < png_bytes


def test_bench_index_coding(corpus) -> None:
    out = tool("bench_index_coding.py", str(corpus), "--colors", "3", "--levels", "1")
    rows = [line.split() for line in out.splitlines() if line.strip().startswith("3 ")]
    assert {r[1] for r in rows} >= {"2", "3", "4", "8"}  # every width that holds 3 colours


def test_bench_large_small_size(corpus) -> None:
    out = tool("bench_large.py", "--size", "320x240", "--colors", "16")
    line = next(x for x in out.splitlines() if x.startswith("kmcodec.encode"))
    numbers = [float(v) for v in re.findall(r"\d+(?:\.\d+)?", line)]
    seconds, peak, started = numbers[0], numbers[1], numbers[2]
    assert 0 < seconds < 60 and peak >= started > 10
    assert "0 MB of pixels" in line  # 320 x 240 x 3 bytes is 0.23 MB
    assert 15 < float(re.search(r"PSNR ([\d.]+) dB", line).group(1)) < 50
    # The memory goals: each figure is in its table row, each verdict follows from its figure.
    pixels = 320 * 240
    m = re.search(r"goal for kmq: <= 20 bytes a pixel \+ 64 MB = (\d+) MiB here", out)
    assert m, out
    goal = int(m.group(1))
    assert goal == round((20 * pixels + 64_000_000) / 2**20)
    for label in ("dithered", "--nofs"):
        row = _row(out.replace("kmq encode ", "kmq-encode-"), "kmq-encode-" + label)
        mib, per_pixel = float(row[1]), float(row[2])
        assert 10 < mib < goal + 200 and per_pixel == pytest.approx(mib * 2**20 / pixels, rel=0.01)
        m = re.search(rf"goal kmq encode {label} <= (\d+) MiB: (\d+) MiB.*, (met|NOT met)", out)
        assert m and int(m.group(2)) == round(mib)
        assert m.group(3) == ("met" if mib <= goal else "NOT met") or abs(mib - goal) < 1
    m = re.search(
        r"-j 2 of 2 copies: whole process tree peak (\d+) MiB.*= (\d+) MiB\): (met|NOT met)", out
    )
    assert m, out
    tree, budget = int(m.group(1)), int(m.group(2))
    assert budget == round(2 * (20 * pixels + 64_000_000) / 2**20)
    assert tree > 2 * 10  # at least two interpreters
    assert m.group(3) == ("met" if tree <= budget else "NOT met") or abs(tree - budget) < 1


def test_make_vectors_reproduces_the_committed_files(tmp_path) -> None:
    tool("make_vectors.py", "--out", str(tmp_path))
    committed = ROOT / "spec" / "vectors"
    for path in committed.rglob("*.kmq"):
        assert (tmp_path / path.relative_to(committed)).read_bytes() == path.read_bytes(), path
    for path in committed.rglob("*.png"):
        a = np.asarray(Image.open(path))
        b = np.asarray(Image.open(tmp_path / path.relative_to(committed)))
        np.testing.assert_array_equal(a, b)


def test_bench_size(corpus, tmp_path) -> None:
    figures, page = tmp_path / "r.json", tmp_path / "docs" / "bench_size.md"
    out = tool(
        "bench_size.py", str(corpus), "--colors", "4,16", "--repeat", "1",
        "--json", str(figures), "--markdown", str(page),
    )  # fmt: skip
    assert "median bits per pixel" in out and "Image.open(f).load()" in out
    result = json.loads(figures.read_text())
    for k in ("4", "16"):
        bpp = result["median_bpp"][k]
        # codings 0, 1 and 2, and the default is the smaller of codings 0 and 2
        assert bpp["kmq"] == min(bpp["kmq0"], bpp["kmq2"]) and bpp["kmq1"] < bpp["kmq2"]
        assert set(result["load_ms"][k]) >= {"kmq0", "kmq1", "kmq2", "kmq2-mt", "png8"}
    # the documentation page: stamped, what was printed, the plots beside it
    text = page.read_text()
    assert "**Commit:**" in text and "**Machine:**" in text and "**Command:**" in text
    assert "median bits per pixel" in text and "img/bench_size-bpp.png" in text
    assert (page.parent / "img" / "bench_size-bpp.png").stat().st_size > 1000


def test_bench_compiled() -> None:
    out = tool("bench_compiled.py", "--pixels", "4096")
    assert "the shipped decoder" in out and "M decisions/s" in out
    c_row = _row(out, "C")
    import_ms, first_ms, throughput = (float(v) for v in c_row[1:4])
    assert 0 < import_ms < 1000 and first_ms > 0 and throughput > 0.1


def test_fuzz_bounded_run_finds_nothing() -> None:
    # A few thousand mutated conformance files through every decoder entry point: only
    # documented errors, no hang, no memory beyond the declared output + 64 MB.
    out = tool("fuzz.py", "--inputs", "1500", "--seed", "7")
    assert "no findings" in out
    for entry in ("decode", "pillow", "info"):
        assert f"{entry}: 1500 inputs" in out


def test_bench_import() -> None:
    out = tool("bench_import.py", "--runs", "2")
    deps = float(_row(out, "numpy,")[-1])
    ours = float(_row(out, "kmcodec")[-1])
    assert 0 < deps < ours  # kmcodec imports those and more
    assert "goal: import kmcodec < 250 ms" in out


def test_bench_batch() -> None:
    pytest.importorskip("distributed")
    out = tool("bench_batch.py", "--count", "12", "--size", "64", "--colors", "16")
    rates = {}
    for line in out.splitlines():
        m = re.match(r"(.+?)\s+([\d.]+)\s+([\d.]+)$", line)
        if m and not line.startswith("goal"):
            rates[m.group(1).strip()] = (float(m.group(2)), float(m.group(3)))
    for label in (
        "kmq encode --nofs -j 1",
        "kmq encode --nofs -j 2",
        "kmq encode --nofs --dask local -j 2",
        "kmq encode -j 2 (dithered)",
    ):
        seconds, per_second = rates[label]
        # images/s is of the unrounded time; the time is printed to 0.1 s
        assert 12 / (seconds + 0.05) - 0.05 <= per_second <= 12 / max(seconds - 0.05, 0.01) + 0.05
    m = re.search(r"goal -j 2 >= 1.8x -j 1: ([\d.]+)x, (met|NOT met)", out)
    assert m, out
    ratio = float(m.group(1))
    j1, j2 = rates["kmq encode --nofs -j 1"][1], rates["kmq encode --nofs -j 2"][1]
    assert ratio == pytest.approx(j2 / j1, rel=0.05, abs=0.02)  # of the unrounded rates
    assert m.group(2) == ("met" if ratio >= 1.8 else "NOT met") or abs(ratio - 1.8) < 0.01
    assert re.search(r"goal Dask within 15% of -j 2: [\d.]+x", out)


def test_bench_dither_graphics(tmp_path, photo) -> None:
    flat = np.zeros((48, 64, 3), dtype=np.uint8)
    flat[:, 32:] = (200, 40, 40)
    flat[20:28, :] = (250, 250, 250)
    Image.fromarray(flat).save(tmp_path / "fill.png")
    Image.fromarray(photo).save(tmp_path / "photo.png")
    out = tool("bench_dither_graphics.py", str(tmp_path), "--colors", "4")
    fill = _row(out, "fill.png")
    # the figures printed are the ones measured, and a flat fill is left undithered
    assert int(fill[2]) == len(kmcodec.encode(flat, 4))
    assert int(fill[3]) == len(kmcodec.encode(flat, 4, dither=True)) == int(fill[2])
    assert fill[5] == "0.0%"
    photo_row = _row(out, "photo.png")
    assert float(photo_row[4]) > 1.0  # a photo's dither costs bytes
    assert re.search(r"median dithered/plain over 2 cases: [\d.]+", out)


def _palette_image(indices: np.ndarray) -> Image.Image:
    """A palette image of 4 colours (black, red, green, blue)."""
    im = Image.fromarray(np.ascontiguousarray(indices, dtype=np.uint8), "P")
    im.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255])
    return im


def _save_gif(path, planes: list[np.ndarray]) -> None:
    """An animated GIF of 4-colour frames, 50 ms each."""
    frames = [_palette_image(p) for p in planes]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50)


def _tile_image(tile: np.ndarray, shape: tuple[int, int]) -> Image.Image:
    """A palette image of 4 colours: ``tile`` repeated over ``shape``."""
    reps = (-(-shape[0] // tile.shape[0]), -(-shape[1] // tile.shape[1]))
    return _palette_image(np.tile(tile, reps)[: shape[0], : shape[1]])


def test_estimate_anim_finds_a_pan_that_the_temporal_model_alone_misses(tmp_path) -> None:
    # a texture of 4 colours moving 3 pixels left a frame: every pixel changes in place, and
    # each equals the previous frame's 3 pixels to its right
    folder = tmp_path / "pan"
    folder.mkdir()
    texture = np.random.default_rng(1).integers(0, 4, (32, 90), dtype=np.uint8)
    _save_gif(folder / "pan.gif", [texture[:, 3 * i : 3 * i + 60] for i in range(6)])
    out = tool("estimate_anim.py", str(folder))
    header = out.splitlines()[0].split()
    assert "shift" in header
    row = _row(out, "pan.gif")
    with_tables, with_shift = float(row[10]), float(row[12])
    assert with_shift < 0.5 * with_tables


def test_estimate_anim(tmp_path) -> None:
    # A 6-frame animation in which one square moves: most pixels equal the previous frame's.
    folder = tmp_path / "anim"
    folder.mkdir()
    frames = []
    for i in range(6):
        a = np.zeros((40, 60), np.uint8)
        a[::7] = 2  # stripes that stay
        a[10:20, 5 + 6 * i : 15 + 6 * i] = 1
        im = Image.fromarray(a, "P")
        im.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255])
        frames.append(im)
    frames[0].save(folder / "square.gif", save_all=True, append_images=frames[1:], duration=50)
    out = tool("estimate_anim.py", str(folder))
    row = _row(out, "square.gif")
    frames_n, colours, unchanged = int(row[1]), int(row[2]), float(row[3].rstrip("%"))
    c2, intra, temporal, with_tables = (int(float(v)) for v in row[7:11])
    assert (frames_n, colours) == (6, 3)
    moved = 2 * 10 * 6  # the square's columns that change each step
    assert unchanged == pytest.approx(100 * (1 - moved / 2400), abs=0.1)
    # the tool's palette: every colour, in the order of its RGBA code (black, blue, red)
    palette = np.array([[0, 0, 0, 255], [0, 0, 255, 255], [255, 0, 0, 255]], np.uint8)
    with Image.open(folder / "square.gif") as im:
        from PIL import ImageSequence

        planes = [np.asarray(f.convert("RGBA")) for f in ImageSequence.Iterator(im)]
    real = 0
    planes_index = []
    for rgba in planes:
        index = np.argmax((rgba[:, :, None, :] == palette[None, None]).all(axis=3), axis=2)
        planes_index.append(index)
        real += len(kmcodec.encode_indexed(palette, index.astype(np.uint8), coding=2))
    assert c2 == real  # the real files, frame by frame
    assert temporal < intra and with_tables >= temporal
    # zstd on the differences: the real size, redone here
    import zstandard

    parts = [planes_index[0]] + [
        np.where(b == a, 3, b) for a, b in itertools.pairwise(planes_index)
    ]
    data = np.concatenate([p.ravel() for p in parts]).astype(np.uint8).tobytes()
    params = zstandard.ZstdCompressionParameters.from_level(
        19, source_size=len(data), window_log=max(10, len(data).bit_length()), enable_ldm=True
    )
    assert int(row[14]) == len(zstandard.ZstdCompressor(compression_params=params).compress(data))
    # the block model: most 4x4 blocks are unchanged, so it is far below coding 2 frame by frame
    assert 0 < int(row[16]) < c2 / 2


def test_bench_anim_measures_every_file_and_checks_its_frames(tmp_path) -> None:
    import json
    import shutil

    from kmcodec.animation import encode_animation

    folder = tmp_path / "anim"
    folder.mkdir()
    frames = []
    for i in range(5):
        a = np.zeros((30, 40), np.uint8)
        a[4:12, 3 + 5 * i : 11 + 5 * i] = 1
        im = Image.fromarray(a, "P")
        im.putpalette([0, 0, 0, 255, 200, 0])
        frames.append(im)
    frames[0].save(
        folder / "move.gif", save_all=True, append_images=frames[1:], duration=40, loop=0
    )
    out = tool(
        "bench_anim.py",
        str(folder),
        "--no-made",
        "--no-quantised",
        "--repeat",
        "1",
        "--json",
        str(tmp_path / "r.json"),
    )
    result = json.loads((tmp_path / "r.json").read_text())
    (row,) = result["lossless"]
    with Image.open(folder / "move.gif") as im:
        from PIL import ImageSequence

        rgba = [np.asarray(f.convert("RGBA")) for f in ImageSequence.Iterator(im)]
    assert row["kmq"] == len(encode_animation(rgba, [40] * 5, 0))  # the real file's size
    assert row["exact"] is True and row["frames"] == 5 and row["colors"] == 2
    assert "every frame identical to the source's: 1 of 1 files" in out
    if shutil.which("gifsicle"):
        assert row["gifsicle"] > 0 and "median kmq / gifsicle -O3" in out
    else:
        assert "gifsicle is not installed" in out


def test_estimate_copies_finds_a_repeated_tile_that_the_model_alone_codes_afresh(
    tmp_path,
) -> None:
    # a random tile of 4 colours repeated: the per-pixel model cannot predict it, a copy and
    # the neighbourhood's match can
    folder = tmp_path / "tiles"
    folder.mkdir()
    rng = np.random.default_rng(3)
    tile = rng.integers(0, 4, (16, 24), dtype=np.uint8)
    _tile_image(tile, (64, 96)).convert("RGB").save(folder / "tiles.png")
    out = tool("estimate_copies.py", str(folder), "--colors", "4")
    header = out.splitlines()[0].split()
    assert {"model", "copies", "match"} <= set(header)
    row = _row(out, "tiles")
    assert row[1] == "K=4"
    # file, K, peer, coding 2, coding 1, model, copies, covered, match, S0 right, ratios
    model, copies, covered, match, right = row[5:10]
    assert float(copies) < 0.5 * float(model)
    assert float(match) < 0.5 * float(model)
    assert float(covered.rstrip("%")) > 50  # three of the four tile rows, and more
    assert float(right.rstrip("%")) > 50
    assert re.search(r"median model \+ copies / WebP -m6: [\d.]+", out) or "skipped cwebp" in out


def test_estimate_copies_animation_copies_a_tile_from_the_previous_frame(tmp_path) -> None:
    # a random tile at the left of every frame, and a copy of it that moves between two places
    # to its right: the temporal model codes each moved copy afresh, copies do not
    folder = tmp_path / "anim"
    folder.mkdir()
    tile = np.random.default_rng(4).integers(1, 4, (40, 40), dtype=np.uint8)
    planes = []
    for i in range(6):
        a = np.zeros((50, 160), np.uint8)
        a[5:45, 5:45] = tile
        if i:
            a[5:45, 50 + 20 * (i % 2) : 90 + 20 * (i % 2)] = tile
        planes.append(a)
    _save_gif(folder / "tile.gif", planes)
    out = tool("estimate_copies.py", str(folder))
    row = _row(out, "tile.gif")
    # file, peer, coding 2, coding 1 ("-"), model, copies, covered, match, S0 right, 4 ratios,
    # runs, in runs, runs+cp, 2 ratios
    model, copies, match = float(row[4]), float(row[5]), float(row[7])
    runs, in_runs, runs_cp = float(row[13]), float(row[14].rstrip("%")), float(row[15])
    assert copies < 0.5 * model
    assert match < 0.7 * model
    assert runs < model  # the unchanged pixels as runs, the moved tile by the match
    assert runs_cp < runs
    assert 50 < in_runs < 100


def test_estimate_copies_candidates_are_true_matches() -> None:
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import estimate_copies as ec
    finally:
        sys.path.pop(0)
    rng = np.random.default_rng(5)
    stream = np.concatenate([rng.integers(0, 3, 300), rng.integers(0, 3, 50)]).astype(np.int64)
    stream[200:260] = stream[40:100]  # a long repeat at distance 160
    lengths, dists = ec.candidates(stream, 0, 10, 0)
    assert lengths[200] >= 60  # the long key finds what the short key's latest place misses
    for p in range(len(stream)):
        n, d = int(lengths[p]), int(dists[p])
        if n == 0:
            continue
        assert 1 <= d <= p
        assert np.array_equal(stream[p : p + n], stream[p - d : p - d + n])
        assert p + n == len(stream) or stream[p + n] != stream[p + n - d]
    bucket, extra = ec.prefix_code(np.array([0, 1, 2, 3, 4, 7, 8, 1000]))
    # WebP's prefix code of value + 1: 1 -> 0, 2 -> 2, 3 -> 3, 4 -> 4, 5 -> 4 (extra 1)
    assert bucket.tolist()[:5] == [0, 2, 3, 4, 4]
    assert extra.tolist()[:5] == [0, 0, 0, 1, 1]
