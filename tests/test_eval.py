"""cyclegan-eval and the training-time KID hook, on real photo crops and really trained tiny runs."""
import hashlib
import http.server
import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from conftest import tiny_config
from cyclegan.checkpoint import load_torch_file
from cyclegan.runfolder import STATE_FILE
from cyclegan.cli.eval import main as eval_main
from cyclegan.data.images import list_images, load_rgb
from cyclegan.errors import UserError
from cyclegan.eval.features import random_extractor
from cyclegan.metrics import kid
from cyclegan import train
from cyclegan.loss_log import read_log


@pytest.fixture(autouse=True)
def empty_torch_cache(tmp_path, monkeypatch):
    """No weights from the machine's own cache: every test sees only what it puts there."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.delenv("CYCLEGAN_INCEPTION_URL", raising=False)


def copy_images(paths, folder: Path) -> Path:
    folder.mkdir(parents=True)
    for path in paths:
        shutil.copy(path, folder / path.name)
    return folder


def run_eval(capsys, *argv) -> tuple[int, str, str]:
    code = eval_main([*argv, "--no-progress"])
    out = capsys.readouterr()
    return code, out.out, out.err


# --------------------------------------------------------------------------
# features and KID on real images
# --------------------------------------------------------------------------


def test_random_extractor_is_fixed_and_leaves_the_global_rng_alone(photo_domains):
    _, domain_A, _ = photo_domains
    images = [load_rgb(p) for p in list_images(domain_A / "train")[:3]]
    before = torch.get_rng_state()
    first = random_extractor().features(images)
    assert torch.equal(torch.get_rng_state(), before)
    second = random_extractor().features(images)
    assert first.shape == (3, 480)
    assert (first == second).all()
    assert random_extractor().describe().endswith("NOT comparable to published FID/KID numbers")


def test_kid_with_random_features_tells_photos_from_paintings(photo_domains):
    """Two halves of the paintings are close; paintings against photos are far apart."""
    _, domain_A, domain_B = photo_domains
    extractor = random_extractor()
    paintings = extractor.features(load_rgb(p) for p in list_images(domain_B / "train"))
    photos = extractor.features(load_rgb(p) for p in list_images(domain_A / "train"))
    same = kid(paintings[0::2], paintings[1::2]).mean
    different = kid(paintings[0::2], photos[1::2]).mean
    assert different > same + 0.05, (same, different)


# --------------------------------------------------------------------------
# the command line: folders
# --------------------------------------------------------------------------


def test_real_fake_prints_kid_fid_counts_and_protocol(photo_domains, capsys):
    _, domain_A, domain_B = photo_domains
    code, out, err = run_eval(capsys, "--real", str(domain_B / "train"), "--fake", str(domain_A / "train"),
                              "--features", "random")
    assert code == 0, err
    assert "features: random" in out and "NOT comparable to published" in out
    assert "resizer: images resized to 128x128" in out
    assert "images: real 12" in out and "fake 12" in out
    assert "KID: " in out and "± " in out and "(100 subsets of 12 images)" in out
    assert "FID: " in out


def test_json_output_and_paired_metrics(photo_domains, capsys):
    _, domain_A, domain_B = photo_domains
    code, out, err = run_eval(capsys, "--real", str(domain_B / "train"), "--fake", str(domain_B / "test"),
                              "--target", str(domain_B / "test"), "--features", "random", "--json",
                              "--kid-subset-size", "3", "--kid-subsets", "10")
    assert code == 0, err
    report = json.loads(out)
    assert report["real"]["count"] == 12 and report["fake"]["count"] == 4
    assert report["kid"]["subset_size"] == 3 and report["kid"]["subsets"] == 10
    assert report["features"]["name"] == "random" and report["features"]["comparable_to_published"] is False
    paired = report["paired"]
    assert paired["count"] == 4 and paired["psnr"] == "inf" and paired["ssim"] == pytest.approx(1.0)
    assert paired["l1"] == 0.0 and paired["lpips"] is None and "LPIPS not computed" in paired["lpips_note"]


def test_target_scores_the_untranslated_photos_against_the_true_paintings(photo_domains, capsys):
    """Paired metrics only (no --real): no feature extractor needed, so no weights either."""
    from cyclegan.metrics import psnr
    _, domain_A, domain_B = photo_domains
    code, out, err = run_eval(capsys, "--fake", str(domain_A / "test"), "--target", str(domain_B / "test"), "--json")
    assert code == 0, err
    report = json.loads(out)
    expected = sum(psnr(load_rgb(p), load_rgb(domain_B / "test" / p.name)) for p in list_images(domain_A / "test")) / 4
    assert report["paired"]["psnr"] == pytest.approx(expected)
    assert 0.0 < report["paired"]["ssim"] < 0.95 and "features" not in report


@pytest.mark.parametrize("argv, message", [
    ([], "say what to score"),
    (["--fake", "X"], "--fake needs --real DIR"),
    (["--real", "{B}", "--fake", "{missing}", "--features", "random"], "--fake {missing}: folder does not exist"),
    (["--real", "{empty}", "--fake", "{B}", "--features", "random"], "no readable images"),
    (["--real", "{B}", "--fake", "{B}", "--features", "nonsense"], "--features nonsense: choose inception"),
    (["--real", "{B}", "--fake", "{B}"], "not on this machine"),
    (["--real", "{B}", "--fake", "{B}", "--inception-weights", "{missing}"], "file not found"),
    (["--checkpoint", "{B}", "--real", "{B}"], "drop --real/--fake/--target"),
    (["--fake", "{B}", "--target", "{A}", "--paired"], "--paired goes with --checkpoint"),
    (["--checkpoint", "{B}", "--features", "random"], "not a training run"),
    (["--fake", "{B}", "--target", "{empty}"], "no image there has the name"),
])
def test_mistakes_give_one_line_errors(photo_domains, tmp_path, capsys, argv, message):
    _, domain_A, domain_B = photo_domains
    (tmp_path / "empty").mkdir()
    names = {"A": str(domain_A / "test"), "B": str(domain_B / "test"), "missing": str(tmp_path / "missing"),
             "empty": str(tmp_path / "empty")}
    argv = [a.format(**names) for a in argv]
    message = message.format(**names)
    code, out, err = run_eval(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("cyclegan-eval: error: ") and message in err, err
    assert "Traceback" not in err


def test_missing_inception_weights_say_how_to_get_them(photo_domains, capsys):
    _, _, domain_B = photo_domains
    code, _, err = run_eval(capsys, "--real", str(domain_B / "test"), "--fake", str(domain_B / "test"))
    assert code == 2 and err.count("\n") == 1
    assert "--download-inception" in err and "--inception-weights PATH" in err and "--features random" in err


def test_paired_sizes_must_match(photo_domains, tmp_path, capsys):
    _, domain_A, _ = photo_domains
    small = tmp_path / "small"
    small.mkdir()
    for path in list_images(domain_A / "test"):
        load_rgb(path).resize((20, 20)).save(small / path.name)
    code, _, err = run_eval(capsys, "--fake", str(small), "--target", str(domain_A / "test"))
    assert code == 2 and "paired metrics need equal sizes" in err and err.count("\n") == 1


def test_console_entry_point_gives_one_line_and_exit_2(tmp_path):
    result = subprocess.run([sys.executable, "-m", "cyclegan.cli.eval", "--real", str(tmp_path / "nope"),
                             "--fake", str(tmp_path), "--features", "random"], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "does not exist" in result.stderr


# --------------------------------------------------------------------------
# Inception through torch-fidelity, weights fetched from a local server
# --------------------------------------------------------------------------


def random_inception_weights(folder: Path, monkeypatch) -> Path:
    """torch-fidelity's Inception-v3 with PyTorch's random init, saved under torch.hub's hashed name."""
    fe = pytest.importorskip("torch_fidelity.feature_extractor_inceptionv3")
    with monkeypatch.context() as m:   # build the architecture without its real weights
        m.setattr(fe, "load_state_dict_from_url", lambda *a, **k: None)
        m.setattr(fe.FeatureExtractorInceptionV3, "load_state_dict", lambda self, *a, **k: None)
        net = fe.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    raw = folder / "weights.pth"
    torch.save(net.state_dict(), raw)
    digest = hashlib.sha256(raw.read_bytes()).hexdigest()[:8]
    return raw.rename(folder / f"weights-inception-test-{digest}.pth")


