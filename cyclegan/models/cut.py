"""CUT and FastCUT (Park et al. 2020), with the public code's options and defaults
(taesungp/contrastive-unpaired-translation: base, train and cut_model options; docs/CUT.md).
One model class; the two modes are presets. Flags given on the command line still win."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .card import ModelCard, Supports, add_card, pair_name
from .options import TranslatorOptions, option, training_option

CUT_MODES = {"CUT": "cut", "FastCUT": "fastcut"}   # --CUT_mode (any case) -> model name


@dataclass(slots=True)
class CUTOptions(TranslatorOptions):
    """PatchNCE's layers, projection and weights, spelled as in the public CUT code."""
    model: str = "cut"
    lambda_GAN: float = training_option(1.0, "adversarial loss weight (default 1)", low=0, note="the weight of the adversarial loss")
    lambda_NCE: float = training_option(1.0, "PatchNCE weight (default 1 for CUT, 10 for FastCUT)", low=0,
                               note="the weight of the PatchNCE loss")
    nce_idt: bool = training_option(True, "PatchNCE on B -> G(B) as well (default: on for CUT, off for FastCUT)", yes_no=True)
    nce_layers: str = option("0,4,8,12,16", "generator layers PatchNCE compares (default 0,4,8,12,16)")
    nce_includes_all_negatives_from_minibatch: bool = training_option(
        False, "negatives from every image of the batch, not only the same image (default off)", yes_no=True)
    netF: str = option("mlp_sample", "patch projection (default mlp_sample)", choices=("mlp_sample", "sample"))
    netF_nc: int = option(256, "projection width (default 256)", low=1, high=16_384,
                          note="the width of the PatchNCE projection")
    nce_T: float = training_option(0.07, "PatchNCE temperature (default 0.07)", low=0, low_open=True, note="the PatchNCE temperature")
    num_patches: int = training_option(256, "patches sampled per layer (default 256)", low=1, high=1_000_000,
                              note="patches sampled per layer")
    flip_equivariance: bool = training_option(False, "flip G's input at random and its features back (default: on for "
                                     "FastCUT, off for CUT)", yes_no=True)
    no_antialias: bool = option(False, "stride-2 convolutions instead of conv + blur-downsample (G and D)")
    no_antialias_up: bool = option(False, "transposed convolutions instead of blur-upsample + conv (G)")

    def generator_settings(self, direction: str = "AtoB") -> dict[str, Any]:
        # (TranslatorOptions named: a slots dataclass is a new class, which zero-argument super() misses)
        return {**TranslatorOptions.generator_settings(self, direction), "antialias": not self.no_antialias,
                "antialias_up": not self.no_antialias_up}


def _cut_card(name: str, defaults: dict[str, Any], generator_passes: int) -> ModelCard:
    return ModelCard(
        name=name,
        nets=("G", "D", "F"),
        # Named apart from a CycleGAN run on the same domains, so the two sit side by side.
        run_name=lambda cfg: f"{pair_name(cfg)}_{name}",
        supports=Supports(ddp=True, precision=True),
        directions={"AtoB": "G"},
        judges={"G": "D"},
        options_type=CUTOptions,
        modes=CUT_MODES,
        # G: its outputs for the batch (x, and y with --nce_idt) and the encoder over each output
        # (the input's encoder runs without autograd); D: real, fake for D, fake for G.
        activation_passes={"G": generator_passes, "D": 3},
        # The public code: xavier init, lsgan, no history pool, Adam 2e-4 / 0.5, 286 -> 256 crops.
        defaults={"init_type": "xavier", "init_gain": 0.02, "gan_mode": "lsgan", **defaults},
    )


CUT = add_card(_cut_card("cut", {"n_epochs": 200, "n_epochs_decay": 200, "lambda_NCE": 1.0, "nce_idt": True,
                                 "flip_equivariance": False}, generator_passes=4))
FASTCUT = add_card(_cut_card("fastcut", {"n_epochs": 150, "n_epochs_decay": 50, "lambda_NCE": 10.0,
                                         "nce_idt": False, "flip_equivariance": True}, generator_passes=2))
