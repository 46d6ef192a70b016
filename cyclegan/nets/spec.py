"""A generator's architecture as data, and how to read it off a state_dict's keys.

A weights file holds only tensors; to load it strictly the network must first be built with
the right ``--netG``, ``--ngf``, ``--norm`` and dropout. Runs have these in their config.json;
a bare file (the reference's ``latest_net_G.pth``) has only its keys, and those are enough:
the reference's layout (ours too) puts every layer at a fixed index of ``model``.

ResNet generator keys, index by index (``ngf`` = width, ``b`` = residual blocks):

    model.1.weight                     ngf x input_nc x 7 x 7: the first conv
    model.2.*                          its norm: weight, bias, running_mean, running_var,
                                       num_batches_tracked for batch norm; nothing for instance
                                       norm, or only running_mean/var (+ num_batches_tracked) in
                                       files saved by old PyTorch versions
    model.10 ... model.(9+b)           residual blocks, each conv_block:
        .1.weight                      3x3 conv
        .2.*                           norm (as model.2)
        .4 Dropout(0.5)                only with dropout; then the layers after it move up one:
        .5.weight / .6.weight          second 3x3 conv (without / with dropout)
        .6.* / .7.*                    its norm (without / with dropout)
    model.(last).weight                output_nc x ngf x 7 x 7: the output conv

CUT's generators (the public CUT code, anti-aliased by default; ``nets/cut.py``) put a fixed blur
after each down-sampling conv and before each up-sampling conv: ``model.7.filt`` and
``model.11.filt`` (C x 1 x 3 x 3) before the blocks, which then start at ``model.12``, and
``model.(12+b).filt`` / ``model.(16+b).filt`` (C x 1 x 4 x 4) after them. Their presence says
``antialias`` / ``antialias_up``; everything else is read as above.

U-Net generators (``unet_128``, ``unet_256``) nest their levels instead: ``model.model.0.weight``
(ngf x input_nc x 4 x 4) is their first conv; ``_infer_unet_spec`` reads the rest.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from torch import Tensor, nn

from ..checkpoint import strip_wrapper_prefixes
from ..errors import UserError
from . import GENERATORS, create_generator
from .unet import UNET_DEPTHS


@dataclass(frozen=True)
class GeneratorSpec:
    """Everything needed to rebuild a generator before loading its weights."""
    netG: str = "resnet_9blocks"
    ngf: int = 64
    norm: str = "instance"
    use_dropout: bool = False
    input_nc: int = 3
    output_nc: int = 3
    antialias: bool = False          # CUT's blur-downsampling (the public CUT code's default)
    antialias_up: bool = False       # CUT's blur-upsampling
    upsample: str = "transpose"      # --upsample resize: ours, not in the reference's layout

    def build(self) -> nn.Module:
        if self.antialias or self.antialias_up:   # a CUT generator (nets/cut.py); else CycleGAN's layout
            from .cut import create_cut_generator
            blocks = {"resnet_9blocks": 9, "resnet_6blocks": 6}.get(self.netG)
            if blocks is None:
                raise UserError(f"--netG {self.netG}: anti-aliased (CUT) generators are resnet_9blocks or resnet_6blocks")
            return create_cut_generator(blocks, input_nc=self.input_nc, output_nc=self.output_nc, ngf=self.ngf,
                                        norm=self.norm, use_dropout=self.use_dropout, antialias=self.antialias,
                                        antialias_up=self.antialias_up)
        return create_generator(self.netG, input_nc=self.input_nc, output_nc=self.output_nc, ngf=self.ngf,
                                norm=self.norm, use_dropout=self.use_dropout, upsample=self.upsample)


def _is_conv_weight(keys: dict[str, Tensor], key: str) -> bool:
    value = keys.get(key)
    return value is not None and value.dim() == 4


def infer_generator_spec(state, path: Path | str = "the weights") -> GeneratorSpec:
    """Read a ResNet generator's architecture off its state_dict keys (the reference's layout).

    Dropout is told by where a residual block's second conv sits (index 6 instead of 5), never
    by other keys at index 6: there, without dropout, sits a norm whose running statistics
    (batch norm, or instance norm from an old file) are no sign of dropout. Batch norm is told
    by a norm with a ``weight`` at ``model.2`` (instance norm here has none; 'none' looks like
    instance and is not guessed).
    """
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise UserError(f"{path} is not a generator's weights (expected a state_dict of tensors)")
    keys = {strip_wrapper_prefixes(k): v for k, v in state.items()}
    if any(k.startswith("change.") for k in keys):
        raise UserError(f"{path} is a --netG skip_resnet_* generator (ours: input plus a learned change), which "
                        "the reference has no network for and whose architecture its keys cannot tell: load it "
                        "from its run folder (config.json says the architecture)")
    if any(re.fullmatch(r"model\.\d+\.2\.weight", k) for k in keys):
        raise UserError(f"{path} upsamples by resize and convolution (--upsample resize), which the reference's "
                        "layout cannot hold: load it from its run folder (config.json says the architecture)")
    if _is_conv_weight(keys, "model.model.0.weight"):
        return _infer_unet_spec(keys, path)
    first = keys.get("model.1.weight")
    if first is None or first.dim() != 4:
        raise UserError(f"cannot tell the architecture of {path} from its keys (no model.1.weight or "
                        "model.model.0.weight); it is not a ResNet or U-Net generator in the reference layout")
    blocks = sorted({int(k.split(".")[1]) for k in keys if ".conv_block." in k})
    netG = f"resnet_{len(blocks)}blocks"
    if netG not in GENERATORS:
        raise UserError(f"{path} has {len(blocks)} residual blocks; known generators: {', '.join(GENERATORS)}")
    with_dropout = [_is_conv_weight(keys, f"model.{b}.conv_block.6.weight") for b in blocks]
    if any(with_dropout) and not all(with_dropout):
        raise UserError(f"{path}: some residual blocks have dropout and some do not; "
                        "it is not a ResNet generator in the reference layout")
    convs = [(int(k.split(".")[1]), v) for k, v in keys.items()
             if k.count(".") == 2 and k.endswith(".weight") and v.dim() == 4]
    output_nc = max(convs, key=lambda c: c[0])[1].shape[0]
    norm = "batch" if "model.2.weight" in keys else "instance"
    # CUT's anti-aliased layout: fixed blur filters (``filt`` buffers) before the residual blocks
    # (downsampling) and after them (upsampling).
    blurs = [int(k.split(".")[1]) for k in keys if k.count(".") == 2 and k.endswith(".filt")]
    return GeneratorSpec(netG=netG, ngf=first.shape[0], norm=norm, use_dropout=all(with_dropout),
                         input_nc=first.shape[1], output_nc=output_nc,
                         antialias=any(i < blocks[0] for i in blurs), antialias_up=any(i > blocks[-1] for i in blurs))


def _infer_unet_spec(keys: dict[str, Tensor], path: Path | str) -> GeneratorSpec:
    """A U-Net's architecture from its keys (layout in ``nets/unet.py``).

    Depth: the innermost level's keys are the most deeply nested, ``model.`` once per level plus
    once for the generator (``model.model.1.model.3 ... model.1.weight``). Width and input
    channels: the outermost down convolution ``model.model.0`` (ngf x input_nc x 4 x 4); output
    channels: the outermost transposed convolution ``model.model.3`` (2ngf x output_nc x 4 x 4).
    Batch norm: the first level's norm ``model.model.1.model.2`` has a ``weight``. Dropout sits
    last in its levels and adds no keys, so it cannot be read (nor does it matter for loading:
    translation runs the network in eval mode, where dropout does nothing); it is reported off.
    """
    first = keys["model.model.0.weight"]
    last = keys.get("model.model.3.weight")
    if last is None or last.dim() != 4:
        raise UserError(f"{path}: no outermost transposed convolution (model.model.3.weight); "
                        "it is not a U-Net generator in the reference layout")
    num_downs = max(k.split(".").count("model") for k in keys) - 1
    names = {depth: name for name, depth in UNET_DEPTHS.items()}
    if num_downs not in names:
        raise UserError(f"{path} is a U-Net with {num_downs} levels; known U-Nets: "
                        + ", ".join(f"{name} ({depth} levels)" for name, depth in UNET_DEPTHS.items()))
    norm = "batch" if "model.model.1.model.2.weight" in keys else "instance"
    return GeneratorSpec(netG=names[num_downs], ngf=first.shape[0], norm=norm, use_dropout=False,
                         input_nc=first.shape[1], output_nc=last.shape[1])
