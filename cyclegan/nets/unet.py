"""U-Net generators (``--netG unet_128|unet_256``), laid out exactly like the reference's.

Ronneberger et al.'s encoder-decoder as pix2pix uses it: ``num_downs`` stride-2 4x4
convolutions take a side of 2**num_downs pixels down to 1 x 1, as many transposed ones bring it
back, and every level's input is concatenated onto its decoder's output (the skip).
unet_128 has num_downs 7, unet_256 has 8. The two are otherwise the same network, so each works
on any side that is a multiple of 2**num_downs (``size_multiple``).

The nesting is the checkpoint format. The reference builds the U-Net from the inside out, each
level a ``UnetSkipBlock`` whose ``model`` Sequential holds the next level at index 1 (outermost)
or 3 (the others), so its keys read ``model.model.1.model.3.model.3...model.1.weight``; our
levels sit at the same indices, and its files load into ours key for key (and ours into its code).

One level, from outside to inside (``outer`` channels at side s, ``inner`` at s/2):

    outermost  [Conv 4x4 s2 (in->inner), <inner levels>, ReLU, ConvT 4x4 s2 (2inner->out), Tanh]
    middle     [LeakyReLU(0.2), Conv 4x4 s2 (outer->inner), norm, <inner levels>,
                ReLU, ConvT 4x4 s2 (2inner->outer), norm, (Dropout(0.5))]  then cat(x, that)
    innermost  [LeakyReLU(0.2), Conv 4x4 s2 (outer->inner), ReLU, ConvT 4x4 s2 (inner->outer), norm]
               then cat(x, that): no norm at the 1 x 1 bottleneck

Widths: ngf, 2ngf, 4ngf, then 8ngf for every deeper level. Dropout (when on) sits only in the
num_downs - 5 middle levels at 8ngf -> 8ngf, as in the reference. Convolutions followed by a
norm carry a bias only with instance norm (``conv_bias_for``); the outermost transposed
convolution always has one. The outermost down convolution follows the same rule as the others
even though no norm follows it: that is the reference's key set.
"""
from __future__ import annotations

from torch import Tensor, cat, nn

from ..errors import UserError
from .norms import NormFactory, conv_bias_for

UNET_DEPTHS = {"unet_128": 7, "unet_256": 8}     # --netG name -> num_downs
MIN_NUM_DOWNS = 5                                # the levels at ngf, 2ngf, 4ngf, 8ngf and the innermost


class UnetSkipBlock(nn.Module):
    """One level of the U-Net: down, the levels inside (``submodule``), up; cat(x, result) unless outermost."""

    def __init__(self, outer_nc: int, inner_nc: int, norm: NormFactory, *, input_nc: int | None = None,
                 submodule: nn.Module | None = None, outermost: bool = False, innermost: bool = False,
                 use_dropout: bool = False):
        super().__init__()
        self.outermost = outermost
        use_bias = conv_bias_for(norm)
        input_nc = outer_nc if input_nc is None else input_nc
        down = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)  # inner x s/2
        if outermost:
            layers = [
                down,                                                           # inner x s/2
                submodule,                                                      # 2inner x s/2
                nn.ReLU(True),
                nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1),  # out x s
                nn.Tanh(),                                                      # values in [-1, 1]
            ]
        elif innermost:
            layers = [
                nn.LeakyReLU(0.2, True),
                down,                                                           # inner x 1 x 1 at full depth
                nn.ReLU(True),
                nn.ConvTranspose2d(inner_nc, outer_nc, kernel_size=4, stride=2, padding=1,
                                   bias=use_bias),                              # outer x s
                norm(outer_nc),
            ]
        else:
            layers = [
                nn.LeakyReLU(0.2, True),
                down,                                                           # inner x s/2
                norm(inner_nc),
                submodule,                                                      # 2inner x s/2
                nn.ReLU(True),
                nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1,
                                   bias=use_bias),                              # outer x s
                norm(outer_nc),
            ]
            if use_dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        if self.outermost:
            return self.model(x)
        return cat([x, self.model(x)], 1)                                       # 2outer x s


class UnetGenerator(nn.Module):
    """U-Net with ``num_downs`` levels: sides must be multiples of 2**num_downs (``size_multiple``)."""

    def __init__(self, input_nc: int = 3, output_nc: int = 3, num_downs: int = 8, ngf: int = 64,
                 norm: NormFactory | None = None, use_dropout: bool = False):
        super().__init__()
        if num_downs < MIN_NUM_DOWNS:
            raise UserError(f"a U-Net needs at least {MIN_NUM_DOWNS} levels, not {num_downs}")
        if norm is None:
            from .norms import get_norm_layer
            norm = get_norm_layer("instance")
        self.input_nc, self.output_nc, self.ngf, self.num_downs = input_nc, output_nc, ngf, num_downs
        self.size_multiple = 2 ** num_downs      # the bottleneck is 1 x 1 at this side
        self.min_size = 1                        # smaller images are padded up to size_multiple
        # Built inside out; comments give the side each level works at for a 256 x 256 input (unet_256).
        block = UnetSkipBlock(ngf * 8, ngf * 8, norm, innermost=True)                     # 2 -> 1 -> 2
        for _ in range(num_downs - MIN_NUM_DOWNS):
            block = UnetSkipBlock(ngf * 8, ngf * 8, norm, submodule=block, use_dropout=use_dropout)  # 16..4
        block = UnetSkipBlock(ngf * 4, ngf * 8, norm, submodule=block)                    # 32 -> 16
        block = UnetSkipBlock(ngf * 2, ngf * 4, norm, submodule=block)                    # 64 -> 32
        block = UnetSkipBlock(ngf, ngf * 2, norm, submodule=block)                        # 128 -> 64
        self.model = UnetSkipBlock(output_nc, ngf, norm, input_nc=input_nc, submodule=block,
                                   outermost=True)                                        # 256 -> 128 -> 256

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


def unet_builder(num_downs: int):
    """The GENERATORS factory entry for a U-Net of ``num_downs`` levels (same arguments as the others)."""
    def build(input_nc: int, output_nc: int, ngf: int, norm: NormFactory, use_dropout: bool,
              upsample: str = "transpose") -> UnetGenerator:
        if upsample != "transpose":
            raise UserError(f"--upsample {upsample} is for the ResNet generators; a U-Net upsamples with "
                            "transposed convolutions, as the reference's does")
        return UnetGenerator(input_nc, output_nc, num_downs, ngf, norm, use_dropout)
    return build
