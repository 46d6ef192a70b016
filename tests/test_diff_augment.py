"""--d_augment translation: DiffAugment's random shifts of what the DCGAN discriminator sees."""
import pytest
import torch

from cyclegan.models import use_model
from cyclegan.config import Config
from cyclegan.training.dcgan_step import DCGAN
from cyclegan.training.diff_augment import cutout, discriminator_augment, translate


def find_offset(original: torch.Tensor, shifted: torch.Tensor, max_shift: int) -> tuple[int, int]:
    """The (dy, dx) with shifted[y, x] == original[y + dy, x + dx] (edges repeated), or fail."""
    padded = torch.nn.functional.pad(original[None], (max_shift,) * 4, mode="replicate")[0]
    h, w = original.shape[-2:]
    for dy in range(-max_shift, max_shift + 1):
        for dx in range(-max_shift, max_shift + 1):
            window = padded[..., max_shift + dy:max_shift + dy + h, max_shift + dx:max_shift + dx + w]
            if torch.equal(window, shifted):
                return dy, dx
    raise AssertionError("not a shift of the original by at most max_shift pixels")


def test_each_image_is_shifted_by_its_own_offset_within_the_limit():
    torch.manual_seed(0)
    images = torch.randn(32, 3, 16, 16)  # random pixels: every offset gives a different window
    shifted = translate(images, 2)
    offsets = {find_offset(a, b, 2) for a, b in zip(images, shifted)}
    assert len(offsets) >= 5  # per-image offsets, not one for the batch
    assert shifted.shape == images.shape
    assert torch.equal(translate(images, 0), images)


def test_a_plain_background_stays_plain_and_gradients_pass_through():
    images = torch.full((4, 1, 32, 32), -1.0)
    images[:, :, 12:20, 12:20] = 1.0  # a centred square on a black background
    images.requires_grad_(True)
    shifted = translate(images, 2)
    assert set(shifted.detach().unique().tolist()) == {-1.0, 1.0}
    assert torch.equal((shifted == 1.0).sum(dim=(1, 2, 3)), torch.full((4,), 64))  # square kept whole
    shifted.sum().backward()
    # every output pixel comes from exactly one input pixel
    assert images.grad.sum().item() == pytest.approx(shifted.numel())


def test_cutout_blanks_one_square_per_image_and_keeps_the_rest():
    torch.manual_seed(0)
    images = (torch.rand(64, 3, 32, 32) + 0.5).requires_grad_(True)  # no pixel is 0 before cutout
    out = cutout(images, 16)
    blank = (out == 0).all(dim=1)                                      # N x h x w
    kept = ~blank
    assert torch.equal(out[kept.unsqueeze(1).expand_as(out)], images[kept.unsqueeze(1).expand_as(out)])
    for mask in blank:   # one axis-aligned square of side 17, clipped at the borders
        rows, cols = mask.any(dim=1).nonzero().flatten(), mask.any(dim=0).nonzero().flatten()
        assert mask.sum() == len(rows) * len(cols) and 9 <= len(rows) <= 17 and 9 <= len(cols) <= 17
        assert rows.diff().eq(1).all() and cols.diff().eq(1).all()
    assert len({tuple(m.nonzero()[0].tolist()) for m in blank}) > 20  # a place of its own per image
    out.sum().backward()
    assert torch.equal(images.grad[:, 0], kept.float())               # blanked pixels get no gradient
    assert torch.equal(cutout(images, 0), images)


def test_translation_cutout_shifts_then_blanks():
    torch.manual_seed(1)
    images = torch.rand(16, 3, 32, 32) + 0.5
    out = discriminator_augment("translation_cutout", images)
    blank = (out == 0).all(dim=1)
    assert (blank.sum(dim=(1, 2)) >= 81).all()
    assert not torch.equal(out[~blank.unsqueeze(1).expand_as(out)], images[~blank.unsqueeze(1).expand_as(out)])


def test_dcgan_discriminator_sees_translated_images_only_when_asked():
    cfg = use_model(Config(), "dcgan")
    m = cfg.model
    m.image_size, m.channels, m.nz, m.ngf, m.ndf = 32, 1, 16, 8, 8
    real = torch.rand(8, 1, 32, 32) * 2 - 1
    assert torch.equal(DCGAN(cfg, torch.device("cpu")).augment(real), real)
    m.d_augment = "translation"
    model = DCGAN(cfg, torch.device("cpu"))
    assert not torch.equal(model.augment(real), real)
    losses = model.train_batch({"A": real})
    assert all(torch.isfinite(torch.tensor(v)) for v in losses.values())
    with pytest.raises(ValueError, match="unknown discriminator augmentation"):
        discriminator_augment("colour", real)


def test_d_augment_is_refused_for_cut_in_one_line(tmp_path, monkeypatch, capsys):
    from cyclegan.cli.train import main as train_main
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        code = train_main(["--model", "cut", "--d_augment", "translation", "--max-steps", "1", "--no-progress"])
        raise SystemExit(code)
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1 and "--d_augment" in err[0], err
    assert not (tmp_path / "checkpoints").exists()


def cyclegan_seen_by_D_A(d_augment: str, real_B: torch.Tensor) -> list[torch.Tensor]:
    """The batches D_A is shown in one CycleGAN step (G's update: the fake; D's: the real, the pooled fake)."""
    from conftest import set_options
    from cyclegan.training.cyclegan_step import CycleGAN
    cfg = Config()
    set_options(cfg, netG="resnet_6blocks", ngf=8, ndf=8, precision="fp32", d_augment=d_augment)
    model = CycleGAN(cfg, torch.device("cpu"))
    seen = []
    model.D_A.register_forward_pre_hook(lambda module, inputs: seen.append(inputs[0].detach().clone()))
    torch.manual_seed(0)
    losses = model.train_step(torch.rand(4, 3, 32, 32) * 2 - 1, real_B)
    assert all(torch.isfinite(torch.tensor(v)) for v in losses.values())
    return seen, model.visuals.fake_B


def test_cyclegan_discriminators_see_translated_images_only_when_asked():
    """--d_augment translation on CycleGAN: D_A is shown each real B shifted by up to 2 px (32 px
    images), each by its own offset; without it, the real images themselves (the paper)."""
    torch.manual_seed(1)
    real_B = torch.randn(4, 3, 32, 32).clamp(-1, 1)
    plain, fake_B = cyclegan_seen_by_D_A("none", real_B)
    assert len(plain) == 3 and torch.equal(plain[1], real_B)
    assert torch.equal(plain[0], fake_B) and torch.equal(plain[2], fake_B)   # the pool starts with this fake
    augmented, fake_B = cyclegan_seen_by_D_A("translation", real_B)
    assert len(augmented) == 3 and not torch.equal(augmented[1], real_B)
    offsets = [find_offset(original, shown, 2) for original, shown in zip(real_B, augmented[1])]
    assert len(set(offsets)) > 1, offsets
    # the fakes too: in G's update and in D's, each shifted by its own offset
    for shown_fakes in (augmented[0], augmented[2]):
        offsets = [find_offset(original, shown, 2) for original, shown in zip(fake_B, shown_fakes)]
        assert len(set(offsets)) > 1, offsets
