"""--colour_start fit: the colour-map fit finds orientation-reversing maps from unpaired colours,
and the generator's colour path takes the fitted map (cyclegan/training/colour_fit.py)."""
import pytest
import torch

from cyclegan.errors import UserError
from cyclegan.nets import create_generator, init_weights
from cyclegan.training.colour_fit import ColourMap, fit_colour_maps, fit_starts, set_colour_path

# four colour clusters of different sizes, spreads and hues: no channel order or sign looks alike
CENTRES = torch.tensor([[0.7, 0.1, -0.6], [-0.5, 0.3, 0.6], [0.2, 0.6, 0.0], [-0.8, -0.7, -0.4]])
WEIGHTS = torch.tensor([0.4, 0.3, 0.2, 0.1])


def photo_colours(n: int, seed: int) -> torch.Tensor:
    """n colours in [-1, 1] from the clusters: a stand-in for a domain's pixels."""
    g = torch.Generator().manual_seed(seed)
    which = torch.multinomial(WEIGHTS, n, replacement=True, generator=g)
    spread = torch.tensor([0.15, 0.1, 0.2, 0.05])[which, None]
    return (CENTRES[which] + spread * torch.randn(n, 3, generator=g)).clamp(-1, 1)


@pytest.mark.parametrize("start, truth", [
    ("negative", -torch.eye(3)),                  # the negative: determinant -1
    ("BGR", torch.eye(3)[[2, 1, 0]]),             # red and blue swapped: determinant -1
])
def test_the_fit_recovers_an_orientation_reversing_map_from_unpaired_colours(start, truth):
    torch.manual_seed(0)
    A = photo_colours(1024, seed=1)
    B = photo_colours(1024, seed=2) @ truth.T     # other pixels, mapped: unpaired
    fit = fit_colour_maps(A, B, steps=150, fit_pixels=512)
    assert fit.start == start, fit.distances
    assert (fit.forward.matrix - truth).abs().max() < 0.2, fit.forward.matrix
    assert fit.forward.bias.abs().max() < 0.1
    assert (fit.backward.matrix - truth.T).abs().max() < 0.2   # B -> A: the inverse
    test = photo_colours(256, seed=3)
    assert (fit.forward(test) - test @ truth.T).abs().mean() < 0.05
    assert fit.distances[start] < 0.2 * fit.untouched


def test_the_identity_start_wins_when_the_domains_share_their_colours():
    fit = fit_colour_maps(photo_colours(1024, seed=1), photo_colours(1024, seed=2), steps=150, fit_pixels=512)
    assert fit.start == "identity", fit.distances
    assert (fit.forward.matrix - torch.eye(3)).abs().max() < 0.15
    assert set(fit.distances) == set(fit_starts()) and len(fit_starts()) == 12


def test_the_colour_path_takes_the_fitted_map_and_the_generator_starts_as_it():
    torch.manual_seed(0)
    G = init_weights(create_generator("colour_skip_resnet_6blocks", ngf=4, upsample="resize"), "normal", 0.02)
    others = {k: v.clone() for k, v in G.state_dict().items() if not k.startswith("colour.")}
    negative = ColourMap(-torch.eye(3), torch.tensor([0.1, 0.0, -0.1]))
    error = set_colour_path(G, negative, photo_colours(1024, seed=1), steps=600)
    assert error < 0.05
    image = photo_colours(16 * 16, seed=4).T.reshape(1, 3, 16, 16)
    with torch.no_grad():
        out = G(image)
    truth = negative(image.reshape(3, -1).T).T.reshape(1, 3, 16, 16)
    assert (out - truth).abs().mean() < 0.05
    assert all(torch.equal(v, G.state_dict()[k]) for k, v in others.items())   # only the colour path moved
    with pytest.raises(UserError, match="colour path"):
        set_colour_path(create_generator("skip_resnet_6blocks", ngf=4), negative, photo_colours(8, seed=1))


def test_a_run_with_colour_start_fit_translates_a_negative_pair_from_its_first_step(tmp_path, capfd):
    import numpy as np
    from PIL import Image

    from conftest import tiny_config
    from cyclegan.data.demo import build_demo_domains
    from cyclegan.data.known_pairs import inversion
    from cyclegan.eval.score import evaluation_translator
    from cyclegan.runfolder import RunFolder
    from cyclegan.training.loop import run_training

    domain_A, domain_B = build_demo_domains(tmp_path / "datasets", crop_size=32, n_train=8, n_test=2,
                                            transform=lambda image: inversion(image, 1.0), transform_id="invert:1")
    cfg = tiny_config(domain_A, domain_B, tmp_path / "runs", max_steps=1, lr=1e-6, ema=0.999)
    cfg.model.netG, cfg.model.ngf, cfg.model.ndf, cfg.model.colour_start = "colour_skip_resnet_6blocks", 4, 4, "fit"
    cfg.data.load_size = 32
    run_training(cfg)
    assert "the map fitted from the negative" in capfd.readouterr().err
    translator = evaluation_translator(RunFolder.under(tmp_path / "runs", "tiny"), "AtoB")   # the weight average
    for truth in sorted((domain_B / "test").glob("*.png")):
        photo = Image.open(domain_A / "test" / truth.name).convert("RGB")
        fake = np.asarray(translator.translate_stored(photo), dtype=float)
        target = np.asarray(Image.open(truth).convert("RGB"), dtype=float)
        untranslated = np.abs(np.asarray(photo, dtype=float) - target).mean()   # about 100 of 255
        # 8 training crops of 32 px pin the map down loosely (at 60 of 64 px: 30 dB); it is the negative
        assert np.abs(fake - target).mean() < 0.5 * untranslated, (np.abs(fake - target).mean(), untranslated)
    cfg.model.netG = "skip_resnet_6blocks"
    cfg.train.name = "no_colour_path"
    with pytest.raises(UserError, match="has none"):
        run_training(cfg)
