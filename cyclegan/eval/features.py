"""Feature extractors for KID and FID: each one a fixed resize protocol plus a frozen network.

FID and KID values are comparable only under one protocol (network, weights, layer, resizer), so
every extractor names all of it in ``describe()`` and the CLI prints that line with the result.

- ``inception``: Inception-v3 pool3 (2048-d) with the TensorFlow FID weights, through
  torch-fidelity, images resized to 299x299 by its TF1-compatible bilinear resize: the protocol
  of the FID/KID literature. Needs torch-fidelity and its weight file on disk (never downloaded
  behind the user's back; ``download_inception_weights`` fetches it on request).
- ``random``: a fixed, seeded random convolutional network. Works anywhere, offline, and orders
  models sensibly, but its numbers are not comparable to published ones.
- ``torchvision:NAME``: the penultimate layer of a torchvision classifier whose weights the user
  has (``--features-weights PATH`` or torchvision's own cache).
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from cyclegan.progress import progress_bar
from ..errors import UserError

# torch-fidelity's conversion of the TensorFlow Inception weights used by the FID literature.
DEFAULT_INCEPTION_URL = ("https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
                         "weights-inception-2015-12-05-6726825d.pth")
INCEPTION_URL_ENV = "CYCLEGAN_INCEPTION_URL"   # another mirror, or a local server in tests

RANDOM_SEED = 0
RANDOM_SIZE = 128          # random extractor input side
TORCHVISION_SIZE = 224
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class FeatureExtractor:
    name: str              # inception | random | torchvision:NAME
    network: str           # what produces the features, in words
    resizer: str           # the fixed resize protocol
    dim: int
    comparable: bool       # comparable with published FID/KID numbers
    module: nn.Module      # uint8 N x 3 x H x W -> float N x dim
    device: torch.device

    def describe(self) -> str:
        note = "" if self.comparable else "; NOT comparable to published FID/KID numbers"
        return f"{self.name}: {self.network}, {self.dim}-d; images {self.resizer}{note}"

    @torch.no_grad()
    def features(self, images: Iterable[Image.Image], count: int | None = None, batch_size: int = 16,
                 desc: str | None = None) -> np.ndarray:
        """Features of RGB images (any sizes) as a float64 count x dim array."""
        out: list[np.ndarray] = []
        batch: list[Image.Image] = []
        bar = progress_bar(total=count, desc=desc, unit="img", disable=desc is None, leave=False)

        def run(batch):
            # images of one size go through together; the resizer inside makes every output alike
            by_size: dict[tuple[int, int], list[int]] = {}
            for i, image in enumerate(batch):
                by_size.setdefault(image.size, []).append(i)
            rows: list[np.ndarray | None] = [None] * len(batch)
            for indices in by_size.values():
                x = torch.stack([torch.from_numpy(np.asarray(batch[i].convert("RGB")).copy()) for i in indices])
                y = self.module(x.permute(0, 3, 1, 2).contiguous().to(self.device))   # N x 3 x H x W uint8
                for i, row in zip(indices, y.double().cpu().numpy()):
                    rows[i] = row
            out.extend(rows)  # type: ignore[arg-type]
            bar.update(len(batch))

        for image in images:
            batch.append(image)
            if len(batch) == batch_size:
                run(batch)
                batch = []
        if batch:
            run(batch)
        bar.close()
        return np.stack(out) if out else np.zeros((0, self.dim))


# --------------------------------------------------------------------------
# random: a fixed, seeded convolutional network
# --------------------------------------------------------------------------


class RandomConvFeatures(nn.Module):
    """Four strided random convolutions; the features are each layer's channel means (480-d).

    Weights come from a private generator with a fixed seed, so the extractor is the same on
    every machine and run, and building it never touches the global RNG (training stays exact).
    Means of several depths keep colour (layer 1) as well as texture and structure (deeper).
    """
    widths = (32, 64, 128, 256)

    def __init__(self, seed: int = RANDOM_SEED):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        layers, c_in = [], 3
        for c_out in self.widths:
            # skip_init: no default initialisation, so the global RNG is never drawn from
            conv = torch.nn.utils.skip_init(nn.Conv2d, c_in, c_out, kernel_size=4, stride=2, padding=1)
            with torch.no_grad():
                # He-style scale so activations neither vanish nor explode through the stack
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator) * (2.0 / (c_in * 16)) ** 0.5)
                conv.bias.zero_()
            layers.append(conv)
            c_in = c_out
        self.convs = nn.ModuleList(layers)
        self.requires_grad_(False)
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float().div(127.5).sub(1.0)                                              # N x 3 x H x W in [-1, 1]
        x = F.interpolate(x, size=(RANDOM_SIZE, RANDOM_SIZE), mode="bilinear", antialias=True,
                          align_corners=False)                                         # N x 3 x 128 x 128
        means = []
        for conv in self.convs:   # 128 -> 64 -> 32 -> 16 -> 8 pixels; 32, 64, 128, 256 channels
            x = F.leaky_relu(conv(x), 0.2)
            means.append(x.mean(dim=(2, 3)))
        return torch.cat(means, dim=1)                                                 # N x 480


# --------------------------------------------------------------------------
# inception: torch-fidelity's Inception-v3 with the TensorFlow FID weights
# --------------------------------------------------------------------------


def inception_url() -> str:
    return os.environ.get(INCEPTION_URL_ENV) or DEFAULT_INCEPTION_URL


def inception_cache_path() -> Path:
    """Where torch-fidelity (torch.hub) keeps the weights: $TORCH_HOME/hub/checkpoints/<file name>."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(inception_url()).name


