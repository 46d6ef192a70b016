import collections
import contextlib
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cyclegan.models import use_model
from cyclegan.config import DataConfig
from cyclegan.data import load_training_data
from cyclegan.data.images import list_images, load_rgb
from cyclegan.data.transforms import Preprocess
from cyclegan.data.unaligned import EpochSampler, RunLoader, UnalignedDataset
from loaders import epoch_loader
from cyclegan.errors import UserError


def write_images(folder: Path, count: int, size=(40, 36), start=0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(start, start + count):
        path = folder / f"{i:03d}.png"
        Image.fromarray(np.full((size[1], size[0], 3), i % 256, np.uint8)).save(path)
        paths.append(path)
    return paths


def identify(batch_tensor: torch.Tensor) -> list[int]:
    """Recover the constant pixel value (= the file's index) from a [-1, 1] tensor batch."""
    return [int(round((t.mean().item() + 1) * 127.5)) for t in batch_tensor]


def test_epoch_visits_every_A_once_and_pairs_random_B(tmp_path):
    a = write_images(tmp_path / "A", 5)
    b = write_images(tmp_path / "B", 9, start=100)
    ds = UnalignedDataset(a, b, Preprocess("crop", 36, 32, flip=False))
    assert len(ds) == 9  # max(|A|, |B|)
    seen_A, seen_B = [], []
    for batch in epoch_loader(ds, batch_size=2, seed=0, epoch=1, shuffle=True):
        seen_A += identify(batch["A"])
        seen_B += identify(batch["B"])
    assert len(seen_A) == 9 and set(seen_A) == {0, 1, 2, 3, 4}
    assert max(collections.Counter(seen_A).values()) == 2  # 9 positions over 5 images
    assert set(seen_B) <= set(range(100, 109)) and len(set(seen_B)) > 3
    # another epoch: another order and other B partners; same epoch again: identical
    again = [identify(b["A"]) for b in epoch_loader(ds, batch_size=2, seed=0, epoch=1, shuffle=True)]
    other = [identify(b["A"]) for b in epoch_loader(ds, batch_size=2, seed=0, epoch=2, shuffle=True)]
    assert sum(again, []) == seen_A and sum(other, []) != seen_A


def test_serial_batches_pair_by_index(tmp_path):
    a = write_images(tmp_path / "A", 4)
    b = write_images(tmp_path / "B", 4, start=50)
    ds = UnalignedDataset(a, b, Preprocess("crop", 36, 32, flip=False), serial_batches=True)
    batch = next(iter(epoch_loader(ds, batch_size=4, seed=0, epoch=1, shuffle=False)))
    assert identify(batch["A"]) == [0, 1, 2, 3] and identify(batch["B"]) == [50, 51, 52, 53]


def test_resume_mid_epoch_sees_the_same_remaining_items(tmp_path):
    a = write_images(tmp_path / "A", 7)
    ds = UnalignedDataset(a, a, Preprocess("resize_and_crop", 40, 32))
    full = [b["A"] for b in epoch_loader(ds, batch_size=2, seed=3, epoch=4, shuffle=True)]
    rest = [b["A"] for b in epoch_loader(ds, batch_size=2, seed=3, epoch=4, shuffle=True, start_batch=2,
                                         num_workers=2)]
    assert len(rest) == len(full) - 2
    assert all(torch.equal(x, y) for x, y in zip(full[2:], rest))


def test_sampler_shards_are_disjoint_and_cover_everything():
    shards = [list(EpochSampler(10, 0, 1, rank=r, world_size=3)) for r in range(3)]
    indices = [i for shard in shards for i, _ in shard]
    assert len(shards[0]) == 4 and set(indices) == set(range(10)) and len(indices) == 12


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "CMYK", "I;16", "LA", "1"])
def test_every_image_mode_becomes_rgb(tmp_path, mode):
    base = Image.fromarray(np.random.default_rng(0).integers(0, 255, (20, 24, 3), dtype=np.uint8))
    if mode == "I;16":
        image = Image.fromarray((np.arange(20 * 24).reshape(20, 24) * 100).astype(np.uint16))
    else:
        image = base.convert(mode)
    path = tmp_path / ("x.tif" if mode in ("CMYK", "I;16") else "x.png")
    image.save(path)
    rgb = load_rgb(path)
    assert rgb.mode == "RGB" and rgb.size == (24, 20)
    if mode == "I;16":  # rescaled, not clipped to white
        values = np.asarray(rgb)
        assert values.min() == 0 and 150 < values.max() < 256 and len(np.unique(values)) > 100


