"""The run folder, ``checkpoints/<name>/``: the one module that knows its file names.

    config.json                      the run's settings (Config.to_dict)
    latest_state.pth                 everything needed to resume exactly (written atomically)
    loss_log.jsonl                   one line of mean losses every --print_freq steps
    <tag>_net_<network>.pth          weights: tag latest | best | an epoch number;
                                     networks G_A G_B D_A D_B (CycleGAN) or G D (DCGAN)
    best_eval.json                   which step the ``best`` weights come from (--eval_freq)
    web/index.html, web/images/      the HTML report and its per-epoch image rows
    web/progression/                 one frame per epoch (CycleGAN), animated at the end
    samples/                         DCGAN's fixed-noise grid per epoch and training.gif
    test_results/                    translated test photos (the demo; --time runs)
    web/test_results.png             those side by side: input, translated (, truth)

Training, translation, sampling, evaluation, export and the report all go through
``RunFolder``; none of them spells a file name of its own. Network files keep the reference's
names (``latest_net_G_A.pth``) and hold bare state_dicts, so the reference's code reads them.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import types
import typing
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch
from torch import nn

from .checkpoint import atomic_torch_save, bare_state_dict, load_network, load_torch_file
from .config import Config
from .errors import UserError, WriteFailed, writing
from .models import ModelCard, find_card, generator_nets

CONFIG_FILE = "config.json"
STATE_FILE = "latest_state.pth"
LOG_FILE = "loss_log.jsonl"
BEST_FILE = "best_eval.json"
SAMPLES_DIR = "samples"
WEB_DIR = "web"
TEST_RESULTS_DIR = "test_results"
LOCK_FILE = ".lock"

_WEIGHTS_FILE = re.compile(r"^(?P<tag>.+)_net_(?P<net>[A-Za-z0-9_]+?)\.pth$")


def weights_name(tag: str, network: str) -> str:
    return f"{tag}_net_{network}.pth"


def parse_weights_name(name: str) -> tuple[str, str] | None:
    """``("latest", "G_A")`` for ``latest_net_G_A.pth``; None for any other file name."""
    match = _WEIGHTS_FILE.match(name)
    return (match["tag"], match["net"]) if match else None


def check_tag(tag: str | int) -> str:
    """A weights tag as the user may give it: latest, best (kept by --eval_freq), an epoch number,
    or iter_<N> (kept by --save_by_iter)."""
    tag = str(tag)
    if tag not in ("latest", "best") and not tag.isdigit() and not re.fullmatch(r"iter_\d+", tag):
        raise UserError(f"--epoch {tag!r}: use latest, best (kept by --eval_freq), an epoch number or iter_N")
    return tag


@dataclass(frozen=True)
class SavedProgress:
    step: int | None
    epoch: int | None            # the next epoch to run
    batch: int | None            # batches of that epoch already run
    saved: float | None          # when latest_state.pth was written (mtime)


@dataclass(frozen=True)
class RunFolder:
    path: Path

    def __post_init__(self):
        object.__setattr__(self, "path", Path(self.path).expanduser())

    @classmethod
    def under(cls, checkpoints_dir: str | Path, name: str) -> "RunFolder":
        return cls(Path(checkpoints_dir).expanduser() / name)

    @classmethod
    def locate(cls, run: str | Path, checkpoints_dir: str | Path = "checkpoints") -> "RunFolder":
        """The run a user names: a run folder, or a run NAME under ``checkpoints_dir``."""
        candidates = [cls(run), cls.under(checkpoints_dir, str(run))]
        for candidate in candidates:
            if candidate.has_config():
                return candidate
        raise UserError(f"{run} is not a training run (no {CONFIG_FILE} in {candidates[0].path} or "
                        f"{candidates[1].path}); pass a run folder such as checkpoints/NAME")

    @property
    def name(self) -> str:
        return self.path.resolve().name

    # --- files --------------------------------------------------------------------------
    @property
    def config_file(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def state_file(self) -> Path:
        return self.path / STATE_FILE

    @property
    def log_file(self) -> Path:
        return self.path / LOG_FILE

    @property
    def best_file(self) -> Path:
        return self.path / BEST_FILE

    @property
    def web_dir(self) -> Path:
        return self.path / WEB_DIR

    @property
    def report_page(self) -> Path:
        return self.web_dir / "index.html"

    @property
    def web_images_dir(self) -> Path:
        return self.web_dir / "images"

    @property
    def progression_dir(self) -> Path:
        return self.web_dir / "progression"

    def progression_frame(self, epoch: int) -> Path:
        """One frame of the progression: the fixed test images translated after ``epoch``."""
        return self.progression_dir / f"epoch_{epoch:03d}.png"

    def progression_animation(self, kind: str) -> Path:
        """``web/progression.gif`` or ``.mp4``."""
        return self.web_dir / f"progression.{kind}"

    def web_image(self, epoch: int, name: str) -> Path:
        """One named image of an epoch's row in the report (the reference's file names)."""
        return self.web_images_dir / f"epoch{epoch:03d}_{name}.png"

    @property
    def samples_dir(self) -> Path:
        return self.path / SAMPLES_DIR

    @property
    def test_results_dir(self) -> Path:
        return self.path / TEST_RESULTS_DIR

    @property
    def test_strip(self) -> Path:
        """Test photos side by side (input, translated[, truth]), shown on the report page."""
        return self.web_dir / "test_results.png"

    def weights(self, network: str, tag: str = "latest") -> Path:
        return self.path / weights_name(tag, network)

    # --- what is there ------------------------------------------------------------------
    def has_config(self) -> bool:
        return self.config_file.is_file()

    def has_state(self) -> bool:
        return self.state_file.is_file()

    def card(self) -> ModelCard | None:
        """The card of the model this run trained (None: no config.json, or a model this version does not know)."""
        return find_card(self.read_config().model.model) if self.has_config() else None

    def is_run(self, generator: str | None = None, card: ModelCard | None = None) -> bool:
        """A folder training wrote: a config and weights of ``generator`` (default: the network that
        makes the images in its model's card, ``card`` when the caller has read it: the A -> B
        translator, or the DCGAN's generator)."""
        if generator is None:
            card = card or self.card()
            generator = card.generator if card is not None else None
        return self.has_config() and generator is not None and any(self.path.glob(f"*_net_{generator}.pth"))

    def written_by_training(self) -> bool:
        """Whether training wrote this folder: a training state, weights, or a config.json of ours
        (a run stopped before its first save holds only that, its loss log and report)."""
        return self.has_state() or bool(self.weight_files()) or _is_our_config(self.config_file)

    def refuse_foreign(self) -> None:
        """Refuse to train into a folder of the user's own that has the run's name: training writes
        config.json and web/index.html there, over whatever files of those names it holds. An
        empty folder is fine, and so is one holding only the lock file a killed run left."""
        if self.path.exists() and not self.path.is_dir():
            raise UserError(f"{self.path} exists and is not a folder; choose another --name")
        try:
            held = sorted(p.name for p in self.path.iterdir()) if self.path.is_dir() else []
        except OSError as exc:
            raise UserError(f"cannot read {self.path} ({exc.strerror or exc}); fix its permissions "
                            "or choose another --name") from None
        held = [name for name in held if name != LOCK_FILE]
        if held and not self.written_by_training():
            more = f" and {len(held) - 1} more" if len(held) > 1 else ""
            raise UserError(f"{self.path} exists and is not a cyclegan run (it holds {held[0]}{more}); "
                            "choose another --name, or --checkpoints_dir, so that nothing in it is overwritten")

    def weight_files(self) -> list[tuple[str, str, Path]]:
        """(tag, network, path) of every weights file, sorted by name."""
        found = []
        for path in sorted(self.path.glob("*_net_*.pth")) if self.path.is_dir() else []:
            parsed = parse_weights_name(path.name)
            if parsed:
                found.append((*parsed, path))
        return found

    def latest_files(self) -> list[str]:
        return [path.name for tag, _, path in self.weight_files() if tag == "latest"]

    def kept_epochs(self, network: str | None = None) -> list[int]:
        """Epoch numbers with kept weights (of ``network``, or of any network)."""
        return sorted({int(tag) for tag, net, _ in self.weight_files()
                       if tag.isdigit() and (network is None or net == network)})

    def available_tags(self, network: str) -> str:
        """A phrase listing the tags a network has, for error messages."""
        tags = [tag for tag, net, _ in self.weight_files() if net == network and not tag.isdigit()]
        epochs = self.kept_epochs(network)
        listed = ", ".join(sorted(tags) + [str(e) for e in epochs])
        return f"available: {listed}" if listed else "it holds no weights for that network"

    def last_written(self) -> float:
        files = [self.config_file, *(path for _, net, path in self.weight_files() if net in generator_nets())]
        return max(p.stat().st_mtime for p in files if p.exists())

    # --- reading and writing ------------------------------------------------------------
    def read_config(self) -> Config:
        if not self.has_config():
            raise UserError(f"{self.path} is not a training run (no {CONFIG_FILE})")
        return read_config_file(self.config_file)

    def write_config(self, cfg: Config) -> None:
        with _writing(self.config_file):
            cfg.save_json(self.config_file)

    def save_networks(self, networks: dict[str, nn.Module], tag: str) -> tuple[Path, ...]:
        """Write ``<tag>_net_<name>.pth`` for each network (bare state_dicts, written atomically)."""
        paths = []
        for name, net in networks.items():
            path = self.weights(name, tag)
            with _writing(path):
                atomic_torch_save(bare_state_dict(net), path)
            paths.append(path)
        return tuple(paths)

    def load_network(self, net: nn.Module, network: str, tag: str = "latest") -> nn.Module:
        return load_network(net, self.weights(network, tag))

    def save_state(self, state: dict) -> Path:
        with _writing(self.state_file):
            atomic_torch_save(state, self.state_file)
        return self.state_file

    def load_state(self) -> dict:
        return load_torch_file(self.state_file)

    def saved_progress(self) -> SavedProgress:
        """Where the saved training state stands, read without loading its tensors."""
        if not self.has_state():
            return SavedProgress(None, None, None, None)
        saved_at = self.state_file.stat().st_mtime
        try:  # mmap: only the small pickle is read, not the (possibly large) tensors
            progress = torch.load(self.state_file, map_location="cpu", weights_only=True, mmap=True).get("progress", {})
        except Exception:
            return SavedProgress(None, None, None, saved_at)
        return SavedProgress(progress.get("step"), progress.get("epoch"), progress.get("batch"), saved_at)

    @contextmanager
    def training_lock(self) -> Iterator[None]:
        """Hold the run for one training process: a second ``cyclegan-train`` of the same run
        (two ``--continue_train`` at once) is refused instead of both writing the same files.
        A folder made only to hold the lock is removed again if nothing else was written in it."""
        created = [p for p in (self.path, *self.path.parents) if not p.exists()]   # to remove again
        with _writing(self.path / LOCK_FILE):
            self.path.mkdir(parents=True, exist_ok=True)
            handle = open(self.path / LOCK_FILE, "a+")
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                raise UserError(f"run {self.path} is being trained by {holder} right now; wait for it, "
                                "or choose another --name") from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"process {os.getpid()}\n")
            handle.flush()
            try:
                yield
            finally:
                if created and [p.name for p in self.path.iterdir()] == [LOCK_FILE]:
                    (self.path / LOCK_FILE).unlink()
                    for folder in created:   # the run folder, then checkpoints/ if this made it
                        folder.rmdir()
                fcntl.flock(handle, fcntl.LOCK_UN)

    def remove_stale_temp_files(self) -> int:
        """Temp files of atomic writes that a ``kill -9`` interrupted (``.<name>.<random>.tmp``).
        Call it only while holding ``training_lock``: then no write is in progress."""
        removed = 0
        for path in self.path.glob(".*.tmp") if self.path.is_dir() else []:
            try:
                path.unlink()
                removed += 1
            except OSError:
                pass
        return removed

    def read_best(self) -> dict | None:
        try:
            record = json.loads(self.best_file.read_text())
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None


_AFTER_A_FAILED_WRITE = "run again (resume with --continue_train); the previous file there is intact"


@contextmanager
def _writing(path: Path) -> Iterator[None]:
    """A full disk or a read-only folder becomes one line; atomic writes leave the previous file whole."""
    try:
        with writing(path, _AFTER_A_FAILED_WRITE):
            path.parent.mkdir(parents=True, exist_ok=True)
            yield
    except WriteFailed:
        raise
    except OSError as exc:   # any other reason the file cannot be written
        raise UserError(f"cannot write {path} ({exc.strerror or exc}); {_AFTER_A_FAILED_WRITE}") from None


def read_config_file(path: Path) -> Config:
    """A run's config.json, with a one-line error when it is empty, not JSON or not an object."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise UserError(f"{path} cannot be read ({exc.strerror or exc})") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is not valid JSON ({exc}); restore it or start the run again") from None
    if not isinstance(data, dict):
        raise UserError(f"{path} should hold a JSON object of settings, not {_json_type(data)}")
    _check_setting_types(data, path)
    try:
        return Config.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise UserError(f"{path} has settings this version cannot use ({exc})") from None


def _is_our_config(path: Path) -> bool:
    """A config.json that Config.to_dict wrote: a JSON object of model, data and train settings."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return isinstance(data, dict) and all(isinstance(data.get(section), dict) for section in ("model", "data", "train"))


