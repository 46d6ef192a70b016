"""The networks of CUT and FastCUT (Park et al., ECCV 2020), laid out like the public code.

The public code (taesungp/contrastive-unpaired-translation) keeps CycleGAN's ResNet generator and
70x70 PatchGAN but, by default, samples with anti-aliasing (Zhang, "Making convolutional networks
shift-invariant again", 2019): a stride-2 conv becomes a stride-1 conv followed by a fixed
[1, 2, 1] x [1, 2, 1] blur-and-subsample (``BlurDownsample``), and a transposed conv becomes a
fixed [1, 3, 3, 1] x [1, 3, 3, 1] blur-upsample followed by a stride-1 conv (``BlurUpsample``).
The blur filters are buffers named ``filt`` and are saved in the state_dict, so the layer order
below is the checkpoint format: with both options off the generator is exactly CycleGAN's
``ResnetGenerator``, key for key.

``PatchSampleF`` (the paper's H) projects sampled patch features of chosen generator layers with
a two-layer MLP per layer onto the unit sphere, where PatchNCE compares them.

Shape comments assume a 3 x H x W input, H and W multiples of 4.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .discriminator import NLayerDiscriminator
from .generator import ResnetBlock, ResnetGenerator
from .norms import NormFactory, conv_bias_for, get_norm_layer


def binomial_filter(size: int) -> Tensor:
    """size x size outer product of a binomial row ([1, 2, 1], [1, 3, 3, 1]), summing to 1."""
    row = _pascal_row(size)
    kernel = row[:, None] * row[None, :]
    return kernel / kernel.sum()


def _pascal_row(size: int) -> Tensor:
    row = [1.0]
    for _ in range(size - 1):
        row = [a + b for a, b in zip([0.0] + row, row + [0.0])]
    return torch.tensor(row)


class BlurDownsample(nn.Module):
    """Blur with [1, 2, 1]^2 then keep every second pixel: C x H x W -> C x H/2 x W/2."""

    def __init__(self, channels: int):
        super().__init__()
        self.pad = nn.ReflectionPad2d(1)                                    # C x (H+2) x (W+2)
        self.register_buffer("filt", binomial_filter(3)[None, None].repeat(channels, 1, 1, 1))  # C x 1 x 3 x 3

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(self.pad(x), self.filt, stride=2, groups=x.shape[1])   # C x H/2 x W/2


class BlurUpsample(nn.Module):
    """Insert zeros, blur with 4 x [1, 3, 3, 1]^2 (a bilinear-like upsampling): C x H x W -> C x 2H x 2W."""

    def __init__(self, channels: int):
        super().__init__()
        self.pad = nn.ReplicationPad2d(1)                                   # C x (H+2) x (W+2)
        self.register_buffer("filt", (binomial_filter(4) * 4)[None, None].repeat(channels, 1, 1, 1))  # C x 1 x 4 x 4

    def forward(self, x: Tensor) -> Tensor:
        y = F.conv_transpose2d(self.pad(x), self.filt, stride=2, padding=2, groups=x.shape[1])  # C x (2H+2) x (2W+2)
        return y[:, :, 1:-1, 1:-1]                                          # C x 2H x 2W


class AntialiasResnetGenerator(nn.Module):
    """CycleGAN's ResNet generator with anti-aliased down- and/or up-sampling (the CUT default).

    With antialias: c7s1-ngf, [conv3 s1, norm, relu, blur-down] x 2, n_blocks x R(4ngf),
    [blur-up, conv3 s1, norm, relu] x 2, c7s1-out, tanh. Indices (9 blocks, both on): 0 pad,
    1 conv, 2 norm, 3 relu, 4-7 first down, 8-11 second down, 12-20 blocks, 21-24 and 25-28 up,
    29 pad, 30 conv, 31 tanh. CUT's --nce_layers 0,4,8,12,16 are the padded input, the two
    down-sampling convs, and the first and fifth residual blocks.
    """

    size_multiple = 4   # sides the network takes (translate pads to it): two halvings
    min_size = 8        # smaller sides reach the blocks at 1 pixel, too small for reflection padding

    def __init__(self, input_nc: int = 3, output_nc: int = 3, ngf: int = 64, n_blocks: int = 9,
                 norm: NormFactory | None = None, use_dropout: bool = False,
                 antialias: bool = True, antialias_up: bool = True):
        super().__init__()
        norm = norm or get_norm_layer("instance")
        use_bias = conv_bias_for(norm)
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),                                          # in x (H+6) x (W+6)
            nn.Conv2d(input_nc, ngf, kernel_size=7, bias=use_bias),         # ngf x H x W
            norm(ngf),
            nn.ReLU(True),
        ]
        for mult in (1, 2):                                                 # width doubles, size halves
            width = ngf * mult * 2
            if antialias:
                layers += [
                    nn.Conv2d(ngf * mult, width, kernel_size=3, stride=1, padding=1, bias=use_bias),  # 2w x h x w
                    norm(width),
                    nn.ReLU(True),
                    BlurDownsample(width),                                  # width x h/2 x w/2
                ]
            else:
                layers += [
                    nn.Conv2d(ngf * mult, width, kernel_size=3, stride=2, padding=1, bias=use_bias),  # width x h/2 x w/2
                    norm(width),
                    nn.ReLU(True),
                ]
        layers += [ResnetBlock(ngf * 4, norm, use_dropout, use_bias)        # 4ngf x H/4 x W/4
                   for _ in range(n_blocks)]
        for mult in (4, 2):                                                 # width halves, size doubles
            width = ngf * mult // 2
            if antialias_up:
                layers += [
                    BlurUpsample(ngf * mult),                               # ngf*mult x 2h x 2w
                    nn.Conv2d(ngf * mult, width, kernel_size=3, stride=1, padding=1, bias=use_bias),  # width x 2h x 2w
                    norm(width),
                    nn.ReLU(True),
                ]
            else:
                layers += [
                    nn.ConvTranspose2d(ngf * mult, width, kernel_size=3, stride=2, padding=1,
                                       output_padding=1, bias=use_bias),    # width x 2h x 2w
                    norm(width),
                    nn.ReLU(True),
                ]
        layers += [
            nn.ReflectionPad2d(3),                                          # ngf x (H+6) x (W+6)
            nn.Conv2d(ngf, output_nc, kernel_size=7),                       # out x H x W
            nn.Tanh(),                                                      # values in [-1, 1]
        ]
        self.model = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


def create_cut_generator(n_blocks: int, *, input_nc: int = 3, output_nc: int = 3, ngf: int = 64,
                         norm: str = "instance", use_dropout: bool = False, antialias: bool = True,
                         antialias_up: bool = True) -> nn.Module:
    """CUT's generator; with both anti-aliasing options off, CycleGAN's own (same keys either way)."""
    if not (antialias or antialias_up):
        return ResnetGenerator(input_nc, output_nc, ngf, n_blocks, get_norm_layer(norm), use_dropout)
    return AntialiasResnetGenerator(input_nc, output_nc, ngf, n_blocks, get_norm_layer(norm), use_dropout,
                                    antialias, antialias_up)


def encoder_features(generator: nn.Module, x: Tensor, layers: list[int]) -> list[Tensor]:
    """The outputs of ``generator.model[i]`` for each i in ``layers`` (sorted), stopping after the
    last one: the encoder features PatchNCE compares. Works for every ResNet generator here."""
    feats, last = [], max(layers)
    for index, layer in enumerate(generator.model):
        x = layer(x)
        if index in layers:
            feats.append(x)
        if index == last:
            break
    return feats


def run_keeping_features(generator: nn.Module, x: Tensor, layers: list[int]) -> tuple[Tensor, list[Tensor]]:
    """``generator(x)``, and the outputs of ``generator.model[i]`` for each i in ``layers`` on the
    way, detached: the encoder features of x that ``encoder_features`` would compute again."""
    feats = []
    for index, layer in enumerate(generator.model):
        x = layer(x)
        if index in layers:
            feats.append(x.detach())
    return x, feats


class AntialiasNLayerDiscriminator(nn.Module):
    """The 70x70 PatchGAN with each stride-2 conv replaced by a stride-1 conv and a blur-down."""

    def __init__(self, input_nc: int = 3, ndf: int = 64, n_layers: int = 3, norm: NormFactory | None = None):
        super().__init__()
        norm = norm or get_norm_layer("instance")
        use_bias = conv_bias_for(norm)
        layers: list[nn.Module] = [
            nn.Conv2d(input_nc, ndf, kernel_size=4, stride=1, padding=1),   # ndf x (H-1) x (W-1)
            nn.LeakyReLU(0.2, True),
            BlurDownsample(ndf),                                            # ndf x ~H/2 x ~W/2
        ]
        width = ndf
        for n in range(1, n_layers):                     # width doubles (capped at 8ndf), size halves
            next_width = ndf * min(2 ** n, 8)
            layers += [
                nn.Conv2d(width, next_width, kernel_size=4, stride=1, padding=1, bias=use_bias),  # h-1 x w-1
                norm(next_width),
                nn.LeakyReLU(0.2, True),
                BlurDownsample(next_width),                                 # ~h/2 x ~w/2
            ]
            width = next_width
        next_width = ndf * min(2 ** n_layers, 8)
        layers += [
            nn.Conv2d(width, next_width, kernel_size=4, stride=1, padding=1, bias=use_bias),  # (h-1) x (w-1)
            norm(next_width),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(next_width, 1, kernel_size=4, stride=1, padding=1),   # 1 x (h-2) x (w-2)
        ]
        self.model = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


def create_cut_discriminator(netD: str, *, input_nc: int = 3, ndf: int = 64, n_layers: int = 3,
                             norm: str = "instance", antialias: bool = True) -> nn.Module:
    """basic / n_layers: the PatchGAN, anti-aliased unless told not to; pixel: as CycleGAN's."""
    if netD in ("basic", "n_layers") and antialias:
        return AntialiasNLayerDiscriminator(input_nc, ndf, 3 if netD == "basic" else n_layers, get_norm_layer(norm))
    from . import create_discriminator
    return create_discriminator(netD, input_nc=input_nc, ndf=ndf, n_layers=n_layers, norm=norm)