@pytest.fixture
def local_server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(served), **k)
    http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_inception_weights_download_and_features(photo_domains, local_server, monkeypatch, capsys):
    """--download-inception fetches into torch.hub's cache (hash checked); then inception is the default."""
    _, domain_A, domain_B = photo_domains
    served, url = local_server
    weights = random_inception_weights(served, monkeypatch)
    monkeypatch.setenv("CYCLEGAN_INCEPTION_URL", f"{url}/{weights.name}")
    code, out, err = run_eval(capsys, "--download-inception")
    assert code == 0, err
    cached = Path(torch.hub.get_dir()) / "checkpoints" / weights.name
    assert cached.read_bytes() == weights.read_bytes()
    # two images a side: Inception at 299x299 is slow on a CPU
    real = copy_images(list_images(domain_B / "test")[:2], served.parent / "real")
    fake = copy_images(list_images(domain_A / "test")[:2], served.parent / "fake")
    code, out, err = run_eval(capsys, "--real", str(real), "--fake", str(fake), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["features"]["name"] == "inception" and report["features"]["dim"] == 2048
    assert report["features"]["comparable_to_published"] is True
    assert "299x299" in report["features"]["resizer"]
    assert report["fid"] > 0


def test_download_with_a_wrong_hash_leaves_nothing_behind(local_server, monkeypatch, capsys):
    served, url = local_server
    (served / "weights-inception-test-00000000.pth").write_bytes(b"not the weights")
    monkeypatch.setenv("CYCLEGAN_INCEPTION_URL", f"{url}/weights-inception-test-00000000.pth")
    code, _, err = run_eval(capsys, "--download-inception")
    assert code == 2 and "could not download" in err and err.count("\n") == 1
    checkpoints = Path(torch.hub.get_dir()) / "checkpoints"
    assert not checkpoints.exists() or not any(checkpoints.iterdir())


def test_damaged_inception_weights_are_named(photo_domains, tmp_path, capsys):
    pytest.importorskip("torch_fidelity")
    _, _, domain_B = photo_domains
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"garbage")
    code, _, err = run_eval(capsys, "--real", str(domain_B / "test"), "--fake", str(domain_B / "test"),
                            "--inception-weights", str(bad))
    assert code == 2 and f"Inception-v3 weights {bad} cannot be loaded" in err


