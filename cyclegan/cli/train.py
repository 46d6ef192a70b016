"""``cyclegan-train``: parse flags, plan the run (``cyclegan.compose.presets``), call ``cyclegan.train``, print.

With no domain options (or ``--demo``) it builds the offline demo domains first, trains a
small CycleGAN on them, and scores the translated test images against their known truth.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from typing import get_type_hints

from ..models import CARDS, option_fields
from ..config import default_workers
from ..nets import GENERATORS, UPSAMPLING
from ..compose.presets import RECIPES, plan_training
from ..runfolder import RunFolder
from ..report import DISPLAY_CHOICES
from ..report.test_split import test_split_change
from ..eval.collapse_watch import STILL_IDENTITY
from ..compose.run import train
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
    for add_section in (_data_options, _model_options, _training_options, _output_options,
                        _dashboard_options, _demo_options, _per_model_options):
        add_section(p)
    return p


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
    """Which model, and the options every model has (the widths and the initialisation)."""
    model = p.add_argument_group("model")
    add_option(model, "--model", choices=model_names(),
               help="cyclegan (default); cut or fastcut: one-sided A -> B by patchwise contrastive learning "
                    "(Park et al. 2020); dcgan: an unconditional baseline trained on --domainA")


# Choices the cards cannot name: the networks live above them.
NETWORK_CHOICES = {"netG": list(GENERATORS), "upsample": list(UPSAMPLING)}


def _per_model_options(p: Parser) -> None:
    """Each card's options, from its dataclass's fields (type, default, help, choices): an option
    every model has goes among the shared "model" options, one that only some models have into a
    group of those models, shared options first, then the models in the cards' order."""
    owners: dict[str, list[str]] = {}
    fields: dict[str, object] = {}
    for card in CARDS.values():
        for name, f in option_fields(card.options_type).items():
            owners.setdefault(name, []).append(card.name)
            fields.setdefault(name, (f, get_type_hints(card.options_type)[name]))
    groups = {}
    shared = next(g for g in p._action_groups if g.title == "model")
    order = list(CARDS)
    for name in sorted(owners, key=lambda n: (len(owners[n]) != len(CARDS), len(owners[n]) > 2,
                                              order.index(owners[n][0]))):
        models = owners[name]
        if len(models) == len(CARDS):
            group = shared
        else:
            title = f"--model {' | '.join(models)} only"
            group = groups.get(title) or groups.setdefault(title, p.add_argument_group(title))
        f, kind = fields[name]
        add_option(group, f"--{name}", **_argument(name, f.metadata, kind))
    _add_other_codes_spellings(groups)


def _argument(name: str, metadata, kind) -> dict:
    """argparse's keywords for an option field; an option not given stays None (the preset decides)."""
    help_text = metadata.get("help", "")
    if kind is bool and metadata.get("yes_no"):
        return dict(type=yes_no, nargs="?", const=True, help=help_text)
    if kind is bool:
        return dict(action="store_true", default=None, help=help_text)
    choices = NETWORK_CHOICES.get(name) or metadata.get("choices")
    return dict(type=kind, choices=list(choices) if choices else None, help=help_text)


def _add_other_codes_spellings(groups: dict) -> None:
    """The reference's --no_dropout (dropout is already off) beside --use_dropout, and the public CUT
    code's --CUT_mode in the group of the models that have modes."""
    moded = " | ".join(card.name for card in CARDS.values() if card.modes)
    for title, group in groups.items():
        if any(action.dest == "use_dropout" for action in group._group_actions):
            add_option(group, "--no_dropout", action="store_false", dest="use_dropout",
                       help="no dropout (the default; accepted for the reference's spelling)")
        if moded and title == f"--model {moded} only":
            add_option(group, "--CUT_mode", help="CUT or FastCUT: with --model cut, the same as --model cut | fastcut")


def _training_options(p: Parser) -> None:
    """Losses, optimiser, schedule, precision."""
    train = p.add_argument_group("training")
    add_option(train, "--gan_mode", choices=["lsgan", "vanilla", "wgangp"], help="adversarial loss (default lsgan)")
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
                    "the quality suite, docs/BENCHMARKS.md: --netG colour_skip_resnet_6blocks --colour_start fit "
                    "--cycle_warmup 0.3 "
                    "--upsample resize --ngf 16 --ndf 16 --ema 0.999 --lr 5e-4 --lambda_identity 0; the default with "
                    "--time and for the demo); options given win")
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


def describe_change(change) -> str:
    """The end of a --time run, in one line: how much the translations changed the photos, and
    whether beyond a recolouring (shapes and textures the photo's own)."""
    line = f"the translations changed the photos by {change.levels:.1f} of 255 levels on average"
    if change.levels < STILL_IDENTITY:
        return line + " (about the photo itself: see the warning above)"
    line += f"; {change.beyond_colour:.1f} levels beyond one colour map per photo"
    if change.recolouring:
        line += (" (a recolouring: shapes and textures are still the photo's; right for a change of colours, "
                 "while brushwork or other texture takes a longer --time, or a GPU)")
    return line


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
            print(f"{PROG}: {describe_change(change)}")
    if plan.demo:
        score = score_known_answer(where, Path(cfg.data.domainA) / "test", Path(cfg.data.domainB) / "test",
                                   where / "test_results", cfg.train.device)
        print(f"{PROG}: translated {score.count} test photos to {score.output_dir}")
        print(f"{PROG}: PSNR against the true paintings: {score.translated_psnr:.2f} dB translated "
              f"({score.untrained_psnr:.2f} dB before training), {score.baseline_psnr:.2f} dB untranslated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