class PatchSampleF(nn.Module):
    """H in the paper: per layer, sample patch positions, project each patch's feature vector
    with Linear-ReLU-Linear (``--netF mlp_sample``; ``sample``: no projection), L2-normalise.

    The MLPs' input widths are the generator layers' channel counts, known only once features
    are seen; ``build(channels)`` makes them (``mlp_<i>.0`` / ``mlp_<i>.2``, the public keys).
    The model calls it at construction with the channels of a small dummy forward, so the
    weights exist before optimisers, checkpoints and resume touch them.
    """

    def __init__(self, use_mlp: bool = True, nc: int = 256):
        super().__init__()
        self.use_mlp, self.nc = use_mlp, nc
        self.built = not use_mlp

    def build(self, channels: list[int]) -> None:
        if self.use_mlp:
            for index, width in enumerate(channels):
                self.add_module(f"mlp_{index}", nn.Sequential(
                    nn.Linear(width, self.nc),          # patches x nc
                    nn.ReLU(),
                    nn.Linear(self.nc, self.nc),        # patches x nc
                ))
        self.built = True

    def forward(self, feats: list[Tensor], num_patches: int, patch_ids: list[Tensor] | None = None,
                generator: torch.Generator | None = None) -> tuple[list[Tensor], list[Tensor]]:
        """Each B x C x H x W feature -> (B * P) x nc unit vectors, P = min(num_patches, H*W) positions
        drawn with ``generator`` (the same positions for every image of the batch), or the given
        ``patch_ids`` so that query and key patches sit at the same places."""
        if not self.built:
            self.build([f.shape[1] for f in feats])
        sampled, ids = [], []
        for index, feat in enumerate(feats):
            flat = feat.permute(0, 2, 3, 1).flatten(1, 2)                   # B x HW x C
            if patch_ids is not None:
                chosen = patch_ids[index]
            else:
                chosen = torch.randperm(flat.shape[1], generator=generator)[:min(num_patches, flat.shape[1])]
                chosen = chosen.to(feat.device)
            x = flat[:, chosen, :].flatten(0, 1)                            # (B * P) x C
            if self.use_mlp:
                x = getattr(self, f"mlp_{index}")(x)                        # (B * P) x nc
            sampled.append(x / (x.norm(p=2, dim=1, keepdim=True) + 1e-7))   # unit length
            ids.append(chosen)
        return sampled, ids
