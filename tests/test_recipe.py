"""The fast recipe's ingredients, each on its own: what a user would notice of each, and the refusals."""
import pytest
import torch
from torch import nn

from conftest import tiny_config
from cyclegan import train
from cyclegan.checkpoint import load_torch_file
from cyclegan.config import Config
from cyclegan.errors import UserError
from cyclegan.inference.generators import load_generator
from cyclegan.nets import create_generator, init_weights
from cyclegan.nets.spec import infer_generator_spec
from cyclegan.compose.presets import RECIPES, plan_training
from cyclegan.runfolder import STATE_FILE
from cyclegan.training.cyclegan_step import CycleGAN


def images(n=2, side=32, seed=0):
    return torch.rand(n, 3, side, side, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_the_skip_generator_outputs_its_input_at_step_0_and_learns_a_change():
    cfg = Config()
    cfg.model.netG, cfg.model.ngf, cfg.model.ndf = "skip_resnet_6blocks", 8, 8
    cfg.train.precision = "fp32"
    model = CycleGAN(cfg, torch.device("cpu"))
    a, b = images(1), images(1, seed=1)
    assert torch.equal(model.G_A(a), a) and torch.equal(model.G_B(b), b)   # exactly the identity at init
    model.train_step(a, b)
    assert not torch.equal(model.G_A(a), a)                                 # one step later it changes the image
    assert model.G_A(a).abs().max() <= 1.0


def test_resize_upsampling_has_no_transposed_convolutions_and_keeps_the_shape():
    g = init_weights(create_generator("resnet_6blocks", ngf=8, upsample="resize"))
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in g.modules())
    assert g(images(1, 40)).shape == (1, 3, 40, 40)


def test_reference_layout_inference_refuses_our_variants_in_one_clear_line(tmp_path):
    for netG, upsample, words in (("skip_resnet_6blocks", "transpose", "skip_resnet"),
                                  ("resnet_6blocks", "resize", "--upsample resize")):
        state = create_generator(netG, ngf=8, upsample=upsample).state_dict()
        with pytest.raises(UserError, match=words):
            infer_generator_spec(state, tmp_path / "latest_net_G.pth")
    # the paper's generator still reads as the reference's
    assert infer_generator_spec(create_generator("resnet_6blocks", ngf=8).state_dict()).netG == "resnet_6blocks"


def test_ema_weights_are_saved_and_translated_and_differ_from_the_raw_ones(photo_domains, tmp_path):
    _, domain_A, domain_B = photo_domains
    cfg = tiny_config(domain_A, domain_B, tmp_path, max_steps=6, ema=0.9)
    run = train(cfg).run_dir
    state = load_torch_file(run / STATE_FILE)
    raw, average = state["model"]["nets"]["G_A"], state["model"]["averages"]["G_A"]["weights"]
    saved = load_torch_file(run / "latest_net_G_A.pth")
    assert saved.keys() == raw.keys()                                  # the normal G names ...
    assert all(torch.equal(saved[k], average[k]) for k in saved)        # ... holding the average
    assert any(not torch.equal(raw[k], average[k]) for k in raw)
    assert state["model"]["averages"]["G_A"]["updates"] == 6
    G = load_generator(run, "AtoB")                                     # what translation loads
    assert all(torch.equal(G.state_dict()[k], average[k]) for k in average)


def test_a_run_with_every_fast_option_resumes_exactly(photo_domains, tmp_path):
    """Skip generator, resize upsampling and EMA: 10 steps straight == 5 + 5 across a resume."""
    _, domain_A, domain_B = photo_domains

    def config(root, max_steps, resume=False):
        cfg = tiny_config(domain_A, domain_B, root, max_steps=max_steps, continue_train=resume, pool_size=2,
                          ema=0.9, lr=5e-4)
        cfg.model.netG, cfg.model.upsample = "skip_resnet_6blocks", "resize"
        cfg.data.batch_size = 2
        return cfg
    straight = train(config(tmp_path / "straight", 10)).run_dir
    train(config(tmp_path / "split", 5))
    split = train(config(tmp_path / "split", 10, resume=True)).run_dir
    a, b = (load_torch_file(r / STATE_FILE)["model"] for r in (straight, split))
    for net in a["nets"]:
        assert all(torch.equal(a["nets"][net][k], b["nets"][net][k]) for k in a["nets"][net]), net
    for net in a["averages"]:
        wa, wb = a["averages"][net]["weights"], b["averages"][net]["weights"]
        assert all(torch.equal(wa[k], wb[k]) for k in wa), net


def test_resuming_an_ema_run_without_ema_is_refused(photo_domains, tmp_path):
    _, domain_A, domain_B = photo_domains
    train(tiny_config(domain_A, domain_B, tmp_path, max_steps=1, ema=0.9))
    with pytest.raises(UserError, match="--ema"):
        train(tiny_config(domain_A, domain_B, tmp_path, max_steps=2, continue_train=True))


