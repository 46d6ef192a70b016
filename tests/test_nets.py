from pathlib import Path

import pytest
import torch
from torch import nn

from cyclegan.checkpoint import clean_reference_state_dict, load_network
from cyclegan.errors import UserError
from cyclegan.nets import create_discriminator, create_generator, init_weights

REFERENCE_KEYS = Path(__file__).parent / "data" / "reference_state_dict_keys.txt"


def reference_sections() -> dict[str, dict[str, list[int]]]:
    """Parse '# title' sections of 'key<TAB>[shape]' lines."""
    sections, current = {}, None
    for line in REFERENCE_KEYS.read_text().splitlines():
        if line.startswith("#"):
            current = sections.setdefault(line.lstrip("# ").split(" ")[0], {})
        elif line.strip():
            key, shape = line.split("\t")
            current[key] = [int(s) for s in shape.strip("[]").split(",")]
    return sections


@pytest.mark.parametrize("name", ["resnet_9blocks", "resnet_6blocks"])
@pytest.mark.parametrize("size", [(32, 32), (36, 44), (64, 48)])
def test_generator_keeps_any_size_that_is_a_multiple_of_4(name, size):
    G = create_generator(name, ngf=8)
    y = G(torch.randn(2, 3, *size))
    assert y.shape == (2, 3, *size)
    assert y.abs().max() <= 1.0  # tanh output


@pytest.mark.parametrize("norm", ["instance", "batch"])
def test_discriminator_patch_grid(norm):
    D = create_discriminator("basic", ndf=8, norm=norm)
    assert D(torch.randn(2, 3, 64, 64)).shape == (2, 1, 6, 6)
    assert create_discriminator("pixel", ndf=8)(torch.randn(1, 3, 20, 24)).shape == (1, 1, 20, 24)


