"""ResNet-block generator after Johnson et al., laid out exactly like the reference CycleGAN.

The layer order inside ``self.model`` is part of the checkpoint format: the reference saves
``model.<index>.<param>`` keys, so its pretrained generators load into ours (and ours into its
code) only while every index stays where it is. Shape comments assume a 3 x H x W input,
with H and W multiples of 4.

``SkipResnetGenerator`` (``--netG skip_resnet_Nblocks``) is our variant for short runs, not the
reference's: it outputs its input plus a learned change, clipped to [-1, 1], and the change's
last convolution starts at zero, so at step 0 it *is* the identity. Its keys sit under
``change.`` so that no reference-layout loader mistakes it for a plain ResNet generator.
``upsample="resize"`` (``--upsample resize``) replaces each transposed convolution by a
nearest-neighbour doubling and a 3x3 convolution (Odena et al. 2016: no checkerboard).
"""
from __future__ import annotations

from torch import Tensor, nn

from ..errors import UserError
from .norms import NormFactory, conv_bias_for

UPSAMPLING = ("transpose", "resize")   # --upsample choices


class ZeroInitConv2d(nn.Conv2d):
    """A convolution that ``init_weights`` sets to zero (weights and bias): a change that starts at nothing."""


class FanInInitConv2d(nn.Conv2d):
    """A convolution that ``init_weights`` sets by He's fan-in rule whatever --init_type says: the
    N(0, 0.02) of the papers would leave a 1x1 convolution of 3 colours with almost no signal."""


def upsample_layer(in_ch: int, out_ch: int, how: str, use_bias: bool) -> nn.Module:
    """Double the resolution: the reference's transposed convolution, or resize then convolve."""
    if how == "transpose":
        return nn.ConvTranspose2d(in_ch, out_ch, kernel_size=3, stride=2, padding=1, output_padding=1, bias=use_bias)
    if how == "resize":
        return nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"),                    # in x 2h x 2w
            nn.ReflectionPad2d(1),                                          # in x (2h+2) x (2w+2)
            nn.Conv2d(in_ch, out_ch, kernel_size=3, bias=use_bias),         # out x 2h x 2w
        )
    raise UserError(f"--upsample {how!r} is not known; use one of {', '.join(UPSAMPLING)}")


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

    size_multiple = 4   # sides the network takes: two stride-2 downsamplings
    min_size = 8        # smaller sides reach the residual blocks at 1 pixel: reflection padding
                        # and instance norm need at least 2

    def __init__(self, input_nc: int = 3, output_nc: int = 3, ngf: int = 64, n_blocks: int = 9,
                 norm: NormFactory | None = None, use_dropout: bool = False, upsample: str = "transpose",
                 output_layer: type[nn.Conv2d] = nn.Conv2d, tanh: bool = True):
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
            upsample_layer(ngf * 4, ngf * 2, upsample, use_bias),           # 2ngf x H/2 x W/2
            norm(ngf * 2),
            nn.ReLU(True),
            upsample_layer(ngf * 2, ngf, upsample, use_bias),               # ngf x H x W
            norm(ngf),
            nn.ReLU(True),
            nn.ReflectionPad2d(3),                                          # ngf x (H+6) x (W+6)
            output_layer(ngf, output_nc, kernel_size=7),                    # out x H x W
        ]
        if tanh:
            layers.append(nn.Tanh())                                        # values in [-1, 1]
        self.model = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


class SkipResnetGenerator(nn.Module):
    """y = clip(x + change(x), -1, 1): the identity at step 0, so training starts from the photo.

    ``change`` is the ResNet generator without its tanh and with a zero-initialised output
    convolution. Input and output must have the same channels.
    """

    def __init__(self, input_nc: int = 3, output_nc: int = 3, ngf: int = 64, n_blocks: int = 6,
                 norm: NormFactory | None = None, use_dropout: bool = False, upsample: str = "transpose"):
        super().__init__()
        if input_nc != output_nc:
            raise UserError(f"--netG skip_resnet_* adds its input to its output: it needs as many input as "
                            f"output channels (got {input_nc} and {output_nc})")
        self.change = ResnetGenerator(input_nc, output_nc, ngf, n_blocks, norm, use_dropout, upsample,
                                      output_layer=ZeroInitConv2d, tanh=False)   # out x H x W

    def forward(self, x: Tensor) -> Tensor:
        return (x + self.change(x)).clamp(-1.0, 1.0)                        # out x H x W, in [-1, 1]


class ColourSkipResnetGenerator(SkipResnetGenerator):
    """y = clip(x + colour(x) + change(x), -1, 1): the skip generator plus a per-pixel colour path.

    Instance norm after the first convolution removes each image's absolute colour and
    brightness, so the ResNet ``change`` sees only how a pixel differs from its image: a global
    colour or tone map (a hue rotation, a tone curve, the warm palette of paintings), which
    depends on the absolute colour, is slow for it to learn. ``colour`` is a small per-pixel
    network without normalisation (1x1 convolutions: 3 -> 16 -> 16 -> 3, leaky ReLU), whose
    output layer starts at zero, so the generator still starts as the identity
    (``--colour_start fit``: the training step sets it to a colour map fitted to the data first).
    """

    def __init__(self, input_nc: int = 3, output_nc: int = 3, ngf: int = 64, n_blocks: int = 6,
                 norm: NormFactory | None = None, use_dropout: bool = False, upsample: str = "transpose",
                 colour_width: int = 16, start: str = "identity"):
        super().__init__(input_nc, output_nc, ngf, n_blocks, norm, use_dropout, upsample)
        last = ZeroInitConv2d if start == "identity" else FanInInitConv2d
        self.keeps_input = start == "identity"
        self.colour = nn.Sequential(
            FanInInitConv2d(input_nc, colour_width, kernel_size=1),         # width x H x W
            nn.LeakyReLU(0.2, True),
            FanInInitConv2d(colour_width, colour_width, kernel_size=1),     # width x H x W
            nn.LeakyReLU(0.2, True),
            last(colour_width, output_nc, kernel_size=1),                   # out x H x W
        )

    def colour_map(self, x: Tensor) -> Tensor:
        """The per-pixel part of the output: what the generator gives while ``change`` is zero."""
        return x + self.colour(x) if self.keeps_input else self.colour(x)   # out x H x W

    def forward(self, x: Tensor) -> Tensor:
        return (self.colour_map(x) + self.change(x)).clamp(-1.0, 1.0)       # out x H x W, in [-1, 1]
