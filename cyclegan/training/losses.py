"""Adversarial objectives by name (``--gan_mode``) and the WGAN-GP gradient penalty."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import UserError

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


def cycle_l1(reconstruction: Tensor, original: Tensor, lowpass: int = 1) -> Tensor:
    """The cycle loss's L1 distance, in fp32. ``lowpass`` > 1 compares the two images' averages over
    ``lowpass`` x ``lowpass`` blocks: the pixel-exact cycle makes a generator keep every grain of the
    photo's texture (smoothing it into brush strokes or flat poster colours cannot be undone), while
    the averaged one still holds the scene's layout and colours."""
    reconstruction = reconstruction.float()
    if lowpass > 1:
        reconstruction, original = F.avg_pool2d(reconstruction, lowpass), F.avg_pool2d(original.float(), lowpass)
    return F.l1_loss(reconstruction, original)


def r1_penalty(logits: Tensor, images: Tensor) -> Tensor:
    """Mean over the batch of |d logit / d image|^2, kept differentiable (D learns from it).
    ``images`` must be the tensor D was called on, created with requires_grad."""
    gradient, = torch.autograd.grad(logits.sum(), images, create_graph=True)
    return gradient.pow(2).flatten(1).sum(1).mean()


def gradient_penalty(discriminator: nn.Module, real: Tensor, fake: Tensor,
                     weight: float = 10.0) -> Tensor:
    """WGAN-GP: push the critic's gradient norm towards 1 on random real/fake interpolates."""
    alpha = torch.rand(real.size(0), 1, 1, 1, device=real.device)
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    out = discriminator(mixed)
    (grad,) = torch.autograd.grad(out.sum(), mixed, create_graph=True)
    norms = grad.flatten(1).norm(2, dim=1)
    return weight * ((norms - 1.0) ** 2).mean()


def patch_nce_loss(query: Tensor, key: Tensor, batch_size: int, temperature: float = 0.07,
                   negatives_from_batch: bool = False) -> Tensor:
    """PatchNCE (CUT, Park et al. 2020): each output patch must pick its own input patch out of the others.

    ``query`` and ``key`` are (batch_size * P) x C unit vectors from ``PatchSampleF``: row i of
    ``query`` (a patch of the output) and row i of ``key`` (the input patch at the same place)
    are the positive pair; the other P - 1 key patches of the same image are the negatives (all
    of the batch's with ``negatives_from_batch``). Returns the per-patch cross-entropy of
    picking the positive among them at temperature ``temperature``; no gradient reaches ``key``.
    """
    key = key.detach()
    rows, dim = query.shape
    positive = (query * key).sum(dim=1, keepdim=True)                          # rows x 1
    groups = 1 if negatives_from_batch else batch_size
    q, k = query.view(groups, -1, dim), key.view(groups, -1, dim)             # groups x P x C
    patches = q.shape[1]
    negatives = torch.bmm(q, k.transpose(1, 2))                                # groups x P x P
    # The diagonal is the positive itself: push it out of the negatives (the public code's -10).
    itself = torch.eye(patches, dtype=torch.bool, device=query.device)[None]
    negatives = negatives.masked_fill(itself, -10.0).view(-1, patches)         # rows x P
    logits = torch.cat([positive, negatives], dim=1) / temperature             # rows x (1 + P)
    target = torch.zeros(rows, dtype=torch.long, device=query.device)          # the positive is class 0
    return F.cross_entropy(logits, target, reduction="none")
