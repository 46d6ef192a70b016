"""The CycleGAN model and one training step, in the reference's order.

Conventions (as in the paper and the reference): G_A maps A -> B and D_A judges B;
G_B maps B -> A and D_B judges A.
"""
from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..checkpoint import bare_state_dict, unwrap
from ..config import Config
from ..models.cyclegan import COLOUR_STARTS
from ..errors import UserError
from .losses import GANLoss, cycle_l1, gradient_penalty, r1_penalty
from ..nets import create_discriminator, create_generator, init_weights, set_requires_grad
from .pool import ImagePool
from ..precision import resolve_precision
from .colour_fit import fit_colour_maps, sample_pixels, set_colour_path
from .compile import compile_module
from .diff_augment import discriminator_augment
from .distributed import ddp_wrapper
from .ema import WeightAverage
from .optim import make_adam, set_learning_rate

LOSS_NAMES = ("D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B")
R1_NAMES = ("R1_A", "R1_B")   # under --r1_gamma: D_A's and D_B's mean squared gradient at real images, before gamma/2


def build_generators(cfg: Config) -> tuple[nn.Module, nn.Module]:
    m = cfg.model
    make = lambda in_nc, out_nc: create_generator(m.netG, input_nc=in_nc, output_nc=out_nc, ngf=m.ngf,
                                                  norm=m.norm, use_dropout=m.use_dropout, upsample=m.upsample)
    G_A, G_B = make(m.input_nc, m.output_nc), make(m.output_nc, m.input_nc)
    if m.colour_start not in COLOUR_STARTS:
        raise UserError(f"--colour_start {m.colour_start!r} is not known; use one of {', '.join(COLOUR_STARTS)}")
    if m.colour_start == "fit" and not hasattr(G_A, "colour_map"):
        raise UserError(f"--colour_start fit starts a generator's colour path, and --netG {m.netG} has none: "
                        "use --netG colour_skip_resnet_6blocks")
    multiple, d = getattr(G_A, "size_multiple", 4), cfg.data   # a U-Net's: 2**num_downs
    if multiple > 4 and ("crop" not in d.preprocess or d.crop_size % multiple):
        raise UserError(f"--netG {m.netG} trains on sides that are multiples of {multiple}: use --crop_size "
                        f"{multiple} (or a multiple of it) with a --preprocess that crops (now --preprocess "
                        f"{d.preprocess} --crop_size {d.crop_size})")
    return G_A, G_B


def build_discriminators(cfg: Config) -> tuple[nn.Module, nn.Module]:
    m = cfg.model
    make = lambda in_nc: create_discriminator(m.netD, input_nc=in_nc, ndf=m.ndf, n_layers=m.n_layers_D,
                                              norm=m.discriminator_norm)
    return make(m.output_nc), make(m.input_nc)


class CycleGenerators(nn.Module):
    """G_A and G_B as one module whose one forward makes every image the generator loss needs.

    A single forward per iteration is what DistributedDataParallel needs to reduce gradients
    once; single-process runs use the same module, so both run exactly the same code.
    """

    def __init__(self, G_A: nn.Module, G_B: nn.Module, identity: bool):
        super().__init__()
        self.G_A, self.G_B, self.identity = G_A, G_B, identity

    def forward(self, real_A: Tensor, real_B: Tensor):
        fake_B = self.G_A(real_A)   # G_A(A)
        rec_A = self.G_B(fake_B)    # G_B(G_A(A))
        fake_A = self.G_B(real_B)   # G_B(B)
        rec_B = self.G_A(fake_A)    # G_A(G_B(B))
        idt_A = idt_B = None
        if self.identity:
            idt_A = self.G_A(real_B)  # G_A should leave images that are already B alone
            idt_B = self.G_B(real_A)
        return fake_B, rec_A, fake_A, rec_B, idt_A, idt_B


class Discriminators(nn.Module):
    """D_A and D_B scoring real and pooled fake images in one forward (for the same reason)."""

    def __init__(self, D_A: nn.Module, D_B: nn.Module):
        super().__init__()
        self.D_A, self.D_B = D_A, D_B

    def forward(self, real_A: Tensor, real_B: Tensor, fake_A: Tensor, fake_B: Tensor):
        return self.D_A(real_B), self.D_A(fake_B), self.D_B(real_A), self.D_B(fake_A)


@dataclass
class Visuals:
    """The images of the last step, for dashboards and reports."""
    real_A: Tensor
    fake_B: Tensor
    rec_A: Tensor
    idt_B: Tensor | None
    real_B: Tensor
    fake_A: Tensor
    rec_B: Tensor
    idt_A: Tensor | None


