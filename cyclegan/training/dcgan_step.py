"""The DCGAN model and one training step (Radford et al.; the order of pytorch/examples' dcgan).

One step: the discriminator learns real images as 1 and a fresh batch of fakes as 0; then the
generator, with the discriminator frozen, is trained so that the same fakes score 1. That last
loss, -log D(G(z)), is the paper's "non-saturating" generator loss: it keeps a strong gradient
while D still rejects the fakes easily. Both losses work on logits (BCEWithLogits) for
numerical safety.

Optional, for small domains (both off by default, as in the paper): ``--d_augment`` shows D
randomly translated images, and ``--r1_gamma`` adds the R1 penalty (Mescheder et al. 2018),
gamma/2 times the squared gradient of D's logit with respect to each real image. R1 keeps D
smooth around the real images, so it cannot answer with a steep edge that memorises them, and G
gets a gradient that points towards the data rather than along D's quirks.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ..checkpoint import bare_state_dict, unwrap
from ..config import Config
from ..nets import set_requires_grad
from ..nets.dcgan import create_dcgan
from .diff_augment import discriminator_augment
from .losses import r1_penalty
from .optim import set_learning_rate

FIXED_NOISE_SIZE = 64  # the sample grid rendered every epoch: 8 x 8


def fixed_noise(nz: int, seed: int, n: int = FIXED_NOISE_SIZE) -> Tensor:
    """The latent batch whose images are shown every epoch, drawn from its own generator so
    that creating it does not shift the training noise."""
    generator = torch.Generator().manual_seed(seed + 7919)
    return torch.randn(n, nz, 1, 1, generator=generator)


class DCGAN:
    """Generator G, discriminator D, their Adam optimisers, and a fixed noise batch."""

    def __init__(self, cfg: Config, device: torch.device):
        m, t = cfg.model, cfg.train
        self.cfg, self.device = cfg, device
        torch.manual_seed(t.seed)  # initial weights depend only on --seed
        G, D = create_dcgan(m.nz, m.ngf, m.ndf, m.channels, m.image_size)
        self.G, self.D = G.to(device), D.to(device)
        self.fixed_noise = fixed_noise(m.nz, t.seed).to(device)
        self.criterion = nn.BCEWithLogitsLoss()
        betas = (t.beta1, t.beta2)
        self.optimizer_G = torch.optim.Adam(self.G.parameters(), lr=t.lr, betas=betas)
        self.optimizer_D = torch.optim.Adam(self.D.parameters(), lr=t.lr, betas=betas)
        self._visuals: dict[str, Tensor] = {}

    @property
    def nets(self) -> dict[str, nn.Module]:
        return {"G": self.G, "D": self.D}  # saved as latest_net_G.pth / latest_net_D.pth

    @property
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"G": self.optimizer_G, "D": self.optimizer_D}

    def set_learning_rate(self, lr: float) -> None:
        set_learning_rate(self.optimizers.values(), lr)

    def augment(self, images: Tensor) -> Tensor:
        """What D sees of a batch: the images themselves, or under ``--d_augment`` a random
        transform of them (the same kind for real and fake, and differentiable, so G's
        gradient passes through it)."""
        return discriminator_augment(self.cfg.model.d_augment, images)

    def train_batch(self, batch: dict[str, Tensor]) -> dict[str, float]:
        return self.train_step(batch["A"])

    def train_step(self, real: Tensor) -> dict[str, float]:
        """One D update and one G update. Returns losses and D's mean verdicts (probabilities)."""
        real = real.to(self.device, non_blocking=True)
        self.G.train()
        self.D.train()
        n = real.shape[0]
        noise = torch.randn(n, self.cfg.model.nz, 1, 1, device=self.device)
        fake = self.G(noise)
        ones = torch.ones(n, device=self.device)
        zeros = torch.zeros(n, device=self.device)

        # Discriminator: real -> 1, fake -> 0 (fakes detached: no gradient into G here).
        set_requires_grad(self.D, True)
        self.optimizer_D.zero_grad(set_to_none=True)
        r1_gamma = self.cfg.model.r1_gamma
        seen_real = self.augment(real).detach().requires_grad_(r1_gamma > 0)
        logits_real = self.D(seen_real)
        logits_fake = self.D(self.augment(fake.detach()))
        loss_D = self.criterion(logits_real, ones) + self.criterion(logits_fake, zeros)
        r1 = r1_penalty(logits_real, seen_real) if r1_gamma > 0 else None
        if r1 is not None:
            loss_D = loss_D + r1_gamma / 2 * r1
        loss_D.backward()
        self.optimizer_D.step()

        # Generator: make the updated D call the same fakes real (non-saturating loss).
        set_requires_grad(self.D, False)
        self.optimizer_G.zero_grad(set_to_none=True)
        logits_fooled = self.D(self.augment(fake))
        loss_G = self.criterion(logits_fooled, ones)
        loss_G.backward()
        self.optimizer_G.step()
        set_requires_grad(self.D, True)

        self._visuals = {"real": real.detach(), "fake": fake.detach()}
        losses = {
            "D": float(loss_D.detach()),
            "G": float(loss_G.detach()),
            "D_real": float(torch.sigmoid(logits_real.detach()).mean()),   # D(x), 1 = sure it is real
            "D_fake": float(torch.sigmoid(logits_fake.detach()).mean()),   # D(G(z)) before D's update
        }
        if r1 is not None:
            losses["R1"] = float(r1.detach())  # mean squared gradient norm, before gamma/2
        return losses

    def samplers(self) -> dict:
        return {"fixed_noise": self.fixed_samples}   # the 8 x 8 grid drawn every epoch

    def rank_state(self) -> None:
        return None   # single-process only

    def load_rank_state(self, state) -> None:
        pass

    def current_visuals(self) -> dict[str, Tensor]:
        """The last step's real and generated batches, in [-1, 1]."""
        return dict(self._visuals)

    @torch.no_grad()
    def fixed_samples(self) -> Tensor:
        """G's images for the fixed noise, with batch norm in inference mode (running statistics),
        so rendering changes neither the weights, the statistics nor any random stream."""
        was_training = self.G.training
        self.G.eval()
        images = self.G(self.fixed_noise).detach().cpu()
        self.G.train(was_training)
        return images

    # -- training state --------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "nets": {name: bare_state_dict(net) for name, net in self.nets.items()},
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()},
            "fixed_noise": self.fixed_noise.detach().cpu(),
        }

    def load_state_dict(self, state: dict) -> None:
        for name, net in self.nets.items():
            unwrap(net).load_state_dict(state["nets"][name])
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        self.fixed_noise = state["fixed_noise"].to(self.device)
