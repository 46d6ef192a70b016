"""Model cards: a new model is its card, its networks and its step, registered in one call."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch import nn

from conftest import tiny_config
from cyclegan import train
from cyclegan.models import CARDS, ModelCard, Supports, TranslatorOptions, model_card, option, use_model
from cyclegan.precision import resolve_precision
from cyclegan.training.registry import BUILDERS, register


class ToyStep:
    """A one-sided translator: a 1x1 convolution learns to map A's colours towards B's mean."""

    def __init__(self, cfg, device, rank=0):
        torch.manual_seed(cfg.train.seed)
        self.G = nn.Conv2d(3, 3, 1).to(device)
        self.device = device
        self.precision = resolve_precision("fp32", device)
        self.optimizer = torch.optim.Adam(self.G.parameters(), lr=cfg.train.lr)
        self.last = {}

    @property
    def nets(self) -> dict[str, nn.Module]:
        return {"G": self.G}

    def set_learning_rate(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def train_batch(self, batch) -> dict[str, float]:
        a, b = batch["A"].to(self.device), batch["B"].to(self.device)
        fake = self.G(a)
        loss = (fake.mean(dim=(0, 2, 3)) - b.mean(dim=(0, 2, 3))).abs().sum()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.last = {"real_A": a, "fake_B": fake.detach()}
        return {"colour": loss.item()}

    def current_visuals(self):
        return self.last

    def samplers(self):
        return {}

    def state_dict(self) -> dict:
        return {"G": self.G.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.G.load_state_dict(state["G"])
        self.optimizer.load_state_dict(state["optimizer"])

    def rank_state(self):
        return None

    def load_rank_state(self, state) -> None:
        pass


@dataclass
class ToyOptions(TranslatorOptions):   # a translator: its files say their channels
    model: str = "toy"
    toy_only: float = option(1.0, "an option only the toy model has", low=0, note="the toy's own number")


@pytest.fixture
def toy_model():
    card = ModelCard(name="toy", nets=("G",), run_name=lambda cfg: "toy_run", supports=Supports(),
                     directions={"AtoB": "G"}, options_type=ToyOptions)
    register(card, lambda cfg, device, rank: ToyStep(cfg, device, rank))
    yield card
    CARDS.pop("toy"), BUILDERS.pop("toy")


def test_a_model_added_by_its_card_alone_trains_and_translates(toy_model, photo_domains, tmp_path):
    _, domain_A, domain_B = photo_domains
    cfg = tiny_config(domain_A, domain_B, tmp_path, max_steps=2)
    use_model(cfg, "toy")
    cfg.train.name = None
    result = train(cfg)
    assert result.step == 2 and result.run_dir.name == "toy_run"
    assert (result.run_dir / "latest_net_G.pth").is_file()
    assert model_card("toy").one_sided
    from cyclegan.inference.generators import resolve_generator
    assert resolve_generator(result.run_dir).path.name == "latest_net_G.pth"


def test_an_option_of_another_model_is_refused_by_name(toy_model):
    from cyclegan.errors import UserError
    from cyclegan.models import resolve_model
    with pytest.raises(UserError, match="--toy_only is a --model toy option; --model cyclegan trains without it"):
        resolve_model({"model": "cyclegan", "toy_only": 1})
    for model, flag in (("cut", "ema"), ("dcgan", "upsample"), ("cut", "lambda_identity")):
        given = {"model": model, flag: 0.5 if flag != "upsample" else "resize"}
        if flag == "ema":
            from cyclegan.config import Config
            from cyclegan.models import check_supported
            cfg = Config()
            cfg.train.ema = 0.999
            with pytest.raises(UserError, match=f"--model {model} does not support --ema"):
                check_supported(model_card(model), cfg, distributed=False)
        else:
            with pytest.raises(UserError, match=f"--{flag} is a --model"):
                resolve_model(given)


def test_help_lists_shared_options_then_one_group_per_model_from_the_cards():
    from cyclegan.cli.train import build_parser
    parser = build_parser()
    groups = {group.title: {action.dest for action in group._group_actions} for group in parser._action_groups}
    every_models = set.intersection(*(set(card.options) for card in CARDS.values()))
    for card in CARDS.values():
        for name in set(card.options) - every_models:
            owners = " | ".join(c.name for c in CARDS.values() if name in c.options)
            assert name in groups[f"--model {owners} only"], (name, owners)
    shared = set().union(*(dests for title, dests in groups.items() if not title.startswith("--model")))
    assert not shared & {o for card in CARDS.values() for o in card.options} - every_models
    assert {"domainA", "lr", "ngf", "time_budget"} <= shared and every_models <= shared
    # the help text is the field's
    help_of = {action.dest: action.help for group in parser._action_groups for action in group._group_actions}
    from cyclegan.models import CUTOptions, option_fields
    assert help_of["nce_T"] == option_fields(CUTOptions)["nce_T"].metadata["help"]
    titles = list(groups)
    assert titles.index("--model cyclegan only") > titles.index("training")   # shared first, then the models


# --------------------------------------------------------------------------- typed options

CONFIGS_0_1 = Path(__file__).parent / "data" / "configs_0.1"   # config.json files as version 0.1 wrote them


@pytest.mark.parametrize("file, kind, moved", [
    ("cyclegan_fast.json", "CycleGANOptions", {"cycle_warmup": 0.3, "lambda_identity": 0.0, "netG": "colour_skip_resnet_6blocks"}),
    ("cut.json", "CUTOptions", {"nce_T": 0.1, "lambda_NCE": 1.0, "nce_idt": True, "init_type": "xavier"}),
    ("fastcut.json", "CUTOptions", {"lambda_NCE": 10.0, "nce_idt": False, "flip_equivariance": True}),
    ("dcgan.json", "DCGANOptions", {"r1_gamma": 0.1, "d_augment": "translation", "image_size": 64}),
], ids=["cyclegan-fast", "cut", "fastcut", "dcgan"])
def test_a_config_written_by_version_0_1_loads_into_its_models_options(file, kind, moved):
    """0.1 kept every model's options in one flat model section and the loss weights under train:
    they load into the model's own dataclass, and nothing 0.1 wrote counts as unknown."""
    from cyclegan.config import Config
    written = json.loads((CONFIGS_0_1 / file).read_text())
    cfg = Config.load_json(CONFIGS_0_1 / file)
    assert type(cfg.model).__name__ == kind and cfg.model.model == written["model"]["model"]
    assert {key: getattr(cfg.model, key) for key in moved} == moved
    assert Config.unknown_keys(written) == []
    assert cfg.data.domainA == written["data"]["domainA"] and cfg.train.lr == written["train"]["lr"]
    again = Config.from_dict(json.loads(json.dumps(cfg.to_dict())))   # today's file of it reads back the same
    assert again == cfg and "lambda_A" not in again.to_dict()["train"]


