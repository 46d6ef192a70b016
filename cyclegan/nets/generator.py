"""ResNet-block generator after Johnson et al., laid out exactly like the reference CycleGAN.

The layer order inside ``self.model`` is part of the checkpoint format: the reference saves
``model.<index>.<param>`` keys, so its pretrained generators load into ours (and ours into its
code) only while every index stays where it is. Shape comments assume a 3 x H x W input,
with H and W multiples of 4.
"""
from __future__ import annotations

from torch import Tensor, nn

from .norms import NormFactory, conv_bias_for


class ResnetBlock(nn.Module):
    """x + conv_block(x): two reflection-padded 3x3 convolutions at constant width."""

    def __init__(self, dim: int, norm: NormFactory, use_dropout: bool, use_bias: bool):
        super().__init__()
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(1),                                  # dim x (h+2) x (w+2)
            nn.Conv2d(dim, dim, kernel_size=3, bias=use_bias),      # dim x h x w
            norm(dim),
            nn.ReLU(True),
        ]
        if use_dropout:
            layers.append(nn.Dropout(0.5))
        layers += [
            nn.ReflectionPad2d(1),                                  # dim x (h+2) x (w+2)
            nn.Conv2d(dim, dim, kernel_size=3, bias=use_bias),      # dim x h x w
            norm(dim),
        ]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """c7s1-ngf, d(2ngf), d(4ngf), n_blocks x R(4ngf), u(2ngf), u(ngf), c7s1-out, tanh."""

    def __init__(self, input_nc: int = 3, output_nc: int = 3, ngf: int = 64, n_blocks: int = 9,
                 norm: NormFactory | None = None, use_dropout: bool = False):
        super().__init__()
        if norm is None:
            from .norms import get_norm_layer
            norm = get_norm_layer("instance")
        use_bias = conv_bias_for(norm)
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),                                          # in x (H+6) x (W+6)
            nn.Conv2d(input_nc, ngf, kernel_size=7, bias=use_bias),         # ngf x H x W
            norm(ngf),
            nn.ReLU(True),
            nn.Conv2d(ngf, ngf * 2, kernel_size=3, stride=2, padding=1, bias=use_bias),      # 2ngf x H/2 x W/2
            norm(ngf * 2),
            nn.ReLU(True),
            nn.Conv2d(ngf * 2, ngf * 4, kernel_size=3, stride=2, padding=1, bias=use_bias),  # 4ngf x H/4 x W/4
            norm(ngf * 4),
            nn.ReLU(True),
        ]
        layers += [ResnetBlock(ngf * 4, norm, use_dropout, use_bias)                 # 4ngf x H/4 x W/4
                   for _ in range(n_blocks)]
        layers += [
            nn.ConvTranspose2d(ngf * 4, ngf * 2, kernel_size=3, stride=2, padding=1,
                               output_padding=1, bias=use_bias),                   # 2ngf x H/2 x W/2
            norm(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, kernel_size=3, stride=2, padding=1,
                               output_padding=1, bias=use_bias),                   # ngf x H x W
            norm(ngf),
            nn.ReLU(True),
            nn.ReflectionPad2d(3),                                          # ngf x (H+6) x (W+6)
            nn.Conv2d(ngf, output_nc, kernel_size=7),                       # out x H x W
            nn.Tanh(),                                                      # values in [-1, 1]
        ]
        self.model = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)
