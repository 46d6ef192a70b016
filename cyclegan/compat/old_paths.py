"""Old import paths, for one release: ``cyclegan.train.*`` (now ``cyclegan/training/``) and the
modules that sat loose at the package's top level before they were grouped by layer
(``cyclegan.translate`` is now ``cyclegan.inference.translate``, ...: ``GROUPED`` below).

The training package was renamed so that ``cyclegan.train`` is plainly the function (``from
cyclegan import train``) instead of a name shared by a function and a subpackage. An import of an
old path (``import cyclegan.train.registry``, ``from cyclegan.translate import Translator``) still
works, gives the very same module objects, and warns once that the path changes in the next release.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import types
import warnings

OLD, NEW = "cyclegan.train", "cyclegan.training"
MOVED = {"cyclegan.train.known_answer": "cyclegan.quality.known_answer"}   # left training with the rename
# The top-level modules grouped into packages by layer (docs/ARCHITECTURE.md), old -> new.
GROUPED = {
    "cyclegan.generators": "cyclegan.inference.generators",
    "cyclegan.translate": "cyclegan.inference.translate",
    "cyclegan.translate_files": "cyclegan.inference.translate_files",
    "cyclegan.sample": "cyclegan.inference.sample",
    "cyclegan.export": "cyclegan.inference.export",
    "cyclegan.reference_test": "cyclegan.inference.reference_test",
    "cyclegan.locks": "cyclegan.inference.locks",
    "cyclegan.losses": "cyclegan.training.losses",
    "cyclegan.pool": "cyclegan.training.pool",
    "cyclegan.images": "cyclegan.data.pixels",
    "cyclegan.metrics_digits": "cyclegan.metrics.digits",
    "cyclegan.run": "cyclegan.compose.run",
    "cyclegan.presets": "cyclegan.compose.presets",
    "cyclegan.bench": "cyclegan.compose.bench",
    "cyclegan.reference_options": "cyclegan.compat.reference_options",
}


class _CallableOldPackage(types.ModuleType):
    """The old ``cyclegan.train`` package, for old imports: its attributes are ``cyclegan.training``'s,
    and calling it trains, since importing it binds ``cyclegan.train`` to it in place of the function."""

    def __getattr__(self, name: str):
        return getattr(importlib.import_module(NEW), name)

    def __call__(self, *args, **kwargs):
        from ..compose.run import train
        return train(*args, **kwargs)


class _OldPathLoader(importlib.abc.Loader):
    def __init__(self, new_name: str):
        self.new_name = new_name

    def create_module(self, spec):
        why = ("the package's modules are grouped by layer" if spec.name in GROUPED else
               "cyclegan.train.* moved to cyclegan.training.*, so that cyclegan.train is the function")
        warnings.warn(f"{spec.name} is now {self.new_name} ({why}); the old path goes in the next release",
                      DeprecationWarning, stacklevel=2)
        module = importlib.import_module(self.new_name)
        if spec.name != OLD:
            return module   # the same module object under both names: patches and isinstance agree
        alias = _CallableOldPackage(OLD, module.__doc__)
        alias.__path__ = []   # a package, so that old submodule paths import (through this finder)
        return alias

    def exec_module(self, module) -> None:
        pass


class OldPathFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname in GROUPED:
            return importlib.util.spec_from_loader(fullname, _OldPathLoader(GROUPED[fullname]))
        if fullname != OLD and not fullname.startswith(OLD + "."):
            return None
        new_name = MOVED.get(fullname, NEW + fullname[len(OLD):])
        return importlib.util.spec_from_loader(fullname, _OldPathLoader(new_name), is_package=fullname == OLD)


def install() -> None:
    if not any(isinstance(finder, OldPathFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, OldPathFinder())
