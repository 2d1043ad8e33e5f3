"""save / load, metadata chunks, and the array and PIL entry points."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest
from PIL import Image

import kmcodec
from kmcodec.files import write_atomic


def test_save_then_load_gives_the_quantised_image(tmp_path, photo) -> None:
    path = tmp_path / "photo.kmq"
    kmcodec.save(path, photo, 16)
    q = kmcodec.quantize(photo, 16)
    np.testing.assert_array_equal(kmcodec.load(path), q.image())
    assert path.read_bytes() == kmcodec.encode(photo, 16)


def test_save_leaves_no_file_when_encoding_fails(tmp_path, photo, monkeypatch) -> None:
    # The options are valid and the quantiser runs; the index coder itself fails.
    from kmcodec.format import codings

    def failing_coder(*args, **kwargs):
        raise MemoryError("the coder ran out of memory")

    monkeypatch.setattr(codings, "encode", failing_coder)
    path = tmp_path / "photo.kmq"
    with pytest.raises(MemoryError, match="coder"):
        kmcodec.save(path, photo, 16)
    assert list(tmp_path.iterdir()) == []
    path.write_bytes(b"the user's file")
    with pytest.raises(MemoryError, match="coder"):
        kmcodec.save(path, photo, 16)
    assert [p.name for p in tmp_path.iterdir()] == ["photo.kmq"]
    assert path.read_bytes() == b"the user's file"


def test_failed_write_keeps_the_old_file_and_no_temporary(tmp_path, monkeypatch) -> None:
    path = tmp_path / "a.kmq"
    path.write_bytes(b"old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(path, b"new contents")
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.kmq"]


def test_saved_file_has_ordinary_permissions(tmp_path) -> None:
    path = tmp_path / "p.kmq"
    kmcodec.save(path, np.zeros((2, 2, 3), np.uint8))
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_icc_and_exif_round_trip_and_default_from_pil_info(photo) -> None:
    exif = Image.Exif()
    exif[0x0112] = 3
    im = Image.fromarray(photo)
    im.info["icc_profile"] = b"ICC bytes"
    data = kmcodec.encode(im, 8, exif=exif.tobytes())
    img = kmcodec.read(data)
    assert img.icc_profile == b"ICC bytes"
    assert img.exif == exif.tobytes()[6:]  # stored without the "Exif\0\0" prefix
    restored = Image.Exif()
    restored.load(img.exif)
    assert restored[0x0112] == 3


def test_array_and_pil_inputs_give_the_same_file(photo) -> None:
    assert kmcodec.encode(photo, 9) == kmcodec.encode(Image.fromarray(photo), 9)


def test_grey_arrays_are_accepted() -> None:
    grey = np.arange(64, dtype=np.uint8).reshape(8, 8)
    out = kmcodec.decode(kmcodec.encode(grey, 64))
    np.testing.assert_array_equal(out[..., 0], grey)
    assert out.shape == (8, 8, 3)


def test_rgba_file_decodes_to_rgba() -> None:
    rgba = np.zeros((3, 3, 4), np.uint8)
    rgba[0, 0] = (255, 0, 0, 128)
    out = kmcodec.decode(kmcodec.encode(rgba, 4))
    np.testing.assert_array_equal(out, rgba)


def test_max_pixels_refuses_large_images_before_decoding() -> None:
    import warnings

    from PIL import Image

    palette = np.array([[0, 0, 0], [255, 255, 255]], np.uint8)
    data = kmcodec.encode_indexed(palette, np.zeros((100, 100), np.uint8))
    with pytest.raises(kmcodec.LimitError, match="max_pixels=9999"):
        kmcodec.decode(data, max_pixels=9999)
    assert kmcodec.decode(data, max_pixels=10000).shape == (100, 100, 3)
    old = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = 4000  # Pillow's rule: a warning above it, an error above 2x
        with pytest.raises(kmcodec.LimitError):
            kmcodec.read(data)
        Image.MAX_IMAGE_PIXELS = 6000
        with pytest.warns(Image.DecompressionBombWarning):
            kmcodec.read(data)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            indices = kmcodec.decode_indexed(data, max_pixels=None)[1]  # no limit, no warning
            assert indices.shape == (100, 100)
    finally:
        Image.MAX_IMAGE_PIXELS = old


def test_two_hosts_writing_into_one_folder_keep_each_others_live_temporaries(
    tmp_path, monkeypatch
) -> None:
    import subprocess
    import sys
    import time

    files = kmcodec.files
    # A PID that is not alive on this machine: a process that has ended.
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    dead = child.pid

    def temporary(host: str, pid: int, age: float = 0.0) -> os.PathLike:
        path = tmp_path / f".photo.kmq.{host}.{pid}.a{int(age)}{files.TEMP_SUFFIX}"
        path.write_bytes(b"half")
        then = time.time() - age
        os.utime(path, (then, then))
        return path

    monkeypatch.setattr(files, "_HOST", "host-b")
    files.write_atomic(tmp_path / "from-b.kmq", b"b")  # host b writes first
    files._CLEANED_FOLDERS.clear()
    live_on_b = temporary("host-b", dead)  # b's writer, running there (its PID means nothing here)
    old_on_b = temporary("host-b", dead, age=2 * 24 * 3600)  # a day old: stale anywhere
    dead_on_a = temporary("host-a", dead)  # host a's own writer, gone
    monkeypatch.setattr(files, "_HOST", "host-a")
    files.write_atomic(tmp_path / "from-a.kmq", b"a")  # host a's first write into the folder
    assert live_on_b.exists()
    assert not old_on_b.exists() and not dead_on_a.exists()
    assert (tmp_path / "from-a.kmq").read_bytes() == b"a"
    assert (tmp_path / "from-b.kmq").read_bytes() == b"b"


def test_write_atomic_gives_new_file_permissions_and_names_the_target_in_errors(
    tmp_path, monkeypatch
) -> None:
    import stat

    kmcodec.files.write_atomic(tmp_path / "a.kmq", b"x")
    mode = stat.S_IMODE((tmp_path / "a.kmq").stat().st_mode)
    assert mode == 0o666 & ~kmcodec.files._UMASK
    umask_calls = []
    monkeypatch.setattr(os, "umask", lambda m: umask_calls.append(m) or 0)
    kmcodec.files.write_atomic(tmp_path / "b.kmq", b"x")
    assert umask_calls == []  # no process-wide umask toggle while threads may write
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(
        os, "fsync", lambda fd: synced.append(os.fstat(fd).st_mode) or real_fsync(fd)
    )
    kmcodec.files.write_atomic(tmp_path / "c.kmq", b"x")
    if os.name != "nt":
        assert any(stat.S_ISDIR(m) for m in synced)  # the folder, after the rename
    with pytest.raises(OSError) as info:
        kmcodec.files.write_atomic(tmp_path / "missing" / "d.kmq", b"x")
    assert "kmq-partial" not in str(info.value) and "d.kmq" in str(info.value)


def test_a_killed_writers_temporary_file_is_removed_by_the_next_write(tmp_path, photo) -> None:
    import subprocess
    import sys

    target = tmp_path / "a.kmq"
    # Writers killed with -9 in the middle of write_atomic leave their temporary files.
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], stdout=subprocess.DEVNULL
    )
    host = kmcodec.files._HOST
    stale = tmp_path / f".a.kmq.{host}.{child.pid}.abcd1234{kmcodec.files.TEMP_SUFFIX}"
    stale.write_bytes(b"half a file")
    stale_other = tmp_path / f".b.v2.kmq.{host}.{child.pid}.x{kmcodec.files.TEMP_SUFFIX}"
    stale_other.write_bytes(b"")  # another file's, with dots in its name: stale too
    child.kill()
    child.wait()
    alive = tmp_path / f".a.kmq.{host}.{os.getpid()}.live{kmcodec.files.TEMP_SUFFIX}"
    alive.write_bytes(b"")  # a writer that is still running (this process)
    unrelated = tmp_path / ".notes.txt"
    unrelated.write_bytes(b"")
    kmcodec.files._CLEANED_FOLDERS.discard(os.path.abspath(tmp_path))
    kmcodec.save(target, photo, 4)
    assert not stale.exists() and not stale_other.exists()
    assert alive.exists() and unrelated.exists()
    assert kmcodec.load(target).shape == photo.shape
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [target.name, alive.name, unrelated.name]
    )
    # The folder is scanned once per process, not once per file written.
    calls = []
    real = os.scandir
    try:
        os.scandir = lambda path: calls.append(path) or real(path)
        for i in range(3):
            kmcodec.files.write_atomic(tmp_path / f"x{i}.kmq", b"data")
    finally:
        os.scandir = real
    assert calls == []


def test_dir_of_the_package_shows_only_the_api() -> None:
    names = dir(kmcodec)
    assert set(names) == {*kmcodec.__all__, "__version__"}
    assert "np" not in names and "codec" not in names and "annotations" not in names


def test_reprs_of_results_are_one_line_without_arrays(photo) -> None:
    q = kmcodec.quantize(photo, 8)
    image = kmcodec.read(q.encode())
    animation = kmcodec.read_animation(q.encode())
    for thing in (q, image, animation):
        text = repr(thing)
        assert "\n" not in text and "array" not in text and len(text) < 120, text
    assert repr(q).startswith("Quantized(192x128, 8 colours, PSNR ")
    assert repr(image) == "KmqImage(192x128, 8 colours (RGB), coding 2)"
    assert repr(animation) == "<Animation 192x128, 1 frame, 8 colours>"
