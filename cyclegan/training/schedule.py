"""The learning-rate schedule of a run, and when it ends: by epochs (the paper) or by the clock (--time).

The loop asks a schedule three things: the learning rate for the next step, whether the run is
finished, and, once, an honest estimate of how long the run takes at the speed measured over its
first steps. After every step it calls ``step_done()`` so the schedule can time it.

``EpochSchedule`` is the reference's: constant for ``n_epochs``, then a linear decay over
``n_epochs_decay``, set per epoch (``rate_of_epoch``), ending after the last epoch or at
``--max-steps``.

``TimeSchedule`` (``--time 15m``) is the same shape laid over wall-clock time: constant for the
first ``n_epochs / (n_epochs + n_epochs_decay)`` of the budget, then linear to zero at the
deadline. Before each step it predicts where the next step would end (median of the recent step
times, plus the longest pause seen for saving and reports) and finishes when that would pass the
deadline, so the run stops before it with a finished schedule and still saves. Its state (budget,
time trained, recent step times) goes into latest_state.pth: ``--continue_train`` resumes it
where it stood, and ``--continue_train --time 10m`` makes the budget the time trained so far plus
10 minutes.

Time counts from the first step of each session: building the model and loading data are not
part of the budget; saves and reports between steps are, and so is a model's start from the data
(``--colour_start fit``: ``charge``).
"""
from __future__ import annotations

import statistics
import time
from typing import Callable

ESTIMATE_STEPS = 10        # steps timed (after the first, which warms caches up) before the estimate
RECENT_STEPS = 20          # step times the deadline prediction takes its median over
DAY = 24 * 3600.0


def now() -> float:
    """The schedule's clock (tests replace it)."""
    return time.monotonic()


