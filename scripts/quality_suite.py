"""The quality suite: does a recipe translate? Known-answer pairs far from the identity, and real pairs.

Every recipe trains on every pair for the same wall clock, one core each, side by side, exactly as
``cyclegan-train --time`` trains (the recipe's schedule fitted to the clock), then translates
the pair's test photos:

- known-answer pairs (``cyclegan/data/known_pairs.py``: hue rotation, channel permutation,
  inversion, tone curve, posterise + outlines, a painterly stylisation), built from the bundled
  photos with a strength drawn per seed: PSNR/SSIM against the exact truths, beside the
  untranslated photo;
- ``real``: a real unpaired folder in the reference layout (``--dataroot``; e.g. the output of
  ``real_domains.py``): a quarter of each training side's pictures is held out as judges, never
  trained on; scored by how often a domain classifier fitted on the judges takes a translation
  for B, KID against B's judges, and the edge structure kept from the photo
  (``cyclegan/eval/real_pair.py``).

    python scripts/quality_suite.py --recipes paper,fast --minutes 15 --size 64 --seeds 0,1,2 \\
        --dataroot ~/.cache/cyclegan-real/landscape2painting --work-dir suite64
    python scripts/quality_suite.py --recipes fast --define wide=fast,ngf=32 --recipes fast,wide ...
    python scripts/quality_suite.py --define 'small=fast,crop_size=32' --recipes fast,small --size 64 ...

Prints one markdown table (mean ± sd over seeds) and writes a picture strip per pair and seed
under WORK_DIR/strips/, named PAIR-sSEED-SIZE-RECIPES.png (rows: test photos; columns: photo, each
recipe in the order of --recipes, truth), and the scores to WORK_DIR/scores.json. A job whose
result is already in WORK_DIR is not run again, so an interrupted suite continues.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run from a checkout without installing

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from cyclegan.errors import UserError  # noqa: E402

PROG = "quality_suite"
REAL = "real"


# --------------------------------------------------------------------------- recipes

def parse_value(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def recipe_options(name: str, defined: dict[str, str]) -> dict:
    """The cyclegan-train options of a recipe: a preset name, or a --define NAME=BASE,key=value,..."""
    from cyclegan.compose.presets import RECIPES, recipe_settings
    if name in defined:
        base, *pairs = defined[name].split(",")
        options = recipe_options(base, defined)
        for pair in pairs:
            key, _, value = pair.partition("=")
            options[key.strip()] = parse_value(value.strip())
        return options
    if name in RECIPES:   # spelled out, so a job reads the recipe as it was when the suite started
        return recipe_settings(name)
    raise UserError(f"--recipes {name}: not a recipe ({', '.join(RECIPES)}) nor a --define")


def training_crop(options: dict, size: int, recipe: str) -> int:
    """The side of a recipe's training crops: the test size, unless its --define sets crop_size
    (smaller crops: more steps in the clock at the same texture scale; photos are translated whole)."""
    crop_size = options.get("crop_size", size)
    if not (type(crop_size) is int and 0 < crop_size <= size):   # not a bool, which is an int too
        raise UserError(f"--define {recipe}=...,crop_size={crop_size}: the training crops must fit the {size} px "
                        f"images (--size); use a whole number from 1 to {size}")
    return crop_size


# --------------------------------------------------------------------------- one job: train and translate

def job_dir(work: Path, recipe: str, pair: str, seed: int) -> Path:
    return work / "jobs" / f"{pair}-s{seed}-{recipe}"


def build_pair(spec: dict) -> tuple[float, Path, Path]:
    """Build (or find built) one known-answer pair's domains for a job; returns (strength, A, B).

    The parent builds every pair before the first job starts: jobs of one pair run side by side and
    would otherwise build the same folder at once (one reads a half-written folder and fails)."""
    from cyclegan.data.demo import build_demo_domains
    from cyclegan.data.known_pairs import known_pair
    pair = known_pair(spec["pair"])
    strength = pair.strength(spec["seed"])
    size = spec["size"]
    domain_A, domain_B = build_demo_domains(Path(spec["work"]) / "pairs" / f"{pair.name}-s{spec['seed']}-{size}",
                                            crop_size=size, n_train=spec["n_train"], n_test=spec["n_test"],
                                            seed=spec["seed"], transform=pair.bound(strength),
                                            transform_id=f"{pair.name}:{strength}")
    return strength, domain_A, domain_B


def run_job(spec: dict) -> dict:
    """Train one recipe on one pair for the clock budget and translate the test photos (in this process)."""
    import torch
    from cyclegan.data.images import list_images, load_rgb
    from cyclegan.eval.real_pair import resize_short
    from cyclegan.eval.score import evaluation_translator
    from cyclegan.compose.presets import plan_training
    from cyclegan.runfolder import RunFolder
    from cyclegan.compose.run import collapse_guard
    from cyclegan.events import EventBus
    from cyclegan.training.loop import run_training

    torch.set_num_threads(spec["threads"])
    out = Path(spec["dir"])
    size = spec["size"]
    options = dict(spec["options"])
    if spec["pair"] == REAL:
        options.update(dataroot=spec["dataroot"], preprocess="resize_and_crop", load_size=round(size * 286 / 256))
    else:
        strength, domain_A, domain_B = build_pair(spec)
        options.update(domainA=str(domain_A), domainB=str(domain_B), preprocess="crop", load_size=size)
    options.update(crop_size=training_crop(options, size, spec["recipe"]), seed=spec["seed"], checkpoints_dir=str(out),
                   name="run", num_threads=0,
                   progress=False, display="none", no_html=True, device="cpu", precision="fp32", compile="off",
                   print_freq=100, save_latest_freq=10 ** 9, save_epoch_freq=10 ** 9)
    if spec.get("steps"):
        options["max_steps"] = spec["steps"]
    else:
        options["time_budget"] = spec["minutes"] * 60.0
    cfg = plan_training(options, prog=PROG).config
    # The collapse guard, as cyclegan-train attaches it: G_change, G_beyond_colour and D_tells go in
    # the job's loss log.
    events = EventBus()
    events.subscribe(collapse_guard(cfg, events.announce))
    result = run_training(cfg, events)
    if result.interrupted:
        raise UserError(f"{out}: training stopped at step {result.step}: no score")
    translator = evaluation_translator(RunFolder.under(out, "run"), "AtoB")
    translations = out / "translations"
    translations.mkdir(exist_ok=True)
    if spec["pair"] == REAL:
        sources = list_images(Path(spec["dataroot"]) / "testA")
        images = [resize_short(load_rgb(p), size) for p in sources]
    else:
        sources = list_images(domain_A / "test")
        images = [load_rgb(p) for p in sources]
    for path, image in zip(sources, images):
        translator.translate_stored(image).save(translations / f"{path.stem}.png")
    record = {"steps": result.step, "seconds": result.seconds, "recipe": spec["recipe"], "pair": spec["pair"],
              "seed": spec["seed"], "options": spec["options"]}
    if spec["pair"] != REAL:
        record["strength"] = strength
        record["truths"] = str(domain_B / "test")
        record["photos"] = str(domain_A / "test")
    (out / "result.json").write_text(json.dumps(record, indent=2))
    return record


# --------------------------------------------------------------------------- many jobs, one core each

def run_jobs(specs: list[dict], cores: list[int], log) -> None:
    """Run the job specs as subprocesses, each pinned to its own core, ``len(cores)`` at a time."""
    pending = [s for s in specs if not (Path(s["dir"]) / "result.json").is_file()]
    running: dict[int, tuple[subprocess.Popen, dict]] = {}
    failures = []
    try:
        while pending or running:
            for core in cores:
                if core not in running and pending:
                    spec = pending.pop(0)
                    Path(spec["dir"]).mkdir(parents=True, exist_ok=True)
                    (Path(spec["dir"]) / "spec.json").write_text(json.dumps(spec))
                    command = [sys.executable, __file__, "--job", str(Path(spec["dir"]) / "spec.json")]
                    pin = (lambda core=core: os.sched_setaffinity(0, {core})) if hasattr(os, "sched_setaffinity") else None
                    env = {**os.environ, "OMP_NUM_THREADS": str(spec["threads"]), "MKL_NUM_THREADS": str(spec["threads"])}
                    log_file = open(Path(spec["dir"]) / "log.txt", "w")
                    running[core] = (subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, env=env,
                                                     preexec_fn=pin), spec)
                    log_file.close()
                    log(f"core {core}: {spec['pair']} seed {spec['seed']} {spec['recipe']}")
            time.sleep(0.5)
            for core, (process, spec) in list(running.items()):
                if process.poll() is not None:
                    del running[core]
                    if process.returncode != 0:
                        last = (Path(spec["dir"]) / "log.txt").read_text(errors="replace").strip().splitlines()[-1:]
                        failures.append(f"{spec['dir']} (exit {process.returncode}: {' '.join(last)!r}; "
                                        "see its log.txt)")
    finally:
        for process, _ in running.values():
            process.terminate()
        for process, _ in running.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    if failures:
        raise UserError("jobs failed: " + "; ".join(failures))


# --------------------------------------------------------------------------- scores, table, strips

def fmt(values: list[float], digits: int = 2, scale: float = 1.0) -> str:
    values = [v * scale for v in values]
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{np.mean(values):.{digits}f} ± {np.std(values, ddof=1):.{digits}f}"


def score_known(record: dict, dir_: Path) -> dict:
    from cyclegan.metrics import change_beyond_colour_map, psnr, ssim
    from cyclegan.report.test_split import mean_change
    rows = []
    for truth in sorted(Path(record["truths"]).iterdir()):
        if truth.suffix != ".png":
            continue
        photo = Image.open(Path(record["photos"]) / truth.name).convert("RGB")
        target = Image.open(truth).convert("RGB")
        fake = Image.open(dir_ / "translations" / f"{truth.stem}.png").convert("RGB")
        rows.append((psnr(fake, target), ssim(fake, target), psnr(photo, target), ssim(photo, target),
                     mean_change([(photo, fake)]), change_beyond_colour_map(photo, fake),
                     change_beyond_colour_map(photo, target)))
    a = np.array(rows)
    return {"psnr": a[:, 0].mean(), "ssim": a[:, 1].mean(), "psnr_photo": a[:, 2].mean(),
            "ssim_photo": a[:, 3].mean(), "change": a[:, 4].mean(), "beyond_colour": a[:, 5].mean(),
            "beyond_colour_truth": a[:, 6].mean()}


def strip_name(pair: str, seed: int, size: int, recipes: list[str]) -> str:
    """Named after its columns too, so a later command on the same work dir with other recipes adds
    its strips beside the earlier ones instead of replacing them."""
    return f"{pair}-s{seed}-{size}-{'-'.join(recipes)}.png"


def strip(columns: list[list[Image.Image]], path: Path, rows: int = 4) -> None:
    from cyclegan.report.test_split import save_strip
    save_strip([[column[i] for column in columns] for i in range(min(rows, len(columns[0])))], path)


def report(specs: list[dict], recipes: list[str], args) -> str:
    """The table (one row per pair, a column group per recipe) and the strips."""
    from cyclegan.data.images import list_images, load_rgb
    from cyclegan.data.known_pairs import KNOWN_PAIRS
    from cyclegan.eval.real_pair import fit_judge, resize_short, score_real
    from cyclegan.metrics import RECOLOUR_ONLY, change_beyond_colour_map
    from cyclegan.checkpoint import atomic_write_bytes
    work = Path(args.work_dir)
    by_key = {(s["pair"], s["seed"], s["recipe"]): s for s in specs}
    pairs = list(dict.fromkeys(s["pair"] for s in specs))
    seeds = sorted({s["seed"] for s in specs})
    budget = f"{args.steps} steps" if args.steps else f"{args.minutes:g} min of wall clock"
    lines = [f"size {args.size} px, {budget} per run, one core each, seeds {','.join(map(str, seeds))}"]
    known_header = ("| pair | kind | strength | untranslated PSNR | " +
                    " | ".join(f"{r} PSNR | {r} SSIM | {r} steps" for r in recipes) + " |")
    lines += [known_header, "|" + "---|" * (4 + 3 * len(recipes))]
    scores: dict = {}
    beyond_lines = []   # how far past a recolouring each recipe went, beside what the truth needs
    for pair in pairs:
        if pair == REAL:
            continue
        p = KNOWN_PAIRS[pair]
        cells, photo = [], []
        for recipe in recipes:
            got = []
            for seed in seeds:
                spec = by_key[(pair, seed, recipe)]
                record = json.loads((Path(spec["dir"]) / "result.json").read_text())
                got.append({**score_known(record, Path(spec["dir"])), "steps": record["steps"]})
            scores[(pair, recipe)] = got
            photo = [g["psnr_photo"] for g in got]
            cells.append(f"{fmt([g['psnr'] for g in got])} | {fmt([g['ssim'] for g in got], 3)} | "
                         f"{int(np.mean([g['steps'] for g in got]))}")
        lines.append(f"| {pair} | {p.kind} | {p.about} | {fmt(photo)} | " + " | ".join(cells) + " |")
        truth_beyond = [g["beyond_colour_truth"] for g in scores[(pair, recipes[-1])]]
        beyond_lines.append(f"| {pair} | {fmt(truth_beyond, 1)} | " +
                            " | ".join(fmt([g["beyond_colour"] for g in scores[(pair, r)]], 1) for r in recipes) + " |")
        for seed in seeds:
            record = json.loads((Path(by_key[(pair, seed, recipes[0])]["dir"]) / "result.json").read_text())
            names = [t.name for t in list_images(Path(record["truths"]))]
            columns = [[load_rgb(Path(record["photos"]) / n) for n in names]]
            columns += [[load_rgb(Path(by_key[(pair, seed, r)]["dir"]) / "translations" / (Path(n).stem + ".png"))
                         for n in names] for r in recipes]
            columns.append([load_rgb(Path(record["truths"]) / n) for n in names])
            strip(columns, work / "strips" / strip_name(pair, seed, args.size, recipes))
    if beyond_lines:
        lines += ["", f"change beyond one colour map per photo, levels of 255 (below {RECOLOUR_ONLY:g}: a recolouring; "
                  "the truth's: what the pair needs)",
                  "| pair | truth | " + " | ".join(recipes) + " |", "|" + "---|" * (2 + len(recipes))] + beyond_lines
    if REAL in pairs:
        judges = json.loads((work / "real" / "judges.json").read_text())
        judge = fit_judge({k: [Path(p) for p in v] for k, v in judges.items()}, args.size)
        test_photos = list_images(Path(args.dataroot) / "testA")
        photos = [resize_short(load_rgb(p), args.size) for p in test_photos]
        untouched = score_real(judge, photos, photos)
        lines += ["", f"real pair {args.dataroot}: domain classifier fitted on {len(judges['A'])} + "
                  f"{len(judges['B'])} judge images (accuracy on them {judge.fit_accuracy:.0%}); "
                  f"{len(photos)} test photos at {args.size} px",
                  "| recipe | taken for B | KID x1000 vs judges of B | structure (edge correlation) | "
                  "beyond a colour map (levels) | steps |",
                  "|---|---:|---:|---:|---:|---:|",
                  f"| untranslated photo | {untouched.taken_for_B:.0%} | {untouched.kid:.1f} | {untouched.structure:.2f} | "
                  f"{untouched.beyond_colour:.1f} | |"]
        for recipe in recipes:
            got = []
            for seed in seeds:
                dir_ = Path(by_key[(REAL, seed, recipe)]["dir"])
                record = json.loads((dir_ / "result.json").read_text())
                fakes = [load_rgb(dir_ / "translations" / f"{p.stem}.png") for p in test_photos]
                got.append((score_real(judge, photos, fakes), record["steps"]))
            scores[(REAL, recipe)] = [asdict(g) for g, _ in got]
            lines.append(f"| {recipe} | {fmt([g.taken_for_B for g, _ in got], 0, 100)}% | "
                         f"{fmt([g.kid for g, _ in got], 1)} | {fmt([g.structure for g, _ in got])} | "
                         f"{fmt([g.beyond_colour for g, _ in got], 1)} | {int(np.mean([s for _, s in got]))} |")
        for seed in seeds:
            columns = [photos] + [[load_rgb(Path(by_key[(REAL, seed, r)]["dir"]) / "translations" / f"{p.stem}.png")
                                   for p in test_photos] for r in recipes]
            strip(columns, work / "strips" / strip_name(REAL, seed, args.size, recipes), rows=len(photos))
    # A work dir is reused across commands: keep the scores of recipes this command did not run.
    scores_path = work / "scores.json"
    kept = json.loads(scores_path.read_text()) if scores_path.exists() else {}
    merged = {**kept, **{f"{k[0]}/{k[1]}": v for k, v in scores.items()}}
    # written whole or not at all: the next command reads it back to merge
    atomic_write_bytes(scores_path, json.dumps(merged, indent=1, default=float).encode())
    return "\n".join(lines)


# --------------------------------------------------------------------------- command line

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--recipes", default="paper,fast", help="comma-separated recipes or --define names (default paper,fast)")
    p.add_argument("--define", action="append", default=[], metavar="NAME=BASE,key=value,...",
                   help="a candidate recipe: BASE's options with cyclegan-train options changed")
    p.add_argument("--pairs", default="all", help="comma-separated known pairs and/or 'real' (default all: every "
                   "known pair, and real when --dataroot is given)")
    p.add_argument("--dataroot", help="a real unpaired pair in the reference layout (trainA/ trainB/ testA/ [testB/])")
    p.add_argument("--size", type=int, default=64, help="training crop and test size in pixels (default 64)")
    p.add_argument("--minutes", type=float, default=15.0, help="wall-clock training per run (default 15)")
    p.add_argument("--steps", type=int, help="train this many steps instead of the clock (tests, exact reruns)")
    p.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    p.add_argument("--cores", help="comma-separated CPU cores to pin runs to, one run per core (default: all)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per run (default 1)")
    p.add_argument("--n-train", type=int, default=60, help="training images per side of a known pair (default 60)")
    p.add_argument("--n-test", type=int, default=8, help="test photos of a known pair (default 8)")
    p.add_argument("--work-dir", help="where pairs, runs, strips and scores go (reused to continue)")
    p.add_argument("--job", help=argparse.SUPPRESS)
    return p


def _stop(signum, frame):
    raise KeyboardInterrupt   # SIGTERM as Ctrl-C: the running jobs are stopped too


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.job:
        signal.signal(signal.SIGTERM, _stop)
    log = lambda message: print(f"{PROG}: {message}", file=sys.stderr, flush=True)
    try:
        if args.job:
            run_job(json.loads(Path(args.job).read_text()))
            return 0
        print(_run(args, log))
        return 0
    except UserError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; run the same command again to continue", file=sys.stderr)
        return 130


def _run(args, log) -> str:
    if not args.work_dir:
        raise UserError("--work-dir DIR is needed: where the pairs, runs, strips and scores go")
    from cyclegan.data.known_pairs import KNOWN_PAIRS, known_pair
    from cyclegan.eval.real_pair import split_judges
    defined = {}
    for definition in args.define:
        name, _, rest = definition.partition("=")
        if not rest:
            raise UserError(f"--define {definition!r}: write NAME=BASE,key=value,...")
        defined[name.strip()] = rest
    recipes = [r.strip() for r in args.recipes.split(",") if r.strip()]
    options = {r: recipe_options(r, defined) for r in recipes}
    for recipe in recipes:
        training_crop(options[recipe], args.size, recipe)
    pairs = list(KNOWN_PAIRS) + ([REAL] if args.dataroot else []) if args.pairs == "all" else \
        [p.strip() for p in args.pairs.split(",") if p.strip()]
    for pair in pairs:
        if pair != REAL:
            known_pair(pair)
    if REAL in pairs and not args.dataroot:
        raise UserError("--pairs real needs --dataroot FOLDER (trainA/ trainB/ testA/ [testB/])")
    seeds = [int(s) for s in args.seeds.split(",")]
    cores = [int(c) for c in args.cores.split(",")] if args.cores else sorted(os.sched_getaffinity(0))
    if hasattr(os, "sched_getaffinity") and not set(cores) <= os.sched_getaffinity(0):
        raise UserError(f"--cores {args.cores}: this process may run on cores {sorted(os.sched_getaffinity(0))} only")
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    dataroot = None
    if REAL in pairs:
        if not (work / "real" / "judges.json").is_file():
            data, judges = split_judges(Path(args.dataroot).expanduser(), work / "real")
            (work / "real" / "judges.json").write_text(json.dumps({k: [str(p) for p in v] for k, v in judges.items()}))
        dataroot = str(work / "real" / "data")
    specs = [{"recipe": r, "options": options[r], "pair": pair, "seed": seed, "size": args.size,
              "minutes": args.minutes, "steps": args.steps, "threads": args.threads, "n_train": args.n_train,
              "n_test": args.n_test, "work": str(work), "dataroot": dataroot,
              "dir": str(job_dir(work, r, pair, seed))}
             for pair, seed, r in itertools.product(pairs, seeds, recipes)]   # a pair's recipes side by side
    for spec in {(s["pair"], s["seed"]): s for s in specs if s["pair"] != REAL}.values():
        build_pair(spec)
    run_jobs(specs, cores, log)
    if dataroot:
        args.dataroot = dataroot
    return report(specs, recipes, args)


if __name__ == "__main__":
    sys.exit(main())
