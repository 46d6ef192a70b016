"""The reference's training options (junyanz/pytorch-CycleGAN-and-pix2pix, ``train.py``): what
each one means here. One table drives ``cyclegan-train`` (aliases, translations, refusals) and
docs/REFERENCE_OPTIONS.md, so the two cannot drift apart.

Every option is either accepted with the reference's meaning, accepted with a stated
difference, or refused in one line that says why and what to use instead.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

from ..errors import UserError

# How an option is handled: "same" (the reference's meaning, a field of Config), "translated"
# (turned into our settings below), "alias" (another name for one of ours), "ignored" (accepted,
# warns that it changes nothing here), "refused" (one line, why and what instead).


@dataclass(frozen=True)
class ReferenceOption:
    name: str
    handling: str
    note: str


TRAIN_OPTIONS: tuple[ReferenceOption, ...] = (
    # base options
    ReferenceOption("dataroot", "same", "the reference layout; also --domainA/--domainB for any two folders"),
    ReferenceOption("name", "same", "default <domainA>2<domainB> (the reference: experiment_name)"),
    ReferenceOption("gpu_ids", "translated", "-1: CPU; one id N: cuda:N; several ids: use torchrun, one process per GPU"),
    ReferenceOption("checkpoints_dir", "same", ""),
    ReferenceOption("model", "same", "cycle_gan (= cyclegan), dcgan, and the models in cyclegan-train --help; "
                    "pix2pix/colorization (paired data) are refused"),
    ReferenceOption("input_nc", "translated", "3 only: every image is read as RGB (1 is refused)"),
    ReferenceOption("output_nc", "translated", "3 only, as --input_nc"),
    ReferenceOption("ngf", "same", ""),
    ReferenceOption("ndf", "same", ""),
    ReferenceOption("netD", "same", "basic | n_layers | pixel"),
    ReferenceOption("netG", "same", "resnet_9blocks | resnet_6blocks | unet_256 | unet_128"),
    ReferenceOption("n_layers_D", "same", ""),
    ReferenceOption("norm", "same", "instance | batch | syncbatch | none; syncbatch saves batch-norm keys and becomes "
                    "SyncBatchNorm under torchrun on GPUs. --norm none files keep conv biases the reference drops"),
    ReferenceOption("init_type", "same", ""),
    ReferenceOption("init_gain", "same", ""),
    ReferenceOption("no_dropout", "same", "CycleGAN trains without dropout unless --use_dropout"),
    ReferenceOption("dataset_mode", "translated", "unaligned only (the CycleGAN dataset); aligned/single/colorization "
                    "are refused for training"),
    ReferenceOption("direction", "same", "BtoA: domain B plays side A, so G_A learns B -> A"),
    ReferenceOption("serial_batches", "same", ""),
    ReferenceOption("num_threads", "same", "data-loading worker processes; default min(4, cores - 1), 0 on one core "
                    "(the reference: 4)"),
    ReferenceOption("batch_size", "same", ""),
    ReferenceOption("load_size", "same", ""),
    ReferenceOption("crop_size", "same", ""),
    ReferenceOption("max_dataset_size", "same", "the first N images of each domain, by name"),
    ReferenceOption("preprocess", "same", "resize_and_crop | crop | scale_width | scale_width_and_crop | none"),
    ReferenceOption("no_flip", "same", ""),
    ReferenceOption("display_winsize", "ignored", "the report and dashboard size images themselves"),
    ReferenceOption("epoch", "translated", "training resumes with --continue_train from the exact saved state; "
                    "--epoch is for cyclegan-translate/export/eval"),
    ReferenceOption("load_iter", "translated", "0 only for training (resume is exact with --continue_train); "
                    "cyclegan-translate --load_iter N reads iter_N weights"),
    ReferenceOption("verbose", "same", "prints each network and its parameter count"),
    ReferenceOption("suffix", "same", "name = name + '_' + suffix.format(**options)"),
    ReferenceOption("use_wandb", "same", "needs the [wandb] extra"),
    ReferenceOption("wandb_project_name", "same", ""),
    # train options
    ReferenceOption("display_freq", "same", "counts steps; the reference counts images (they differ when "
                    "--batch_size > 1)"),
    ReferenceOption("display_ncols", "ignored", "the dashboard shows one row per side (A, B)"),
    ReferenceOption("display_id", "translated", "-1 or 0: no dashboard (--display none); a positive id: visdom"),
    ReferenceOption("display_server", "same", ""),
    ReferenceOption("display_env", "same", "default: the run name (the reference: main)"),
    ReferenceOption("display_port", "same", ""),
    ReferenceOption("update_html_freq", "same", "counts steps (the reference: images)"),
    ReferenceOption("print_freq", "same", "counts steps (the reference: images)"),
    ReferenceOption("no_html", "same", "no web/ report"),
    ReferenceOption("save_latest_freq", "same", "counts steps (the reference: images); saves the full state"),
    ReferenceOption("save_epoch_freq", "same", ""),
    ReferenceOption("save_by_iter", "same", "also keeps iter_<step>_net_*.pth at every --save_latest_freq"),
    ReferenceOption("continue_train", "same", "resumes exactly (weights, optimisers, pools, random streams)"),
    ReferenceOption("epoch_count", "same", ""),
    ReferenceOption("phase", "same", "--dataroot subfolders <phase>A/ <phase>B/"),
    ReferenceOption("n_epochs", "same", "old name --niter also accepted"),
    ReferenceOption("n_epochs_decay", "same", "old name --niter_decay also accepted"),
    ReferenceOption("beta1", "same", ""),
    ReferenceOption("lr", "same", ""),
    ReferenceOption("gan_mode", "same", "lsgan | vanilla | wgangp; wgangp adds a gradient penalty to D's loss, "
                    "which the reference's CycleGAN never applies"),
    ReferenceOption("pool_size", "same", ""),
    ReferenceOption("lr_policy", "same", "linear (old name lambda) | step | cosine; plateau is refused: the "
                    "reference steps it on a metric CycleGAN never sets, so the rate never changes"),
    ReferenceOption("lr_decay_iters", "same", "epochs between x0.1 steps of --lr_policy step"),
    # cycle_gan model options
    ReferenceOption("lambda_A", "same", ""),
    ReferenceOption("lambda_B", "same", ""),
    ReferenceOption("lambda_identity", "same", ""),
)

# Values of "same" options that mean something else in the reference than the plain value.
_POLICY_NAMES = {"lambda": "linear"}


def translate_reference_options(given: dict[str, Any]) -> dict[str, Any]:
    """Options as the reference spells them -> ours. ``given`` holds only options the user gave
    (by field name); the result is ready for ``presets.plan_training``. Raises UserError for a
    value we cannot honour."""
    given = dict(given)
    gpu_ids = given.pop("gpu_ids", None)
    if gpu_ids is not None:
        ids = [part.strip() for part in str(gpu_ids).split(",") if part.strip()]
        if not ids or not all(i.lstrip("-").isdigit() for i in ids):
            raise UserError(f"--gpu_ids {gpu_ids!r}: give -1 for the CPU or one GPU id such as 0")
        if given.get("device") not in (None, "auto"):
            raise UserError("give either --gpu_ids or --device, not both")
        if len(ids) > 1:
            raise UserError(f"--gpu_ids {gpu_ids}: one process drives one GPU here; for several, run "
                            f"torchrun --nproc_per_node {len(ids)} $(which cyclegan-train) ... "
                            "(CUDA_VISIBLE_DEVICES picks which)")
        given["device"] = "cpu" if int(ids[0]) < 0 else f"cuda:{int(ids[0])}"
    display_id = given.pop("display_id", None)
    if display_id is not None and display_id <= 0 and given.get("display") in (None, "auto", "visdom"):
        given["display"] = "none"
    for option in ("input_nc", "output_nc"):
        if given.get(option) not in (None, 3):
            raise UserError(f"--{option} {given[option]}: only 3 (RGB) is supported; every image is read as RGB, "
                            "grayscale ones included")
    mode = given.pop("dataset_mode", None)
    if mode not in (None, "unaligned"):
        raise UserError(f"--dataset_mode {mode}: training here uses unaligned domains (the CycleGAN dataset); "
                        "aligned, single and colorization data belong to other models")
    if given.pop("load_iter", 0) not in (0, None):
        raise UserError("--load_iter: training resumes from the exact saved state with --continue_train; "
                        "to translate with iter_N weights use cyclegan-translate --load_iter N")
    epoch = given.pop("epoch", None)
    if epoch not in (None, "latest"):
        raise UserError(f"--epoch {epoch}: training resumes from the latest state with --continue_train; "
                        "--epoch chooses weights in cyclegan-translate, cyclegan-export and cyclegan-eval")
    policy = given.get("lr_policy")
    if policy is not None:
        given["lr_policy"] = _POLICY_NAMES.get(policy, policy)
        if given["lr_policy"] == "plateau":
            raise UserError("--lr_policy plateau: the reference steps it on a metric CycleGAN never sets, so the "
                            "rate never changes; use linear (the default), step or cosine")
    ignored = [name for name in ("display_winsize", "display_ncols") if given.pop(name, None) is not None]
    for name in ignored:
        note = next(o.note for o in TRAIN_OPTIONS if o.name == name)
        warnings.warn(f"--{name} changes nothing here: {note}")
    return given


def apply_suffix(name: str, suffix: str | None, options: dict[str, Any]) -> str:
    """The reference's --suffix: ``name + '_' + suffix.format(**options)``."""
    if not suffix:
        return name
    try:
        return f"{name}_{suffix.format(**options)}"
    except (KeyError, IndexError, ValueError) as exc:
        raise UserError(f"--suffix {suffix!r}: cannot fill it in ({exc}); name options in braces, "
                        "e.g. {netG}_size{load_size}") from None


def options_table() -> str:
    """docs/REFERENCE_OPTIONS.md's table, from TRAIN_OPTIONS."""
    rows = ["| option | here | note |", "|---|---|---|"]
    rows += [f"| `--{o.name}` | {o.handling} | {o.note} |" for o in TRAIN_OPTIONS]
    return "\n".join(rows)
