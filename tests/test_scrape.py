"""cyclegan-scrape against a real HTTP server on 127.0.0.1 serving each provider's real format.

The images are crops of scikit-image's bundled photos; the server also serves the hostile
cases a real crawl meets (slow, failing, flaky, HTML as image/jpeg, truncated JPEG, 1x1,
decompression bombs, oversize, duplicates, near duplicates). Tests assert what lands on
disk and in manifest.jsonl.
"""
from __future__ import annotations

import html
import io
import itertools
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from cyclegan.cli.scrape import main as scrape_main
from cyclegan.scrape.hygiene import hash_distance, perceptual_hash, sha256_hex
from cyclegan.scrape.providers.bing import parse_results_page
from cyclegan.scrape.store import read_manifest
from fixtures_http import LocalServer

MIN_SIZE = 64
FAST = ["--no-progress", "--min-size", str(MIN_SIZE), "--timeout", "0.5", "--max-time", "5",
        "--retries", "1", "--backoff", "0.05", "--host-interval", "0", "--workers", "4"]
NAME_PATTERN = re.compile(r"^(train|test)/[0-9a-f]{16}\.(jpg|png)$")


# ---------------------------------------------------------------- image bytes

def _sigint_as_in_a_terminal() -> None:
    """Popen preexec: SIGINT at its default, as in a terminal. A shell without job control (a CI
    script, ``cmd &``) starts background jobs with SIGINT ignored, children inherit that, and
    Python then never raises KeyboardInterrupt: Ctrl-C tests would test nothing."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _distinct_crops(count: int, size: int = 96) -> list[Image.Image]:
    """Crops of different photos/regions whose perceptual hashes are far apart (>= 20 bits)."""
    photos = [skdata.astronaut(), skdata.chelsea(), skdata.coffee(), skdata.rocket(),
              skdata.immunohistochemistry(), skdata.camera()]
    crops, hashes = [], []
    for photo in photos:
        h, w = photo.shape[:2]
        for top, left in ((0, 0), (h - size, w - size), (0, w - size), (h - size, 0)):
            crop = Image.fromarray(photo[top:top + size, left:left + size]).convert("RGB")
            crop_hash = perceptual_hash(crop)
            if all(hash_distance(crop_hash, other) >= 20 for other in hashes):
                crops.append(crop)
                hashes.append(crop_hash)
            if len(crops) == count:
                return crops
    raise AssertionError("not enough distinct crops")


def _bytes(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def _png_bomb(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of width x height zeros: tiny file, huge image."""
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    row = b"\x00" * (1 + (width + 7) // 8)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def images():
    crops = _distinct_crops(9)
    rgba = crops[5].convert("RGBA")
    alpha = np.full((rgba.height, rgba.width), 255, np.uint8)
    alpha[:20, :20] = 0  # transparent corner: must become white, not black
    rgba.putalpha(Image.fromarray(alpha))
    rotated = crops[6].crop((0, 0, 96, 80))  # 96 wide x 80 high as stored ...
    exif = Image.Exif()
    exif[0x0112] = 6  # ... but EXIF says rotate 90 degrees: upright it is 80 wide x 96 high
    jpeg0 = _bytes(crops[0], "JPEG", quality=92)
    return {
        "crops": crops,
        "jpeg0": jpeg0,
        "png1": _bytes(crops[1], "PNG"),
        "gray2": _bytes(crops[2].convert("L"), "JPEG", quality=90),
        "jpeg3": _bytes(crops[3], "JPEG", quality=90),
        "webp4": _bytes(crops[4], "WEBP", quality=90),
        "rgba5": _bytes(rgba, "PNG"),
        "exif6": _bytes(rotated, "JPEG", quality=90, exif=exif),
        "jpeg7": _bytes(crops[7], "JPEG", quality=90),
        "jpeg8": _bytes(crops[8], "JPEG", quality=90),
        # a resized, re-encoded copy of crop 0: a near duplicate, not an exact one
        "near0": _bytes(crops[0].resize((80, 80), Image.Resampling.BICUBIC), "JPEG", quality=60),
        "truncated": jpeg0[: len(jpeg0) // 2],
        "tiny": _bytes(Image.new("RGB", (1, 1), (10, 20, 30)), "PNG"),
        "bomb": _png_bomb(20_000, 20_000),   # 400 Mpx: Pillow's own guard refuses it
        "big": _png_bomb(9_000, 8_000),      # 72 Mpx: under Pillow's limit, over ours (64 Mpx)
        "html": b"<!DOCTYPE html><html><body>Access denied</body></html>",
        "huge": jpeg0 + b"\x00" * 300_000,   # over the --max-bytes cap used below
    }


# ---------------------------------------------------------------- provider formats

def bing_markup(results: list[dict]) -> bytes:
    """Bing's async results markup: ul.dgControl_list > li > div.imgpt > a.iusc[m=JSON]."""
    items = []
    for index, result in enumerate(results):
        m = html.escape(json.dumps({"sid": "", "cturl": "", "cid": f"c{index}", "purl": result["purl"],
                                    "murl": result["murl"], "turl": f"https://tse1.mm.bing.net/th?id=OIP.{index}",
                                    "md5": "", "shkey": "", "t": result["t"], "mid": f"M{index}",
                                    "desc": ""}, separators=(",", ":")), quote=True)
        items.append(
            f'<li data-idx="{index + 1}"><div class="iuscp isv"><div class="imgpt">'
            f'<a class="iusc" style="height:160px;width:160px" m="{m}" '
            f'href="/images/search?view=detailV2&amp;id={index}" h="ID=images,5180.1">'
            f'<div class="img_cont hoff"><img class="mimg" src="https://tse1.mm.bing.net/th?id=OIP.{index}" '
            f'alt="{html.escape(result["t"])}"/></div></a></div></div></li>')
    return ('<ul class="dgControl_list">' + "".join(items) + "</ul>").encode()


def serve_bing(server: LocalServer, results: list[dict], page_size: int) -> None:
    """Paged by &first=N like Bing; past the end it repeats the last page, as Bing does."""
    def page(query: dict) -> bytes:
        first = int(query.get("first", 0))
        start = min(first, max(0, len(results) - page_size))
        return bing_markup(results[start:start + page_size])
    server.add("/images/async", page, "text/html; charset=utf-8")


def test_bing_parser_reads_escaped_m_attribute():
    markup = bing_markup([{"murl": "https://a.example/x.png?a=1&b=2", "purl": "https://a.example/p", "t": 'A "q"'}])
    assert b"&quot;murl&quot;" in markup  # the attribute really is HTML-escaped JSON
    [result] = parse_results_page(markup.decode())
    assert result["murl"] == "https://a.example/x.png?a=1&b=2" and result["t"] == 'A "q"'


# ---------------------------------------------------------------- bing end to end

def _manifest_and_files(domain: Path):
    records = read_manifest(domain / "manifest.jsonl")
    files = sorted(str(p.relative_to(domain)) for split in ("train", "test")
                   for p in (domain / split).glob("*") if p.is_file()) if domain.exists() else []
    return records, files


def test_bing_scrape_keeps_only_clean_unique_images(tmp_path, images, capsys):
    with LocalServer() as server:
        def img(name, content_type="image/jpeg", **kwargs):
            return server.add(f"/img/{name}", images[name], content_type, **kwargs)
        good = [img("jpeg0"), img("png1", "image/png"), img("gray2"), img("jpeg3"),
                img("webp4", "image/webp"), img("rgba5", "image/png"), img("exif6"),
                img("jpeg7", fail_times=1)]                                  # flaky: 503 once, then fine
        bad = {
            "duplicate": [server.add("/img/copy-of-0.jpg", images["jpeg0"], "image/jpeg"), img("near0")],
            "corrupt": [img("html"), img("truncated"), img("bomb", "image/png"), img("big", "image/png"),
                        server.add("/img/page.jpg", images["jpeg8"], "text/html")],
            "too_small": [img("tiny", "image/png")],
            "failed": [img("jpeg8", delay=3.0), server.url("/img/missing.jpg"), img("huge")],
        }
        urls = good[:4] + bad["duplicate"][:1] + bad["corrupt"] + good[4:] + bad["too_small"] \
            + bad["failed"] + bad["duplicate"][1:]
        results = [{"murl": u, "purl": f"https://pages.example/{i}", "t": f"forest {i}"} for i, u in enumerate(urls)]
        serve_bing(server, results, page_size=7)

        started = time.monotonic()
        code = scrape_main(["forest", "--query", "forest", "--provider", "bing", "--base-url", server.base_url,
                            "--datasets-dir", str(tmp_path), "--limit", "50", "--max-bytes", "200000",
                            "--test-fraction", "0.3", *FAST])
        elapsed = time.monotonic() - started
        out = capsys.readouterr().out
        assert code == 0
        assert "kept 8, duplicate 2, too small 1, corrupt 5, failed 3" in out
        assert elapsed < 15  # the 3 s slow host was cut at the 0.5 s timeout, not waited for

        # the client paged with &first=N, sent a real User-Agent, retried the flaky host
        firsts = [int(r.query["first"]) for r in server.requests if r.path == "/images/async"]
        assert firsts[:3] == [0, 7, 14]
        assert all(r.headers["user-agent"].startswith("cyclegan-toolkit/") for r in server.requests)
        assert server.hits("/img/jpeg7") == 2

    domain = tmp_path / "forest"
    records, files = _manifest_and_files(domain)
    assert sorted(r["file"] for r in records) == files and len(files) == 8
    # of two identical files at different URLs, whichever arrived first is kept
    copy_url = bad["duplicate"][0]
    kept_urls = {r["url"] for r in records}
    assert kept_urls in (set(good), set(good) - {good[0]} | {copy_url})
    if copy_url in kept_urls:
        good[0] = copy_url
    by_url = {r["url"]: r for r in records}
    for record in records:
        assert NAME_PATTERN.match(record["file"]), record["file"]
        path = domain / record["file"]
        assert sha256_hex(path.read_bytes()) == record["sha256"]
        with Image.open(path) as saved:
            assert saved.mode == "RGB" and saved.size == (record["width"], record["height"])
            assert min(saved.size) >= MIN_SIZE
        assert record["split"] == record["file"].split("/")[0]
        assert record["provider"] == "bing" and record["query"] == "forest"
        assert record["page_url"].startswith("https://pages.example/") and record["title"].startswith("forest ")
        assert len(record["phash"]) == 16 and record["time"].endswith("+00:00")
    # lossless sources stay PNG, photos become JPEG
    assert by_url[good[1]]["file"].endswith(".png") and by_url[good[0]]["file"].endswith(".jpg")
    # transparency composited over white; EXIF orientation applied (96x80 stored, 80x96 upright)
    with Image.open(domain / by_url[good[5]]["file"]) as rgba:
        assert rgba.getpixel((3, 3)) == (255, 255, 255)
    assert (by_url[good[6]]["width"], by_url[good[6]]["height"]) == (80, 96)
    # no temp files left behind
    assert not [p for p in domain.rglob("*") if p.name.startswith(".")]


def test_rerun_adds_without_duplicates_and_keeps_existing_files(tmp_path, images, capsys):
    crops = images["crops"]
    with LocalServer() as server:
        first = [server.add(f"/a{i}.jpg", images[k], "image/jpeg") for i, k in enumerate(["jpeg0", "jpeg3", "jpeg7"])]
        serve_bing(server, [{"murl": u, "purl": u, "t": "t"} for u in first], page_size=10)
        args = ["forest", "--query", "forest", "--base-url", server.base_url, "--datasets-dir", str(tmp_path), *FAST]
        assert scrape_main(args) == 0
        domain = tmp_path / "forest"
        records, files = _manifest_and_files(domain)
        assert len(files) == 3
        before = {f: (domain / f).stat().st_mtime_ns for f in files}

        # the user drops a picture of their own into train/ (not in the manifest)
        own = domain / "train" / "my_photo.png"
        crops[8].save(own)
        # second run: the same URLs, a re-encoded copy of an existing image under a new URL,
        # the user's own picture from the web, and one genuinely new image
        more = first + [server.add("/b-near.jpg", images["near0"], "image/jpeg"),
                        server.add("/b-own.png", _bytes(crops[8], "PNG"), "image/png"),
                        server.add("/b-new.png", images["png1"], "image/png")]
        serve_bing(server, [{"murl": u, "purl": u, "t": "t"} for u in more], page_size=10)
        assert scrape_main(args) == 0
        assert "kept 1, duplicate 5, too small 0, corrupt 0, failed 0" in capsys.readouterr().out
        for url in first:  # known URLs are not even downloaded again
            assert server.hits(urllib_path(url)) == 1

    records, files = _manifest_and_files(domain)
    assert len(records) == 4 and len(files) == 5  # 4 scraped + the user's own file
    assert {r["url"] for r in records} == set(first) | {server.url("/b-new.png")}
    assert all((domain / f).stat().st_mtime_ns == t for f, t in before.items())
    assert own.read_bytes() == _bytes(crops[8], "PNG")


def urllib_path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def test_split_is_deterministic_by_content(tmp_path, images):
    crops = _distinct_crops(16, size=72)
    with LocalServer() as server:
        urls = [server.add(f"/{i}.png", _bytes(c, "PNG"), "image/png") for i, c in enumerate(crops)]
        serve_bing(server, [{"murl": u, "purl": u, "t": "t"} for u in urls], page_size=20)
        splits = []
        for run in ("one", "two"):
            assert scrape_main([run, "--query", "q", "--base-url", server.base_url, "--datasets-dir", str(tmp_path),
                                "--test-fraction", "0.5", *FAST]) == 0
            splits.append({r["url"]: r["split"] for r in read_manifest(tmp_path / run / "manifest.jsonl")})
    assert splits[0] == splits[1]
    assert 0 < list(splits[0].values()).count("test") < len(crops)


# ---------------------------------------------------------------- commons

def commons_page(files: list[dict], cont: dict | None) -> bytes:
    """An Action API answer (formatversion=2) for generator=categorymembers + imageinfo."""
    pages = []
    for i, f in enumerate(files):
        pages.append({
            "pageid": 1000 + i, "ns": 6, "title": f"File:{f['name']}", "imagerepository": "local",
            "imageinfo": [{
                "size": 1234, "width": 96, "height": 96, "sha1": "0" * 40, "mime": f["mime"],
                "thumburl": f["thumb"], "thumbwidth": 96, "thumbheight": 96,
                "url": f["thumb"].replace("/thumb/", "/orig/"),
                "descriptionurl": f"https://commons.wikimedia.org/wiki/File:{f['name']}",
                "descriptionshorturl": f"https://commons.wikimedia.org/w/index.php?curid={1000 + i}",
                "extmetadata": {
                    "LicenseShortName": {"value": f["license"], "source": "commons-desc-page", "hidden": ""},
                    "LicenseUrl": {"value": "https://creativecommons.org/licenses/by-sa/4.0", "source": "commons-desc-page", "hidden": ""},
                    "Artist": {"value": f"<a href=\"//commons.wikimedia.org/wiki/User:{f['author']}\" "
                                        f"title=\"User:{f['author']}\">{f['author']}</a> &amp; friends",
                               "source": "commons-desc-page"},
                    "Credit": {"value": "<span class=\"int-own-work\" lang=\"en\">Own work</span>",
                               "source": "commons-desc-page", "hidden": ""},
                    "AttributionRequired": {"value": "true", "source": "commons-desc-page", "hidden": ""},
                },
            }],
        })
    answer = {"batchcomplete": True, "query": {"pages": pages}}
    if cont:
        answer["continue"] = cont
    return json.dumps(answer).encode()


def test_commons_category_with_paging_records_license_and_author(tmp_path, images, capsys):
    with LocalServer() as server:
        thumbs = [server.add(f"/thumb/p{i}.jpg", images[k], "image/jpeg")
                  for i, k in enumerate(["jpeg0", "jpeg3", "jpeg7"])]
        svg = server.add("/thumb/logo.svg", b"<svg/>", "image/svg+xml")
        page1 = [{"name": "P0.jpg", "mime": "image/jpeg", "thumb": thumbs[0], "license": "CC BY-SA 4.0", "author": "Ann"},
                 {"name": "Logo.svg", "mime": "image/svg+xml", "thumb": svg, "license": "CC0", "author": "Bob"},
                 {"name": "P1.jpg", "mime": "image/jpeg", "thumb": thumbs[1], "license": "CC BY 2.0", "author": "Cy"}]
        page2 = [{"name": "P2.jpg", "mime": "image/jpeg", "thumb": thumbs[2], "license": "Public domain", "author": "Di"}]
        token = "file|5032|123"

        def api(query: dict) -> bytes:
            assert query["generator"] == "categorymembers" and query["gcmtitle"] == "Category:Abstract paintings"
            assert query["gcmtype"] == "file" and "extmetadata" in query["iiprop"]
            if "gcmcontinue" not in query:
                return commons_page(page1, {"gcmcontinue": token, "continue": "gcmcontinue||"})
            assert query["gcmcontinue"] == token and query["continue"] == "gcmcontinue||"
            return commons_page(page2, None)
        server.add("/w/api.php", api, "application/json; charset=utf-8")
        code = scrape_main(["abstract", "--provider", "commons", "--query", "Category:Abstract paintings",
                            "--base-url", server.base_url, "--datasets-dir", str(tmp_path), *FAST])
        assert code == 0 and "kept 3," in capsys.readouterr().out
        assert server.hits("/w/api.php") == 2 and server.hits("/thumb/logo.svg") == 0

    records = {r["title"]: r for r in read_manifest(tmp_path / "abstract" / "manifest.jsonl")}
    assert set(records) == {"File:P0.jpg", "File:P1.jpg", "File:P2.jpg"}
    first = records["File:P0.jpg"]
    assert first["license"] == "CC BY-SA 4.0" and first["author"] == "Ann & friends"
    assert first["license_url"] == "https://creativecommons.org/licenses/by-sa/4.0"
    assert first["credit"] == "Own work" and first["provider"] == "commons"
    assert first["page_url"] == "https://commons.wikimedia.org/wiki/File:P0.jpg"
    assert records["File:P2.jpg"]["license"] == "Public domain"


def test_commons_search_uses_file_namespace(tmp_path, images):
    with LocalServer() as server:
        thumb = server.add("/thumb/t.jpg", images["jpeg0"], "image/jpeg")

        def api(query: dict) -> bytes:
            assert query["generator"] == "search" and query["gsrsearch"] == "forest" and query["gsrnamespace"] == "6"
            return commons_page([{"name": "F.jpg", "mime": "image/jpeg", "thumb": thumb,
                                  "license": "CC0", "author": "E"}], None)
        server.add("/w/api.php", api, "application/json")
        assert scrape_main(["f", "--provider", "commons", "--query", "forest", "--base-url", server.base_url,
                            "--datasets-dir", str(tmp_path), *FAST]) == 0
    assert len(read_manifest(tmp_path / "f" / "manifest.jsonl")) == 1


# ---------------------------------------------------------------- urls provider, errors

def test_urls_provider_reads_a_list_and_respects_limit(tmp_path, images, capsys):
    with LocalServer() as server:
        urls = [server.add(f"/u{i}.jpg", images[k], "image/jpeg") for i, k in enumerate(["jpeg0", "jpeg3", "jpeg7"])]
        listing = tmp_path / "list.txt"
        listing.write_text(f"# my images\n{urls[0]}  https://pages.example/a\n\n{urls[1]}\n{urls[2]} # third\n")
        code = scrape_main(["mine", "--provider", "urls", "--urls", str(listing), "--limit", "2",
                            "--datasets-dir", str(tmp_path), *FAST])
        assert code == 0
        records = read_manifest(tmp_path / "mine" / "manifest.jsonl")
        assert len(records) == 2 and all(r["provider"] == "urls" for r in records)
        assert len(list((tmp_path / "mine").glob("t*/*.*"))) == 2
        # Which two arrive first depends on the download threads; a re-run adds the rest.
        assert scrape_main(["mine", "--provider", "urls", "--urls", str(listing), "--limit", "5",
                            "--datasets-dir", str(tmp_path), *FAST]) == 0
    records = read_manifest(tmp_path / "mine" / "manifest.jsonl")
    assert sorted(r["url"] for r in records) == sorted(urls)
    assert [r["page_url"] for r in records if r["url"] == urls[0]] == ["https://pages.example/a"]
    assert len(list((tmp_path / "mine").glob("t*/*.*"))) == 3


@pytest.mark.parametrize("extra, message", [
    (["--provider", "urls"], "needs --urls FILE"),
    (["--provider", "urls", "--urls", "nope.txt"], "--urls nope.txt: file does not exist"),
    (["--provider", "bing"], "needs --query"),
    (["--provider", "google", "--query", "x"], "google"),
    (["--query", "x", "--max-side", "32"], "--max-side 32 is below --min-size"),
])
def test_bad_input_is_one_line_error(tmp_path, capsys, extra, message, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", "")  # no chromedriver for the google case
    assert scrape_main(["d", "--datasets-dir", str(tmp_path), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and message in err and "Traceback" not in err


def test_unreachable_provider_is_one_line_error(tmp_path, capsys):
    with LocalServer() as server:
        base = server.base_url  # nothing routed: the results page answers 404
        assert scrape_main(["d", "--query", "x", "--base-url", base, "--datasets-dir", str(tmp_path), *FAST]) == 2
    err = capsys.readouterr().err
    assert "cannot fetch search results" in err and "404" in err
    assert not (tmp_path / "d" / "manifest.jsonl").exists()


def test_url_file_rejects_non_http_schemes(tmp_path, capsys):
    listing = tmp_path / "list.txt"
    listing.write_text("file:///etc/passwd\n")
    assert scrape_main(["d", "--provider", "urls", "--urls", str(listing), "--datasets-dir", str(tmp_path)]) == 2
    assert "line 1 is not an http(s) URL" in capsys.readouterr().err


# ---------------------------------------------------------------- Ctrl-C

def test_ctrl_c_leaves_folder_and_manifest_consistent(tmp_path, images):
    crops = _distinct_crops(14, size=72)
    with LocalServer() as server:
        # The first few come quickly; the rest slowly enough that, however loaded the machine, the
        # run cannot finish before the Ctrl-C below lands.
        urls = [server.add(f"/s{i}.png", _bytes(c, "PNG"), "image/png", delay=0.25 if i < 4 else 2.0)
                for i, c in enumerate(crops)]
        listing = tmp_path / "list.txt"
        listing.write_text("\n".join(urls))
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        command = [sys.executable, "-c", "from cyclegan.cli.scrape import main; raise SystemExit(main())",
                   "slow", "--provider", "urls", "--urls", str(listing), "--datasets-dir", str(tmp_path),
                   *FAST, "--workers", "2", "--min-size", "32", "--timeout", "5"]
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   preexec_fn=_sigint_as_in_a_terminal)
        manifest = tmp_path / "slow" / "manifest.jsonl"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (not manifest.exists() or len(read_manifest(manifest)) < 3):
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
        assert process.returncode == 130, err.decode()
        assert b"(interrupted)" in out and b"Traceback" not in err
        records, files = _manifest_and_files(tmp_path / "slow")
        assert 3 <= len(records) < len(crops)
        assert sorted(r["file"] for r in records) == files
        assert not [p for p in (tmp_path / "slow").rglob(".*")]

        # finishing the job later adds exactly the rest
        assert scrape_main(["slow", "--provider", "urls", "--urls", str(listing), "--datasets-dir", str(tmp_path),
                            *FAST, "--min-size", "32", "--timeout", "5"]) == 0
        records, files = _manifest_and_files(tmp_path / "slow")
        assert len(records) == len(files) == len(crops)


# ---------------------------------------------------------------- flagship script

def test_flagship_script_builds_both_domains(tmp_path, images, capsys):
    import runpy
    script = Path(__file__).resolve().parents[1] / "scripts" / "build_flagship_domains.py"
    build_main = runpy.run_path(str(script), run_name="build_flagship_domains")["main"]
    crops = _distinct_crops(9, size=72)
    with LocalServer() as server:
        photos = [server.add(f"/p{i}.jpg", _bytes(c, "JPEG", quality=90), "image/jpeg") for i, c in enumerate(crops[:4])]
        serve_bing(server, [{"murl": u, "purl": u, "t": "forest"} for u in photos], page_size=10)
        paintings = [server.add(f"/thumb/a{i}.png", _bytes(c, "PNG"), "image/png") for i, c in enumerate(crops[4:])]

        def api(query: dict) -> bytes:
            if query.get("gcmtitle") == "Category:Abstract paintings":
                files = [{"name": f"A{i}.png", "mime": "image/png", "thumb": u, "license": "CC0", "author": "K"}
                         for i, u in enumerate(paintings)]
                return commons_page(files, None)
            return commons_page([], None)
        server.add("/w/api.php", api, "application/json")
        code = build_main(["--limit", "3", "--datasets-dir", str(tmp_path), "--bing-url", server.base_url,
                            "--commons-url", server.base_url, "--min-size", "64", "--max-side", "64",
                            "--host-interval", "0", "--no-progress"])
    assert code == 0
    for name, provider in (("forest", "bing"), ("abstract", "commons")):
        records = read_manifest(tmp_path / name / "manifest.jsonl")
        assert len(records) == 3 and {r["provider"] for r in records} == {provider}
        assert all(max(r["width"], r["height"]) == 64 for r in records)  # --max-side applied
    out = capsys.readouterr().out
    assert "forest: 3 images in" in out and "abstract: 3 images in" in out


def test_commons_api_error_and_root_images_are_one_line_errors(tmp_path, images, capsys):
    with LocalServer() as server:
        server.add("/w/api.php", json.dumps({"error": {"code": "badvalue", "info": "Unrecognized value"}}).encode(),
                   "application/json")
        assert scrape_main(["a", "--provider", "commons", "--query", "x", "--base-url", server.base_url,
                            "--datasets-dir", str(tmp_path), *FAST]) == 2
        assert "API error badvalue: Unrecognized value" in capsys.readouterr().err
    # a domain whose images sit directly in its folder would be hidden by a new train/
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "x.jpg").write_bytes(images["jpeg0"])
    assert scrape_main(["flat", "--query", "x", "--base-url", "http://127.0.0.1:9", "--datasets-dir", str(tmp_path)]) == 2
    assert "holds images directly" in capsys.readouterr().err
    assert not (tmp_path / "flat" / "train").exists()


@pytest.mark.skipif(not os.environ.get("CYCLEGAN_TEST_GOOGLE"),
                    reason="~20 s, needs google-images-download>=3, Chromium and chromedriver; "
                           "set CYCLEGAN_TEST_GOOGLE=1 to run")
def test_google_provider_reads_a_results_page_through_chromium():
    from cyclegan.scrape.fetch import Fetcher
    from cyclegan.scrape.providers.google import GoogleProvider
    # Google's result pages carry image URLs in script arrays: ["https://...jpg",height,width]
    page = (b'<html><body><script>var d=[[1,["https://img.example.org/forest1.jpg",800,600]],'
            b'[2,["https://img.example.org/forest2.png?s=l",640,480]],[3,["https://img.example.org/x.html",1,1]]];'
            b'</script><div style="height:5000px"></div></body></html>')
    with LocalServer() as server:
        server.add("/search", page, "text/html")
        provider = GoogleProvider(base_url=server.base_url)
        found = [c.url for c in provider.search("forest", 10, Fetcher())]
        assert server.requests[0].query == {"q": "forest", "tbm": "isch"}
    assert found == ["https://img.example.org/forest1.jpg", "https://img.example.org/forest2.png?s=l"]


# ---------------------------------------------------------------- --max-time bounds the whole download

class TrickleServer:
    """A raw server on 127.0.0.1 that sends its answer one byte at a time, forever.

    ``headers_too``: the status line and headers trickle as well (the request never gets a
    response object). No read ever stalls long enough for a socket timeout to fire.
    """

    def __init__(self, interval: float = 0.02, headers_too: bool = False):
        self.interval, self.headers_too = interval, headers_too
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.connections = 0
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/slow.png"

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            self.threads.append(threading.Thread(target=self._trickle, args=(conn,), daemon=True))
            self.threads[-1].start()

    def _trickle(self, conn):
        head = b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 10000000\r\n\r\n"
        with conn:
            try:
                conn.recv(65536)
                if not self.headers_too:
                    conn.sendall(head)
                    head = b""
                for byte in itertools.chain(head, itertools.repeat(0)):
                    if self.stopping.is_set():
                        return
                    conn.sendall(bytes([byte]))
                    time.sleep(self.interval)
            except OSError:
                return

    def close(self):
        self.stopping.set()
        try:   # on Linux only shutdown() wakes a thread blocked in accept(); close() alone leaves it there
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        for thread in self.threads:
            thread.join(5)



@pytest.mark.parametrize("headers_too", [False, True], ids=["body", "headers"])
def test_max_time_bounds_a_download_that_trickles_one_byte_at_a_time(tmp_path, capsys, headers_too):
    from cyclegan.scrape.fetch import Fetcher, FetchError, FetchSettings
    server = TrickleServer(headers_too=headers_too)
    try:
        fetcher = Fetcher(FetchSettings(timeout=1.0, max_time=1.5, retries=3, backoff=0.05, host_interval=0))
        started = time.monotonic()
        with pytest.raises(FetchError, match="took longer than --max-time 1.5 s"):
            fetcher.get(server.url)
        assert time.monotonic() - started < 1.5 + 1.0
        assert server.connections == 1  # the deadline is for the whole get: no retry after it

        listing = tmp_path / "list.txt"
        listing.write_text(server.url + "\n")
        started = time.monotonic()
        code = scrape_main(["slow", "--provider", "urls", "--urls", str(listing), "--datasets-dir", str(tmp_path),
                            "--no-progress", "--verbose", "--timeout", "1", "--max-time", "2", "--retries", "3",
                            "--host-interval", "0"])
        elapsed = time.monotonic() - started
    finally:
        server.close()
    assert code == 0 and elapsed < 2 + 1.5, elapsed
    err = capsys.readouterr().err
    assert "took longer than --max-time 2 s" in err and "Traceback" not in err


def test_ctrl_c_stops_at_once_while_a_host_trickles(tmp_path):
    server = TrickleServer()
    try:
        listing = tmp_path / "list.txt"
        listing.write_text("".join(f"{server.url}?{n}\n" for n in range(4)))
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        command = [sys.executable, "-c", "from cyclegan.cli.scrape import main; raise SystemExit(main())",
                   "slow", "--provider", "urls", "--urls", str(listing), "--datasets-dir", str(tmp_path),
                   "--no-progress", "--max-time", "120", "--timeout", "60", "--host-interval", "0"]
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   preexec_fn=_sigint_as_in_a_terminal)
        deadline = time.monotonic() + 60
        while server.connections < 4 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        assert server.connections == 4 and process.poll() is None, (server.connections, process.poll())
        process.send_signal(signal.SIGINT)
        sent = time.monotonic()
        out, err = process.communicate(timeout=30)
        stopped_after = time.monotonic() - sent
    finally:
        server.close()
    assert process.returncode == 130, err.decode()
    assert stopped_after < 2.5, stopped_after
    assert b"Traceback" not in err


@pytest.mark.parametrize("extra, message", [
    (["--retries", "-1"], "--retries -1: must be between 0 and 100"),
    (["--retries", "1000000"], "--retries 1000000: must be between 0 and 100"),
    (["--max-time", "0"], "--max-time 0.0: must be a positive number of seconds"),
    (["--max-time", "nan"], "--max-time nan: must be a positive"),
    (["--max-time", "inf"], "--max-time inf: must be a positive"),
    (["--timeout", "-1"], "--timeout -1.0: must be a positive"),
    (["--backoff", "-1"], "--backoff -1.0: must be between 0 and 3600"),
    (["--host-interval", "nan"], "--host-interval nan: must be between 0 and 3600"),
    (["--max-bytes", "0"], "--max-bytes 0: must be at least 1"),
    (["--workers", "0"], "--workers 0: must be between 1 and 256"),
    (["--workers", "100000"], "--workers 100000: must be between 1 and 256"),
    (["--limit", "-5"], "--limit -5: must be between 1"),
    (["--min-size", "0"], "--min-size 0: must be at least 1"),
    (["--dedupe-distance", "-1"], "--dedupe-distance -1: must be between 0"),
    (["--dedupe-distance", "65"], "--dedupe-distance 65: must be between 0"),
    (["--test-fraction", "nan"], "--test-fraction nan: must be in [0, 1)"),
    (["--max-pixels", "0"], "--max-pixels 0: must be at least 1"),
    (["--commons-width", "-1"], "--commons-width -1: must be 0"),
])
def test_negative_or_absurd_numeric_options_are_one_line_errors(tmp_path, capsys, extra, message):
    assert scrape_main(["d", "--query", "x", "--base-url", "http://127.0.0.1:9", "--datasets-dir", str(tmp_path),
                        *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and message in err and "Traceback" not in err, err
    assert not (tmp_path / "d").exists()
