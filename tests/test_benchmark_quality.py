"""The known-answer benchmark: training must move PSNR against the true translations clearly up."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from cyclegan.errors import UserError
from cyclegan.eval.benchmark import BenchmarkSettings
from cyclegan.quality.known_answer import run_benchmark

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "benchmark_quality.py"
TINY = dict(ngf=8, ndf=8, demo_size=40, crop_size=32, n_train=12, n_test=4)


def run_script(*argv, timeout=300):
    tiny = [f"--{k.replace('_', '-')}={v}" for k, v in TINY.items()]
    out = subprocess.run([sys.executable, str(SCRIPT), *argv, *tiny],
                         capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_training_moves_psnr_clearly_above_step_0(tmp_path):
    """End to end: demo domains, 80 real training steps, translate the test photos, compare with the truth.

    (A subprocess, like a user's run: it takes the thread settings of the environment.)
    """
    result = json.loads(run_script("--steps", "80", "--lr", "5e-4", "--json", "--work-dir", str(tmp_path)))
    assert result["steps"] == 80 and result["test_images"] == 4
    trained, untrained, identity = result["trained"], result["untrained"], result["identity"]
    # the untrained generator's output is far from the truth; the untranslated photo is a fixed reference
    assert untrained["psnr"] < identity["psnr"]
    assert trained["psnr"] > untrained["psnr"] + 1.5, result
    assert trained["ssim"] > untrained["ssim"]
    assert (tmp_path / "runs" / "benchmark" / "latest_net_G_A.pth").is_file()
    # the same work dir, through the checkerboard script: the median-filtered truth has less
    # period-2 texture than the photos it came from
    out = subprocess.run([sys.executable, str(SCRIPT.parent / "checkerboard_index.py"), str(tmp_path)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    row = out.stdout.splitlines()[2].split("|")
    translated, truth, untranslated = (float(x) for x in row[4:7])
    assert row[2].strip() == "resnet_6blocks" and translated > 0 and truth < untranslated


def test_the_script_trains_for_a_wall_clock_budget(tmp_path):
    """--minutes trains in resumable chunks until the budget is spent; the text output ends in a table row."""
    lines = run_script("--minutes", "0.001").strip().splitlines()
    assert lines[0].startswith("4 test images; PSNR ") and "identity baseline" in lines[0]
    assert lines[1].startswith("| steps | minutes |") and lines[2].startswith("|---")
    assert lines[3].startswith("| 25 | ")     # one chunk, then past the budget


def test_bad_settings_are_one_line_errors(tmp_path, capsys):
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import benchmark_quality
    finally:
        sys.path.remove(str(SCRIPT.parent))
    assert benchmark_quality.main(["--crop-size", "128", "--demo-size", "96"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--crop-size 128 is larger than the demo images" in err
    with pytest.raises(UserError, match="already exists"):
        (tmp_path / "runs" / "benchmark").mkdir(parents=True)
        run_benchmark(BenchmarkSettings(steps=1, **TINY), tmp_path)
    assert benchmark_quality.main(["--model", "cut", "--recipe", "fast"]) == 2
    assert "--recipe fast is a recipe for --model cyclegan" in capsys.readouterr().err


def test_fastcut_trains_on_the_known_answer_with_its_own_schedule(tmp_path):
    """--model fastcut: FastCUT's published settings (at tiny width), its 150 + 50 schedule split,
    and its one generator scored, from the same step 0 as the run itself."""
    from cyclegan.config import Config
    from cyclegan.quality.known_answer import benchmark_config
    def schedule(model):   # 48 steps of 12 images: 4 epochs
        cfg = benchmark_config(BenchmarkSettings(model=model, steps=48, **TINY), Path("A"), Path("B"), tmp_path)
        return cfg.train.n_epochs, cfg.train.n_epochs_decay
    assert schedule("cyclegan") == (2, 2) and schedule("cut") == (2, 2) and schedule("fastcut") == (3, 1)
    result = json.loads(run_script("--model", "fastcut", "--steps", "3", "--json", "--work-dir", str(tmp_path)))
    assert result["settings"]["model"] == "fastcut" and result["settings"]["recipe"] == "paper, ngf 8, ndf 8"
    run_dir = tmp_path / "runs" / "benchmark"
    cfg = Config.load_json(run_dir / "config.json")
    assert (cfg.model.model, cfg.model.lambda_NCE, cfg.model.flip_equivariance, cfg.model.nce_idt) == \
        ("fastcut", 10.0, True, False)
    assert (cfg.model.ngf, cfg.model.netG) == (8, "resnet_9blocks")
    assert (run_dir / "latest_net_G.pth").is_file() and not (run_dir / "latest_net_G_A.pth").exists()
    assert result["untrained"]["psnr"] != result["trained"]["psnr"]


def test_a_stopped_run_prints_no_score(tmp_path):
    """SIGTERM saves the run and ends training early; the benchmark then refuses to score part of
    its budget as if it were the whole (exit 2, one line), instead of printing a misleading row."""
    import signal
    import time
    tiny = [f"--{k.replace('_', '-')}={v}" for k, v in TINY.items()]
    proc = subprocess.Popen([sys.executable, str(SCRIPT), "--steps", "100000", *tiny, "--work-dir", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = tmp_path / "runs" / "benchmark" / "loss_log.jsonl"
    deadline = time.monotonic() + 240
    while not (log.exists() and log.read_text().count("\n") >= 2) and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and out == "", (out, err)
    assert "no score (run again)" in err.splitlines()[-1] and "of 100000" in err


def test_the_interleaved_model_timing_prints_a_row_per_model():
    out = subprocess.run([sys.executable, str(SCRIPT.parent / "bench_models_interleaved.py"), "--sizes", "32",
                          "--rounds", "1", "--ngf", "8"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    rows = [line.split("|")[1:-1] for line in out.stdout.splitlines()[2:]]
    assert [r[1].strip() for r in rows] == ["cyclegan", "cut", "fastcut"]
    assert rows[0][3].strip() == "1.000" and all(float(r[2]) > 0 for r in rows)
