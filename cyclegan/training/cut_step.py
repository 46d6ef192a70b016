"""CUT and FastCUT (Park, Efros, Zhang, Zhu, ECCV 2020) and one training step, in the public code's order.

One generator G: A -> B, one discriminator D judging B, and instead of a second generator and a
cycle, PatchNCE: a patch of G(x) must be recognised as coming from the patch of x at the same
place, among the other patches of x, in the feature space of G's own encoder projected by a small
MLP H (``PatchSampleF``):

    L = lambda_GAN * GAN(D(G(x)))  +  lambda_NCE * NCE(x, G(x))                  FastCUT
    L = lambda_GAN * GAN(D(G(x)))  +  lambda_NCE * (NCE(x, G(x)) + NCE(y, G(y))) / 2   CUT

Each NCE is the mean over ``--nce_layers`` of the mean over sampled patches. Where the public code
and the paper differ (the /2 above, D's update first, anti-aliasing, xavier init) we follow the
code: docs/CUT.md.
"""
from __future__ import annotations


import torch
from torch import Tensor, nn

from ..checkpoint import bare_state_dict, unwrap
from ..config import Config
from ..errors import UserError
from .losses import GANLoss, patch_nce_loss
from ..nets import init_weights, set_requires_grad
from ..nets.cut import PatchSampleF, create_cut_discriminator, create_cut_generator, encoder_features, \
    run_keeping_features
from ..precision import resolve_precision
from .distributed import ddp_wrapper
from .optim import make_adam, set_learning_rate

LOSS_NAMES = ("D_real", "D_fake", "G_GAN", "NCE", "NCE_Y", "G")   # the public code's names
CUT_GENERATORS = {"resnet_9blocks": 9, "resnet_6blocks": 6}
NETF_CHOICES = ("mlp_sample", "sample")


def parse_nce_layers(text: str) -> list[int]:
    try:
        layers = sorted({int(part) for part in str(text).split(",") if part.strip()})
    except ValueError:
        layers = []
    if not layers or layers[0] < 0:
        raise UserError(f"--nce_layers {text!r}: give generator layer indices separated by commas, e.g. 0,4,8,12,16")
    return layers


def build_generator(cfg: Config) -> nn.Module:
    m = cfg.model
    if m.netG not in CUT_GENERATORS:
        raise UserError(f"--model {m.model} trains --netG {' or '.join(CUT_GENERATORS)}, not {m.netG}")
    return create_cut_generator(CUT_GENERATORS[m.netG], input_nc=m.input_nc, output_nc=m.output_nc, ngf=m.ngf,
                                norm=m.norm, use_dropout=m.use_dropout, antialias=not m.no_antialias,
                                antialias_up=not m.no_antialias_up)


class GeneratorWithPatches(nn.Module):
    """G and H as one module whose one forward makes every tensor the generator's loss needs:
    G's outputs and, for each PatchNCE term, the (query, key) patch vectors. One forward per step
    is what DistributedDataParallel needs to reduce G's and H's gradients once."""

    def __init__(self, G: nn.Module, F: PatchSampleF, layers: list[int], num_patches: int, identity: bool,
                 with_nce: bool):
        super().__init__()
        self.G, self.F = G, F
        self.layers, self.num_patches, self.identity, self.with_nce = layers, num_patches, identity, with_nce
        self.sampler: torch.Generator | None = None   # the model's own stream for patch positions

    def forward(self, real_A: Tensor, real_B: Tensor, flip: bool):
        n = real_A.shape[0]
        real = torch.cat([real_A, real_B]) if self.identity else real_A   # one pass for G(x) and G(y)
        if flip:  # FastCUT: G sees the mirror image; its features are mirrored back below
            real = torch.flip(real, [3])
        if self.with_nce and not flip:
            # The key side of PatchNCE is G's encoder over the unflipped input with the weights of
            # this forward (the public code runs it again after D's update, which leaves G alone),
            # and it gets no gradient: keep it from this pass instead of a second encoder pass.
            fake, features = run_keeping_features(self.G, real, self.layers)
            key_features = [[f[:n] for f in features], [f[n:] for f in features]]
        else:
            fake, key_features = self.G(real), [None, None]
        fake_B, idt_B = fake[:n], (fake[n:] if self.identity else None)
        pairs = []
        if self.with_nce:
            pairs.append(self._patches(real_A, fake_B, flip, key_features[0]))
            if self.identity:
                pairs.append(self._patches(real_B, idt_B, flip, key_features[1]))
        return fake_B, idt_B, pairs

    def _patches(self, source: Tensor, output: Tensor, flip: bool,
                 source_features: list[Tensor] | None) -> tuple[list[Tensor], list[Tensor]]:
        """Query patches of G's output and key patches of its input, at the same sampled places."""
        query = encoder_features(self.G, output, self.layers)
        if flip:
            query = [torch.flip(q, [3]) for q in query]
        # The key side gets no gradient in the loss (the public code detaches it after H), so it
        # is computed without a graph: the same numbers, less memory and time.
        with torch.no_grad():
            if source_features is None:   # G saw the mirror image: its features are not these
                source_features = encoder_features(self.G, source, self.layers)
            key, positions = self.F(source_features, self.num_patches, generator=self.sampler)
        query, _ = self.F(query, self.num_patches, positions)
        return query, key