def test_transparent_pixels_become_white(tmp_path):
    rgba = Image.new("RGBA", (8, 8), (255, 0, 0, 0))
    rgba.save(tmp_path / "t.png")
    assert load_rgb(tmp_path / "t.png").getpixel((0, 0)) == (255, 255, 255)


def test_unreadable_files_are_skipped_with_one_counting_warning(tmp_path):
    write_images(tmp_path / "A" / "train", 3)
    write_images(tmp_path / "B", 2)
    (tmp_path / "A" / "train" / "broken.jpg").write_bytes(b"not an image at all")
    (tmp_path / "A" / "train" / "empty.png").write_bytes(b"")
    data = DataConfig(domainA=str(tmp_path / "A"), domainB=str(tmp_path / "B"), load_size=36, crop_size=32)
    with pytest.warns(UserWarning, match="skipped 2 unreadable") as record:
        loaded = load_training_data(data)
    # Only our warnings count: a background thread of an earlier test may warn meanwhile.
    ours = [w for w in record if "unreadable" in str(w.message)]
    assert len(ours) == 1 and len(loaded.dataset.paths_A) == 3


def test_domain_names_resolve_under_the_datasets_dir(tmp_path, monkeypatch):
    write_images(tmp_path / "ds" / "forest" / "train", 2)
    write_images(tmp_path / "ds" / "forest" / "test", 1)
    write_images(tmp_path / "ds" / "paint", 2)
    monkeypatch.setenv("CYCLEGAN_DATASETS", str(tmp_path / "ds"))
    loaded = load_training_data(DataConfig(domainA="forest", domainB="paint", load_size=36, crop_size=32))
    assert loaded.domain_A.train_dir == tmp_path / "ds" / "forest" / "train"
    assert loaded.domain_A.test_dir == tmp_path / "ds" / "forest" / "test"
    assert loaded.domain_B.train_dir == tmp_path / "ds" / "paint"


@pytest.mark.parametrize("problem, message", [
    ("missing", "does not exist"),
    ("empty", "no images"),
    ("unreadable", "none of the images"),
    ("crop", "larger than --load_size"),
    ("dataroot", "missing trainB"),
    ("one_domain", "name both domains"),
])
def test_bad_data_is_a_one_line_user_error(tmp_path, problem, message):
    write_images(tmp_path / "A", 2)
    write_images(tmp_path / "B", 2)
    data = DataConfig(domainA=str(tmp_path / "A"), domainB=str(tmp_path / "B"), load_size=36, crop_size=32)
    if problem == "missing":
        data.domainB = str(tmp_path / "nope")
    elif problem == "empty":
        (tmp_path / "E").mkdir()
        data.domainB = str(tmp_path / "E")
    elif problem == "unreadable":
        (tmp_path / "U").mkdir()
        (tmp_path / "U" / "a.jpg").write_text("garbage")
        data.domainB = str(tmp_path / "U")
    elif problem == "crop":
        data.crop_size = 64
    elif problem == "dataroot":
        write_images(tmp_path / "ref" / "trainA", 1)
        data = DataConfig(dataroot=str(tmp_path / "ref"))
    elif problem == "one_domain":
        data.domainB = None
    with pytest.raises(UserError, match=message) as info:
        with pytest.warns(UserWarning) if problem == "unreadable" else contextlib.nullcontext():
            load_training_data(data)
    assert "\n" not in str(info.value)