def test_torchvision_features_with_the_users_weights(photo_domains, tmp_path, capsys):
    import torchvision
    _, domain_A, domain_B = photo_domains
    weights = tmp_path / "mobilenet.pth"
    torch.save(torchvision.models.mobilenet_v3_small().state_dict(), weights)
    code, out, err = run_eval(capsys, "--real", str(domain_B / "test"), "--fake", str(domain_A / "test"), "--json",
                              "--features", "torchvision:mobilenet_v3_small", "--features-weights", str(weights))
    assert code == 0, err
    assert json.loads(out)["features"]["dim"] == 1024
    code, _, err = run_eval(capsys, "--real", str(domain_B / "test"), "--fake", str(domain_A / "test"),
                            "--features", "torchvision:mobilenet_v3_small")
    assert code == 2 and "weights not on this machine" in err


# --------------------------------------------------------------------------
# training-time KID and --checkpoint
# --------------------------------------------------------------------------


def small_run_config(photo_domains, root, **overrides):
    _, domain_A, domain_B = photo_domains
    cfg = tiny_config(domain_A, domain_B, root, max_steps=6, pool_size=2, print_freq=4, **overrides)
    cfg.data.batch_size = 2
    cfg.model.use_dropout = True    # dropout draws from the global RNG: evaluation must not disturb it
    return cfg


@pytest.fixture(scope="module")
def evaluated_run(photo_domains, tmp_path_factory):
    root = tmp_path_factory.mktemp("kid_runs")
    with pytest.MonkeyPatch.context() as m:   # module scope: runs before the autouse fixture
        m.setenv("TORCH_HOME", str(root / "torch_home"))
        result = train(small_run_config(photo_domains, root / "with_eval", eval_freq=3))
    return result.run_dir, root


def test_eval_freq_logs_kid_at_its_step_and_keeps_the_best_networks(evaluated_run):
    run_dir, _ = evaluated_run
    log = read_log(run_dir / "loss_log.jsonl")
    kid_lines = [line for line in log if "KID" in line]
    assert [line["step"] for line in kid_lines] == [3, 6]
    for line in kid_lines:   # the losses on a KID line are still averaged over their steps
        assert {"G_A", "D_A", "cycle_A", "idt_B"} <= line.keys() and line["KID"] == line["KID"]
        assert 0 < line["G_A"] < 100
    steps = [line["step"] for line in log]
    assert steps == sorted(set(steps))
    for net in ("G_A", "G_B", "D_A", "D_B"):
        assert (run_dir / f"best_net_{net}.pth").is_file()
    best = json.loads((run_dir / "best_eval.json").read_text())
    assert best["step"] in (3, 6) and best["KID"] == pytest.approx(min(line["KID"] for line in kid_lines), abs=1e-6)
    assert best["features"].startswith("random")   # no Inception weights in this test's cache


