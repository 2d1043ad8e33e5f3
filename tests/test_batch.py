"""Batches: many files with the same options, on local processes and on a real Dask
LocalCluster (two worker processes on loopback), resumable, with a failure report."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import kmcodec
from kmcodec import batch, cli

from .support import shifted_copies


@pytest.fixture
def folder(tmp_path, photo) -> Path:
    src = shifted_copies(photo, tmp_path / "in", 6, 11, "p{}.png")
    (src / "broken.png").write_bytes(b"\x89PNG not really")
    return src


def _check(results: list[batch.FileResult], folder: Path, out: Path) -> None:
    names = [Path(r.source).name for r in results]
    assert names == sorted(p.name for p in folder.iterdir())  # input order
    bad = next(r for r in results if r.source.endswith("broken.png"))
    assert bad.status == "unreadable" and "cannot read image" in bad.message
    good = [r for r in results if r is not bad]
    assert all(r.status == "ok" for r in good)
    for r in good:
        assert Path(r.target).parent == out
        data = Path(r.target).read_bytes()
        assert r.bytes_out == len(data) and r.colors == 16 and r.psnr > 20
        with Image.open(r.source) as im:
            expected = kmcodec.encode(np.asarray(im), 16)
        assert data == expected  # the same bytes as the API, wherever it ran
    assert not list(out.glob("*partial*")) and not (out / "broken.kmq").exists()
    report = batch.failure_report(results)
    assert report.splitlines() == [f"{bad.source}: unreadable: {bad.message}"]


@pytest.mark.parametrize("workers", [1, 2])
def test_encode_a_folder_locally(folder, tmp_path, workers) -> None:
    out = tmp_path / "out"
    seen = []
    results = batch.encode([folder], out_dir=out, colors=16, workers=workers, progress=seen.append)
    _check(results, folder, out)
    assert sorted(r.source for r in seen) == sorted(r.source for r in results)


def test_a_second_run_resumes_and_force_redoes(folder, tmp_path) -> None:
    out = tmp_path / "out"
    batch.encode([folder], out_dir=out, colors=16, workers=1)
    again = batch.encode([folder], out_dir=out, colors=16, workers=1)
    assert [r.status for r in again].count("up-to-date") == 6
    # an input changed after its output was written: the stale output is not overwritten
    # silently, and force redoes it
    stale = folder / "p0.png"
    target = out / "p0.kmq"
    os.utime(target, ns=(stale.stat().st_atime_ns, stale.stat().st_mtime_ns - 10**9))
    result = batch.encode([stale], out_dir=out, colors=16, workers=1)[0]
    assert result.status == "exists" and "--force" in result.message
    assert batch.encode([stale], out_dir=out, colors=16, force=True)[0].status == "ok"


def test_bad_options_fail_before_any_work(folder, tmp_path) -> None:
    with pytest.raises(kmcodec.OptionError):
        batch.encode([folder], out_dir=tmp_path / "out", colors=0)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_decode_a_folder(folder, tmp_path) -> None:
    kmqs = tmp_path / "kmq"
    batch.encode([folder], out_dir=kmqs, colors=8, workers=1)
    (kmqs / "corrupt.kmq").write_bytes(b"\x89KMQ\r\n\x1a\nxx")
    results = batch.decode([kmqs], out_dir=tmp_path / "png", workers=2)
    assert [r.status for r in results].count("ok") == 6
    bad = next(r for r in results if r.source.endswith("corrupt.kmq"))
    assert bad.status == "failed"
    for r in results:
        if r.ok:
            with Image.open(r.target) as im:
                assert im.mode == "P"
                np.testing.assert_array_equal(np.asarray(im.convert("RGB")), kmcodec.load(r.source))


@pytest.fixture(scope="module")
def dask_client():
    pytest.importorskip("distributed")
    client = batch.local_cluster(workers=2)
    yield client
    client.close()
    client.cluster.close()


@pytest.mark.slow
def test_encode_on_a_dask_local_cluster(folder, tmp_path, dask_client) -> None:
    assert len(dask_client.scheduler_info()["workers"]) == 2
    out = tmp_path / "out"
    # one file already up to date: the workers skip it
    out.mkdir()
    with Image.open(folder / "p3.png") as im:
        (out / "p3.kmq").write_bytes(kmcodec.encode(np.asarray(im), 16))
    results = batch.encode([folder], out_dir=out, colors=16, client=dask_client)
    statuses = {Path(r.source).name: r.status for r in results}
    assert statuses.pop("p3.png") == "up-to-date"
    assert statuses.pop("broken.png") == "unreadable"
    assert set(statuses.values()) == {"ok"}
    (out / "p3.kmq").unlink()
    redo = batch.encode([folder], out_dir=out, colors=16, client=dask_client)
    _check(redo_without_skips(redo), folder, out)


def redo_without_skips(results: list[batch.FileResult]) -> list[batch.FileResult]:
    """The up-to-date files of a second run count as done ("ok") for :func:`_check`."""
    for r in results:
        if r.status == "up-to-date":
            r.status = "ok"
            r.colors, r.psnr = 16, 99.0
    return results


@pytest.mark.slow
def test_cli_dask_local(folder, tmp_path, capsys) -> None:
    pytest.importorskip("distributed")
    out = tmp_path / "out"
    out.mkdir()
    code = cli.main(
        ["encode", str(folder), "--colors", "16", "--ext", ".kmq", "--dask", "local", "-j", "2"]
    )
    err = capsys.readouterr().err
    assert code == 3  # the broken file
    assert "6 of 7 files converted" in err and "broken.png: unreadable" in err
    assert len(list(folder.glob("*.kmq"))) == 6


def _blas_threads(jobs: list, settings: dict) -> list[batch.FileResult]:
    """A per-chunk function for run(): what each worker's environment says of BLAS threads."""
    return [
        batch.FileResult(source=str(j), target=None, message=os.environ.get("OPENBLAS_NUM_THREADS"))
        for j in jobs
    ]


