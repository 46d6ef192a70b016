"""``run_training(config, events)``: the training loop, read top to bottom.

Per step: ask the schedule (``training/schedule.py``: by epochs, or by the clock with --time) for
the learning rate, train, log; per epoch: save. The schedule also says when the run is finished
and, early on, how long it will take. A full training state (the schedule's included) is saved
every --save_latest_freq iterations, at each epoch end, at the end and on Ctrl-C, so a run that
stops for any reason resumes where it stopped (--continue_train). ``_prepare`` does everything
before the first step (the state to resume, the model, its data and schedule, the watchers'
start); ``_loop`` is the algorithm, on one screen.

The loop announces the moments of the run on an ``EventBus`` (``cyclegan/events.py``) and knows
nothing of who listens: ``cyclegan.train`` (``cyclegan/compose/run.py``) subscribes the report, the
dashboards and evaluation. Each line of the loss log is announced with its means (``LossesLogged``),
so the dashboards plot the log's own numbers. The model is whatever the registry builds for ``--model``; the loop
reads its declaration (``training/registry.py``) and never probes it.
"""
from __future__ import annotations

import math
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
from tqdm import tqdm

from cyclegan.progress import progress_bar
from ..config import Config
from ..config_checks import check_config
from ..data import RunLoader, batches_per_epoch
from ..data.unaligned import RANK, item_seed
from ..device import resolve_device
from ..errors import UserError, WriteFailed
from ..events import (CheckpointSaved, EpochEnded, EventBus, LossesLogged, Measured, Position, RunEnded,
                      RunStarted, StepEnded)
from ..loss_log import LossLog
from ..precision import describe_precision
from ..runfolder import RunFolder
from .compile import compile_choice, report_first_call
from .distributed import (DistInfo, all_reduce_losses, barrier, gather_objects, init_distributed, print_main,
                          shutdown_distributed)
from .memory import check_step_fits
from .registry import check_supported, model_entry
from .resume import resumed_config
from .rng import capture_rng_state, restore_rng_state
from .schedule import make_schedule


LR_POLICIES = ("linear", "step", "cosine")   # the reference's, but plateau (see cyclegan/compat/reference_options.py)


