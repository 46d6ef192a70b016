"""``train(config)``: the training loop with its audience attached.

The loop (``cyclegan.training.run_training``) only announces events; this function subscribes the
watchers a run gets from its model's declaration and its config: DCGAN sample grids, KID
evaluation (--eval_freq), the HTML report (always), the visdom dashboard (--display auto|visdom),
TensorBoard (--display tensorboard) and Weights & Biases (--use_wandb).

    from cyclegan import Config, train
    cfg = Config()
    cfg.data.domainA, cfg.data.domainB = "forest", "abstract"
    result = train(cfg)
"""
from __future__ import annotations

from typing import Callable

from ..config import Config
from ..errors import UserError
from ..eval.collapse_watch import CollapseWatcher
from ..eval.kid_watch import KIDWatcher
from ..eval.rank_trace import rank_trace_from_env
from ..report.test_split import TestSplitWatcher
from ..events import EventBus
from ..report import DISPLAY_CHOICES
from ..report.report_watch import ReportWatcher
from ..report.samples_watch import DCGANSamplesWatcher
from ..report.tensorboard_watch import TensorBoardWatcher
from ..report.visdom_watch import VisdomWatcher
from ..report.wandb_watch import WandbWatcher
from ..runfolder import RunFolder
from ..training import TrainResult, model_entry, run_name, run_training

# Watchers a model can declare by name (ModelEntry.watchers).
DECLARED_WATCHERS: dict[str, Callable[[], object]] = {
    "dcgan_samples": DCGANSamplesWatcher,
}


def check_watch_options(cfg: Config) -> None:
    t = cfg.train
    if t.display not in DISPLAY_CHOICES:
        raise UserError(f"--display {t.display}: choose one of {', '.join(DISPLAY_CHOICES)}")
    for option in ("display_freq", "update_html_freq", "display_port"):
        if getattr(t, option) < 1:
            raise UserError(f"--{option} must be at least 1")


def collapse_guard(cfg: Config, publish: Callable) -> CollapseWatcher | None:
    """Is the generator translating, or handing its input back? (models that translate A -> B)"""
    entry = model_entry(cfg.model.model)
    if "AtoB" not in entry.directions:
        return None
    return CollapseWatcher(publish, entry.directions, entry.judges, every=cfg.train.print_freq)


def default_watchers(cfg: Config, publish: Callable) -> list:
    """The watchers of a run, in the order they hear each event. ``publish`` is the run's bus,
    for watchers that announce what they measure (KID)."""
    check_watch_options(cfg)
    entry = model_entry(cfg.model.model)
    t = cfg.train
    watchers = [DECLARED_WATCHERS[name]() for name in entry.watchers]
    guard = collapse_guard(cfg, publish)
    if guard is not None:
        watchers.append(guard)
    if t.eval_freq > 0:
        watchers.append(KIDWatcher(t.eval_freq, publish, entry.directions))
    if not t.no_html:
        watchers.append(ReportWatcher(cfg, translator=entry.directions.get("AtoB")))
    if t.display in ("auto", "visdom"):
        watchers.append(VisdomWatcher(cfg))
    run_dir = RunFolder.under(t.checkpoints_dir, run_name(cfg)).path
    if t.display == "tensorboard":
        watchers.append(TensorBoardWatcher(cfg, run_dir))
    if t.use_wandb:
        watchers.append(WandbWatcher(cfg, run_dir))
    if t.time_budget is not None and "AtoB" in entry.directions:   # a --time run ends with translations
        watchers.append(TestSplitWatcher())
    return watchers


def train(cfg: Config) -> TrainResult:
    """Train the model ``cfg`` describes, with its report, dashboards and evaluation attached."""
    events = EventBus()
    for watcher in default_watchers(cfg, events.announce):
        events.subscribe(watcher)
    trace = rank_trace_from_env()
    if trace is not None:   # the tests' CYCLEGAN_DEBUG_DIR: what every rank trained on, and its weights
        events.subscribe(trace, every_rank=True)
    return run_training(cfg, events)
