"""CUT and FastCUT: PatchNCE, the networks' checkpoint layout, training, exact resume, refusals,
and translating / exporting / evaluating a CUT run. Tiny networks (ngf 8, 32x32)."""
import math
import os
import subprocess
import sys

import pytest
import torch

from cyclegan import train
from cyclegan.checkpoint import load_torch_file
from cyclegan.cli.train import main as train_main
from cyclegan.errors import UserError
from cyclegan.eval.score import score_run
from cyclegan.inference.export import export_checkpoint
from cyclegan.inference.generators import resolve_generator
from cyclegan.loss_log import read_log
from cyclegan.training.losses import patch_nce_loss
from cyclegan.nets.cut import PatchSampleF, create_cut_discriminator, create_cut_generator, encoder_features
from cyclegan.nets.spec import infer_generator_spec
from cyclegan.compose.presets import plan_training
from cyclegan.training import run_training
from cyclegan.training.cut_step import CUT, build_generator as build_cut_generator
from cyclegan.models import model_card
from cyclegan.inference.translate import Translator


def unit(x):
    return x / x.norm(dim=1, keepdim=True)


# -- PatchNCE -------------------------------------------------------------------------------

def test_patch_nce_is_low_for_matching_patches_and_high_for_shuffled_ones():
    torch.manual_seed(0)
    key = unit(torch.randn(64, 16))
    matched = patch_nce_loss(key.clone(), key, batch_size=1).mean()
    shuffled = patch_nce_loss(key[torch.randperm(64)], key, batch_size=1).mean()
    assert matched < 0.5 < math.log(64) < shuffled


def test_a_lower_temperature_sharpens_patch_nce():
    torch.manual_seed(0)
    key = unit(torch.randn(64, 16))
    query = unit(key + 0.3 * torch.randn(64, 16))      # close to its own key, not equal
    cold, warm = (patch_nce_loss(query, key, 1, temperature=t).mean() for t in (0.07, 1.0))
    assert cold < warm
    # At a high temperature every choice looks alike: the loss tends to log(1 + P) = log(65).
    hot = patch_nce_loss(query, key, 1, temperature=1e4).mean()
    assert abs(float(hot) - math.log(65)) < 1e-2


def test_patch_nce_negatives_stay_within_each_image_unless_asked():
    torch.manual_seed(0)
    key = unit(torch.randn(2 * 32, 8))
    per_image = patch_nce_loss(key, key, batch_size=2)
    whole_batch = patch_nce_loss(key, key, batch_size=2, negatives_from_batch=True)
    assert per_image.shape == whole_batch.shape == (64,)
    assert whole_batch.mean() > per_image.mean()       # more negatives, harder


def test_patch_nce_gives_no_gradient_to_the_keys():
    key = unit(torch.randn(16, 8)).requires_grad_(True)
    query = unit(torch.randn(16, 8)).requires_grad_(True)
    patch_nce_loss(query, key, 1).mean().backward()
    assert key.grad is None and query.grad is not None


# -- networks and the public code's checkpoint layout ---------------------------------------------

def public_cut_generator_layout(ngf: int, n_blocks: int, in_nc: int = 3, out_nc: int = 3) -> dict[str, tuple]:
    """Keys and shapes of the public CUT code's default generator (anti-aliased down and up,
    instance norm, no dropout), written from its documented structure: c7s1-ngf; per downsampling
    conv3 (stride 1), norm, ReLU, blur-downsample (3x3 'filt' buffer); residual blocks of pad,
    conv3, norm, ReLU, pad, conv3, norm; per upsampling blur-upsample (4x4 'filt'), conv3, norm,
    ReLU; pad, c7-out, tanh. Instance norm has no parameters; every conv has a bias."""
    keys, index = {}, 1
    keys[f"model.{index}.weight"], keys[f"model.{index}.bias"] = (ngf, in_nc, 7, 7), (ngf,)
    index = 4
    for width_in, width in ((ngf, 2 * ngf), (2 * ngf, 4 * ngf)):
        keys[f"model.{index}.weight"], keys[f"model.{index}.bias"] = (width, width_in, 3, 3), (width,)
        keys[f"model.{index + 3}.filt"] = (width, 1, 3, 3)
        index += 4
    for _ in range(n_blocks):
        for conv in (1, 5):
            keys[f"model.{index}.conv_block.{conv}.weight"] = (4 * ngf, 4 * ngf, 3, 3)
            keys[f"model.{index}.conv_block.{conv}.bias"] = (4 * ngf,)
        index += 1
    for width_in, width in ((4 * ngf, 2 * ngf), (2 * ngf, ngf)):
        keys[f"model.{index}.filt"] = (width_in, 1, 4, 4)
        keys[f"model.{index + 1}.weight"], keys[f"model.{index + 1}.bias"] = (width, width_in, 3, 3), (width,)
        index += 4
    index += 1   # the reflection pad
    keys[f"model.{index}.weight"], keys[f"model.{index}.bias"] = (out_nc, ngf, 7, 7), (out_nc,)
    return keys


