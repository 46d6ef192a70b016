"""A texture loss for the generators (``--lambda_texture``): the domain's texture statistics.

A discriminator teaches a generator a domain's texture one step at a time, and on a CPU's budget
of a few thousand small steps it teaches the palette and stops there (docs/BENCHMARKS.md,
"Recolouring or translating"). The statistics of a fixed random convolutional network, the Gram
matrices of its feature maps at three scales, describe a texture well enough to synthesise it
(Ustyuzhaninov et al. 2017, "What does it take to generate natural textures?"), and matching them
gives every step a direct gradient toward the other domain's strokes, flats and grain. The target
is the real image of the other domain in the same step: over the run that pulls G's outputs to the
domain's average statistics (unbiased, and no state to save), while the cycle holds the scene.

The network is fixed, drawn from its own seed (never from the run's random stream, so a run with
the loss off is the run it always was), and is the same in every run and on every resume.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

SCALES = 3          # feature maps at full, half and quarter size
WIDTH = 64          # random filters per scale
FIRST_KERNEL = 5    # the first layer's filters see 5x5 pixels, the later ones 3x3 of the layer below
SEED = 20170301


class RandomTextureFeatures(nn.Module):
    """Gram matrices (C x C, divided by the pixel count) of a fixed random ReLU network, per scale."""

    def __init__(self, input_nc: int = 1, width: int = WIDTH, scales: int = SCALES, seed: int = SEED):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        layers = []
        for scale in range(scales):
            in_ch, kernel = (input_nc, FIRST_KERNEL) if scale == 0 else (width, 3)
            # skip_init: nn.Conv2d's own initialisation would draw from the run's random stream
            conv = nn.utils.skip_init(nn.Conv2d, in_ch, width, kernel, padding=kernel // 2, padding_mode="reflect")
            fan_in = in_ch * kernel * kernel
            with torch.no_grad():   # He initialisation keeps the activations at scale through the layers
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator) * (2.0 / fan_in) ** 0.5)
                conv.bias.copy_(torch.randn(width, generator=generator) * 0.1)
            layers.append(conv)
        self.layers = nn.ModuleList(layers)
        self.requires_grad_(False)

    def forward(self, images: Tensor) -> list[Tensor]:
        grams, x = [], detail(images.float())
        for index, conv in enumerate(self.layers):
            if index > 0:
                x = F.avg_pool2d(x, 2)
            x = F.relu(conv(x))                                      # N x C x H x W
            flat = x.flatten(2)                                      # N x C x HW
            grams.append(flat @ flat.transpose(1, 2) / flat.shape[2])  # N x C x C
        return grams


def detail(images: Tensor) -> Tensor:
    """The grey image minus its 5x5 local mean: texture without colour or shading."""
    grey = images.mean(1, keepdim=True)
    local_mean = F.avg_pool2d(F.pad(grey, (2, 2, 2, 2), mode="reflect"), 5, stride=1)
    return (grey - local_mean) * 4.0


def texture_distance(features: RandomTextureFeatures, images: Tensor, targets: Tensor) -> Tensor:
    """Sum over scales of the squared distance between the images' Gram matrices and the targets'
    batch-average ones, relative to the targets' size (so a weight means the same at every scale)."""
    loss = images.new_zeros((), dtype=torch.float32)
    with torch.no_grad():
        target_grams = [g.mean(0, keepdim=True) for g in features(targets)]
    for gram, target in zip(features(images), target_grams):
        loss = loss + (gram - target).pow(2).mean() / target.pow(2).mean().clamp_min(1e-8)
    return loss