def learning_rate(cfg: Config, epoch: int) -> float:
    """The rate of an epoch under --lr_policy, stepped per epoch as the reference steps it.

    linear (default): constant for n_epochs, then linear decay to zero over n_epochs_decay.
    step: times 0.1 every --lr_decay_iters epochs. cosine: the reference's cosine annealing with
    a period of 2 x n_epochs (it reaches 0 after n_epochs, and rises again if training goes on).
    """
    t = cfg.train
    if t.lr_policy == "step":
        return t.lr * 0.1 ** ((epoch - t.epoch_count) // t.lr_decay_iters)
    if t.lr_policy == "cosine":
        return t.lr * 0.5 * (1.0 + math.cos(math.pi * (epoch - t.epoch_count) / max(t.n_epochs, 1)))
    return t.lr * (1.0 - max(0, epoch - t.n_epochs) / float(t.n_epochs_decay + 1))


@dataclass
class Progress:
    """Where the run stands: the next step to run is batch ``batch`` of epoch ``epoch``."""
    epoch: int
    batch: int
    step: int


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    epoch: int
    interrupted: bool
    last_losses: dict
    seconds: float


def run_name(cfg: Config) -> str:
    return cfg.train.name or model_entry(cfg.model.model).run_name(cfg)


def validate(cfg: Config) -> None:
    """Every numeric option in range (config_checks), and the choices only a run knows about."""
    check_config(cfg)
    checks = [
        (cfg.train.lr_policy in LR_POLICIES, f"--lr_policy {cfg.train.lr_policy}: choose one of {', '.join(LR_POLICIES)}"),
        (cfg.data.direction in ("AtoB", "BtoA"), f"--direction {cfg.data.direction}: use AtoB or BtoA"),
    ]
    for ok, message in checks:
        if not ok:
            raise UserError(message)


def run_training(cfg: Config, events: EventBus | None = None) -> TrainResult:
    """Train the model ``cfg`` names, announcing the run's moments on ``events`` (heard on rank 0
    only, but for subscribers that asked for every rank: ``EventBus.for_rank``)."""
    validate(cfg)
    if cfg.train.dry_run:  # like pytorch/examples: prove the whole path works, in seconds
        cfg = replace(cfg, train=replace(cfg.train, max_steps=min(cfg.train.max_steps or 2, 2)))
    t = cfg.train
    dist_info, device = init_distributed(resolve_device(t.device))
    try:
        check_supported(model_entry(cfg.model.model), cfg, dist_info.enabled)
        run = RunFolder.under(t.checkpoints_dir, run_name(cfg))
        if dist_info.is_main:   # before the lock file goes in: a user's folder of that name is left alone
            run.refuse_foreign()
        # One training process per run folder (rank 0 holds it for all ranks).
        with run.training_lock() if dist_info.is_main else nullcontext():
            return _loop(_prepare(cfg, run, events or EventBus(), dist_info, device))
    except WriteFailed as exc:   # a full disk: the last state saved stays whole (atomic writes)
        then = ("resume with --continue_train (the last saved state is kept)" if run.has_state()
                else "run again (nothing was saved yet)")
        raise exc.advising(then) from None
    finally:
        shutdown_distributed()


def _loop(tr: _Training) -> TrainResult:
    """Per step: the scheduled rate, one training step, the loss log; per epoch: save. The whole
    state is saved every --save_latest_freq steps, at each epoch's end and when the run stops."""
    t, progress, schedule, model, events = tr.cfg.train, tr.progress, tr.schedule, tr.model, tr.events
    lr, last, interrupted = schedule.learning_rate(progress), {}, False
    with _stop_on_interrupt(tr.folder) as stop_requested, tr.loader:
        while not schedule.finished(progress) and not interrupted:
            for batch in tr.loader.for_epoch(progress.epoch, progress.batch):
                lr = schedule.learning_rate(progress)
                model.set_learning_rate(lr)
                if hasattr(model, "set_progress"):   # a loss weight that follows the run (--cycle_warmup)
                    model.set_progress(schedule.done / max(schedule.total, 1e-9))
                last = tr.train_batch(batch)
                # One small collective per step: mean losses over ranks, and stop together.
                last, stop = all_reduce_losses(last, stop_requested.is_set(), tr.info)
                _stop_if_not_finite(last, progress.step + 1, tr.folder.path)
                progress.step += 1
                progress.batch += 1
                schedule.step_done(progress)
                tr.log.add(last)
                tr.show_step()
                events.announce(StepEnded(tr.position(), last, lr, model.current_visuals, batch))
                if progress.step % t.print_freq == 0:
                    tr.log_losses(lr)
                    tr.show_losses(last)
                if stop:
                    interrupted = True
                    break
                if schedule.finished(progress):   # --max-steps, or --time's deadline is near
                    break
                if progress.step % t.save_latest_freq == 0:
                    tr.save_state()
                    if t.save_by_iter:   # the reference's iter_<N>_net_*.pth
                        tr.save_networks(f"iter_{progress.step}")
            if progress.batch >= tr.n_batches:  # epoch complete
                finished_epoch = progress.epoch
                progress.epoch, progress.batch = progress.epoch + 1, 0
                tr.log_losses(lr)
                tr.save_state()
                if finished_epoch % t.save_epoch_freq == 0:
                    tr.save_networks(str(finished_epoch))
                events.announce(EpochEnded(tr.position(), finished_epoch, model.current_visuals))
            else:   # stopped inside the epoch
                tr.log_losses(lr)
                tr.save_state()
        stop_requested.set()   # the loop is over: a Ctrl-C from here on stops at once
        tr.close()
        if progress.step == 0 or not _exists_everywhere(tr.folder.state_file, tr.info):
            tr.save_state()
        events.announce(RunEnded(tr.position(), interrupted, model.current_visuals))
    return TrainResult(tr.folder.path, progress.step, progress.epoch, interrupted, last, time.time() - tr.start_time)


def _prepare(cfg: Config, folder: RunFolder, events: EventBus, info: DistInfo, device: torch.device) -> _Training:
    """Everything before the first step: the state to resume, the model and its data, the
    schedule, and the watchers' start (RunStarted)."""
    cfg, saved = _resumed(cfg, folder, info.is_main)
    entry = model_entry(cfg.model.model)
    dataset = entry.dataset(cfg)
    model = entry.build(cfg, device, info.rank)
    _check_memory(entry, cfg, model, device, info)
    if info.enabled:  # each rank draws its own dropout noise, reproducibly
        torch.manual_seed(item_seed(cfg.train.seed, 0, info.rank, RANK))
    progress = Progress(epoch=cfg.train.epoch_count, batch=0, step=0)
    # Only rank 0 writes: logs, checkpoints, reports. Other ranks log into the void.
    log = LossLog(folder.log_file if info.is_main else Path(os.devnull))
    if saved is not None:
        model.load_state_dict(saved["model"])
        progress = Progress(**saved["progress"])
        restore_rng_state(_own_rank_state(saved, info, model))
        log.truncate_after(progress.step)
    start_seconds = 0.0
    if saved is None and hasattr(model, "start_from_data"):
        began = time.monotonic()
        if model.start_from_data(dataset):   # a start fitted to the data (--colour_start fit)
            start_seconds = time.monotonic() - began
    if info.is_main:
        folder.path.mkdir(parents=True, exist_ok=True)
        folder.write_config(cfg)
    if info.enabled:
        model.distribute(device, info.is_main)

    drop_last = entry.drops_last(len(dataset), cfg.data.batch_size, info.world_size)
    n_batches = batches_per_epoch(len(dataset), cfg.data.batch_size, info.world_size, drop_last)
    total_steps = _planned_steps(cfg, n_batches, info)
    # The learning rate of every step, and when the run ends: by epochs, or by the clock (--time).
    schedule = make_schedule(cfg, lambda epoch: learning_rate(cfg, epoch), total_steps,
                             saved.get("schedule") if saved is not None else None)
    if start_seconds:
        schedule.charge(start_seconds)   # --time includes the start from the data
    compiled = entry.supports.compile and _choose_compile(cfg, device, total_steps - progress.step, info,
                                                          model.precision.name)
    if compiled:
        model.compile_networks()
    _describe(entry, cfg, model, folder, info, compiled)
    loader = RunLoader(dataset, batch_size=cfg.data.batch_size, seed=cfg.train.seed,
                       shuffle=not cfg.data.serial_batches, num_workers=cfg.data.num_threads, rank=info.rank,
                       world_size=info.world_size, pin_memory=device.type == "cuda", drop_last=drop_last)
    # Only rank 0 is watched (reports, dashboards and evaluation write files), but for subscribers
    # that asked for every rank (test instrumentation).
    training = _Training(cfg, folder, info, model, schedule, progress, log, loader, n_batches,
                         events.for_rank(info.is_main), _step_function(model, compiled, info))
    training.start(total_steps, device)
    return training


def _resumed(cfg: Config, run: RunFolder, is_main: bool) -> tuple[Config, dict | None]:
    """The saved state to resume (with the config it was trained with), or None for a new run."""
    if is_main:
        run.remove_stale_temp_files()  # left by a kill -9 mid-write; no write is in progress under the lock
    if not run.has_state() and any(tag == "latest" for tag, _, _ in run.weight_files()):
        raise UserError(f"{run.path} holds weights but no training state ({run.state_file.name}); a new run "
                        "would overwrite them: choose another --name, or move the folder away")
    if not run.has_state():
        if cfg.train.continue_train and is_main:
            print(f"cyclegan-train: nothing to resume in {run.path}; starting a new run", file=sys.stderr)
        return cfg, None
    if not cfg.train.continue_train:
        raise UserError(f"run {run.path} already exists; add --continue_train to resume it, "
                        "or choose another --name")
    saved = run.load_state()
    # The architecture is the saved one: a setting given that differs from it is refused.
    return resumed_config(cfg, saved["config"], run, warn=is_main), saved


def _planned_steps(cfg: Config, n_batches: int, info: DistInfo) -> int:
    """The steps the epochs plan (at most --max-steps); with --time the clock ends the run."""
    t = cfg.train
    last_epoch = t.n_epochs + t.n_epochs_decay
    total_steps = (last_epoch - t.epoch_count + 1) * n_batches
    if t.max_steps is not None:
        total_steps = min(total_steps, t.max_steps)
    if t.time_budget is not None and info.enabled:
        raise UserError("--time is not supported with multi-process training yet (each process has its own "
                        "clock); give --n_epochs/--n_epochs_decay or --max-steps instead")
    return total_steps


def _choose_compile(cfg: Config, device: torch.device, steps_left: int, info: DistInfo, precision: str) -> bool:
    """--compile; auto says what it chose (from the planned steps, or the --time budget) where it
    could compile: on a GPU, and on a CPU with bf16 units."""
    chosen, why = compile_choice(cfg.train.compile, device, steps_left, cfg.train.time_budget, precision)
    could = device.type == "cuda" or precision == "bf16"
    if cfg.train.compile == "auto" and could and info.is_main:
        print(f"cyclegan-train: {why}", file=sys.stderr)
    return chosen


def _describe(entry, cfg: Config, model, run: RunFolder, info: DistInfo, compiled: bool) -> None:
    """The reference's --verbose (each network and its size), and the arithmetic the run trains in."""
    if not info.is_main:
        return
    if cfg.train.verbose:
        for name, net in model.nets.items():
            print(f"[network {name}] {sum(p.numel() for p in net.parameters()) / 1e6:.3f} M parameters\n{net}",
                  file=sys.stderr)
    if cfg.train.progress and entry.supports.precision:
        print(f"{run.path.name}: {describe_precision(model.precision)}{', compiled' if compiled else ''}"
              f"{f', {info.world_size} processes' if info.enabled else ''}", file=sys.stderr)


def _step_function(model, compiled: bool, info: DistInfo) -> Callable[[dict], dict[str, float]]:
    """The model's training step; compiled, the first call says when compiling is done."""
    if not compiled:
        return model.train_batch
    say = (lambda line: tqdm.write(f"cyclegan-train: {line}", file=sys.stderr)) if info.is_main else (lambda line: None)
    return report_first_call(model.train_batch, model.nets, say)


@dataclass
class _Training:
    """A prepared run: what the loop reads, and the bookkeeping it calls (saving, the loss log,
    the progress bar), so that the loop itself reads as the algorithm."""
    cfg: Config
    folder: RunFolder
    info: DistInfo
    model: Any                      # what the registry built for --model; the loop reads its declaration
    schedule: Any                   # training/schedule.py: by epochs, or by the clock with --time
    progress: Progress
    log: LossLog
    loader: RunLoader
    n_batches: int
    events: EventBus
    train_batch: Callable[[dict], dict[str, float]]
    start_time: float = field(default_factory=time.time)
    bar: Any = None
    window_start: float = 0.0       # when the losses the log holds now began

    def start(self, total_steps: int, device: torch.device) -> None:
        """The watchers start (RunStarted); then the schedule's clock and the progress bar."""
        self.events.subscribe(self.record_measurement)
        self.events.announce(RunStarted(self.folder.path, self.cfg, self.position(), total_steps, device,
                                        dict(self.model.nets), self.model.samplers()))
        self.schedule.start(self.progress)
        self.bar = progress_bar(total=self.schedule.total, initial=self.schedule.done,
                                unit=self.schedule.unit,  # steps, or seconds with --time
                                disable=not (self.cfg.train.progress and self.info.is_main), dynamic_ncols=True,
                                desc=self.folder.path.name, bar_format=_TIME_BAR if self.schedule.unit == "s" else None)
        self.window_start = time.time()

    def position(self) -> Position:
        return Position(self.progress.step, self.progress.epoch, self.progress.batch, self.n_batches)

    def save_networks(self, tag: str) -> None:
        """Rank 0 writes the networks' files (latest, an epoch, iter_<N>) and says so."""
        if self.info.is_main:
            self.events.announce(CheckpointSaved(self.position(), tag, self.folder.save_networks(self.model.nets, tag)))

    def save_state(self) -> None:
        """Everything a resume needs to continue exactly; every rank takes part."""
        # Pools and random streams differ per rank: gather them so a resume restores every rank.
        model_state = self.model.state_dict()
        per_rank = gather_objects({"pools": self.model.rank_state(), "rng": capture_rng_state()}, self.info)
        if self.info.is_main:
            # The state first: a disk that fills up then leaves either no new file or a resumable
            # state, never latest weights without a state (which a new run refuses to overwrite).
            self.folder.save_state({"model": model_state, "progress": vars(self.progress).copy(),
                                    "rng": per_rank[0]["rng"], "ranks": per_rank, "world_size": self.info.world_size,
                                    "config": self.cfg.to_dict(), "schedule": self.schedule.state_dict()})
            self.save_networks("latest")
        barrier(self.info)

    def log_losses(self, lr: float) -> None:
        """A line of the loss log: the mean losses since the last line."""
        self._log_line(self.position(), lr)

    def record_measurement(self, event) -> None:
        """A watcher's measurement (KID) joins the loss log at its step."""
        if isinstance(event, Measured):
            self._log_line(event.position, event.learning_rate, event.values)

    def _log_line(self, position: Position, lr: float, measured: Mapping[str, float] | None = None) -> None:
        now = time.time()
        window = self.log.flush(always=measured is not None, step=position.step, epoch=position.epoch_fraction,
                                lr=lr, time=round(now - self.start_time, 2),
                                **{k: round(v, 6) for k, v in (measured or {}).items()})
        if window is not None:   # the line took losses along (a measurement's may): the watchers plot them
            self.events.announce(LossesLogged(position, window.means, lr,
                                              throughput=window.steps / max(now - self.window_start, 1e-6)))
            self.window_start = now

    def show_step(self) -> None:
        """The bar moves; early on, the run says how long it will take."""
        self.bar.update(self.schedule.done - self.bar.n)
        estimate = self.schedule.estimate(self.progress)
        if estimate and self.info.is_main:
            tqdm.write(f"cyclegan-train: {estimate}", file=sys.stderr)

    def show_losses(self, losses: Mapping[str, float]) -> None:
        shown = {"step": self.progress.step} if self.schedule.unit == "s" else {}   # a --time bar counts seconds
        self.bar.set_postfix({**shown, **{k: f"{v:.3f}" for k, v in losses.items()}}, refresh=False)

    def close(self) -> None:
        self.bar.close()
        self.loader.close()   # the workers end here, not at interpreter exit


def _own_rank_state(saved: dict, info: DistInfo, model) -> dict:
    """The RNG state (and, under DDP, the pools) this rank saved; rank 0's when the world size changed."""
    ranks = saved.get("ranks")
    if not info.enabled or not ranks:
        return saved["rng"]
    if len(ranks) != info.world_size:
        print_main(info, f"cyclegan-train: resuming a {len(ranks)}-process run with {info.world_size} processes: "
                   "the data order is the same, the history pools and random streams restart from rank 0's")
        return ranks[0]["rng"]
    own = ranks[info.rank]
    model.load_rank_state(own.get("pools"))
    return own["rng"]


def _check_memory(entry, cfg: Config, model, device: torch.device, info: DistInfo) -> None:
    """One line instead of an out-of-memory kill when a step at this size cannot fit."""
    d = cfg.data
    size = d.crop_size if "crop" in d.preprocess else d.load_size if d.preprocess == "scale_width" else None
    if not entry.activation_passes or size is None:
        return
    # CPU processes share the machine's memory; each GPU has its own.
    batch = d.batch_size * (info.world_size if device.type == "cpu" else 1)
    check_step_fits(model.nets, entry.activation_passes, cfg.model.input_nc, size, batch, device)


def _stop_if_not_finite(losses: dict[str, float], step: int, run_dir: Path) -> None:
    """A NaN or infinite loss poisons the weights for good: stop before anything is saved over the
    last good checkpoint (every rank sees the same averaged losses, so all stop together)."""
    for name, value in losses.items():
        if not math.isfinite(value):
            raise UserError(f"step {step}: loss {name} is {value}; training stopped and the last good "
                            f"checkpoint in {run_dir} is kept (lower --lr, or check --lambda_* and the images), "
                            "then resume with --continue_train")


def _exists_everywhere(path: Path, info: DistInfo) -> bool:
    exists = path.exists() if info.is_main else True
    return bool(gather_objects(exists, info)[0])


_TIME_BAR = "{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s of the time budget{postfix}"


class TrainingAborted(KeyboardInterrupt):
    """A second Ctrl-C (or SIGTERM, SIGHUP) stopped training at once; the run keeps its last saved state."""


# SIGTERM: torchrun, schedulers and `kill` ask a run to stop with it. SIGHUP: the terminal or the
# ssh session closed. Both save first, as Ctrl-C does.
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextmanager
def _stop_on_interrupt(run: RunFolder):
    """First signal: finish the current step, save, exit. A second one stops at once: a save in
    progress is dropped (atomic writes), so the run folder keeps its last complete state."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    aborting = threading.Event()
    terminal = [fd for fd in (1, 2) if os.isatty(fd)]

    def handler(signum, frame):
        if signum == signal.SIGHUP:
            _leave_the_terminal(terminal)
        if aborting.is_set():   # already stopping at once
            return
        if stop.is_set():
            aborting.set()
            raise KeyboardInterrupt
        stop.set()
        _say("\ncyclegan-train: stopping after this step and saving "
             "(Ctrl-C again to stop at once, keeping the last saved state)")

    previous = {sig: signal.signal(sig, handler) for sig in _STOP_SIGNALS}
    try:
        yield stop
    except BaseException:
        # Whatever the interrupt broke on its way out (torch's writer, say, turns it into a
        # RuntimeError) is the same stop: one line, and the saved state is the last whole one.
        if aborting.is_set():
            kept = (f"{run.path} keeps its last saved state (resume with --continue_train)" if run.has_state()
                    else "nothing was saved yet")
            raise TrainingAborted(f"stopped at once; {kept}") from None
        raise
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _leave_the_terminal(fds: list[int]) -> None:
    """A hung-up terminal fails every write (EIO), the progress bar's included: send them to
    /dev/null, so that the run can still save and exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd in fds:
        os.dup2(devnull, fd)
    os.close(devnull)
    fds.clear()


def _say(line: str) -> None:
    """Print from a signal handler: an error here would surface in the middle of a training step."""
    try:
        print(line, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass
