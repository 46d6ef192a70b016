"""The quality suite: known-answer pairs with exact truths, the real-pair scores, the collapse guard,
and the suite end to end at tiny settings."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import tiny_config
from cyclegan.data.demo import build_demo_domains
from cyclegan.data.images import list_images, load_rgb
from cyclegan.data.known_pairs import KNOWN_PAIRS, draw_strength
from cyclegan.eval.real_pair import score_real, split_judges, structure, fit_judge
from cyclegan.metrics import psnr
from cyclegan.compose.run import train
from cyclegan.runfolder import RunFolder

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "quality_suite.py"


@pytest.fixture(scope="module")
def known_pairs(tmp_path_factory):
    root = tmp_path_factory.mktemp("known")
    built = {}
    for name, pair in KNOWN_PAIRS.items():
        strength = pair.strength(0)
        built[name] = (pair, strength, *build_demo_domains(root / name, crop_size=32, n_train=6, n_test=4, seed=0,
                                                           transform=pair.bound(strength),
                                                           transform_id=f"{name}:{strength}"))
    return built


def test_every_known_pair_has_exact_truths_far_from_the_photo(known_pairs):
    kinds = set()
    below_14 = 0
    for name, (pair, strength, domain_A, domain_B) in known_pairs.items():
        kinds.add(pair.kind)
        tests = list_images(domain_A / "test")
        assert len(tests) == 4
        scores = []
        for photo_path in tests:
            photo, truth = load_rgb(photo_path), load_rgb(domain_B / "test" / photo_path.name)
            # the truth is exactly the transform of the test photo (PNG keeps every byte)
            assert np.array_equal(np.asarray(truth), np.asarray(pair.transform(photo, strength))), name
            scores.append(psnr(photo, truth))
        assert np.mean(scores) < 25, (name, np.mean(scores))   # far from the identity
        below_14 += np.mean(scores) < 14
        # B's training images are transforms of other crops: none is a test photo's truth
        train_B = {load_rgb(p).tobytes() for p in list_images(domain_B / "train")}
        assert not train_B & {load_rgb(domain_B / "test" / p.name).tobytes() for p in tests}
    assert kinds == {"global colour", "tone", "local texture"} and len(known_pairs) >= 6
    assert below_14 >= 2


def test_strengths_are_drawn_per_seed_from_the_stated_range():
    for pair in KNOWN_PAIRS.values():
        drawn = [draw_strength(pair, seed) for seed in range(12)]
        assert all(pair.low <= s <= pair.high for s in drawn), pair.name
        assert len(set(drawn)) > 1, pair.name           # no single constant to fit
        assert drawn == [draw_strength(pair, seed) for seed in range(12)]   # reproducible


def test_a_different_transform_rebuilds_the_folders(tmp_path):
    pair = KNOWN_PAIRS["invert"]
    _, domain_B = build_demo_domains(tmp_path, crop_size=32, n_train=2, n_test=2,
                                     transform=pair.bound(1.0), transform_id="invert:1.0")
    inverted = load_rgb(domain_B / "test" / "00000.png")
    build_demo_domains(tmp_path, crop_size=32, n_train=2, n_test=2,
                       transform=pair.bound(0.8), transform_id="invert:0.8")
    assert load_rgb(domain_B / "test" / "00000.png").tobytes() != inverted.tobytes()


def real_pair_folder(root: Path, photos: list[Image.Image]) -> Path:
    """A reference-layout pair from the bundled photos: A = crops, B = a painterly version of other crops."""
    painterly = KNOWN_PAIRS["painterly"].bound(1.0)
    for split, count, offset in (("train", 10, 0), ("test", 3, 10)):
        for side in "AB":
            (root / f"{split}{side}").mkdir(parents=True)
            for i in range(count):
                photo = photos[(i + offset) % len(photos)]
                x = (i * 13 + (side == "B") * 40) % max(1, photo.width - 48)
                crop = photo.crop((x, 0, x + 48, 48)).convert("RGB")
                image = painterly(crop) if side == "B" else crop
                image.save(root / f"{split}{side}" / f"p{i}.png")
                if split == "train" and i % 3 == 0:   # a crop of the same picture, as real_domains.py makes
                    image.resize((40, 40)).save(root / f"{split}{side}" / f"p{i}_c1.png")
    return root


@pytest.fixture(scope="module")
def real_folder(tmp_path_factory, known_pairs):
    _, _, domain_A, _ = known_pairs["hue"]
    photos = [load_rgb(p).resize((96, 96)) for p in list_images(domain_A / "train") + list_images(domain_A / "test")]
    return real_pair_folder(tmp_path_factory.mktemp("real"), photos)


def test_judges_are_held_out_by_picture_and_tell_the_sides_apart(tmp_path, real_folder):
    data, judges = split_judges(real_folder, tmp_path)
    picture = lambda path: Path(path).stem.split("_c")[0]
    for side in "AB":
        held = {picture(p) for p in judges[side] if "testB" not in str(p)}
        trained = {picture(p) for p in list_images(data / f"train{side}")}
        assert held and trained and not held & trained      # a picture and its crops on one side of the split
    assert {p.name for p in list_images(data / "testA")} == {p.name for p in list_images(real_folder / "testA")}
    judge = fit_judge(judges, 32)
    assert judge.fit_accuracy >= 0.9
    photos = [load_rgb(p).resize((32, 32)) for p in list_images(real_folder / "testA")]
    painted = [KNOWN_PAIRS["painterly"].transform(p, 1.0) for p in photos]
    as_photos, as_paintings = score_real(judge, photos, photos), score_real(judge, photos, painted)
    assert as_paintings.taken_for_B > as_photos.taken_for_B
    assert as_photos.structure == pytest.approx(1.0)
    assert as_paintings.kid < as_photos.kid


def test_structure_is_high_for_the_same_scene_and_low_for_another():
    rng = np.random.default_rng(0)
    scene = Image.fromarray((rng.random((64, 64, 3)) * 255).astype(np.uint8)).resize((64, 64))
    other = Image.fromarray((rng.random((64, 64, 3)) * 255).astype(np.uint8))
    recoloured = Image.fromarray(255 - np.asarray(scene))
    assert structure(scene, recoloured) > 0.95
    assert abs(structure(scene, other)) < 0.2


# --------------------------------------------------------------------------- the identity-collapse guard

def guarded_run(domains, tmp_path, capfd, html=False, **model):
    _, domain_A, domain_B = domains
    cfg = tiny_config(domain_A, domain_B, tmp_path, max_steps=40, print_freq=10, lambda_identity=0.0)
    cfg.train.no_html, cfg.train.display = not html, "none"
    for key, value in model.items():
        setattr(cfg.model if hasattr(cfg.model, key) else cfg.train, key, value)
    train(cfg)
    log = [json.loads(line) for line in (tmp_path / "tiny" / "loss_log.jsonl").read_text().splitlines()]
    return [entry for entry in log if "G_change" in entry], capfd.readouterr().err


def test_the_collapse_guard_fires_on_a_run_that_stays_the_identity(photo_domains, tmp_path, capfd):
    # a generator that starts as its input and learns at a negligible rate stays the identity
    measured, err = guarded_run(photo_domains, tmp_path, capfd, html=True, netG="skip_resnet_6blocks", lr=1e-9)
    assert measured and all(m["G_change"] < 0.5 for m in measured)
    assert "D_tells" in measured[0] and all(0 <= m["G_beyond_colour"] < 0.5 for m in measured)
    assert err.count("still hands its input back") == 1       # said once, in one line
    assert "how much G changes the photos" in RunFolder(tmp_path / "tiny").report_page.read_text()


def test_the_collapse_guard_stays_quiet_on_a_run_that_learns(photo_domains, tmp_path, capfd):
    # the fast recipe's generator, rate and warm-up: the change grows as the palette is learned
    measured, err = guarded_run(photo_domains, tmp_path, capfd, netG="colour_skip_resnet_6blocks", lr=5e-4,
                                cycle_warmup=0.3)
    changes = [m["G_change"] for m in measured]
    assert min(changes) > 3.0 and changes[-1] > changes[0], changes
    # a palette learned in 40 steps: most of the change is one colour map of the photo
    assert all(0 <= m["G_beyond_colour"] < 0.5 * m["G_change"] for m in measured), measured
    assert "still hands its input back" not in err


# --------------------------------------------------------------------------- end to end

def test_the_suite_runs_end_to_end_on_tiny_settings(tmp_path, real_folder):
    out = subprocess.run([sys.executable, str(SCRIPT), "--steps", "6", "--size", "32", "--n-train", "6",
                          "--n-test", "3", "--pairs", "invert,real", "--dataroot", str(real_folder),
                          "--define", "tiny=fast,ngf=8,ndf=8", "--define", "tinycolour=tiny,netG=colour_skip_resnet_6blocks,crop_size=24",
                          "--recipes", "tiny,tinycolour", "--work-dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    table = out.stdout
    assert "| invert | tone |" in table and "| untranslated photo |" in table and "| tinycolour |" in table
    assert "| pair | truth | tiny | tinycolour |" in table and "beyond a colour map (levels)" in table
    for name in ("invert-s0-32-tiny-tinycolour.png", "real-s0-32-tiny-tinycolour.png"):
        strip = Image.open(tmp_path / "strips" / name)
        assert strip.width > 3 * 128                        # photo, two recipes (, truth)
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert scores["invert/tiny"][0]["steps"] == 6
    # a --define's crop_size trains on smaller crops; the photos are still translated whole
    job = tmp_path / "jobs" / "invert-s0-tinycolour"
    assert json.loads((job / "run" / "config.json").read_text())["data"]["crop_size"] == 24
    assert {Image.open(p).size for p in (job / "translations").glob("*.png")} == {(32, 32)}
    # the same work dir with fewer recipes: its jobs are reused, and the wider report stays beside it
    again = subprocess.run([*out.args[:out.args.index("--recipes")], "--recipes", "tiny", "--work-dir", str(tmp_path)],
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "strips" / "invert-s0-32-tiny.png").exists()
    assert (tmp_path / "strips" / "invert-s0-32-tiny-tinycolour.png").exists()
    assert "invert/tinycolour" in json.loads((tmp_path / "scores.json").read_text())
    # the collapse guard measured the jobs as it does cyclegan-train's runs
    logged = [json.loads(line) for line in (job / "run" / "loss_log.jsonl").read_text().splitlines()]
    assert any("G_change" in record for record in logged), logged[-1]
    # a second run reuses every finished job
    again = subprocess.run([sys.executable, str(SCRIPT), "--steps", "6", "--size", "32", "--n-train", "6",
                            "--n-test", "3", "--pairs", "invert", "--define", "tiny=fast,ngf=8,ndf=8",
                            "--recipes", "tiny", "--work-dir", str(tmp_path)], capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0 and "core" not in again.stderr


def test_bad_suite_options_are_one_line_errors(tmp_path):
    for argv, message in ((["--pairs", "nope"], "--pairs 'nope'"), (["--recipes", "nope"], "--recipes nope"),
                          (["--pairs", "real"], "--pairs real needs --dataroot"),
                          (["--define", "big=fast,crop_size=128", "--recipes", "big"], "crop_size=128"),
                          (["--define", "yes=fast,crop_size=true", "--recipes", "yes"], "crop_size=True"),
                          (["--pairs", "real", "--dataroot", str(tmp_path)], "no images in trainA/")):
        out = subprocess.run([sys.executable, str(SCRIPT), *argv, "--work-dir", str(tmp_path / "w")],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 2 and out.stderr.count("\n") == 1 and message in out.stderr, out.stderr


def test_a_timed_run_ends_by_saying_how_much_the_photos_changed(photo_domains, tmp_path, capsys):
    from cyclegan.cli.train import main
    _, domain_A, domain_B = photo_domains
    code = main(["--domainA", str(domain_A), "--domainB", str(domain_B), "--time", "5s", "--ngf", "8", "--ndf", "8",
                 "--load_size", "36", "--crop_size", "32", "--num_threads", "0", "--checkpoints_dir", str(tmp_path),
                 "--name", "timed", "--display", "none", "--precision", "fp32", "--no_html"])
    out = capsys.readouterr().out
    assert code == 0, out
    line = next(l for l in out.splitlines() if "the translations changed the photos by" in l)
    levels = float(line.split(" by ")[1].split(" of 255")[0])
    translated = list_images(tmp_path / "timed" / "test_results")
    photos = {p.stem: load_rgb(p) for p in list_images(domain_A / "test")}
    measured = np.mean([np.abs(np.asarray(load_rgb(t), float) - np.asarray(photos[t.stem], float)).mean()
                        for t in translated])
    assert levels == pytest.approx(measured, abs=0.06)
    from cyclegan.eval.collapse_watch import STILL_IDENTITY
    from cyclegan.metrics import change_beyond_colour_map
    if levels >= STILL_IDENTITY:   # then the line says how much of it is beyond a recolouring
        beyond = float(line.split("; ")[1].split(" levels beyond")[0])
        measured = np.mean([change_beyond_colour_map(photos[t.stem], load_rgb(t)) for t in translated])
        assert beyond == pytest.approx(measured, abs=0.06)
    else:
        assert "see the warning above" in line


def test_the_end_line_says_when_the_translations_are_only_a_recolouring():
    from cyclegan.cli.train import describe_change
    from cyclegan.report.test_split import PhotoChange
    recoloured = describe_change(PhotoChange(levels=18.0, beyond_colour=0.8))
    assert "18.0 of 255 levels" in recoloured and "0.8 levels beyond" in recoloured and "a recolouring" in recoloured
    painted = describe_change(PhotoChange(levels=30.0, beyond_colour=6.0))
    assert "6.0 levels beyond" in painted and "recolouring" not in painted
    unchanged = describe_change(PhotoChange(levels=0.4, beyond_colour=0.1))
    assert "see the warning above" in unchanged and "recolouring" not in unchanged