def format_duration(seconds: float) -> str:
    """90 -> '1.5 min', 5400 -> '1.5 h', 3 days -> '3.0 days'."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 2 * DAY:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / DAY:.1f} days"


def parse_duration(text: str) -> float:
    """'90s', '15m', '2h', '1h30m', '45' (seconds) -> seconds. ValueError on anything else."""
    import re
    value = str(text).strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        seconds = float(value)
    else:
        parts = re.findall(r"(\d+(?:\.\d+)?)\s*([dhms])", value)
        if not parts or re.sub(r"(\d+(?:\.\d+)?)\s*([dhms])", "", value).strip():
            raise ValueError(f"{text!r} is not a duration: write it like 90s, 15m, 2h or 1h30m")
        unit = {"d": DAY, "h": 3600.0, "m": 60.0, "s": 1.0}
        seconds = sum(float(n) * unit[u] for n, u in parts)
    if seconds <= 0:
        raise ValueError(f"{text!r}: the time must be positive")
    return seconds


class StepTimer:
    """Times the steps: seconds between ``step_done`` calls, the first step of a session set apart."""

    def __init__(self, clock: Callable[[], float]):
        self.clock = clock
        self.last: float | None = None
        self.session_steps = 0
        self.timed: list[float] = []       # this session's steps after its first
        self.recent: list[float] = []      # the last RECENT_STEPS step times (kept across resumes)
        self.longest_pause = 0.0           # largest (step time - typical step): saves, reports
        self.first: float | None = None    # this session's first step

    def start(self) -> None:
        self.last = self.clock()

    def step_done(self) -> float:
        t = self.clock()
        seconds, self.last = t - (self.last if self.last is not None else t), t
        self.session_steps += 1
        if self.session_steps == 1:     # a session's first step warms up (allocations, kernel choice)
            self.first = seconds
            return seconds
        self.timed.append(seconds)
        if self.recent:
            self.longest_pause = max(self.longest_pause, seconds - statistics.median(self.recent))
        self.recent = (self.recent + [seconds])[-RECENT_STEPS:]
        return seconds

    def seconds_per_step(self) -> float | None:
        """The median of the recent steps (the first step of a session only while it is all there is)."""
        return statistics.median(self.recent) if self.recent else self.first


class EpochSchedule:
    """Constant, then linear decay, per epoch (the reference's); ends after the last epoch or --max-steps."""
    unit = "it"

    def __init__(self, rate_of_epoch: Callable[[int], float], last_epoch: int, max_steps: int | None,
                 total_steps: int, clock: Callable[[], float] | None = None):
        self.rate_of_epoch, self.last_epoch, self.max_steps = rate_of_epoch, last_epoch, max_steps
        self.total = total_steps
        self.timer = StepTimer(clock or now)
        self.done = 0
        self._estimated = False

    def start(self, progress) -> None:
        self.done = min(progress.step, self.total)
        self.timer.start()

    def learning_rate(self, progress) -> float:
        return self.rate_of_epoch(progress.epoch)

    def finished(self, progress) -> bool:
        return progress.epoch > self.last_epoch or (self.max_steps is not None and progress.step >= self.max_steps)

    def step_done(self, progress) -> None:
        self.timer.step_done()
        self.done = min(progress.step, self.total)

    def estimate(self, progress) -> str | None:
        """Once, after the first steps: how long the whole schedule takes at the measured speed."""
        timed = self.timer.timed
        remaining = self.total - progress.step
        if self._estimated or not timed or (len(timed) < ESTIMATE_STEPS and remaining > 0):
            return None
        self._estimated = True
        per_step = statistics.mean(timed)
        total = per_step * self.total
        line = (f"this schedule is {self.total} steps; at {per_step:.3g} s/step (measured over {len(timed)} steps) "
                f"it takes about {format_duration(total)}")
        if total > DAY:
            line += (f": more than a day on this device. --time DURATION (e.g. --time 8h) fits a finished "
                     f"schedule, constant then decaying, into the time you have")
        return line

    def charge(self, seconds: float) -> None:
        pass   # epochs count steps, not seconds

    def state_dict(self) -> dict:
        return {"kind": "epochs"}

    def load_state_dict(self, state: dict) -> None:
        pass


class TimeSchedule:
    """The constant-then-linear-decay rate over wall-clock time; finishes before the deadline."""
    unit = "s"

    def __init__(self, lr: float, budget_seconds: float, constant_fraction: float, max_steps: int | None = None,
                 clock: Callable[[], float] | None = None):
        self.lr, self.budget, self.constant_fraction = lr, budget_seconds, constant_fraction
        self.max_steps = max_steps
        self.timer = StepTimer(clock or now)
        self.elapsed = 0.0          # seconds trained, over every session of the run
        self._stopped = False
        self._estimated = False

    @property
    def total(self) -> float:
        return self.budget

    @property
    def done(self) -> float:
        return min(self.elapsed, self.budget)

    def start(self, progress) -> None:
        self.timer.start()

    def learning_rate(self, progress) -> float:
        """lr until constant_fraction of the budget has passed, then linearly to zero at the deadline."""
        decay_seconds = self.budget * (1.0 - self.constant_fraction)
        if decay_seconds <= 0:
            return self.lr
        left = max(0.0, self.budget - self.elapsed)
        return self.lr * min(1.0, left / decay_seconds)

    def predicted_end(self) -> float:
        """Where the clock would stand after one more step and a final save."""
        per_step = self.timer.seconds_per_step() or 0.0
        return self.elapsed + per_step + self.timer.longest_pause

    def finished(self, progress) -> bool:
        if self.max_steps is not None and progress.step >= self.max_steps:
            return True
        if self.timer.session_steps == 0 and self.elapsed < self.budget:
            return False            # one step at least: nothing is measured before it
        self._stopped = self._stopped or self.predicted_end() >= self.budget
        return self._stopped

    def step_done(self, progress) -> None:
        self.elapsed += self.timer.step_done()

    def charge(self, seconds: float) -> None:
        """Count work before the first step that belongs to training (--colour_start fit) in the budget."""
        self.elapsed += seconds

    def estimate(self, progress) -> str | None:
        timed = self.timer.timed
        if self._estimated or len(timed) < min(ESTIMATE_STEPS, 3) or \
                (len(timed) < ESTIMATE_STEPS and self.predicted_end() < self.budget):
            return None
        self._estimated = True
        per_step = statistics.mean(timed)
        left = max(0.0, self.budget - self.elapsed)
        return (f"--time {format_duration(self.budget)}: at {per_step:.3g} s/step (measured over {len(timed)} "
                f"steps) about {progress.step + int(left / per_step)} steps in all; the rate is constant for "
                f"{format_duration(self.budget * self.constant_fraction)}, then decays to zero at the deadline")

    def state_dict(self) -> dict:
        return {"kind": "time", "budget": self.budget, "elapsed": self.elapsed, "recent": list(self.timer.recent),
                "longest_pause": self.timer.longest_pause}

    def load_state_dict(self, state: dict, extra_seconds: float | None = None) -> None:
        """Resume where the run stood; ``extra_seconds`` (a new --time) extends the budget from here."""
        if state.get("kind") != "time":
            return                  # an epoch-scheduled run continued with --time: the budget starts now
        self.elapsed = float(state["elapsed"])
        self.budget = float(state["budget"]) if extra_seconds is None else self.elapsed + extra_seconds
        self.timer.recent = [float(s) for s in state.get("recent", [])]
        self.timer.longest_pause = float(state.get("longest_pause", 0.0))


def make_schedule(cfg, rate_of_epoch: Callable[[int], float], total_steps: int, saved: dict | None,
                  clock: Callable[[], float] | None = None):
    """The run's schedule: by the clock when --time is set (or the resumed run had one), else by epochs.

    ``saved`` is the schedule state of a resumed run (None for a new one). On a resumed time run,
    --time is the time *added*; without it the run keeps its saved budget.
    """
    t = cfg.train
    resumed_time = saved is not None and saved.get("kind") == "time"
    if t.time_budget is None and not resumed_time:
        return EpochSchedule(rate_of_epoch, t.n_epochs + t.n_epochs_decay, t.max_steps, total_steps, clock)
    schedule = TimeSchedule(t.lr, t.time_budget or 0.0, t.n_epochs / (t.n_epochs + t.n_epochs_decay),
                            t.max_steps, clock)
    if saved is not None:
        schedule.load_state_dict(saved, extra_seconds=t.time_budget)
    return schedule
