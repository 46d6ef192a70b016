"""The one exception type for errors a user can cause, and the words for a file that could not be written."""
from __future__ import annotations

import errno
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


class UserError(Exception):
    """An error the user caused and can fix; the CLI prints it as one line and exits with code 2."""


# A write fails for one of two reasons a user can fix: there is no room (a full disk, a quota,
# a file-size limit), or the place refuses files (permissions, a read-only mount, a file where
# a folder should be).
NO_ROOM = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})
REFUSED = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR, errno.EEXIST})
# torch.save's zip writer swallows the OSError of a write that failed and reports these words
# instead (checkpoint.py recovers the OSError where it can; this catches the rest).
_TORCH_SHORT_WRITE = ("unexpected pos", "file write failed")


def is_write_failure(exc: BaseException) -> bool:
    if isinstance(exc, WriteFailed):
        return True
    if isinstance(exc, OSError):
        return exc.errno in NO_ROOM or exc.errno in REFUSED
    return isinstance(exc, RuntimeError) and any(words in str(exc) for words in _TORCH_SHORT_WRITE)


class WriteFailed(UserError, OSError):
    """``path`` could not be written because of ``cause``; ``then`` is what the user does after fixing it.

    A UserError, so a command prints it as one line; an OSError too, so code that skips a file
    it cannot write (translating a folder) keeps skipping it."""

    def __init__(self, path: str | Path, cause: BaseException, then: str = "run the command again"):
        if isinstance(cause, WriteFailed):
            cause = cause.cause
        OSError.__init__(self, getattr(cause, "errno", None), getattr(cause, "strerror", None) or str(cause),
                         str(path))
        self.path, self.cause, self.then = Path(path), cause, then

    def advising(self, then: str) -> "WriteFailed":
        """The same failure with other advice (training says how to resume)."""
        return WriteFailed(self.path, self.cause, then)

    def __str__(self) -> str:
        cause = self.cause
        if isinstance(cause, OSError) and cause.errno in REFUSED:
            where = cause.filename or self.path.parent
            return (f"cannot write to {where} ({cause.strerror or cause}): choose another folder or fix "
                    f"its permissions, and {self.then}")
        reason = f" ({cause.strerror})" if isinstance(cause, OSError) and cause.strerror else ""
        return f"disk full while writing {self.path}{reason}: free some space and {self.then}"


@contextmanager
def writing(path: str | Path, then: str = "run the command again") -> Iterator[None]:
    """Turn a full disk or a folder that refuses files, met inside the block, into a WriteFailed naming ``path``."""
    try:
        yield
    except (OSError, RuntimeError) as exc:
        if not is_write_failure(exc):
            raise
        raise WriteFailed(exc.path if isinstance(exc, WriteFailed) else path, exc, then) from None