class RealFakeScores(nn.Module):
    """D on real B and on a detached fake in one forward (one gradient reduction under DDP)."""

    def __init__(self, D: nn.Module):
        super().__init__()
        self.D = D

    def forward(self, real_B: Tensor, fake_B: Tensor):
        return self.D(real_B), self.D(fake_B)


class CUT:
    """G, D, H, their optimisers and ``train_step``; ``--model fastcut`` is the same class with the FastCUT preset."""

    def __init__(self, cfg: Config, device: torch.device, rank: int = 0):
        m, t = cfg.model, cfg.train
        self.cfg, self.device = cfg, device
        self.precision = resolve_precision(t.precision, device)
        self.layers = parse_nce_layers(m.nce_layers)
        check_settings(cfg)
        torch.manual_seed(t.seed)   # the initial weights depend only on --seed
        G = build_generator(cfg)
        if self.layers[-1] >= len(G.model):
            raise UserError(f"--nce_layers {m.nce_layers}: this generator has layers 0 to {len(G.model) - 1}")
        D = create_cut_discriminator(m.netD, input_nc=m.output_nc, ndf=m.ndf, n_layers=m.n_layers_D,
                                     norm=m.discriminator_norm, antialias=not m.no_antialias)
        for net in (G, D):
            init_weights(net, m.init_type, m.init_gain)
        # H's MLPs take the widths of G's chosen layers: build them now, from a small dummy forward,
        # so that its weights exist before the optimiser, a checkpoint or a resume needs them.
        F = PatchSampleF(use_mlp=m.netF == "mlp_sample", nc=m.netF_nc)
        F.build(self._layer_widths(G))
        init_weights(F, m.init_type, m.init_gain)
        for net in (G, D, F):
            net.to(device, memory_format=self.precision.memory_format)
        self.generator = GeneratorWithPatches(G, F, self.layers, m.num_patches, identity=m.nce_idt,
                                              with_nce=m.lambda_NCE > 0)
        self.scores = RealFakeScores(D)
        # What the step calls: the same modules, or their DistributedDataParallel wrappers.
        self.run_generator: nn.Module = self.generator
        self.run_scores: nn.Module = self.scores
        self.criterion_gan = GANLoss(t.gan_mode)
        betas = (t.beta1, t.beta2)
        self.optimizer_G = make_adam(G.parameters(), t.lr, betas, device)
        self.optimizer_D = make_adam(D.parameters(), t.lr, betas, device)
        self.optimizer_F = make_adam(F.parameters(), t.lr, betas, device) if list(F.parameters()) else None
        self.scaler_G, self.scaler_D = self.precision.grad_scaler(), self.precision.grad_scaler()
        # Patch positions and flips come from the model's own stream (saved, per rank), so they do
        # not depend on what else draws random numbers, and a resume continues them exactly.
        self.sampler = torch.Generator().manual_seed(t.seed * 2 + 7 + 1000003 * rank)
        self.generator.sampler = self.sampler
        self.visuals: dict[str, Tensor] = {}

    def _layer_widths(self, G: nn.Module) -> list[int]:
        was_training = G.training
        G.eval()   # no running statistics move, no dropout noise drawn
        with torch.no_grad():
            widths = [f.shape[1] for f in encoder_features(G, torch.zeros(1, self.cfg.model.input_nc, 32, 32),
                                                             self.layers)]
        G.train(was_training)
        return widths

    G = property(lambda self: self.generator.G)
    F = property(lambda self: self.generator.F)
    D = property(lambda self: self.scores.D)

    @property
    def nets(self) -> dict[str, nn.Module]:
        return {"G": self.G, "D": self.D, "F": self.F}

    @property
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        named = {"G": self.optimizer_G, "D": self.optimizer_D, "F": self.optimizer_F}
        return {name: opt for name, opt in named.items() if opt is not None}

    def distribute(self, device: torch.device, is_main: bool) -> None:
        """DistributedDataParallel over G+H and over D (one forward each per step)."""
        (self.generator, self.scores), wrap = ddp_wrapper([self.generator, self.scores], device, is_main)
        self.run_generator = wrap(self.generator, find_unused_parameters=not self.generator.with_nce)
        self.run_scores = wrap(self.scores)

    def set_learning_rate(self, lr: float) -> None:
        set_learning_rate(self.optimizers.values(), lr)

    def train_batch(self, batch: dict[str, Tensor]) -> dict[str, float]:
        return self.train_step(batch["A"], batch["B"])

    def samplers(self) -> dict:
        return {}

    def current_visuals(self) -> dict[str, Tensor]:
        return dict(self.visuals)

    def train_step(self, real_A: Tensor, real_B: Tensor) -> dict[str, float]:
        """One iteration as the public code runs it: G's forward, then D's update, then G's and H's."""
        m = self.cfg.model
        real_A, real_B = self.precision.place(real_A, self.device), self.precision.place(real_B, self.device)
        for net in self.nets.values():
            net.train()
        autocast = self.precision.autocast
        flip = m.flip_equivariance and bool(torch.rand((), generator=self.sampler) < 0.5)
        with autocast():
            fake_B, idt_B, pairs = self.run_generator(real_A, real_B, flip)

        # D: real B against G(A), detached; loss halved.
        set_requires_grad(self.D, True)
        self.optimizer_D.zero_grad(set_to_none=True)
        with autocast():
            score_real, score_fake = self.run_scores(real_B, fake_B.detach())
        losses: dict[str, Tensor] = {"D_real": self.criterion_gan(score_real.float(), True),
                                     "D_fake": self.criterion_gan(score_fake.float(), False)}
        self.scaler_D.scale((losses["D_real"] + losses["D_fake"]) * 0.5).backward()
        self.scaler_D.step(self.optimizer_D)
        self.scaler_D.update()

        # G and H: fool the just-updated D (frozen: no gradient spent on it), and PatchNCE.
        set_requires_grad(self.D, False)
        self.optimizer_G.zero_grad(set_to_none=True)
        if self.optimizer_F is not None:
            self.optimizer_F.zero_grad(set_to_none=True)
        zero = real_A.new_zeros((), dtype=torch.float32)
        if m.lambda_GAN > 0:
            with autocast():
                score = self.D(fake_B)
            losses["G_GAN"] = self.criterion_gan(score.float(), True) * m.lambda_GAN
        else:
            losses["G_GAN"] = zero
        nce_terms = [self._nce(query, key, real_A.shape[0]) for query, key in pairs]
        if nce_terms:
            losses["NCE"] = nce_terms[0]
            if len(nce_terms) == 2:
                losses["NCE_Y"] = nce_terms[1]
        nce = sum(nce_terms) / len(nce_terms) if nce_terms else zero   # CUT: the mean of NCE and NCE_Y
        losses["G"] = losses["G_GAN"] + nce
        self.scaler_G.scale(losses["G"]).backward()
        self.scaler_G.step(self.optimizer_G)
        if self.optimizer_F is not None:
            self.scaler_G.step(self.optimizer_F)
        self.scaler_G.update()

        unflip = (lambda x: torch.flip(x, [3])) if flip else (lambda x: x)   # show G(A) beside A
        self.visuals = {"real_A": real_A.detach(), "fake_B": unflip(fake_B.detach().float()), "real_B": real_B.detach()}
        if idt_B is not None:
            self.visuals["idt_B"] = unflip(idt_B.detach().float())
        return {name: float(losses[name].detach()) for name in LOSS_NAMES if name in losses}

    def _nce(self, query: list[Tensor], key: list[Tensor], batch_size: int) -> Tensor:
        """lambda_NCE x the mean over layers of the mean PatchNCE over the sampled patches."""
        m = self.cfg.model
        per_layer = [patch_nce_loss(q.float(), k.float(), batch_size, m.nce_T,
                                    m.nce_includes_all_negatives_from_minibatch).mean() for q, k in zip(query, key)]
        return sum(per_layer) * m.lambda_NCE / len(per_layer)

    # -- training state --------------------------------------------------------------------
    def rank_state(self) -> dict:
        """What differs between DDP ranks: the stream of patch positions and flips."""
        return {"sampler": self.sampler.get_state()}

    def load_rank_state(self, state: dict | None) -> None:
        if state is not None:
            self.sampler.set_state(state["sampler"])

    def state_dict(self) -> dict:
        return {
            "nets": {name: bare_state_dict(net) for name, net in self.nets.items()},
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()},
            "pools": self.rank_state(),   # the loop's name for the per-rank part
            "grad_scalers": {"G": self.scaler_G.state_dict(), "D": self.scaler_D.state_dict()},
        }

    def load_state_dict(self, state: dict) -> None:
        for name, net in self.nets.items():
            unwrap(net).load_state_dict(state["nets"][name])
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        self.load_rank_state(state["pools"])
        for name, scaler in (("G", self.scaler_G), ("D", self.scaler_D)):
            saved = state.get("grad_scalers", {}).get(name)
            if saved and scaler.is_enabled():
                scaler.load_state_dict(saved)


def check_settings(cfg: Config) -> None:
    """CUT's own settings, each refused in one line when it cannot work."""
    m, t = cfg.model, cfg.train
    checks = [
        (m.netF in NETF_CHOICES, f"--netF {m.netF!r}: use {' or '.join(NETF_CHOICES)}"),
        (m.netF_nc >= 1, "--netF_nc must be at least 1"),
        (m.num_patches >= 1, "--num_patches must be at least 1"),
        (m.nce_T > 0, "--nce_T must be positive"),
        (m.lambda_GAN >= 0 and m.lambda_NCE >= 0, "--lambda_GAN and --lambda_NCE must be >= 0"),
        (t.gan_mode in ("lsgan", "vanilla"), f"--model {m.model} trains with --gan_mode lsgan or vanilla, "
                                             f"not {t.gan_mode}"),
    ]
    for ok, message in checks:
        if not ok:
            raise UserError(message)