@pytest.mark.parametrize("n_blocks", [9, 6])
def test_the_generator_has_the_public_cut_keys_and_shapes(n_blocks):
    ours = {k: tuple(v.shape) for k, v in create_cut_generator(n_blocks, ngf=8).state_dict().items()}
    assert ours == public_cut_generator_layout(8, n_blocks)


def test_a_bare_file_in_the_public_layout_is_recognised_and_translates(tmp_path):
    torch.manual_seed(0)
    state = {k: torch.randn(shape) * 0.05 for k, shape in public_cut_generator_layout(8, 9).items()}
    reference = create_cut_generator(9, ngf=8)
    for key in state:   # the blur filters are fixed numbers: take ours, as a published file has them
        if key.endswith(".filt"):
            state[key] = reference.state_dict()[key].clone()
    path = tmp_path / "latest_net_G.pth"
    torch.save(state, path)
    spec = infer_generator_spec(load_torch_file(path), path)
    assert (spec.netG, spec.ngf, spec.antialias, spec.antialias_up) == ("resnet_9blocks", 8, True, True)
    translator = Translator.from_checkpoint(path, device="cpu", precision="fp32")
    assert translator.source.spec_origin == "keys"
    out = translator(torch.rand(1, 3, 36, 44) * 2 - 1)
    assert out.shape == (1, 3, 36, 44) and out.abs().max() <= 1


def test_without_antialiasing_the_generator_is_cyclegans():
    plain = create_cut_generator(6, ngf=8, antialias=False, antialias_up=False)
    spec = infer_generator_spec(plain.state_dict())
    assert (spec.antialias, spec.antialias_up) == (False, False)
    down_only = create_cut_generator(6, ngf=8, antialias=True, antialias_up=False)
    spec = infer_generator_spec(down_only.state_dict())
    assert (spec.antialias, spec.antialias_up) == (True, False)


def test_discriminator_and_patch_sampler_keys():
    D = create_cut_discriminator("basic", ndf=8)
    assert [k for k in D.state_dict() if k.endswith("filt")] == ["model.2.filt", "model.6.filt", "model.10.filt"]
    assert D(torch.zeros(1, 3, 64, 64)).shape[1] == 1
    G = create_cut_generator(9, ngf=8)
    feats = encoder_features(G, torch.zeros(1, 3, 32, 32), [0, 4, 8, 12, 16])
    assert [f.shape[1] for f in feats] == [3, 16, 32, 32, 32]
    F = PatchSampleF(nc=256)
    F.build([f.shape[1] for f in feats])
    assert sorted(F.state_dict()) == sorted(f"mlp_{i}.{j}.{p}" for i in range(5) for j in (0, 2)
                                            for p in ("weight", "bias"))
    sampled, ids = F(feats, num_patches=256)
    assert sampled[0].shape == (256, 256) and sampled[-1].shape == (64, 256)   # 8x8 positions only
    assert torch.allclose(sampled[1].norm(dim=1), torch.ones(256), atol=1e-5)


# -- options ---------------------------------------------------------------------------------

def options(domain_A, domain_B, runs, **extra):
    base = {"domainA": str(domain_A), "domainB": str(domain_B), "checkpoints_dir": str(runs), "name": "tiny",
            "ngf": 8, "ndf": 8, "netG": "resnet_6blocks", "load_size": 36, "crop_size": 32, "num_threads": 0,
            "progress": False, "print_freq": 1, "precision": "fp32", "display": "none", "num_patches": 64,
            "netF_nc": 64}
    return {**base, **extra}


