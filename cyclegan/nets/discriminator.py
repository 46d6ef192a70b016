"""PatchGAN discriminators, laid out like the reference so checkpoint keys match.

``NLayerDiscriminator`` with n_layers=3 is the 70x70 PatchGAN: every output element judges one
70x70 window of the input (tests/test_nets.py measures it). ``PixelDiscriminator`` judges each
pixel on its own (1x1 receptive field). Shape comments assume a C x H x W input.
"""
from __future__ import annotations

from torch import Tensor, nn

from .norms import NormFactory, conv_bias_for, get_norm_layer


class NLayerDiscriminator(nn.Module):
    def __init__(self, input_nc: int = 3, ndf: int = 64, n_layers: int = 3,
                 norm: NormFactory | None = None):
        super().__init__()
        norm = norm or get_norm_layer("instance")
        use_bias = conv_bias_for(norm)
        kw, padw = 4, 1
        layers: list[nn.Module] = [
            nn.Conv2d(input_nc, ndf, kernel_size=kw, stride=2, padding=padw),   # ndf x H/2 x W/2
            nn.LeakyReLU(0.2, True),
        ]
        width = ndf
        for n in range(1, n_layers):                     # stride-2 stages: width doubles, capped at 8ndf
            next_width = ndf * min(2 ** n, 8)
            layers += [
                nn.Conv2d(width, next_width, kernel_size=kw, stride=2, padding=padw,
                          bias=use_bias),                # next_width x H/2^(n+1) x W/2^(n+1)
                norm(next_width),
                nn.LeakyReLU(0.2, True),
            ]
            width = next_width
        next_width = ndf * min(2 ** n_layers, 8)
        layers += [
            nn.Conv2d(width, next_width, kernel_size=kw, stride=1, padding=padw,
                      bias=use_bias),                    # next_width x (h-1) x (w-1)
            norm(next_width),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(next_width, 1, kernel_size=kw, stride=1, padding=padw),   # 1 x (h-2) x (w-2)
        ]
        self.model = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


class PixelDiscriminator(nn.Module):
    """1x1 PatchGAN ("pixelGAN"): judges colour statistics, not structure."""

    def __init__(self, input_nc: int = 3, ndf: int = 64, norm: NormFactory | None = None):
        super().__init__()
        norm = norm or get_norm_layer("instance")
        use_bias = conv_bias_for(norm)
        self.net = nn.Sequential(
            nn.Conv2d(input_nc, ndf, kernel_size=1),                      # ndf x H x W
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, ndf * 2, kernel_size=1, bias=use_bias),        # 2ndf x H x W
            norm(ndf * 2),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * 2, 1, kernel_size=1, bias=use_bias),          # 1 x H x W
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)
