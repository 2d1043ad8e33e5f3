"""The `kmq` command, run as a user runs it: through a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageSequence

import kmcodec

from .support import shifted_copies

KMQ = shutil.which("kmq", path=str(Path(sys.executable).parent))


def kmq(
    *args: str, stdin: bytes | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    command = [KMQ] if KMQ else [sys.executable, "-m", "kmcodec.cli"]
    return subprocess.run(
        [*command, *args],
        input=stdin,
        capture_output=True,
        cwd=cwd,
        env=dict(os.environ, COLORTERM=""),
    )


@pytest.fixture
def png(tmp_path, photo) -> Path:
    path = tmp_path / "photo.png"
    Image.fromarray(photo).save(path)
    return path


def test_encode_writes_beside_the_input_and_decodes_back(png) -> None:
    result = kmq("encode", str(png), "--colors", "8")
    assert result.returncode == 0, result.stderr
    out = png.with_suffix(".kmq")
    assert kmcodec.read(out.read_bytes()).header.colors == 8
    back = png.parent / "back.png"
    assert kmq("decode", str(out), "-o", str(back)).returncode == 0
    with Image.open(back) as im:
        assert im.mode == "P"  # a palette PNG, as small as the palette allows
        np.testing.assert_array_equal(np.asarray(im.convert("RGB")), kmcodec.load(out))


def test_output_and_ext_options(png, tmp_path) -> None:
    assert kmq("encode", str(png), "-o", str(tmp_path / "named.kmq")).returncode == 0
    assert (tmp_path / "named.kmq").exists()
    assert kmq("encode", str(png), "--ext=-small.kmq", "--colors", "4").returncode == 0
    assert (tmp_path / "photo-small.kmq").exists()


def test_existing_output_is_kept_without_force(png) -> None:
    import os

    out = png.with_suffix(".kmq")
    out.write_bytes(b"keep me")
    # newer than the input: up to date, skipped (a batch resumes where it stopped)
    result = kmq("encode", str(png), "-v")
    assert result.returncode == 0 and b"up to date" in result.stderr
    assert out.read_bytes() == b"keep me"
    # older than the input: not overwritten without --force
    stat = png.stat()
    os.utime(out, ns=(stat.st_atime_ns, stat.st_mtime_ns - 10**9))
    result = kmq("encode", str(png))
    assert result.returncode == 4 and b"--force" in result.stderr
    assert out.read_bytes() == b"keep me"
    assert kmq("encode", str(png), "--force").returncode == 0
    assert kmcodec.read(out.read_bytes())


def test_folder_in_parallel_with_one_bad_file(tmp_path, photo) -> None:
    folder = shifted_copies(photo, tmp_path / "in", 4, 7, "img{}.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not a png")
    (folder / "notes.txt").write_text("not an image")
    result = kmq("encode", str(folder), "-j", "2", "--colors", "16")
    assert result.returncode == 3  # an unreadable input, the others still converted
    for i in range(4):
        assert kmcodec.read((folder / f"img{i}.kmq").read_bytes()).header.colors == 16
    assert not (folder / "broken.kmq").exists()
    assert not list(folder.glob(".*tmp"))  # no temporary files left behind
    assert b"4 of 5 files converted" in result.stderr
    assert b"broken.png" in result.stderr


def test_unreachable_quality_exits_99_and_writes_nothing(png) -> None:
    result = kmq("encode", str(png), "--quality", "98-100", "--colors", "4")
    assert result.returncode == 99 and b"cannot be reached" in result.stderr
    assert not png.with_suffix(".kmq").exists()


def test_quality_target_picks_colours(png) -> None:
    assert kmq("encode", str(png), "--quality", "30-50").returncode == 0
    assert kmcodec.read(png.with_suffix(".kmq").read_bytes()).header.colors < 256


def test_skip_if_larger_exits_98(tmp_path) -> None:
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    src = tmp_path / "tiny.jpg"
    Image.fromarray(noise).save(src, quality=1)  # a very small input file
    result = kmq("encode", str(src), "--skip-if-larger")
    assert result.returncode == 98
    assert not src.with_suffix(".kmq").exists()


def test_stdin_to_stdout(png) -> None:
    result = kmq("encode", "-", "--colors", "5", stdin=png.read_bytes())
    assert result.returncode == 0
    assert kmcodec.read(result.stdout).header.colors == 5
    decoded = kmq("decode", "-", stdin=result.stdout)
    assert decoded.returncode == 0 and decoded.stdout.startswith(b"\x89PNG")


def test_decode_to_other_formats(png, tmp_path) -> None:
    assert kmq("encode", str(png), "--colors", "6").returncode == 0
    for name in ("out.webp", "out.bmp", "out.tiff", "out.jpg"):
        target = tmp_path / name
        assert kmq("decode", str(png.with_suffix(".kmq")), "-o", str(target)).returncode == 0
        assert Image.open(target).size == Image.open(png).size


def test_info_human_and_json(png) -> None:
    assert kmq("encode", str(png), "--colors", "12").returncode == 0
    path = str(png.with_suffix(".kmq"))
    human = kmq("info", "--check", path)
    assert human.returncode == 0
    text = human.stdout.decode()
    assert "192x128" in text and "12 colours" in text and "checksums: OK" in text
    assert b"not checked" in kmq("info", path).stdout
    info = json.loads(kmq("info", "--json", "--check", path).stdout)
    size = png.with_suffix(".kmq").stat().st_size
    assert info["colors"] == 12 and info["bytes"] == size
    assert info["bits_per_pixel"] == pytest.approx(8 * size / (192 * 128))
    assert info["ratio_to_raw_rgb"] == pytest.approx(3 * 192 * 128 / size)
    assert len(info["palette"]) == 12 and info["valid"] is True


def test_info_reports_a_corrupt_file(png) -> None:
    assert kmq("encode", str(png)).returncode == 0
    path = png.with_suffix(".kmq")
    data = bytearray(path.read_bytes())
    data[-2] ^= 0x55
    path.write_bytes(bytes(data))
    result = kmq("info", "--check", str(path))
    assert result.returncode == 1 and b"FAILED" in result.stdout


def test_bad_usage_exits_2(png) -> None:
    assert kmq("encode", str(png), "--colors", "0").returncode == 2
    assert kmq("encode", str(png), "--speed", "fast").returncode == 2
    assert kmq("encode", str(png), "--quality", "80-60").returncode == 2
    assert kmq("encode", str(png), "-o", "a.kmq", "--ext", ".x").returncode == 2
    assert kmq("frobnicate").returncode == 2


def test_missing_input_exits_3(tmp_path) -> None:
    result = kmq("encode", str(tmp_path / "nope.png"))
    assert result.returncode == 3 and b"cannot read" in result.stderr


def test_corrupt_kmq_decode_fails_with_message(tmp_path) -> None:
    bad = tmp_path / "bad.kmq"
    bad.write_bytes(b"not a kmq file at all")
    result = kmq("decode", str(bad))
    assert result.returncode == 1 and b"not a KMQ file" in result.stderr


def test_no_progress_bar_when_stderr_is_not_a_terminal(tmp_path, photo) -> None:
    for i in range(3):
        Image.fromarray(photo).save(tmp_path / f"{i}.png")
    result = kmq("encode", str(tmp_path), "-j", "1", "--colors", "4")
    assert result.returncode == 0 and b"\r" not in result.stderr
    quiet = kmq("encode", str(tmp_path), "-j", "1", "--colors", "4", "--force", "-q")
    assert quiet.returncode == 0 and quiet.stderr == b""


def _bomb(tmp_path: Path) -> Path:
    """A valid 16384 x 16384 file of one colour: a few KB that decode to 268 M pixels."""
    from kmcodec.format import layout as container
    from kmcodec.format.codings import zstd_frame as compression

    header = container.Header(width=16384, height=16384, colors=2, index_bits=1)
    rows = bytes(header.unpacked_size)
    stream = compression.compress(rows, 3)
    palette = np.array([[0, 0, 0], [255, 255, 255]], np.uint8).tobytes()
    path = tmp_path / "bomb.kmq"
    path.write_bytes(container.build_file(header, palette, {}, stream))
    return path


def test_info_reports_the_header_without_decoding(tmp_path) -> None:
    path = _bomb(tmp_path)
    result = kmq("info", "--json", str(path))
    info = json.loads(result.stdout)
    assert result.returncode == 0 and info["width"] == 16384 and "not checked" in info["checksums"]
    checked = kmq("info", "--check", "--max-pixels", "1000000", str(path))
    assert checked.returncode == 1 and b"max_pixels" in checked.stdout


def test_decode_refuses_more_pixels_than_the_limit(tmp_path) -> None:
    path = _bomb(tmp_path)
    result = kmq("decode", str(path), "-o", str(tmp_path / "out.png"))
    assert result.returncode == 1 and b"max_pixels" in result.stderr  # 2 x Pillow's limit
    assert not (tmp_path / "out.png").exists()
    small = kmq("decode", str(path), "--max-pixels", "1000", "-o", str(tmp_path / "o.png"))
    assert small.returncode == 1 and b"max_pixels=1000" in small.stderr


def test_decode_writes_a_palette_png(tmp_path, photo) -> None:
    rgba = np.dstack([photo, np.full(photo.shape[:2], 255, np.uint8)])
    rgba[:10, :10, 3] = 0
    kmcodec.save(tmp_path / "a.kmq", rgba, 16)
    assert kmq("decode", str(tmp_path / "a.kmq"), "-o", str(tmp_path / "a.png")).returncode == 0
    with Image.open(tmp_path / "a.png") as im:
        assert im.mode == "P" and "transparency" in im.info
        np.testing.assert_array_equal(
            np.asarray(im.convert("RGBA")), kmcodec.load(tmp_path / "a.kmq")
        )
    assert kmq("decode", str(tmp_path / "a.kmq"), "-o", str(tmp_path / "a.jpg")).returncode == 0


def test_encode_a_file_to_standard_output(png) -> None:
    result = kmq("encode", str(png), "--colors", "8", "-o", "-")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(b"\x89KMQ\r\n\x1a\n")
    assert kmcodec.read(result.stdout).header.colors == 8
    assert not png.with_suffix(".kmq").exists()


def test_encode_converts_cmyk_and_16_bit_images_as_pngquant_does(tmp_path, photo) -> None:
    from PIL import ImageCms

    cmyk = Image.fromarray(photo).convert("CMYK")
    cmyk.save(tmp_path / "cmyk.jpg", quality=95)
    grey16 = np.asarray(Image.fromarray(photo).convert("L"), dtype=np.uint16) * 257
    Image.fromarray(grey16).save(tmp_path / "grey16.png")
    with Image.open(tmp_path / "grey16.png") as im:
        assert im.mode.startswith("I")  # Pillow opens 16-bit grey PNGs as "I;16" or "I"
    for name in ("cmyk.jpg", "grey16.png"):
        result = kmq("encode", str(tmp_path / name), "--colors", "16")
        assert result.returncode == 0, result.stderr
    grey = kmcodec.load(tmp_path / "grey16.kmq")
    assert (
        grey.shape == photo.shape
        and np.abs(
            grey[..., 0].astype(int) - np.asarray(Image.fromarray(photo).convert("L"), int)
        ).mean()
        < 4
    )
    rgb = kmcodec.load(tmp_path / "cmyk.kmq")
    assert np.abs(rgb.astype(int) - photo.astype(int)).mean() < 12
    # A CMYK file's ICC profile is not carried over to the RGB result.
    with_profile = tmp_path / "cmyk-icc.jpg"
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    cmyk.save(with_profile, quality=95, icc_profile=profile)
    assert kmq("encode", str(with_profile), "--colors", "16").returncode == 0
    assert kmcodec.read((tmp_path / "cmyk-icc.kmq").read_bytes()).icc_profile is None


def _children(pid: int) -> set[int]:
    """Process IDs whose parent is ``pid`` (Linux /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def busy_folder(tmp_path, photo_full) -> Path:
    return shifted_copies(photo_full, tmp_path / "many", 16, 7, "p{:02}.png")


def _start_batch(folder: Path) -> subprocess.Popen:
    import time

    command = [KMQ] if KMQ else [sys.executable, "-m", "kmcodec.cli"]
    proc = subprocess.Popen(
        [*command, "encode", str(folder), "-j", "2", "--speed", "1", "--colors", "256"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    for _ in range(200):  # until both workers run
        if len(_children(proc.pid)) >= 2:
            break
        time.sleep(0.05)
    time.sleep(1.0)
    return proc


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_workers_die_with_a_killed_parent(busy_folder) -> None:
    import signal
    import time

    proc = _start_batch(busy_folder)
    workers = _children(proc.pid)
    assert len(workers) >= 2
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.1)
    assert not any(_alive(w) for w in workers)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize(
    ("signame", "code", "word"), [("SIGINT", 130, b"interrupted"), ("SIGTERM", 143, b"terminated")]
)
def test_ctrl_c_or_sigterm_stops_the_batch_cleanly(busy_folder, signame, code, word) -> None:
    import signal
    import time

    proc = _start_batch(busy_folder)
    workers = _children(proc.pid)
    proc.send_signal(getattr(signal, signame))
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == code
    assert b"Traceback" not in err and word + b" after" in err
    assert b"leaked semaphore" not in err and b"Warning" not in err
    deadline = time.time() + 10
    while time.time() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.1)
    assert not any(_alive(w) for w in workers)
    assert not list(busy_folder.glob(".*kmq-partial"))


def _animation(path: Path, frames: int = 3) -> list[np.ndarray]:
    """An animated GIF of ``frames`` different palette frames; returns each frame's RGB."""
    rng = np.random.default_rng(7)
    images = [
        Image.fromarray(rng.integers(0, 4, (12, 16), dtype=np.uint8) * 60) for _ in range(frames)
    ]
    images[0].save(path, save_all=True, append_images=images[1:], duration=100, loop=0)
    with Image.open(path) as im:
        out = []
        for i in range(im.n_frames):
            im.seek(i)
            out.append(np.asarray(im.convert("RGB")))
    return out


def test_an_animated_input_keeps_every_frame_exactly(tmp_path) -> None:
    gif = tmp_path / "anim.gif"
    frames = _animation(gif)
    result = kmq("encode", "-v", str(gif))
    assert result.returncode == 0, result.stderr
    assert b"3 frames" in result.stderr and b"exact" in result.stderr
    with Image.open(tmp_path / "anim.kmq") as im:
        assert im.n_frames == 3 and im.info["duration"] == 100 and im.info["loop"] == 0
        for n, want in enumerate(frames):
            im.seek(n)
            np.testing.assert_array_equal(np.asarray(im.convert("RGB")), want)


def test_an_animated_input_in_a_folder_is_encoded_beside_the_still_images(tmp_path, photo) -> None:
    _animation(tmp_path / "anim.gif")
    Image.fromarray(photo).save(tmp_path / "still.png")
    result = kmq("encode", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "still.kmq").exists() and (tmp_path / "anim.kmq").exists()


@pytest.mark.parametrize("suffix", [".gif", ".png", ".webp"])
def test_an_animation_decodes_to_an_animated_file_with_every_frame(tmp_path, suffix) -> None:
    frames = _animation(tmp_path / "anim.gif", frames=4)
    assert kmq("encode", str(tmp_path / "anim.gif")).returncode == 0
    out = tmp_path / f"out{suffix}"
    result = kmq("decode", str(tmp_path / "anim.kmq"), "-o", str(out))
    assert result.returncode == 0, result.stderr
    for got, want in zip(_frames_read(out, "RGB"), frames, strict=True):
        np.testing.assert_array_equal(got, want)


def _frames_read(path: Path, mode: str) -> list[np.ndarray]:
    """Every frame of an animated file as Pillow composites it, in ``mode`` (a transparent
    pixel's colour as 0 in RGBA)."""
    with Image.open(path) as im:
        frames = [np.asarray(f.convert(mode)).copy() for f in ImageSequence.Iterator(im)]
    for f in frames if mode == "RGBA" else ():
        f[f[..., 3] == 0] = 0
    return frames


@pytest.mark.parametrize("suffix", [".gif", ".png", ".webp"])
def test_a_sprite_over_transparency_decodes_with_the_pixels_it_leaves_transparent_again(
    tmp_path, suffix
) -> None:
    # (a GIF frame can only paint over the last one: the pixels a moving sprite leaves need
    # the frame before cleared, or they keep its colour)
    frames = []
    for t in range(4):
        rgba = np.zeros((16, 24, 4), np.uint8)
        rgba[0, 0] = rgba[-1, -1] = (0, 0, 255, 255)  # corners: WebP keeps the whole canvas
        rgba[4:12, 2 + 4 * t : 10 + 4 * t] = (255, 0, 0, 255)
        frames.append(rgba)
    (tmp_path / "a.kmq").write_bytes(kmcodec.encode_animation(frames, duration=50, loop=0))
    out = tmp_path / f"out{suffix}"
    result = kmq("decode", str(tmp_path / "a.kmq"), "-o", str(out))
    assert result.returncode == 0, result.stderr
    for got, want in zip(_frames_read(out, "RGBA"), frames, strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("suffix", [".gif", ".tiff", ".png", ".webp"])
def test_a_still_image_with_a_transparent_entry_decodes_exactly(tmp_path, suffix) -> None:
    rgba = np.zeros((12, 16, 4), np.uint8)
    rgba[3:9, 4:12] = (200, 30, 60, 255)
    rgba[5:7, 6:10] = (20, 90, 250, 255)
    (tmp_path / "a.kmq").write_bytes(kmcodec.encode(rgba, 4))
    out = tmp_path / f"a{suffix}"
    result = kmq("decode", str(tmp_path / "a.kmq"), "-o", str(out))
    assert result.returncode == 0, result.stderr
    with Image.open(out) as im:
        np.testing.assert_array_equal(np.asarray(im.convert("RGBA")), rgba)


def test_partial_transparency_to_gif_fails_and_names_the_formats_that_hold_it(tmp_path) -> None:
    rgba = np.zeros((12, 16, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[..., 3] = np.arange(16, dtype=np.uint8) * 16  # translucent
    (tmp_path / "a.kmq").write_bytes(kmcodec.encode(rgba, 16))
    result = kmq("decode", str(tmp_path / "a.kmq"), "-o", str(tmp_path / "a.gif"))
    assert result.returncode != 0 and b"write .png or .webp" in result.stderr
    assert b"Traceback" not in result.stderr and not (tmp_path / "a.gif").exists()


def test_an_animation_to_a_format_of_one_image_fails_and_names_the_ways_out(tmp_path) -> None:
    _animation(tmp_path / "anim.gif")
    assert kmq("encode", str(tmp_path / "anim.gif")).returncode == 0
    result = kmq("decode", str(tmp_path / "anim.kmq"), "-o", str(tmp_path / "a.jpg"))
    assert result.returncode != 0
    assert b"--frames" in result.stderr and b"animation of 3 frames" in result.stderr
    assert not (tmp_path / "a.jpg").exists()


def test_decode_frames_writes_one_png_a_frame(tmp_path) -> None:
    frames = _animation(tmp_path / "anim.gif")
    assert kmq("encode", str(tmp_path / "anim.gif")).returncode == 0
    result = kmq("decode", str(tmp_path / "anim.kmq"), "--frames", str(tmp_path / "f"))
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in (tmp_path / "f").iterdir())
    assert names == ["anim-0000.png", "anim-0001.png", "anim-0002.png"]
    for name, want in zip(names, frames, strict=True):
        with Image.open(tmp_path / "f" / name) as im:
            np.testing.assert_array_equal(np.asarray(im.convert("RGB")), want)
    again = kmq("decode", str(tmp_path / "anim.kmq"), "--frames", str(tmp_path / "f"))
    assert again.returncode != 0 and b"--force" in again.stderr


def test_info_shows_frames_durations_and_loop(tmp_path) -> None:
    _animation(tmp_path / "anim.gif")
    assert kmq("encode", str(tmp_path / "anim.gif")).returncode == 0
    text = kmq("info", "--check", str(tmp_path / "anim.kmq")).stdout.decode()
    assert "3 frames, 300 ms in all, loops for ever" in text and "checksums: OK" in text
    import json

    info = json.loads(kmq("info", "--json", str(tmp_path / "anim.kmq")).stdout)
    assert info["animation"]["frames"] == 3 and info["animation"]["durations"] == [100] * 3


def test_frame_chooses_the_frame_to_encode(tmp_path) -> None:
    gif = tmp_path / "anim.gif"
    frames = _animation(gif)
    result = kmq("encode", "--frame", "2", "--colors", "256", "--nofs", str(gif))
    assert result.returncode == 0, result.stderr
    decoded = kmcodec.decode((tmp_path / "anim.kmq").read_bytes())
    assert (decoded[..., :3] == frames[2]).all()
    result = kmq("encode", "--frame", "3", "-f", str(gif))
    assert result.returncode == 5 and b"no frame 3" in result.stderr


# --- nothing of the user's is lost: outputs that clash, the input as output, decode's names ---


def _two_inputs_one_name(folder: Path, photo: np.ndarray) -> tuple[Path, Path]:
    folder.mkdir(exist_ok=True)
    png, jpg = folder / "same.png", folder / "same.jpg"
    Image.fromarray(photo).save(png)
    Image.fromarray(photo[::-1]).save(jpg)
    return png, jpg


def test_two_inputs_with_one_output_name_are_both_refused_by_name(tmp_path, photo) -> None:
    png, jpg = _two_inputs_one_name(tmp_path / "in", photo)
    Image.fromarray(photo).save(tmp_path / "in" / "alone.png")
    result = kmq("encode", str(tmp_path / "in"), "--colors", "8")
    assert result.returncode == 4
    assert b"same.png" in result.stderr and b"same.jpg" in result.stderr
    assert b"1 of 3 files converted" in result.stderr
    assert not (tmp_path / "in" / "same.kmq").exists()  # neither result replaced the other
    assert (tmp_path / "in" / "alone.kmq").exists()
    # --force does not make two results fit in one file
    assert kmq("encode", "-f", str(png), str(jpg)).returncode == 4
    assert not (tmp_path / "in" / "same.kmq").exists()


def test_an_input_that_is_another_inputs_output_is_refused(tmp_path, photo) -> None:
    Image.fromarray(photo).save(tmp_path / "b.png")
    kmcodec.save(tmp_path / "b.kmq", photo, colors=4)  # a .kmq file is an image Pillow opens
    before = (tmp_path / "b.kmq").read_bytes()
    result = kmq("encode", "-f", "--colors", "8", str(tmp_path / "b.png"), str(tmp_path / "b.kmq"))
    assert result.returncode == 4
    assert b"is another input of this run" in result.stderr
    assert (tmp_path / "b.kmq").read_bytes() == before  # b.png's result did not replace it


def test_find_clashes_sees_one_file_under_different_spellings(tmp_path) -> None:
    from kmcodec.batch import find_clashes

    (tmp_path / "a.png").write_bytes(b"")
    (tmp_path / "link.png").symlink_to(tmp_path / "a.png")
    jobs = [
        (str(tmp_path / "a.png"), str(tmp_path / "x.kmq")),
        (str(tmp_path / "." / "c.png"), str(tmp_path / "sub" / ".." / "x.kmq")),
        (str(tmp_path / "d.png"), str(tmp_path / "link.png")),
        (str(tmp_path / "e.png"), str(tmp_path / "e.kmq")),
        ("-", None),
    ]
    (tmp_path / "sub").mkdir()
    clashes = find_clashes(jobs)
    assert sorted(clashes) == [0, 1, 2]
    assert "another input" in clashes[2]


def test_the_input_is_never_its_own_output(tmp_path, photo) -> None:
    kmq_file = tmp_path / "photo.kmq"
    kmcodec.save(kmq_file, photo, colors=4)
    before = kmq_file.read_bytes()
    result = kmq("encode", "-f", "--colors", "16", str(kmq_file))  # a .kmq file is an image too
    assert result.returncode == 4 and b"is the input itself" in result.stderr
    assert kmq_file.read_bytes() == before
    result = kmq("encode", "-f", str(kmq_file), "-o", str(tmp_path / "." / "photo.kmq"))
    assert result.returncode == 4 and kmq_file.read_bytes() == before


def test_kmq_bytes_are_never_written_under_another_formats_name(png, tmp_path) -> None:
    original = png.read_bytes()
    for args in (
        ["--ext=.png", str(png)],
        ["-f", "--ext=.png", str(png)],
        [str(png), "-o", "o.png"],
    ):
        result = kmq("encode", *args, cwd=tmp_path)
        assert result.returncode == 2, args
        assert b"names a PNG file" in result.stderr
    assert png.read_bytes() == original
    assert not (tmp_path / "o.png").exists()
    # a suffix of our own is fine
    assert kmq("encode", str(png), "--ext=-small.kmq").returncode == 0


def test_decode_keeps_the_original_photo_and_names_its_output_after_the_kmq_file(png) -> None:
    original = png.read_bytes()
    assert kmq("encode", str(png), "--colors", "8").returncode == 0
    result = kmq("decode", str(png.with_suffix(".kmq")))
    assert result.returncode == 0, result.stderr
    assert png.read_bytes() == original  # photo.png is the photo, not the quantised copy
    decoded = png.parent / "photo.kmq.png"
    np.testing.assert_array_equal(
        np.asarray(Image.open(decoded).convert("RGB")), kmcodec.load(png.with_suffix(".kmq"))
    )
    # a second run finds it up to date; -f redoes it
    assert kmq("decode", str(png.with_suffix(".kmq"))).returncode == 0
    assert kmq("decode", "-f", str(png.with_suffix(".kmq"))).returncode == 0


def test_decode_takes_many_files_and_folders_in_parallel(tmp_path, photo) -> None:
    folder = shifted_copies(photo, tmp_path / "in", 4, 7, "img{}.png")
    assert kmq("encode", str(folder), "--colors", "6").returncode == 0
    (folder / "broken.kmq").write_bytes(b"\x89KMQ\r\n\x1a\nxx")
    result = kmq("decode", str(folder), "-j", "2", "--ext", ".webp")
    assert result.returncode == 1 and b"broken.kmq" in result.stderr
    assert b"4 of 5 files decoded" in result.stderr
    for i in range(4):
        with Image.open(folder / f"img{i}.kmq.webp") as im:
            assert im.format == "WEBP"
            rgb = np.asarray(im.convert("RGB"))
        np.testing.assert_array_equal(rgb, kmcodec.load(folder / f"img{i}.kmq"))
    names = [str(folder / "img0.kmq"), str(folder / "img1.kmq")]
    assert kmq("decode", *names, "--ext", ".gif").returncode == 0
    assert (folder / "img1.kmq.gif").exists()


def test_decode_to_webp_is_lossless(png, tmp_path) -> None:
    assert kmq("encode", str(png), "--colors", "256").returncode == 0
    target = tmp_path / "out.webp"
    assert kmq("decode", str(png.with_suffix(".kmq")), "-o", str(target)).returncode == 0
    with Image.open(target) as im:
        rgb = np.asarray(im.convert("RGB"))
    np.testing.assert_array_equal(rgb, kmcodec.load(png.with_suffix(".kmq")))


def test_decode_refuses_an_extension_that_names_no_format(png, tmp_path) -> None:
    assert kmq("encode", str(png)).returncode == 0
    source = str(png.with_suffix(".kmq"))
    for args in (
        ["-o", str(tmp_path / "a.xyz")],
        ["--ext", ".xyz"],
        ["-o", str(tmp_path / "b.kmq")],
    ):
        result = kmq("decode", source, *args)
        assert result.returncode == 2, (args, result.stderr)
    assert not list(tmp_path.glob("a.xyz")) and not (tmp_path / "b.kmq").exists()
    assert not list(tmp_path.glob("*.xyz"))
    # a name without a known suffix is fine with --format
    result = kmq("decode", source, "-o", str(tmp_path / "a.xyz"), "--format", "png")
    assert result.returncode == 0 and (tmp_path / "a.xyz").read_bytes().startswith(b"\x89PNG")


def test_encode_help_speaks_to_a_terminal_user() -> None:
    text = " ".join(kmq("encode", "--help").stdout.decode().split())
    for python_word in ("None", "True", "False", "QualityError", "kmcodec.", "(kmq:"):
        assert python_word not in text
    assert "dithers by default" in text
    assert "default floyd-steinberg" in text  # not "default False"
    assert "--coding auto|0|1|2" in text and "default auto" in text
    assert "exit 99" in text


@pytest.mark.parametrize("off", ["off", "False", "0"])
def test_dither_off_as_help_spells_it_equals_nofs(png, tmp_path, off) -> None:
    a, b, c = (tmp_path / f"{n}.kmq" for n in "abc")
    assert kmq("encode", str(png), "--colors", "8", "--dither", off, "-o", str(a)).returncode == 0
    assert kmq("encode", str(png), "--colors", "8", "--nofs", "-o", str(b)).returncode == 0
    assert kmq("encode", str(png), "--colors", "8", "-o", str(c)).returncode == 0
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()  # the default dithers


def test_stdin_that_is_no_image_is_named_as_standard_input(tmp_path) -> None:
    result = kmq("encode", "-", "-o", str(tmp_path / "a.kmq"), stdin=b"garbage")
    assert result.returncode == 3
    err = result.stderr.decode()
    assert "kmq: -: cannot read image" in err and "in no format Pillow reads" in err
    assert "BytesIO" not in err and " at 0x" not in err
    assert not (tmp_path / "a.kmq").exists()


def test_info_reads_standard_input(png, tmp_path) -> None:
    assert kmq("encode", str(png), "--colors", "5").returncode == 0
    result = kmq("info", "--json", "-", stdin=png.with_suffix(".kmq").read_bytes())
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["colors"] == 5


def test_a_bad_flag_value_names_the_values_the_flag_takes(png) -> None:
    result = kmq("encode", str(png), "--coding", "3")
    assert result.returncode == 2
    assert "expected auto, 0, 1, 2, got '3'" in result.stderr.decode()
    assert "<Coding" not in result.stderr.decode()


def test_a_reader_that_goes_away_stops_kmq_quietly(tmp_path, photo) -> None:
    # kmq info a.kmq | head: the pipe closed before kmq writes
    path = tmp_path / "a.kmq"
    kmcodec.save(path, photo, 256)
    proc = subprocess.Popen(
        [KMQ, "info", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    proc.stdout.close()
    stderr = proc.stderr.read()
    assert proc.wait() == 141
    assert b"Traceback" not in stderr and b"Exception ignored" not in stderr


def test_a_one_colour_file_reads_in_the_singular_and_lossless(tmp_path) -> None:
    path = tmp_path / "one.png"
    Image.new("RGB", (8, 8), (10, 20, 30)).save(path)
    assert kmq("encode", str(path)).returncode == 0
    out = kmq("info", str(tmp_path / "one.kmq")).stdout
    assert b"1 colour (RGB), 1 bit per index" in out

    report = tmp_path / "cmp"
    assert kmq("compare", str(path), "--colors", "2", "--out", str(report), "-q").returncode == 0
    table = (report / "report.md").read_text()
    assert "| 2 | lossless |" in table and "inf" not in table


def test_encode_keeps_the_inputs_icc_profile_and_exif(tmp_path, photo) -> None:
    # kmq encode hands the quantiser the pixels and closes Pillow's image first: the metadata
    # must come along
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "meta.png"
    Image.fromarray(photo).save(path, icc_profile=profile, exif=exif.tobytes())
    assert kmq("encode", str(path)).returncode == 0
    img = kmcodec.read((tmp_path / "meta.kmq").read_bytes())
    assert img.icc_profile == profile
    assert img.exif is not None
    with Image.open(tmp_path / "meta.kmq") as im:
        assert im.getexif()[0x0112] == 6


def test_compare_measures_an_animation_against_its_peers(tmp_path) -> None:
    import json
    import shutil

    _animation(tmp_path / "anim.gif", frames=4)
    out = tmp_path / "cmp"
    result = kmq(
        "compare", str(tmp_path / "anim.gif"), "--out", str(out), "--json", str(tmp_path / "r.json")
    )
    assert result.returncode == 0, result.stderr
    assert b"anim.gif" in result.stdout and b"yes" in result.stdout
    (row,) = json.loads((tmp_path / "r.json").read_text())["animations"]
    kmq_file = out / "animations" / "anim.kmq"
    assert row["kmq"] == kmq_file.stat().st_size and row["exact"] is True and row["frames"] == 4
    with Image.open(kmq_file) as im:
        assert im.n_frames == 4
    if shutil.which("gifsicle"):
        assert row["gifsicle"] == (out / "animations" / "anim.O3.gif").stat().st_size


def test_compare_of_a_damaged_animation_says_it_cannot_read_it(tmp_path) -> None:
    frames = [Image.fromarray(f) for f in _animation(tmp_path / "anim.gif", frames=3)]
    frames[0].save(tmp_path / "anim.png", save_all=True, append_images=frames[1:], duration=90)
    data = (tmp_path / "anim.png").read_bytes()
    (tmp_path / "anim.png").write_bytes(data[: len(data) - 60])  # inside the last frame
    result = kmq("compare", str(tmp_path / "anim.png"), "--out", str(tmp_path / "c"))
    assert result.returncode == 3, result.stderr
    assert b"cannot read an animation" in result.stderr and b"Traceback" not in result.stderr


def test_compare_measures_an_apng_against_webp_without_gifsicle(tmp_path) -> None:
    import json

    from PIL import features

    frames = [Image.fromarray(f) for f in _animation(tmp_path / "anim.gif", frames=3)]
    frames[0].save(tmp_path / "anim.png", save_all=True, append_images=frames[1:], duration=90)
    result = kmq(
        "compare",
        str(tmp_path / "anim.png"),
        "--out",
        str(tmp_path / "c"),
        "--json",
        str(tmp_path / "r.json"),
    )
    assert result.returncode == 0, result.stderr  # gifsicle, which reads GIFs only, not run
    (row,) = json.loads((tmp_path / "r.json").read_text())["animations"]
    assert row["exact"] is True and row["frames"] == 3 and "gifsicle" not in row
    if features.check_module("webp"):
        with Image.open(tmp_path / "c" / "animations" / "anim.webp") as im:
            assert im.n_frames == 3 and row["webp"] > 0


# --- pngquant's spellings ---


def test_a_colour_count_first_is_the_palette_size_as_in_pngquant(png) -> None:
    result = kmq("encode", "12", str(png), "--nofs")
    assert result.returncode == 0, result.stderr
    assert kmcodec.read(png.with_suffix(".kmq").read_bytes()).header.colors == 12
    both = kmq("encode", "12", str(png), "--colors", "8", "-f")
    assert both.returncode == 2 and "once" in both.stderr.decode()


def test_a_file_named_like_a_number_is_an_input_not_a_colour_count(tmp_path, photo) -> None:
    Image.fromarray(photo).save(tmp_path / "64", format="PNG")  # a PNG called "64"
    Image.fromarray(photo).save(tmp_path / "b.png")
    result = kmq("encode", "64", "b.png", "--colors", "4", "--nofs", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "64.kmq").exists() and (tmp_path / "b.kmq").exists()


def test_ext_takes_a_suffix_that_starts_with_a_dash_after_a_space(png) -> None:
    assert kmq("encode", "--ext", "-k.kmq", "--colors", "4", str(png)).returncode == 0
    assert (png.parent / "photo-k.kmq").exists()


def test_floyd_is_dithering_of_a_strength_and_bare_floyd_is_full(png, tmp_path) -> None:
    made = {}
    for flag in ("--floyd=0.5", "--dither=0.5", "--floyd", "--dither=1"):
        out = tmp_path / f"{flag.strip('-').replace('=', '')}.kmq"
        result = kmq("encode", flag, "--colors", "8", str(png), "-o", str(out))
        assert result.returncode == 0, result.stderr
        made[flag] = out.read_bytes()
    assert made["--floyd=0.5"] == made["--dither=0.5"] != made["--floyd"] == made["--dither=1"]
    bad = kmq("encode", "--floyd=2", str(png), "-o", str(tmp_path / "x.kmq"))
    assert bad.returncode == 2 and "--floyd" in bad.stderr.decode()
    assert not (tmp_path / "x.kmq").exists()


def test_speed_11_is_speed_10_without_dithering_as_in_pngquant(png, tmp_path) -> None:
    eleven, ten = tmp_path / "11.kmq", tmp_path / "10.kmq"
    assert kmq("encode", "--speed", "11", str(png), "-o", str(eleven)).returncode == 0
    assert kmq("encode", "--speed", "10", "--nofs", str(png), "-o", str(ten)).returncode == 0
    assert eleven.read_bytes() == ten.read_bytes()
    assert kmq("encode", "--speed", "12", str(png), "-o", str(tmp_path / "x.kmq")).returncode == 2


def test_strip_stores_no_icc_profile_or_exif(tmp_path, photo) -> None:
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(photo).save(tmp_path / "m.png", icc_profile=profile, exif=exif.tobytes())
    assert kmq("encode", "--strip", str(tmp_path / "m.png")).returncode == 0
    chunks = kmcodec.read((tmp_path / "m.kmq").read_bytes())
    assert chunks.icc_profile is None and chunks.exif is None
    assert kmq("encode", str(tmp_path / "m.png"), "--ext", "-kept.kmq").returncode == 0
    kept = kmcodec.read((tmp_path / "m-kept.kmq").read_bytes())
    assert kept.icc_profile == profile and kept.exif


def test_posterize_keeps_the_palettes_high_bits_only(png) -> None:
    assert kmq("encode", "--posterize", "4", "--colors", "32", str(png)).returncode == 0
    palette = kmcodec.read(png.with_suffix(".kmq").read_bytes()).palette
    assert np.all(palette % 17 == 0)  # 0xAB -> 0xAA: the high nibble twice
    assert kmq("encode", "--posterize", "5", str(png), "-f").returncode == 2
