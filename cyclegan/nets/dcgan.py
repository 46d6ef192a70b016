"""The DCGAN networks (Radford et al. 2016): the unconditional baseline beside CycleGAN.

Generator: a latent vector z (nz x 1 x 1) grows to an image through transposed convolutions,
each doubling the side, with batch norm and ReLU between them and tanh at the end. The
discriminator mirrors it with strided convolutions and LeakyReLU(0.2), batch norm from its
second layer on, and ends in one logit per image (the loss applies the sigmoid).

At the default 64x64 the layout is the paper's (and pytorch/examples' dcgan):

    G: nz x 1 -> 8ngf x 4 -> 4ngf x 8 -> 2ngf x 16 -> ngf x 32 -> C x 64
    D: C x 64 -> ndf x 32 -> 2ndf x 16 -> 4ndf x 8 -> 8ndf x 4 -> 1 x 1

Each halving of ``image_size`` removes one middle stage (32x32 stops at 4ngf/4ndf), each
doubling adds one (128x128 starts at 16ngf / ends at 16ndf). Shape comments use
S = image_size and k = stages between the 4x4 layer and the outer layer.
"""
from __future__ import annotations

import math

from torch import Tensor, nn

from ..errors import UserError
from ..models.dcgan import CHANNELS, IMAGE_SIZES
from .init import init_weights


def middle_stages(image_size: int) -> int:
    """Stride-2 stages between the 4x4 layer and the outer one: 2 at 32, 3 at 64, 4 at 128."""
    if image_size not in IMAGE_SIZES:
        raise UserError(f"--image_size {image_size}: choose one of {', '.join(map(str, IMAGE_SIZES))}")
    return int(math.log2(image_size)) - 3


def _check_channels(channels: int) -> None:
    if channels not in CHANNELS:
        raise UserError(f"--channels {channels}: choose 1 (grayscale) or 3 (colour)")


class DCGANGenerator(nn.Module):
    """z (N x nz x 1 x 1) -> image (N x channels x image_size x image_size) in [-1, 1]."""

    def __init__(self, nz: int = 100, ngf: int = 64, channels: int = 3, image_size: int = 64):
        super().__init__()
        _check_channels(channels)
        k = middle_stages(image_size)
        width = ngf * 2 ** k
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(nz, width, 4, 1, 0, bias=False),    # N x ngf*2^k x 4 x 4
            nn.BatchNorm2d(width),                                 # N x ngf*2^k x 4 x 4
            nn.ReLU(True),                                         # N x ngf*2^k x 4 x 4
        ]
        for _ in range(k):  # input N x width x side x side, side = 4, 8, ... S/4
            layers += [
                nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),  # N x width/2 x 2side x 2side
                nn.BatchNorm2d(width // 2),                                  # N x width/2 x 2side x 2side
                nn.ReLU(True),                                               # N x width/2 x 2side x 2side
            ]
            width //= 2
        # here width == ngf and the side is S/2
        layers += [
            nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False),  # N x channels x S x S
            nn.Tanh(),                                                 # N x channels x S x S, in [-1, 1]
        ]
        self.main = nn.Sequential(*layers)
        self.nz, self.channels, self.image_size = nz, channels, image_size

    def forward(self, z: Tensor) -> Tensor:
        if z.dim() == 2:  # N x nz is accepted too
            z = z[:, :, None, None]
        return self.main(z)


class DCGANDiscriminator(nn.Module):
    """image (N x channels x S x S) -> one logit per image (N,); positive means 'real'."""

    def __init__(self, ndf: int = 64, channels: int = 3, image_size: int = 64):
        super().__init__()
        _check_channels(channels)
        k = middle_stages(image_size)
        layers: list[nn.Module] = [
            nn.Conv2d(channels, ndf, 4, 2, 1, bias=False),   # N x ndf x S/2 x S/2 (no batch norm here)
            nn.LeakyReLU(0.2, inplace=True),                 # N x ndf x S/2 x S/2
        ]
        width = ndf
        for _ in range(k):  # input N x width x side x side, side = S/2, S/4, ... 8
            layers += [
                nn.Conv2d(width, width * 2, 4, 2, 1, bias=False),  # N x 2width x side/2 x side/2
                nn.BatchNorm2d(width * 2),                         # N x 2width x side/2 x side/2
                nn.LeakyReLU(0.2, inplace=True),                   # N x 2width x side/2 x side/2
            ]
            width *= 2
        # here width == ndf*2^k and the side is 4
        layers += [nn.Conv2d(width, 1, 4, 1, 0, bias=False)]  # N x 1 x 1 x 1: the logit
        self.main = nn.Sequential(*layers)
        self.channels, self.image_size = channels, image_size

    def forward(self, x: Tensor) -> Tensor:
        return self.main(x).flatten()  # N


def create_dcgan(nz: int = 100, ngf: int = 64, ndf: int = 64, channels: int = 3,
                 image_size: int = 64) -> tuple[DCGANGenerator, DCGANDiscriminator]:
    """Both networks with the paper's initialisation: conv N(0, 0.02), batch-norm scale N(1, 0.02)."""
    if nz < 1 or ngf < 1 or ndf < 1:
        raise UserError(f"--nz, --ngf and --ndf must be at least 1 (got {nz}, {ngf}, {ndf})")
    G = init_weights(DCGANGenerator(nz, ngf, channels, image_size), "normal", 0.02)
    D = init_weights(DCGANDiscriminator(ndf, channels, image_size), "normal", 0.02)
    return G, D
