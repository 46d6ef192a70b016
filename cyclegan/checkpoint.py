"""Checkpoint files: atomic writes, and network weights in the reference's format.

Network files hold the bare module's state_dict (no ``module.`` or ``_orig_mod.`` prefixes),
so the reference's pretrained generators load into ours and ours into its code. Which file is
which in a run folder is ``runfolder.py``'s business.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .errors import UserError, writing


# Prefixes added by DistributedDataParallel and torch.compile wrappers.
_WRAPPER_PREFIXES = ("module.", "_orig_mod.")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    _atomic_write(Path(path), lambda f: f.write(data))


def atomic_torch_save(obj: Any, path: Path) -> None:
    """torch.save to a temp file in the same folder, fsync, then rename over ``path``.

    A kill at any moment leaves either the previous file or the new one, never a torn file.
    """
    _atomic_write(Path(path), lambda f: _torch_save(obj, f))


class _RecordingFile:
    """The file torch.save writes through, keeping what a write raised: torch's zip writer swallows
    it (a full disk's OSError, a second Ctrl-C's KeyboardInterrupt) and raises
    ``RuntimeError: ... unexpected pos`` in its place."""

    def __init__(self, file):
        self.file, self.error = file, None

    def write(self, data) -> int:
        try:
            return self.file.write(data)
        except BaseException as exc:
            self.error = exc
            raise

    def flush(self) -> None:
        self.file.flush()


def _torch_save(obj: Any, file) -> None:
    recording = _RecordingFile(file)
    try:
        torch.save(obj, recording)
    except RuntimeError:
        if recording.error is None:
            raise
        raise recording.error from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _atomic_write(path: Path, write) -> None:
    """A full disk or a folder that refuses files raises WriteFailed (one line naming ``path``)."""
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        _write_and_rename(fd, tmp, path, write)


def _write_and_rename(fd: int, tmp: str, path: Path, write) -> None:
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the user's usual mode
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def bare_state_dict(net: nn.Module) -> dict[str, torch.Tensor]:
    """The state_dict as the unwrapped network would give it."""
    return {strip_wrapper_prefixes(k): v.detach().cpu() for k, v in net.state_dict().items()}


def strip_wrapper_prefixes(key: str) -> str:
    changed = True
    while changed:
        changed = False
        for prefix in _WRAPPER_PREFIXES:
            if key.startswith(prefix):
                key, changed = key[len(prefix):], True
    return key


def unwrap(net: nn.Module) -> nn.Module:
    """The network inside DDP / torch.compile wrappers."""
    while True:
        inner = getattr(net, "module", None) or getattr(net, "_orig_mod", None)
        if inner is None or not isinstance(inner, nn.Module):
            return net
        net = inner


def load_torch_file(path: Path) -> Any:
    """torch.load with weights_only=True, turning a missing or broken file into a UserError."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint {path} does not exist")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip and unpickler errors all mean "not a usable file"
        reason = " ".join(str(exc).split())[:200]  # unpickler errors span many lines; keep one
        raise UserError(f"checkpoint {path} cannot be read ({type(exc).__name__}: {reason}); "
                        "it may be truncated or not a PyTorch file") from None


def clean_reference_state_dict(state: dict[str, torch.Tensor], net: nn.Module) -> dict[str, torch.Tensor]:
    """Adapt a reference-format state_dict to ``net``.

    Strips wrapper prefixes and drops the running_mean / running_var / num_batches_tracked
    entries that old PyTorch versions saved for InstanceNorm layers (the reference deletes
    them the same way), so its published pretrained files load.
    """
    state = {strip_wrapper_prefixes(k): v for k, v in state.items()}
    modules = dict(unwrap(net).named_modules())
    cleaned = {}
    for key, value in state.items():
        module_name, _, param = key.rpartition(".")
        module = modules.get(module_name)
        if (isinstance(module, nn.InstanceNorm2d) and not module.track_running_stats
                and param in ("running_mean", "running_var", "num_batches_tracked")):
            continue
        cleaned[key] = value
    return cleaned


def load_network(net: nn.Module, path: Path) -> nn.Module:
    """Load one network's weights (ours or the reference's) strictly, with a clear error on mismatch."""
    state = clean_reference_state_dict(load_torch_file(path), net)
    try:
        unwrap(net).load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        detail = first[1].strip() if len(first) > 1 else first[0]
        raise UserError(f"weights in {path} do not fit this architecture ({detail}); "
                        "check --netG/--netD/--ngf/--ndf/--norm") from None
    return net