def test_run_loader_with_persistent_workers_gives_each_epochs_exact_batches(photo_domains):
    _, domain_A, domain_B = photo_domains
    paths_A, paths_B = list_images(domain_A / "train"), list_images(domain_B / "train")
    preprocess = Preprocess("resize_and_crop", 36, 32)
    loader = RunLoader(UnalignedDataset(paths_A, paths_B, preprocess), batch_size=2, seed=5, shuffle=True,
                       num_workers=2)
    uncached = UnalignedDataset(paths_A, paths_B, preprocess, cache_bytes=0)
    for epoch, start in ((1, 0), (2, 0), (3, 2)):
        got = [b["A"] for b in loader.for_epoch(epoch, start)]
        want = [b["A"] for b in epoch_loader(uncached, batch_size=2, seed=5, epoch=epoch, shuffle=True,
                                             start_batch=start)]
        assert len(got) == len(want) > 0
        assert all(torch.equal(g, w) for g, w in zip(got, want))


def test_decoded_cache_stays_within_its_budget(photo_domains):
    _, domain_A, domain_B = photo_domains
    paths_A, paths_B = list_images(domain_A / "train"), list_images(domain_B / "train")
    one_image = 36 * 36 * 3
    ds = UnalignedDataset(paths_A, paths_B, Preprocess("resize_and_crop", 36, 32), cache_bytes=3 * one_image)
    for i in range(len(ds)):
        ds[(i, i)]
    assert len(ds.cache.images) == 3 and ds.cache.used <= 3 * one_image


# ---------------------------------------------------------------- subfolders, odd files, odd names

def test_images_in_subfolders_are_used_and_counted_per_level(tmp_path, capsys):
    root = tmp_path / "ref"
    write_images(root / "trainA", 1)
    write_images(root / "trainA" / "cats", 4, start=10)
    write_images(root / "trainA" / "cats" / "indoor", 2, start=20)
    write_images(root / "trainB", 2, start=50)
    loaded = load_training_data(DataConfig(dataroot=str(root), load_size=36, crop_size=32))
    assert len(loaded.dataset.paths_A) == 7 and len(loaded.dataset.paths_B) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"--domainA {root / 'trainA'}: 7 images, subfolders included (as the reference does): "
                     "1 directly in it, 4 one folder down, 2 two folders down"]
    batch = next(iter(epoch_loader(loaded.dataset, batch_size=7, seed=0, epoch=1, shuffle=False)))
    assert sorted(identify(batch["A"])) == [0, 10, 11, 12, 13, 20, 21]


def test_a_named_domain_walks_train_subfolders_but_not_test(tmp_path, capsys):
    write_images(tmp_path / "flat" / "sub", 2)
    write_images(tmp_path / "flat" / "test", 3, start=30)  # no train/: the top is training, test/ is not
    write_images(tmp_path / "B", 2)
    loaded = load_training_data(DataConfig(domainA=str(tmp_path / "flat"), domainB=str(tmp_path / "B"),
                                           load_size=36, crop_size=32))
    assert [p.parent.name for p in loaded.dataset.paths_A] == ["sub", "sub"]
    assert "2 one folder down" in capsys.readouterr().err


def test_symlink_loops_and_special_files_are_skipped(tmp_path):
    import os
    import socket
    folder = tmp_path / "A"
    write_images(folder / "sub", 2)
    (folder / "sub" / "back").symlink_to(folder, target_is_directory=True)   # A/sub/back -> A: a loop
    (folder / "self").symlink_to(folder / "self")                            # a link to itself
    (folder / "dangling.png").symlink_to(folder / "missing.png")
    os.mkfifo(folder / "pipe.png")                                           # opening it would block forever
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(folder / "sock.jpg"))
    try:
        write_images(tmp_path / "B", 2)
        loaded = load_training_data(DataConfig(domainA=str(folder), domainB=str(tmp_path / "B"),
                                               load_size=36, crop_size=32))
    finally:
        listener.close()
    assert sorted(p.name for p in loaded.dataset.paths_A) == ["000.png", "001.png"]


def _truncated_jpegs(folder: Path, count: int) -> None:
    import io
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        buffer = io.BytesIO()
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (64, 64, 3), np.uint8)).save(buffer, "JPEG")
        (folder / f"{i}.jpg").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])  # header, half the data


