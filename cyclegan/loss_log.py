"""The run's loss log: one JSON object per line in ``loss_log.jsonl``.

Each line averages the step dicts since the previous line, so the file stays small on long
runs while a dashboard, a report or a test can read the whole curve back. The loop announces
each line's means (``LossesLogged``), so the dashboards plot these very numbers.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .checkpoint import atomic_write_bytes
from .errors import writing

LOG_FILE = "loss_log.jsonl"


@dataclass(frozen=True)
class LossWindow:
    """The losses a line took along: each one's mean, as written, over ``steps`` steps."""
    means: dict[str, float]
    steps: int


class LossLog:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._sums: dict[str, float] = {}
        self._count = 0

    def add(self, losses: dict[str, float]) -> None:
        for name, value in losses.items():
            self._sums[name] = self._sums.get(name, 0.0) + value
        self._count += 1

    def means(self) -> dict[str, float]:
        return {name: total / self._count for name, total in self._sums.items()} if self._count else {}

    def flush(self, always: bool = False, **fields) -> LossWindow | None:
        """Append one line: ``fields`` (step, epoch, lr, ...) plus the mean of each loss; return
        the losses it took along (None when it held none).

        Without losses since the last line nothing is written, unless ``always`` (a measurement
        such as KID, which must reach the log even when another one just took the losses along)."""
        if not self._count and not always:
            return None
        window = LossWindow({k: round(v, 6) for k, v in self.means().items()}, self._count)
        record = {**fields, **window.means}
        with writing(self.path), self.path.open("a") as f:   # a full disk: one line (readers skip a torn one)
            f.write(json.dumps(record) + "\n")
        self._sums, self._count = {}, 0
        return window if window.steps else None

    def truncate_after(self, step: int) -> None:
        """Drop lines logged after ``step``: a run resumed from an older state will log them again."""
        if not self.path.exists():
            return
        kept = [line for line in self.path.read_text().splitlines()
                if line.strip() and _step_of(line) is not None and _step_of(line) <= step]
        # Whole or not at all: a full disk must not cut the log that is there.
        atomic_write_bytes(self.path, "".join(line + "\n" for line in kept).encode())


def _step_of(line: str) -> int | None:
    try:
        return int(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return None


def read_log(path: Path) -> list[dict]:
    """Every record of the log; a torn last line (a run killed mid-write) or any other line that
    is not a JSON object is skipped, as ``--continue_train`` skips it."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records
