"""``--eval_freq N``: KID on a fixed sample of the test split while training, and the best weights.

Every N steps both generators (CUT and FastCUT: their one, A -> B) translate the same test images (the first ``EVAL_SAMPLE`` of each
domain's test/ folder, by name); KID is computed against the other domain's test images, with
Inception features when their weights are here, else the fixed random extractor. The mean of the
two directions is announced as a ``Measured`` event (the loop writes it into the loss log at that
step as ``"KID"``; the dashboards plot it), and whenever it is the lowest so far the networks are
saved as ``best_net_*.pth`` (with ``best_eval.json`` saying at which step).

Evaluation never changes training: the generators go back to their mode afterwards and every
random number it draws comes from forked or private generators, so a run with --eval_freq ends
with exactly the weights of the same run without it.
"""
from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..checkpoint import atomic_write_bytes, unwrap
from ..data.images import decode_or_skip, list_images, readable_images
from ..errors import UserError
from ..events import CheckpointSaved, Measured, RunStarted, StepEnded
from ..metrics import kid
from ..runfolder import RunFolder
from ..inference.translate import Translator
from .features import build_extractor
from .score import domain_test_dirs

EVAL_SAMPLE = 50          # test images per domain
PROG = "cyclegan-train"


class KIDWatcher:
    def __init__(self, every: int, publish: Callable, directions: dict[str, str],
                 sample: int = EVAL_SAMPLE, features: str = "auto"):
        """``publish`` announces the ``Measured`` and ``CheckpointSaved`` events (the run's bus);
        ``directions`` names the generator of each direction (the model card's ``directions``)."""
        self.every = every
        self.publish = publish
        self.directions = directions
        self.sample = sample
        self.features = features
        self.enabled = True
        self.best = float("inf")

    def __call__(self, event) -> None:
        match event:
            case RunStarted():
                self._start(event)
            case StepEnded(position=position) if self.enabled and position.step % self.every == 0:
                self._measure(event)

    def _start(self, started: RunStarted) -> None:
        self.started = started
        if "AtoB" not in self.directions:   # one-sided models (CUT) are scored A -> B alone
            print(f"{PROG}: --eval_freq computes KID for translating models only; no KID for this model",
                  file=sys.stderr)
            self.enabled = False
            return
        test_A, test_B = domain_test_dirs(started.config.data, "--eval_freq")
        self.sources = {"A": _sample(test_A, self.sample, "A"), "B": _sample(test_B, self.sample, "B")}
        with _rng_untouched(started.device):
            self.extractor = build_extractor(self.features, started.device)
            # real features are fixed for the whole run: compute them once
            self.real = {side: self.extractor.features(images) for side, images in self.sources.items()}
        note = "" if self.extractor.name != "random" else \
            " (Inception weights not found here: see cyclegan-eval --help; values not comparable to published ones)"
        print(f"{PROG}: KID every {self.every} steps on {len(self.sources['A'])} + {len(self.sources['B'])} "
              f"test images, features {self.extractor.name}{note}", file=sys.stderr)
        best = RunFolder(started.run_dir).read_best()
        if started.position.step > 0 and best is not None:   # a resumed run keeps its best so far
            try:
                self.best = float(best["KID"])
            except (ValueError, KeyError, TypeError):
                pass

    def _measure(self, step: StepEnded) -> None:
        values = self.evaluate()
        value = sum(values.values()) / len(values)   # the mean over the directions the model translates
        self.publish(Measured(step.position, {"KID": value}, step.learning_rate))
        if value < self.best:
            self.best = value
            run = RunFolder(self.started.run_dir)
            paths = run.save_networks(dict(self.started.networks), "best")
            record = {"step": step.position.step, "KID": value,
                      **{f"KID_{direction}": v for direction, v in values.items()},
                      "features": self.extractor.describe()}
            atomic_write_bytes(run.best_file, (json.dumps(record, indent=2) + "\n").encode())
            self.publish(CheckpointSaved(step.position, "best", paths))

    def evaluate(self) -> dict[str, float]:
        """KID of G_A(test A) against test B and of G_B(test B) against test A."""
        out = {}
        device = self.started.device
        with _rng_untouched(device):
            for direction, source, target in (("AtoB", "A", "B"), ("BtoA", "B", "A")):
                if direction not in self.directions:
                    continue
                generator = unwrap(self.started.networks[self.directions[direction]])
                was_training = generator.training
                try:
                    translator = Translator(generator, device=device, tiling=False)
                    fakes = [translator.translate_stored(image) for image in self.sources[source]]
                finally:
                    generator.train(was_training)
                fake = self.extractor.features(fakes)
                out[direction] = kid(self.real[target], fake).mean
        return out


def _sample(folder: Path, count: int, side: str) -> list:
    """The first ``count`` test images that decode; one that does not is skipped with a warning."""
    what = f"test split {side} {folder}"
    images = []
    for path in readable_images(list_images(folder), what):
        image = decode_or_skip(path, what)
        if image is not None:
            images.append(image)
        if len(images) == count:
            break
    if len(images) < 2:
        raise UserError(f"--eval_freq needs at least 2 readable test images in {folder}, found {len(images)}")
    return images


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