def test_each_mode_starts_from_the_published_defaults(tmp_path):
    cut = plan_training({"model": "cut", "domainA": "a", "domainB": "b"}).config
    fast = plan_training({"model": "cut", "CUT_mode": "FastCUT", "domainA": "a", "domainB": "b"}).config
    assert fast.model.model == "fastcut"
    assert (cut.model.lambda_NCE, cut.model.nce_idt, cut.model.flip_equivariance) == (1.0, True, False)
    assert (fast.model.lambda_NCE, fast.model.nce_idt, fast.model.flip_equivariance) == (10.0, False, True)
    assert (cut.train.n_epochs, cut.train.n_epochs_decay, fast.train.n_epochs, fast.train.n_epochs_decay) == \
        (200, 200, 150, 50)
    for cfg in (cut, fast):
        assert cfg.model.nce_layers == "0,4,8,12,16" and cfg.model.netF == "mlp_sample" and cfg.model.netF_nc == 256
        assert (cfg.model.num_patches, cfg.model.nce_T, cfg.model.lambda_GAN) == (256, 0.07, 1.0)
        assert cfg.model.init_type == "xavier" and cfg.train.gan_mode == "lsgan"
        assert not cfg.model.no_antialias and not cfg.model.no_antialias_up
    assert plan_training({"model": "fastcut", "lambda_NCE": 3.0, "domainA": "a"}).config.model.lambda_NCE == 3.0
    assert model_card("cut").directions == {"AtoB": "G"} and model_card("fastcut").one_sided
    assert not model_card("cyclegan").one_sided and not model_card("dcgan").translates


@pytest.mark.parametrize("given, message", [
    ({"model": "cyclegan", "nce_T": 0.1}, "--nce_T is a --model cut/fastcut option; --model cyclegan"),
    ({"model": "cyclegan", "no_antialias": True}, "--no_antialias is a --model cut/fastcut option"),
    ({"model": "cut", "lambda_A": 5.0}, "--lambda_A is a --model cyclegan option; --model cut trains without it"),
    ({"model": "fastcut", "pool_size": 50}, "--pool_size is a --model cyclegan option"),
    ({"model": "cyclegan", "CUT_mode": "FastCUT"}, "--CUT_mode is a --model cut option"),
    ({"model": "cut", "CUT_mode": "fast"}, "--CUT_mode fast: choose CUT or FastCUT"),
])
def test_options_of_the_other_model_are_refused_in_one_line(given, message):
    with pytest.raises(UserError, match=message.replace("/", ".")):
        plan_training({**given, "domainA": "a", "domainB": "b"})