def _how_to_get_inception_weights() -> str:
    return (f"get them with `cyclegan-eval --download-inception` (from {inception_url()}) on a machine with "
            f"internet and copy the file to {inception_cache_path()}, or pass --inception-weights PATH")


def inception_weights(path: str | Path | None) -> Path | None:
    """The weight file to use: ``path`` if given (it must exist), else the cache's, else None."""
    if path is not None:
        path = Path(path).expanduser()
        if not path.is_file():
            raise UserError(f"--inception-weights {path}: file not found")
        return path
    cached = inception_cache_path()
    return cached if cached.is_file() else None


def _torch_fidelity_available() -> bool:
    import importlib.util
    return importlib.util.find_spec("torch_fidelity") is not None


def inception_available(path: str | Path | None = None) -> bool:
    return _torch_fidelity_available() and inception_weights(path) is not None


def _inception_extractor(weights_path: str | Path | None, device: torch.device) -> FeatureExtractor:
    path = inception_weights(weights_path)
    missing, how = [], []
    if not _torch_fidelity_available():
        missing.append("the torch-fidelity package (pip install torch-fidelity, or pip install -e '.[eval]')")
    if path is None:
        missing.append(f"the Inception weights, which are not on this machine "
                       f"(looked for {inception_cache_path()})")
        how.append(_how_to_get_inception_weights())
    if missing:
        how.append("or use --features random (works offline, not comparable to published numbers)")
        raise UserError("Inception-v3 features need " + " and ".join(missing) + "; " + "; ".join(how))
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    try:
        # torch-fidelity unpickles the file in full; read it as plain tensors first, so a file that
        # is not (or runs code when unpickled) is refused before that
        torch.load(path, map_location="cpu", weights_only=True)
        module = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(path))
    except Exception as exc:  # unpickling or key mismatch: the file is not these weights
        raise UserError(f"Inception-v3 weights {path} cannot be loaded ({type(exc).__name__}); "
                        f"it is not torch-fidelity's {Path(DEFAULT_INCEPTION_URL).name} or it is damaged") from None
    return FeatureExtractor("inception", f"Inception-v3 pool3 (TF FID weights, {path.name})",
                            "resized to 299x299 (TF1-compatible bilinear, as in the FID literature)",
                            2048, True, _FirstOutput(module).to(device).eval(), device)


class _FirstOutput(nn.Module):
    """torch-fidelity returns a tuple of the requested layers; we request one (pool3)."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x)[0]                                                      # N x 2048


def download_inception_weights(progress: bool = True) -> Path:
    """Fetch the Inception weights into torch.hub's cache (atomically, checking the hash in the name)."""
    url, target = inception_url(), inception_cache_path()
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # torch.hub's convention: name-<first hex digits of the sha256>.ext
    match = re.search(r"-([0-9a-f]{8,})\.[A-Za-z0-9]+$", target.name)
    try:
        torch.hub.download_url_to_file(url, str(target), hash_prefix=match.group(1) if match else None,
                                       progress=progress)
    except Exception as exc:  # network errors, HTTP errors, hash mismatch
        raise UserError(f"could not download {url} ({type(exc).__name__}: {exc}); "
                        f"copy the file to {target} by hand instead") from None
    return target


