"""An exponential moving average of a network's weights (``--ema DECAY``).

GAN generators oscillate around a good solution from step to step; the average of their recent
weights is steadier and usually translates better (Yazici et al. 2019, "The unusual effectiveness
of averaging in GAN training"). The average is what a run saves under the generator's usual
name and what every watcher translates with; the raw weights keep training and are kept in the
training state, with the average, so a resumed run continues both exactly.

Early on, a fixed decay of 0.999 would average in the random initial weights for thousands of
steps, so the decay warms up: min(decay, (1 + n) / (10 + n)) after n updates.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from ..checkpoint import bare_state_dict, unwrap


class WeightAverage:
    """``average`` follows ``net``: after each update, average = d * average + (1 - d) * net."""

    def __init__(self, net: nn.Module, decay: float):
        self.decay, self.updates = decay, 0
        self.average = copy.deepcopy(unwrap(net)).requires_grad_(False)

    def current_decay(self) -> float:
        return min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))

    @torch.no_grad()
    def update(self, net: nn.Module) -> None:
        d = self.current_decay()
        source = unwrap(net).state_dict()
        for key, value in self.average.state_dict().items():
            if value.is_floating_point():
                value.lerp_(source[key].detach(), 1.0 - d)
            else:
                value.copy_(source[key])       # counters (batch norm's num_batches_tracked)
        self.updates += 1

    def state_dict(self) -> dict:
        return {"weights": bare_state_dict(self.average), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.average.load_state_dict(state["weights"])
        self.updates = int(state["updates"])
