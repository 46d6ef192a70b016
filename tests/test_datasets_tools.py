"""cyclegan-datasets: resumable verified downloads from a local server, safe unzip, info, clean."""
from __future__ import annotations

import hashlib
import io
import json
import stat
import zipfile
from pathlib import Path

import pytest
from PIL import Image
from skimage import data as skdata

from cyclegan.cli.datasets import main as datasets_main
from cyclegan.datasets_tools import ExtractLimits, safe_extract
from cyclegan.errors import UserError
from cyclegan.scrape.store import read_manifest
from fixtures_http import LocalServer

SPLITS = {"trainA": 4, "trainB": 3, "testA": 2, "testB": 2}


def _photo_bytes(index: int, size: int = 64) -> bytes:
    photo = [skdata.astronaut(), skdata.coffee(), skdata.rocket(), skdata.chelsea()][index % 4]
    top, left = (index * 37) % (photo.shape[0] - size), (index * 53) % (photo.shape[1] - size)
    buffer = io.BytesIO()
    Image.fromarray(photo[top:top + size, left:left + size]).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def reference_zip(name: str, extra: dict[str, bytes] | None = None, salt: int = 0) -> tuple[bytes, dict[str, bytes]]:
    """A zip laid out like the reference's: NAME/trainA/..., NAME/testB/..."""
    files, index = {}, salt
    for split, count in SPLITS.items():
        for n in range(count):
            files[f"{name}/{split}/{n}_{split}.jpg"] = _photo_bytes(index)
            index += 1
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for entry, payload in {**files, **(extra or {})}.items():
            archive.writestr(entry, payload)
    return buffer.getvalue(), files


def run(tmp_path, *args) -> int:
    return datasets_main(["--datasets-dir", str(tmp_path / "datasets"), "--no-progress", *args])


# ---------------------------------------------------------------- download

