"""DCGAN (Radford et al. 2016): an unconditional baseline that learns one domain from noise.

The paper's settings: 64x64 images, 100-d noise, 64-wide networks, batch 128, Adam 2e-4 / beta1
0.5 at a constant rate. Flags given on the command line still win."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import UserError
from .card import ModelCard, Supports, add_card, dataroot_name, domain_name
from .options import D_AUGMENTATIONS, ModelOptions, d_augment_option, option, r1_gamma_option
IMAGE_SIZES = (32, 64, 128)                # one stride-2 stage more or less per doubling (nets/dcgan.py)
CHANNELS = (1, 3)                          # grayscale or colour


def check_image_shape(image_size: int, channels: int) -> None:
    """The sizes the DCGAN's networks are built for, refused in one line otherwise."""
    if image_size not in IMAGE_SIZES:
        raise UserError(f"--image_size {image_size}: the DCGAN takes {', '.join(map(str, IMAGE_SIZES[:-1]))} "
                        f"or {IMAGE_SIZES[-1]}")
    if channels not in CHANNELS:
        raise UserError(f"--channels {channels}: choose 1 (grayscale) or 3 (colour)")


@dataclass(slots=True)
class DCGANOptions(ModelOptions):
    """The latent and image sizes, and what steadies the discriminator on small domains."""
    model: str = "dcgan"
    nz: int = option(100, "DCGAN latent size (default 100)", low=1, high=100_000, note="the DCGAN's latent size")
    image_size: int = option(64, "DCGAN image size: 32, 64 or 128 (default 64)", low=1, high=8192,
                             note="the DCGAN's image side")
    channels: int = option(3, "DCGAN image channels: 1 or 3 (default 3)", low=1, high=3,
                           note="the DCGAN's image channels")
    d_augment: str = d_augment_option()
    r1_gamma: float = r1_gamma_option()

    def check(self) -> None:
        check_image_shape(self.image_size, self.channels)


DCGAN = add_card(ModelCard(
    name="dcgan",
    nets=("G", "D"),
    run_name=lambda cfg: dataroot_name(cfg) or f"{domain_name(cfg.data.domainA, 'A')}_dcgan",
    supports=Supports(),
    options_type=DCGANOptions,
    watchers=("dcgan_samples",),
    # Both networks batch-normalise: an epoch's last batch of a few leftover images would give
    # noisy statistics and a noisy step (1797 digits at batch 64 end in a batch of 5).
    drop_partial_batches=True,
    defaults={"image_size": 64, "nz": 100, "ngf": 64, "ndf": 64, "channels": 3,
              "batch_size": 128, "lr": 2e-4, "beta1": 0.5, "n_epochs": 25, "n_epochs_decay": 0,
              "save_epoch_freq": 5, "print_freq": 50},
    finished_note=lambda run_dir: (f"fixed-noise grids in {run_dir / 'samples'} (animation: samples/training.gif); "
                                   f"more samples: cyclegan-sample --checkpoint {run_dir} -n 64 --output DIR"),
))
