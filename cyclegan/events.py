"""The moments of a training run, as typed events, and the bus that carries them.

The loop only *announces*; whoever watches a run (the HTML report, the visdom dashboard,
TensorBoard, Weights & Biases, KID evaluation, DCGAN sample grids) *subscribes*. This module
sits below ``train``, ``report`` and ``eval`` and imports none of them, so the loop never knows
its audience and a watcher never reaches into the trainer.

    RunStarted       once, before the first step (also when a run resumes)
    StepEnded        after every optimisation step
    LossesLogged     a line of the loss log: the mean losses since the last one (every --print_freq
                     steps, at an epoch's end, at the run's end, and with a measurement)
    EpochEnded       after the last step of an epoch, once its state is saved
    CheckpointSaved  whenever network files were written (latest, an epoch, best)
    Measured         a watcher measured something (KID): the loss log and the dashboards record it
    RunEnded         once, after the final save (also after Ctrl-C)

A subscriber is any callable taking one event; it dispatches on the event's type
(``match event: case StepEnded(): ...``) and ignores the rest. Subscribers run on the main
process only (rank 0 under DDP), unless subscribed ``every_rank`` (test instrumentation that
checks the ranks stay in step), and must never change training: they read the payloads.

A dashboard plots ``LossesLogged``, never its own average of ``StepEnded`` losses: the loss
log, the visdom dashboard, TensorBoard and Weights & Biases then show the same numbers at the
same steps.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
from torch import Tensor, nn

from .config import Config

NamedImages = Mapping[str, Tensor]        # name -> image batch in [-1, 1], e.g. real_A, fake_B


def epoch_fraction(epoch: int, batch: int, batches_per_epoch: int) -> float:
    """Where a run stands in epochs: epoch 3 half done is 2.5 (the x axis of every loss curve)."""
    return round((epoch - 1) + batch / max(batches_per_epoch, 1), 4)


@dataclass(frozen=True)
class Position:
    """The next step to run is batch ``batch`` of epoch ``epoch``; ``step`` steps are done."""
    step: int
    epoch: int
    batch: int
    batches_per_epoch: int

    @property
    def epoch_fraction(self) -> float:
        return epoch_fraction(self.epoch, self.batch, self.batches_per_epoch)


def _no_images() -> dict[str, Tensor]:
    return {}


@dataclass(frozen=True)
class RunStarted:
    run_dir: Path
    config: Config
    position: Position
    total_steps: int                          # planned steps of this run (after --max-steps)
    device: torch.device
    # The networks by saved name (G_A, G_B, D_A, D_B; or G, D): for watchers that translate or
    # evaluate (progression frames, KID). Read-only: a watcher puts each back in its mode.
    networks: Mapping[str, nn.Module]
    # Named image makers a model offers besides its step images, e.g. DCGAN's fixed-noise grid.
    samplers: Mapping[str, Callable[[], Tensor]] = field(default_factory=dict)


@dataclass(frozen=True)
class StepEnded:
    position: Position
    losses: Mapping[str, float]               # this step's (averaged over ranks under DDP)
    learning_rate: float
    images: Callable[[], NamedImages] = _no_images   # the step's images, built only when asked
    batch: Mapping[str, Any] = field(default_factory=dict)   # what this rank trained on: A, B, A_paths, ...


@dataclass(frozen=True)
class LossesLogged:
    position: Position
    means: Mapping[str, float]    # each loss's mean since the previous line, as the loss log holds it
    learning_rate: float          # the rate of the last of those steps
    throughput: float             # those steps per second


@dataclass(frozen=True)
class EpochEnded:
    position: Position          # already at the start of the next epoch
    epoch: int                  # the epoch that ended
    images: Callable[[], NamedImages] = _no_images


@dataclass(frozen=True)
class CheckpointSaved:
    position: Position
    tag: str                    # latest | best | an epoch number
    paths: tuple[Path, ...]     # the files written


@dataclass(frozen=True)
class Measured:
    position: Position
    values: Mapping[str, float]   # e.g. {"KID": 0.012}
    learning_rate: float


@dataclass(frozen=True)
class RunEnded:
    position: Position
    interrupted: bool
    images: Callable[[], NamedImages] = _no_images


Event = RunStarted | StepEnded | LossesLogged | EpochEnded | CheckpointSaved | Measured | RunEnded
Subscriber = Callable[[Any], None]


class EventBus:
    """Delivers each announced event to every subscriber, in the order they subscribed."""

    def __init__(self, subscribers: list[Subscriber] | None = None):
        self.subscribers: list[Subscriber] = list(subscribers or [])
        self.every_rank: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber, every_rank: bool = False) -> Subscriber:
        """``every_rank``: hear the run on every process, not only on rank 0 (see ``for_rank``)."""
        self.subscribers.append(subscriber)
        if every_rank:
            self.every_rank.append(subscriber)
        return subscriber

    def for_rank(self, is_main: bool) -> EventBus:
        """The bus a training process announces on: rank 0's is this one; another rank's holds only
        the subscribers that asked for every rank (reports and dashboards write files once)."""
        if is_main:
            return self
        other = EventBus(self.every_rank)
        other.every_rank = list(self.every_rank)
        return other

    def announce(self, event: Event) -> None:
        for subscriber in list(self.subscribers):
            subscriber(event)
