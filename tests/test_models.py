"""Model cards: a new model is its card, its networks and its step, registered in one call."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from conftest import tiny_config
from cyclegan import train
from cyclegan.models import CARDS, ModelCard, Supports, model_card
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


@pytest.fixture
def toy_model():
    card = ModelCard(name="toy", nets=("G",), run_name=lambda cfg: "toy_run", supports=Supports(),
                     directions={"AtoB": "G"}, options=("toy_only",))
    register(card, lambda cfg, device, rank: ToyStep(cfg, device, rank))
    yield card
    CARDS.pop("toy"), BUILDERS.pop("toy")


def test_a_model_added_by_its_card_alone_trains_and_translates(toy_model, photo_domains, tmp_path):
    _, domain_A, domain_B = photo_domains
    cfg = tiny_config(domain_A, domain_B, tmp_path, max_steps=2)
    cfg.model.model, cfg.train.name = "toy", None
    result = train(cfg)
    assert result.step == 2 and result.run_dir.name == "toy_run"
    assert (result.run_dir / "latest_net_G.pth").is_file()
    assert model_card("toy").one_sided
    from cyclegan.generators import resolve_generator
    assert resolve_generator(result.run_dir).path.name == "latest_net_G.pth"


def test_an_option_of_another_model_is_refused_by_name(toy_model):
    from cyclegan.errors import UserError
    from cyclegan.models import resolve_model
    with pytest.raises(UserError, match="--toy_only is a --model toy option; --model cyclegan trains without it"):
        resolve_model({"model": "cyclegan", "toy_only": 1})
    for model, option in (("cut", "ema"), ("dcgan", "upsample"), ("cut", "lambda_identity")):
        given = {"model": model, option: 0.5 if option != "upsample" else "resize"}
        if option == "ema":
            from cyclegan.config import Config
            from cyclegan.models import check_supported
            cfg = Config()
            cfg.train.ema = 0.999
            with pytest.raises(UserError, match=f"--model {model} does not support --ema"):
                check_supported(model_card(model), cfg, distributed=False)
        else:
            with pytest.raises(UserError, match=f"--{option} is a --model"):
                resolve_model(given)


def test_help_lists_shared_options_then_one_group_per_model_from_the_cards():
    from cyclegan.cli.train import build_parser
    parser = build_parser()
    groups = {group.title: {action.dest for action in group._group_actions} for group in parser._action_groups}
    for card in CARDS.values():
        for option in card.options:
            owners = " | ".join(c.name for c in CARDS.values() if option in c.options)
            assert option in groups[f"--model {owners} only"], (option, owners)
    shared = set().union(*(dests for title, dests in groups.items() if not title.startswith("--model")))
    assert not shared & {o for card in CARDS.values() for o in card.options}
    assert {"domainA", "lr", "ngf", "time_budget"} <= shared
    titles = list(groups)
    assert titles.index("--model cyclegan only") > titles.index("training")   # shared first, then the models
