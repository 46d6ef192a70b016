"""Which generator file, which network: from a run folder, a weights file, or the newest run.

    source = resolve_generator("checkpoints/forest2abstract", direction="BtoA")
    G = build_generator(source)                       # weights loaded strictly
    G = load_generator("checkpoints/forest2abstract", "AtoB", epoch="best")

A run folder names its files through ``RunFolder`` and says its architecture in config.json; a
bare weights file (ours, or the reference's ``latest_net_G.pth``) says it in its key names
(``cyclegan.nets.spec.infer_generator_spec``). No training code is imported here.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn

from ..checkpoint import load_network, load_torch_file
from ..errors import UserError
from ..nets.spec import GeneratorSpec, infer_generator_spec
from ..runfolder import RunFolder, check_tag, find_latest_run, parse_weights_name

from ..models import DEFAULT_MODEL, DIRECTIONS, find_card, generator_nets, model_card

# A weights file named by a network of the two-sided default model (latest_net_G_A.pth) says its
# direction; a bare reference-style file (latest_net_G.pth) does not.
_TWO_SIDED = model_card(DEFAULT_MODEL)


@dataclass(frozen=True)
class GeneratorSource:
    path: Path              # the generator's .pth file
    run_name: str           # names the default output folder
    direction: str          # AtoB | BtoA
    spec: GeneratorSpec
    spec_origin: str        # "config" (the run's config.json) or "keys" (inferred from the state_dict)


def network_of(direction: str) -> str:
    """The two-sided model's generator of a direction (G_A translates A to B; G_B, B to A)."""
    return _TWO_SIDED.generator_for(direction)


def _direction_of(network: str) -> str | None:
    return next((d for d, net in _TWO_SIDED.directions.items() if net == network), None)


def resolve_generator(checkpoint: Path | str | RunFolder | None = None, direction: str | None = None,
                      epoch: str | int = "latest", netG: str | None = None, norm: str | None = None,
                      ngf: int | None = None, checkpoints_dir: Path | str = "checkpoints") -> GeneratorSource:
    """Find the generator file and its architecture.

    ``checkpoint`` is a run folder, a generator file (ours or the reference's bare
    ``latest_net_G.pth``), a folder holding ``<epoch>_net_G.pth``, or None for the most recently
    written run under ``checkpoints_dir``. Architecture comes from the run's config.json, else
    from the weights' key names; ``netG``/``norm``/``ngf`` override either.
    """
    if direction is not None and direction not in DIRECTIONS:
        raise UserError(f"--direction {direction!r} is not known; use AtoB or BtoA")
    tag = check_tag(epoch)
    if checkpoint is None:
        path = find_latest_run(checkpoints_dir).path
    else:
        path = checkpoint.path if isinstance(checkpoint, RunFolder) else Path(checkpoint).expanduser()
    if not path.exists():
        raise UserError(f"--checkpoint {path} does not exist; give a run folder (checkpoints/NAME) "
                        "or a generator .pth file")

    config_run, file_net = None, None
    if path.is_dir():
        run = RunFolder(path)
        config_run = run if run.has_config() else None
        net = network_of(direction or "AtoB")
        candidates = [run.weights(net, tag), run.weights(_ONE_GENERATOR, tag)]
        file_path = next((c for c in candidates if c.is_file()), None)
        if file_path is None:
            raise UserError(f"--checkpoint {path}: no {candidates[0].name} (or {candidates[1].name}) in it; "
                            f"{_available_tags(run)}")
        run_name = run.name
        file_net = net if file_path == candidates[0] else None
    else:
        file_path = path
        parsed = parse_weights_name(path.name)
        network = parsed[1] if parsed else None
        if _direction_of(network) is not None:
            file_net = network
            if RunFolder(path.parent).has_config():
                config_run = RunFolder(path.parent)
        elif network == _ONE_GENERATOR and _one_sided(RunFolder(path.parent)):
            config_run = RunFolder(path.parent)
        run_name = path.resolve().parent.name if network in generator_nets() else path.stem

    if file_net is not None:
        file_direction = _direction_of(file_net)
        if direction is not None and direction != file_direction:
            other = network_of(direction)
            raise UserError(f"--checkpoint {file_path.name} is generator {file_net} ({file_direction}), "
                            f"not {direction}; give the {other} file or drop --direction")
        direction = file_direction
    direction = direction or "AtoB"

    if config_run is not None:
        cfg = config_run.read_config()
        card = find_card(cfg.model.model)
        if card is None or not card.translates:
            raise UserError(f"{config_run.path} is a --model {cfg.model.model} run, not a translator; "
                            "use cyclegan-sample for runs that draw from noise")
        if direction not in card.directions:
            raise UserError(f"{config_run.path} is a --model {card.name} run: it translates A -> B only "
                            "(one generator); drop --direction BtoA")
        spec, origin = GeneratorSpec(**cfg.model.generator_settings(direction)), "config"
    else:
        spec, origin = infer_generator_spec(load_torch_file(file_path), file_path), "keys"
    overrides = {k: v for k, v in (("netG", netG), ("norm", norm), ("ngf", ngf)) if v is not None}
    return GeneratorSource(file_path, run_name, direction, replace(spec, **overrides), origin)


_ONE_GENERATOR = "G"   # a one-sided run's generator, and the reference's bare latest_net_G.pth


def _one_sided(run: RunFolder) -> bool:
    card = run.card()
    return card is not None and card.one_sided


def run_directions(run: Path | str | RunFolder) -> tuple[str, ...]:
    """The directions a run's generators translate: A -> B only for CUT and FastCUT runs."""
    run = run if isinstance(run, RunFolder) else RunFolder(run)
    return ("AtoB",) if _one_sided(run) else DIRECTIONS


def _available_tags(run: RunFolder) -> str:
    tags = sorted({tag for tag, net, _ in run.weight_files() if net in generator_nets()},
                  key=lambda t: (t != "latest", int(t) if t.isdigit() else 0))
    return f"available --epoch values: {', '.join(tags)}" if tags else "it holds no generator files"


def build_generator(source: GeneratorSource) -> nn.Module:
    """The network of ``source`` with its weights loaded strictly (reference files included)."""
    return load_network(source.spec.build(), source.path).eval()


def load_generator(run: Path | str | RunFolder, direction: str = "AtoB", epoch: str | int = "latest",
                   device: torch.device | str = "cpu") -> nn.Module:
    """The generator of a run folder, built from the run's saved config (G_A for AtoB)."""
    run = run if isinstance(run, RunFolder) else RunFolder(run)
    if not run.has_config():
        raise UserError(f"{run.path} is not a training run (no {run.config_file.name})")
    return build_generator(resolve_generator(run, direction, epoch)).to(device).eval()
