"""``--eval_freq N``: KID on a fixed sample of the test split while training, and the best weights.

Every N steps both generators translate the same test images (the first ``EVAL_SAMPLE`` of each
domain's test/ folder, by name); KID is computed against the other domain's test images, with
Inception features when their weights are here, else the fixed random extractor. The mean of the
two directions is written into the loss log at that step (``"KID"``), put in ``ctx.extra["KID"]``
for the dashboard, and whenever it is the lowest so far the networks are saved as
``best_net_*.pth`` (with ``best_eval.json`` saying at which step).

Evaluation never changes training: the generators go back to their mode afterwards and every
random number it draws comes from forked or private generators, so a run with --eval_freq ends
with exactly the weights of the same run without it.
"""
from __future__ import annotations

import json
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from ..checkpoint import atomic_write_bytes, save_networks, unwrap
from ..data.images import list_images, load_rgb, readable_images
from ..errors import UserError
from ..metrics import kid
from ..train.hooks import Hook, RunContext
from .features import build_extractor
from .score import domain_test_dirs

EVAL_SAMPLE = 50          # test images per domain
BEST_FILE = "best_eval.json"
PROG = "cyclegan-train"


class KIDHook(Hook):
    def __init__(self, every: int, sample: int = EVAL_SAMPLE, features: str = "auto"):
        self.every = every
        self.sample = sample
        self.features = features
        self.enabled = True
        self.best = float("inf")
        self.start = time.time()

    # ------------------------------------------------------------------

    def on_start(self, ctx: RunContext, progress) -> None:
        nets = ctx.model.nets
        if "G_A" not in nets or "G_B" not in nets:
            print(f"{PROG}: --eval_freq computes KID for CycleGAN runs only; no KID for this model",
                  file=sys.stderr)
            self.enabled = False
            return
        test_A, test_B = domain_test_dirs(ctx.cfg.data, "--eval_freq")
        self.sources = {"A": _sample(test_A, self.sample, "A"), "B": _sample(test_B, self.sample, "B")}
        with _rng_untouched(ctx.device):
            self.extractor = build_extractor(self.features, ctx.device)
            # real features are fixed for the whole run: compute them once
            self.real = {side: self.extractor.features(images) for side, images in self.sources.items()}
        note = "" if self.extractor.name != "random" else \
            " (Inception weights not found here: see cyclegan-eval --help; values not comparable to published ones)"
        print(f"{PROG}: KID every {self.every} steps on {len(self.sources['A'])} + {len(self.sources['B'])} "
              f"test images, features {self.extractor.name}{note}", file=sys.stderr)
        best_file = Path(ctx.run_dir) / BEST_FILE
        if progress.step > 0 and best_file.is_file():   # a resumed run keeps its best so far
            try:
                self.best = float(json.loads(best_file.read_text())["KID"])
            except (ValueError, KeyError, TypeError, OSError):
                pass
        self.start = time.time()

    def on_step(self, ctx: RunContext, progress, losses: dict[str, float], lr: float) -> None:
        if not self.enabled or progress.step % self.every:
            return
        values = self.evaluate(ctx)
        value = (values["AtoB"] + values["BtoA"]) / 2.0
        ctx.extra["KID"] = value
        ctx.extra["KID_AtoB"], ctx.extra["KID_BtoA"] = values["AtoB"], values["BtoA"]
        # One log line at this very step: the losses since the last line, averaged as usual, plus
        # KID as it is. (LossLog.add would count KID as one more step and divide everything by it.)
        epoch = (progress.epoch - 1) + progress.batch / ctx.n_batches
        ctx.log.flush(step=progress.step, epoch=round(epoch, 4), lr=lr, time=round(time.time() - self.start, 2),
                      KID=round(value, 6))
        if value < self.best:
            self.best = value
            save_networks(ctx.model.nets, ctx.run_dir, "best")
            record = {"step": progress.step, "KID": value, "KID_AtoB": values["AtoB"], "KID_BtoA": values["BtoA"],
                      "features": self.extractor.describe()}
            atomic_write_bytes(Path(ctx.run_dir) / BEST_FILE, (json.dumps(record, indent=2) + "\n").encode())

    # ------------------------------------------------------------------

    def evaluate(self, ctx: RunContext) -> dict[str, float]:
        """KID of G_A(test A) against test B and of G_B(test B) against test A."""
        from ..translate import translate_image

        out = {}
        with _rng_untouched(ctx.device):
            for direction, net_name, source, target in (("AtoB", "G_A", "A", "B"), ("BtoA", "G_B", "B", "A")):
                generator = unwrap(ctx.model.nets[net_name])
                was_training = generator.training
                try:
                    fakes = [translate_image(generator, image, ctx.device) for image in self.sources[source]]
                finally:
                    generator.train(was_training)
                fake = self.extractor.features(fakes)
                out[direction] = kid(self.real[target], fake).mean
        return out


def _sample(folder: Path, count: int, side: str) -> list:
    paths = readable_images(list_images(folder), f"test split {side} {folder}")[:count]
    if len(paths) < 2:
        raise UserError(f"--eval_freq needs at least 2 test images in {folder}, found {len(paths)}")
    return [load_rgb(p) for p in paths]


@contextmanager
def _rng_untouched(device):
    """Run a block with torch's and numpy's global RNGs restored afterwards: training's random stream
    (dropout, crops, the pool) continues exactly as if no evaluation had happened."""
    device = torch.device(device)
    devices = [device.index if device.index is not None else torch.cuda.current_device()] \
        if device.type == "cuda" else []
    numpy_state = np.random.get_state()
    with torch.random.fork_rng(devices=devices):
        try:
            yield
        finally:
            np.random.set_state(numpy_state)
