"""Progress bars that suit where the output goes: a redrawn bar on a terminal, plain lines in a log file.

tqdm redraws its bar with carriage returns several times a second. In a terminal that is one line;
in a file (a batch scheduler's log, CI, ``nohup``) every redraw is kept, thousands of them. Off a
terminal the same bar is printed as a plain status line at most every ``LOG_INTERVAL_S`` seconds,
with the same information (count, elapsed, ETA, the losses in its postfix).
"""
from __future__ import annotations

import sys
import time

from tqdm import tqdm

LOG_INTERVAL_S = 30.0


class LogLines(tqdm):
    """A tqdm bar printed as whole lines: no bar, no carriage return, at most one line per interval.

    The first line (the start) and the last (at close) are always printed, except for a transient
    bar (``leave=False``, e.g. the tiles of one image) that ends within the interval: nothing.
    """

    def __init__(self, *args, interval: float | None = None, **kwargs):
        self.log_interval = LOG_INTERVAL_S if interval is None else interval
        self._last_time: float | None = None if kwargs.get("leave", True) else time.monotonic()
        self._last_line = ""
        self._force = False
        given = kwargs.get("bar_format")
        kwargs["bar_format"] = given.replace("|{bar}|", " ") if given else None
        kwargs.setdefault("mininterval", min(self.log_interval, 1.0))
        kwargs.pop("dynamic_ncols", None)
        super().__init__(*args, **kwargs)

    def __str__(self):
        if self.format_dict.get("bar_format") or self.total is None:
            return super().__str__()
        d = self.format_dict
        d["bar_format"] = "{desc}: {n_fmt}/{total_fmt} ({percentage:.0f}%) [{elapsed}<{remaining}, {rate_fmt}{postfix}]"
        return self.format_meter(**d)

    def display(self, msg=None, pos=None):
        if msg == "":    # tqdm clearing a transient bar: a printed line stays
            return False
        now = time.monotonic()
        if not self._force and self._last_time is not None and now - self._last_time < self.log_interval:
            return True
        line = (str(self) if msg is None else msg).strip()
        if line and line != self._last_line:
            self._last_line, self._last_time = line, now
            self.fp.write(line + "\n")
            self.fp.flush()
        return True

    def clear(self, nolock=False):
        pass   # tqdm.write clears bars before printing; a printed line cannot be taken back

    def close(self):
        transient_and_short = self._last_line == "" and self._last_time is not None
        if not self.disable and not transient_and_short:   # the last state is logged, however recent the line before
            self._force = True
            self.display()
            self.leave = False
        super().close()


def on_terminal(stream=None) -> bool:
    stream = sys.stderr if stream is None else stream
    try:
        return stream.isatty()
    except (AttributeError, ValueError):   # a closed or fake stream
        return False


def progress_bar(iterable=None, *, interval: float | None = None, **kwargs) -> tqdm:
    """tqdm's arguments; a redrawn bar on a terminal, a line every ``interval`` seconds elsewhere."""
    if on_terminal(kwargs.get("file")) or kwargs.get("disable"):
        return tqdm(iterable, **kwargs)
    kwargs["interval"] = interval
    return LogLines(iterable, **kwargs)
