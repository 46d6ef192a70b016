import copy

import pytest
import torch
import torch.nn.functional as F

from cyclegan.config import Config
from cyclegan.errors import UserError
from cyclegan.training.losses import GANLoss, cycle_l1
from conftest import set_options
from cyclegan.training.cyclegan_step import CycleGAN


def tiny_model(**train) -> CycleGAN:
    cfg = Config()
    cfg.model.netG, cfg.model.ngf, cfg.model.ndf = "resnet_6blocks", 8, 8
    cfg.train.precision = "fp32"   # the math in fp32 ("auto" is bf16 on CPUs with AMX)
    set_options(cfg, **train)
    return CycleGAN(cfg, torch.device("cpu"))


def test_gan_losses():
    pred = torch.tensor([[0.2, 0.8]])
    assert GANLoss("lsgan")(pred, True).item() == pytest.approx(((0.8 ** 2) + (0.2 ** 2)) / 2)
    assert GANLoss("lsgan")(pred, False).item() == pytest.approx((0.04 + 0.64) / 2)
    assert GANLoss("vanilla")(pred, True).item() == pytest.approx(
        F.binary_cross_entropy_with_logits(pred, torch.ones_like(pred)).item())
    assert GANLoss("wgangp")(pred, True).item() == pytest.approx(-0.5)
    with pytest.raises(UserError):
        GANLoss("hinge")


def test_step_losses_are_the_specified_cycle_identity_and_adversarial_terms():
    model = tiny_model(lambda_A=10.0, lambda_B=4.0, lambda_identity=0.5)
    G_A, G_B, D_A, D_B = (copy.deepcopy(n) for n in (model.G_A, model.G_B, model.D_A, model.D_B))
    torch.manual_seed(3)
    a, b = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    losses = model.train_step(a, b)
    with torch.no_grad():
        fake_B, fake_A = G_A(a), G_B(b)
        expected = {
            "cycle_A": F.l1_loss(G_B(fake_B), a).item() * 10.0,
            "cycle_B": F.l1_loss(G_A(fake_A), b).item() * 4.0,
            "idt_A": F.l1_loss(G_A(b), b).item() * 4.0 * 0.5,    # G_A(B) vs B, weighted by lambda_B
            "idt_B": F.l1_loss(G_B(a), a).item() * 10.0 * 0.5,   # G_B(A) vs A, weighted by lambda_A
            "G_A": F.mse_loss(D_A(fake_B), torch.ones_like(D_A(fake_B))).item(),
            "G_B": F.mse_loss(D_B(fake_A), torch.ones_like(D_B(fake_A))).item(),
        }
    for name, value in expected.items():
        assert losses[name] == pytest.approx(value, rel=1e-4), name
    assert set(losses) == {"D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B"}


def test_the_lowpass_cycle_forgives_texture_inside_a_block_and_not_a_moved_scene():
    """--cycle_lowpass K: a checkerboard of +-0.5 over a flat photo costs 0.5 pixel by pixel and
    nothing averaged over 2 x 2 blocks; a brightened scene costs the same at every K; and the step's
    cycle loss is the averaged one."""
    photo = torch.zeros(1, 3, 8, 8)
    texture = photo + 0.5 * (torch.arange(8).view(1, 8) + torch.arange(8).view(8, 1)).remainder(2).mul(2).sub(1)
    assert cycle_l1(texture, photo, 1).item() == pytest.approx(0.5)
    assert cycle_l1(texture, photo, 2).item() == pytest.approx(0.0, abs=1e-7)
    assert cycle_l1(photo + 0.25, photo, 4).item() == pytest.approx(cycle_l1(photo + 0.25, photo, 1).item())
    model = tiny_model(lambda_A=10.0, lambda_B=10.0, lambda_identity=0.0, cycle_lowpass=4)
    G_A, G_B = copy.deepcopy(model.G_A), copy.deepcopy(model.G_B)
    torch.manual_seed(3)
    a, b = torch.rand(1, 3, 32, 32) * 2 - 1, torch.rand(1, 3, 32, 32) * 2 - 1
    losses = model.train_step(a, b)
    with torch.no_grad():
        rec_A = G_B(G_A(a))
    assert losses["cycle_A"] == pytest.approx(F.l1_loss(F.avg_pool2d(rec_A, 4), F.avg_pool2d(a, 4)).item() * 10, rel=1e-4)
    assert losses["cycle_A"] < F.l1_loss(rec_A, a).item() * 10      # random photos: most of the error is texture


def test_identity_loss_skipped_when_zero_and_discriminators_unfrozen_after_step():
    model = tiny_model(lambda_identity=0.0)
    losses = model.train_step(torch.zeros(1, 3, 32, 32), torch.zeros(1, 3, 32, 32))
    assert "idt_A" not in losses and "idt_B" not in losses
    assert all(p.requires_grad for p in model.D_A.parameters())


def test_generator_update_does_not_touch_discriminators_before_their_own_step():
    model = tiny_model()
    before = copy.deepcopy(model.D_A.state_dict())
    model.optimizer_D.step = lambda *a, **k: None  # observe only the generator half of the step
    model.train_step(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32))
    after = model.D_A.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
