"""``cyclegan-train``: parse flags, plan the run (``cyclegan.presets``), call ``cyclegan.train``, print.

With no domain options (or ``--demo``) it builds the offline demo domains first, trains a
small CycleGAN on them, and scores the translated test images against their known truth.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..models import CARDS
from ..config import COLOUR_STARTS, D_AUGMENTATIONS, default_workers
from ..nets import GENERATORS, UPSAMPLING
from ..presets import RECIPES, plan_training
from ..runfolder import RunFolder
from ..report import DISPLAY_CHOICES
from ..report.test_split import test_split_change
from ..eval.collapse_watch import STILL_IDENTITY
from ..run import train
from ..quality.known_answer import score_known_answer
from ..training.schedule import parse_duration
from ..training.registry import model_entry, model_names
from .common import Parser, add_option, run_cli

try:
    from torch.distributed.elastic.multiprocessing.errors import record
except ImportError:  # a torch built without distributed support
    def record(fn):
        return fn

PROG = "cyclegan-train"


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def yes_no(value: str) -> bool:
    """The public CUT code's booleans: ``--nce_idt`` alone is true; ``--nce_idt false`` turns it off."""
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on", "t", "y"):
        return True
    if text in ("0", "false", "no", "off", "f", "n"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {value!r}")


def build_parser() -> Parser:
    p = Parser(prog=PROG, description="Train a CycleGAN on two unpaired image domains "
               "(with no domain options: the built-in offline demo).")
    # One function per section, in the order --help shows them.
    for add_section in (_data_options, _model_options, _training_options, _cut_options, _output_options,
                        _dashboard_options, _demo_options):
        add_section(p)
    _group_by_model(p)
    return p


def _group_by_model(p: Parser) -> None:
    """--help: the shared options first, then one group per model, from the cards: an option that
    only some models take (their card's ``options``) is listed under them, not among the shared."""
    by_owners: dict[tuple[str, ...], list] = {}
    # argparse keeps its groups' actions in private lists: moving an action between them only
    # changes where --help lists it, not how it parses
    for group in list(p._action_groups):
        for action in list(group._group_actions):
            owners = tuple(card.name for card in CARDS.values() if action.dest in card.options)
            if owners:
                group._group_actions.remove(action)
                by_owners.setdefault(owners, []).append(action)
    order = list(CARDS)   # the cards' order; options of several models after those of one
    for owners in sorted(by_owners, key=lambda names: (len(names) > 2, order.index(names[0]))):
        model_group = p.add_argument_group(f"--model {' | '.join(owners)} only")
        model_group._group_actions.extend(by_owners[owners])


def _data_options(p: Parser) -> None:
    """Where the images come from and how they are loaded."""
    data = p.add_argument_group("data")
    add_option(data, "--domainA", help="domain A: a name under --datasets-dir, or a folder")
    add_option(data, "--domainB", help="domain B: a name under --datasets-dir, or a folder")
    add_option(data, "--dataroot", help="a folder in the reference layout: trainA/ trainB/ [testA/ testB/]")
    add_option(data, "--datasets-dir", help="where domain names resolve (default $CYCLEGAN_DATASETS or ./datasets)")
    add_option(data, "--preprocess", choices=["resize_and_crop", "scale_width_and_crop", "crop", "scale_width", "none"],
               help="image preprocessing (default resize_and_crop)")
    add_option(data, "--load_size", type=int, help="resize to this size first (default 286)")
    add_option(data, "--crop_size", type=int, help="then crop to this size (default 256)")
    add_option(data, "--no_flip", action="store_true", default=None, help="no random horizontal flips")
    add_option(data, "--serial_batches", action="store_true", default=None,
               help="fixed order, B paired by index instead of at random")
    add_option(data, "--batch_size", type=int, help="images per step (default 1)")
    add_option(data, "--num_threads", type=int, help="data-loading worker processes (default: min(4, cores - 1), 0 on one core; here %s)" % default_workers())
    add_option(data, "--direction", choices=["AtoB", "BtoA"], help="BtoA: domain B plays side A (default AtoB)")
    add_option(data, "--phase", help="with --dataroot: train on <phase>A/ <phase>B/ (default train)")
    add_option(data, "--max_dataset_size", type=int, help="use at most this many images per domain (first by name)")
    add_option(data, "--dataset_mode", help="the reference's; unaligned only (the CycleGAN dataset)")


def _model_options(p: Parser) -> None:
    """Which model, and its networks (the generator and discriminator; DCGAN's latent and image size)."""
    model = p.add_argument_group("model")
    add_option(model, "--model", choices=model_names(),
               help="cyclegan (default); cut or fastcut: one-sided A -> B by patchwise contrastive learning "
                    "(Park et al. 2020); dcgan: an unconditional baseline trained on --domainA")
    add_option(model, "--netG", choices=list(GENERATORS),
               help="generator (default resnet_9blocks; unet_* take sides that are multiples of 256/128; "
                    "skip_resnet_*: ours, not the reference's: input plus a learned change, the identity at step 0; "
                    "colour_skip_resnet_6blocks: that plus a per-pixel colour path)")
    add_option(model, "--upsample", choices=list(UPSAMPLING),
               help="generator upsampling (default transpose, the reference's; resize: nearest x2 then a 3x3 "
                    "conv, no checkerboard; files then no longer load into the reference's network)")
    add_option(model, "--colour_start", choices=list(COLOUR_STARTS),
               help="where the colour path of --netG colour_skip_resnet_6blocks starts: identity (default) or fit: "
                    "before training, an affine colour map fitted to the colours of each domain (from the identity, "
                    "the negative and the channel swaps; a few seconds, counted in --time)")
    add_option(model, "--netD", choices=["basic", "n_layers", "pixel"], help="discriminator (default basic: 70x70 PatchGAN)")
    add_option(model, "--n_layers_D", type=int, help="PatchGAN depth (default 3 = 70x70)")
    add_option(model, "--ngf", type=int, help="generator width (default 64)")
    add_option(model, "--ndf", type=int, help="discriminator width (default 64)")
    add_option(model, "--norm", choices=["instance", "batch", "syncbatch", "none"],
               help="normalisation (default instance; syncbatch: batch norm synchronised across GPUs under torchrun)")
    add_option(model, "--init_type", choices=["normal", "xavier", "kaiming", "orthogonal"], help="default normal")
    add_option(model, "--init_gain", type=float, help="default 0.02")
    add_option(model, "--use_dropout", action="store_true", default=None, help="dropout in the residual blocks")
    add_option(model, "--nz", type=int, help="DCGAN latent size (default 100)")
    add_option(model, "--image_size", type=int, choices=[32, 64, 128], help="DCGAN image size (default 64)")
    add_option(model, "--channels", type=int, choices=[1, 3], help="DCGAN image channels (default 3)")
    add_option(model, "--d_augment", choices=list(D_AUGMENTATIONS),
               help="DCGAN: randomly translate every image the discriminator sees, real and generated "
                    "(DiffAugment; helps small domains; default none, as in the paper)")
    add_option(model, "--input_nc", type=int, help="image channels of domain A (3: RGB; the only value supported)")
    add_option(model, "--output_nc", type=int, help="image channels of domain B (3)")
    add_option(model, "--no_dropout", action="store_false", dest="use_dropout",
               help="no dropout (the default; accepted for the reference's spelling)")


def _training_options(p: Parser) -> None:
    """Losses, optimiser, schedule, precision."""
    train = p.add_argument_group("training")
    add_option(train, "--gan_mode", choices=["lsgan", "vanilla", "wgangp"], help="adversarial loss (default lsgan)")
    add_option(train, "--lambda_A", type=float, help="cycle loss weight A->B->A (default 10)")
    add_option(train, "--lambda_B", type=float, help="cycle loss weight B->A->B (default 10)")
    add_option(train, "--lambda_identity", type=float, help="identity loss, times lambda (default 0.5; 0 = off)")
    add_option(train, "--r1_gamma", type=float,
               help="DCGAN: R1 penalty, gamma/2 x the squared gradient of D at real images (Mescheder et "
                    "al. 2018; steadies D on small domains; default 0 = off, as in the paper)")
    add_option(train, "--pool_size", type=int, help="history of fakes shown to D (default 50)")
    add_option(train, "--lr", type=float, help="Adam learning rate (default 0.0002)")
    add_option(train, "--beta1", type=float, help="Adam beta1 (default 0.5)")
    add_option(train, "--n_epochs", "--niter", type=int, help="epochs at the initial learning rate (default 100)")
    add_option(train, "--n_epochs_decay", "--niter_decay", type=int,
               help="epochs of linear decay to zero (default 100)")
    add_option(train, "--lr_policy", choices=["linear", "lambda", "step", "cosine", "plateau"],
               help="learning-rate schedule per epoch (default linear: constant, then linear decay; lambda = linear; "
                    "step: x0.1 every --lr_decay_iters epochs; cosine; plateau is refused, see docs)")
    add_option(train, "--lr_decay_iters", type=int, help="epochs between x0.1 steps of --lr_policy step (default 50)")
    add_option(train, "--epoch_count", type=int, help="number of the first epoch (default 1)")
    add_option(train, "--max-steps", type=int, help="stop after this many iterations in total")
    add_option(train, "--time", "--time-budget", type=_duration, dest="time_budget",
               help="train for this long (90s, 15m, 2h, 1h30m) with a finished schedule: the rate stays constant, "
                    "then decays to zero at the deadline (same split as --n_epochs/--n_epochs_decay); with "
                    "--continue_train: this much more time. Implies --recipe fast unless --recipe is given")
    add_option(train, "--recipe", choices=list(RECIPES),
               help="where the options start from: paper (the reference's CycleGAN; the default) or fast (chosen on "
                    "the quality suite, docs/BENCHMARKS.md: --netG colour_skip_resnet_6blocks --cycle_warmup 0.3 "
                    "--upsample resize --ngf 16 --ndf 16 --ema 0.999 --lr 5e-4 --lambda_identity 0; the default with "
                    "--time and for the demo); options given win")
    add_option(train, "--cycle_warmup", type=float,
               help="share of the run over which the cycle loss's weight rises from 0 to --lambda_A/B, so the "
                    "generators can leave the identity before the cycle holds them (default 0 = the paper)")
    add_option(train, "--ema", type=float,
               help="save and translate an average of the generators' weights with this decay, e.g. 0.999 "
                    "(default 0 = off, the reference's)")
    add_option(train, "--seed", type=int, help="random seed (default 0)")
    add_option(train, "--device", help="auto, cpu, cuda or mps (default auto)")
    add_option(train, "--gpu_ids", help="the reference's: -1 = CPU, N = cuda:N (several GPUs: use torchrun)")
    add_option(train, "--precision", choices=["auto", "fp32", "bf16", "fp16"],
               help="arithmetic precision (default auto: the fastest that trains as well as fp32)")
    add_option(train, "--compile", choices=["auto", "on", "off"],
               help="torch.compile the networks (default auto: when the run is long enough to repay it)")
    add_option(train, "--dry-run", action="store_true", default=None,
               help="run a few steps end to end and stop (a smoke test)")
    add_option(train, "--eval_freq", type=int, help="iterations between KID evaluations on the test split (0 = off)")


def _cut_options(p: Parser) -> None:
    """CUT and FastCUT's own options, spelled as in the public CUT code."""
    cut = p.add_argument_group("CUT and FastCUT (the public code's options, docs/CUT.md)")
    add_option(cut, "--CUT_mode", help="CUT or FastCUT: with --model cut, the same as --model cut | fastcut")
    add_option(cut, "--lambda_GAN", type=float, help="adversarial loss weight (default 1)")
    add_option(cut, "--lambda_NCE", type=float, help="PatchNCE weight (default 1 for CUT, 10 for FastCUT)")
    add_option(cut, "--nce_idt", type=yes_no, nargs="?", const=True,
               help="PatchNCE on B -> G(B) as well (default: on for CUT, off for FastCUT)")
    add_option(cut, "--nce_layers", help="generator layers PatchNCE compares (default 0,4,8,12,16)")
    add_option(cut, "--nce_includes_all_negatives_from_minibatch", type=yes_no, nargs="?", const=True,
               help="negatives from every image of the batch, not only the same image (default off)")
    add_option(cut, "--netF", choices=["mlp_sample", "sample"], help="patch projection (default mlp_sample)")
    add_option(cut, "--netF_nc", type=int, help="projection width (default 256)")
    add_option(cut, "--nce_T", type=float, help="PatchNCE temperature (default 0.07)")
    add_option(cut, "--num_patches", type=int, help="patches per layer (default 256)")
    add_option(cut, "--flip_equivariance", type=yes_no, nargs="?", const=True,
               help="flip G's input at random, its features back (default: on for FastCUT, off for CUT)")
    add_option(cut, "--no_antialias", action="store_true", default=None,
               help="stride-2 convs instead of anti-aliased downsampling in G and D")
    add_option(cut, "--no_antialias_up", action="store_true", default=None,
               help="transposed convs instead of anti-aliased upsampling in G")


def _output_options(p: Parser) -> None:
    """The run folder: its name, what is saved and how often."""
    out = p.add_argument_group("checkpoints and output")
    add_option(out, "--name", help="run name (default <domainA>2<domainB>)")
    add_option(out, "--checkpoints_dir", help="where runs are saved (default ./checkpoints)")
    add_option(out, "--continue_train", "--resume", action="store_true", default=None,
               help="resume the run from its latest saved state")
    add_option(out, "--suffix", help="append _<suffix> to the run name, filled from the options: {netG}_size{load_size}")
    add_option(out, "--epoch", help="the reference's; training resumes with --continue_train instead")
    add_option(out, "--load_iter", type=int, help="the reference's; 0 only (resume with --continue_train)")
    add_option(out, "--save_latest_freq", type=int,
               help="steps between saves of the latest state (default 5000; the reference counts images)")
    add_option(out, "--save_by_iter", action="store_true", default=None,
               help="also keep iter_<step>_net_*.pth at every --save_latest_freq")
    add_option(out, "--save_epoch_freq", type=int, help="epochs between kept <epoch>_net_*.pth files (default 5)")
    add_option(out, "--print_freq", type=int,
               help="steps between loss-log lines (default 100; all *_freq options count steps, the reference images)")
    add_option(out, "--verbose", action="store_true", default=None, help="print the networks and their sizes")
    add_option(out, "--no-progress", action="store_false", dest="progress", default=None, help="no progress bar")


def _dashboard_options(p: Parser) -> None:
    """What watches the run: visdom, TensorBoard, Weights & Biases, the HTML report."""
    watch = p.add_argument_group("dashboard and report")
    add_option(watch, "--display", choices=list(DISPLAY_CHOICES),
               help="live dashboard (default auto: visdom when a server answers; tensorboard: event files "
                    "in RUN/tensorboard, needs the [tensorboard] extra)")
    add_option(watch, "--display_server", help="visdom server (default http://localhost)")
    add_option(watch, "--display_port", type=int, help="visdom port (default 8097)")
    add_option(watch, "--display_env", help="visdom environment (default: the run name)")
    add_option(watch, "--display_freq", type=int, help="steps between dashboard updates (default 400)")
    add_option(watch, "--display_id", type=int, help="the reference's: -1 or 0 = no dashboard")
    add_option(watch, "--display_ncols", type=int, help="the reference's; accepted, no effect (one row per side)")
    add_option(watch, "--display_winsize", type=int, help="the reference's; accepted, no effect")
    add_option(watch, "--no_html", action="store_true", default=None, help="no HTML report under web/")
    add_option(watch, "--update_html_freq", type=int, help="iterations between HTML report updates (default 1000)")
    add_option(watch, "--use_wandb", action="store_true", default=None,
               help="also log to Weights & Biases (needs the [wandb] extra; WANDB_MODE=offline works offline)")
    add_option(watch, "--wandb_project_name", help="Weights & Biases project (default CycleGAN-and-pix2pix)")


def _demo_options(p: Parser) -> None:
    """The offline demo."""
    demo = p.add_argument_group("demo")
    add_option(demo, "--demo", action="store_true", default=None,
               help="build the offline demo domains and train on them (the default with no domain options)")


@record  # under torchrun: a failing rank's error is reported by name instead of a bare exit code
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_cli(PROG, lambda: _run(args))


def _run(args) -> int:
    plan = plan_training(vars(args), PROG)
    cfg = plan.config
    try:
        result = train(cfg)
    except KeyboardInterrupt as exc:   # a second Ctrl-C, or one before the first step: one line, no traceback
        print(f"{PROG}: {exc or 'stopped before training began; nothing was saved'}", file=sys.stderr)
        return 130
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun, rank 0 reports for everyone
        return 130 if result.interrupted else 0
    where = result.run_dir
    if result.interrupted:
        print(f"{PROG}: interrupted at step {result.step}; state saved in {where}; "
              f"resume with the same command plus --continue_train")
        return 130
    print(f"{PROG}: trained {result.step} steps in {result.seconds:.0f} s; checkpoints in {where}")
    note = model_entry(cfg.model.model).finished_note
    if note:
        print(f"{PROG}: {note(where)}")
    test_results = RunFolder(where).test_results_dir
    # Only when something was translated: every test photo may have been skipped (with a warning each).
    if cfg.train.time_budget is not None and not plan.demo and test_results.is_dir() and any(test_results.iterdir()):
        print(f"{PROG}: translated the test photos of domain A to {test_results} "
              f"(side by side: {RunFolder(where).test_strip})")
        change = test_split_change(RunFolder(where), cfg)
        if change is not None:
            verdict = " (about the photo itself: see the warning above)" if change < STILL_IDENTITY else ""
            print(f"{PROG}: the translations changed the photos by {change:.1f} of 255 levels on average{verdict}")
    if plan.demo:
        score = score_known_answer(where, Path(cfg.data.domainA) / "test", Path(cfg.data.domainB) / "test",
                                   where / "test_results", cfg.train.device)
        print(f"{PROG}: translated {score.count} test photos to {score.output_dir}")
        print(f"{PROG}: PSNR against the true paintings: {score.translated_psnr:.2f} dB translated "
              f"({score.untrained_psnr:.2f} dB before training), {score.baseline_psnr:.2f} dB untranslated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
