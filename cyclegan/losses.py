"""Adversarial objectives by name (``--gan_mode``) and the WGAN-GP gradient penalty."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .errors import UserError

GAN_MODES = ("lsgan", "vanilla", "wgangp")


class GANLoss(nn.Module):
    """Loss of a discriminator's raw output against "real" or "fake".

    lsgan: mean squared error against 1 / 0 (the CycleGAN default, Mao et al.);
    vanilla: binary cross-entropy on logits (the original GAN);
    wgangp: the Wasserstein critic's mean, negated for real (Gulrajani et al.).
    """

    def __init__(self, gan_mode: str = "lsgan"):
        super().__init__()
        if gan_mode not in GAN_MODES:
            raise UserError(f"--gan_mode {gan_mode!r} is not known; use one of {', '.join(GAN_MODES)}")
        self.gan_mode = gan_mode

    def forward(self, prediction: Tensor, target_is_real: bool) -> Tensor:
        prediction = prediction.float()
        if self.gan_mode == "wgangp":
            return -prediction.mean() if target_is_real else prediction.mean()
        target = torch.ones_like(prediction) if target_is_real else torch.zeros_like(prediction)
        if self.gan_mode == "lsgan":
            return F.mse_loss(prediction, target)
        return F.binary_cross_entropy_with_logits(prediction, target)


def gradient_penalty(discriminator: nn.Module, real: Tensor, fake: Tensor,
                     weight: float = 10.0) -> Tensor:
    """WGAN-GP: push the critic's gradient norm towards 1 on random real/fake interpolates."""
    alpha = torch.rand(real.size(0), 1, 1, 1, device=real.device)
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    out = discriminator(mixed)
    (grad,) = torch.autograd.grad(out.sum(), mixed, create_graph=True)
    norms = grad.flatten(1).norm(2, dim=1)
    return weight * ((norms - 1.0) ** 2).mean()
