"""The identity-collapse guard: is the generator translating, or handing its input back?

A CycleGAN can sit at the identity for a whole run (the cycle loss is zero there) and its loss
curves look healthy; users find out when they look at the pictures. This watcher measures, on a
fixed batch of domain A taken at the first step, every ``every`` steps:

- ``G_change``: mean |G(x) - x| in levels of 255: how much the A->B generator changes photos;
- ``G_beyond_colour``: the part of that change no colour map of the photo explains (levels of
  255, ``cyclegan.metrics.beyond_colour_map``): about 0 while G only recolours, however strongly;
- ``D_tells``: mean D(real B) - mean D(G(x)), the discriminator of B's margin between real B
  and translations (about 1 when it tells them apart at a glance, about 0 when it cannot).

Both join loss_log.jsonl (and so the report and dashboards) through ``Measured``. When a run
is still at the identity after ``FAIR_SHARE`` of its steps (or of its --time budget), it says so
once, in one line, with what to try.
"""
from __future__ import annotations

import sys
import time

import torch

from ..checkpoint import unwrap
from ..events import Measured, RunEnded, RunStarted, StepEnded
from ..metrics import beyond_colour_map

FAIR_SHARE = 0.25           # of the planned steps or of the --time budget
STILL_IDENTITY = 3.0        # levels of 255: below this mean change, G hands its input back
BATCH = 4                   # fixed images measured


class CollapseWatcher:
    def __init__(self, publish, directions: dict, judges: dict, every: int = 100, out=None):
        """``directions``/``judges``: the model card's (the A->B generator, the discriminator of its outputs)."""
        self.publish, self.every, self.out = publish, max(1, every), out
        self.generator_name = directions.get("AtoB")
        self.judge_name = judges.get(self.generator_name, "")
        self.started: RunStarted | None = None
        self.start_time = 0.0
        self.fixed_A = self.fixed_B = None
        self.warned = False
        self.last: dict[str, float] = {}

    def __call__(self, event) -> None:
        match event:
            case RunStarted():
                self.started, self.start_time = event, time.time()
            case StepEnded() if self.started is not None and self.generator_name in self.started.networks:
                if self.fixed_A is None:
                    images = event.images()
                    if "real_A" not in images or "real_B" not in images:
                        return
                    self.fixed_A = images["real_A"][:BATCH].detach().clone()
                    self.fixed_B = images["real_B"][:BATCH].detach().clone()
                if event.position.step % self.every == 0:
                    self.measure(event)
            case RunEnded() if self.started is not None and self.fixed_A is not None and not self.last:
                self.measure(event)

    def measure(self, event) -> dict[str, float]:
        networks = self.started.networks
        # the bare networks: a DDP wrapper would sync across ranks, and only rank 0 measures
        generator = unwrap(networks[self.generator_name])
        judge = networks.get(self.judge_name)
        judge = unwrap(judge) if judge is not None else None
        translated = _run(generator, self.fixed_A).float()
        values = {"G_change": round(change_levels(self.fixed_A, translated), 3),
                  "G_beyond_colour": round(float(beyond_colour_map(self.fixed_A, translated).mean()) * 127.5, 3)}
        if judge is not None:
            values["D_tells"] = round(discriminator_margin(judge, translated, self.fixed_B), 4)
        self.last = values
        self.publish(Measured(event.position, values, getattr(event, "learning_rate", 0.0)))
        if not self.warned and self.share_done(event.position.step) >= FAIR_SHARE \
                and values["G_change"] < STILL_IDENTITY:
            self.warned = True
            print(f"cyclegan-train: warning: after {event.position.step} steps {self.generator_name} still hands "
                  f"its input back (mean change {values['G_change']:.1f} of 255 levels): the translation has not "
                  "started; try --recipe paper, a longer --time, or --lambda_identity 0", file=self.out or sys.stderr,
                  flush=True)
        return values

    def share_done(self, step: int) -> float:
        cfg = self.started.config
        shares = [step / max(1, self.started.total_steps)]
        if cfg.train.time_budget:
            shares.append((time.time() - self.start_time) / cfg.train.time_budget)
        return max(shares)


@torch.no_grad()
def _run(network, x):
    was_training = network.training
    network.eval()
    try:
        return network(x)
    finally:
        network.train(was_training)


def change_levels(images, translated) -> float:
    """Mean |G(x) - x| in levels of 255 (images in [-1, 1])."""
    return float((translated.float() - images.float()).abs().mean() * 127.5)


def discriminator_margin(discriminator, translated, real_B) -> float:
    """Mean D(real B) minus mean D(G(real A)): how plainly the judge of B tells translations from B."""
    return float(_run(discriminator, real_B).float().mean() - _run(discriminator, translated).float().mean())
