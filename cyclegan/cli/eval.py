"""``cyclegan-eval``: how good are the translations?

    cyclegan-eval --real DIR --fake DIR            KID (mean ± std over subsets) and FID
    cyclegan-eval --fake DIR --target DIR          PSNR, SSIM, L1 (LPIPS) against true translations
    cyclegan-eval --checkpoint RUN                 translate the run's test split both ways, score each
    cyclegan-eval --download-inception             fetch the Inception weights into the cache

Every result names the feature extractor, its resizer and the image counts, because KID and FID
are comparable only under one protocol.
"""
from __future__ import annotations

import json
import math
import sys

from ..device import resolve_device
from ..errors import UserError
from ..eval.features import build_extractor, download_inception_weights
from ..eval.lpips import LPIPS
from ..eval.score import folders_report, run_report
from .common import Parser, add_option, run_cli

PROG = "cyclegan-eval"


def build_parser() -> Parser:
    p = Parser(prog=PROG, description="Score translated images: KID/FID against real images, "
               "PSNR/SSIM/L1 against true translations, or a whole training run.")
    what = p.add_argument_group("what to score")
    add_option(what, "--real", metavar="DIR", help="real images of the target domain (for KID/FID)")
    add_option(what, "--fake", metavar="DIR", help="generated images")
    add_option(what, "--target", metavar="DIR",
               help="true translations with the same file names as --fake (PSNR, SSIM, L1, LPIPS)")
    add_option(what, "--checkpoint", metavar="RUN",
               help="a run folder: translate its test split A->B and B->A and score each against the other "
                    "domain's test images")
    add_option(what, "--epoch", default="latest", help="which weights of the run (latest, best, or an epoch number)")
    add_option(what, "--paired", action="store_true",
               help="with --checkpoint: the test splits are aligned (B/test/NAME is the true translation of "
                    "A/test/NAME, as in the demo), so paired metrics are computed too")
    add_option(what, "--max-images", type=int, metavar="N", help="with --checkpoint: at most N test images per domain")
    add_option(what, "--save-translations", metavar="DIR",
               help="with --checkpoint: also write the translations to DIR/AtoB and DIR/BtoA (a new folder)")

    feats = p.add_argument_group("features for KID/FID")
    add_option(feats, "--features", default="inception", metavar="NAME",
               help="inception (default: Inception-v3 as in the FID literature), random (a fixed seeded random "
                    "network: works offline, not comparable to published numbers), auto (inception when its "
                    "weights are here, else random), or torchvision:NAME (e.g. torchvision:resnet50)")
    add_option(feats, "--inception-weights", metavar="PATH",
               help="Inception weight file (default: torch-fidelity's file in the torch.hub cache)")
    add_option(feats, "--features-weights", metavar="PATH", help="weights for --features torchvision:NAME")
    add_option(feats, "--download-inception", action="store_true",
               help="download the Inception weights into the torch.hub cache and exit")
    add_option(feats, "--kid-subsets", type=int, default=100, help="KID subsets (default 100)")
    add_option(feats, "--kid-subset-size", type=int, default=1000,
               help="images per KID subset (default 1000, clamped to the smaller set)")

    out = p.add_argument_group("output")
    add_option(out, "--json", action="store_true", help="print one JSON object instead of text")
    add_option(out, "--device", default="auto", help="auto, cpu, cuda or mps (default auto)")
    add_option(out, "--no-progress", action="store_false", dest="progress", help="no progress bars")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_cli(PROG, lambda: _run(args))


def _check_mode(args) -> str:
    if args.download_inception:
        return "download"
    if args.checkpoint:
        if args.real or args.fake or args.target:
            raise UserError("--checkpoint scores a run's own test split; drop --real/--fake/--target")
        return "checkpoint"
    for option in ("paired", "max_images", "save_translations"):
        if getattr(args, option):
            raise UserError(f"--{option.replace('_', '-')} goes with --checkpoint RUN")
    if not args.fake:
        raise UserError("say what to score: --real DIR --fake DIR (KID/FID), --fake DIR --target DIR "
                        "(paired metrics), or --checkpoint RUN")
    if not (args.real or args.target):
        raise UserError("--fake needs --real DIR (KID/FID) and/or --target DIR (paired metrics)")
    return "folders"


