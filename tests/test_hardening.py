"""Bad numbers in a config are refused at the edge, in one line that names the option.

The table is the bad-input list of issue 16 and every other numeric option's edge: each row
sets one option (as the command line would) and names a fragment of the message. The CLI turns
the UserError into that line and exit code 2.
"""
from __future__ import annotations

import dataclasses

import pytest
import torch

from cyclegan.config import Config, DataConfig, TrainConfig
from cyclegan.models import CARDS, use_model
from cyclegan.config_checks import RULES, check_config, model_rules, numeric_fields, smallest_patchgan_side
from cyclegan.errors import UserError


def config_with(**values) -> Config:
    """A default Config with ``section.field=value`` pairs applied (``model__ngf=0``); a model option
    the default model lacks (``model__nz``) switches to the first model that has it."""
    cfg = Config()
    for key, value in values.items():
        section, name = key.split("__")
        if section == "model" and name == "model":
            use_model(cfg, value)
            continue
        if section == "model" and not hasattr(cfg.model, name):
            use_model(cfg, next(card.name for card in CARDS.values() if name in card.options))
        setattr(getattr(cfg, section), name, value)
    return cfg


BAD = [
    # the cases
    (dict(model__ngf=0), "--ngf 0: must be at least 1 (the generator's width); the default is 64"),
    (dict(model__ngf=-4), "--ngf -4: must be at least 1"),
    (dict(model__ndf=0), "--ndf 0: must be at least 1 (the discriminator's width)"),
    (dict(model__n_layers_D=9), "--n_layers_D 9: a PatchGAN this deep needs images of at least 1536 px on a side "
                                "(3 x 2^9), but --crop_size is 256; use --n_layers_D 6 or less"),
    (dict(model__n_layers_D=4, data__crop_size=32, data__load_size=36), "needs images of at least 48 px"),
    (dict(data__num_threads=-1), "--num_threads -1: must be at least 0"),
    (dict(train__beta1=2.0), "--beta1 2: must be in [0, 1) (Adam's first-moment decay); the default is 0.5"),
    (dict(model__init_gain=float("nan")), "--init_gain nan: must be a finite number"),
    (dict(train__seed=2 ** 70), "--seed 1180591620717411303424: must be at most 9223372036854775807 (2**63 - 1"),
    (dict(train__lr=float("inf")), "--lr inf: must be a finite number"),
    (dict(model__lambda_A=float("nan")), "--lambda_A nan: must be a finite number"),
    (dict(data__load_size=100_000), "--load_size 100000: must be at most 8192"),
    (dict(data__crop_size=300), "--crop_size 300 is larger than --load_size 286; make --load_size at least --crop_size"),
    (dict(data__batch_size=0), "--batch_size 0: must be at least 1"),
    (dict(model__pool_size=-1), "--pool_size must be >= 0 (got -1)"),
    # the rest of the model options
    (dict(model__ngf=100_000), "--ngf 100000: must be at most 1024"),
    (dict(model__n_layers_D=0), "--n_layers_D 0: must be at least 1"),
    (dict(model__init_gain=0.0), "--init_gain 0: must be in (0, 100]"),
    (dict(model__init_gain=-0.02), "--init_gain -0.02: must be in (0, 100]"),
    (dict(model__input_nc=0), "--input_nc 0: must be at least 1"),
    (dict(model__output_nc=-3), "--output_nc -3: must be at least 1"),
    (dict(model__nz=0), "--nz 0: must be at least 1"),
    (dict(model__model="dcgan", model__image_size=48), "--image_size 48: the DCGAN takes 32, 64 or 128"),
    (dict(model__model="dcgan", model__channels=2), "--channels 2: choose 1 (grayscale) or 3 (colour)"),
    (dict(model__channels=0), "--channels 0: must be at least 1"),
    (dict(model__netF_nc=0), "--netF_nc 0: must be at least 1"),
    # data
    (dict(data__load_size=0), "--load_size 0: must be at least 1"),
    (dict(data__crop_size=-256), "--crop_size -256: must be at least 1"),
    (dict(data__crop_size=30, data__load_size=32), "--crop_size 30 must be a multiple of 4 and at least 8"),
    (dict(data__crop_size=4, data__load_size=4), "--crop_size 4 must be a multiple of 4 and at least 8"),
    (dict(model__netG="unet_256", data__crop_size=128, data__load_size=143), "--netG unet_256 needs a multiple of 256"),
    (dict(data__preprocess="scale_width", data__load_size=16, data__crop_size=16), "but --crop_size is 16"),
    (dict(data__num_threads=100_000), "--num_threads 100000: must be at most 256"),
    (dict(data__max_dataset_size=0), "--max_dataset_size must be at least 1 (got 0)"),
    # training
    (dict(train__lr=0.0), "--lr must be positive (got 0)"),
    (dict(train__lr=-1e-4), "--lr must be positive (got -0.0001)"),
    (dict(train__beta1=-0.1), "--beta1 -0.1: must be in [0, 1)"),
    (dict(train__beta2=1.0), "--beta2 1: must be in [0, 1)"),
    (dict(model__lambda_B=-1.0), "--lambda_B -1: must be 0 or more"),
    (dict(model__lambda_identity=float("inf")), "--lambda_identity inf: must be a finite number"),
    (dict(model__r1_gamma=-0.1), "--r1_gamma -0.1: must be 0 or more"),
    (dict(model__lambda_GAN=float("-inf")), "--lambda_GAN -inf: must be a finite number"),
    (dict(model__lambda_NCE=-1.0), "--lambda_NCE -1: must be 0 or more"),
    (dict(model__nce_T=0.0), "--nce_T 0: must be positive"),
    (dict(model__num_patches=0), "--num_patches 0: must be at least 1"),
    (dict(train__n_epochs=-1), "--n_epochs and --n_epochs_decay must be >= 0 (got -1)"),
    (dict(train__n_epochs_decay=-5), "--n_epochs and --n_epochs_decay must be >= 0 (got -5)"),
    (dict(train__n_epochs=0, train__n_epochs_decay=0), "--n_epochs plus --n_epochs_decay must be at least 1"),
    (dict(train__epoch_count=0), "--epoch_count must be at least 1 (got 0)"),
    (dict(train__lr_decay_iters=0), "--lr_decay_iters must be at least 1 (got 0)"),
    (dict(train__max_steps=0), "--max-steps must be at least 1 (got 0)"),
    (dict(train__time_budget=-60.0), "--time -60: must be positive"),
    (dict(train__time_budget=float("nan")), "--time nan: must be a finite number"),
    (dict(train__ema=1.0), "--ema 1: must be in [0, 1)"),
    (dict(train__save_latest_freq=0), "--save_latest_freq and --save_epoch_freq must be >= 1 (got 0)"),
    (dict(train__save_epoch_freq=-1), "--save_latest_freq and --save_epoch_freq must be >= 1 (got -1)"),
    (dict(train__print_freq=0), "--print_freq must be at least 1 (got 0)"),
    (dict(train__seed=-1), "--seed must be >= 0 (got -1)"),
    (dict(train__display_port=0), "--display_port 0: must be at least 1"),
    (dict(train__display_port=70_000), "--display_port 70000: must be at most 65535"),
    (dict(train__display_freq=0), "--display_freq 0: must be at least 1"),
    (dict(train__update_html_freq=-1), "--update_html_freq -1: must be at least 1"),
    (dict(train__eval_freq=-1), "--eval_freq must be >= 0 (0 = off) (got -1)"),
    # wrong types, as a hand-edited config.json brings them
    (dict(model__ngf="64"), "--ngf '64': must be a whole number; the default is 64"),
    (dict(model__ngf=64.5), "--ngf 64.5: must be a whole number"),
    (dict(data__batch_size=True), "--batch_size True: must be a whole number"),
    (dict(train__lr="fast"), "--lr 'fast': must be a number"),
    (dict(train__seed=None), "--seed: a number is required"),
]