def test_a_setting_no_model_knows_is_still_reported_as_unknown():
    from cyclegan.config import Config
    written = json.loads((CONFIGS_0_1 / "cut.json").read_text())
    written["model"]["nce_warp"], written["train"]["lambda_future"] = 1, 2
    assert Config.unknown_keys(written) == ["model.nce_warp", "train.lambda_future"]


def test_options_are_typed_per_model_and_a_wrong_name_is_refused_not_ignored():
    from cyclegan.config import Config
    from cyclegan.models import CUTOptions, CycleGANOptions, DCGANOptions
    cfg = Config()
    assert isinstance(cfg.model, CycleGANOptions)
    with pytest.raises(AttributeError):
        cfg.model.nce_T = 0.1           # a CUT option on a CycleGAN's options
    with pytest.raises(AttributeError):
        cfg.train.lambda_A = 5.0        # a model option on the training section
    with pytest.raises(TypeError, match="use_model"):
        cfg.model.model = "dcgan"       # the options would not match the model
    cfg.model.ngf = 8
    use_model(cfg, "fastcut")           # keeps what both models have
    assert isinstance(cfg.model, CUTOptions) and cfg.model.ngf == 8 and cfg.model.model == "fastcut"
    cfg.model.model = "cut"             # the same dataclass: fine
    assert isinstance(use_model(cfg, "dcgan").model, DCGANOptions) and not hasattr(cfg.model, "netG")


def test_the_cli_refuses_another_models_option_in_one_line(tmp_path):
    import subprocess
    import sys
    for args, message in ((["--model", "cut", "--ema", "0.999"], "--model cut does not support --ema"),
                          (["--model", "dcgan", "--upsample", "resize"], "--upsample is a --model cyclegan/cut/fastcut option"),
                          (["--model", "cut", "--lambda_identity", "0.5"], "--lambda_identity is a --model cyclegan option"),
                          (["--model", "dcgan", "--ema", "0.5"], "--model dcgan does not support --ema")):
        domains = ["--domainA", str(tmp_path)] + (["--domainB", str(tmp_path)] if "dcgan" not in args else [])
        out = subprocess.run([sys.executable, "-m", "cyclegan.cli.train", *domains,
                              "--checkpoints_dir", str(tmp_path / "runs"), *args],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 2 and message in out.stderr and out.stderr.count("\n") == 1, (args, out.stderr)


def test_a_resumed_run_keeps_its_networks_options_and_takes_the_given_loss_weights(tmp_path):
    from cyclegan.config import Config
    from cyclegan.errors import UserError
    from cyclegan.runfolder import RunFolder
    from cyclegan.training.resume import resumed_config
    saved = Config()
    saved.model.ngf, saved.model.lambda_A, saved.model.init_gain = 8, 10.0, 0.05
    given = Config()
    given.model.ngf, given.model.lambda_A = 8, 5.0        # a loss weight may change on resume
    cfg = resumed_config(given, saved.to_dict(), RunFolder(tmp_path), warn=False)
    assert (cfg.model.ngf, cfg.model.lambda_A, cfg.model.init_gain) == (8, 5.0, 0.05)
    given.model.ngf = 16                                   # a width may not: the saved weights have the run's
    with pytest.raises(UserError, match="trained with --ngf 8, not --ngf 16"):
        resumed_config(given, saved.to_dict(), RunFolder(tmp_path), warn=False)
