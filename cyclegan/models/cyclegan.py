"""CycleGAN (Zhu et al. 2017): two generators, two PatchGAN discriminators, cycle and identity losses."""
from __future__ import annotations

from dataclasses import dataclass

from .card import ModelCard, Supports, add_card, pair_name
from .options import FRACTION, TranslatorOptions, d_augment_option, r1_gamma_option, training_option


COLOUR_STARTS = ("identity", "fit")   # --colour_start choices (cyclegan/training/colour_fit.py)


@dataclass(slots=True)
class CycleGANOptions(TranslatorOptions):
    """The reference's loss weights and history pool, and our cycle warm-up (0: the paper)."""
    model: str = "cyclegan"
    lambda_A: float = training_option(10.0, "cycle loss weight A->B->A (default 10)", low=0,
                             note="the weight of the cycle loss A -> B -> A")
    lambda_B: float = training_option(10.0, "cycle loss weight B->A->B (default 10)", low=0,
                             note="the weight of the cycle loss B -> A -> B")
    lambda_identity: float = training_option(0.5, "identity loss, times lambda (default 0.5; 0 = off)", low=0,
                                    note="0 turns the identity loss off")
    pool_size: int = training_option(50, "history of fakes shown to D (default 50)", low=0, below="--pool_size must be >= 0",
                            note="0 turns the image pool off")
    colour_start: str = training_option(
        "identity", "where the colour path of --netG colour_skip_resnet_6blocks starts: identity (default) or fit: "
        "before training, an affine colour map fitted to the colours of each domain (from the identity, the "
        "negative and the channel swaps; a few seconds, counted in --time)", choices=COLOUR_STARTS)
    cycle_warmup: float = training_option(0.0, "share of the run over which the cycle loss's weight rises from 0 to "
                                 "--lambda_A/B, so the generators can leave the identity before the cycle holds "
                                 "them (default 0 = the paper)", **FRACTION,
                                 note="0 keeps the cycle loss at full weight from the first step")
    cycle_lowpass: int = training_option(
        1, "compare the cycle's reconstruction with the photo after averaging K x K pixels (default 1 = every "
        "pixel, the paper): fine texture may then change without having to be reconstructed, the scene must "
        "still be", low=1, high=64, note="1 compares every pixel, as the paper does")
    # What steadies a discriminator that wins outright (both off, as in the paper): the same
    # options as the DCGAN's, applied to D_A and D_B.
    d_augment: str = d_augment_option()
    r1_gamma: float = r1_gamma_option()


CYCLEGAN = add_card(ModelCard(
    name="cyclegan",
    aliases=("cycle_gan",),   # the reference's spelling
    nets=("G_A", "G_B", "D_A", "D_B"),
    run_name=pair_name,
    supports=Supports(ddp=True, precision=True, compile=True, ema=True),
    directions={"AtoB": "G_A", "BtoA": "G_B"},
    judges={"G_A": "D_A", "G_B": "D_B"},   # D_A judges G_A's outputs, which look like domain B
    options_type=CycleGANOptions,
    recipes=("paper", "fast"),
    # each G: real, reconstruction, identity; each D: the fake for G's loss, real, pooled fake
    activation_passes={"G_A": 3, "G_B": 3, "D_A": 3, "D_B": 3},
))