def test_local_workers_run_one_blas_thread_and_the_parent_is_unchanged(monkeypatch) -> None:
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    results = batch.run(_blas_threads, list(range(4)), {}, workers=2, chunk=1)
    assert [r.message for r in results] == ["1"] * 4
    assert "OPENBLAS_NUM_THREADS" not in os.environ
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")  # a user's own setting is kept
    results = batch.run(_blas_threads, list(range(2)), {}, workers=2, chunk=1)
    assert [r.message for r in results] == ["3"] * 2


def _threads(jobs: list, settings: dict) -> list[batch.FileResult]:
    """A per-chunk function for run(): the decoder's and the animation encoder's threads."""
    from kmcodec import animation
    from kmcodec.format.codings import fast

    return [
        batch.FileResult(source=str(j), target=None, message=f"{fast.THREADS} {animation.THREADS}")
        for j in jobs
    ]


def test_local_workers_decode_and_code_frames_on_one_thread_each() -> None:
    from kmcodec import animation
    from kmcodec.format.codings import fast

    results = batch.run(_threads, list(range(2)), {}, workers=2, chunk=1)
    assert [r.message for r in results] == ["1 1"] * 2
    assert (fast.THREADS, animation.THREADS) == (None, None)  # the parent's are unchanged


@pytest.mark.skipif(not hasattr(os, "kill") or os.name != "posix", reason="needs POSIX signals")
def test_a_worker_stopped_mid_write_removes_its_temporary_file(tmp_path) -> None:
    # What the parent does to its workers after Ctrl-C: SIGTERM, here while the worker is
    # inside write_atomic (between creating the temporary file and renaming it).
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        f"""
        import os, signal, time
        from kmcodec import batch, files
        batch._worker_init(os.getppid())

        def fsync(fd):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)

        os.fsync = fsync
        files.write_atomic({str(tmp_path / "out.kmq")!r}, b"x" * 1000)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert proc.returncode == 128 + 15, proc.stderr
    assert list(tmp_path.iterdir()) == []  # neither the target nor a .kmq-partial


def test_batch_refuses_clashing_outputs_and_other_formats_names(folder, tmp_path) -> None:
    with pytest.raises(ValueError, match="names a PNG file"):
        batch.encode([folder], out_dir=tmp_path / "o", ext=".png", workers=1)
    with pytest.raises(ValueError, match="no image format"):
        batch.decode([folder], ext=".xyz", workers=1)
    first = next(folder.glob("*.png"))
    twin = tmp_path / "twin"
    twin.mkdir()
    shutil.copy(first, twin / first.name)
    results = batch.encode([first, twin / first.name], out_dir=tmp_path / "one", workers=1)
    assert [r.status for r in results] == ["clash", "clash"]
    assert not list((tmp_path / "one").iterdir())


def test_batch_decode_names_outputs_after_the_kmq_file(folder, tmp_path) -> None:
    kmqs = tmp_path / "k"
    batch.encode([folder], out_dir=kmqs, colors=8, workers=1)
    results = batch.decode([kmqs], workers=1)
    assert all(r.ok and r.target == r.source + ".png" for r in results)


# --- animated inputs ---------------------------------------------------------------------------


def _rgb_animation(path: Path, frames: int = 4) -> list[np.ndarray]:
    """An APNG of smooth RGB frames (more colours than any palette): it is quantised."""
    y, x = np.mgrid[0:24, 0:32]
    arrays = [
        np.stack([(x * 8 + t * 9) % 256, y * 10, (x + y) * 4 + t], axis=2).astype(np.uint8)
        for t in range(frames)
    ]
    images = [Image.fromarray(a) for a in arrays]
    images[0].save(path, save_all=True, append_images=images[1:], duration=50, loop=0)
    return arrays


def test_a_quantised_animation_reports_its_psnr_over_every_frame(tmp_path) -> None:
    source = tmp_path / "clip.png"
    arrays = _rgb_animation(source)
    [result] = batch.encode([source], out_dir=tmp_path / "out", colors=8, workers=1)
    assert result.status == "ok" and result.frames == 4, result.message
    anim = kmcodec.read_animation(Path(result.target).read_bytes())
    err = sum(
        float(((anim.frame(n)[..., :3].astype(int) - a) ** 2).sum()) for n, a in enumerate(arrays)
    )
    count = sum(a[..., 0].size * 4 for a in arrays)  # RGBA, the alpha channel exact
    assert result.psnr == pytest.approx(10 * np.log10(255.0**2 * count / err), abs=1e-9)


def test_a_gif_kept_exactly_reports_an_infinite_psnr(tmp_path) -> None:
    rng = np.random.default_rng(3)
    images = [Image.fromarray(rng.integers(0, 5, (10, 14), dtype=np.uint8) * 50) for _ in range(3)]
    images[0].save(tmp_path / "a.gif", save_all=True, append_images=images[1:], duration=70)
    [result] = batch.encode([tmp_path / "a.gif"], out_dir=tmp_path / "out", workers=1)
    assert result.status == "ok" and result.frames == 3 and result.psnr == float("inf")


def test_an_animation_whose_later_frame_is_damaged_is_unreadable_and_nothing_is_written(
    tmp_path,
) -> None:
    rng = np.random.default_rng(4)
    images = [Image.fromarray(rng.integers(0, 250, (40, 40), dtype=np.uint8)) for _ in range(4)]
    images[0].save(tmp_path / "a.gif", save_all=True, append_images=images[1:], duration=70)
    data = (tmp_path / "a.gif").read_bytes()
    (tmp_path / "a.gif").write_bytes(data[: len(data) * 3 // 4])  # ends inside frame 2 or 3
    [result] = batch.encode([tmp_path / "a.gif"], out_dir=tmp_path / "out", workers=1)
    assert result.status == "unreadable" and "cannot read image" in result.message
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