def test_evaluation_does_not_change_training(photo_domains, evaluated_run):
    run_dir, root = evaluated_run
    plain = train(small_run_config(photo_domains, root / "without_eval")).run_dir
    a = load_torch_file(run_dir / STATE_FILE)["model"]["nets"]
    b = load_torch_file(plain / STATE_FILE)["model"]["nets"]
    assert all(torch.equal(a[net][k], b[net][k]) for net in a for k in a[net])


def test_eval_freq_without_a_test_split_is_a_clear_error(photo_domains, tmp_path):
    _, domain_A, domain_B = photo_domains
    only_train_A = copy_images(list_images(domain_A / "train"), tmp_path / "A")
    only_train_B = copy_images(list_images(domain_B / "train"), tmp_path / "B")
    cfg = tiny_config(only_train_A, only_train_B, tmp_path / "runs", max_steps=2, eval_freq=1)
    with pytest.raises(UserError, match="--eval_freq needs test images"):
        train(cfg)


def test_checkpoint_scores_both_directions(evaluated_run, tmp_path, capsys):
    run_dir, _ = evaluated_run
    code, out, err = run_eval(capsys, "--checkpoint", str(run_dir), "--features", "random", "--paired", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert set(report["directions"]) == {"AtoB", "BtoA"}
    for direction in report["directions"].values():
        assert direction["fake"]["count"] == 4 and direction["real_count"] == 4
        assert direction["kid"]["subset_size"] == 4 and direction["fid"] >= 0
        assert direction["paired"]["count"] == 4 and 0 < direction["paired"]["psnr"] < 60
    saved = tmp_path / "translations"
    argv = ["--checkpoint", str(run_dir), "--features", "random", "--max-images", "3",
            "--save-translations", str(saved)]
    code, out, err = run_eval(capsys, *argv)
    assert code == 0, err
    assert "images: 3 translated, 3 real" in out
    assert len(list((saved / "AtoB").glob("*.png"))) == 3 and len(list((saved / "BtoA").glob("*.png"))) == 3
    code, out, err = run_eval(capsys, *argv)            # never writes into an existing folder
    assert code == 2 and "already exists" in err


def test_checkpoint_scores_the_best_kid_weights(evaluated_run, capsys):
    run_dir, _ = evaluated_run
    code, out, err = run_eval(capsys, "--checkpoint", str(run_dir), "--features", "random", "--epoch", "best")
    assert code == 0, err
    assert "AtoB: translated" in out and "BtoA: translated" in out and out.count("KID: ") == 2


def test_paired_images_below_ssims_window_get_psnr_and_a_warning(tmp_path, capsys):
    from PIL import Image
    fake, target = tmp_path / "fake", tmp_path / "target"
    fake.mkdir(), target.mkdir()
    for name, colour in (("a", (10, 20, 30)), ("b", (200, 100, 0))):
        Image.new("RGB", (1, 1), colour).save(fake / f"{name}.png")
        Image.new("RGB", (1, 1), (12, 20, 30)).save(target / f"{name}.png")
    with pytest.warns(UserWarning, match=r"SSIM skipped for all images \(e.g. a.png\): it needs at least 11 x 11"):
        code, out, err = run_eval(capsys, "--fake", str(fake), "--target", str(target), "--json")
    assert code == 0 and "Traceback" not in err
    paired = json.loads(out)["paired"]
    assert paired["count"] == 2 and paired["psnr"] > 0 and paired["ssim"] is None
    # One image large enough: SSIM is its own, and the warning says the others were left out.
    Image.new("RGB", (16, 16), (10, 20, 30)).save(fake / "c.png")
    Image.new("RGB", (16, 16), (10, 20, 30)).save(target / "c.png")
    with pytest.warns(UserWarning, match="SSIM skipped for 2 of 3 images"):
        code, out, err = run_eval(capsys, "--fake", str(fake), "--target", str(target))
    assert code == 0 and "SSIM 1.0000" in out


def test_lpips_skips_images_below_its_smallest_side(tmp_path):
    from PIL import Image
    from cyclegan.eval.lpips import LPIPS
    from cyclegan.eval.score import paired_score

    class Distance(LPIPS):      # stands in for the VGG16 network, whose weights a test machine lacks
        def __init__(self):
            self.model, self.note = object(), "LPIPS: stand-in"

        def __call__(self, image, target):
            assert min(image.size) >= self.min_side
            return 0.5

    small, large = Image.new("RGB", (8, 40)), Image.new("RGB", (20, 20))
    with pytest.warns(UserWarning, match=r"LPIPS skipped for 1 of 2 images \(e.g. small.png\): it needs at least 16"):
        score = paired_score([(small, small, "small.png"), (large, large, "large.png")], Distance())
    assert score.lpips == 0.5 and score.ssim == 1.0 and score.count == 2
