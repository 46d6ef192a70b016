"""Networks by name: one factory for the CLI, checkpoints and tests.

    G = create_generator("resnet_9blocks", ngf=64, norm="instance")
    D = create_discriminator("basic", ndf=64, n_layers=3)
"""
from __future__ import annotations

from typing import Callable

from torch import nn

from ..errors import UserError
from .discriminator import NLayerDiscriminator, PixelDiscriminator
from .generator import UPSAMPLING, ColourSkipResnetGenerator, ResnetBlock, ResnetGenerator, SkipResnetGenerator
from .init import INIT_TYPES, init_weights, set_requires_grad
from .norms import get_norm_layer
from .unet import UNET_DEPTHS, UnetGenerator, UnetSkipBlock, unet_builder

# Every constructor takes the same keyword arguments, so callers never branch on the name.
# The skip_resnet_* generators are ours (input plus a learned change, the identity at step 0;
# colour_skip_* adds a per-pixel colour path); the
# reference has no such network, so its loaders and the key-based inference refuse them.
GENERATORS: dict[str, Callable[..., nn.Module]] = {
    "resnet_9blocks": lambda input_nc, output_nc, ngf, norm, use_dropout, upsample="transpose": ResnetGenerator(
        input_nc, output_nc, ngf, n_blocks=9, norm=norm, use_dropout=use_dropout, upsample=upsample),
    "resnet_6blocks": lambda input_nc, output_nc, ngf, norm, use_dropout, upsample="transpose": ResnetGenerator(
        input_nc, output_nc, ngf, n_blocks=6, norm=norm, use_dropout=use_dropout, upsample=upsample),
    "skip_resnet_9blocks": lambda input_nc, output_nc, ngf, norm, use_dropout, upsample="transpose": SkipResnetGenerator(
        input_nc, output_nc, ngf, n_blocks=9, norm=norm, use_dropout=use_dropout, upsample=upsample),
    "skip_resnet_6blocks": lambda input_nc, output_nc, ngf, norm, use_dropout, upsample="transpose": SkipResnetGenerator(
        input_nc, output_nc, ngf, n_blocks=6, norm=norm, use_dropout=use_dropout, upsample=upsample),
    "colour_skip_resnet_6blocks": lambda input_nc, output_nc, ngf, norm, use_dropout, upsample="transpose":
        ColourSkipResnetGenerator(input_nc, output_nc, ngf, n_blocks=6, norm=norm, use_dropout=use_dropout,
                                  upsample=upsample),
    "pixelmap_resnet_6blocks": lambda input_nc, output_nc, ngf, norm, use_dropout, upsample="transpose":
        ColourSkipResnetGenerator(input_nc, output_nc, ngf, n_blocks=6, norm=norm, use_dropout=use_dropout,
                                  upsample=upsample, start="random"),
    **{name: unet_builder(num_downs) for name, num_downs in UNET_DEPTHS.items()},   # unet_128, unet_256
}
REFERENCE_GENERATORS = ("resnet_9blocks", "resnet_6blocks", *UNET_DEPTHS)
COLOUR_PATH_GENERATORS = ("colour_skip_resnet_6blocks", "pixelmap_resnet_6blocks")   # --colour_start fit sets their colour path   # laid out key for key like the reference's

# "basic" is the 70x70 PatchGAN at the default n_layers=3; "n_layers" is the reference's
# spelling for the same network at another depth.
DISCRIMINATORS: dict[str, Callable[..., nn.Module]] = {
    "basic": lambda input_nc, ndf, n_layers, norm: NLayerDiscriminator(input_nc, ndf, n_layers, norm),
    "n_layers": lambda input_nc, ndf, n_layers, norm: NLayerDiscriminator(input_nc, ndf, n_layers, norm),
    "pixel": lambda input_nc, ndf, n_layers, norm: PixelDiscriminator(input_nc, ndf, norm),
}


def _lookup(table: dict, name: str, option: str):
    try:
        return table[name]
    except KeyError:
        raise UserError(f"{option} {name!r} is not known; use one of {', '.join(table)}") from None


def create_generator(name: str = "resnet_9blocks", *, input_nc: int = 3, output_nc: int = 3,
                     ngf: int = 64, norm: str = "instance", use_dropout: bool = False,
                     upsample: str = "transpose") -> nn.Module:
    build = _lookup(GENERATORS, name, "--netG")
    if upsample not in UPSAMPLING:
        raise UserError(f"--upsample {upsample!r} is not known; use one of {', '.join(UPSAMPLING)}")
    return build(input_nc, output_nc, ngf, get_norm_layer(norm), use_dropout, upsample)


def create_discriminator(name: str = "basic", *, input_nc: int = 3, ndf: int = 64,
                         n_layers: int = 3, norm: str = "instance") -> nn.Module:
    build = _lookup(DISCRIMINATORS, name, "--netD")
    return build(input_nc, ndf, n_layers, get_norm_layer(norm))


__all__ = [
    "GENERATORS", "REFERENCE_GENERATORS", "UPSAMPLING", "SkipResnetGenerator", "DISCRIMINATORS", "INIT_TYPES", "create_generator", "create_discriminator",
    "init_weights", "set_requires_grad", "get_norm_layer", "ResnetGenerator", "ResnetBlock", "NLayerDiscriminator",
    "PixelDiscriminator", "UnetGenerator", "UnetSkipBlock", "UNET_DEPTHS",
]
