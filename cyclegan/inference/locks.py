"""One process at a time in a folder: an exclusive lock file, held for a run and removed after it.

    with hold_lock(output / ".cyclegan-translate.lock",
                   lambda holder: f"--output {output} is in use by {holder}; wait for it"):
        ...                                   # a second process gets that one line (UserError)

The lock is ``flock`` on the file, so a run killed with ``kill -9`` leaves no lock behind (the
kernel drops it with the process; a leftover file is simply locked again). The file says which
process holds it, for the refusal. Within one process the lock is re-entrant: a library call that
takes it again (``translate_files`` under ``cyclegan-translate``) does not refuse its own caller.
"""
from __future__ import annotations

import errno
import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from ..errors import UserError

_held: dict[Path, int] = {}       # lock files this process holds -> how many holders inside it


@contextmanager
def hold_lock(path: Path | str, refusal: Callable[[str], str]) -> Iterator[None]:
    """Hold ``path`` exclusively for the block, or raise UserError(refusal(holder)) at once
    (``holder`` names the process that holds it, e.g. "process 4242"). The file is removed after."""
    path = Path(path).absolute()
    if path in _held:
        _held[path] += 1
        try:
            yield
        finally:
            _held[path] -= 1
        return
    handle = _lock_file(path, refusal)
    _held[path] = 1
    try:
        yield
    finally:
        del _held[path]
        try:
            path.unlink()       # removed while still locked: a waiting opener then sees a new file
        except OSError:
            pass
        handle.close()          # closing drops the lock


def _lock_file(path: Path, refusal: Callable[[str], str]):
    while True:
        handle = open(path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            raise UserError(refusal(holder)) from None
        # The run that held it may have removed the file between our open and our lock; then this
        # lock is on a file nobody else will see, and a third run could lock a new one. Try again.
        try:
            current = os.stat(path)
        except FileNotFoundError:
            current = None
        mine = os.fstat(handle.fileno())
        if current is not None and (current.st_dev, current.st_ino) == (mine.st_dev, mine.st_ino):
            break
        handle.close()
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()}\n")
        handle.flush()
    except OSError:
        pass    # the note is for the refusal's wording only; the lock holds without it
    return handle
