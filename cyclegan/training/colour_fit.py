"""``--colour_start fit``: start each generator's colour path at a colour map fitted to the data.

A generator that starts as the identity and is held near-invertible by the cycle loss moves
along a continuous path of invertible colour maps, which cannot change orientation (the sign
of the determinant): from the identity, the negative and two-channel swaps are out of reach
(docs/BENCHMARKS.md, issue 24). Before training, this fits one global affine colour map per
direction, y = M x + b on RGB in [-1, 1], so that the colours of the mapped A pixels match the
*distribution* of B's pixel colours (unpaired: a sliced Wasserstein distance), and B -> A
likewise, the two held near each other's inverse. The fit starts from each of twelve maps at
once: the six channel orders and their negatives (both orientations; the negative has
determinant -1, like the two-channel swaps; the cyclic orders are hue turns by thirds). The
identity's fit is kept unless another start's fit ends clearly closer to the other domain's
colours (below half its distance): on real photo -> painting pairs the identity start wins,
with a mild palette move, and no photo gets a wrong channel order by a hair. Each generator's colour path
(``colour_map``: 1x1 convolutions) is then regressed onto its fitted map; the ResNet change
still starts at zero, so the generator starts as that colour map. A few seconds on one core.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from ..data.unaligned import item_seed
from ..errors import UserError

COLOUR_FIT_PURPOSE = 11               # item_seed purpose: the pixel sample's own stream
_PERMUTATIONS = ((0, 1, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0), (1, 0, 2), (0, 2, 1))


def fit_starts() -> dict[str, Tensor]:
    """The maps a fit starts from (name -> 3 x 3): the six channel permutations and their
    negatives, so both orientations, the channel swaps and hue turns by thirds are each a start."""
    starts = {}
    for sign, prefix in ((1.0, ""), (-1.0, "negative ")):
        for order in _PERMUTATIONS:   # output channels: e.g. BGR swaps red and blue
            starts[prefix + "".join("RGB"[i] for i in order)] = sign * torch.eye(3)[list(order)]
    starts["identity"], starts["negative"] = starts.pop("RGB"), starts.pop("negative RGB")
    return starts


@dataclass
class ColourMap:
    """y = x @ matrix.T + bias, per pixel, on N x 3 colours in [-1, 1]; clipped like the generator's output.
    ``matrix`` S x 3 x 3 and ``bias`` S x 3 hold S maps at once (colours then S x N x 3)."""
    matrix: Tensor   # [S x] 3 x 3
    bias: Tensor     # [S x] 3

    def __call__(self, pixels: Tensor) -> Tensor:
        return (pixels @ self.matrix.transpose(-1, -2) + self.bias.unsqueeze(-2)).clamp(-1.0, 1.0)

    def __getitem__(self, s: int) -> "ColourMap":
        return ColourMap(self.matrix[s].detach().clone(), self.bias[s].detach().clone())


@dataclass
class ColourFit:
    """The fitted maps of both directions and how well each start matched the other side's colours."""
    start: str                       # the start that won (a key of fit_starts())
    forward: ColourMap               # A -> B
    backward: ColourMap              # B -> A
    distances: dict[str, float]      # start -> sliced distance A->B plus B->A after its fit
    untouched: float                 # the same distance with no map at all


def sliced_distance(x: Tensor, y: Tensor, directions: Tensor, sorted_y: Tensor | None = None) -> Tensor:
    """Squared sliced Wasserstein-2 distances between equally many colours ([S x] N x 3 each):
    the mean over the unit ``directions`` (K x 3) of the squared gaps of the sorted projections,
    one per map S. ``sorted_y``: y's sorted projections (K x N), when they are known already."""
    projected_x = torch.sort((x @ directions.T).transpose(-1, -2), dim=-1).values   # [S x] K x N
    if sorted_y is None:
        sorted_y = torch.sort((y @ directions.T).transpose(-1, -2), dim=-1).values
    return (projected_x - sorted_y).pow(2).mean(dim=(-1, -2))


def _directions(count: int, seed: int) -> Tensor:
    d = torch.randn(count, 3, generator=torch.Generator().manual_seed(seed))
    return d / d.norm(dim=1, keepdim=True)


