"""What every command-line front end shares: one-line errors, both option spellings."""
from __future__ import annotations

import argparse
import sys
import warnings
from typing import Callable

from ..errors import UserError


class Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line (exit 2) instead of usage + error."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def add_option(group, name: str, *aliases: str, **kwargs) -> None:
    """Register ``--name`` plus its other spelling: reference users type --lambda_A, others --lambda-A."""
    body = name.lstrip("-")
    spellings = [f"--{body}", f"--{body.replace('_', '-')}", f"--{body.replace('-', '_')}", *aliases]
    unique = list(dict.fromkeys(spellings))
    kwargs.setdefault("dest", body.replace("-", "_"))
    group.add_argument(*unique, **kwargs)


def run_cli(prog: str, main: Callable[[], int]) -> int:
    """Run ``main``; a UserError becomes one line on stderr and exit code 2."""
    warnings.formatwarning = lambda message, category, *rest: f"{prog}: warning: {message}\n"
    # A file name that is not UTF-8 (kept by Python as lone surrogates) prints as \xe9 escapes
    # instead of ending the command with UnicodeEncodeError after the work is done.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    try:
        return main()
    except UserError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
