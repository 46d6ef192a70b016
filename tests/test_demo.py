"""Tests for the built-in offline demo domains (cyclegan.data.demo)."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest
from PIL import Image

from cyclegan.data.demo import DEMO_DOMAIN_A, DEMO_DOMAIN_B, MARKER, build_demo_domains, stylise
from cyclegan.errors import UserError

# Small settings keep the tests fast; the defaults are exercised once below.
SMALL = {"crop_size": 64, "n_train": 12, "n_test": 5, "seed": 3}


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10.0 * np.log10(255.0**2 / mse))


def _pngs(folder: pathlib.Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.png"))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, pathlib.Path]:
    """One build with the default parameters, shared by the read-only tests."""
    return build_demo_domains(tmp_path_factory.mktemp("datasets"))


def test_layout_counts_sizes_and_modes(built: tuple[pathlib.Path, pathlib.Path]) -> None:
    dir_a, dir_b = built
    assert dir_a.name == DEMO_DOMAIN_A and dir_b.name == DEMO_DOMAIN_B
    for domain in (dir_a, dir_b):
        assert (domain / MARKER).is_file()
        assert _pngs(domain / "train") == [f"{i:05d}.png" for i in range(60)]
        assert _pngs(domain / "test") == [f"{i:05d}.png" for i in range(8)]
        for path in list((domain / "train").glob("*.png")) + list((domain / "test").glob("*.png")):
            with Image.open(path) as image:
                assert image.mode == "RGB"
                assert image.size == (96, 96)


def test_test_split_is_exact_stylised_ground_truth(built: tuple[pathlib.Path, pathlib.Path]) -> None:
    dir_a, dir_b = built
    names = _pngs(dir_a / "test")
    assert names == _pngs(dir_b / "test")
    psnrs = []
    for name in names:
        with Image.open(dir_a / "test" / name) as photo, Image.open(dir_b / "test" / name) as painting:
            photo_array = np.asarray(photo.convert("RGB"))
            painting_array = np.asarray(painting.convert("RGB"))
            expected = np.asarray(stylise(photo.convert("RGB")))
        np.testing.assert_array_equal(painting_array, expected)
        psnrs.append(_psnr(photo_array, painting_array))
    # The untranslated photo must be clearly worse than a good translation.
    assert 11.0 < min(psnrs) and max(psnrs) < 22.0
    assert 13.0 < float(np.mean(psnrs)) < 20.0


def test_train_domains_are_different_crops(built: tuple[pathlib.Path, pathlib.Path]) -> None:
    dir_a, dir_b = built
    with Image.open(dir_a / "train" / "00000.png") as a, Image.open(dir_b / "train" / "00000.png") as b:
        # B's crop comes from another region, so it is not stylise(A's crop).
        assert not np.array_equal(np.asarray(stylise(a)), np.asarray(b))


def test_build_is_idempotent(tmp_path: pathlib.Path) -> None:
    dir_a, dir_b = build_demo_domains(tmp_path, **SMALL)
    files = sorted(p for d in (dir_a, dir_b) for p in d.rglob("*") if p.is_file())
    mtimes = {p: p.stat().st_mtime_ns for p in files}
    again = build_demo_domains(tmp_path, **SMALL)
    assert again == (dir_a, dir_b)
    assert sorted(p for d in again for p in d.rglob("*") if p.is_file()) == files
    assert {p: p.stat().st_mtime_ns for p in files} == mtimes
    # No staging folders are left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([DEMO_DOMAIN_A, DEMO_DOMAIN_B])


def test_changed_parameters_rebuild_our_folders(tmp_path: pathlib.Path) -> None:
    dir_a, _ = build_demo_domains(tmp_path, **SMALL)
    build_demo_domains(tmp_path, **{**SMALL, "n_train": 7})
    assert len(_pngs(dir_a / "train")) == 7
    assert json.loads((dir_a / MARKER).read_text())["params"]["n_train"] == 7


def test_incomplete_build_is_rebuilt(tmp_path: pathlib.Path) -> None:
    dir_a, dir_b = build_demo_domains(tmp_path, **SMALL)
    (dir_b / "test" / "00002.png").unlink()
    build_demo_domains(tmp_path, **SMALL)
    assert _pngs(dir_b / "test") == _pngs(dir_a / "test")


def test_user_folder_is_never_touched(tmp_path: pathlib.Path) -> None:
    user_dir = tmp_path / DEMO_DOMAIN_A
    (user_dir / "train").mkdir(parents=True)
    (user_dir / "train" / "mine.jpg").write_bytes(b"user data")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(UserError, match=DEMO_DOMAIN_A) as raised:
        build_demo_domains(tmp_path, **SMALL)
    message = str(raised.value)
    assert "\n" not in message and "--datasets-dir" in message
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    assert (user_dir / "train" / "mine.jpg").read_bytes() == b"user data"


def test_small_photos_are_upscaled_for_large_crops(tmp_path: pathlib.Path) -> None:
    dir_a, dir_b = build_demo_domains(tmp_path, crop_size=320, n_train=2, n_test=2)
    with Image.open(dir_b / "test" / "00001.png") as image:
        assert image.size == (320, 320) and image.mode == "RGB"


def test_stylise_is_deterministic_and_changes_the_image() -> None:
    rng = np.random.default_rng(0)
    photo = Image.fromarray(rng.integers(0, 256, size=(40, 56, 3), dtype=np.uint8), mode="RGB")
    first, second = stylise(photo), stylise(photo.copy())
    assert first.mode == "RGB" and first.size == photo.size
    assert first.tobytes() == second.tobytes()
    assert not np.array_equal(np.asarray(first), np.asarray(photo))