class CycleGAN:
    """Four networks, two optimisers, two history pools, and ``train_step``."""

    def __init__(self, cfg: Config, device: torch.device, rank: int = 0):
        t, m = cfg.train, cfg.model
        self.cfg, self.device, self.rank = cfg, device, rank
        self.precision = resolve_precision(t.precision, device)
        if m.r1_gamma > 0 and self.precision.name == "fp16":
            # the penalty's gradient is taken without the loss scaler, and fp16 would round it to 0
            raise UserError(f"--r1_gamma trains in fp32 or bf16, and --precision {t.precision} runs fp16 on this "
                            "device: add --precision fp32")
        # Seed once here so that the four networks' initial weights depend only on --seed.
        torch.manual_seed(t.seed)
        G_A, G_B = build_generators(cfg)
        D_A, D_B = build_discriminators(cfg)
        for net in (G_A, G_B, D_A, D_B):
            init_weights(net, cfg.model.init_type, cfg.model.init_gain).to(device, memory_format=self.precision.memory_format)
        self.generators = CycleGenerators(G_A, G_B, identity=m.lambda_identity > 0)
        self.discriminators = Discriminators(D_A, D_B)
        # What the step calls: the same modules, or their DistributedDataParallel wrappers.
        self.run_generators: nn.Module = self.generators
        self.run_discriminators: nn.Module = self.discriminators
        self.criterion_gan = GANLoss(t.gan_mode)
        betas = (t.beta1, t.beta2)
        self.optimizer_G = make_adam(itertools.chain(self.G_A.parameters(), self.G_B.parameters()), t.lr, betas, device)
        self.optimizer_D = make_adam(itertools.chain(self.D_A.parameters(), self.D_B.parameters()), t.lr, betas, device)
        # Loss scaling only for fp16 on CUDA; elsewhere these are pass-throughs.
        self.scaler_G, self.scaler_D = self.precision.grad_scaler(), self.precision.grad_scaler()
        # Rank 0 (and a single process) keep the seeds single-process runs always had.
        pool_seed = t.seed * 2 + 1000003 * rank
        self.fake_A_pool = ImagePool(m.pool_size, seed=pool_seed + 1)
        self.fake_B_pool = ImagePool(m.pool_size, seed=pool_seed + 2)
        self.visuals: Visuals | None = None
        # --ema: averages of the generators' weights; they, not the raw weights, are saved and translated.
        self.averages = {name: WeightAverage(net, t.ema) for name, net in (("G_A", G_A), ("G_B", G_B))} \
            if t.ema > 0 else {}

    def start_from_data(self, dataset) -> bool:
        """Before a new run's first step (the loop calls it; not on resume): --colour_start fit sets
        each generator's colour path to an affine colour map fitted to the training colours
        (``colour_fit.py``), and the weight averages start from there. True when it did."""
        if self.cfg.model.colour_start != "fit":
            return False
        seed = self.cfg.train.seed
        pixels_A, pixels_B = sample_pixels(dataset, seed)
        fit = fit_colour_maps(pixels_A, pixels_B, seed=seed)
        errors = (set_colour_path(self.G_A, fit.forward, pixels_A, seed=seed),
                  set_colour_path(self.G_B, fit.backward, pixels_B, seed=seed + 1))
        self.averages = {name: WeightAverage(self.training_nets[name], self.cfg.train.ema) for name in self.averages}
        if self.rank == 0:
            others = ", ".join(f"{name} {d:.4f}" for name, d in sorted(fit.distances.items(), key=lambda kv: kv[1]))
            print(f"cyclegan-train: --colour_start fit: the colour paths start at the map fitted from the "
                  f"{fit.start} (colour distance {fit.distances[fit.start]:.4f}, untouched {fit.untouched:.4f}; "
                  f"every start: {others}); set to within {max(errors):.3f} rms", file=sys.stderr)
        return True

    G_A = property(lambda self: self.generators.G_A)
    G_B = property(lambda self: self.generators.G_B)
    D_A = property(lambda self: self.discriminators.D_A)
    D_B = property(lambda self: self.discriminators.D_B)

    @property
    def training_nets(self) -> dict[str, nn.Module]:
        """The networks the optimisers update."""
        return {"G_A": self.G_A, "G_B": self.G_B, "D_A": self.D_A, "D_B": self.D_B}

    @property
    def nets(self) -> dict[str, nn.Module]:
        """The networks a run saves and watchers translate with: with --ema, the averaged generators."""
        averaged = {name: average.average for name, average in self.averages.items()}
        return {**self.training_nets, **averaged}

    @property
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"G": self.optimizer_G, "D": self.optimizer_D}

    def compile_networks(self) -> None:
        """torch.compile the four networks (weights, optimisers and saved keys are unchanged). The
        discriminators stay eager when their loss differentiates a gradient (--r1_gamma, wgangp's
        penalty): compiled modules do not support double backward."""
        self.generators.G_A, self.generators.G_B = compile_module(self.G_A), compile_module(self.G_B)
        if self.cfg.model.r1_gamma == 0 and self.cfg.train.gan_mode != "wgangp":
            self.discriminators.D_A, self.discriminators.D_B = compile_module(self.D_A), compile_module(self.D_B)

    def distribute(self, device: torch.device, is_main: bool) -> None:
        """DistributedDataParallel over the generator pair and the discriminator pair (one forward
        each per step, so gradients are reduced once); SyncBatchNorm on CUDA for --norm batch."""
        if self.cfg.train.gan_mode == "wgangp":
            raise UserError("--gan_mode wgangp is not supported with multi-process training "
                            "(its gradient penalty needs double backward, which DDP does not reduce); use lsgan")
        if self.cfg.model.r1_gamma > 0:
            raise UserError("--r1_gamma is not supported with multi-process training (the R1 penalty needs "
                            "double backward, which DDP does not reduce); train in one process or use --r1_gamma 0")
        (self.generators, self.discriminators), wrap = ddp_wrapper([self.generators, self.discriminators],
                                                                   device, is_main)
        self.run_generators = wrap(self.generators)
        self.run_discriminators = wrap(self.discriminators)

    def set_learning_rate(self, lr: float) -> None:
        set_learning_rate(self.optimizers.values(), lr)

    # --cycle_warmup: the share of the cycle loss's weight for this step (1 = the paper's)
    cycle_scale = 1.0

    def set_progress(self, done: float) -> None:
        """The share of the run done before this step: the cycle loss's weight rises from 0 over
        the first --cycle_warmup of the run."""
        warmup = self.cfg.model.cycle_warmup
        self.cycle_scale = min(1.0, done / warmup) if warmup > 0 else 1.0

    def train_batch(self, batch: dict[str, Tensor]) -> dict[str, float]:
        return self.train_step(batch["A"], batch["B"])

    def augment(self, images: Tensor) -> Tensor:
        """What a discriminator sees of a batch: the images (the paper), or under --d_augment a random
        differentiable transform, the same kind for real and fake and in G's update as in D's."""
        return discriminator_augment(self.cfg.model.d_augment, images)

    def samplers(self) -> dict:
        return {}

    def current_visuals(self) -> dict[str, Tensor]:
        """The last step's images by name (A side, then B side), skipping those not computed."""
        if self.visuals is None:
            return {}
        v = self.visuals
        named = {"real_A": v.real_A, "fake_B": v.fake_B, "rec_A": v.rec_A, "idt_B": v.idt_B,
                 "real_B": v.real_B, "fake_A": v.fake_A, "rec_B": v.rec_B, "idt_A": v.idt_A}
        return {name: image for name, image in named.items() if image is not None}

    def train_step(self, real_A: Tensor, real_B: Tensor) -> dict[str, float]:
        """One iteration: update G_A and G_B together, then D_A and D_B. Returns the losses."""
        m = self.cfg.model
        real_A, real_B = self.precision.place(real_A, self.device), self.precision.place(real_B, self.device)
        for net in self.training_nets.values():
            net.train()
        # Networks run under autocast; every loss is computed in fp32 from fp32 copies.
        autocast = self.precision.autocast

        # Generators, with the discriminators frozen so no gradient is spent on them.
        set_requires_grad([self.D_A, self.D_B], False)
        self.optimizer_G.zero_grad(set_to_none=True)
        losses: dict[str, Tensor] = {}
        with autocast():
            fake_B, rec_A, fake_A, rec_B, idt_A, idt_B = self.run_generators(real_A, real_B)
            # The bare discriminators: their weights are frozen here, so no gradient to reduce.
            score_fake_B, score_fake_A = self.D_A(self.augment(fake_B)), self.D_B(self.augment(fake_A))
        if idt_A is not None:
            losses["idt_A"] = F.l1_loss(idt_A.float(), real_B) * m.lambda_B * m.lambda_identity
            losses["idt_B"] = F.l1_loss(idt_B.float(), real_A) * m.lambda_A * m.lambda_identity
        losses["G_A"] = self.criterion_gan(score_fake_B.float(), True)
        losses["G_B"] = self.criterion_gan(score_fake_A.float(), True)
        losses["cycle_A"] = cycle_l1(rec_A, real_A, m.cycle_lowpass) * m.lambda_A * self.cycle_scale
        losses["cycle_B"] = cycle_l1(rec_B, real_B, m.cycle_lowpass) * m.lambda_B * self.cycle_scale
        self.scaler_G.scale(sum(losses.values())).backward()
        self.scaler_G.step(self.optimizer_G)
        self.scaler_G.update()

        # Discriminators: real vs a fake drawn from the history pool (kept in fp32), loss halved.
        set_requires_grad([self.D_A, self.D_B], True)
        self.optimizer_D.zero_grad(set_to_none=True)
        fake_B, fake_A = fake_B.detach().float(), fake_A.detach().float()
        pooled_B, pooled_A = self.fake_B_pool.query(fake_B), self.fake_A_pool.query(fake_A)
        r1_gamma = m.r1_gamma
        # --r1_gamma differentiates D's verdict with respect to the real images it saw
        seen_real_A = self.augment(real_A).detach().requires_grad_(r1_gamma > 0)
        seen_real_B = self.augment(real_B).detach().requires_grad_(r1_gamma > 0)
        seen_A, seen_B = self.augment(pooled_A), self.augment(pooled_B)
        with autocast():
            real_B_score, fake_B_score, real_A_score, fake_A_score = self.run_discriminators(
                seen_real_A, seen_real_B, seen_A, seen_B)
        losses["D_A"] = self._discriminator_loss(self.D_A, real_B_score, fake_B_score, seen_real_B, seen_B)
        losses["D_B"] = self._discriminator_loss(self.D_B, real_A_score, fake_A_score, seen_real_A, seen_A)
        if r1_gamma > 0:
            # A PatchGAN's verdict on an image: the mean of its patches' (the loss averages them too),
            # so one gamma means the same at every image size.
            for name, D_loss, score, seen in (("R1_A", "D_A", real_B_score, seen_real_B),
                                              ("R1_B", "D_B", real_A_score, seen_real_A)):
                losses[name] = r1_penalty(score.float().flatten(1).mean(1), seen)
                losses[D_loss] = losses[D_loss] + r1_gamma / 2 * losses[name]
        self.scaler_D.scale(losses["D_A"] + losses["D_B"]).backward()
        self.scaler_D.step(self.optimizer_D)
        self.scaler_D.update()
        for name, average in self.averages.items():
            average.update(self.training_nets[name])

        self.visuals = Visuals(real_A.detach(), fake_B.detach(), rec_A.detach(),
                               None if idt_B is None else idt_B.detach(), real_B.detach(),
                               fake_A.detach(), rec_B.detach(), None if idt_A is None else idt_A.detach())
        return {name: float(losses[name].detach()) for name in LOSS_NAMES + R1_NAMES if name in losses}

    def _discriminator_loss(self, D: nn.Module, score_real: Tensor, score_fake: Tensor,
                            real: Tensor, fake: Tensor) -> Tensor:
        loss = 0.5 * (self.criterion_gan(score_real.float(), True) + self.criterion_gan(score_fake.float(), False))
        if self.cfg.train.gan_mode == "wgangp":
            with self.precision.autocast():
                loss = loss + gradient_penalty(D, real, fake).float()
        return loss

    def rank_state(self) -> dict:
        """What differs between DDP ranks: each rank's history pools."""
        return {"fake_A": self.fake_A_pool.state_dict(), "fake_B": self.fake_B_pool.state_dict()}

    def load_rank_state(self, pools: dict | None) -> None:
        if pools is not None:
            self.fake_A_pool.load_state_dict(pools["fake_A"], self.device)
            self.fake_B_pool.load_state_dict(pools["fake_B"], self.device)

    # -- training state --------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "nets": {name: bare_state_dict(net) for name, net in self.training_nets.items()},
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()},
            "pools": self.rank_state(),
            "grad_scalers": {"G": self.scaler_G.state_dict(), "D": self.scaler_D.state_dict()},
            "averages": {name: average.state_dict() for name, average in self.averages.items()},
        }

    def load_state_dict(self, state: dict) -> None:
        for name, net in self.training_nets.items():
            unwrap(net).load_state_dict(state["nets"][name])
        if state.get("averages") and not self.averages:
            raise UserError("the saved state was trained with --ema (an average of the generators' weights); "
                            "resume it with the same --ema")
        for name, average in self.averages.items():
            if name not in state.get("averages", {}):
                raise UserError(f"the saved state has no weight average of {name}: it was trained without --ema; "
                                "resume it without --ema (a resumed run keeps its settings)")
            average.load_state_dict(state["averages"][name])
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        self.load_rank_state(state["pools"])
        for name, scaler in (("G", self.scaler_G), ("D", self.scaler_D)):
            saved = state.get("grad_scalers", {}).get(name)
            if saved and scaler.is_enabled():
                scaler.load_state_dict(saved)