def _run(args) -> int:
    mode = _check_mode(args)
    if args.kid_subsets < 1 or args.kid_subset_size < 2:
        raise UserError("--kid-subsets must be >= 1 and --kid-subset-size >= 2")
    if args.max_images is not None and args.max_images < 2:
        raise UserError("--max-images must be at least 2")
    if mode == "download":
        path = download_inception_weights(progress=args.progress)
        print(f"{PROG}: Inception weights in {path}")
        return 0

    device = resolve_device(args.device)
    needs_features = mode == "checkpoint" or bool(args.real)
    extractor = build_extractor(args.features, device, args.inception_weights, args.features_weights) \
        if needs_features else None
    needs_lpips = args.paired or bool(args.target)
    lpips = LPIPS(device) if needs_lpips else None
    if mode == "checkpoint":
        report = run_report(args.checkpoint, extractor, device, epoch=args.epoch, paired=args.paired, lpips=lpips,
                            max_images=args.max_images, subsets=args.kid_subsets, subset_size=args.kid_subset_size,
                            save_dir=args.save_translations, progress=args.progress)
    else:
        report = folders_report(args.fake, args.real, args.target, extractor, lpips, args.kid_subsets,
                                args.kid_subset_size, progress=args.progress)
    if args.json:
        print(json.dumps(_strict_json(report), indent=2))
    else:
        print(_as_text(report))
    return 0


def _strict_json(value):
    """Infinite PSNR (identical images) as the string "inf": JSON has no infinity."""
    if isinstance(value, dict):
        return {k: _strict_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strict_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _kid_fid_lines(kid: dict, fid: float) -> list[str]:
    return [f"KID: {kid['mean']:.5f} ± {kid['std']:.5f} ({kid['subsets']} subsets of {kid['subset_size']} images)",
            f"FID: {fid:.3f}"]


def _paired_lines(p: dict) -> list[str]:
    lpips = f"LPIPS {p['lpips']:.4f}" if p["lpips"] is not None else f"({p['lpips_note']})"
    ssim = f"{p['ssim']:.4f}" if p["ssim"] is not None else "n/a (images below its 11 x 11 window)"
    unmatched = f"; {p['unmatched']} without a target, skipped" if p["unmatched"] else ""
    return [f"paired: {p['count']} images{unmatched}",
            f"PSNR {p['psnr']:.2f} dB  SSIM {ssim}  L1 {p['l1']:.4f}  {lpips}"]


def _as_text(report: dict) -> str:
    lines = []
    if "features" in report:
        f = report["features"]
        note = "" if f["comparable_to_published"] else " -- NOT comparable to published FID/KID numbers"
        lines.append(f"features: {f['name']}: {f['network']}, {f['dim']}-d{note}")
        lines.append(f"resizer: images {f['resizer']}")
    if "directions" in report:
        lines.append(f"run: {report['run']} ({report['epoch']} weights)")
        for direction, entry in report["directions"].items():
            lines.append(f"{direction}: translated {entry['source']}, compared with {entry['real']}")
            if "kid" in entry:
                lines.append(f"  images: {entry['fake']['count']} translated, {entry['real_count']} real")
                lines += ["  " + line for line in _kid_fid_lines(entry["kid"], entry["fid"])]
            if "paired" in entry:
                lines += ["  " + line for line in _paired_lines(entry["paired"])]
    else:
        if "kid" in report:
            lines.append(f"images: real {report['real']['count']} ({report['real']['dir']}), "
                         f"fake {report['fake']['count']} ({report['fake']['dir']})")
            lines += _kid_fid_lines(report["kid"], report["fid"])
        if "paired" in report:
            lines.append(f"target: {report['paired']['target']}")
            lines += _paired_lines(report["paired"])
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
