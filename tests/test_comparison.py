"""kmq compare / kmcodec.compare: every number it prints checked against an independent
computation, the plots written, the CLI run on a folder."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import kmcodec
from kmcodec.comparison import FORMATS, compare, knee, smallest_jpeg
from kmcodec.metrics import psnr, ssim


@pytest.fixture(scope="module")
def folder(tmp_path_factory, photo):
    d = tmp_path_factory.mktemp("images")
    Image.fromarray(photo).save(d / "a.png")
    Image.fromarray(np.ascontiguousarray(photo[:, ::-1])).save(d / "b.jpg", quality=92)
    return d


@pytest.fixture(scope="module")
def result(folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    return compare(folder, (2, 6, 12), out=out), out


def _pixels(path):
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def test_sizes_are_the_files_on_disk(result, folder) -> None:
    comparison, _ = result
    for ic in comparison.images:
        files = {p.name: p for p in comparison.files[ic.image]}
        n = ic.width * ic.height
        assert ic.original_bytes == os.path.getsize(ic.image)
        for m in ic.measurements:
            for name, size in m.sizes.items():
                stem = os.path.splitext(os.path.basename(ic.image))[0]
                path = files[f"{stem}-k{m.k}{FORMATS[name]}"]
                assert size.bytes == os.path.getsize(path)
                assert size.bits_per_pixel == pytest.approx(8 * size.bytes / n)
                assert size.vs_original == pytest.approx(ic.original_bytes / size.bytes)
                assert size.vs_raw == pytest.approx(3 * n / size.bytes)


def test_quality_numbers_match_a_direct_computation(result) -> None:
    comparison, out = result
    for ic in comparison.images:
        original = _pixels(ic.image)
        for m in ic.measurements:
            decoded = kmcodec.load(
                out / "files" / f"{os.path.splitext(os.path.basename(ic.image))[0]}-k{m.k}.kmq"
            )
            mse = np.mean((original.astype(float) - decoded.astype(float)) ** 2)
            assert m.psnr == pytest.approx(10 * np.log10(255**2 / mse), abs=1e-9)
            assert m.ssim == pytest.approx(ssim(original, decoded), abs=1e-12)
            assert m.colors <= m.k


def test_lossless_containers_hold_the_same_pixels(result) -> None:
    comparison, out = result
    ic = comparison.images[0]
    stem = os.path.splitext(os.path.basename(ic.image))[0]
    for m in ic.measurements:
        kmq = kmcodec.load(out / "files" / f"{stem}-k{m.k}.kmq")
        for suffix in (".png", ".png8.png", ".gif", ".webp"):
            np.testing.assert_array_equal(_pixels(out / "files" / f"{stem}-k{m.k}{suffix}"), kmq)


def test_jpeg_is_the_smallest_quality_reaching_the_kmq_psnr(result) -> None:
    comparison, out = result
    ic = comparison.images[0]
    original = _pixels(ic.image)
    stem = os.path.splitext(os.path.basename(ic.image))[0]
    for m in ic.measurements:
        jpeg = m.sizes["jpeg"]
        decoded = _pixels(out / "files" / f"{stem}-k{m.k}.jpg")
        assert psnr(original, decoded) == pytest.approx(jpeg.psnr)
        assert jpeg.psnr >= m.psnr
        if jpeg.quality > 1:  # one step lower misses the target
            buf = io.BytesIO()
            Image.fromarray(original).save(buf, format="JPEG", quality=jpeg.quality - 1)
            assert psnr(original, np.asarray(Image.open(buf).convert("RGB"))) < m.psnr


def test_smallest_jpeg_reports_unreachable_targets(photo) -> None:
    assert smallest_jpeg(photo, 99.0) is None
    _, data, value, pixels = smallest_jpeg(photo, 20.0)
    assert psnr(photo, pixels) == value
    assert value >= 20.0 and data[:2] == b"\xff\xd8"


def test_best_k_is_the_smallest_reaching_the_target(result) -> None:
    comparison, _ = result
    for ic in comparison.images:
        reached = [m.k for m in ic.measurements if m.ssim >= 0.95]
        assert ic.best_k == (min(reached) if reached else None)
        assert ic.knee_k in {m.k for m in ic.measurements}
        assert "knee" in ic.why


def test_knee_of_a_curve_with_diminishing_returns() -> None:
    points = [(1, 0, 2), (2, 9, 4), (3, 10, 8), (4, 10.5, 16), (5, 11, 32)]
    assert knee(points) == 4
    assert knee([(1, 1, 2)]) == 2


def test_auto_search_finds_the_target_without_trying_every_k(folder, tmp_path) -> None:
    comparison = compare(folder / "a.png", "auto", out=tmp_path, target_psnr=30.0, formats=["kmq"])
    ic = comparison.images[0]
    measured = {m.k: m for m in ic.measurements}
    assert len(measured) < 20
    assert measured[ic.best_k].psnr >= 30.0
    assert ic.best_k - 1 in measured and measured[ic.best_k - 1].psnr < 30.0


def test_medians_across_images(result) -> None:
    comparison, _ = result
    rows = comparison.medians()
    assert [r["k"] for r in rows] == [2, 6, 12]
    psnrs = [ic.by_k(6).psnr for ic in comparison.images]
    assert rows[1]["psnr"] == pytest.approx(float(np.median(psnrs)))


def test_plots_and_report_are_written(result) -> None:
    from kmcodec.comparison.report import write_report

    comparison, out = result
    files = write_report(comparison, out)
    pngs = [f for f in files if f.suffix == ".png"]
    assert len(pngs) == 3 * len(comparison.images) + 1
    for f in pngs:
        with Image.open(f) as im:
            im.verify()
            assert im.format == "PNG"
    report = (out / "report.md").read_text()
    for f in pngs:
        assert f.name in report


def test_bad_arguments(folder) -> None:
    with pytest.raises(ValueError, match="colors"):
        compare(folder, [0, 5])
    with pytest.raises(ValueError, match="formats"):
        compare(folder, [2], formats=["bmp"])


def test_cli_on_a_folder(folder, tmp_path) -> None:
    out = tmp_path / "o"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "kmcodec.cli",
            "compare",
            str(folder),
            "--colors",
            "2,4",
            "--out",
            str(out),
            "--csv",
            str(tmp_path / "c.csv"),
            "--json",
            str(tmp_path / "j.json"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "medians over 2 images" in result.stdout and "best K" in result.stdout
    # stderr is not a terminal here: one progress line per image instead of a bar
    assert [line.split()[2] for line in result.stderr.splitlines()] == ["1/2", "2/2"]
    with open(tmp_path / "c.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * 2 * 9  # images x K x formats (.kmq, codings 0, 1, 2 and five others)
    data = json.loads((tmp_path / "j.json").read_text())
    assert len(data["images"]) == 2 and len(data["medians"]) == 2
    assert (out / "report.md").exists()


def test_size_plot_draws_the_original_file_at_its_size_and_the_legend_beside_the_data(
    result,
) -> None:
    from kmcodec.comparison.report import _pyplot, _series, size_figure

    comparison, _ = result
    ic = comparison.images[0]
    plt = _pyplot()
    fig = size_figure(plt, ic, _series(ic))
    ax = fig.axes[0]
    original = [line for line in ax.lines if line.get_label() == "original file"]
    assert original and original[0].get_ydata()[0] == ic.original_bytes
    fig.canvas.draw()
    legend = ax.get_legend().get_window_extent()
    assert legend.x0 >= ax.get_window_extent().x1  # right of the axes: covers no data
    plt.close(fig)


def test_plots_that_cannot_be_made_fail_the_command(folder, tmp_path, monkeypatch, capsys) -> None:
    from kmcodec import cli
    from kmcodec.comparison import report

    def no_matplotlib(*args: object, **kwargs: object) -> None:
        raise ImportError("No module named 'matplotlib'")

    monkeypatch.setattr(report, "write_report", no_matplotlib)
    args = ["compare", str(folder / "a.png"), "--colors", "2", "--out", str(tmp_path / "o")]
    assert cli.main(args) == 1
    assert "--no-plots" in capsys.readouterr().err
    assert cli.main([*args, "--no-plots"]) == 0


def test_an_html_report_that_cannot_be_made_fails_the_command(
    folder, tmp_path, monkeypatch, capsys
) -> None:
    from kmcodec import cli
    from kmcodec.comparison import html

    def no_js(*args: object, **kwargs: object) -> None:
        raise FileNotFoundError("the JavaScript decoder is not here")

    monkeypatch.setattr(html, "write_html", no_js)
    args = ["compare", str(folder / "a.png"), "--colors", "2", "--no-plots", "--html"]
    assert cli.main([*args, "--out", str(tmp_path / "o")]) == 1
    assert "no HTML report" in capsys.readouterr().err


def test_timed_jobs_run_in_turn_and_each_keeps_its_best() -> None:
    from kmcodec.comparison.animation import best_in_turn

    calls: list[str] = []
    best = best_in_turn({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, 3)
    assert calls == ["a", "b"] * 3
    assert set(best) == {"a", "b"} and all(0 <= t < 1 for t in best.values())


@pytest.mark.skipif(sys.platform == "win32", reason="shell scripts stand in for the tools")
def test_an_animation_a_peer_refuses_is_measured_without_it(tmp_path, monkeypatch) -> None:
    from kmcodec.comparison.animation import measure_animation

    tools = tmp_path / "bin"
    tools.mkdir()
    for name in ("gifsicle", "gif2webp"):  # both installed, gif2webp refusing every file
        (tools / name).write_text("#!/bin/sh\nexit 1\n" if name == "gif2webp" else _COPY_SH)
        (tools / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    images = [Image.new("P", (8, 6), i) for i in range(3)]
    for im in images:
        im.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255])
    images[0].save(tmp_path / "a.gif", save_all=True, append_images=images[1:], duration=50)
    row = measure_animation(tmp_path / "a.gif", tmp_path / "out", repeat=1)
    assert row["exact"] and row["peers_failed"] == ["gif2webp"]
    assert "webp" not in row and "open_webp_s" not in row
    assert row["gifsicle"] == (tmp_path / "a.gif").stat().st_size


# a stand-in gifsicle: "gifsicle -O3 IN -o OUT" copies IN to OUT
_COPY_SH = '#!/bin/sh\ncp "$2" "$4"\n'


@pytest.mark.parametrize("partial", [False, True])
def test_a_gif_of_an_image_with_alpha_is_written_and_measured_for_what_it_shows(
    tmp_path, photo, partial
) -> None:
    rgba = np.dstack([photo, np.full(photo.shape[:2], 255, np.uint8)])
    rgba[: photo.shape[0] // 3, :, 3] = 0  # a transparent band
    rgba[: photo.shape[0] // 3, :, :3] = 255  # whose colour nobody sees
    if partial:  # and a translucent one, which a GIF cannot show
        rgba[photo.shape[0] // 3 : photo.shape[0] // 2, :, 3] = 128
    Image.fromarray(rgba).save(tmp_path / "a.png")
    result = compare(tmp_path / "a.png", (16,), out=tmp_path / "out")
    (ic,) = result.images
    (m,) = ic.measurements
    (path,) = (p for p in result.files[ic.image] if p.name == f"a-k16{FORMATS['gif']}")
    with Image.open(path) as gif:
        shown = np.asarray(gif.convert("RGBA"))
    assert m.sizes["gif"].psnr == pytest.approx(psnr(rgba, shown))
    assert (m.sizes["gif"].psnr < m.psnr) == partial  # one transparent entry: GIF holds it all
