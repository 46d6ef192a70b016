"""TensorBoard and Weights & Biases watchers, read back with the real libraries' own readers."""
from __future__ import annotations

import json
import struct
import sys
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

from cyclegan.config import Config
from cyclegan.events import (CheckpointSaved, EpochEnded, LossesLogged, Measured, Position, RunEnded,
                             RunStarted, StepEnded)
from cyclegan.report.tensorboard_watch import TensorBoardWatcher
from cyclegan.report.wandb_watch import WandbWatcher, wandb_run_id

BATCHES = 4            # per epoch
NAMES = ("real_A", "fake_B", "rec_A", "real_B", "fake_A", "rec_B")


@pytest.fixture(scope="module", autouse=True)
def wandb_service_stopped():
    """wandb keeps one service process per Python process for every run it logs; the runs here are
    finished, and the service is stopped with the module so the suite leaves nothing behind."""
    yield
    wandb = sys.modules.get("wandb")
    if wandb is not None:
        wandb.teardown()


def config() -> Config:
    cfg = Config()
    cfg.train.name = "horse2zebra"
    cfg.train.print_freq = 2
    cfg.train.display_freq = 3
    return cfg


def at(step: int) -> Position:
    return Position(step=step, epoch=step // BATCHES + 1, batch=step % BATCHES, batches_per_epoch=BATCHES)


def images() -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return {name: torch.rand(2, 3, 8, 8, generator=gen) * 2 - 1 for name in NAMES}


def start(cfg: Config, run_dir: Path, step: int = 0, **samplers) -> RunStarted:
    return RunStarted(run_dir=run_dir, config=cfg, position=at(step), total_steps=8,
                      device=torch.device("cpu"), networks={"G_A": nn.Conv2d(3, 3, 1)}, samplers=samplers)


def step(s: int, offset: float = 0.0) -> StepEnded:
    return StepEnded(position=at(s), losses={"G_A": offset + s, "D_A": offset + 2.0 * s},
                     learning_rate=2e-4 - 1e-5 * s, images=images)


def run_events(watcher, cfg, run_dir, first: int = 1, last: int = 7, offset: float = 0.0, **samplers):
    """Steps ``first..last`` with an epoch end, a checkpoint and a KID after step 4 when it is run;
    the loss log's lines as the loop announces them: every --print_freq steps and at the run's end."""
    watcher(start(cfg, run_dir, first - 1, **samplers))
    window = []
    for s in range(first, last + 1):
        ended = step(s, offset)
        watcher(ended)
        window.append(ended)
        if s % cfg.train.print_freq == 0 or s == last:
            watcher(logged(window))
            window = []
        if s == BATCHES:
            watcher(EpochEnded(position=at(s), epoch=1, images=images))
            watcher(CheckpointSaved(position=at(s), tag="latest", paths=(run_dir / "latest_net_G_A.pth",)))
            watcher(Measured(position=at(s), values={"KID": 0.25, "KID_AtoB": 0.2, "KID_BtoA": 0.3},
                             learning_rate=2e-4))
    watcher(RunEnded(position=at(last), interrupted=False, images=images))


def logged(steps: list[StepEnded]) -> LossesLogged:
    """The loop's line of the loss log after ``steps``: each loss's mean, the last step's rate."""
    means = {name: sum(s.losses[name] for s in steps) / len(steps) for name in steps[0].losses}
    return LossesLogged(position=steps[-1].position, means=means, learning_rate=steps[-1].learning_rate,
                        throughput=10.0 * len(steps))


def tensorboard_log(log_dir: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return acc


def scalar_points(acc, tag: str) -> list[tuple[int, float]]:
    return [(e.step, pytest.approx(e.value)) for e in acc.Scalars(tag)]


def test_tensorboard_shows_averaged_losses_kid_lr_and_images(tmp_path):
    cfg, run_dir = config(), tmp_path / "horse2zebra"
    watcher = TensorBoardWatcher(cfg, run_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("error")       # nothing to warn about on the happy path
        run_events(watcher, cfg, run_dir)

    acc = tensorboard_log(run_dir / "tensorboard")
    tags = acc.Tags()
    # mean over --print_freq 2 steps at steps 2, 4, 6; the run's end flushes step 7 alone
    assert scalar_points(acc, "loss/G_A") == [(2, 1.5), (4, 3.5), (6, 5.5), (7, 7.0)]
    assert scalar_points(acc, "loss/D_A") == [(2, 3.0), (4, 7.0), (6, 11.0), (7, 14.0)]
    assert scalar_points(acc, "learning_rate") == [(2, 1.8e-4), (4, 1.6e-4), (6, 1.4e-4), (7, 1.3e-4)]
    assert scalar_points(acc, "epoch") == [(2, 0.5), (4, 1.0), (6, 1.5), (7, 1.75)]
    assert scalar_points(acc, "throughput") == [(2, 20.0), (4, 20.0), (6, 20.0), (7, 10.0)]   # the loop's numbers
    assert scalar_points(acc, "KID") == [(4, 0.25)]
    assert {"KID_AtoB", "KID_BtoA", "throughput"} <= set(tags["scalars"])
    # every --display_freq 3 steps (3, 6), at the epoch's end (4) and at the run's end (7)
    shots = acc.Images("visuals")
    assert [shot.step for shot in shots] == [3, 4, 6, 7]
    # two rows (A side, B side) of three 8x8 images with 2-pixel padding
    assert (shots[0].width, shots[0].height) == (3 * 10 + 2, 2 * 10 + 2)


def test_tensorboard_shows_dcgan_fixed_noise_samples(tmp_path):
    cfg, run_dir = config(), tmp_path / "digits"
    noise = lambda: torch.rand(16, 1, 8, 8) * 2 - 1  # noqa: E731
    run_events(TensorBoardWatcher(cfg, run_dir), cfg, run_dir, last=3, fixed_noise=noise)
    shots = tensorboard_log(run_dir / "tensorboard").Images("samples/fixed_noise")
    assert [shot.step for shot in shots] == [3]
    assert (shots[0].width, shots[0].height) == (8 * 10 + 2, 2 * 10 + 2)   # 16 samples, 8 a row


def test_resumed_tensorboard_run_does_not_repeat_steps(tmp_path, monkeypatch):
    from tensorboard.summary.writer import event_file_writer
    # Event files are read in name order: <seconds>.<host>.<pid>.<writer number>. Two writers in
    # one process and one second sort by that number, which must not pass 9 -> 10 mid-test.
    monkeypatch.setattr(event_file_writer, "_global_uid", type(event_file_writer._global_uid)(0))
    cfg, run_dir = config(), tmp_path / "horse2zebra"
    run_events(TensorBoardWatcher(cfg, run_dir), cfg, run_dir, last=7)   # saved at 4, stopped at 7
    run_events(TensorBoardWatcher(cfg, run_dir), cfg, run_dir, first=5, last=8, offset=100.0)

    acc = tensorboard_log(run_dir / "tensorboard")
    assert scalar_points(acc, "loss/G_A") == [(2, 1.5), (4, 3.5), (6, 105.5), (8, 107.5)]
    assert scalar_points(acc, "KID") == [(4, 0.25)]
    assert [shot.step for shot in acc.Images("visuals")] == [3, 4, 6, 8]


def test_a_failing_writer_warns_once_and_training_goes_on(tmp_path):
    cfg, run_dir = config(), tmp_path / "horse2zebra"
    watcher = TensorBoardWatcher(cfg, run_dir)
    watcher(start(cfg, run_dir))

    def disk_full(*args, **kwargs):
        raise OSError("No space left on device")
    watcher.writer.add_scalar = watcher.writer.add_image = disk_full
    with pytest.warns(RuntimeWarning) as caught:
        for s in range(1, 8):
            watcher(step(s))
        watcher(RunEnded(position=at(7), interrupted=True, images=images))
    assert len(caught) == 1
    assert "No space left on device" in str(caught[0].message)
    assert "training continues" in str(caught[0].message)


@pytest.mark.parametrize("watcher_class, module, extra", [
    (TensorBoardWatcher, "torch.utils.tensorboard", "tensorboard"),
    (WandbWatcher, "wandb", "wandb"),
])
def test_missing_package_warns_one_line_and_training_goes_on(tmp_path, monkeypatch, watcher_class, module, extra):
    monkeypatch.setitem(sys.modules, module, None)     # `import` of it now raises ImportError
    cfg, run_dir = config(), tmp_path / "horse2zebra"
    with pytest.warns(RuntimeWarning) as caught:
        run_events(watcher_class(cfg, run_dir), cfg, run_dir)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert f'pip install -e ".[{extra}]"' in message and "\n" not in message
    assert not (run_dir / "tensorboard").exists() and not (run_dir / "wandb").exists()


# --- Weights & Biases, offline --------------------------------------------------------------------
@pytest.fixture
def wandb_offline(tmp_path, monkeypatch):
    """Offline mode before wandb.init: nothing leaves this machine (wandb talks over a unix socket)."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb_dir"))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb_config"))
    monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / "wandb_cache"))
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    pytest.importorskip("wandb")


def wandb_records(run_file: Path) -> list:
    """The protobuf records of an offline ``run-<id>.wandb`` file: a 7-byte header (``:W&B``,
    magic, version), then LevelDB-style 32 KiB blocks of chunks (crc32c, length, type)."""
    from wandb.proto import wandb_internal_pb2
    data, block = run_file.read_bytes(), 32 * 1024
    assert data[:4] == b":W&B"
    records, pos, pending = [], 7, b""
    while pos + 7 <= len(data):
        if block - pos % block < 7:          # a block's tail too short for a chunk header is padding
            pos += block - pos % block
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        pending += data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):                   # FULL, or LAST of FIRST/MIDDLE.../LAST
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
            pending = b""
    return records


def wandb_history(run_file: Path) -> dict[int, dict]:
    rows: dict[int, dict] = {}
    for record in wandb_records(run_file):
        if record.WhichOneof("record_type") == "history":
            row = rows.setdefault(record.history.step.num, {})
            row.update({item.key or "/".join(item.nested_key): json.loads(item.value_json)
                        for item in record.history.item})
    return rows


def test_wandb_offline_run_holds_losses_kid_lr_images_and_config(tmp_path, wandb_offline):
    cfg, run_dir = config(), tmp_path / "horse2zebra"
    watcher = WandbWatcher(cfg, run_dir)
    run_events(watcher, cfg, run_dir)

    run_files = list((run_dir / "wandb").glob("offline-run-*/run-*.wandb"))
    assert [f.name for f in run_files] == [f"run-{wandb_run_id(run_dir)}.wandb"]
    rows = wandb_history(run_files[0])
    losses = {s: row["loss/G_A"] for s, row in rows.items() if "loss/G_A" in row}
    assert losses == {2: 1.5, 4: 3.5, 6: 5.5, 7: 7.0}
    assert {s: row["loss/D_A"] for s, row in rows.items() if "loss/D_A" in row} == {2: 3.0, 4: 7.0, 6: 11.0, 7: 14.0}
    assert rows[4]["KID"] == pytest.approx(0.25) and rows[4]["KID_BtoA"] == pytest.approx(0.3)
    assert rows[6]["learning_rate"] == pytest.approx(1.4e-4)
    assert sorted(s for s, row in rows.items() if "visuals/path" in row) == [3, 4, 6, 7]
    image = run_files[0].parent / "files" / rows[3]["visuals/path"]
    assert image.is_file() and rows[3]["visuals/caption"] == "real_A fake_B rec_A | real_B fake_A rec_B"

    run = next(r.run for r in wandb_records(run_files[0]) if r.WhichOneof("record_type") == "run")
    assert run.display_name == "horse2zebra" and run.project == cfg.train.wandb_project_name
    settings = {item.key: json.loads(item.value_json) for item in run.config.update}
    assert settings["train"]["print_freq"] == 2


def test_wandb_continue_train_keeps_the_same_run_id(tmp_path, wandb_offline):
    cfg, run_dir = config(), tmp_path / "horse2zebra"
    run_events(WandbWatcher(cfg, run_dir), cfg, run_dir, last=4)
    run_events(WandbWatcher(cfg, run_dir), cfg, run_dir, first=5, last=6)
    ids = {f.name for f in (run_dir / "wandb").glob("offline-run-*/run-*.wandb")}
    assert ids == {f"run-{wandb_run_id(run_dir)}.wandb"}
    assert wandb_run_id(run_dir) == wandb_run_id(Path(str(run_dir) + "/"))
    assert wandb_run_id(run_dir) != wandb_run_id(tmp_path / "other")