def _json_type(value) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "true/false", int: "a number",
             float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _fits(value, hint) -> bool:
    """Whether a JSON value fits a settings field's type (int, float, str, bool, X | None, lists)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_fits(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if hint in (list, tuple) or typing.get_origin(hint) in (list, tuple):
        return isinstance(value, list)
    if hint is dict or typing.get_origin(hint) is dict:
        return isinstance(value, dict)
    return True


def _type_words(hint) -> str:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_type_words(arg) for arg in typing.get_args(hint))
    return {int: "a whole number", float: "a number", str: "a string", bool: "true or false",
            type(None): "null"}.get(hint, getattr(hint, "__name__", str(hint)))


def _check_setting_types(data: dict, path: Path) -> None:
    """Each section an object, each known setting of its field's type: one line naming the first that is not."""
    for section, kind in typing.get_type_hints(Config).items():
        values = data.get(section)
        if values is None:
            continue
        if not isinstance(values, dict):
            raise UserError(f"{path}: \"{section}\" should be a JSON object of settings, not {_json_type(values)}; "
                            "restore the file or start the run again")
        hints = typing.get_type_hints(kind)
        for key, value in values.items():
            if key in hints and not _fits(value, hints[key]):
                raise UserError(f"{path}: {section}.{key} is {json.dumps(value)[:60]}, which should be "
                                f"{_type_words(hints[key])}; fix it or start the run again")


def find_latest_run(checkpoints_dir: Path | str = "checkpoints", translators: bool = True) -> RunFolder:
    """The run folder under ``checkpoints_dir`` whose generator or config was written last
    (``translators``: only runs of models that translate)."""
    root = Path(checkpoints_dir)
    runs = [RunFolder(p) for p in root.iterdir() if p.is_dir()] if root.is_dir() else []
    cards = {run: run.card() for run in runs}   # each run's config.json read once
    runs = [run for run, card in cards.items()
            if card is not None and run.is_run(card=card) and (not translators or card.translates)]
    if not runs:
        raise UserError(f"no training run found under {root}/ (a run folder has config.json and "
                        "latest_net_G_A.pth); pass --checkpoint RUN_FOLDER or a generator .pth file")
    return max(runs, key=RunFolder.last_written)