def test_the_cli_refuses_with_exit_code_2(capsys):
    assert train_main(["--model", "cut", "--lambda_identity", "0.5", "--domainA", "a", "--domainB", "b"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--lambda_identity is a --model cyclegan option" in err[0]


def test_bad_cut_settings_are_one_line_errors(photo_domains, tmp_path):
    _, A, B = photo_domains
    for extra, message in (({"nce_layers": "0,4,99"}, "this generator has layers 0 to"),
                           ({"nce_T": 0.0}, "--nce_T.*positive"),
                           ({"gan_mode": "wgangp"}, "lsgan or vanilla")):
        cfg = plan_training(options(A, B, tmp_path / "runs", model="cut", max_steps=1, **extra)).config
        with pytest.raises(UserError, match=message):
            run_training(cfg)
    cfg = plan_training(options(A, B, tmp_path / "runs", model="cut", netG="unet_128")).config
    with pytest.raises(UserError, match="resnet_9blocks or resnet_6blocks"):
        build_cut_generator(cfg)


# -- training ---------------------------------------------------------------------------------

@pytest.mark.parametrize("model", ["cut", "fastcut"])
def test_a_short_run_lowers_patch_nce(photo_domains, tmp_path, model):
    _, A, B = photo_domains
    cfg = plan_training(options(A, B, tmp_path / "runs", model=model, max_steps=24)).config
    result = run_training(cfg)
    run = result.run_dir
    assert sorted(p.name for p in run.glob("latest_net_*.pth")) == \
        ["latest_net_D.pth", "latest_net_F.pth", "latest_net_G.pth"]
    nce = [line["NCE"] for line in read_log(run / "loss_log.jsonl") if "NCE" in line]
    assert len(nce) == 24
    assert sum(nce[-6:]) / 6 < 0.8 * sum(nce[:3]) / 3
    if model == "cut":
        assert all("NCE_Y" in line for line in read_log(run / "loss_log.jsonl") if "NCE" in line)
    F = load_torch_file(run / "latest_net_F.pth")
    assert F["mlp_0.0.weight"].shape == (64, 3)   # built before the first step, saved with the public keys


@pytest.mark.parametrize("flip", [False, True])
def test_the_keys_kept_from_gs_forward_are_a_second_encoder_pass_over_the_input(flip):
    """PatchNCE's keys are G's encoder features of the input. Without a flip they are kept from the
    forward that makes G(x) and G(y) (one encoder pass fewer per image); with FastCUT's flip, G saw
    the mirror image, so they come from a pass over the input itself. Either way they equal a pass
    of their own, at the same sampled patch positions."""
    cfg = plan_training(options("a", "b", "runs", model="cut")).config
    model = CUT(cfg, torch.device("cpu"))
    torch.manual_seed(1)
    a, b = torch.rand(1, 3, 32, 32) * 2 - 1, torch.rand(1, 3, 32, 32) * 2 - 1
    before = model.sampler.get_state()
    _, _, pairs = model.generator(a, b, flip)
    model.sampler.set_state(before)
    with torch.no_grad():
        for (query, key), source in zip(pairs, (a, b)):
            expected, _ = model.F(encoder_features(model.G, source, model.layers), cfg.model.num_patches,
                                  generator=model.sampler)
            assert len(key) == len(expected) == 5
            for kept, own in zip(key, expected):
                assert not kept.requires_grad and torch.allclose(kept, own, atol=1e-5)


def weights(run_dir):
    return {net: load_torch_file(run_dir / f"latest_net_{net}.pth") for net in ("G", "D", "F")}


@pytest.mark.parametrize("model", ["cut", "fastcut"])
def test_a_resumed_run_is_bit_identical_to_a_straight_one(photo_domains, tmp_path, model):
    _, A, B = photo_domains
    straight = run_training(plan_training(options(A, B, tmp_path / "a", model=model, max_steps=6)).config)
    run_training(plan_training(options(A, B, tmp_path / "b", model=model, max_steps=3)).config)
    split = run_training(plan_training(options(A, B, tmp_path / "b", model=model, max_steps=6,
                                               continue_train=True)).config)
    assert split.step == straight.step == 6
    ours, theirs = weights(straight.run_dir), weights(split.run_dir)
    for net in ours:
        for key in ours[net]:
            assert torch.equal(ours[net][key], theirs[net][key]), (net, key)


def test_fastcut_under_time_keeps_its_150_plus_50_split_and_finishes_its_schedule(photo_domains, tmp_path,
                                                                                  monkeypatch):
    """--model fastcut --time: the rate is constant for three quarters of the clock (FastCUT's 150 + 50
    epochs), then falls towards zero, and the run ends before its deadline and translates the test split.
    A clock that ticks 1 s per step makes the step count exact."""
    from cyclegan.training import schedule as schedule_module

    class Clock:
        t = 0.0

        def __call__(self):
            self.t += 1.0
            return self.t
    monkeypatch.setattr(schedule_module, "now", Clock())
    _, A, B = photo_domains
    cfg = plan_training(options(A, B, tmp_path / "runs", model="fastcut", time_budget=40.0)).config
    assert (cfg.train.n_epochs, cfg.train.n_epochs_decay, cfg.train.recipe) == (150, 50, "paper")
    result = train(cfg)   # the loop and its watchers, as cyclegan-train runs it
    rates = [line["lr"] for line in read_log(result.run_dir / "loss_log.jsonl") if "NCE" in line]
    lr = cfg.train.lr
    assert not result.interrupted and len(rates) == result.step
    assert result.step == 39 and rates[:31] == [lr] * 31   # steps starting in the first 30 s (0.75 of 40)
    assert all(a > b for a, b in zip(rates[30:], rates[31:]))   # then down, step by step ...
    assert rates[-1] == pytest.approx(lr * 2 / 10)           # ... to 2 s of 10 before the deadline
    assert len(list((result.run_dir / "test_results").glob("*.png"))) == 4


# -- translating, exporting and evaluating a CUT run ----------------------------------------------------

@pytest.fixture(scope="module")
def cut_run(photo_domains, tmp_path_factory):
    _, A, B = photo_domains
    runs = tmp_path_factory.mktemp("cut_runs")
    return run_training(plan_training(options(A, B, runs, model="cut", max_steps=2)).config).run_dir


def test_a_cut_run_translates_a_to_b_only(cut_run):
    translator = Translator.from_checkpoint(cut_run, device="cpu", precision="fp32")
    assert translator.direction == "AtoB" and translator.source.spec.antialias
    assert translator(torch.rand(3, 40, 52) * 2 - 1).shape == (3, 40, 52)
    with pytest.raises(UserError, match="translates A -> B only"):
        resolve_generator(cut_run, "BtoA")
    source = resolve_generator(cut_run / "latest_net_G.pth")
    assert source.spec_origin == "config" and source.direction == "AtoB"


def test_a_cut_run_exports(cut_run, tmp_path):
    result = export_checkpoint(cut_run, tmp_path / "export", formats=("torchscript",), log=lambda *_: None)
    assert result.parity["torchscript"] < 1e-3
    scripted = torch.jit.load(str(result.files["torchscript"]))
    assert scripted(torch.zeros(1, 3, 32, 32)).shape == (1, 3, 32, 32)


def test_a_cut_run_is_evaluated_a_to_b(cut_run):
    scores = score_run(cut_run, None, torch.device("cpu"), progress=False)
    assert [s.direction for s in scores] == ["AtoB"]


# -- torchrun ---------------------------------------------------------------------------------

@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch built without distributed")
def test_two_processes_train_cut_with_identical_weights_on_both_ranks(photo_domains, tmp_path):
    _, A, B = photo_domains
    debug = tmp_path / "debug"
    debug.mkdir()
    env = {**os.environ, "CYCLEGAN_DEBUG_DIR": str(debug), "OMP_NUM_THREADS": "1"}
    args = ["--model", "cut", "--domainA", str(A), "--domainB", str(B), "--checkpoints_dir", str(tmp_path / "runs"),
            "--name", "ddp", "--ngf", "8", "--ndf", "8", "--netG", "resnet_6blocks", "--load_size", "36",
            "--crop_size", "32", "--num_threads", "0", "--no-progress", "--precision", "fp32", "--display", "none",
            "--num_patches", "64", "--netF_nc", "64", "--batch_size", "2", "--max-steps", "3"]
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                          "-m", "cyclegan.cli.train", *args], capture_output=True, text=True, timeout=600, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    hashes = [(debug / f"weights_rank{r}.sha256").read_text() for r in (0, 1)]
    assert hashes[0] == hashes[1]
    state = load_torch_file(tmp_path / "runs" / "ddp" / "latest_state.pth")
    assert state["world_size"] == 2 and state["progress"]["step"] == 3
    # Each rank drew its own patch positions.
    assert not torch.equal(state["ranks"][0]["pools"]["sampler"], state["ranks"][1]["pools"]["sampler"])
    for net in ("G", "D", "F"):
        assert not any(k.startswith("module.") for k in load_torch_file(tmp_path / "runs" / "ddp" / f"latest_net_{net}.pth"))
    translator = Translator.from_checkpoint(tmp_path / "runs" / "ddp", device="cpu", precision="fp32")
    assert translator(torch.zeros(1, 3, 32, 32)).shape == (1, 3, 32, 32)


def test_eval_freq_scores_a_cut_run_a_to_b_and_keeps_its_best_networks(photo_domains, tmp_path, monkeypatch):
    import json

    from cyclegan import train
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))   # no Inception weights: random features
    _, A, B = photo_domains
    run = train(plan_training(options(A, B, tmp_path / "runs", model="cut", max_steps=4, eval_freq=2)).config).run_dir
    kid_lines = [line for line in read_log(run / "loss_log.jsonl") if "KID" in line]
    assert [line["step"] for line in kid_lines] == [2, 4]
    best = json.loads((run / "best_eval.json").read_text())
    assert "KID_AtoB" in best and "KID_BtoA" not in best
    assert all((run / f"best_net_{net}.pth").is_file() for net in ("G", "D", "F"))
    assert (run / "web" / "index.html").is_file()
