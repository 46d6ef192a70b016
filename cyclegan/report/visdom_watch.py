"""``--display visdom``: the live dashboard, fed from the loss log's lines and the model's visuals.

Windows (in the environment ``--display_env``, default the run name):
    loss_<name>     one line plot per loss, x = epoch fraction: the means each line of the loss log
                    holds (``LossesLogged``: every --print_freq steps, at an epoch's end and the run's end)
    visuals         the current visuals as a grid: A side (real_A fake_B rec_A idt_B), then B side
                    (every --display_freq)
    throughput      iterations per second;  learning_rate  the scheduled rate (with each loss line)
    KID             when --eval_freq is on (from the evaluation watcher's ``Measured`` events)

The watcher keeps each curve's whole history and sends it whole, so a dropped update or a
restarted server only delays a point, never loses it.
"""
from __future__ import annotations

import warnings

from ..config import Config
from ..events import LossesLogged, Measured, Position, RunEnded, RunStarted, StepEnded
from .visdom_sender import VisdomSender, server_answers, server_url
from .visuals import grid_columns, images_to_array, visuals_to_images

MAX_POINTS = 4000  # per curve; longer histories are thinned to every other point


class VisdomWatcher:
    def __init__(self, cfg: Config, probe_timeout: float = 2.0, request_timeout: float = 5.0):
        self.cfg = cfg
        self.probe_timeout, self.request_timeout = probe_timeout, request_timeout
        self.sender: VisdomSender | None = None
        self.curves: dict[str, tuple[list[float], list[float]]] = {}

    def __call__(self, event) -> None:
        if isinstance(event, RunStarted):
            self._connect(event)
        elif self.sender is None:
            return
        elif isinstance(event, LossesLogged):
            points = {f"loss_{name}": value for name, value in event.means.items()}
            self._send_curves(event.position, {**points, "throughput": event.throughput,
                                               "learning_rate": event.learning_rate})
        elif isinstance(event, Measured) and isinstance(event.values.get("KID"), (int, float)):
            self._send_curves(event.position, {"KID": event.values["KID"]})
        elif isinstance(event, StepEnded) and event.position.step % self.cfg.train.display_freq == 0:
            self._send_visuals(event.position, event.images)
        elif isinstance(event, RunEnded):
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

    # --- updates --------------------------------------------------------------------------
    def _send_curves(self, position: Position, points: dict[str, float]) -> None:
        """One point more on each named curve (x = the epoch fraction); the curves go out whole."""
        x = position.epoch_fraction
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
