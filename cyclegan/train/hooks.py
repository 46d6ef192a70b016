"""Things that watch a run without being part of the algorithm: reports, dashboards, evaluation.

The loop calls every hook at the same few moments and hands it a ``RunContext``. A hook reads
the step's loss dict and the model's current visuals; it never changes training. Hooks run on
the main process only (rank 0 under DDP), so each one may write files freely.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..config import Config


@dataclass
class RunContext:
    cfg: Config
    run_dir: Path
    model: Any               # CycleGAN or DCGAN: .nets, .current_visuals(), .state_dict()
    dataset: Any
    device: Any
    n_batches: int           # batches per epoch
    total_steps: int         # planned steps of this run (after --max-steps)
    log: Any                 # LossLog: hooks may ``log.add({...})`` extra values (e.g. KID)
    extra: dict = field(default_factory=dict)  # values hooks share with each other


class TrainHook(Protocol):
    def on_start(self, ctx: RunContext, progress) -> None: ...
    def on_step(self, ctx: RunContext, progress, losses: dict[str, float], lr: float) -> None: ...
    def on_epoch_end(self, ctx: RunContext, progress, epoch: int) -> None: ...
    def on_end(self, ctx: RunContext, progress, interrupted: bool) -> None: ...


class Hook:
    """A hook that does nothing; subclasses override the moments they care about."""

    def on_start(self, ctx: RunContext, progress) -> None:
        pass

    def on_step(self, ctx: RunContext, progress, losses: dict[str, float], lr: float) -> None:
        pass

    def on_epoch_end(self, ctx: RunContext, progress, epoch: int) -> None:
        pass

    def on_end(self, ctx: RunContext, progress, interrupted: bool) -> None:
        pass


def build_hooks(cfg: Config) -> list[Hook]:
    """The hooks a run gets from its config. Each feature adds its own line here."""
    hooks: list[Hook] = []
    if cfg.model.model == "dcgan":
        from .dcgan_samples import DCGANSamples
        hooks.append(DCGANSamples())
    if cfg.train.eval_freq > 0:
        from ..eval.hook import KIDHook
        hooks.append(KIDHook(cfg.train.eval_freq))
    from ..report import report_hooks
    hooks.extend(report_hooks(cfg))  # HTML report and progression always; visdom unless --display none
    return hooks


def call_hooks(hooks: list[Hook], moment: str, *args) -> None:
    for hook in hooks:
        getattr(hook, moment)(*args)
