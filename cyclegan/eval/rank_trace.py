"""Test instrumentation: with ``CYCLEGAN_DEBUG_DIR`` set, every process of a run writes what it
trained on and a hash of its final weights, so tests can check that torchrun shards the data and
that the ranks stay in step (tests/test_distributed.py, tests/test_cut.py).

    seen_rank<R>.txt          the A image paths of every batch rank R trained on, one a line
    weights_rank<R>.sha256    SHA-256 of every network's weights (saved keys) when the run ended

``cyclegan.train`` subscribes it on every rank when the variable is set; the loop knows nothing of it.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Mapping

import torch.distributed as dist
from torch import nn

from ..checkpoint import bare_state_dict
from ..events import RunEnded, RunStarted, StepEnded

ENV = "CYCLEGAN_DEBUG_DIR"


def rank_trace_from_env() -> RankTrace | None:
    folder = os.environ.get(ENV)
    return RankTrace(Path(folder)) if folder else None


class RankTrace:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.rank = 0
        self.networks: Mapping[str, nn.Module] = {}

    def __call__(self, event) -> None:
        match event:
            case RunStarted():
                self.rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
                self.networks = event.networks
            case StepEnded():
                with (self.folder / f"seen_rank{self.rank}.txt").open("a") as f:
                    f.writelines(f"{name}\n" for name in event.batch.get("A_paths", []))
            case RunEnded():
                digest = weights_digest(self.networks)
                (self.folder / f"weights_rank{self.rank}.sha256").write_text(digest + "\n")


def weights_digest(networks: Mapping[str, nn.Module]) -> str:
    """One hash of every network's weights (networks by saved name, then keys, in order): equal on ranks
    that stayed in step."""
    digest = hashlib.sha256()
    for name, net in sorted(networks.items()):
        for key, value in sorted(bare_state_dict(net).items()):
            digest.update(key.encode())
            digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()