def fit_colour_maps(pixels_A: Tensor, pixels_B: Tensor, *, steps: int = 200, lr: float = 0.02,
                    fit_pixels: int = 1024, cycle_weight: float = 1.0, margin: float = 0.5,
                    seed: int = 0) -> ColourFit:
    """Fit affine colour maps A -> B and B -> A to the colour distributions (N x 3 each, in
    [-1, 1]) from every start of ``fit_starts()`` at once, on ``fit_pixels`` of each side, and
    compare the fits on all of them. The identity's fit is kept unless another start's ends
    below ``margin`` times its distance (a photo's own colours are the safe guess: another
    orientation or channel order must match clearly better)."""
    n = min(len(pixels_A), len(pixels_B))
    if n < 2:
        raise UserError("--colour_start fit needs pixels of both domains to fit a colour map")
    A, B = pixels_A[:n].float(), pixels_B[:n].float()
    a, b = A[:fit_pixels], B[:fit_pixels]
    starts = fit_starts()
    names, first = list(starts), torch.stack(list(starts.values()))            # S x 3 x 3
    params = [first.clone().requires_grad_(), torch.zeros(len(names), 3, requires_grad=True),
              first.transpose(1, 2).clone().requires_grad_(), torch.zeros(len(names), 3, requires_grad=True)]
    forward, backward = ColourMap(*params[:2]), ColourMap(*params[2:])
    directions = _directions(32, seed)
    sorted_a, sorted_b = (torch.sort((x @ directions.T).T, dim=-1).values for x in (a, b))   # K x n
    optimiser = torch.optim.Adam(params, lr=lr)
    for _ in range(steps):   # the starts do not interact: summing their losses fits each on its own
        fake_b, fake_a = forward(a), backward(b)                                # S x n x 3
        loss = sliced_distance(fake_b, b, directions, sorted_b) + sliced_distance(fake_a, a, directions, sorted_a)
        loss = loss + cycle_weight * ((backward(fake_b) - a).pow(2).mean(dim=(-1, -2))
                                      + (forward(fake_a) - b).pow(2).mean(dim=(-1, -2)))
        optimiser.zero_grad()
        loss.sum().backward()
        optimiser.step()
    judge = _directions(128, seed + 1)   # other directions, every pixel: compare the starts
    with torch.no_grad():
        found = sliced_distance(forward(A), B, judge) + sliced_distance(backward(B), A, judge)
        untouched = float(sliced_distance(A, B, judge) + sliced_distance(B, A, judge))
    distances = dict(zip(names, found.tolist()))
    best = min(range(len(names)), key=lambda s: distances[names[s]])
    if names[best] != "identity" and not distances[names[best]] < margin * distances["identity"]:
        best = names.index("identity")
    return ColourFit(names[best], forward[best], backward[best], distances, untouched)


def set_colour_path(generator: nn.Module, target: ColourMap, pixels: Tensor, *, steps: int = 1000,
                    lr: float = 0.01, seed: int = 0) -> float:
    """Regress the generator's colour path (``colour_map``) onto ``target`` on its domain's
    ``pixels`` and as many uniform colours of the RGB cube; returns the root-mean-square error (in
    [-1, 1] units). Only the colour path's weights change."""
    colour_path = getattr(generator, "colour", None)
    if colour_path is None or not hasattr(generator, "colour_map"):
        raise UserError("--colour_start fit needs a generator with a colour path (--netG colour_skip_resnet_6blocks)")
    weight = next(colour_path.parameters())
    cube = torch.rand(len(pixels), 3, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    x = torch.cat([pixels.float(), cube]).to(weight.device, weight.dtype)
    y = target(x.cpu().float()).to(weight.device, weight.dtype)
    image = lambda colours: colours.T.reshape(1, 3, len(colours), 1)    # 1 x 3 x N x 1: one column of pixels
    optimiser = torch.optim.Adam(colour_path.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, steps)
    for _ in range(steps):
        loss = (generator.colour_map(image(x)) - image(y)).pow(2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
    with torch.no_grad():
        error = (generator.colour_map(image(x)).clamp(-1, 1) - image(y)).pow(2).mean().sqrt()
    colour_path.zero_grad(set_to_none=True)
    return float(error)


def sample_pixels(dataset: Dataset, seed: int, *, items: int = 64, pixels: int = 4096) -> tuple[Tensor, Tensor]:
    """``pixels`` colours (N x 3, in [-1, 1]) of each side's training images, as the run sees them
    (its crops and flips), from up to ``items`` dataset items; the dataset is keyed by (index, seed)."""
    count = min(items, len(dataset))
    if count == 0:
        raise UserError("--colour_start fit needs training images")
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(item_seed(seed, 0, 0, COLOUR_FIT_PURPOSE)))
    sides: dict[str, list[Tensor]] = {"A": [], "B": []}
    for position, index in enumerate(order[:count].tolist()):
        item = dataset[(index, item_seed(seed, 0, position, COLOUR_FIT_PURPOSE))]
        for side in sides:
            sides[side].append(item[side].reshape(item[side].shape[0], -1).T)   # H*W x 3
    generator = torch.Generator().manual_seed(seed)
    out = []
    for side in ("A", "B"):
        every = torch.cat(sides[side])
        if every.shape[1] != 3:
            raise UserError(f"--colour_start fit fits RGB colours; domain {side} has {every.shape[1]} channels")
        out.append(every[torch.randint(len(every), (pixels,), generator=generator)])
    return out[0], out[1]
