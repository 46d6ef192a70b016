"""``--display visdom``: the live dashboard, fed from the step's loss dict and the model's visuals.

Windows (in the environment ``--display_env``, default the run name):
    loss_<name>     one line plot per loss of the step dict, x = epoch fraction (every --print_freq)
    visuals         the current visuals as a grid: A side (real_A fake_B rec_A idt_B), then B side
                    (every --display_freq)
    throughput      iterations per second;  learning_rate  the scheduled rate
    KID             when --eval_freq is on (from the evaluation watcher's ``Measured`` events)

The watcher keeps each curve's whole history and sends it whole, so a dropped update or a
restarted server only delays a point, never loses it.
"""
from __future__ import annotations

import time
import warnings

from ..config import Config
from ..events import EpochEnded, Measured, Position, RunEnded, RunStarted, StepEnded
from .visdom_sender import VisdomSender, server_answers, server_url
from .visuals import grid_columns, images_to_array, visuals_to_images

MAX_POINTS = 4000  # per curve; longer histories are thinned to every other point


class VisdomWatcher:
    def __init__(self, cfg: Config, probe_timeout: float = 2.0, request_timeout: float = 5.0):
        self.cfg = cfg
        self.probe_timeout, self.request_timeout = probe_timeout, request_timeout
        self.sender: VisdomSender | None = None
        self.curves: dict[str, tuple[list[float], list[float]]] = {}
        self._sums: dict[str, float] = {}
        self._count = 0
        self._last_time = 0.0
        self._kid: float | None = None         # the latest KID measured
        self._last_kid: float | None = None    # the latest KID sent

    def __call__(self, event) -> None:
        if isinstance(event, RunStarted):
            self._connect(event)
        elif self.sender is None:
            return
        elif isinstance(event, Measured) and isinstance(event.values.get("KID"), (int, float)):
            self._kid = float(event.values["KID"])
        elif isinstance(event, StepEnded):
            for name, value in event.losses.items():
                self._sums[name] = self._sums.get(name, 0.0) + float(value)
            self._count += 1
            t = self.cfg.train
            if event.position.step % t.print_freq == 0:
                self._send_curves(event.position, event.learning_rate)
            if event.position.step % t.display_freq == 0:
                self._send_visuals(event.position, event.images)
        elif isinstance(event, EpochEnded) and self._count:
            self._send_curves(event.position, None)
        elif isinstance(event, RunEnded):
            if self._count:
                self._send_curves(event.position, None)
            self._send_visuals(event.position, event.images)
            self.sender.close(wait=self.request_timeout + 2.0)

    def _connect(self, started: RunStarted) -> None:
        self.cfg = started.config
        t = self.cfg.train
        url = server_url(t.display_server, t.display_port)
        if not server_answers(url, self.probe_timeout):
            if t.display == "visdom":
                warnings.warn(f"no visdom server answers at {url}; training continues without the live "
                              "dashboard (start one with `cyclegan-dashboard`, or pass --display none)",
                              RuntimeWarning, stacklevel=2)
            return
        try:
            import visdom  # noqa: F401  (an optional extra: checked only when a server answers)
        except ImportError:
            warnings.warn("a visdom server answers but the visdom package is not installed here; "
                          "training continues without the live dashboard (install it: PIP_CONSTRAINT=constraints/dashboard-build.txt "
                          "pip install -e \".[dashboard]\")",
                          RuntimeWarning, stacklevel=2)
            return
        env = t.display_env or started.run_dir.name
        self.sender = VisdomSender(url, env, timeout=self.request_timeout)
        self._last_time = time.monotonic()

    # --- updates --------------------------------------------------------------------------
    def _send_curves(self, position: Position, lr: float | None) -> None:
        x = position.epoch_fraction
        now = time.monotonic()
        points = {f"loss_{name}": total / self._count for name, total in self._sums.items()}
        points["throughput"] = self._count / max(now - self._last_time, 1e-6)
        if lr is not None:
            points["learning_rate"] = lr
        if self._kid is not None and self._kid != self._last_kid:
            self._last_kid = points["KID"] = self._kid
        self._sums, self._count, self._last_time = {}, 0, now
        for window, value in points.items():
            xs, ys = self.curves.setdefault(window, ([], []))
            xs.append(x)
            ys.append(float(value))
            if len(xs) > MAX_POINTS:
                xs[:], ys[:] = xs[::2], ys[::2]
        snapshot = {window: (list(xs), list(ys)) for window, (xs, ys) in self.curves.items()
                    if window in points}
        self.sender.submit(lambda vis: _draw_curves(vis, snapshot))

    def _send_visuals(self, position: Position, images) -> None:
        visuals = images()
        if not visuals:
            return
        images = visuals_to_images(visuals)
        names = list(images)
        array = images_to_array(list(images.values()))
        columns = grid_columns(names)
        rows = [" ".join(names[i:i + columns]) for i in range(0, len(names), columns)]
        title = f"current visuals (epoch {position.epoch}, step {position.step})"
        caption = " | ".join(rows)
        self.sender.submit(lambda vis: vis.images(array, nrow=columns, win="visuals", padding=2,
                                                  opts={"title": title, "caption": caption}))


_LABELS = {"throughput": ("iterations / s", "throughput"), "learning_rate": ("learning rate", "learning rate")}


def _draw_curves(vis, curves: dict[str, tuple[list[float], list[float]]]) -> None:
    import numpy as np
    for window, (xs, ys) in curves.items():
        ylabel, title = _LABELS.get(window, (window.removeprefix("loss_"), window.removeprefix("loss_")))
        if window.startswith("loss_"):
            title = f"loss {title}"
        vis.line(X=np.asarray(xs), Y=np.asarray(ys), win=window,
                 opts={"title": title, "xlabel": "epoch", "ylabel": ylabel})
