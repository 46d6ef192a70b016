"""The reference CycleGAN's standard datasets: names and where they are downloaded from.

Names and URL pattern as in the reference's ``datasets/download_cyclegan_dataset.sh``
(see shared/reference/README.md). The authors publish no checksums, so the size and sha256
of each zip are recorded on its first complete, extractable download and checked on every
later one. ``KNOWN_ZIPS`` holds the size and sha256 of a zip when we know them from a
trusted source; a name listed there is checked against it from the first download on.
"""
from __future__ import annotations

import os

from ..errors import UserError

DEFAULT_BASE_URL = "http://efrosgans.eecs.berkeley.edu/cyclegan/datasets"
BASE_URL_ENV = "CYCLEGAN_DATASETS_URL"

# name -> what it holds (A <-> B)
STANDARD_DATASETS: dict[str, str] = {
    "apple2orange": "apples <-> oranges (ImageNet)",
    "summer2winter_yosemite": "Yosemite in summer <-> winter (Flickr)",
    "horse2zebra": "horses <-> zebras (ImageNet)",
    "monet2photo": "Monet paintings <-> landscape photos",
    "cezanne2photo": "Cezanne paintings <-> landscape photos",
    "ukiyoe2photo": "ukiyo-e prints <-> landscape photos",
    "vangogh2photo": "Van Gogh paintings <-> landscape photos",
    "maps": "satellite photos <-> map tiles (Google Maps)",
    "cityscapes": "street scenes <-> semantic labels (not downloadable here: license)",
    "facades": "building facades <-> architectural labels",
    "iphone2dslr_flower": "iPhone <-> DSLR flower photos (Flickr)",
    "ae_photos": "small test set of photos from the paper",
    "mini": "tiny sample for smoke tests",
    "mini_pix2pix": "tiny paired sample (pix2pix layout)",
    "mini_colorization": "tiny colorization sample",
    "grumpifycat": "cats <-> grumpy cat",
}
# name -> (size in bytes, sha256) of the published zip, where known; these win over records.
KNOWN_ZIPS: dict[str, tuple[int, str]] = {}

NOT_DOWNLOADABLE = {
    "cityscapes": "Cityscapes' license forbids redistribution: register at https://www.cityscapes-dataset.com, "
                  "download gtFine_trainvaltest.zip and leftImg8bit_trainvaltest.zip there, and prepare them "
                  "with the reference's datasets/prepare_cityscapes_dataset.py",
}


def base_url(option: str | None) -> str:
    return (option or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")


def check_name(name: str) -> str:
    if name in NOT_DOWNLOADABLE:
        raise UserError(f"{name}: {NOT_DOWNLOADABLE[name]}")
    if name not in STANDARD_DATASETS:
        close = [n for n in STANDARD_DATASETS if n.startswith(name[:3])]
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise UserError(f"{name}: not a standard dataset{hint}; `cyclegan-datasets list` shows the names")
    return name


def dataset_url(name: str, base: str | None = None) -> str:
    return f"{base_url(base)}/{check_name(name)}.zip"
