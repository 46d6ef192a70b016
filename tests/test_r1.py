"""--r1_gamma: the R1 penalty on the discriminators' gradient at real images (DCGAN and CycleGAN)."""
import math

import pytest
import torch

from cyclegan.models import use_model
from cyclegan.config import Config
from cyclegan.metrics.digits import load_digit_images
from cyclegan.training.dcgan_step import DCGAN, r1_penalty


def test_the_penalty_is_the_squared_gradient_of_the_logit_and_is_differentiable():
    weights = torch.randn(1, 3, 4, 4, requires_grad=True)
    images = torch.randn(5, 3, 4, 4, requires_grad=True)
    logits = (images * weights).sum(dim=(1, 2, 3))      # d logit / d image = weights, for every image
    penalty = r1_penalty(logits, images)
    assert penalty.item() == pytest.approx(weights.detach().pow(2).sum().item(), rel=1e-6)
    penalty.backward()                                   # D learns from it: d penalty / d weights = 2 w
    assert torch.allclose(weights.grad, 2 * weights.detach(), rtol=1e-5)


def digits_model(r1_gamma: float) -> DCGAN:
    cfg = use_model(Config(), "dcgan")
    m = cfg.model
    m.image_size, m.channels, m.nz, m.ngf, m.ndf = 32, 1, 16, 8, 8
    cfg.model.r1_gamma, cfg.train.lr = r1_gamma, 1e-3
    return DCGAN(cfg, torch.device("cpu"))


def test_r1_keeps_the_discriminator_flat_at_the_real_images():
    images, _ = load_digit_images()
    real = images[:128]
    trained = {}
    for gamma in (0.0, 10.0):
        model = digits_model(gamma)
        torch.manual_seed(1)
        for step in range(40):
            losses = model.train_step(real[(step % 8) * 16:(step % 8 + 1) * 16])
        assert ("R1" in losses) == (gamma > 0)
        trained[gamma] = model
    steepness = {}
    for gamma, model in trained.items():
        model.D.train()
        seen = real[:64].clone().requires_grad_(True)
        steepness[gamma] = r1_penalty(model.D(seen), seen).item()
    # Without the penalty D grows steep around the real digits; with it, it stays far flatter.
    assert steepness[10.0] < 0.25 * steepness[0.0], steepness


@pytest.mark.parametrize("args, message", [
    (["--model", "cut", "--r1_gamma", "1"], "--model cyclegan/dcgan option"),
    (["--r1_gamma", "-1"], "--r1_gamma -1"),
    (["--model", "dcgan", "--domainA", "x", "--r1_gamma", "-1"], "--r1_gamma -1"),
])
def test_bad_r1_gamma_is_refused_in_one_line(tmp_path, monkeypatch, capsys, args, message):
    from cyclegan.cli.train import main as train_main
    monkeypatch.chdir(tmp_path)
    code = train_main([*args, "--max-steps", "1", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0], err
    assert not (tmp_path / "checkpoints").exists()


def test_r1_on_cyclegan_keeps_both_discriminators_flatter_at_their_real_images():
    """--r1_gamma on CycleGAN: R1_A and R1_B are logged, and after the same steps D_A (at real B)
    and D_B (at real A) are far less steep than without the penalty."""
    from conftest import set_options
    from cyclegan.training.cyclegan_step import CycleGAN
    torch.manual_seed(0)
    smooth = lambda n: torch.nn.functional.interpolate(torch.rand(n, 3, 8, 8), size=32, mode="bilinear") * 2 - 1
    real_A = smooth(8)
    real_B = real_A.flip(1)      # B: A with red and blue swapped
    steepness = {}
    for gamma in (0.0, 10.0):
        cfg = Config()
        set_options(cfg, netG="resnet_6blocks", ngf=8, ndf=8, precision="fp32", r1_gamma=gamma, lr=1e-3)
        model = CycleGAN(cfg, torch.device("cpu"))
        torch.manual_seed(1)
        for step in range(30):
            losses = model.train_step(real_A[step % 8:step % 8 + 1], real_B[(step * 3) % 8:(step * 3) % 8 + 1])
        assert ({"R1_A", "R1_B"} <= set(losses)) == (gamma > 0), losses
        for D, real in ((model.D_A, real_B), (model.D_B, real_A)):
            seen = real.clone().requires_grad_(True)
            steepness[gamma, D is model.D_A] = r1_penalty(D(seen).flatten(1).mean(1), seen).item()
    for side in (True, False):
        assert steepness[10.0, side] < 0.25 * steepness[0.0, side], steepness


def r1_cyclegan_config(**options) -> Config:
    from conftest import set_options
    cfg = Config()
    set_options(cfg, netG="resnet_6blocks", ngf=8, ndf=8, r1_gamma=1.0, **options)
    return cfg


def test_cyclegan_trains_with_both_aids_at_once():
    """--d_augment translation with --r1_gamma: R1 is taken at the shifted real images D saw."""
    from cyclegan.training.cyclegan_step import CycleGAN
    model = CycleGAN(r1_cyclegan_config(precision="fp32", d_augment="translation"), torch.device("cpu"))
    torch.manual_seed(0)
    losses = model.train_step(torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1)
    assert losses["R1_A"] > 0 and losses["R1_B"] > 0 and all(map(math.isfinite, losses.values())), losses


@pytest.mark.skipif(not torch.cuda.is_available(), reason="fp16 runs on a GPU only (the CPU refuses it already)")
def test_r1_in_fp16_is_refused_in_one_line():
    """The penalty's gradient would bypass fp16's loss scaler and round to 0."""
    from cyclegan.errors import UserError
    from cyclegan.training.cyclegan_step import CycleGAN
    with pytest.raises(UserError, match="--r1_gamma trains in fp32 or bf16"):
        CycleGAN(r1_cyclegan_config(precision="fp16"), torch.device("cuda"))


def test_discriminators_that_need_double_backward_stay_eager_when_compiled(monkeypatch):
    """Compiled modules do not support double backward: under --r1_gamma only the generators compile."""
    from cyclegan.training import cyclegan_step
    compiled = []
    monkeypatch.setattr(cyclegan_step, "compile_module", lambda net: compiled.append(net) or net)
    for gamma, expected in ((1.0, 2), (0.0, 4)):
        compiled.clear()
        cfg = r1_cyclegan_config(precision="fp32")
        cfg.model.r1_gamma = gamma
        model = cyclegan_step.CycleGAN(cfg, torch.device("cpu"))
        model.compile_networks()
        assert len(compiled) == expected and all(net in compiled for net in (model.G_A, model.G_B)), gamma