def receptive_field(D: nn.Module, size: int = 160) -> tuple[int, int]:
    """Back-propagate from the centre output element; measure the non-zero gradient window."""
    init_weights(D, "normal", 0.02)
    # Positive weights make every path's gradient add up instead of cancelling by chance.
    with torch.no_grad():
        for p in D.parameters():
            p.abs_()
    x = torch.randn(1, 3, size, size, requires_grad=True)
    out = D(x)
    h, w = out.shape[-2:]
    out[0, 0, h // 2, w // 2].backward()
    nonzero = x.grad[0].abs().sum(0) > 0
    rows = nonzero.any(1).nonzero()
    cols = nonzero.any(0).nonzero()
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


def test_patchgan_receptive_field_is_70x70():
    # Norm "none": instance norm would spread gradient across the whole image.
    assert receptive_field(create_discriminator("basic", ndf=8, norm="none")) == (70, 70)


def test_receptive_field_grows_with_depth_and_pixel_is_1x1():
    assert receptive_field(create_discriminator("n_layers", ndf=8, n_layers=2, norm="none")) == (34, 34)
    assert receptive_field(create_discriminator("pixel", ndf=8, norm="none"), size=16) == (1, 1)


def test_state_dict_keys_and_shapes_match_the_reference():
    sections = reference_sections()
    ours = {
        "resnet_9blocks": create_generator("resnet_9blocks"),
        "resnet_6blocks": create_generator("resnet_6blocks"),
        "basic": create_discriminator("basic"),
    }
    assert set(sections) == set(ours)
    for name, net in ours.items():
        got = {k: list(v.shape) for k, v in net.state_dict().items()}
        assert got == sections[name], name


def test_reference_file_with_instance_norm_running_stats_loads(tmp_path):
    """Old pretrained files carry running stats for InstanceNorm; they must be dropped, not refused."""
    source = create_generator("resnet_6blocks", ngf=8)
    state = dict(source.state_dict())
    state["model.2.running_mean"] = torch.zeros(8)
    state["model.2.running_var"] = torch.ones(8)
    state["model.10.conv_block.2.num_batches_tracked"] = torch.tensor(0)
    path = tmp_path / "latest_net_G.pth"
    torch.save({"module." + k: v for k, v in state.items()}, path)
    target = create_generator("resnet_6blocks", ngf=8)
    load_network(target, path)
    x = torch.randn(1, 3, 32, 32)
    assert torch.equal(target(x), source(x))


def test_wrong_architecture_is_a_user_error(tmp_path):
    path = tmp_path / "g.pth"
    torch.save(create_generator("resnet_6blocks", ngf=8).state_dict(), path)
    with pytest.raises(UserError, match="do not fit"):
        load_network(create_generator("resnet_9blocks", ngf=8), path)


def test_batch_norm_drops_conv_bias_instance_norm_keeps_it():
    bn = create_generator("resnet_6blocks", ngf=8, norm="batch")
    inst = create_generator("resnet_6blocks", ngf=8, norm="instance")
    assert bn.model[1].bias is None and bn.model[4].bias is None
    assert inst.model[1].bias is not None
    assert bn.model[26 - 3].bias is not None  # last conv (6 blocks) always has a bias
    assert not any("running" in k for k in inst.state_dict())


def test_dropout_is_optional_and_shifts_block_indices():
    G = create_generator("resnet_6blocks", ngf=8, use_dropout=True)
    assert isinstance(G.model[10].conv_block[4], nn.Dropout)
    assert not any(isinstance(m, nn.Dropout) for m in create_generator("resnet_6blocks", ngf=8).modules())


@pytest.mark.parametrize("init_type", ["normal", "xavier", "kaiming", "orthogonal"])
def test_init_types(init_type):
    torch.manual_seed(0)
    G = init_weights(create_generator("resnet_6blocks", ngf=8), init_type, 0.02)
    conv = G.model[4]
    assert torch.all(conv.bias == 0)
    if init_type == "normal":
        assert abs(conv.weight.std().item() - 0.02) < 0.004
    bn = init_weights(create_discriminator("basic", ndf=8, norm="batch"), "normal", 0.02)
    assert abs(bn.model[3].weight.mean().item() - 1.0) < 0.02


def test_unknown_names_are_user_errors():
    with pytest.raises(UserError, match="--netG"):
        create_generator("unet_512")
    with pytest.raises(UserError, match="--netD"):
        create_discriminator("huge")
    with pytest.raises(UserError, match="--norm"):
        create_generator("resnet_6blocks", norm="group")
    with pytest.raises(UserError, match="--init_type"):
        init_weights(nn.Conv2d(1, 1, 1), "zeros")


def test_pixel_norm_scales_each_pixel_alone_so_a_blob_elsewhere_changes_nothing():
    """--norm pixel: unit RMS across channels at every pixel, and no statistic over the image: a
    bright blob in one corner leaves every other pixel's output as it was (under instance norm it
    moves them all, which is what lets a generator steer an image's statistics with a blob)."""
    from cyclegan.nets import get_norm_layer
    pixel, instance = get_norm_layer("pixel")(16), get_norm_layer("instance")(16)
    x = torch.randn(1, 16, 12, 12)
    y = pixel(x)
    assert torch.allclose(y.pow(2).mean(dim=1), torch.ones(1, 12, 12), atol=1e-5)
    blob = x.clone()
    blob[..., :3, :3] += 50.0
    assert torch.equal(pixel(blob)[..., 6:, 6:], y[..., 6:, 6:])
    assert not torch.allclose(instance(blob)[..., 6:, 6:], instance(x)[..., 6:, 6:], atol=1e-2)
    G = create_generator("colour_skip_resnet_6blocks", ngf=8, norm="pixel", upsample="resize")
    assert G(torch.rand(1, 3, 32, 32) * 2 - 1).shape == (1, 3, 32, 32)
    assert G.change.model[1].bias is not None   # no shift of its own: the conv keeps its bias
    assert not list(get_norm_layer("pixel")(8).parameters())


def test_the_norm_choices_of_the_options_are_the_norms_the_networks_build():
    """models/ may not import nets/ (the layering), so --norm's choices are spelled out twice: a
    norm added to one list and not the other would be refused or fail at build time."""
    import dataclasses
    from cyclegan.models.options import TranslatorOptions
    from cyclegan.nets.norms import NORMS
    choices = {f.name: f.metadata.get("choices") for f in dataclasses.fields(TranslatorOptions)}
    assert choices["norm"] == NORMS
    assert choices["norm_D"] == ("same", *NORMS)
