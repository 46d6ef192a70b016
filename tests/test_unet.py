"""U-Net generators: the reference's keys, inference from a bare file, translation at any size."""
from pathlib import Path

import pytest
import torch
from PIL import Image

from cyclegan.checkpoint import load_network
from cyclegan.config import Config
from cyclegan.errors import UserError
from cyclegan.nets import create_generator
from cyclegan.nets.spec import infer_generator_spec
from cyclegan.training.cyclegan_step import build_generators
from cyclegan.inference.translate import Translator

UNET_KEYS = Path(__file__).parent / "data" / "reference_unet_keys.txt"


def reference_unet_sections() -> dict[str, list[tuple[str, list[int]]]]:
    """'## <netG> generator, ngf=64, norm=<norm>, ...' sections of 'key<TAB>[shape]' lines, in order."""
    sections, current = {}, None
    for line in UNET_KEYS.read_text().splitlines():
        if line.startswith("## "):
            current = sections.setdefault(line[3:], [])
        elif line.strip() and not line.startswith("#"):
            key, shape = line.split("\t")
            current.append((key, [int(s) for s in shape.strip("[]").split(",") if s.strip()]))
    return sections


@pytest.mark.parametrize("title, netG, norm, dropout", [
    ("unet_256 generator, ngf=64, norm=instance, no dropout", "unet_256", "instance", False),
    ("unet_128 generator, ngf=64, norm=batch, dropout", "unet_128", "batch", True),
])
def test_unet_state_dict_is_the_reference_one_key_for_key(title, netG, norm, dropout):
    expected = reference_unet_sections()[title]
    G = create_generator(netG, ngf=64, norm=norm, use_dropout=dropout)
    assert [(k, list(v.shape)) for k, v in G.state_dict().items()] == expected


@pytest.mark.parametrize("netG", ["unet_128", "unet_256"])
@pytest.mark.parametrize("norm", ["instance", "batch"])
@pytest.mark.parametrize("dropout", [False, True])
def test_bare_unet_file_is_inferred_and_loads_strictly(tmp_path, netG, norm, dropout):
    G = create_generator(netG, ngf=4, norm=norm, use_dropout=dropout, input_nc=3, output_nc=1)
    path = tmp_path / "latest_net_G.pth"
    torch.save(G.state_dict(), path)
    spec = infer_generator_spec(torch.load(path, weights_only=True), path)
    assert (spec.netG, spec.ngf, spec.norm, spec.input_nc, spec.output_nc) == (netG, 4, norm, 3, 1)
    assert spec.use_dropout is False   # dropout adds no keys to a U-Net; it does nothing in eval mode
    loaded = load_network(spec.build(), path).eval()
    x = torch.rand(1, 3, G.size_multiple, G.size_multiple) * 2 - 1
    assert torch.equal(loaded(x), G.eval()(x))


def test_old_instance_norm_running_stats_load_into_a_unet(tmp_path):
    G = create_generator("unet_128", ngf=4)
    state = G.state_dict()
    state["model.model.1.model.2.running_mean"] = torch.zeros(8)    # as old PyTorch saved instance norms
    state["model.model.1.model.2.running_var"] = torch.ones(8)
    torch.save(state, tmp_path / "old.pth")
    spec = infer_generator_spec(state)
    assert spec.norm == "instance"
    load_network(spec.build(), tmp_path / "old.pth")


@pytest.mark.parametrize("netG, size", [("unet_128", (37, 50)), ("unet_256", (300, 20)), ("unet_128", (1, 1))])
def test_translator_pads_to_the_unet_multiple_so_any_size_translates(netG, size):
    translator = Translator(create_generator(netG, ngf=4))
    assert translator.multiple == create_generator(netG, ngf=4).size_multiple
    out = translator(Image.new("RGB", size, (200, 30, 90)))
    assert out.size == size


def test_resnet_declares_its_multiple_and_minimum():
    translator = Translator(create_generator("resnet_6blocks", ngf=4))
    assert (translator.multiple, translator.min_size) == (4, 8)
    with pytest.raises(UserError, match="8 x 8"):
        translator(torch.zeros(1, 3, 4, 4))


def test_unet_trains_only_on_crops_of_its_multiple():
    cfg = Config()
    cfg.model.netG, cfg.model.ngf = "unet_128", 4
    cfg.data.load_size, cfg.data.crop_size = 36, 32
    with pytest.raises(UserError, match="multiples of 128"):
        build_generators(cfg)
    cfg.data.load_size, cfg.data.crop_size = 143, 128
    G_A, _ = build_generators(cfg)
    assert G_A(torch.zeros(1, 3, 128, 128)).shape == (1, 3, 128, 128)


def test_bare_unet_file_exports_to_torchscript_with_its_multiple(tmp_path):
    import json

    from cyclegan.inference.export import export_checkpoint
    torch.save(create_generator("unet_128", ngf=4).state_dict(), tmp_path / "latest_net_G.pth")
    result = export_checkpoint(tmp_path / "latest_net_G.pth", tmp_path / "out", formats=("torchscript",),
                               log=lambda line: None)
    assert result.parity["torchscript"] < 1e-3
    assert json.loads(result.metadata.read_text())["input"]["height_width_multiple_of"] == 128