# --------------------------------------------------------------------------
# torchvision:NAME: a classifier the user has weights for
# --------------------------------------------------------------------------


class _Penultimate(nn.Module):
    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net
        mean, std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
        self.register_buffer("mean", mean.view(1, 3, 1, 1))
        self.register_buffer("std", std.view(1, 3, 1, 1))

    def forward(self, x):
        x = x.float().div(255.0)
        x = F.interpolate(x, size=(TORCHVISION_SIZE, TORCHVISION_SIZE), mode="bilinear", antialias=True,
                          align_corners=False)                                   # N x 3 x 224 x 224
        return self.net((x - self.mean) / self.std).flatten(1)


def _replace_last_linear(net: nn.Module) -> int:
    """Swap the classifier's final Linear layer for Identity; return the feature size."""
    last = None
    for name, module in net.named_modules():
        if isinstance(module, nn.Linear):
            last = (name, module)
    if last is None:
        raise UserError("this torchvision model has no final Linear layer to take features before")
    name, linear = last
    parent = net
    *path, leaf = name.split(".")
    for part in path:
        parent = getattr(parent, part)
    setattr(parent, leaf, nn.Identity())
    return linear.in_features


def _torchvision_extractor(model_name: str, weights_path: str | Path | None, device: torch.device) -> FeatureExtractor:
    import torchvision
    known = torchvision.models.list_models(module=torchvision.models)
    if model_name not in known:
        raise UserError(f"--features torchvision:{model_name}: not a torchvision classifier "
                        f"(e.g. resnet50, vgg16, mobilenet_v3_small)")
    net = torchvision.models.get_model(model_name, weights=None)
    if weights_path is not None:
        path = Path(weights_path).expanduser()
        if not path.is_file():
            raise UserError(f"--features-weights {path}: file not found")
    else:
        weights = torchvision.models.get_model_weights(model_name).DEFAULT
        path = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
        if not path.is_file():
            raise UserError(f"--features torchvision:{model_name}: weights not on this machine (looked for {path}); "
                            f"download {weights.url} there, or pass --features-weights PATH")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        net.load_state_dict(state)
    except Exception as exc:
        raise UserError(f"--features-weights {path}: not {model_name} weights ({type(exc).__name__})") from None
    dim = _replace_last_linear(net)
    module = _Penultimate(net).to(device).eval().requires_grad_(False)
    return FeatureExtractor(f"torchvision:{model_name}", f"{model_name} penultimate layer ({path.name})",
                            f"resized to {TORCHVISION_SIZE}x{TORCHVISION_SIZE} (bilinear, antialiased), "
                            "ImageNet normalisation", dim, False, module, device)


# --------------------------------------------------------------------------


def random_extractor(device: torch.device | str = "cpu") -> FeatureExtractor:
    device = torch.device(device)
    return FeatureExtractor("random", f"fixed random 4-layer conv net (seed {RANDOM_SEED})",
                            f"resized to {RANDOM_SIZE}x{RANDOM_SIZE} (bilinear, antialiased)",
                            sum(RandomConvFeatures.widths), False, RandomConvFeatures().to(device), device)


def build_extractor(name: str = "inception", device: torch.device | str = "cpu",
                    inception_weights_path: str | Path | None = None,
                    features_weights: str | Path | None = None) -> FeatureExtractor:
    """The extractor called ``name``; ``auto`` is Inception when it is available here, else random."""
    device = torch.device(device)
    if name == "auto":
        name = "inception" if inception_available(inception_weights_path) else "random"
    if name == "inception":
        return _inception_extractor(inception_weights_path, device)
    if name == "random":
        return random_extractor(device)
    if name.startswith("torchvision:"):
        return _torchvision_extractor(name.split(":", 1)[1], features_weights, device)
    raise UserError(f"--features {name}: choose inception, random, auto or torchvision:NAME "
                    "(e.g. torchvision:resnet50)")
