"""--lambda_texture: the generators' outputs pulled toward the other domain's texture statistics."""
import torch
import torch.nn.functional as F

from cyclegan.training.texture import RandomTextureFeatures, texture_distance


def smooth_images(n: int, size: int = 32, seed: int = 0) -> torch.Tensor:
    """Smooth colour fields in [-1, 1]: no texture."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 3, 4, 4, generator=generator)
    return F.interpolate(coarse, size=size, mode="bilinear", align_corners=False) * 2 - 1


def striped_images(n: int, size: int = 32, seed: int = 0) -> torch.Tensor:
    """The smooth fields with dark vertical stripes two pixels apart: a texture."""
    images = smooth_images(n, size, seed).clone()
    images[..., 1::3] = -1.0
    return images


def test_the_statistics_tell_texture_apart_and_not_a_picture_from_its_mirror_image():
    features = RandomTextureFeatures()
    smooth, striped = smooth_images(4), striped_images(4)     # the same colour fields, with and without stripes
    mirrored = smooth[:1].flip(-1)
    assert texture_distance(features, smooth[:1], smooth[:1]).item() < 1e-6
    same_kind = texture_distance(features, smooth[:1], mirrored).item()
    other_kind = texture_distance(features, smooth[:1], striped[:1]).item()
    assert other_kind > 5 * same_kind, (same_kind, other_kind)


def test_the_network_is_fixed_and_leaves_the_runs_random_stream_alone():
    torch.manual_seed(3)
    expected = torch.rand(1)
    torch.manual_seed(3)
    first, second = RandomTextureFeatures(), RandomTextureFeatures()
    assert torch.equal(torch.rand(1), expected)          # building it drew nothing from the run's stream
    for a, b in zip(first.parameters(), second.parameters()):
        assert torch.equal(a, b) and not a.requires_grad