def test_a_domain_of_only_truncated_jpegs_is_one_line_naming_the_folder(tmp_path):
    from cyclegan.config import Config
    from cyclegan.data.single import load_single_domain
    _truncated_jpegs(tmp_path / "A", 3)
    write_images(tmp_path / "B", 2)
    with pytest.raises(UserError) as info:
        load_training_data(DataConfig(domainA=str(tmp_path / "A"), domainB=str(tmp_path / "B"),
                                      load_size=36, crop_size=32))
    message = str(info.value)
    assert "\n" not in message and f"none of the 3 images in {tmp_path / 'A'} can be decoded" in message
    assert message.startswith("--domainA: ") and "truncated" in message

    cfg = use_model(Config(), "dcgan")
    cfg.data.domainA = str(tmp_path / "A")
    with pytest.raises(UserError, match="none of the 3 images"):
        load_single_domain(cfg)


def test_cli_gives_one_line_and_exit_2_for_a_truncated_domain(tmp_path, capfd):
    from cyclegan.cli.train import main as train_main
    _truncated_jpegs(tmp_path / "A", 2)
    write_images(tmp_path / "B", 2)
    code = train_main(["--domainA", str(tmp_path / "A"), "--domainB", str(tmp_path / "B"), "--device", "cpu",
                       "--checkpoints_dir", str(tmp_path / "ck"), "--num_threads", "0", "--load_size", "36",
                       "--crop_size", "32", "--no-progress", "--display", "none"])
    err = capfd.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    assert [line for line in err.splitlines() if "error" in line] == [line for line in err.splitlines() if line]
    assert "can be decoded" in err


def test_a_non_utf8_folder_name_loads_without_unicode_errors(tmp_path, capsys):
    import os
    import warnings
    from cyclegan.config import Config
    from cyclegan.data.single import load_single_domain
    odd = os.fsdecode(b"caf\xe9-\xff")  # Latin-1 bytes: not UTF-8
    root = tmp_path / odd
    write_images(root / "trainA", 2)
    write_images(root / "trainA" / odd, 2, start=10)  # nested, so the count line names it
    (root / "trainA" / odd / "cut.png").write_bytes((root / "trainA" / "000.png").read_bytes()[:60])
    write_images(root / "trainB", 3, start=50)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = load_training_data(DataConfig(dataroot=str(root), load_size=36, crop_size=32))
        values = []
        for workers in (0, 1):
            loader = RunLoader(loaded.dataset, batch_size=1, seed=0, shuffle=False, num_workers=workers)
            values.append(sorted(v for batch in loader.for_epoch(1) for v in identify(batch["A"])))
        cfg = use_model(Config(), "dcgan")
        cfg.data.dataroot = str(root)
        single = load_single_domain(cfg)
        assert single[(0, 0)]["A"].shape[0] == 3
    for message in [str(w.message) for w in caught] + [capsys.readouterr().err, loaded.domain_A.name]:
        message.encode("utf-8")  # printable on any UTF-8 stream: no lone surrogates
    assert "caf\\xe9-\\xff" in loaded.domain_A.name
    assert len(loaded.dataset.paths_A) == 5 and all(len(v) == 5 for v in values)
    with pytest.raises(UserError) as info:
        load_training_data(DataConfig(domainA=str(root / "nope"), domainB=str(root / "trainB")))
    str(info.value).encode("utf-8")


def test_a_loader_left_open_does_not_keep_the_interpreter_from_exiting(photo_domains, tmp_path):
    """Its workers ignore SIGTERM (a Ctrl-C or `timeout` must not kill them before the main process
    saves), so multiprocessing's exit handler alone would wait on them forever."""
    import subprocess
    import sys
    import textwrap
    _, domain_A, domain_B = photo_domains
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from conftest import tiny_config
        from cyclegan.data.unaligned import RunLoader
        from cyclegan.training.registry import model_entry
        cfg = tiny_config({str(domain_A)!r}, {str(domain_B)!r}, {str(tmp_path)!r})
        loader = RunLoader(model_entry("cyclegan").dataset(cfg), batch_size=1, seed=0, shuffle=True, num_workers=2)
        next(iter(loader.for_epoch(1)))
        kept = [loader]   # still referenced when the interpreter exits, never closed
        print("one batch")
    """)
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "one batch" in done.stdout, done.stderr
    assert time.monotonic() - start < 30   # imports and one batch; a hang would wait forever