def test_download_resumes_verifies_and_extracts(tmp_path, capsys):
    payload, files = reference_zip("horse2zebra")
    with LocalServer() as server:
        server.add("/datasets/horse2zebra.zip", payload, "application/zip", etag='"v1"', cut_after=len(payload) // 3)
        base = server.url("/datasets")
        # the connection drops a third of the way in; with no automatic retry the part file stays
        assert run(tmp_path, "download", "horse2zebra", "--base-url", base, "--retries", "0") == 2
        err = capsys.readouterr().err
        assert "run the same command again to resume" in err and err.count("\n") == 1
        part = tmp_path / "datasets" / ".downloads" / "horse2zebra.zip.part"
        assert part.stat().st_size == len(payload) // 3
        assert not (tmp_path / "datasets" / "horse2zebra").exists()

        assert run(tmp_path, "download", "horse2zebra", "--base-url", base) == 0
        resumed = [r for r in server.requests if r.path == "/datasets/horse2zebra.zip"][-1]
        assert resumed.headers["range"] == f"bytes={len(payload) // 3}-"
        assert resumed.headers["if-range"] == '"v1"'
        assert resumed.headers["user-agent"].startswith("cyclegan-toolkit/")
    assert "cyclegan-train --dataroot" in capsys.readouterr().out

    target = tmp_path / "datasets" / "horse2zebra"
    for entry, content in files.items():
        assert (target / entry.split("/", 1)[1]).read_bytes() == content
    assert sorted(p.name for p in target.iterdir()) == sorted(SPLITS)
    assert not (tmp_path / "datasets" / ".downloads" / "horse2zebra.zip").exists()
    assert not list((tmp_path / "datasets").glob(".horse2zebra*"))
    record = json.loads((tmp_path / "datasets" / ".cyclegan-datasets.json").read_text())["horse2zebra"]
    assert record["size"] == len(payload) and record["sha256"] == hashlib.sha256(payload).hexdigest()


def test_changed_file_on_server_is_refused_until_accepted(tmp_path, capsys):
    first, _ = reference_zip("mini")
    second, second_files = reference_zip("mini", salt=5)
    with LocalServer() as server:
        server.add("/d/mini.zip", first, "application/zip")
        base = server.url("/d")
        assert run(tmp_path, "download", "mini", "--base-url", base) == 0
        before = sorted(p.read_bytes() for p in (tmp_path / "datasets" / "mini").rglob("*.jpg"))
        assert run(tmp_path, "download", "mini", "--base-url", base) == 2  # exists: never overwritten silently
        assert "already exists; pass --force" in capsys.readouterr().err

        server.add("/d/mini.zip", second, "application/zip")
        assert run(tmp_path, "download", "mini", "--base-url", base, "--force") == 2
        assert "--accept-new" in capsys.readouterr().err
        assert sorted(p.read_bytes() for p in (tmp_path / "datasets" / "mini").rglob("*.jpg")) == before

        assert run(tmp_path, "download", "mini", "--base-url", base, "--force", "--accept-new") == 0
    after = {str(p.relative_to(tmp_path / "datasets")): p.read_bytes() for p in (tmp_path / "datasets" / "mini").rglob("*.jpg")}
    assert after == second_files


def test_server_that_ignores_range_restarts_cleanly(tmp_path):
    payload, files = reference_zip("facades")
    with LocalServer() as server:
        server.add("/d/facades.zip", payload, "application/zip", cut_after=len(payload) // 2, ranges=False)
        assert run(tmp_path, "download", "facades", "--base-url", server.url("/d")) == 0
        assert server.hits("/d/facades.zip") == 2
    for entry, content in files.items():
        assert (tmp_path / "datasets" / entry).read_bytes() == content


def test_malicious_zip_is_refused_and_nothing_escapes(tmp_path, capsys):
    payload, _ = reference_zip("ae_photos", extra={"../evil": b"owned", "ae_photos/../../evil2": b"owned"})
    with LocalServer() as server:
        server.add("/d/ae_photos.zip", payload, "application/zip")
        assert run(tmp_path, "download", "ae_photos", "--base-url", server.url("/d"), "--keep-zip") == 2
    err = capsys.readouterr().err
    assert "refusing to extract" in err and "'../evil'" in err and "Traceback" not in err
    assert not (tmp_path / "evil").exists() and not (tmp_path / "datasets" / "evil").exists()
    assert not list(tmp_path.rglob("evil*"))
    assert not (tmp_path / "datasets" / "ae_photos").exists()
    assert not list((tmp_path / "datasets").glob(".ae_photos.extract-*"))


def _zip_with(entry: zipfile.ZipInfo | str, content: bytes = b"x") -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("d/trainA/ok.txt", b"fine")
        archive.writestr(entry, content)
    return buffer.getvalue()


def _symlink_entry() -> zipfile.ZipInfo:
    info = zipfile.ZipInfo("d/trainA/link")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


@pytest.mark.parametrize("entry, content, reason", [
    ("/abs.txt", b"x", "absolute path"),
    ("C:/windows.txt", b"x", "absolute path"),
    ("d\\..\\..\\back.txt", b"x", "climbs out"),
    (_symlink_entry(), b"/etc/passwd", "symbolic link"),
    ("d/trainA/big.bin", b"\0" * 5000, "is 5000 bytes"),
], ids=["absolute", "drive-letter", "backslash-climb", "symlink", "too-big"])
def test_safe_extract_refuses_hostile_entries(tmp_path, entry, content, reason):
    archive = tmp_path / "a.zip"
    archive.write_bytes(_zip_with(entry, content))
    with pytest.raises(UserError, match=reason):
        safe_extract(archive, tmp_path / "out", ExtractLimits(max_entry_bytes=4000))
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["a.zip"]


def test_safe_extract_unpacks_a_good_zip(tmp_path):
    archive = tmp_path / "a.zip"
    archive.write_bytes(_zip_with("d/trainB/b.txt", b"hello"))
    target = safe_extract(archive, tmp_path / "out")
    assert (target / "trainA" / "ok.txt").read_bytes() == b"fine"
    assert (target / "trainB" / "b.txt").read_bytes() == b"hello"


def test_unknown_and_unlicensed_names(tmp_path, capsys):
    assert run(tmp_path, "download", "horse2zebr") == 2
    assert "did you mean horse2zebra" in capsys.readouterr().err
    assert run(tmp_path, "download", "cityscapes") == 2
    assert "cityscapes-dataset.com" in capsys.readouterr().err
    assert run(tmp_path, "list") == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert "horse2zebra" in names and "monet2photo" in names and len(names) == 16


# ---------------------------------------------------------------- info and clean

def _save(path: Path, image: Image.Image, fmt: str, **kwargs) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, fmt, **kwargs)
    return path.read_bytes()


@pytest.fixture
def messy_domain(tmp_path):
    """train/test with: a cross-split exact copy, a near copy, junk, a tiny image, odd modes and formats."""
    root = tmp_path / "datasets" / "messy"
    photos = [Image.fromarray(p) for p in (skdata.astronaut(), skdata.coffee(), skdata.rocket(), skdata.chelsea(),
                                            skdata.immunohistochemistry())]
    crops = [p.crop((0, 0, 160, 160)).convert("RGB") for p in photos]
    _save(root / "train" / "a.jpg", crops[0], "JPEG", quality=92)
    _save(root / "train" / "b.png", crops[1], "PNG")
    _save(root / "train" / "c_gray.jpg", crops[2].convert("L"), "JPEG", quality=90)
    rgba = crops[3].convert("RGBA")
    rgba.putalpha(128)
    _save(root / "train" / "d_rgba.png", rgba, "PNG")
    exif = Image.Exif()
    exif[0x0112] = 8
    _save(root / "train" / "e_rotated.jpg", crops[4].crop((0, 0, 160, 140)), "JPEG", exif=exif)
    (root / "train" / "f_junk.jpg").write_bytes(b"<html>not an image</html>")
    _save(root / "train" / "g_tiny.png", Image.fromarray(skdata.camera()).resize((16, 16)), "PNG")
    _save(root / "train" / "h_near.jpg", crops[1].resize((150, 150)), "JPEG", quality=60)  # near copy of b
    _save(root / "train" / "i_lying.png", photos[2].crop((200, 200, 360, 360)).convert("RGB"), "JPEG")  # JPEG bytes, .png name
    (root / "test").mkdir()
    (root / "test" / "a_copy.jpg").write_bytes((root / "train" / "a.jpg").read_bytes())  # leaked into test
    _save(root / "test" / "t.jpg", Image.fromarray(skdata.astronaut()).crop((300, 300, 460, 460)), "JPEG")
    return root


def test_info_reports_counts_sizes_and_duplicates(tmp_path, messy_domain, capsys):
    assert run(tmp_path, "info", "messy") == 0
    out = capsys.readouterr().out
    train_line = next(line for line in out.splitlines() if line.startswith("train "))
    assert train_line.split()[1:3] == ["9", "1"] and "16-160" in train_line
    assert "test" in out and "exact duplicates: 1 extra copy, e.g. train/a.jpg = test/a_copy.jpg" in out
    assert "near duplicates (perceptual hash within 8 bits): 1 pair(s), e.g. train/b.png ~ train/h_near.jpg" in out
    assert "duplicates shared by train and test: 1" in out


def test_clean_moves_bad_images_aside_and_converts_the_rest(tmp_path, messy_domain, capsys):
    before = {p.relative_to(messy_domain): p.read_bytes() for p in messy_domain.rglob("*") if p.is_file()}
    assert run(tmp_path, "clean", "messy", "--dry-run") == 0
    assert "would be" in capsys.readouterr().out
    assert {p.relative_to(messy_domain): p.read_bytes() for p in messy_domain.rglob("*") if p.is_file()} == before

    assert run(tmp_path, "clean", "messy", "--min-size", "64") == 0
    out = capsys.readouterr().out
    assert "4 converted, moved aside: 1 corrupt, 1 too small, 2 duplicate" in out
    removed = messy_domain / ".clean-removed"
    assert (removed / "corrupt" / "train" / "f_junk.jpg").exists()
    assert (removed / "too_small" / "train" / "g_tiny.png").exists()
    assert (removed / "duplicate" / "test" / "a_copy.jpg").exists()  # the train copy stays
    assert (removed / "duplicate" / "train" / "h_near.jpg").exists()
    # nothing lost: every original byte string is still somewhere under the domain
    now = {p.read_bytes() for p in messy_domain.rglob("*") if p.is_file()}
    assert all(content in now for content in before.values())
    # what the trainer sees is clean RGB, upright, and has truthful extensions
    kept = sorted(str(p.relative_to(messy_domain)) for p in messy_domain.glob("t*/*") if p.is_file())
    assert kept == ["test/t.jpg", "train/a.jpg", "train/b.png", "train/c_gray.jpg", "train/d_rgba.png",
                    "train/e_rotated.jpg", "train/i_lying.jpg"]
    for name in kept:
        with Image.open(messy_domain / name) as image:
            assert image.mode == "RGB" and image.format == ("PNG" if name.endswith(".png") else "JPEG")
            assert image.getexif().get(0x0112, 1) == 1
    with Image.open(messy_domain / "train" / "e_rotated.jpg") as upright:
        assert upright.size == (140, 160)
    assert (messy_domain / "train" / "a.jpg").read_bytes() == before[Path("train/a.jpg")]  # good files untouched
    assert (removed / "original" / "train" / "c_gray.jpg").read_bytes() == before[Path("train/c_gray.jpg")]
    # cleaning again changes nothing
    assert run(tmp_path, "clean", "messy", "--min-size", "64") == 0
    assert "0 converted, moved aside: 0 corrupt, 0 too small, 0 duplicate" in capsys.readouterr().out


def test_clean_updates_a_scraper_manifest(tmp_path):
    root = tmp_path / "datasets" / "scraped"
    crop = Image.fromarray(skdata.coffee()).crop((0, 0, 200, 200)).convert("RGB")
    _save(root / "train" / "aaaa.png", crop.convert("LA"), "PNG")
    _save(root / "train" / "bbbb.jpg", crop, "JPEG")  # near copy of the first
    lines = [{"file": "train/aaaa.png", "url": "http://x/a", "sha256": "0"}, {"file": "train/bbbb.jpg", "url": "http://x/b"}]
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    assert run(tmp_path, "clean", "scraped") == 0
    records = read_manifest(root / "manifest.jsonl")
    assert len(records) == 1 and records[0]["url"] == "http://x/a"
    assert records[0]["file"] == "train/aaaa.png" and records[0]["width"] == 200
    assert records[0]["sha256"] == hashlib.sha256((root / "train" / "aaaa.png").read_bytes()).hexdigest()
    with Image.open(root / "train" / "aaaa.png") as image:
        assert image.mode == "RGB"


# ---------------------------------------------------------------- incomplete, corrupt and bomb zips

def _datasets_dir_is_clean(tmp_path, name: str) -> bool:
    datasets = tmp_path / "datasets"
    return not (datasets / name).exists() and not list(datasets.glob(f".{name}*"))


def test_truncated_first_download_is_not_recorded_and_the_good_file_then_loads(tmp_path, capsys):
    payload, files = reference_zip("mini")
    with LocalServer() as server:
        # a server (or proxy) that serves a truncated copy with a matching Content-Length
        server.add("/d/mini.zip", payload[: len(payload) * 2 // 3], "application/zip")
        base = server.url("/d")
        assert run(tmp_path, "download", "mini", "--base-url", base) == 2
        err = capsys.readouterr().err
        assert "not a complete zip" in err and "nothing recorded" in err and err.count("\n") == 1
        assert not (tmp_path / "datasets" / ".cyclegan-datasets.json").exists()
        assert not (tmp_path / "datasets" / ".downloads" / "mini.zip").exists()
        assert _datasets_dir_is_clean(tmp_path, "mini")

        server.add("/d/mini.zip", payload, "application/zip")
        assert run(tmp_path, "download", "mini", "--base-url", base) == 0
    for entry, content in files.items():
        assert (tmp_path / "datasets" / entry).read_bytes() == content
    record = json.loads((tmp_path / "datasets" / ".cyclegan-datasets.json").read_text())["mini"]
    assert record["sha256"] == hashlib.sha256(payload).hexdigest() and record["verified"] is True


def test_a_record_from_an_older_version_gives_way_to_a_complete_zip(tmp_path, capsys):
    payload, _ = reference_zip("mini")
    records = tmp_path / "datasets" / ".cyclegan-datasets.json"
    records.parent.mkdir(parents=True)
    records.write_text(json.dumps({"mini": {"size": 123, "sha256": "ab" * 32, "recorded": "2024-01-01"}}))
    with LocalServer() as server:
        server.add("/d/mini.zip", payload, "application/zip")
        with pytest.warns(UserWarning, match="older version that did not check completeness"):
            assert run(tmp_path, "download", "mini", "--base-url", server.url("/d")) == 0
    assert json.loads(records.read_text())["mini"]["size"] == len(payload)


class _ServerWithoutLength:
    """A raw HTTP/1.0 server on 127.0.0.1: no Content-Length, the connection closes after ``body``."""

    def __init__(self, body: bytes):
        import socket
        import threading
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.body = body
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: application/zip\r\n\r\n" + self.body)

    def close(self):
        import socket
        try:   # only shutdown() wakes a thread blocked in accept(); close() alone leaves it there
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        self.thread.join(5)


def _serve_without_length(body: bytes):
    server = _ServerWithoutLength(body)
    return server, f"http://127.0.0.1:{server.listener.getsockname()[1]}"


def test_catalog_size_and_checksum_catch_a_cut_transfer_without_content_length(tmp_path, capsys, monkeypatch):
    from cyclegan.datasets_tools import catalog
    payload, _ = reference_zip("mini")
    monkeypatch.setitem(catalog.KNOWN_ZIPS, "mini", (len(payload), hashlib.sha256(payload).hexdigest()))
    listener, base = _serve_without_length(payload[:1000])
    try:
        assert run(tmp_path, "download", "mini", "--base-url", base, "--retries", "0") == 2
    finally:
        listener.close()
    err = capsys.readouterr().err
    assert "stopped at 1000 bytes" in err and err.count("\n") == 1
    assert not (tmp_path / "datasets" / ".cyclegan-datasets.json").exists()

    other, _ = reference_zip("mini", salt=3)  # complete, but not the catalog's file
    (tmp_path / "datasets" / ".downloads" / "mini.zip.part").unlink()
    listener, base = _serve_without_length(other)
    try:
        assert run(tmp_path, "download", "mini", "--base-url", base) == 2
    finally:
        listener.close()
    assert "the catalog's copy had" in capsys.readouterr().err
    assert _datasets_dir_is_clean(tmp_path, "mini")


def _many_small_zeros(count: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        zeros = b"\0" * (1 << 20)  # 1 MiB each: at, not over, the per-entry threshold
        for n in range(count):
            archive.writestr(f"bomb/trainA/{n}.bin", zeros)
    return buffer.getvalue()


def test_zip_bomb_of_many_entries_under_one_mib_is_refused(tmp_path):
    archive = tmp_path / "bomb.zip"
    archive.write_bytes(_many_small_zeros(120))  # ~120 MiB from ~120 KB
    assert archive.stat().st_size < 1 << 20
    with pytest.raises(UserError, match=r"120 entries expand \d+x in total .*zip bomb"):
        safe_extract(archive, tmp_path / "out")
    assert [p.name for p in tmp_path.iterdir()] == ["bomb.zip"]


def _deflated_zip_with_corrupt_stream() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("broken/trainA/good.txt", b"fine " * 100)
        archive.writestr("broken/trainA/bad.txt", bytes(range(256)) * 64)
    data = bytearray(buffer.getvalue())
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("broken/trainA/bad.txt")
    name_len, extra_len = (int.from_bytes(data[info.header_offset + k:info.header_offset + k + 2], "little")
                           for k in (26, 28))
    start = info.header_offset + 30 + name_len + extra_len
    data[start:start + 8] = b"\xff" * 8  # 0b11 block type: "invalid block type"
    return bytes(data)


def _zip_with_method(method: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("odd/trainA/a.txt", b"hello")
    data = bytearray(buffer.getvalue())
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    data[local + 8:local + 10] = method.to_bytes(2, "little")
    data[central + 10:central + 12] = method.to_bytes(2, "little")
    return bytes(data)


@pytest.mark.parametrize("name, payload, fragment", [
    ("broken", _deflated_zip_with_corrupt_stream(), "'broken/trainA/bad.txt' cannot be read (error: Error -3"),
    ("odd", _zip_with_method(99), "'odd/trainA/a.txt' uses compression method 99"),
], ids=["corrupt-stream", "unknown-method"])
def test_corrupt_or_unsupported_zip_is_one_line_and_leaves_nothing(tmp_path, capsys, monkeypatch, name, payload,
                                                                   fragment):
    from cyclegan.datasets_tools import catalog
    monkeypatch.setitem(catalog.STANDARD_DATASETS, name, "a test archive")
    with LocalServer() as server:
        server.add(f"/d/{name}.zip", payload, "application/zip")
        assert run(tmp_path, "download", name, "--base-url", server.url("/d")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert f"{name}.zip" in err and fragment in err, err
    assert _datasets_dir_is_clean(tmp_path, name)
    assert not (tmp_path / "datasets" / ".downloads" / f"{name}.zip").exists()
    assert not (tmp_path / "datasets" / ".cyclegan-datasets.json").exists()
    with pytest.raises(UserError):  # and the library call, as a notebook makes it
        archive = tmp_path / "again.zip"
        archive.write_bytes(payload)
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_datasets_download_refuses_negative_retries_and_timeout(tmp_path, capsys):
    assert run(tmp_path, "download", "mini", "--base-url", "http://127.0.0.1:9", "--retries", "-1") == 2
    assert "--retries -1: must be 0 or more" in capsys.readouterr().err
    assert run(tmp_path, "download", "mini", "--base-url", "http://127.0.0.1:9", "--timeout", "nan") == 2
    assert "--timeout nan" in capsys.readouterr().err