def test_recipes_and_their_refusals(tmp_path):
    domains = {"domainA": str(tmp_path / "a"), "domainB": str(tmp_path / "b")}
    paper = plan_training({**domains}).config
    assert (paper.model.netG, paper.train.ema, paper.train.recipe) == ("resnet_9blocks", 0.0, "paper")
    fast = plan_training({**domains, "time_budget": 600.0}).config      # --time implies the fast recipe
    assert fast.train.recipe == "fast" and fast.model.netG == RECIPES["fast"]["netG"] and fast.train.ema > 0
    mine = plan_training({**domains, "recipe": "fast", "ngf": 32}).config  # options given win over it
    assert mine.model.ngf == 32 and mine.model.upsample == "resize"
    kept = plan_training({**domains, "recipe": "paper", "time_budget": 600.0}).config
    assert kept.model.netG == "resnet_9blocks" and kept.train.time_budget == 600.0
    # the recipe's fitted colour start needs a colour path: a --netG without one starts as it does
    assert fast.model.colour_start == "fit"
    own = plan_training({**domains, "time_budget": 600.0, "netG": "resnet_6blocks"}).config
    assert own.model.netG == "resnet_6blocks" and own.model.colour_start == "identity"
    asked = plan_training({**domains, "time_budget": 600.0, "netG": "resnet_6blocks", "colour_start": "fit"}).config
    assert asked.model.colour_start == "fit"   # given by the user: kept, and refused when the run builds
    with pytest.raises(UserError, match="--recipe fast is a recipe for --model cyclegan"):
        plan_training({"model": "dcgan", "domainA": str(tmp_path / "a"), "recipe": "fast"})


@pytest.mark.parametrize("option, message", [({"ema": 1.0}, "--ema.*must be"), ({"ema": -0.1}, "--ema.*must be"),
                                             ({"cycle_lowpass": 0}, "--cycle_lowpass.*must be"),
                                             ({"cycle_lowpass": 48}, "--cycle_lowpass 48: .* than the 32 px images")])
def test_bad_values_are_one_line_errors(photo_domains, tmp_path, option, message):
    _, domain_A, domain_B = photo_domains
    with pytest.raises(UserError, match=message):
        train(tiny_config(domain_A, domain_B, tmp_path, max_steps=1, **option))


def test_the_colour_path_starts_at_the_identity_and_sees_absolute_colour():
    """colour_skip_resnet_6blocks is the identity at init; after training on a brightness shift its
    per-pixel colour path maps two flat images of different colours differently (instance norm
    alone would give a flat image of any colour the same change)."""
    torch.manual_seed(0)
    g = init_weights(create_generator("colour_skip_resnet_6blocks", ngf=8, upsample="resize"))
    x = images(2)
    assert torch.equal(g(x), x.clamp(-1, 1))
    assert {k.split(".")[0] for k in g.state_dict()} == {"change", "colour"}
    optimiser = torch.optim.Adam(g.parameters(), lr=5e-3)
    for _ in range(60):          # learn y = x - 0.5 where x > 0, else x: a colour-dependent change
        optimiser.zero_grad()
        loss = (g(x) - torch.where(x > 0, x - 0.5, x)).abs().mean()
        loss.backward()
        optimiser.step()
    dark, bright = torch.full((1, 3, 16, 16), -0.5), torch.full((1, 3, 16, 16), 0.5)
    assert (g(bright) - bright).mean() < -0.3 and (g(dark) - dark).abs().mean() < 0.2
    random_start = init_weights(create_generator("pixelmap_resnet_6blocks", ngf=8, upsample="resize"))
    assert not torch.allclose(random_start(x), x, atol=0.05)


def test_cycle_warmup_raises_the_cycle_weight_from_zero(photo_domains, tmp_path):
    import json
    _, domain_A, domain_B = photo_domains

    def first_cycle_loss(warmup, name):
        cfg = tiny_config(domain_A, domain_B, tmp_path, max_steps=4, print_freq=1, cycle_warmup=warmup)
        cfg.train.name, cfg.train.no_html, cfg.train.display = name, True, "none"
        train(cfg)
        log = [json.loads(line) for line in (tmp_path / name / "loss_log.jsonl").read_text().splitlines()]
        steps = [entry for entry in log if "cycle_A" in entry]
        return steps[0]["cycle_A"], steps[-1]["cycle_A"]
    first, last = first_cycle_loss(0.5, "warm")
    assert first == 0.0 and last > 0.0            # 0 at the first step, then rising with the run
    assert first_cycle_loss(0.0, "paper")[0] > 0.0
    with pytest.raises(UserError, match="--cycle_warmup is a --model cyclegan option"):
        plan_training({"model": "cut", "domainA": str(domain_A), "domainB": str(domain_B), "cycle_warmup": 0.3})


def test_the_fast_recipes_generators_normalise_each_pixel_and_its_discriminators_each_image(tmp_path):
    """--recipe fast trains generators with --norm pixel (instance norm's statistics over the image
    are what a GAN steers with a blob) and discriminators with --norm_D instance; --norm_D same
    gives the discriminators --norm, and the paper recipe keeps instance norm in both."""
    from cyclegan.nets.norms import PixelNorm
    from cyclegan.training.cyclegan_step import build_discriminators, build_generators
    domains = {"domainA": str(tmp_path / "a"), "domainB": str(tmp_path / "b"), "ngf": 8, "ndf": 8,
               "crop_size": 32, "load_size": 32}
    kinds = lambda net: {type(m) for m in net.modules()}
    fast = plan_training({**domains, "time_budget": 600.0}).config
    assert PixelNorm in kinds(build_generators(fast)[0]) and nn.InstanceNorm2d not in kinds(build_generators(fast)[0])
    assert nn.InstanceNorm2d in kinds(build_discriminators(fast)[0]) and PixelNorm not in kinds(build_discriminators(fast)[0])
    same = plan_training({**domains, "time_budget": 600.0, "norm_D": "same"}).config
    assert PixelNorm in kinds(build_discriminators(same)[0])
    paper = plan_training(dict(domains)).config
    assert paper.model.norm_D == "same"
    assert nn.InstanceNorm2d in kinds(build_generators(paper)[0]) and nn.InstanceNorm2d in kinds(build_discriminators(paper)[0])
