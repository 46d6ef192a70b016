"""Every setting of a run, in one place, as plain dataclasses.

The CLI builds a ``Config`` from its flags; a notebook builds one directly:

    from cyclegan import Config, train
    cfg = Config()
    cfg.train.max_steps = 100
    cfg.data.domainA, cfg.data.domainB = "forest", "abstract"
    train(cfg)

Field names follow the reference implementation's option names (``lambda_A``, ``netG``,
``n_epochs_decay``) so that users and saved configs speak one language.
"""
from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


D_AUGMENTATIONS = ("none", "translation")  # --d_augment choices (cyclegan/training/diff_augment.py)
COLOUR_STARTS = ("identity", "fit")       # --colour_start choices (cyclegan/training/colour_fit.py)


@dataclass
class ModelConfig:
    model: str = "cyclegan"          # cyclegan | dcgan (unconditional baseline on domain A)
    netG: str = "resnet_9blocks"
    netD: str = "basic"
    n_layers_D: int = 3
    ngf: int = 64
    ndf: int = 64
    norm: str = "instance"
    init_type: str = "normal"
    init_gain: float = 0.02
    use_dropout: bool = False        # the CycleGAN model runs its generators without dropout
    upsample: str = "transpose"      # transpose (the reference) | resize: nearest x2 + 3x3 conv
    colour_start: str = "identity"   # identity | fit: a generator's colour path starts at a colour map fitted to the data
    input_nc: int = 3
    output_nc: int = 3
    # DCGAN only (Radford et al. defaults)
    nz: int = 100                    # latent size
    image_size: int = 64             # 32 | 64 | 128: one stage more or less per doubling
    channels: int = 3                # 1 for grayscale domains
    d_augment: str = "none"          # none | translation: DiffAugment on every image D sees
    # CUT / FastCUT only (the public code's options and defaults; docs/CUT.md)
    no_antialias: bool = False       # stride-2 convs instead of conv + blur-downsample (G and D)
    no_antialias_up: bool = False    # transposed convs instead of blur-upsample + conv (G)
    netF: str = "mlp_sample"         # mlp_sample | sample: the patch projection H
    netF_nc: int = 256               # width of H's two-layer MLP
    nce_layers: str = "0,4,8,12,16"  # generator layers (indices of G.model) PatchNCE compares


def default_workers() -> int:
    """Data-loading workers for this machine: min(4, cores - 1), so one core is left to training; 0 on one core.

    The reference's 4 makes PyTorch warn on every run on a 2-core machine (more workers than it suggests).
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(0, min(4, cores - 1))


@dataclass
class DataConfig:
    domainA: str | None = None
    domainB: str | None = None
    dataroot: str | None = None      # reference layout: trainA/ trainB/ testA/ testB/
    datasets_dir: str | None = None  # where domain names resolve; default $CYCLEGAN_DATASETS or ./datasets
    preprocess: str = "resize_and_crop"
    load_size: int = 286
    crop_size: int = 256
    no_flip: bool = False
    serial_batches: bool = False
    batch_size: int = 1
    num_threads: int = field(default_factory=lambda: default_workers())
    direction: str = "AtoB"          # BtoA: domain B's images play side A (the reference's --direction)
    phase: str = "train"             # --dataroot subfolders <phase>A/ <phase>B/
    max_dataset_size: int | None = None  # use at most this many images per domain (first by name)


@dataclass
class TrainConfig:
    name: str | None = None          # default: <domainA>2<domainB>
    checkpoints_dir: str = "checkpoints"
    gan_mode: str = "lsgan"
    lambda_A: float = 10.0
    lambda_B: float = 10.0
    lambda_identity: float = 0.5
    r1_gamma: float = 0.0            # DCGAN only: R1 penalty on D's gradient at real images (0 = off)
    # CUT / FastCUT only (--model cut's defaults; --model fastcut's preset changes some)
    lambda_GAN: float = 1.0          # weight of the adversarial loss
    lambda_NCE: float = 1.0          # weight of PatchNCE (10 for FastCUT)
    nce_idt: bool = True             # PatchNCE on B -> G(B) too (CUT; not FastCUT)
    nce_T: float = 0.07              # PatchNCE temperature
    num_patches: int = 256           # patches sampled per layer
    flip_equivariance: bool = False  # flip G's input at random and its features back (FastCUT)
    nce_includes_all_negatives_from_minibatch: bool = False  # negatives from every image of the batch
    pool_size: int = 50
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    n_epochs: int = 100
    n_epochs_decay: int = 100
    epoch_count: int = 1
    lr_policy: str = "linear"        # linear | step | cosine (per epoch, as the reference steps them)
    lr_decay_iters: int = 50         # step: multiply by 0.1 every this many epochs
    max_steps: int | None = None
    time_budget: float | None = None  # seconds: --time fits the whole lr schedule into this much training
    recipe: str = "paper"            # paper | fast: which preset the options started from (recorded)
    cycle_warmup: float = 0.0        # share of the run over which the cycle loss weight rises from 0 (0 = the paper)
    ema: float = 0.0                 # decay of an average of the generators' weights, saved and translated (0 = off)
    save_latest_freq: int = 5000     # iterations
    save_epoch_freq: int = 5         # epochs
    print_freq: int = 100            # iterations between loss-log lines
    save_by_iter: bool = False       # also keep iter_<step>_net_*.pth at every --save_latest_freq
    no_html: bool = False            # no HTML report under web/
    verbose: bool = False            # print the networks and their sizes at the start
    continue_train: bool = False
    seed: int = 0
    device: str = "auto"
    progress: bool = True
    dry_run: bool = False            # a few steps end to end, for smoke tests
    # speed
    precision: str = "auto"          # auto | fp32 | bf16 | fp16
    compile: str = "auto"            # auto | on | off (torch.compile)
    # watching the run
    display: str = "auto"            # auto (visdom when a server answers) | visdom | tensorboard | none
    display_server: str = "http://localhost"
    display_port: int = 8097
    display_env: str | None = None   # default: the run name
    display_freq: int = 400          # iterations between dashboard updates
    update_html_freq: int = 1000     # iterations between HTML report updates
    eval_freq: int = 0               # iterations between KID evaluations (0 = off)
    use_wandb: bool = False          # also log to Weights & Biases (the reference's flag)
    wandb_project_name: str = "CycleGAN-and-pix2pix"  # the reference's default project


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Config":
        """Rebuild from ``to_dict`` output; keys this version does not know are ignored."""
        def build(kind, values):
            known = {f.name for f in dataclasses.fields(kind)}
            return kind(**{k: v for k, v in (values or {}).items() if k in known})
        return cls(model=build(ModelConfig, data.get("model")),
                   data=build(DataConfig, data.get("data")),
                   train=build(TrainConfig, data.get("train")))

    @staticmethod
    def unknown_keys(data: dict[str, Any]) -> list[str]:
        """The settings in ``data`` that ``from_dict`` would drop, as ``section.key`` (``section``
        for a whole section): what a newer version wrote and this one cannot use."""
        kinds = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig}
        unknown = [name for name in data if name not in kinds]
        for name, kind in kinds.items():
            values = data.get(name)
            if isinstance(values, dict):
                known = {f.name for f in dataclasses.fields(kind)}
                unknown += [f"{name}.{key}" for key in values if key not in known]
        return unknown

    def save_json(self, path: Path) -> None:
        from .checkpoint import atomic_write_bytes
        atomic_write_bytes(path, (json.dumps(self.to_dict(), indent=2) + "\n").encode())

    @classmethod
    def load_json(cls, path: Path) -> "Config":
        return cls.from_dict(json.loads(Path(path).read_text()))