@pytest.mark.parametrize("values, fragment", BAD, ids=[",".join(f"{k}={v}" for k, v in row[0].items()) for row in BAD])
def test_bad_number_is_one_line_naming_the_option(values, fragment):
    cfg = config_with(**values)
    if not all(hasattr(getattr(cfg, k.split("__")[0]), k.split("__")[1]) for k in values):
        pytest.skip("this version's Config has no such field")
    with pytest.raises(UserError) as info:
        check_config(cfg)
    message = str(info.value)
    assert "\n" not in message and message.startswith("--"), message
    assert fragment in message, message


GOOD = [
    {},                                                                      # the defaults
    dict(model__model="dcgan", model__image_size=128, model__channels=1, data__batch_size=128),
    dict(data__preprocess="crop", data__load_size=96, data__crop_size=48, model__ngf=16, model__ndf=16),  # the demo
    dict(data__preprocess="none", data__crop_size=4, data__load_size=4, model__n_layers_D=9),   # sizes unknown here
    dict(model__netD="pixel", model__n_layers_D=9),                          # pixel ignores n_layers_D
    dict(model__n_layers_D=6),                                               # 192 <= 256
    dict(train__seed=2 ** 63 - 1, model__lambda_identity=0.0, model__pool_size=0, data__num_threads=0),
    dict(model__netG="unet_256", data__crop_size=256, data__load_size=286),
    dict(train__max_steps=None, train__lr=1, train__beta1=0),                # ints where floats go
]


@pytest.mark.parametrize("values", GOOD)
def test_sound_configs_pass(values):
    check_config(config_with(**values))


def test_every_numeric_field_has_a_rule():
    """A new numeric option must say its range here, or it would pass unchecked."""
    for section, kind in (("data", DataConfig), ("train", TrainConfig)):
        missing = set(numeric_fields(kind)) - set(RULES[section])
        assert not missing, f"no range rule for {section}.{sorted(missing)} in cyclegan/config_checks.py"
    for card in CARDS.values():   # a model's numeric options say their range in their option(...) field
        kind = card.options_type
        missing = set(numeric_fields(kind)) - set(model_rules(kind))
        assert not missing, f"no range for {kind.__name__}.{sorted(missing)} (cyclegan/models/{card.name}.py)"


@pytest.mark.parametrize("n_layers", [1, 2, 3, 4])
def test_patchgan_minimum_side_is_the_real_networks(n_layers):
    """The smallest side check_config allows is the smallest the real PatchGAN runs on."""
    from cyclegan.nets import create_discriminator
    net = create_discriminator("n_layers", input_nc=3, ndf=2, n_layers=n_layers, norm="instance")
    need = smallest_patchgan_side(n_layers)
    with torch.no_grad():
        assert net(torch.zeros(1, 3, need, need)).shape[-1] >= 1
        with pytest.raises(Exception):
            net(torch.zeros(1, 3, need - 1, need - 1))


def test_checks_do_not_change_the_config():
    cfg = config_with(model__ngf=32)
    before = dataclasses.asdict(cfg)
    check_config(cfg)
    assert dataclasses.asdict(cfg) == before
